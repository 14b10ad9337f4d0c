#!/usr/bin/perl

# The crash-recovery fuzz target's seeds without clang: fuzz/fuzz_spool.c
# includes record/ngx_live_record_recover.c, _tasks_file.c and
# _hls_playlist.c, store/ngx_live_record_upload.c and _upload_spool.c,
# cluster/ngx_live_record_cluster.c and ngx_live_record_notify.c whole
# (libcrypto for the latter's HMAC), and links core/'s JSON field
# tables and files and mux/ngx_live_record_writer.c's MPEG-TS scan
# (libavformat), built with gcc, ASan and UBSan (with float-cast-overflow,
# which -fsanitize=undefined leaves out in gcc) as a plain program
# (-DNGX_LIVE_RECORD_FUZZ_MAIN) that runs every file in fuzz/spool/: part
# sidecars, tasks.json, MPEG-TS segments whole and cut short, http store
# replies, HLS EVENT playlists, cluster rows, notify spool files, spooled
# uploads, and the inputs the fuzzer
# found.  --gc-sections leaves out what the target does not reach, so a
# link error here means a reader now calls something new.  A run must
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

plan tests => 3;

my $tmp = tempdir('fuzz_spool.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/fuzz_spool";

my ($rc, $out) = fuzz_build($bin, fuzz_whole(),
    "$top/fuzz/fuzz_spool.c", "$top/core/ngx_live_record_json.c",
    "$top/core/ngx_live_record_utf8.c", "$top/core/ngx_live_record_util.c",
    "$top/core/ngx_live_record_file.c",
    "$top/mux/ngx_live_record_writer.c", "$top/t/mp4/ngx_stub.c",
    '-lcjson', '-lavformat', '-lavcodec', '-lavutil', '-lcrypto', '-lpq');
is($rc, 0, 'fuzz_spool.c and the recovery readers build with gcc, ASan and '
    . 'UBSan')
    or diag($out);

SKIP: {
    skip 'not built', 2 unless $rc == 0;

    my @seeds = fuzz_inputs("$top/fuzz/spool");
    ok(@seeds >= 10, 'fuzz/spool/ has its seeds (' . @seeds . ')');

    local $ENV{TMPDIR} = $tmp;
    fuzz_clean('every seed', $bin, "$top/fuzz/spool");
}
