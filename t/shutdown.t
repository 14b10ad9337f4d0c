#!/usr/bin/perl

# Stopping nginx (SIGTERM, nginx -s stop) while streams record mp4, hls
# and aac: the worker finishes the open parts in its exit, after nginx has
# destroyed its thread pools, so in the worker's own thread: every file is
# in the store and plays, with no post to a destroyed pool ("[alert]
# pthread_mutex_lock() failed", which every HLS segment open at the stop
# logged) and no "thread pool is full" warning.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 7;
use LiveRecord::Test;

my $in = make_media(duration => 30);

my $conf = <<'EOF';
rtmp {
    live_record_template all {
        live_record_formats mp4 hls aac;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record all;
        }
    }
}
EOF

for my $sig (qw(TERM)) {
    start_nginx(conf => $conf);

    my $master = slurp(prefix() . '/logs/nginx.pid') =~ /(\d+)/ ? $1 : 0;
    my @pub = map { push_stream_bg($in, rtmp_url('live', "s$_"),
                                   realtime => 1) } 1 .. 4;

    # seconds of every stream in its aac (the mp4 has its reserved index
    # region from the start), more than live_record_min_duration
    ok(wait_for(sub {
        my @aac = grep { -s $_ > 48_000 }
                  find_files(prefix() . '/work', qr/\.aac$/);
        @aac >= 4 && find_files(prefix() . '/work', qr/\.ts$/) >= 4;
    }, 30), "$sig: four streams recording");

    kill $sig, $master;
    ok(wait_for(sub { !kill 0, $master }, 30), "$sig: nginx is gone");
    kill 'KILL', @pub;
    waitpid($_, 0) for @pub;

    my $store = prefix() . '/store';
    my @mp4 = find_files($store, qr/\.mp4$/);
    my @aac = find_files($store, qr/\.aac$/);
    my @m3u8 = find_files($store, qr/\.m3u8$/);

    is(scalar(@mp4) . ' ' . scalar(@aac) . ' ' . scalar(@m3u8), '4 4 4',
       "$sig: an mp4, an aac and a playlist per stream")
        or diag(join ' ', @mp4, @aac, @m3u8);
    is(scalar(grep { !probe_ok($_) } @mp4, @aac, @m3u8), 0,
       "$sig: every file plays");
    is(scalar(grep { slurp($_) !~ /#EXT-X-ENDLIST\s*$/ } @m3u8), 0,
       "$sig: every playlist is ended");
    is(scalar(log_lines(qr/thread pool .* is full/)), 0,
       "$sig: no thread pool said to be full");
    no_alerts();
}
