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

# where the cuts must be, from the input alone: each part starts with the
# input's first keyframe at or after its predecessor's start + 60 s of
# media time (1-based input video packets)
my $v = media_packets($in)->{video};
my @start = (1);
while (@start < 3) {
    my $t = $v->[$start[-1] - 1]{dts} + 60000;
    my ($i) = grep { $v->[$_]{key} && $v->[$_]{dts} >= $t } 0 .. $#$v;
    push @start, defined $i ? $i + 1 : scalar @$v;
}
push @start, @$v + 1;

my ($video, $audio) = (0, 0);
for my $n (1 .. 3) {
    my $f = $by_part{$n} // '';
    my ($first, $last) = ($start[$n - 1], $start[$n] - 1);
    # the part holds exactly input frames first..last and the audio
    # between their times
    my $m = mp4_ok($f, from => $in, video_range => [$first, $last],
                   name => "part $n");
    # its video lasts from its keyframe to the next part's, to the
    # sample (the last part's last frame as long as the one before)
    my $t = $m ? $m->track('vide') : undef;
    my $secs = $t ? $m->stts_sum($t) / $t->{timescale} : -1;
    my $end = $n < 3 ? $v->[$last]{dts}
                     : 2 * $v->[$last - 1]{dts} - $v->[$last - 2]{dts};
    my $want = ($end - $v->[$first - 1]{dts}) / 1000;
    is($secs, $want, "part $n: video from input frame $first for $want s");
    like((probe_video_packets($f))[0]{flags} // '', qr/K/,
        "part $n starts with a keyframe");
    my $c = probe_counts($f);
    $video += $c->{video};
    $audio += $c->{audio};
}

my $c_in = probe_counts($in);
is($video, $c_in->{video}, 'sum of video packets equals the input');
is($audio, $c_in->{audio}, 'sum of audio packets equals the input');

no_alerts();
