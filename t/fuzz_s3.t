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

plan tests => 3;

my $tmp = tempdir('fuzz_s3.XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bin = "$tmp/fuzz_s3_reply";

my $xml = `pkg-config --cflags-only-I libxml-2.0 2>/dev/null`
          || '-I/usr/include/libxml2';
chomp $xml;

my ($rc, $out) = run('gcc', '-DNGX_LIVE_RECORD_FUZZ_MAIN',
    '-fsanitize=address,undefined', '-g', '-O1',
    '-W', '-Wall', '-Wpointer-arith', '-Wno-unused-parameter', '-Werror',
    (map { "-I$src/src/$_" } qw(core event event/modules os/unix)),
    "-I$conf", "-I$top", "-I$top/store", "-I$top/t/mp4", "-I$top/fuzz",
    split(' ', $xml), '-o', $bin, "$top/fuzz/fuzz_s3_reply.c",
    "$top/store/ngx_live_record_s3.c", "$top/t/mp4/ngx_stub.c",
    '-lxml2', '-lcrypto');
is($rc, 0, 'fuzz_s3_reply.c and the S3 parser build with gcc, ASan, UBSan')
    or diag($out);

SKIP: {
    skip 'not built', 2 unless $rc == 0;

    my @seeds = grep { !m{/README} } glob "$top/fuzz/s3/*";
    ok(@seeds >= 8, 'fuzz/s3/ has its seeds (' . @seeds . ')');

    local $ENV{ASAN_OPTIONS} = 'detect_leaks=1';
    local $ENV{UBSAN_OPTIONS} = 'print_stacktrace=1';

    ($rc, $out) = run($bin, @seeds);
    my @bad = grep { /Sanitizer|runtime error:|check failed/ }
              split /\n/, $out;
    ok($rc == 0 && !@bad && $out =~ /\Q${\ scalar @seeds}\E inputs run/,
       'every seed runs clean') or diag($out);
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
