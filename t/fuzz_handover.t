#!/usr/bin/perl

# The hand-over file's fuzz target without clang: fuzz/fuzz_handover.c
# includes record/ngx_live_record_handover_file.c whole and links core/'s
# JSON field tables and the pool stub, built with gcc, ASan and UBSan (with
# float-cast-overflow, which -fsanitize=undefined leaves out in gcc) as a
# plain program (-DNGX_LIVE_RECORD_FUZZ_MAIN) that runs every file in
# fuzz/handover/: hand-over files as a worker writes them (MP4, FLV and
# AAC; audio only; HEVC by FourCC with a task) and odd ones (bad hex, an
# HLS or repeated format, numbers out of range, a NUL in a string, cut
# short).  --gc-sections leaves out what the target does not reach, so a
# link error here means the parser now calls something new.  A run must
# exit 0 and print nothing from a sanitizer or the harness.

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

plan tests => 5;

my $tmp = tempdir('fuzz_handover.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/fuzz_handover";

my ($rc, $out) = fuzz_build($bin, fuzz_whole(),
    "$top/fuzz/fuzz_handover.c", "$top/core/ngx_live_record_json.c",
    "$top/t/mp4/ngx_stub.c", '-lcjson');
is($rc, 0, 'fuzz_handover.c and the hand-over reader build with gcc, ASan '
    . 'and UBSan')
    or diag($out);

SKIP: {
    skip 'not built', 4 unless $rc == 0;

    my @seeds = fuzz_inputs("$top/fuzz/handover");
    ok(@seeds >= 10, 'fuzz/handover/ has its seeds (' . @seeds . ')');

    fuzz_clean('every seed', $bin, "$top/fuzz/handover");

    # the writer's files are read, the odd ones refused
    my @read = qw(mp4-flv-aac.json aac-only.json hevc-fourcc-task.json
                  rel-nul.json);
    my %read = map { $_ => 1 } @read;
    my @refused = grep { !$read{$_} }
                  map { (split m{/})[-1] } @seeds;
    {
        local $ENV{FUZZ_HANDOVER_EXPECT} = 'read';
        fuzz_clean('the hand-over files as written are read', $bin,
                   map { "$top/fuzz/handover/$_" } @read);
    }
    {
        local $ENV{FUZZ_HANDOVER_EXPECT} = 'refused';
        fuzz_clean('the ' . @refused . ' odd ones are refused', $bin,
                   map { "$top/fuzz/handover/$_" } @refused);
    }
}
