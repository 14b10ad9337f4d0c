#!/usr/bin/perl

# An HLS recording that goes on after a reconnect (live_record_hls_continue)
# and whose worker is killed while the segment after the reconnect is
# being written: the recovered playlist keeps that segment, with the
# #EXT-X-DISCONTINUITY before it that the playlist would have had, and
# ends.  The mark that carries the tag across the crash is not handed off.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 10;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $first = make_media(duration => 4);
my $second = make_media(duration => 30);

start_nginx(conf => <<'EOF', dirs => [qw(store work index spool)]);
rtmp {
    live_record_template t {
        live_record_formats hls;
        live_record_hls_continue 30s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));
my $url = rtmp_url('live', 'dc');

sub done {
    return grep { $_->{event_type} eq 'record_done' }
           map { decode_json($_->{body}) } $rcv->requests;
}

# 1. four seconds, a pause: segment 0 is listed; the reconnect's segment 1
# follows a discontinuity and is being written when the worker dies

is(push_stream($first, $url, realtime => 1), 0, 'first push');
my ($pl) = wait_files(prefix() . '/work', qr{/index\.m3u8$}, 1, 10);
ok($pl && wait_for(sub { slurp($pl) =~ /^0\.ts$/m }, 10),
   'the first segment is listed in the work path');

my $pub = push_stream_bg($second, $url, realtime => 1);
my ($mark) = wait_files(prefix() . '/work', qr{/1\.discont$}, 1, 10);
ok($mark, 'the segment after the reconnect is marked while written');
my ($ts) = find_files(prefix() . '/work', qr{/1\.ts$});
ok(wait_for(sub { $ts && -s $ts > 300_000 }, 15),
   'the segment after the reconnect holds a few seconds');

my ($worker) = nginx_workers();
kill 'KILL', $worker;
wait_push($pub, 60);

# 2. the respawned worker recovers the recording

my @d;
ok(wait_for(sub { @d = done(); @d >= 1 }, 30), 'record_done after the kill')
    or diag explain [$rcv->requests];
is($d[0]{end_reason} // '', 'recovered', 'announced as recovered');

my ($stored) = find_files(prefix() . '/store', qr{/index\.m3u8$});
my $text = slurp($stored // '');
like($text, qr/#EXT-X-DISCONTINUITY\n#EXTINF:[0-9.]+,\n1\.ts\n#EXT-X-ENDLIST\n\z/,
     'the kept segment follows its discontinuity, and the playlist ends');
is(scalar(find_files(prefix() . '/store', qr/\.discont$/)), 0,
   'no mark in the store');
ok(probe_ok($stored // ''), 'the recovered playlist plays');

no_alerts(allow => qr/worker process \d+ exited on signal 9/);
