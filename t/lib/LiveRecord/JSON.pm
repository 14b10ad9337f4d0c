package LiveRecord::JSON;

# Strict JSON for the whole suite: every JSON text a test receives (API
# replies, callback bodies, index entries, spool files) is decoded from
# bytes as strict UTF-8 (no invalid or overlong bytes, no surrogates, no
# lone \ud800 escapes).  A text that fails is remembered as well as
# reported to the caller by die, so that a test that only looks for what it
# wants (eval { decode_json(...) } || {}) still fails: no_alerts() in
# LiveRecord::Test lists them.
#
#   use LiveRecord::JSON;
#   my $v = LiveRecord::JSON::decode($bytes, 'GET /api/files');
#   my @bad = LiveRecord::JSON::bad();   # 'WHAT: error' strings

use strict;
use warnings;

use JSON::PP ();

my $JSON = JSON::PP->new->utf8;
my (@BAD, %SEEN);

sub decode {
    my ($bytes, $what) = @_;
    my $v = eval { $JSON->decode($bytes) };
    return $v unless $@;
    my $err = $@;
    my $head = defined $bytes ? substr($bytes, 0, 80) : '(undef)';
    $head =~ s/([^ -~])/sprintf '\x%02x', ord $1/ge;
    (my $short = $err) =~ s/ at \S+ line \d+\.?\n?//;
    my $line = ($what // 'JSON') . ": $short ($head)";
    push @BAD, $line unless $SEEN{$line}++;    # requests() re-reads
    die $err;
}

sub bad { return @BAD }

1;
