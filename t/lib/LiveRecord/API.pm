package LiveRecord::API;

# A client for the module's HTTP JSON API (core Perl: HTTP::Tiny, JSON::PP).
#
#   my $api = LiveRecord::API->new(port => port('HTTP'), token => 'secret');
#   my ($status, $json, $raw) = $api->call(POST => '/api/tasks', {...});
#   $api->call(GET => '/api/tasks', undef, token => undef);   # no header
#
# A body given as a string is sent as is (for bad JSON); a reference is
# encoded.  $json is undef when the reply is not JSON; a reply sent as
# application/json that is not strict UTF-8 JSON fails no_alerts().

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP qw(encode_json);
use LiveRecord::JSON;

sub new {
    my ($class, %o) = @_;
    return bless { port => $o{port}, token => $o{token},
                   http => HTTP::Tiny->new(timeout => 30) }, $class;
}

sub call {
    my ($self, $method, $path, $body, %o) = @_;
    my $token = exists $o{token} ? $o{token} : $self->{token};
    my %h;
    $h{Authorization} = "Bearer $token" if defined $token;
    my %req = (headers => \%h);
    if (defined $body) {
        $req{content} = ref $body ? encode_json($body) : $body;
        $h{'Content-Type'} = 'application/json';
    }
    my $r = $self->{http}->request($method,
        "http://127.0.0.1:$self->{port}$path", \%req);
    # every reply the API sends as JSON must be strict UTF-8 JSON
    my $json = ($r->{headers}{'content-type'} // '') =~ m{^application/json}
        ? eval { LiveRecord::JSON::decode($r->{content}, "$method $path") }
        : eval { JSON::PP->new->utf8->decode($r->{content}) };
    return ($r->{status}, $json, $r);
}

1;
