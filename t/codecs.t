#!/usr/bin/perl

# HEVC and AV1 pushes, sent by the raw publisher (Debian's ffmpeg 5.1
# cannot send them): HEVC as FLV codec id 12 and as enhanced RTMP "hvc1"
# (CodedFrames, CodedFramesX, a ModEx-wrapped frame, a Metadata packet),
# AV1 as "av01", H.264 as "avc1".  Every frame of the input is in the mp4
# (ffprobe decodes them), the flv holds the tags the way they arrived,
# HEVC and H.264 play from HLS, AV1 is refused for HLS, unknown FourCCs
# (video and audio) are refused with record_failed, AV1 comes with
# enhanced RTMP audio (mp4a), and an HEVC part left by a killed worker
# is recovered.  The frames come from ffmpeg's libx265, libaom-av1 and
# libx264 output, read from mp4 files by LiveRecord::MP4.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Test::More tests => 51;
use LiveRecord::Test;
use LiveRecord::MP4;
use LiveRecord::Publisher;
use LiveRecord::Receiver;
use LiveRecord::API;

my ($W, $H, $FRAMES) = (322, 182, 100);

my $TOKEN = "codecs-token-$$";
{
    open my $fh, '>', prefix() . '/token' or die "token: $!";
    print $fh "$TOKEN\n";
}

start_nginx(conf => <<'EOF', dirs => [qw(store work index spool)]);
rtmp {
    live_record_template t {
        live_record_formats mp4 flv hls;
        live_record_hls_fragment 2s;
    }
    live_record_template m {
        live_record_formats mp4;
    }
    live_record_template c {
        live_record_formats mp4;
        live_record_interval 1m;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;
        }
        application crash {
            live on;
            live_record m;
        }
        application cut {
            live on;
            live_record c;
        }
    }
}

http {
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;

        location /api/ {
            live_record_api;
            live_record_api_token_file %%PREFIX%%/token;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

# the sources: 4 s at 25 fps, B-frames in the HEVC, AAC audio

my $media = prefix() . '/media';
make_path($media);

sub encode {
    my ($name, @venc) = @_;
    my $out = "$media/$name.mp4";
    system('ffmpeg', qw(-hide_banner -loglevel error -nostdin -y -f lavfi -i),
           "testsrc=size=${W}x$H:rate=25", qw(-f lavfi -i
           sine=frequency=440:sample_rate=44100 -t 4), @venc,
           qw(-pix_fmt yuv420p -c:a aac -b:a 64k), $out) == 0
        or die "ffmpeg $name failed\n";
    return $out;
}

my $hevc = encode('hevc', qw(-c:v libx265 -preset ultrafast -x265-params
                             keyint=25:min-keyint=25:bframes=3:log-level=error));
my $av1 = encode('av1', qw(-c:v libaom-av1 -usage realtime -cpu-used 8
                           -g 25));
my $avc = encode('avc', qw(-c:v libx264 -preset superfast -g 25 -bf 3));

# { config, frames => [ { dts, cts, key, data } ] } of a track, times in ms

sub track {
    my ($file, $handler) = @_;
    my $mp4 = LiveRecord::MP4->read($file);
    my $t = $mp4->track($handler) or die "$file: no $handler track\n";
    my ($ranges, $err) = $mp4->sample_ranges($t);
    die "$file: $err\n" if $err;

    open my $fh, '<:raw', $file or die "$file: $!\n";
    my @durations = $mp4->durations($t);
    my @ctts = map { ($_->[1]) x $_->[0] } @{ $t->{ctts} || [] };
    my %key = map { $_ => 1 } @{ $t->{stss} || [] };
    my $ts = $t->{timescale};
    my ($dts, @frames) = (0);

    for my $i (0 .. $#$ranges) {
        my ($off, $size) = @{ $ranges->[$i] };
        sysseek($fh, $off, 0);
        sysread($fh, my $data, $size) == $size or die "$file: short read\n";
        my $d = int($dts * 1000 / $ts);
        my $p = int(($dts + ($ctts[$i] // 0)) * 1000 / $ts);
        push @frames, { dts => $d, cts => $p - $d, data => $data,
                        key => !$t->{stss} || $key{$i + 1} ? 1 : 0 };
        $dts += $durations[$i];
    }

    return { config => $t->{config} // $t->{asc}, frames => \@frames };
}

sub si24 { substr(pack('N', $_[0] & 0xffffff), 1) }

# the video tags of a stream, by how it is sent

sub video_tags {
    my ($how, $v) = @_;
    my @tags;
    my $fourcc = { ex_hvc1 => 'hvc1', ex_av01 => 'av01', ex_avc1 => 'avc1',
                   ex_vp09 => 'vp09' }->{$how};

    if ($fourcc) {
        push @tags, [0, "\x90$fourcc" . $v->{config}];
        # Metadata (colorInfo) before the frames: no video in it
        push @tags, [0, "\x84$fourcc" . LiveRecord::Publisher::amf_string(
                         'colorInfo') . "\x03\x00\x00\x09"];
    } else {
        push @tags, [0, "\x1c\x00\x00\x00\x00" . $v->{config}];
    }

    my $n = 0;
    for my $f (@{ $v->{frames} }) {
        my $ft = $f->{key} ? 0x10 : 0x20;
        my $body;

        if (!$fourcc) {
            $body = pack('C', $ft | 12) . "\x01" . si24($f->{cts})
                    . $f->{data};
        } elsif ($fourcc eq 'av01') {
            # with the temporal delimiter an encoder puts first
            $body = pack('C', 0x80 | $ft | 1) . $fourcc . "\x12\x00"
                    . $f->{data};
        } elsif ($n == 5) {
            # ModEx: a nanosecond offset (3 bytes), then CodedFrames
            $body = pack('C', 0x80 | $ft | 7) . "\x02\x00\x01\x02\x01"
                    . $fourcc . si24($f->{cts}) . $f->{data};
        } elsif ($f->{cts} == 0) {
            $body = pack('C', 0x80 | $ft | 3) . $fourcc . $f->{data};
        } else {
            $body = pack('C', 0x80 | $ft | 1) . $fourcc . si24($f->{cts})
                    . $f->{data};
        }

        push @tags, [$f->{dts}, $body];
        $n++;
    }

    my $end = $v->{frames}[-1]{dts};
    push @tags, [$end, $fourcc ? "\x82$fourcc" : "\x1c\x02\x00\x00\x00"];

    return @tags;
}

sub publish {
    my ($name, $how, $src, %o) = @_;
    my $v = track($src, 'vide');
    my $au = track($src, 'soun');
    my @msgs = map { [9, @$_] } video_tags($how, $v);
    # legacy AAC tags, or enhanced RTMP audio with this FourCC
    my $fc = $o{audio};
    my @audio = ([8, 0, ($fc ? "\x90$fc" : "\xaf\x00") . $au->{config}],
                 map { [8, $_->{dts}, ($fc ? "\x91$fc" : "\xaf\x01")
                                      . $_->{data}] }
                 @{ $au->{frames} });

    # headers first, then in time order, video first at equal times
    my @hdr = (shift(@msgs), shift(@audio));
    @msgs = sort { $a->[1] <=> $b->[1] || $b->[0] <=> $a->[0] }
            (@msgs, @audio);

    my $pub = LiveRecord::Publisher->new(port => port('RTMP'),
                                         app => $o{app} // 'live',
                                         name => $name);
    $pub->send(@$_) for @hdr, @msgs;
    return ($v, $au, $pub) if $o{open};
    $pub->close;

    return ($v, $au);
}

sub decoded {
    my ($file) = @_;
    my $j = probe($file, '-count_frames', '-show_entries',
                  'stream=codec_type,codec_name,width,height,nb_read_frames');
    my %s;
    $s{ $_->{codec_type} } = $_ for @{ $j ? $j->{streams} : [] };
    return \%s;
}

sub index_entry {
    my ($e) = @_;
    my $f = prefix() . "/index/live/$e->{stream_id}/$e->{file_id}.json";
    open my $fh, '<:raw', $f or return {};
    local $/;
    return eval { decode_json(<$fh>) } || {};
}

# [key, cts, payload] of each video frame of an FLV we wrote

sub flv_frames {
    my ($file, $fourcc) = @_;
    my (@f, $headers);

    for my $t (LiveRecord::Publisher::flv_tags($file)) {
        next unless $t->[0] == 9;
        my $b = $t->[2];
        my $c = unpack('C', $b);

        if ($fourcc) {
            return "tag without ExHeader" unless $c & 0x80;
            return "FourCC " . substr($b, 1, 4) if substr($b, 1, 4) ne $fourcc;
            if (($c & 0x0f) == 0) { $headers++; next }
            return "packet type " . ($c & 0x0f) if ($c & 0x0f) != 1;
            my $cts = 0;
            my $off = 5;
            if ($fourcc ne 'av01') {
                $cts = unpack('N', "\0" . substr($b, 5, 3));
                $cts -= 1 << 24 if $cts >= 1 << 23;
                $off = 8;
            }
            push @f, [(($c >> 4) & 7) == 1 ? 1 : 0, $cts, substr($b, $off)];

        } else {
            return "codec id " . ($c & 0x0f) if ($c & 0x0f) != 12;
            if (unpack('C', substr($b, 1, 1)) == 0) { $headers++; next }
            my $cts = unpack('N', "\0" . substr($b, 2, 3));
            $cts -= 1 << 24 if $cts >= 1 << 23;
            push @f, [($c >> 4) == 1 ? 1 : 0, $cts, substr($b, 5)];
        }
    }

    return "$headers sequence headers" if ($headers // 0) != 1;
    return \@f;
}

# the three recordable pushes

for my $case (['hevc12', 'h265', 'hevc', $hevc, undef],
              ['ex_hvc1', 'h265', 'hevc', $hevc, 'hvc1'],
              ['ex_av01', 'av1', 'av1', $av1, 'av01'],
              ['ex_avc1', 'h264', 'h264', $avc, 'avc1'])
{
    my ($name, $codec, $probe_name, $src, $fourcc) = @$case;
    # AV1 as ffmpeg 7 sends it: with enhanced RTMP audio too
    my ($v, $au) = publish($name, $name, $src,
                           $codec eq 'av1' ? (audio => 'mp4a') : ());
    my $hls = $codec ne 'av1';

    my @done = $rcv->wait_events('record_done', $name, $hls ? 3 : 2, 30);
    my %by = map { $_->{file_format} => $_ } @done;
    is(join(' ', sort keys %by), $hls ? 'flv hls mp4' : 'flv mp4',
       "$name: record_done for each format");

    my $e = $by{mp4} || {};
    is_deeply([@$e{qw(video_codec audio_codec width height)}],
              [$codec, 'aac', $W, $H], "$name: codecs and size in the event");
    is_deeply([@{ index_entry($e) }{qw(video_codec width height)}],
              [$codec, $W, $H], "$name: codec and size in the index");

    my $s = decoded($e->{path} // '');
    is_deeply([@{ $s->{video} || {} }{qw(codec_name width height
                                          nb_read_frames)}],
              [$probe_name, $W, $H, scalar @{ $v->{frames} }],
              "$name: mp4: every video frame decodes");
    is($s->{audio}{nb_read_frames}, scalar @{ $au->{frames} },
       "$name: mp4: every audio frame");
    my $m = LiveRecord::MP4->read($e->{path} // '');
    my $vt = $m->track('vide') || {};
    is_deeply([$vt->{codec}, $vt->{config}],
              [{ h265 => 'hvc1', av1 => 'av01', h264 => 'avc1' }->{$codec},
               $v->{config}],
              "$name: mp4: sample entry and its configuration record");

    my $got = flv_frames($by{flv}{path} // '', $fourcc);
    my @want = map { [$_->{key}, $_->{cts}, $_->{data}] } @{ $v->{frames} };
    my @diff = ref $got ? grep { join("\0", @{ $got->[$_] // [] })
                                 ne join("\0", @{ $want[$_] }) } 0 .. $#want
                        : ();
    ok(ref $got && @$got == @want && !@diff,
       "$name: flv: every frame as it arrived")
        or diag ref $got ? scalar(@$got) . ' frames' : $got;
    my $fa = grep { $_->[0] == 8 } LiveRecord::Publisher::flv_tags(
                 $by{flv}{path} // '');
    is($fa, 1 + @{ $au->{frames} }, "$name: flv: every audio frame");

    if ($hls) {
        my $ts = decoded(($by{hls}{path} // '') . '/index.m3u8');
        is_deeply([@{ $ts->{video} || {} }{qw(codec_name nb_read_frames)}],
                  [$probe_name, scalar @{ $v->{frames} }],
                  "$name: hls: every frame decodes");
    } else {
        my @f = $rcv->wait_events('record_failed', $name, 1, 30);
        is_deeply([map { "$_->{file_format}:$_->{reason}" } @f],
                  ['hls:codec'], "$name: hls refused with record_failed");
        is(scalar log_lines(qr/"live\/ex_av01" part 1: av1 video cannot be (?#
                               )recorded as hls, format refused/), 1,
           "$name: hls refusal logged once");
    }
}

# an unknown FourCC: refused, said once, and record_failed

publish('ex_vp09', 'ex_vp09', $av1);
my @f = $rcv->wait_events('record_failed', 'ex_vp09', 1, 30);
is_deeply([map { "$_->{reason}:$_->{message}" } @f],
          ['codec:video FourCC "vp09" cannot be recorded'],
          'vp09: record_failed, reason codec');
is(scalar log_lines(qr/"live\/ex_vp09": video FourCC "vp09" cannot be (?#
                       )recorded, track skipped/), 1,
   'vp09: one error line naming the FourCC');
my @d = $rcv->wait_events('record_done', 'ex_vp09', 3, 30);
is_deeply([sort map { "$_->{file_format}:$_->{video_codec}" } @d],
          ['flv:', 'hls:', 'mp4:'], 'vp09: the audio is still recorded');
# H.264, then AV1 in the same publish: the parts are cut there, the hls
# recording ends with what it holds and the AV1 is refused for it

{
    my ($v1, $v2, $a1) = (track($avc, 'vide'), track($av1, 'vide'),
                          track($avc, 'soun'));
    my @v = video_tags('ex_avc1', $v1);
    pop @v;                                         # no SequenceEnd
    push @v, map { [$_->[0] + 4000, $_->[1]] } video_tags('ex_av01', $v2);
    my @m = ((map { [9, @$_] } @v),
             (map { [8, $_->{dts}, "\xaf\x01" . $_->{data}],
                    [8, $_->{dts} + 4000, "\xaf\x01" . $_->{data}] }
              @{ $a1->{frames} }));
    my @hdr = (shift(@m), [8, 0, "\xaf\x00" . $a1->{config}]);
    @m = sort { $a->[1] <=> $b->[1] || $b->[0] <=> $a->[0] } @m;
    my $pub = LiveRecord::Publisher->new(port => port('RTMP'), app => 'live',
                                         name => 'switch');
    $pub->send(@$_) for @hdr, @m;
    $pub->close;
}

my @sd = $rcv->wait_events('record_done', 'switch', 5, 30);
is_deeply([sort map { "$_->{file_format}:$_->{video_codec}" } @sd],
          ['flv:av1', 'flv:h264', 'hls:h264', 'mp4:av1', 'mp4:h264'],
          'switch: an h264 and an av1 part, the hls recording h264 only');
is_deeply([map { "$_->{reason}:$_->{message}" }
           $rcv->wait_events('record_failed', 'switch', 1, 30)],
          ['codec:av1 video cannot be recorded as hls'],
          'switch: record_failed for the hls recording');

# an audio FourCC not recorded: the video is, the audio is refused

publish('ex_opus', 'ex_hvc1', $hevc, audio => 'Opus');
@f = $rcv->wait_events('record_failed', 'ex_opus', 1, 30);
is_deeply([map { "$_->{reason}:$_->{message}" } @f],
          ['codec:audio FourCC "Opus" cannot be recorded'],
          'Opus: record_failed, reason codec');
@d = $rcv->wait_events('record_done', 'ex_opus', 3, 30);
is_deeply([sort map { "$_->{file_format}:$_->{video_codec}:$_->{audio_codec}" }
           @d], ['flv:h265:', 'hls:h265:', 'mp4:h265:'],
          'Opus: the video is still recorded');

is(scalar log_lines(qr/video codec id 0/), 0,
   'nothing logged as "video codec id 0"');

# the worker killed mid-part: the recovered mp4 keeps its hvc1 entry

sub worker {
    my ($master) = slurp(prefix() . '/logs/nginx.pid') =~ /(\d+)/ or return;
    for my $stat (glob '/proc/[0-9]*/stat') {
        return $1 if slurp($stat) =~ /^(\d+) \(nginx\) \S (\d+) /
                     && $2 == $master;
    }
    return;
}

my $old = worker();
my ($cv, $ca, $pub) = publish('hvc1crash', 'ex_hvc1', $hevc,
                              app => 'crash', open => 1);
# the sample index (its header, then 16 bytes a sample) is flushed every
# 250 ms; the last frame of a track waits for the next to date it
my $sidecar = 28 * 2 + 40 + length($cv->{config}) + length($ca->{config});
my $want = $sidecar + 16 * (@{ $cv->{frames} } + @{ $ca->{frames} } - 2);
ok(wait_for(sub { my ($f) = find_files(prefix() . '/work',
                                       qr/hvc1crash.*\.mp4\.samples$/);
                  $f && -s $f >= $want }, 15),
   'crash: the sample index holds the frames');
kill 'KILL', $old;
my @ie;
wait_for(sub { my $w = worker(); $w && $w != $old
               && (@ie = map { decode_json(slurp($_)) }
                   find_files(prefix() . '/index/crash/hvc1crash',
                              qr/\.json$/)) }, 30);
is_deeply([map { "$_->{end_reason}:$_->{video_codec}" } @ie],
          ['recovered:h265'], 'crash: recovered, h265 in the index');
my $rs = decoded(($ie[0] || {})->{path} // '');
is_deeply([@{ $rs->{video} || {} }{qw(codec_name width height
                                       nb_read_frames)}],
          ['hevc', $W, $H, scalar @{ $cv->{frames} }],
          'crash: the recovered mp4 decodes every frame');
$pub->close;

# two HEVC parts joined by POST /api/concat: still hvc1, every frame

my $long = encode('hevc-62s', '-t', 62, qw(-c:v libx265 -preset ultrafast
                  -x265-params keyint=25:min-keyint=25:bframes=3:log-level=error));
my ($lv) = publish('hevccut', 'hevc12', $long, app => 'cut');
my @parts;
ok(wait_for(sub { @parts = map { decode_json(slurp($_)) }
                  find_files(prefix() . '/index/cut/hevccut', qr/\.json$/);
                  @parts >= 2 }, 30),
   'concat: two parts indexed') or diag scalar @parts . ' parts';
my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);
my ($st, $j) = $api->call(POST => '/api/concat',
                          { session_id => $parts[0]{session_id} // '' });
my $job = $j->{job_id} // '';
wait_for(sub { (undef, $j) = $api->call(GET => "/api/concat/$job");
               ($j->{state} // '') =~ /^(?:done|failed)$/ }, 60);
(undef, my $cf) = $api->call(GET => '/api/files/' . ($j->{file_id} // ''));
my $cm = LiveRecord::MP4->read($cf->{path} // '/nonexistent');
my $cs = decoded($cf->{path} // '');
is_deeply([$j->{state}, ($cm->track('vide') || {})->{codec},
           @{ $cs->{video} || {} }{qw(codec_name nb_read_frames)},
           $cf->{video_codec}],
          ['done', 'hvc1', 'hevc', scalar @{ $lv->{frames} }, 'h265'],
          'concat: one hvc1 mp4 with every frame, h265 in the index')
    or diag explain $j;

$rcv->stop;
# the kill, and the refusals the test asks for: AV1 in hls, vp09, Opus
no_alerts(allow => [
    qr/worker process \d+ exited on signal 9/,
    qr/\[error\] .*live record: "live\/ex_av01" part 1: av1 video cannot be recorded as hls, format refused$/,
    qr/\[error\] .*live record: "live\/ex_vp09": video FourCC "vp09" cannot be recorded, track skipped, /,
    qr/\[error\] .*live record: "live\/ex_opus": audio FourCC "Opus" cannot be recorded, track skipped, /,
    qr/\[error\] .*live record: "live\/switch": av1 video cannot be recorded as hls, the hls recording ends, /,
]);
