package LiveRecord::Cluster;

# The other nginx nodes of a cluster test (node A is the harness's own
# start_nginx): each in a prefix of its own under the test's, with its own
# ports, started with the harness's LD_PRELOAD (the ASan build), stopped by
# PID at the end.
#
#   my $b = LiveRecord::Cluster->node('b', conf => $text, dirs => [...]);
#   $b->start;                        # 0 when nginx started
#   $b->node_port("RTMP"); $b->node_prefix;  # its %%NODE_PORT_RTMP%%, prefix
#   my @l = $b->log_lines(qr/.../);   # lines of its error log
#   $b->stop;                         # QUIT, then KILL after 20 s
#
# In conf, %%PORT_X%% is the harness's port X (the same for every node:
# the shared S3 proxy, the receiver) and %%NODE_PORT_X%% the node's own.

use strict;
use warnings;

use POSIX ();
use LiveRecord::Test qw(prefix port wait_for);

my $NGINX = $ENV{NGINX} || '/usr/sbin/nginx';
my @NODES;

sub node {
    my ($class, $name, %o) = @_;
    my $np = prefix() . "/$name";
    my $conf = $o{conf};
    $conf =~ s/%%NODE_PORT_(\w+)%%/port("\U$name\E_$1")/ge;
    LiveRecord::Test::_write_conf($np, conf => $conf,
                                  workers => $o{workers} || 1,
                                  dirs => $o{dirs} || [qw(store work)]);
    my $self = bless { name => $name, prefix => $np }, $class;
    push @NODES, $self;
    return $self;
}

sub node_prefix { $_[0]{prefix} }
sub node_port { return port("\U$_[0]{name}\E_$_[1]") }

sub start {
    my ($self) = @_;
    my $np = $self->{prefix};
    local $ENV{LD_PRELOAD} = $ENV{LIVE_RECORD_PRELOAD}
        if $ENV{LIVE_RECORD_PRELOAD};
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$np/logs/stderr.log";
        open STDERR, '>&', \*STDOUT;
        exec($NGINX, '-p', "$np/", '-c', "$np/conf/nginx.conf", '-e',
             "$np/logs/error.log") or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return $? >> 8;
}

sub log_lines {
    my ($self, $re) = @_;
    open my $fh, '<', "$self->{prefix}/logs/error.log" or return ();
    return grep { /$re/ } <$fh>;
}

sub stop {
    my ($self) = @_;
    open my $fh, '<', "$self->{prefix}/logs/nginx.pid" or return;
    my $pid = <$fh> // '';
    chomp $pid;
    return unless $pid =~ /^\d+$/;
    kill 'QUIT', $pid;
    wait_for(sub { !kill 0, $pid }, 20) or kill 'KILL', $pid;
}

END { $_->stop for @NODES }

1;
