#!/usr/bin/perl

# A real-time publisher killed with SIGKILL mid-stream: the dropped
# connection closes the part, and playable files reach the store at once
# (while live, they are in the work path only).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 14;
use LiveRecord::Test;

my $in = make_media(duration => 30);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}
EOF

# how far the recording is: the last video timestamp in the work path's
# flv, which is flushed every 500 ms while live
sub recorded {
    my ($flv) = find_files(prefix() . '/work', qr/\.flv$/);
    my @v = $flv ? probe_video_packets($flv) : ();
    return @v ? $v[-1]{dts_time} + 0 : 0;
}

my $pid = push_stream_bg($in, rtmp_url('live', 'cut'), realtime => 1);
ok(wait_for(sub { recorded() >= 3 }, 15),
   'while live: the work path\'s flv holds 3 s')
    or diag 'the flv holds ' . recorded() . ' s after 15 s';
is(scalar find_files(prefix() . '/store'), 0,
    'while live: nothing in the store yet');
ok(scalar find_files(prefix() . '/work', qr/\.mp4$/),
   'while live: the mp4 in the work path');
wait_for(sub { recorded() >= 5 }, 15);
my $before = recorded();
ok(kill('KILL', $pid), "publisher killed, $before s of it recorded");
is(wait_push($pid, 10), 128 + 9, 'publisher died of SIGKILL');

for my $ext (qw(mp4 flv)) {
    my @f = wait_files('store', qr/\.$ext$/, 1, 10);
    is(scalar @f, 1, "one .$ext in the store within 10 s");
    my $f = $f[0] // '';
    ok(probe_ok($f), "$ext is playable");
    # all that reached nginx before the kill is in the part, at least
    # what the flv had flushed then
    my $d = probe_duration($f) // 0;
    ok($d >= $before, "$ext holds at least the $before s recorded before "
       . 'the kill') or diag "$ext duration $d";
    next if $ext ne 'mp4';
    my @boxes = mp4_top_boxes($f);
    ok((join ' ', @boxes) =~ /moov.*mdat/ && !grep({ $_ eq 'moof' } @boxes),
        'mp4 finalized, moov before mdat') or diag "@boxes";
    mp4_ok($f, from => $in, prefix => 1, min_duration => $before,
           name => 'mp4 of the killed publisher');
}

no_alerts();
