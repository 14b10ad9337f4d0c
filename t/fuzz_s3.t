#!/usr/bin/perl

# The S3 reply fuzz target's seeds without clang: fuzz/fuzz_s3_reply.c,
# store/ngx_live_record_s3.c (the libxml2 reply parser, the
# CompleteMultipartUpload body, the ETag header) and t/mp4/ngx_stub.c are
# built with gcc, ASan and UBSan as a plain program
# (-DNGX_LIVE_RECORD_FUZZ_MAIN) that runs every file in fuzz/s3/: the
# replies AWS documents, one with entities, one with ETags to escape.  A
# run must exit 0 and print nothing from a sanitizer or the harness.

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

my $tmp = tempdir('fuzz_s3.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/fuzz_s3_reply";

my $xml = `pkg-config --cflags-only-I libxml-2.0 2>/dev/null`
          || '-I/usr/include/libxml2';
chomp $xml;

my ($rc, $out) = fuzz_build($bin,
    "-I$top/store", "-I$top/t/mp4", "-I$top/fuzz",
    split(' ', $xml), "$top/fuzz/fuzz_s3_reply.c",
    "$top/store/ngx_live_record_s3.c", "$top/t/mp4/ngx_stub.c",
    '-lxml2', '-lcrypto');
is($rc, 0, 'fuzz_s3_reply.c and the S3 parser build with gcc, ASan, UBSan')
    or diag($out);

SKIP: {
    skip 'not built', 2 unless $rc == 0;

    my @seeds = grep { !m{/README} } glob "$top/fuzz/s3/*";
    ok(@seeds >= 8, 'fuzz/s3/ has its seeds (' . @seeds . ')');

    fuzz_clean('every seed', $bin, @seeds);
}
