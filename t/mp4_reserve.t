#!/usr/bin/perl

# A part whose moov does not fit the region reserved for it at the front
# is still a valid MP4, written in one pass: the moov goes after the mdat
# and the free box stays.  The write-once writer sizes the reserve from the
# template's interval for video at 30 fps and the audio frame rate
# (mux/ngx_live_record_mp4.c, ngx_live_record_mp4_reserve(): 16 KiB +
# 26 bytes a video frame + 14 an audio frame, per second of the interval,
# plus a quarter).  Here the shortest interval (1m, a reserve of ~88 KiB
# with 8 kHz audio) meets 300 fps video with B-frames (~15 bytes of moov a
# frame: stsz, ctts, stts runs): 30 s of it need ~140 KiB.
#
# NOTE: the layout checks (moov after the mdat, the free box smaller than
# the moov) and the error-free log hold only with the write-once writer
# (main from "The write-once MP4 writer records every MP4 part" on); the
# libavformat +faststart path before it shifts the moov to the front.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use HTTP::Tiny;
use Test::More tests => 15;
use LiveRecord::Test;
use LiveRecord::MP4;

# 30 s of 160x120 at 300 fps (a key every 2 s, B-frames) and 8 kHz AAC
my $in = do {
    my $dir = prefix() . '/../media';
    make_path($dir);
    my $f = "$dir/v300fps-a8k-30s.flv";
    system('ffmpeg', qw(-hide_banner -loglevel error -nostdin -y
        -f lavfi -i testsrc=size=160x120:rate=300
        -f lavfi -i sine=frequency=440:sample_rate=8000 -t 30
        -c:v libx264 -preset superfast -bf 2 -g 600 -keyint_min 600
        -sc_threshold 0 -pix_fmt yuv420p -c:a aac -ac 1 -b:a 16k -f flv),
        "$f.$$.tmp") == 0 && rename("$f.$$.tmp", $f) unless -s $f;
    $f;
};

start_nginx(dirs => [qw(store work index)], conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4;
        live_record_interval 1m;
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

my $n_in = media_packets($in);
is(scalar @{ $n_in->{video} }, 9000, 'the input: 9000 frames');

is(push_stream($in, rtmp_url('live', 'fast')), 0, 'push 30 s at 300 fps');
my ($idx) = wait_files('index', qr{/live/fast/.*\.json$}, 1, 30);
my $e = eval { decode_json(slurp($idx // '')) } || {};
my $f = $e->{path} // '';
is(scalar(find_files(prefix() . '/store', qr/\.mp4$/)), 1, 'one part');

# valid: whole, every frame, the keyframes, the durations

my $m = mp4_ok($f, from => $in, name => 'the part');

my @top = $m ? @{ $m->{top} } : ();
my ($moov) = grep { $_->{type} eq 'moov' } @top;
my ($free) = grep { $_->{type} eq 'free' } @top;
diag(sprintf 'boxes: %s; moov %d bytes, free %d bytes',
     $m ? $m->top_types : '-', $moov ? $moov->{size} : 0,
     $free ? $free->{size} : 0);

# write-once writer only (see NOTE above)
is($m ? $m->top_types : '', 'ftyp free mdat moov',
   'the moov did not fit: it follows the mdat, the free box stays');
ok($free && $moov && $free->{size} >= 16384 && $free->{size} < $moov->{size},
   'the reserve (the free box) was made and is smaller than the moov');

my $c = probe_counts($f);
is_deeply($c, { video => 9000, audio => scalar @{ $n_in->{audio} } },
          'ffprobe: every packet');
my ($d, $d_in) = (probe_duration($f) // 0, probe_duration($in) // -1);
ok(abs($d - $d_in) < 0.3, "ffprobe: $d s, the input $d_in s");

# served: nginx's mp4 module finds the moov at the end and seeks

my $http = HTTP::Tiny->new(timeout => 20);
my $url = $e->{video_url} // '';
my $r = $http->get("$url?start=10");
is($r->{status}, 200, '?start=10: 200');
my $cut = prefix() . '/start10.mp4';
open my $fh, '>:raw', $cut or die "$cut: $!";
print $fh $r->{content} // '';
close $fh;
my $mc = LiveRecord::MP4->read($cut);
my @err = grep { !/mdhd duration \d+ is not the stts sum/ } $mc->check;
is_deeply(\@err, [], '?start=10: a whole mp4, box by box')
    or diag join "\n", @err;
my $dc = probe_duration($cut) // 0;
ok(abs($dc - 20) <= 2, "?start=10: $dc s left, 20 within a GOP");
# from a keyframe within a GOP (2 s) of 10 s of the part's time, which
# starts at the input's first frame
my $v = $n_in->{video};
my %allowed = map { (@$v - $_ + 1) => 1 }
              grep { $v->[$_ - 1]{key}
                     && abs($v->[$_ - 1]{dts} - $v->[0]{dts} - 10000) <= 2000 }
              1 .. @$v;
my $nc = probe_counts($cut)->{video};
ok($allowed{$nc}, "?start=10: $nc frames, the input's from a keyframe "
   . 'near 10 s (' . join(' or ', sort keys %allowed) . ')');

# and chromium plays it from the store URL

my $why = browser_missing();
my $res = $why ? { fatal => $why } : play_in_chromium(
    page => 'http://127.0.0.1:' . port('HTTP') . '/play.html',
    files => [ $url ]);
my $p = ($res->{files} || [])->[0] || {};
ok($p->{ok} && ($p->{times}[2] // 0) > 2 && ($p->{width} // 0) == 160,
   'chromium plays it past 2 s, 160 wide')
    or diag(($p->{error} // 'no answer') . '; ' . ($res->{fatal} // ''));

# write-once writer only (see NOTE above): a long part is no error
is_deeply([ log_lines(qr/\[(?:error|crit)\]/) ], [],
          'no error logged for the part');

no_alerts();
