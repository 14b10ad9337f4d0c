#!/usr/bin/perl

# The fuzz target's inputs, without clang: fuzz/fuzz_tag.c,
# mux/ngx_live_record_codec.c and ngx_live_record_segmenter.c are built with
# gcc, ASan and UBSan as a plain program (-DNGX_LIVE_RECORD_FUZZ_MAIN) that
# runs every file in fuzz/regress/ and the seeds cut from ffmpeg output
# (build/fuzz/corpus/seed-*, made by fuzz/seeds.sh when missing), and
# fuzz/fuzz_utf8.c with core/ngx_live_record_utf8.c over
# fuzz/regress-utf8/.  A run must exit 0 and print nothing from a
# sanitizer or from the harness's own checks.
#
# fuzz/crashers/ holds findings reported and not fixed yet: each runs as a
# TODO test, so it shows without failing the suite; once one passes, move
# it to fuzz/regress/ (and drop its line from fuzz/ubsan.supp).

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use FindBin;
use Test::More;
use lib "$FindBin::Bin/lib";
use LiveRecord::Need;

my $top = abs_path("$FindBin::Bin/..");
my $src = $ENV{NGX_SRC} || '/usr/share/nginx/src';
my $conf = "$top/build/ngx";

# make test builds first: no build configuration is a failure, not a skip
need_all('build', "$conf/ngx_auto_config.h: run make first")
    unless -f "$conf/ngx_auto_config.h";
need_all('nginx-dev', "nginx headers in $src")
    unless -f "$src/src/core/ngx_core.h";
need_all('gcc', 'gcc not in PATH')
    unless grep { -x "$_/gcc" } split /:/, $ENV{PATH};

my @crashers = inputs("$top/fuzz/crashers");
my @seeds = glob "$top/build/fuzz/corpus/seed-*";

# seeds cut from ffmpeg output: made here (once per build directory, a few
# seconds) when make fuzz has not made them yet
if (!@seeds) {
    system("$top/fuzz/seeds.sh $top/build/fuzz >/dev/null 2>&1");
    @seeds = glob "$top/build/fuzz/corpus/seed-*";
}

plan tests => 6 + @crashers;

my $tmp = tempdir('fuzz.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/fuzz_tag";

my @cc = ('gcc', '-DNGX_LIVE_RECORD_FUZZ_MAIN',
          '-fsanitize=address,undefined', '-g', '-O1',
          '-W', '-Wall', '-Wpointer-arith', '-Wno-unused-parameter', '-Werror',
          (map { "-I$src/src/$_" } qw(core event event/modules os/unix)),
          "-I$conf", "-I$top", "-I$top/mux",
          '-o', $bin, "$top/fuzz/fuzz_tag.c", "$top/mux/ngx_live_record_codec.c",
          "$top/ngx_live_record_segmenter.c");

my ($rc, $out) = run(@cc);
is($rc, 0, 'fuzz_tag.c, the codec and the segmenter build with gcc, ASan '
    . 'and UBSan')
    or diag($out);

SKIP: {
    skip 'no fuzz_tag built', 3 + @crashers unless $rc == 0;

    my @regress = inputs("$top/fuzz/regress");
    ok(@regress >= 4, 'fuzz/regress/ has its seeds (' . @regress . ')');

    clean('fuzz/regress/', $bin, "$top/fuzz/regress");

    if (@seeds) {
        clean(scalar(@seeds) . ' seeds in build/fuzz/corpus/', $bin, @seeds);
    } else {
        fail('no seeds in build/fuzz/corpus/: fuzz/seeds.sh failed '
             . '(it needs ffmpeg and python3)');
    }

    for my $f (@crashers) {
        local $TODO = 'known finding, not fixed yet';
        clean('fuzz/crashers/' . (split m{/}, $f)[-1], $bin, $f);
    }
}

# the UTF-8 checks (core/ngx_live_record_utf8.c) on fuzz/regress-utf8/

my $utf8 = "$tmp/fuzz_utf8";
my @cc8 = (@cc[0 .. 9], (map { "-I$src/src/$_" } qw(core event event/modules
           os/unix)), "-I$conf", "-I$top", "-I$top/core", '-o', $utf8,
           "$top/fuzz/fuzz_utf8.c", "$top/core/ngx_live_record_utf8.c");
($rc, $out) = run(@cc8);
is($rc, 0, 'fuzz_utf8.c and the UTF-8 checks build with gcc, ASan and UBSan')
    or diag($out);

SKIP: {
    skip 'no fuzz_utf8 built', 1 unless $rc == 0;
    clean('fuzz/regress-utf8/', $utf8, "$top/fuzz/regress-utf8");
}

# every input runs; exit 0 and no report from ASan, UBSan or the harness

sub clean {
    my ($name, $bin, @args) = @_;

    local $ENV{ASAN_OPTIONS} = 'detect_leaks=1';
    local $ENV{UBSAN_OPTIONS} = 'print_stacktrace=1';

    my ($rc, $out) = run($bin, @args);
    my @bad = grep { /Sanitizer|runtime error:|check failed/ } split /\n/, $out;

    ok($rc == 0 && !@bad && $out =~ /\d+ inputs run/, "$name runs clean")
        or diag($out);
}

sub inputs {
    my ($dir) = @_;

    opendir(my $dh, $dir) or return ();
    my @files = sort grep { !/^\./ && !/^README/ && -f "$dir/$_" } readdir $dh;
    closedir $dh;

    return map { "$dir/$_" } @files;
}

sub run {
    my (@cmd) = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }

    local $/;
    my $out = <$fh> // '';
    close $fh;

    return ($?, $out);
}
