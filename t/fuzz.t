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
use LiveRecord::Fuzz;

my $top = abs_path("$FindBin::Bin/..");

fuzz_need();

my @crashers = fuzz_inputs("$top/fuzz/crashers");
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

my ($rc, $out) = fuzz_build($bin, "-I$top/mux", "$top/fuzz/fuzz_tag.c",
                            "$top/mux/ngx_live_record_codec.c",
                            "$top/ngx_live_record_segmenter.c");
is($rc, 0, 'fuzz_tag.c, the codec and the segmenter build with gcc, ASan '
    . 'and UBSan')
    or diag($out);

SKIP: {
    skip 'no fuzz_tag built', 3 + @crashers unless $rc == 0;

    my @regress = fuzz_inputs("$top/fuzz/regress");
    ok(@regress >= 4, 'fuzz/regress/ has its seeds (' . @regress . ')');

    fuzz_clean('fuzz/regress/', $bin, "$top/fuzz/regress");

    if (@seeds) {
        fuzz_clean(scalar(@seeds) . ' seeds in build/fuzz/corpus/', $bin,
                   @seeds);
    } else {
        fail('no seeds in build/fuzz/corpus/: fuzz/seeds.sh failed '
             . '(it needs ffmpeg and python3)');
    }

    for my $f (@crashers) {
        local $TODO = 'known finding, not fixed yet';
        fuzz_clean('fuzz/crashers/' . (split m{/}, $f)[-1], $bin, $f);
    }
}

# the UTF-8 checks (core/ngx_live_record_utf8.c) on fuzz/regress-utf8/

my $utf8 = "$tmp/fuzz_utf8";
($rc, $out) = fuzz_build($utf8, "-I$top/core", "$top/fuzz/fuzz_utf8.c",
                         "$top/core/ngx_live_record_utf8.c");
is($rc, 0, 'fuzz_utf8.c and the UTF-8 checks build with gcc, ASan and UBSan')
    or diag($out);

SKIP: {
    skip 'no fuzz_utf8 built', 1 unless $rc == 0;
    fuzz_clean('fuzz/regress-utf8/', $utf8, "$top/fuzz/regress-utf8");
}
