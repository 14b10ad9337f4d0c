#!/usr/bin/perl

# The write-once MP4 writer (mux/ngx_live_record_mp4*.c) on its own: a C
# driver (t/mp4/mp4_drive.c, built here with gcc, ASan and UBSan against
# nginx's headers, the codec parser and a tiny pool/log stub) reads FLV
# files that ffmpeg makes from lavfi, writes them with the writer, and every
# MP4 is checked box by box by an independent reader (t/lib/LiveRecord/MP4.pm)
# and by ffprobe against the FLV: boxes tile the file, per track the sample
# count, sizes and bytes are the FLV's packets, stss is its keyframes, and
# every sample's duration is exact.  Then: a moov that does not fit its
# reserved region goes after the mdat, a kill -9 mid-part recovers with at
# most a second lost, and nginx's own mp4 module seeks in the result.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use FindBin;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;

use lib "$FindBin::Bin/lib";
use LiveRecord::MP4;
use LiveRecord::Drive;

my $top = abs_path("$FindBin::Bin/..");
my ($codec) = grep { -f } "$top/mux/ngx_live_record_codec.c",
                          "$top/ngx_live_record_codec.c";

drive_need(qw(gcc ffmpeg ffprobe));

my $tmp = tempdir('mp4_writer.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/mp4_drive";
my @inc = @DRIVE_INC;
my @warn = ('-W', '-Wall', '-Wpointer-arith', '-Wno-unused-parameter',
            '-Werror');
my @mp4 = ("$top/mux/ngx_live_record_mp4.c",
           "$top/mux/ngx_live_record_mp4_moov.c",
           "$top/mux/ngx_live_record_mp4_chain.c",
           "$top/mux/ngx_live_record_mp4_resume.c");

# the writer builds warning-free as nginx builds modules, then the driver

my ($rc, $out) = run('gcc', '-c', '-O2', @warn, @inc, '-o', "$tmp/a.o",
                     $mp4[0]);
($rc, $out) = run('gcc', '-c', '-O2', @warn, @inc, '-o', "$tmp/b.o",
                  $mp4[1]) if $rc == 0;
($rc, $out) = run('gcc', '-c', '-O2', @warn, @inc, '-o', "$tmp/c.o",
                  $mp4[2]) if $rc == 0;
($rc, $out) = run('gcc', '-c', '-O2', @warn, @inc, '-o', "$tmp/d.o",
                  $mp4[3]) if $rc == 0;
is($rc, 0, 'the writer builds with -O2 -Werror') or diag($out);

($rc, $out) = run('gcc', '-fsanitize=address,undefined', '-g', '-O1',
                  @warn, @inc, '-o', $bin, "$top/t/mp4/mp4_drive.c",
                  "$top/t/mp4/ngx_stub.c", @mp4, $codec);
is($rc, 0, 'the driver builds with ASan and UBSan') or diag($out);

BAIL_OUT('no driver') unless $rc == 0;

$ENV{ASAN_OPTIONS} = 'detect_leaks=1';
$ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1';

# inputs: A/V with B-frames, video only, audio only, MP3

my $lavfi_v = 'testsrc=size=320x240:rate=30';
my @x264 = ('-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2',
            '-g', '60', '-pix_fmt', 'yuv420p');

my %in = (
    av    => [ '-f', 'lavfi', '-i', $lavfi_v, '-f', 'lavfi', '-i',
               'sine=frequency=440:sample_rate=44100', '-t', '10', @x264,
               '-c:a', 'aac', '-b:a', '64k' ],
    video => [ '-f', 'lavfi', '-i', $lavfi_v, '-t', '6', @x264 ],
    audio => [ '-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=48000',
               '-t', '6', '-ac', '1', '-c:a', 'aac', '-b:a', '48k' ],
    mp3   => [ '-f', 'lavfi', '-i', $lavfi_v, '-f', 'lavfi', '-i',
               'sine=frequency=440:sample_rate=44100', '-t', '6', @x264,
               '-c:a', 'libmp3lame', '-b:a', '64k' ],
);

for my $name (sort keys %in) {
    my ($rc, $out) = run('ffmpeg', '-v', 'error', '-y', @{$in{$name}},
                         '-f', 'flv', "$tmp/$name.flv");
    BAIL_OUT("ffmpeg $name: $out") if $rc != 0;
}

# each input written whole, and checked against its FLV

my %packets;

for my $name (qw(av video audio mp3)) {
    my $flv = "$tmp/$name.flv";
    my $mp4 = "$tmp/$name.mp4";

    $packets{$name} = flv_packets($flv);

    my ($rc, $out) = run($bin, $flv, $mp4);
    ok($rc == 0 && clean($out), "$name: written") or diag($out);

    ok(!-e "$mp4.lrsc", "$name: the sidecar is gone after close");

    same_media($name, $mp4, $packets{$name}, 'whole');

    my $m = LiveRecord::MP4->read($mp4);
    is($m->top_types, 'ftyp moov free mdat',
       "$name: moov in the reserved region, before the mdat");

    is_deeply(framemd5($mp4), framemd5($flv),
              "$name: every packet's bytes are the FLV's");
}

# the A/V file: one pass, bytes written once, the sidecar read once

{
    my ($rc, $out) = run($bin, "$tmp/av.flv", "$tmp/io.mp4");
    my ($w, $r) = $out =~ /io written=(\d+) read=(\d+)/;
    my $m = LiveRecord::MP4->read("$tmp/io.mp4");
    my ($free) = grep { $_->{type} eq 'free' } @{$m->{top}};
    my $samples = 0;
    $samples += $_->{samples} for @{$m->{tracks}};
    my $data = $m->{size} - $free->{size} + 8;

    ok(defined $w && $w <= $data + 16 * $samples + 64 + 4096,
       "written $w bytes for $data bytes of file and $samples samples");
    ok(defined $r && $r <= 16 * $samples + 4096 + 4096,
       "read back $r bytes: the sidecar, once");
}

# ffprobe agrees, and sees the codecs

{
    my $p = ffprobe("$tmp/mp3.mp4");
    is($p->{audio}{codec_name}, 'mp3', 'mp3: ffprobe sees mp3');
    is($p->{video}{codec_name}, 'h264', 'mp3: ffprobe sees h264');

    my $m = LiveRecord::MP4->read("$tmp/mp3.mp4");
    is($m->track('soun')->{oti}, 0x6b, 'mp3: objectTypeIndication 0x6B');

    $p = ffprobe("$tmp/av.mp4");
    is($p->{audio}{codec_name}, 'aac', 'av: aac');
    is($p->{video}{width}, 320, 'av: width');
    ok(abs($p->{format}{duration} - 10.07) < 0.1,
       "av: duration $p->{format}{duration}");

    my $v = LiveRecord::MP4->read("$tmp/av.mp4")->track('vide');
    ok(@{$v->{ctts}} > 1, 'av: B-frames: ctts is written');
    is($v->{elst}[-1][1], $v->{ctts}[0][1],
       'av: the edit list starts at the first composition offset');
}

# the source drops half a second of audio: the gap stays a gap

{
    my ($rc, $out) = run($bin, '-d', '3000:3500', "$tmp/av.flv",
                         "$tmp/gap.mp4");
    ok($rc == 0 && clean($out), 'gap: written') or diag($out);

    my $m = LiveRecord::MP4->read("$tmp/gap.mp4");
    is_deeply([ $m->check ], [], 'gap: the file is whole');

    my $a = $m->track('soun');
    my @d = $m->durations($a);
    # the first sample lasts from the part's start (see below)
    my @long = grep { $_ > 1024 } @d[1 .. $#d];
    is(scalar @long, 1, 'gap: one audio sample spans the gap');
    ok(@long && abs($long[0] - 0.5 * 44100) < 1536,
       'gap: and lasts as long as the gap (' . ($long[0] // '-') . ')');

    my $full = LiveRecord::MP4->read("$tmp/av.mp4")->track('soun');
    ok(abs($m->stts_sum($a) - $m->stts_sum($full)) < 1024,
       'gap: the audio track keeps its length, so A/V stay in sync');
}

# the moov does not fit: after the mdat; a remainder under 8 bytes too

{
    my $moov = (grep { $_->{type} eq 'moov' }
                @{LiveRecord::MP4->read("$tmp/av.mp4")->{top}})[0]{size};

    for my $case ([ 64, 'ftyp free mdat moov', 'a small reserve' ],
                  [ $moov, 'ftyp moov mdat', 'an exact fit' ],
                  [ $moov + 8, 'ftyp moov free mdat', '8 bytes left' ],
                  [ $moov + 5, 'ftyp free mdat moov', '5 bytes left' ],
                  [ 0, 'ftyp mdat moov', 'no reserve' ])
    {
        my ($reserve, $types, $what) = @$case;

        my ($rc, $out) = run($bin, '-r', $reserve, "$tmp/av.flv",
                             "$tmp/r.mp4");
        ok($rc == 0 && clean($out), "$what: written") or diag($out);

        my $m = LiveRecord::MP4->read("$tmp/r.mp4");
        is($m->top_types, $types, "$what: $types");

        same_media("$what", "$tmp/r.mp4", $packets{av}, 'whole');
    }
}

# kill -9 mid-part, a torn last sample: recovery loses at most a second

for my $name (qw(av audio video)) {
    my $mp4 = "$tmp/crash-$name.mp4";
    my $at = 4000;

    my ($rc, $out) = run($bin, '-c', $at, '-t', '100', "$tmp/$name.flv",
                         $mp4);
    ok($rc == 0 && -e "$mp4.lrsc", "$name: crashed at $at ms") or diag($out);

    ($rc, $out) = run($bin, '-R', $mp4, "$mp4.lrsc");
    ok($rc == 0 && clean($out), "$name: recovered") or diag($out);
    ok(!-e "$mp4.lrsc", "$name: the sidecar is gone after recovery");

    same_media("$name crashed", $mp4, $packets{$name}, 'prefix');

    my $m = LiveRecord::MP4->read($mp4);

    for my $t (@{$m->{tracks}}) {
        my $e = $t->{elst}[0];
        my $end = ($e && $e->[1] == -1 ? $e->[0] : 0)
                  + 1000 * $m->stts_sum($t) / $t->{timescale};
        ok($end > $at - 1000 && $end <= $at + 100,
           "$name crashed: $t->{handler} ends at $end ms, at most 1 s "
           . 'before the crash');
    }

    my $p = ffprobe($mp4);
    ok($p->{format}{duration} > ($at - 1000) / 1000,
       "$name crashed: ffprobe plays $p->{format}{duration} s");
}

# a hand-over (a reconnect taken by another worker): the part is detached,
# written and closed without a moov, and another process reopens it and
# goes on in the same mdat and sample index, media time from where it
# stopped: one file with every frame of both, the bytes the FLV's twice.
# After a kill -9 that tore the last sample, the torn tail is cut first.

for my $name (qw(av audio video)) {
    my $flv = "$tmp/$name.flv";
    my $mp4 = "$tmp/handover-$name.mp4";

    my ($rc, $out) = run($bin, '-H', $flv, $mp4);
    my ($span) = $out =~ /span=(\d+)/;
    ok($rc == 0 && clean($out) && -e "$mp4.lrsc" && $span,
       "$name: detached, the sidecar kept") or diag($out);

    ($rc, $out) = run($bin, '-A', $span // 0, $flv, $mp4);
    ok($rc == 0 && clean($out), "$name: reopened at $span ms and closed")
        or diag($out);
    ok(!-e "$mp4.lrsc", "$name: the sidecar is gone after close");

    continued("$name handed over", $mp4, $packets{$name}, 'whole', $span);

    my $h = framemd5($flv);
    $h->{$_} = [ @{$h->{$_}}, @{$h->{$_}} ] for keys %$h;
    is_deeply(framemd5($mp4), $h, "$name: every packet's bytes are the "
                                   . "FLV's, twice");
}

{
    my $mp4 = "$tmp/handover-torn.mp4";

    my ($rc, $out) = run($bin, '-c', 4000, '-t', '100', "$tmp/av.flv",
                         $mp4);
    ok($rc == 0 && -e "$mp4.lrsc", 'torn: crashed at 4000 ms') or diag($out);

    ($rc, $out) = run($bin, '-A', 12000, "$tmp/av.flv", $mp4);
    ok($rc == 0 && clean($out) && $out =~ /goes on after \d+ samples/,
       'torn: reopened after the last whole sample, and closed')
        or diag($out);

    continued('torn', $mp4, $packets{av}, 'prefix', 12000);
}

# a sidecar that is not one: recovery refuses it and leaves the file

{
    my $mp4 = "$tmp/crash-bad.mp4";
    run($bin, '-c', 3000, "$tmp/av.flv", $mp4);

    open(my $fh, '+<:raw', "$mp4.lrsc") or die;
    seek($fh, 20, 0);
    print $fh "\xff";
    close $fh;

    my $size = -s $mp4;
    my ($rc, $out) = run($bin, '-R', $mp4, "$mp4.lrsc");
    ok($rc != 0 && $out =~ /sidecar .* is not valid/,
       'a damaged sidecar header is refused') or diag($out);
    is(-s $mp4, $size, 'and the part is left as it was');
}

# the fuzz target for recovery (fuzz/fuzz_mp4_sidecar.c) as a plain
# program: real sidecars, each cut short and with bytes flipped, run clean

{
    my $fuzz = "$tmp/fuzz_mp4_sidecar";
    my ($rc, $out) = run('gcc', '-DNGX_LIVE_RECORD_FUZZ_MAIN',
                         '-fsanitize=address,undefined', '-g', '-O1',
                         @warn, @inc, '-o', $fuzz,
                         "$top/fuzz/fuzz_mp4_sidecar.c", @mp4, $codec,
                         "$top/t/mp4/ngx_stub.c");
    is($rc, 0, 'fuzz_mp4_sidecar.c builds with gcc, ASan and UBSan')
        or diag($out);

    my $dir = "$tmp/fuzz";
    mkdir $dir;
    my $n = 0;

    for my $name (qw(av audio video mp3)) {
        my $mp4 = "$tmp/seed-$name.mp4";
        run($bin, '-c', 1500, "$tmp/$name.flv", $mp4);

        open(my $fh, '<:raw', "$mp4.lrsc") or die "$mp4.lrsc: $!";
        local $/;
        my $sc = <$fh>;
        close $fh;

        my $hlen = unpack('N', substr($sc, 8, 4));
        my $payload = (-s $mp4) - unpack('N', substr($sc, 28, 4)) - 16;

        my @inputs = (pack('N', $payload) . $sc,
                      pack('N', $payload / 2) . $sc,
                      pack('N', 0) . $sc);

        for my $cut (1, 4, 9, 40, $hlen - 1, $hlen, $hlen + 15,
                     length($sc) - 7)
        {
            push @inputs, pack('N', $payload) . substr($sc, 0, $cut);
        }

        # flipped bytes: in the header with its checksum made right again
        # (the top bit of the first byte), and in the entries

        for my $i (map { int($_ * $hlen / 24) } 0 .. 23) {
            my $x = $sc;
            substr($x, $i, 1) = chr(ord(substr($x, $i, 1)) ^ 0x5a);
            push @inputs, pack('N', 0x80000000 | $payload) . $x;
        }

        for my $i (map { $hlen + 16 * $_ * 7 + $_ % 16 } 0 .. 23) {
            last if $i >= length $sc;
            my $x = $sc;
            substr($x, $i, 1) = chr(ord(substr($x, $i, 1)) ^ 0xa5);
            push @inputs, pack('N', $payload) . $x;
        }

        for my $in (@inputs) {
            open(my $fh, '>:raw', sprintf("$dir/%s-%03d", $name, $n++))
                or die;
            print $fh $in;
            close $fh;
        }
    }

    SKIP: {
        skip 'no fuzz_mp4_sidecar built', 1 unless $rc == 0;

        local $ENV{TMPDIR} = $tmp;
        ($rc, $out) = run($fuzz, $dir);
        ok($rc == 0 && $out =~ /$n inputs run/
           && $out !~ /Sanitizer|runtime error:|check failed/,
           "fuzz_mp4_sidecar: $n sidecars, cut and flipped, run clean")
            or diag($out);
    }
}

# a 30-minute part of a small stream, looped: memory and I/O stay bounded

{
    my ($rc, $out) = run($bin, '-l', 180, "$tmp/av.flv", "$tmp/long.mp4");
    ok($rc == 0 && clean($out), '30 minutes: written') or diag($out);

    my $m = LiveRecord::MP4->read("$tmp/long.mp4");
    is_deeply([ $m->check ], [], '30 minutes: the file is whole');
    is($m->top_types, 'ftyp moov free mdat',
       '30 minutes: the default reserve holds the moov');
    is($m->track('vide')->{samples}, 180 * 300, '30 minutes: video samples');

    my ($w, $r) = $out =~ /io written=(\d+) read=(\d+)/;
    diag(sprintf('30 min: %d bytes of file (%d moov), written %d, read %d',
                 $m->{size}, (grep { $_->{type} eq 'moov' } @{$m->{top}})[0]
                 ->{size}, $w // 0, $r // 0));
}

# nginx's mp4 module seeks in it (?start=)

SKIP: {
    my $nginx = (grep { -x } '/usr/sbin/nginx', '/usr/local/sbin/nginx')[0];
    need('nginx', 'no /usr/sbin/nginx', 6) unless $nginx;

    my $port = free_port();
    my $dir = "$tmp/nginx";
    mkdir $dir;
    mkdir "$dir/www";
    link("$tmp/av.mp4", "$dir/www/av.mp4") or die "link: $!";

    open(my $fh, '>', "$dir/nginx.conf") or die;
    print $fh <<"EOF";
daemon off;
master_process off;
worker_processes 1;
error_log $dir/error.log info;
pid $dir/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    server {
        listen 127.0.0.1:$port;
        root $dir/www;
        location / { mp4; }
    }
}
EOF
    close $fh;

    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>', "$dir/stderr.log";
        exec $nginx, '-p', "$dir/", '-c', "$dir/nginx.conf", '-e',
             "$dir/error.log";
        exit 127;
    }

    my $up = 0;

    for (1 .. 50) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port");
        if ($s) { $up = 1; close $s; last; }
        select(undef, undef, undef, 0.1);
    }

    ok($up, 'nginx with the mp4 module is up');

    my ($status, $body) = http_get($port, '/av.mp4?start=2');
    is($status, 200, '?start=2: 200');

    open($fh, '>:raw', "$tmp/seek.mp4") or die;
    print $fh $body // '';
    close $fh;

    # nginx cuts mdhd at the exact start time and stts at a sample: its
    # own rounding, up to one sample, is not ours to check

    my $m = LiveRecord::MP4->read("$tmp/seek.mp4");
    my @e = grep { !/mdhd duration \d+ is not the stts sum/ } $m->check;
    is_deeply(\@e, [], '?start=2: the reply is a whole mp4')
        or diag(join "\n", @e);

    my $p = ffprobe("$tmp/seek.mp4");
    ok(($p->{video}{nb_read_packets} // 0) > 200
       && $p->{video}{nb_read_packets} < 300,
       '?start=2: video from a keyframe near 2 s ('
       . ($p->{video}{nb_read_packets} // '-') . ' frames)');
    ok(abs(($p->{format}{duration} // 0) - 8.07) < 0.5,
       '?start=2: about 8 s left (' . ($p->{format}{duration} // '-')
       . ')');

    kill 'TERM', $pid;
    waitpid($pid, 0);

    open($fh, '<', "$dir/error.log");
    my @bad = grep { /\[(alert|crit|emerg|error)\]/ } <$fh>;
    close $fh;
    is_deeply(\@bad, [], 'nginx logged no error');
}

done_testing();

###############################################################################

# the FLV's packets per track, as ffprobe sees them

sub flv_packets {
    my ($flv) = @_;

    my %p;

    for my $kind (qw(v a)) {
        my ($rc, $out) = run('ffprobe', '-v', 'error', '-select_streams',
                             $kind, '-show_entries',
                             'packet=dts,size,flags', '-of', 'csv=p=0',
                             $flv);
        for (split /\n/, $out) {
            my ($dts, $size, $flags) = split /,/;
            next unless defined $flags;
            push @{$p{$kind}}, { dts => $dts, size => $size,
                                 key => ($flags =~ /K/ ? 1 : 0) };
        }
    }

    return \%p;
}

# the MP4 against the FLV's packets: all of them, or a prefix (recovery)

sub same_media {
    my ($name, $mp4, $packets, $how) = @_;

    my $m = LiveRecord::MP4->read($mp4);
    is_deeply([ $m->check ], [], "$name: the boxes tile the file and the "
                                 . 'tables are consistent')
        or diag(join "\n", $m->check);

    for my $kind (qw(v a)) {
        my $flv = $packets->{$kind} or next;
        my $t = $m->track($kind eq 'v' ? 'vide' : 'soun');
        my $what = $kind eq 'v' ? 'video' : 'audio';

        ok($t, "$name: $what track") or next;

        my $n = $t->{samples};
        my @want = @$flv;

        if ($how eq 'prefix') {
            ok($n > 0 && $n <= @want, "$name: $n of " . @want
                                      . " $what samples");
            @want = @want[0 .. $n - 1];

        } else {
            is($n, scalar @want, "$name: $what samples = FLV packets");
        }

        is_deeply($t->{sizes}, [ map { $_->{size} } @want ],
                  "$name: $what sample sizes");

        if ($kind eq 'v') {
            my @keys = grep { $want[$_ - 1]{key} } 1 .. @want;
            is_deeply($t->{stss} // [ 1 .. $n ], \@keys,
                      "$name: stss = the keyframes");

            # 90 kHz ticks of the ms timestamps; the last lasts as the one
            # before it

            my @d = map { ($want[$_ + 1]{dts} - $want[$_]{dts}) * 90 }
                    0 .. $#want - 1;
            push @d, @d ? $d[-1] : 3000;

            is_deeply([ $m->durations($t) ], \@d,
                      "$name: every video duration exact");

        } else {
            my $frame = $t->{codec} eq 'mp4a' && ($t->{oti} // 0) == 0x40
                        ? 1024 : ($t->{rate} >= 32000 ? 1152 : 576);

            # audio starts with the part: a first frame that comes after
            # the keyframe the part starts at lasts from the part's start
            my @d = $m->durations($t);
            my $first = shift @d;

            is_deeply(\@d, [ ($frame) x ($n - 1) ],
                      "$name: every audio duration $frame after the first");
            ok(defined $first && $first >= $frame,
               "$name: the first lasts from the part's start ("
               . ($first // '-') . ')');
            is($t->{timescale}, $t->{rate}, "$name: audio time scale");
        }
    }
}

# a part that went on after a hand-over: a prefix of the FLV's packets (all
# of them, or what a crash left) then all of them from FROM ms on, time
# never going back

sub continued {
    my ($name, $mp4, $packets, $how, $from) = @_;

    my $m = LiveRecord::MP4->read($mp4);
    is_deeply([ $m->check ], [], "$name: the boxes tile the file and the "
                                 . 'tables are consistent')
        or diag(join "\n", $m->check);

    for my $kind (qw(v a)) {
        my $flv = $packets->{$kind} or next;
        my $t = $m->track($kind eq 'v' ? 'vide' : 'soun');
        my $what = $kind eq 'v' ? 'video' : 'audio';

        ok($t, "$name: $what track") or next;

        my $k = $t->{samples} - @$flv;

        if ($how eq 'whole') {
            is($k, scalar @$flv, "$name: $what samples = twice the FLV's");
        } else {
            ok($k > 0 && $k < @$flv, "$name: $k $what samples before the "
                                     . 'crash, then all ' . @$flv);
        }

        next unless $k > 0 && $k <= @$flv;

        my @want = (@$flv[0 .. $k - 1], @$flv);
        is_deeply($t->{sizes}, [ map { $_->{size} } @want ],
                  "$name: $what sample sizes");

        if ($kind eq 'v') {
            my @keys = grep { $want[$_ - 1]{key} } 1 .. @want;
            is_deeply($t->{stss} // [ 1 .. @want ], \@keys,
                      "$name: stss = the keyframes of both");
        }

        my @d = $m->durations($t);
        is(scalar(grep { $_ <= 0 } @d), 0,
           "$name: $what time goes forward at every sample");

        # the second push's first sample: at FROM, give or take a frame
        my $at = 0;
        $at += $_ for @d[0 .. $k - 1];
        $at = 1000 * $at / $t->{timescale};
        ok(abs($at - $from) <= 100, "$name: the $what after the hand-over "
                                    . "starts at $at ms of the part");
    }
}

sub ffprobe {
    my ($file) = @_;

    my ($rc, $out) = run('ffprobe', '-v', 'error', '-count_packets',
                         '-show_entries',
                         'stream=codec_type,codec_name,nb_read_packets,'
                         . 'width,duration:format=duration',
                         '-of', 'flat', $file);
    my %p;

    for (split /\n/, $out) {
        if (/^streams\.stream\.(\d+)\.(\w+)="?([^"]*)"?$/) {
            $p{streams}[$1]{$2} = $3;
        } elsif (/^format\.(\w+)="?([^"]*)"?$/) {
            $p{format}{$1} = $2;
        }
    }

    for my $s (@{$p{streams} // []}) {
        $p{$s->{codec_type}} = $s if $s->{codec_type};
    }

    return \%p;
}

sub http_get {
    my ($port, $uri) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
        or return;
    print $s "GET $uri HTTP/1.0\r\nHost: localhost\r\n\r\n";

    local $/;
    my $reply = <$s> // '';
    close $s;

    my ($head, $body) = split /\r\n\r\n/, $reply, 2;
    my ($status) = ($head // '') =~ m{^HTTP/\S+ (\d+)};

    return ($status, $body);
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 1, ReuseAddr => 1) or die;
    my $port = $s->sockport;
    close $s;

    return $port;
}

# no report from ASan, UBSan or the writer's log above info

