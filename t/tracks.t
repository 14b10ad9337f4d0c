#!/usr/bin/perl

# Single-track streams: audio-only gives an audio-only mp4 and an aac;
# video-only gives a video-only mp4 and no aac (and no crash).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 16;
use LiveRecord::Test;

my $audio = make_media(duration => 5, video => 0);
my $video = make_media(duration => 5, audio => 0);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 aac;
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

my $store = prefix() . '/store/live';

# audio only
is(push_stream($audio, rtmp_url('live', 'aonly')), 0, 'push audio only');
my @f = wait_files("$store/aonly", qr/\.(?:mp4|aac)$/, 2);
my ($mp4) = grep { /\.mp4$/ } @f;
my ($aac) = grep { /\.aac$/ } @f;
ok($mp4 && $aac, 'audio only: mp4 and aac') or diag explain \@f;
$mp4 //= '';
$aac //= '';
is_deeply([map { "$_->{codec_type}:$_->{codec_name}" } probe_streams($mp4)],
    ['audio:aac'], 'audio only: mp4 has one audio stream');
my $n_in = probe_counts($audio)->{audio};
for my $f ($mp4, $aac) {
    my $n = probe_counts($f)->{audio};
    is($n, $n_in, "audio only: every audio packet in $f");
}
my ($d, $d_in) = (probe_duration($mp4) // 0, probe_duration($audio));
ok(abs($d - $d_in) <= 1024 / 44100, 'audio only: mp4 duration within one '
   . 'frame of the input') or diag "$d s, input $d_in s";
mp4_ok($mp4, from => $audio, name => 'audio only');

# video only
is(push_stream($video, rtmp_url('live', 'vonly')), 0, 'push video only');
@f = wait_files("$store/vonly", qr/\.mp4$/, 1);
is(scalar @f, 1, 'video only: one mp4') or diag explain \@f;
$mp4 = $f[0] // '';
is_deeply([map { "$_->{codec_type}:$_->{codec_name}" } probe_streams($mp4)],
    ['video:h264'], 'video only: mp4 has one video stream');
is(probe_counts($mp4)->{video}, probe_counts($video)->{video},
    'video only: all frames');
like((probe_video_packets($mp4))[0]{flags} // '', qr/K/,
    'video only: starts with a keyframe');
mp4_ok($mp4, from => $video, name => 'video only');
# a part's files are finished in one pass: its mp4 done, an aac would be
wait_for(sub { log_lines(qr{"live/vonly" part 1 mp4 done}) }, 10);
is(scalar find_files("$store/vonly", qr/\.aac$/), 0, 'video only: no aac');
is(scalar find_files(prefix() . '/work', qr/\.(?:mp4|aac)$/), 0,
    'no media left in the work path');

no_alerts();
