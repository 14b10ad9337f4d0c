#!/usr/bin/perl

# Hostile publishers, from a raw RTMP client: malformed and truncated tags,
# frames before any sequence header, sequence headers repeated and changed,
# timestamps that jump forward, go back or wrap at 2^32 ms, negative
# composition times, a codec mp4 cannot hold, an enormous message.  Each
# gets one log line per stream, the recording stays playable, other
# streams are untouched.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 40;
use LiveRecord::Test;
use LiveRecord::Publisher;

my $in = make_media(duration => 10);
my $in2 = do {
    my $f = prefix() . '/../media/640x360-6s.flv';
    system('ffmpeg', qw(-hide_banner -loglevel error -nostdin -y -f lavfi
        -i testsrc=size=640x360:rate=25 -f lavfi
        -i sine=frequency=440:sample_rate=44100 -t 6 -c:v libx264
        -preset superfast -g 50 -pix_fmt yuv420p -c:a aac -b:a 64k -f flv),
        "$f.tmp") == 0 && rename("$f.tmp", $f) unless -s $f;
    $f;
};

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4;
        live_record_min_duration 1s;
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

my @tags = LiveRecord::Publisher::flv_tags($in);
my @tags2 = LiveRecord::Publisher::flv_tags($in2);
my $frames = grep { $_->[0] == 9 && substr($_->[2], 1, 1) eq "\x01" } @tags;

sub publish {
    my ($name, @t) = @_;
    my $pub = LiveRecord::Publisher->new(port => port('RTMP'), app => 'live',
                                         name => $name);
    $pub->send(@$_) for @t;
    $pub->close;
}

sub parts {
    my ($name, $n) = @_;
    return wait_files('store', qr{/live/\Q$name\E/.*\.mp4$}, $n // 1);
}

sub lines {
    my ($name, $re) = @_;
    return scalar grep { /"live\/\Q$name\E"/ && $_ =~ $re } log_lines();
}

sub is_header { $_[0][0] == 9 ? substr($_[0][2], 1, 1) eq "\0"
                              : substr($_[0][2], 1, 1) eq "\0" }

# 1. the reference: the same tags, untouched

publish('good', @tags);
my ($good) = parts('good');
my $ref = probe_counts($good);
is($ref->{video}, $frames, 'raw publisher: every video frame recorded');
mp4_ok($good, from => $in, name => 'good');

# 2. truncated, zero-length and junk tags among good ones

my $i = 0;
publish('trunc', map { ++$i % 40 ? $_
                       : ($_, [9, $_->[1], "\x27\x01"], [8, $_->[1], "\xaf"],
                          [9, $_->[1], "\x27"]) } @tags);
my ($f) = parts('trunc');
is(probe_counts($f)->{video}, $frames, 'trunc: every good frame recorded');
mp4_ok($f, from => $in, name => 'trunc');
is(lines('trunc', qr/malformed video tag skipped/), 1,
   'trunc: one log line for all the malformed tags');

# 3. frames before the sequence header

my ($vh) = grep { $_->[0] == 9 && is_header($_) } @tags;
my @nohdr = grep { $_ != $vh } @tags;
splice(@nohdr, 60, 0, $vh);
publish('nohdr', @nohdr);
($f) = parts('nohdr');
ok(probe_ok($f), 'nohdr: recorded once the header came');
ok(probe_counts($f)->{video} >= $frames - 100, 'nohdr: from the next keyframe');
like((probe_video_packets($f))[0]{flags} // '', qr/K/,
     'nohdr: starts with a keyframe');
is(lines('nohdr', qr/video frames before the sequence header skipped/), 1,
   'nohdr: one log line');

# 4. a repeated header changes nothing; a changed one starts a new part

$i = 0;
publish('repeat', map { ++$i == 120 ? ($vh, $_) : $_ } @tags);
is(scalar(parts('repeat')), 1, 'repeat: an identical header, one part');

my $shift = $tags[-1][1] + 40;
publish('change', @tags, map { [$_->[0], $_->[1] + $shift, $_->[2]] } @tags2);
my @p = parts('change', 2);
is(scalar @p, 2, 'change: a new part at the new header');
is_deeply([map { (probe_streams($_))[0]{codec_type} eq 'video'
                 ? probe($_, '-show_entries', 'stream=width')
                   ->{streams}[0]{width} : 0 } @p], [320, 640],
          'change: each part has its own size');
ok(scalar(log_lines(qr/"live\/change" part 1 mp4 done:.*reason=param_change/)),
   'change: the first part ends with param_change');

# 5. timestamps: forward by three hours, back by one, wrapping at 2^32

for my $case (['jump', 3 * 3600 * 1000], ['back', -3600 * 1000]) {
    my ($name, $d) = @$case;
    $i = 0;
    publish($name, map { ++$i > 150 ? [$_->[0], $_->[1] + $d, $_->[2]] : $_ }
                   @tags);
    ($f) = parts($name);
    my $dur = probe_duration($f);
    ok(abs($dur - probe_duration($good)) < 0.5,
       "$name: recorded as continuous media") or diag "$dur s";
    is(probe_counts($f)->{video}, $frames, "$name: every frame");
    # the segmenter rebases the jump onto the tag before it (often audio):
    # the frame across it lasts less than the stream's 40 ms
    mp4_ok($f, from => $in, odd_steps => 1, name => $name);
    is(lines($name, qr/timestamp jumps by -?\d+ ms/), 1, "$name: one log line");
    is(scalar(parts($name)), 1, "$name: one part");
}

my $base = 2**32 - 3000;
publish('wrap', map { [$_->[0], ($_->[1] + $base) % 2**32, $_->[2]] } @tags);
($f) = parts('wrap');
ok(abs(probe_duration($f) - probe_duration($good)) < 0.5,
   'wrap: continuous across 2^32 ms');
is(probe_counts($f)->{video}, $frames, 'wrap: every frame');
mp4_ok($f, from => $in, name => 'wrap');
is(lines('wrap', qr/timestamp jumps/), 0, 'wrap: no jump reported');

# 6. negative composition times

$i = 0;
publish('negcts', map {
    my $t = $_;
    if ($t->[0] == 9 && !is_header($t) && ++$i % 3 == 0) {
        my $b = $t->[2];
        substr($b, 2, 3) = "\xff\xff\xd8";     # -40 ms
        $t = [9, $t->[1], $b];
    }
    $t } @tags);
($f) = parts('negcts');
ok(probe_ok($f), 'negcts: playable');
is(probe_counts($f)->{video}, $frames, 'negcts: every frame');
mp4_ok($f, from => $in, name => 'negcts');
my @pk = probe_video_packets($f);
ok(!grep({ defined $_->{pts_time} && defined $_->{dts_time}
           && $_->{pts_time} < $_->{dts_time} } @pk), 'negcts: pts >= dts');

# 7. a codec mp4 cannot hold: Speex audio next to the video

publish('speex', map { $_->[0] == 8 ? [8, $_->[1], "\xb6" . substr($_->[2], 2)]
                                    : $_ } @tags);
($f) = parts('speex');
is_deeply([map { $_->{codec_type} } probe_streams($f)], ['video'],
          'speex: the video recorded alone');
is(probe_counts($f)->{video}, $frames, 'speex: every video frame');
mp4_ok($f, video => $frames, audio => 0, name => 'speex');
is(lines('speex', qr/audio codec id 11 cannot be recorded/), 1,
   'speex: one log line');

# 8. an enormous message: nginx-rtmp drops the publisher; what came is kept

$i = 0;
my $huge = "\x27\x01\0\0\0" . ("\0" x (3 * 1024 * 1024));
publish('huge', map { ++$i == 200 ? [9, $_->[1], $huge] : $_ } @tags);
($f) = parts('huge');
ok(probe_ok($f), 'huge: the recording up to it plays');
ok(probe_counts($f)->{video} >= 60, 'huge: frames before it kept');

# 9. nothing of it touched a stream recording beside it

my $pub = LiveRecord::Publisher->new(port => port('RTMP'), app => 'live',
                                     name => 'beside');
my $bad = LiveRecord::Publisher->new(port => port('RTMP'), app => 'live',
                                     name => 'noise');
for my $k (0 .. $#tags) {
    $pub->send(@{ $tags[$k] });
    $bad->send(9, $k * 40, "\x17\x01\0\0\0" . ("\xff" x ($k % 7)));
    $bad->send(8, 2**31 + $k * 997, "\xaf\x01" . ("\0" x ($k % 5)));
}
$pub->close;
$bad->close;
($f) = parts('beside');
is(probe_counts($f)->{video}, $frames, 'a stream beside the noise is whole');
mp4_ok($f, from => $in, name => 'beside the noise');

# each hostile stream's own line (an error: the publisher's fault, the
# stream goes on); nothing about "beside"
no_alerts(allow => qr{\[error\] .*live record: "live/(?:trunc|nohdr|jump|back|speex|noise)": (?:malformed video tag skipped|(?:video|audio) frames before the sequence header skipped|timestamp jumps by -?\d+ ms, recorded as continuous|audio codec id 11 cannot be recorded, track skipped), });
