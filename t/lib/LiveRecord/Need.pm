package LiveRecord::Need;

# What the suite needs and `make deps` installs (chromium, node tools,
# s3rver, gcc, ffmpeg, nginx headers, root for a tmpfs mount): when one is
# missing the test file fails, naming it, under plain prove as under
# `make test` and CI, so coverage never shrinks quietly.  Only an explicit
# LIVE_RECORD_ALLOW_MISSING=NAME[,NAME...] (or "all") turns that failure
# into a skip for those names (see t/README.md).
#
#   need_all(NAME, WHY)     top of a file, before its plan: WHY is undef
#                           when NAME is there; else one failing test and
#                           exit, or skip_all when allowed
#   need(NAME, WHY, N)      inside a SKIP: { } block of N tests: nothing
#                           when WHY is undef; else one failing test and
#                           the other N - 1 skipped, or all N skipped when
#                           allowed
#
# Names: chromium, s3rver, tmpfs, gcc, ffmpeg, nginx-dev.

use strict;
use warnings;

use Exporter qw(import);
use Test::More ();

our @EXPORT = qw(need_all need missing_allowed);

sub missing_allowed {
    my ($name) = @_;
    my %ok = map { $_ => 1 } split /[\s,]+/,
                                    $ENV{LIVE_RECORD_ALLOW_MISSING} // '';
    return $ok{all} || $ok{$name};
}

sub _why {
    my ($name, $why) = @_;
    return "$name missing: $why (make deps installs it; "
           . "LIVE_RECORD_ALLOW_MISSING=$name skips instead)";
}

sub need_all {
    my ($name, $why) = @_;
    return unless defined $why;
    if (missing_allowed($name)) {
        Test::More::plan(skip_all => "$name missing: $why "
                         . '(allowed by LIVE_RECORD_ALLOW_MISSING)');
    }
    Test::More::plan(tests => 1);
    Test::More::fail(_why($name, $why));
    exit 1;
}

sub need {
    my ($name, $why, $n) = @_;
    return unless defined $why;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    no warnings 'exiting';
    if (missing_allowed($name)) {
        Test::More::skip("$name missing: $why "
                         . '(allowed by LIVE_RECORD_ALLOW_MISSING)', $n);
    }
    Test::More::fail(_why($name, $why));
    Test::More::skip("$name missing", $n - 1);
}

1;
