#!/usr/bin/perl

# A recorded MP4 from its store URL, as a viewer gets it: the local store
# served by nginx's http "location { mp4; }" (as in conf/example.conf),
# the video_url of the index entry.  The file is checked box by box
# (mp4_ok), Debian's chromium (playwright-core, t/lib/mp4-play.js, a fresh
# profile) plays it past 2 s with its clock advancing and the right picture
# size, and seeks in it; nginx's own mp4 module cuts it at ?start=2 into a
# whole MP4 that starts at the keyframe at 2 s and holds the rest.  No
# chromium is a failure naming the package, not a skip.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use Test::More tests => 19;
use LiveRecord::Test;
use LiveRecord::MP4;

my $in = make_media(duration => 12);     # 320x240, 25 fps, a key every 2 s

start_nginx(dirs => [qw(store work index)], conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4;
    }
    live_record_store local %%PREFIX%%/store url=http://127.0.0.1:%%PORT_HTTP%%/rec/;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}

http {
    types {
        text/html  html;
        video/mp4  mp4;
    }
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;

        location /rec/ {
            alias %%PREFIX%%/store/;
            mp4;
        }
        location = /play.html {
            default_type text/html;
            return 200 "<!doctype html><title>play</title><body></body>";
        }
        location = /favicon.ico {
            return 204;
        }
    }
}
EOF

is(push_stream($in, rtmp_url('live', 'cam')), 0, 'push 12 s');
my ($idx) = wait_files('index', qr{/live/cam/.*\.json$}, 1, 20);
my $e = eval { decode_json(slurp($idx // '')) } || {};
my $url = $e->{video_url} // '';
like($url, qr{^http://127\.0\.0\.1:\d+/rec/live/cam/.*\.mp4$},
     'video_url: the store served by nginx');
mp4_ok($e->{path}, from => $in, name => 'the recording');

my $http = HTTP::Tiny->new(timeout => 20);
my $r = $http->get($url);
ok($r->{success} && $r->{content} eq slurp($e->{path} // ''),
   'GET video_url: 200, the file\'s bytes') or diag "$r->{status}";

my $total = probe_duration($e->{path} // '') // 0;
my $in_video = media_packets($in)->{video};


# 1. chromium plays it from the URL, and seeks

my $why = browser_missing();
ok(!$why, 'chromium, node and playwright-core are installed')
    or diag $why;

my $res = $why ? {} : play_in_chromium(
    page => 'http://127.0.0.1:' . port('HTTP') . '/play.html',
    files => [ $url ], seek => 6);
my $p = ($res->{files} || [])->[0] || {};
ok($p->{ok}, 'chromium plays the mp4 past 2 s')
    or diag(($p->{error} // 'no answer') . '; ' . ($res->{fatal} // ''));
my @t = @{ $p->{times} || [] };
ok(@t == 3 && $t[0] > 0 && $t[0] < $t[1] && $t[1] < $t[2] && $t[2] > 2,
   'currentTime advances (' . join(' < ', @t) . ')');
is($p->{width}, 320, 'videoWidth 320');
is($p->{height}, 240, 'videoHeight 240');
ok(abs(($p->{duration} // 0) - $total) < 0.1,
   "duration $total s as ffprobe reads it ("
   . ($p->{duration} // '-') . ')');
ok(($p->{seeked} // 0) > 6.5, 'a seek to 6 s plays on from there ('
   . ($p->{seeked} // '-') . ')');


# 2. nginx's mp4 module: ?start=2

$r = $http->get("$url?start=2");
is($r->{status}, 200, '?start=2: 200');
my $cut = prefix() . '/start2.mp4';
open my $fh, '>:raw', $cut or die "$cut: $!";
print $fh $r->{content} // '';
close $fh;

# nginx cuts mdhd at the start time but stts at a sample: its own rounding,
# up to a sample, is not the recording's to answer for
my $m = LiveRecord::MP4->read($cut);
my @err = grep { !/mdhd duration \d+ is not the stts sum/ } $m->check;
is_deeply(\@err, [], '?start=2: the reply is a whole mp4, box by box')
    or diag join "\n", @err;

my $d = probe_duration($cut) // 0;
ok(abs($d - ($total - 2)) <= 2, "?start=2: $d s, the $total s less 2 s "
   . 'within a GOP');

# the reply starts at a keyframe within a GOP (2 s) of 2 s: its frames are
# the input's from that keyframe on
my $c = probe_counts($cut);
my @keys = grep { $in_video->[$_ - 1]{key}
                  && abs($in_video->[$_ - 1]{dts} - 2000) <= 2000 }
           1 .. @$in_video;
my %allowed = map { (@$in_video - $_ + 1) => $_ } @keys;
ok($allowed{ $c->{video} }, "?start=2: $c->{video} video frames, the "
   . 'input\'s from a keyframe near 2 s ('
   . join(' or ', sort keys %allowed) . ')');
like((probe_video_packets($cut))[0]{flags} // '', qr/K/,
     '?start=2: the first frame is a keyframe');
my $a_in = scalar @{ media_packets($in)->{audio} };
ok($c->{audio} < $a_in && $c->{audio} > $a_in - 4 * 44100 / 1024,
   "?start=2: $c->{audio} audio frames of $a_in, the last ~10 s");

is_deeply([ log_lines(qr/\[error\]/) ], [], 'nginx logged no error');

no_alerts();

