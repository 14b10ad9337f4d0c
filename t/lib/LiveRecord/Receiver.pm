package LiveRecord::Receiver;

# A real HTTP server for notify callbacks and stores, in a child process on
# 127.0.0.1 (core Perl only).  Every request is appended as one JSON line
# to a log file; the answers follow a list of statuses (the last repeats).
#
#   my $r = LiveRecord::Receiver->start(port => port('NOTIFY'),
#                                       statuses => [500, 500, 200]);
#   # or fail_first => 2: each event id's first two attempts get 500
#   my @reqs = $r->requests;           # [{ method, path, headers, body, t }]
#   $r->stop;                          # by pid
#
# headers are lower-cased names; t is the arrival time (Time::HiRes); a
# body over 64 KiB is kept only as its size and sha256.

use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);

sub start {
    my ($class, %o) = @_;
    my $log = $o{log} || "/tmp/live-record-receiver.$$.$o{port}.log";
    unlink $log;
    my $self = bless { port => $o{port}, log => $log,
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
    return @r;
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
    $self->stop;
}

1;
