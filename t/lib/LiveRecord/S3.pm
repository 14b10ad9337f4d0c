package LiveRecord::S3;

# The suite's S3 server for a test: s3rver (npm) for storage behind
# t/lib/s3proxy.py, which checks every request as S3 would (SigV4 with
# botocore, dates, payload hashes, multipart rules) and can be told to fail
# or hold requests.  Both listen on 127.0.0.1 and are stopped by pid.
#
#   my $s3 = LiveRecord::S3->start(dir => "$p/s3", log => "$p/proxy.log",
#                                  proxy => port('PROXY'), port => port('S3'),
#                                  bucket => 'vod');
#   $s3->control({ fail => 'PUT .*partNumber=2&', status => 503 });
#   my @log = $s3->log;                # one hash per request
#   my ($head, $body) = $s3->object('rec/live/x.mp4');
#   my @open = $s3->incomplete;        # ListMultipartUploads, via botocore
#   $s3->stop;

use strict;
use warnings;

use FindBin;
use File::Path qw(make_path);
use IO::Socket::INET;
use JSON::PP qw(decode_json encode_json);
use POSIX qw(_exit);
use LiveRecord::Test qw(wait_for);

# distinct on purpose: a client that swapped them would not be signing
our $ACCESS = 'AKIDLIVERECORDTEST';
our $SECRET = 'wJalrXUtnFEMI/live-record/secret';

my $S3RVER = "$FindBin::Bin/../build/tools/node_modules/.bin/s3rver";

sub available { return -x $S3RVER }

sub start {
    my ($class, %o) = @_;
    my $self = bless { %o, pids => [], ctl => "$o{log}.ctl" }, $class;
    make_path($o{dir});
    unlink $self->{ctl};
    push @{$self->{pids}}, _spawn($o{tools}, $S3RVER, '-d', $o{dir},
        '-a', '127.0.0.1', '-p', $o{port}, '--silent',
        '--configure-bucket', $o{bucket});
    push @{$self->{pids}}, _spawn($o{tools}, '/usr/bin/python3',
        "$FindBin::Bin/lib/s3proxy.py", $o{proxy}, $o{port}, $ACCESS,
        $SECRET, $o{log}, $self->{ctl});
    $self->{up} = wait_for(sub {
            IO::Socket::INET->new("127.0.0.1:$o{proxy}") }, 15)
        && wait_for(sub { IO::Socket::INET->new("127.0.0.1:$o{port}") }, 15);
    return $self;
}

sub up { return $_[0]{up} }

sub _spawn {
    my ($out, @cmd) = @_;
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out;
        open STDERR, '>&', \*STDOUT;
        exec @cmd or _exit(127);
    }
    return $pid;
}

sub control {
    my ($self, $ctl) = @_;
    open my $fh, '>', "$self->{ctl}.tmp" or die "$self->{ctl}: $!";
    print $fh encode_json($ctl || {});
    close $fh;
    rename "$self->{ctl}.tmp", $self->{ctl} or die "$self->{ctl}: $!";
}

sub log {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return ();
    return map { decode_json($_) } grep { /\S/ } <$fh>;
}

# (header text, body) of an object read from s3rver directly; () if not 200
sub object {
    my ($self, $key) = @_;
    my $sock = IO::Socket::INET->new("127.0.0.1:$self->{port}") or return;
    print $sock "GET /$self->{bucket}/$key HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    local $/;
    my $resp = <$sock>;
    my ($head, $body) = split /\r\n\r\n/, $resp // '', 2;
    return ($head // '') =~ m{^HTTP/\S+ 200} ? ($head, $body) : ();
}

sub content_type {
    my ($self, $key) = @_;
    my ($head) = $self->object($key);
    return ($head // '') =~ /^Content-Type:\s*([^\r\n]*)/mi ? $1 : undef;
}

# the bucket's incomplete multipart uploads, "KEY ID" each, or undef if
# the listing failed
sub incomplete {
    my ($self) = @_;
    open my $fh, '-|', '/usr/bin/python3', "$FindBin::Bin/lib/s3list.py",
        "http://127.0.0.1:$self->{proxy}", $self->{bucket}, $ACCESS,
        $SECRET or return undef;
    my @lines = map { chomp; $_ } <$fh>;
    close $fh or return undef;
    return \@lines;
}

sub stop {
    my ($self) = @_;
    kill 'KILL', @{$self->{pids}};
    waitpid($_, 0) for @{$self->{pids}};
    $self->{pids} = [];
}

sub DESTROY { kill 'KILL', @{$_[0]{pids} || []} }

1;
