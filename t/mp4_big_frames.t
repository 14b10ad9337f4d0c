#!/usr/bin/perl

# Frames bigger than the MP4 writer's write buffer: a real-time push of a
# 1280x720 stream at ~6 Mbit/s whose keyframes are ~150 KB or more (the
# writer's buffer is 64 KiB), and the same pushed faster than real time.
# Every frame the publisher sent is in the part (mp4_ok against the input:
# counts, sizes, stss), and nothing is dropped while the part opens.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Test::More tests => 9;
use LiveRecord::Test;

my $in = do {
    my $dir = prefix() . '/../media';
    make_path($dir);
    my $f = "$dir/720p-noise-6s.flv";
    system('ffmpeg', qw(-hide_banner -loglevel error -nostdin -y -f lavfi
        -i), 'testsrc2=size=1280x720:rate=25,noise=alls=20:allf=t', qw(
        -f lavfi -i sine=frequency=440:sample_rate=44100 -t 6
        -c:v libx264 -preset ultrafast -g 50 -keyint_min 50 -sc_threshold 0
        -b:v 6M -maxrate 6M -bufsize 12M -pix_fmt yuv420p
        -c:a aac -b:a 64k -f flv), "$f.$$.tmp") == 0
        && rename("$f.$$.tmp", $f) unless -s $f;
    $f;
};

start_nginx(conf => <<'EOF2');
rtmp {
    live_record_template t {
        live_record_formats mp4;
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
EOF2

my $v = media_packets($in)->{video};
my ($big) = sort { $b <=> $a } map { $_->{size} } grep { $_->{key} } @$v;
ok(($big // 0) > 65536, "the input's keyframes are up to "
   . ($big // 0) . ' bytes, more than 64 KiB');

for my $case ([ 'rt', 1, 'in real time' ], [ 'fast', 0, 'at once' ]) {
    my ($name, $rt, $what) = @$case;
    is(push_stream($in, rtmp_url('live', $name), realtime => $rt), 0,
       "push $what");
    my @f = wait_files("store/live/$name", qr/\.mp4$/, 1, 20);
    is(scalar @f, 1, "$what: one part");
    mp4_ok($f[0], from => $in, name => $what);
}

is_deeply([ log_lines(qr/drops frames/) ], [], 'no frame dropped');
no_alerts();
