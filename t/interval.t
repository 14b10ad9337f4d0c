#!/usr/bin/perl

# live_record_interval 1m on a 150 s stream pushed faster than real time:
# parts are cut on media time at keyframes, 60 + 60 + 30 s, nothing lost.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 16;
use LiveRecord::Test;

my $in = make_media(duration => 150);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template minute {
        live_record_formats mp4;
        live_record_interval 1m;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record minute;
        }
    }
}
EOF

is(push_stream($in, rtmp_url('live', 'long')), 0, 'push');

my @parts = wait_files('store', qr/\.mp4$/, 3, 15);
is(scalar @parts, 3, 'three parts') or diag explain \@parts;

my %by_part;
for my $f (@parts) {
    $by_part{$1} = $f if $f =~ m{/long-\d{14}-(\d+)\.mp4$};
}
is_deeply([sort { $a <=> $b } keys %by_part], [1, 2, 3],
    'part numbers 1, 2, 3 in the names') or diag explain \@parts;
my @names = map { (split m{/}, $_)[-1] } @parts;
my %seen = map { $_ => 1 } @names;
is(scalar keys %seen, scalar @names, 'file names distinct');

my @expect = (60, 60, 30);
my ($video, $audio) = (0, 0);
for my $n (1 .. 3) {
    my $f = $by_part{$n} // '';
    # 25 fps, a keyframe every 2 s: part n holds input frames
    # 1500(n-1)+1 .. 1500n and the audio between their times
    mp4_ok($f, from => $in, video_range => [1500 * ($n - 1) + 1, 1500 * $n],
           name => "part $n");
    my $d = probe_duration($f) // -1;
    ok(abs($d - $expect[$n - 1]) <= 2.1, "part $n duration ~$expect[$n - 1] s")
        or diag "part $n: $d s";
    like((probe_video_packets($f))[0]{flags} // '', qr/K/,
        "part $n starts with a keyframe");
    my $c = probe_counts($f);
    $video += $c->{video};
    $audio += $c->{audio};
}

my $c_in = probe_counts($in);
is($video, $c_in->{video}, 'sum of video packets equals the input');
ok(abs($audio - $c_in->{audio}) <= 2, 'sum of audio packets ~ the input')
    or diag "parts $audio, input $c_in->{audio}";

no_alerts();
