package LiveRecord::Drive;

# The C drivers of t/mp4/ (t/mp4_writer.t, t/writer_append.t): programs
# built with gcc against nginx's headers and the module's sources, run on
# ffmpeg's output and checked with ffmpeg.
#
#   drive_need(TOOLS...)        top of a file, before its plan: a missing
#                               build, nginx's headers or a tool fails it
#                               (LiveRecord::Need)
#   @DRIVE_INC                  nginx's and the build's include flags
#   run(CMD...)              -> (exit code, stdout and stderr)
#   have(TOOL)               -> TOOL is in PATH
#   clean(OUTPUT)            -> no report from ASan, UBSan or the log above
#                               info
#   framemd5(FILE)           -> { stream index => ["size md5", ...] }, per
#                               packet, from ffmpeg's framemd5 muxer

use strict;
use warnings;

use Exporter qw(import);
use Cwd qw(abs_path);
use File::Spec;

use LiveRecord::Need;

our @EXPORT = qw(drive_need @DRIVE_INC run have clean framemd5);

my $TOP  = abs_path(File::Spec->catdir(
               (File::Spec->splitpath(abs_path(__FILE__)))[1], '..', '..',
               '..'));
my $SRC  = $ENV{NGX_SRC} || '/usr/share/nginx/src';
my $CONF = $ENV{LIVE_RECORD_NGX_BUILD} || "$TOP/build/ngx";

our @DRIVE_INC = ((map { "-I$SRC/src/$_" } qw(core event event/modules
                                              os/unix)),
                  "-I$CONF", "-I$TOP", "-I$TOP/mux", "-I$TOP/t/mp4");

sub drive_need {
    my (@tools) = @_;

    # make test builds first: no build configuration is a failure, not a
    # skip
    need_all('build', "$CONF/ngx_auto_config.h: run make first")
        unless -f "$CONF/ngx_auto_config.h";
    need_all('nginx-dev', "nginx headers in $SRC")
        unless -f "$SRC/src/core/ngx_core.h";
    need_all($_, "$_ not in PATH") for grep { !have($_) } @tools;
}

sub run {
    my (@cmd) = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!";

    if ($pid == 0) {
        open(STDERR, '>&', \*STDOUT) or die;
        exec(@cmd) or die "exec $cmd[0]: $!";
    }

    local $/;
    my $out = <$fh>;
    close($fh);

    return ($? >> 8 || $? & 127, $out // '');
}

sub have {
    my ($tool) = @_;

    return grep { -x "$_/$tool" } split /:/, $ENV{PATH};
}

sub clean {
    my ($out) = @_;

    return $out !~ /Sanitizer|runtime error:|\[(crit|error|alert|warn)\]/;
}

sub framemd5 {
    my ($file) = @_;

    my ($rc, $out) = run('ffmpeg', '-v', 'error', '-i', $file, '-map', '0',
                         '-c', 'copy', '-f', 'framemd5', '-');
    my %h;

    for (split /\n/, $out) {
        next if /^#/;
        my @f = split /\s*,\s*/;
        push @{$h{$f[0]}}, "$f[4] $f[5]" if @f >= 6;
    }

    return \%h;
}

1;
