#!/usr/bin/perl

# FLV and ADTS parts handed from one process to another (issue 17: a
# reconnect taken by another worker), mux/ngx_live_record_writer.c on its
# own: a C driver (t/mp4/writer_drive.c, built here with gcc, ASan and
# UBSan against nginx's headers, libavformat, the codec parser and the pool
# stub) writes an FLV input into a part and detaches it (no trailer), then
# a second run appends the same input to it, its first frame at the end of
# the first (FLV timestamps; ADTS has none).  The result is one file with
# every packet of both, the bytes the input's twice, one FLV header,
# timestamps strictly increasing and the second push starting where the
# first ended; it decodes clean.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use FindBin;
use Test::More;

use lib "$FindBin::Bin/lib";
use LiveRecord::Drive;

my $top = abs_path("$FindBin::Bin/..");

drive_need(qw(gcc ffmpeg ffprobe));

my $tmp = tempdir('writer_append.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/writer_drive";

my ($rc, $out) = run('gcc', '-fsanitize=address,undefined', '-g', '-O1',
                     '-W', '-Wall', '-Wpointer-arith',
                     '-Wno-unused-parameter', '-Werror',
                     @DRIVE_INC,
                     '-o', $bin, "$top/t/mp4/writer_drive.c",
                     "$top/t/mp4/ngx_stub.c",
                     "$top/mux/ngx_live_record_writer.c",
                     "$top/mux/ngx_live_record_mp4_chain.c",
                     "$top/mux/ngx_live_record_drain.c",
                     "$top/mux/ngx_live_record_codec.c",
                     '-lavformat', '-lavcodec', '-lavutil');
is($rc, 0, 'the driver builds with ASan and UBSan') or diag($out);

BAIL_OUT('no driver') unless $rc == 0;

$ENV{ASAN_OPTIONS} = 'detect_leaks=1';
$ENV{UBSAN_OPTIONS} = 'print_stacktrace=1:halt_on_error=1';

# A/V with B-frames (composition offsets in the FLV tags)

($rc, $out) = run('ffmpeg', '-v', 'error', '-y', '-f', 'lavfi', '-i',
                  'testsrc=size=320x240:rate=30', '-f', 'lavfi', '-i',
                  'sine=frequency=440:sample_rate=44100', '-t', '4',
                  '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '2',
                  '-g', '60', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
                  '-b:a', '64k', '-f', 'flv', "$tmp/av.flv");
BAIL_OUT("ffmpeg: $out") if $rc != 0;

my $in = packets("$tmp/av.flv");
my $md5 = framemd5("$tmp/av.flv");

for my $fmt (qw(flv aac)) {
    my $part = "$tmp/part.$fmt";
    my @kinds = $fmt eq 'flv' ? qw(v a) : qw(a);

    ($rc, $out) = run($bin, '-H', $fmt, "$tmp/av.flv", $part);
    my ($span) = $out =~ /span=(\d+)/;
    ok($rc == 0 && clean($out) && -s $part && $span,
       "$fmt: written and detached") or diag($out);

    ($rc, $out) = run($bin, '-A', $span // 0, $fmt, "$tmp/av.flv", $part);
    ok($rc == 0 && clean($out), "$fmt: appended at $span ms") or diag($out);

    my $p = packets($part);

    for my $k (@kinds) {
        my $what = $k eq 'v' ? 'video' : 'audio';
        my @a = @{$p->{$k} // []};
        my $n = @{$in->{$k}};

        is(scalar @a, 2 * $n, "$fmt: $what packets of both pushes ("
                              . (2 * $n) . ')');
        is(scalar(grep { $a[$_]{dts} <= $a[$_ - 1]{dts} } 1 .. $#a), 0,
           "$fmt: $what timestamps strictly increasing");

        # ADTS carries no time: the second push follows the first's last
        # frame there
        next unless @a == 2 * $n && $fmt eq 'flv';

        # the second push's first packet: where the first push ended
        # (its span), give or take the input's own first timestamp
        my $gap = $a[$n]{dts} - $a[0]{dts} - $span / 1000;
        ok(abs($gap) <= 0.05, "$fmt: the second $what starts "
                              . "$a[$n]{dts} s, at the first's end");
    }

    # the input's packets twice; ADTS packets (their headers in) as a part
    # written whole from the input has them
    my $once = $md5;

    if ($fmt eq 'aac') {
        ($rc, $out) = run($bin, $fmt, "$tmp/av.flv", "$tmp/whole.aac");
        ok($rc == 0 && clean($out), 'aac: the input written whole')
            or diag($out);
        $once = framemd5("$tmp/whole.aac");
    }

    is_deeply(framemd5($part),
              { map { $_ => [ @{$once->{$_}}, @{$once->{$_}} ] }
                keys %$once },
              "$fmt: every packet's bytes, twice");

    ($rc, $out) = run('ffmpeg', '-v', 'error', '-i', $part, '-f', 'null',
                      '-');
    ok($rc == 0 && $out eq '', "$fmt: decodes without an error")
        or diag($out);

    if ($fmt eq 'flv') {
        open(my $fh, '<:raw', $part) or die "$part: $!";
        local $/;
        my $bytes = <$fh>;
        my $headers = () = $bytes =~ /FLV\x01[\x01\x04\x05]\x00\x00\x00\x09/g;
        is($headers, 1, 'flv: one FLV header');
    }
}

# a part that is not there: not made up, said so

($rc, $out) = run($bin, '-A', 1000, 'flv', "$tmp/av.flv", "$tmp/none.flv");
ok($rc != 0 && $out =~ /\[crit\] .*none\.flv/ && !-e "$tmp/none.flv",
   'flv: appending to a missing part fails, with a crit line naming it')
    or diag($out);

($rc, $out) = run($bin, '-A', 1000, 'aac', "$tmp/av.flv", "$tmp/none.aac");
ok($rc != 0 && $out =~ /\[crit\] .*none\.aac/ && !-e "$tmp/none.aac",
   'aac: appending to a missing part fails, with a crit line naming it')
    or diag($out);

done_testing();

###############################################################################

# per stream kind, each packet's dts (s) in file order

sub packets {
    my ($file) = @_;

    my %p;

    for my $kind (qw(v a)) {
        my ($rc, $out) = run('ffprobe', '-v', 'error', '-select_streams',
                             $kind, '-show_entries', 'packet=dts_time',
                             '-of', 'csv=p=0', $file);
        push @{$p{$kind}}, map { { dts => $_ } } grep { /^[\d.]+$/ }
                           split /\n/, $out;
    }

    return \%p;
}

