package LiveRecord::Fuzz;

# The fuzz targets without clang (t/fuzz.t, t/fuzz_s3.t): each is built
# with gcc, ASan and UBSan as a plain program (-DNGX_LIVE_RECORD_FUZZ_MAIN,
# fuzz/ngx_live_record_fuzz_main.h) and run over files and directories of
# inputs.
#
#   fuzz_need()                 top of a file, before its plan: a missing
#                               build, nginx's headers or gcc fails it
#                               (LiveRecord::Need)
#   fuzz_build(BIN, ARGS...) -> (wait status, output): gcc with the
#                               targets' flags and nginx's and the build's
#                               includes; ARGS are the target's own
#                               includes, sources and libraries
#   fuzz_clean(NAME, BIN, PATHS...)  one test: every input ran (the
#                               count the program prints), exit 0, and no
#                               report from ASan, UBSan or the harness
#   fuzz_inputs(DIR)         -> the files in DIR that the program runs
#   fuzz_whole()             -> fuzz_build ARGS for a target that includes
#                               the module's .c files whole (fuzz_spool.c,
#                               fuzz_handover.c): libpq's and every
#                               folder's includes, and --gc-sections to
#                               leave out what the target does not reach
#   fuzz_run(CMD...)         -> (wait status, stdout and stderr)

use strict;
use warnings;

use Exporter qw(import);
use Cwd qw(abs_path);
use File::Spec;
use Test::More ();

use LiveRecord::Need;

our @EXPORT = qw(fuzz_need fuzz_build fuzz_clean fuzz_inputs fuzz_run
                 fuzz_whole);

my $TOP  = abs_path(File::Spec->catdir(
               (File::Spec->splitpath(abs_path(__FILE__)))[1], '..', '..',
               '..'));
my $SRC  = $ENV{NGX_SRC} || '/usr/share/nginx/src';
my $CONF = "$TOP/build/ngx";

sub fuzz_need {
    # make test builds first: no build configuration is a failure, not a
    # skip
    need_all('build', "$CONF/ngx_auto_config.h: run make first")
        unless -f "$CONF/ngx_auto_config.h";
    need_all('nginx-dev', "nginx headers in $SRC")
        unless -f "$SRC/src/core/ngx_core.h";
    need_all('gcc', 'gcc not in PATH')
        unless grep { -x "$_/gcc" } split /:/, $ENV{PATH};
}

sub fuzz_build {
    my ($bin, @args) = @_;

    return fuzz_run('gcc', '-DNGX_LIVE_RECORD_FUZZ_MAIN',
        '-fsanitize=address,undefined', '-g', '-O1',
        '-W', '-Wall', '-Wpointer-arith', '-Wno-unused-parameter', '-Werror',
        (map { "-I$SRC/src/$_" } qw(core event event/modules os/unix)),
        "-I$CONF", "-I$TOP", '-o', $bin, @args);
}

sub fuzz_whole {
    my $pq = `pkg-config --cflags-only-I libpq 2>/dev/null`
             || '-I/usr/include/postgresql';
    chomp $pq;

    return (split(' ', $pq), '-fsanitize=float-cast-overflow',
            '-ffunction-sections', '-fdata-sections', '-Wl,--gc-sections',
            "-I$TOP/build/rtmp",
            map { "-I$TOP/$_" } qw(mux core cluster store record http t/mp4
                                   fuzz));
}

sub fuzz_clean {
    my ($name, $bin, @paths) = @_;

    local $Test::Builder::Level = $Test::Builder::Level + 1;
    local $ENV{ASAN_OPTIONS} = 'detect_leaks=1';
    local $ENV{UBSAN_OPTIONS} = 'print_stacktrace=1';

    my $n = 0;
    $n += -d $_ ? scalar(fuzz_inputs($_)) : 1 for @paths;

    my ($rc, $out) = fuzz_run($bin, @paths);
    my @bad = grep { /Sanitizer|runtime error:|check failed/ }
              split /\n/, $out;

    Test::More::ok($rc == 0 && !@bad && $out =~ /: $n inputs run$/m,
                   "$name runs clean")
        or Test::More::diag($out);
}

# as the program picks them: no dot files, no README, regular files only
sub fuzz_inputs {
    my ($dir) = @_;

    opendir(my $dh, $dir) or return ();
    my @files = sort grep { !/^\./ && !/^README/ && -f "$dir/$_" }
                readdir $dh;
    closedir $dh;

    return map { "$dir/$_" } @files;
}

sub fuzz_run {
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

1;
