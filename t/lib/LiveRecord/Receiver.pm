package LiveRecord::Receiver;

# A real HTTP server for notify callbacks and stores, in a child process on
# 127.0.0.1 (core Perl only).  Every request is appended as one JSON line
# to a log file; the answers follow a list of statuses (the last repeats).
#
#   my $r = LiveRecord::Receiver->start(port => port('NOTIFY'),
#                                       statuses => [500, 500, 200]);
#   # or fail_first => 2: each event id's first two attempts get 500
#   my @reqs = $r->requests;           # [{ method, path, headers, body, t }]
#   my @e = $r->events(TYPE, STREAM);  # the events of TYPE (of stream_id
#                                      # STREAM if given), as received
#   my @e = $r->wait_events(TYPE, STREAM, N, TIMEOUT);  # once N are there,
#                                      # or what is there after TIMEOUT s
#   $r->signatures_ok;                 # one test: every request checked
#   $r->stop;                          # by pid
#
# As a notify receiver, start(key => K) names the key the events must be
# signed with (none: they must be unsigned), and signatures_ok() checks
# every request received so far on its own, after docs/notify.md: a POST
# of strict UTF-8 JSON whose event_id is the X-Live-Record-Event-Id
# header, an X-Live-Record-Timestamp within 5 s of the arrival (the time
# of that attempt, also on retries), and X-Live-Record-Signature
# "sha256=" . hex HMAC-SHA256(K, TIMESTAMP . "." . BODY).
#
# headers are lower-cased names; t is the arrival time (Time::HiRes); a
# body over 64 KiB is kept only as its size and sha256.  A body sent as
# application/json is also decoded as strict UTF-8 JSON into json (see
# LiveRecord::JSON: one that fails makes no_alerts() fail).

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256_hex sha256_hex);
use Encode ();
use IO::Socket::INET;
use JSON::PP;
use LiveRecord::JSON;
use POSIX qw(_exit);
use LiveRecord::Test ();
use Test::More ();
use Time::HiRes qw(time sleep);

sub start {
    my ($class, %o) = @_;
    my $log = $o{log} || "/tmp/live-record-receiver.$$.$o{port}.log";
    unlink $log;
    my $self = bless { port => $o{port}, log => $log, key => $o{key},
                       statuses => $o{statuses} || [200],
                       fail_first => $o{fail_first} || 0,
                       reply => $o{reply} || '{}' }, $class;

    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $o{port}, Listen => 64, ReuseAddr => 1, Proto => 'tcp')
        or die "receiver: listen on $o{port}: $!\n";

    my $pid = fork();
    die "receiver: fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        $self->_serve($listen);
        _exit(0);
    }

    close $listen;
    $self->{pid} = $pid;
    return $self;
}

sub _serve {
    my ($self, $listen) = @_;
    my ($n, %seen) = (0);
    my $json = JSON::PP->new->canonical->latin1;

    while (my $c = $listen->accept) {
        my $req = _read_request($c) or next;
        $req->{t} = time;

        my @s = @{ $self->{statuses} };
        my $status = $n < @s ? $s[$n] : $s[-1];
        $n++;

        # fail_first => N: the first N attempts of each event id get 500
        my $id = $req->{headers}{'x-live-record-event-id'};
        $status = 500
            if $id && $self->{fail_first} && $seen{$id}++ < $self->{fail_first};
        $req->{status} = $status;

        open my $fh, '>>', $self->{log};
        print $fh $json->encode($req), "\n";
        close $fh;

        my $body = $status >= 200 && $status < 300 ? $self->{reply}
                                                   : "{\"error\":$status}";
        print $c "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
               . "Content-Length: " . length($body)
               . "\r\nConnection: close\r\n\r\n$body";
        close $c;
    }
}

sub _read_request {
    my ($c) = @_;
    my $head = '';

    while ($head !~ /\r\n\r\n/) {
        my $got = sysread($c, my $buf, 65536);
        return unless $got;
        $head .= $buf;
    }

    my ($h, $body) = split /\r\n\r\n/, $head, 2;
    my ($line, @lines) = split /\r\n/, $h;
    my ($method, $path) = split / /, $line;
    my %headers = map { /^([^:]+):\s*(.*)$/ ? (lc $1, $2) : () } @lines;

    my $len = $headers{'content-length'} // 0;

    while (length($body) < $len) {
        my $got = sysread($c, my $buf, 1 << 20);
        last unless $got;
        $body .= $buf;
    }

    my %req = (method => $method, path => $path, headers => \%headers,
               size => length $body, sha256 => sha256_hex($body));
    $req{body} = $body if length $body <= 65536;
    return \%req;
}

sub requests {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return ();
    my $json = JSON::PP->new->latin1;
    my @r = map { $json->decode($_) } grep { /\S/ } <$fh>;
    close $fh;
    # a JSON body (a callback) must be strict UTF-8 JSON: one that is not
    # is remembered by LiveRecord::JSON and fails no_alerts()
    for my $r (@r) {
        next unless defined $r->{body}
            && ($r->{headers}{'content-type'} // '') =~ m{^application/json};
        $r->{json} = eval {
            LiveRecord::JSON::decode($r->{body}, "$r->{method} $r->{path}"
                . ' body (' . ($r->{headers}{'x-live-record-event-id'} // '')
                . ')') };
    }
    return @r;
}

sub events {
    my ($self, $type, $stream) = @_;
    return grep { ($_->{event_type} // '') eq $type
                  && (!defined $stream
                      || ($_->{stream_id} // '') eq $stream) }
           grep { ref $_ eq 'HASH' } map { $_->{json} } $self->requests;
}

sub wait_events {
    my ($self, $type, $stream, $n, $timeout) = @_;
    my @e;
    LiveRecord::Test::wait_for(sub {
        @e = $self->events($type, $stream);
        @e >= $n;
    }, $timeout // 15);
    return @e;
}

sub signatures_ok {
    my ($self, $name) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $key = $self->{key};
    my (@e, %types);
    my @reqs = $self->requests;
    for my $r (@reqs) {
        my $h = $r->{headers};
        my $id = $h->{'x-live-record-event-id'} // '';
        my @bad = _check_event($r, $key);
        my $ev = $r->{event};
        $types{ $ev ? $ev->{event_type} // '?' : '?' }++;
        push @e, map { "$id: $_" } @bad;
    }
    my $what = join ', ', map { "$types{$_} $_" } sort keys %types;
    Test::More::ok(@reqs && !@e, ($name // 'notify')
                   . ': every request\'s ' . (defined $key ? 'signature'
                   : 'lack of a signature') . ' and timestamp verified ('
                   . ($what || 'no requests') . ')')
        or Test::More::diag(join "\n", @e[0 .. ($#e > 9 ? 9 : $#e)]);
}

sub _check_event {
    my ($r, $key) = @_;
    my $h = $r->{headers};
    my $body = $r->{body};
    return 'body over 64 KiB, not kept' unless defined $body;
    my @e;
    push @e, "method $r->{method}, not POST" if $r->{method} ne 'POST';
    push @e, 'content-type ' . ($h->{'content-type'} // 'none')
        if ($h->{'content-type'} // '') ne 'application/json';
    push @e, 'body is not strict UTF-8'
        unless eval { Encode::decode('UTF-8', my $c = $body,
                                     Encode::FB_CROAK); 1 };
    my $ev = eval { JSON::PP->new->utf8->decode($body) };
    $r->{event} = ref $ev eq 'HASH' ? $ev : undef;
    push @e, 'body is not a JSON object' unless $r->{event};
    my $id = $h->{'x-live-record-event-id'};
    push @e, 'event id header ' . ($id // 'missing') . ' is not the body\'s '
             . ($ev->{event_id} // 'none')
        if $r->{event} && (!defined $id || $id ne ($ev->{event_id} // ''));
    my $ts = $h->{'x-live-record-timestamp'} // '';
    if ($ts !~ /^\d{10}$/) {
        push @e, "timestamp header '$ts'";
    } elsif (abs($ts - $r->{t}) > 5) {
        push @e, sprintf('timestamp %d is %.1f s from the arrival', $ts,
                         $ts - $r->{t});
    }
    my $sig = $h->{'x-live-record-signature'};
    if (!defined $key) {
        push @e, "signed without a key: $sig" if defined $sig;
    } elsif (($sig // '') ne 'sha256=' . hmac_sha256_hex("$ts.$body", $key)) {
        push @e, 'signature ' . ($sig // 'missing') . ' is not the HMAC of '
                 . 'the timestamp and body with the key';
    }
    return @e;
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'KILL', $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

sub DESTROY {
    my ($self) = @_;
    # at exit: waitpid must not replace the test's exit status
    local $?;
    $self->stop;
}

1;
