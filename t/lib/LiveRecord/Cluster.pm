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
#
# And the PostgreSQL and configuration of t/cluster.t and
# t/cluster_tasks.t, with the nodes by name:
#
#   cluster_init($token);                  # after prefix(): PG in P/pg,
#                                          # initialized, not started
#   start_nginx(conf => cluster_conf('rec-a', 'RTMP', 'HTTP'), ...);
#   add_node('b', 'rec-b', 'RTMPB', 'HTTPB', apps => '...');
#   start_node('b');  node_of('b')->{http};  node_log('b', qr/.../);
#   stop_node('b');
#
# cluster_conf's %o: extra (rtmp-level directives), apps (more rtmp
# applications); add_node's also workers.  Every node has the
# applications "live" (template t, mp4), "shared" (an http store at the
# DAV port, path P/shared) and "cont" (the same store, template c:
# live_record_continue 3s).

use strict;
use warnings;

use Exporter qw(import);
use POSIX ();
use LiveRecord::Test qw(prefix port wait_for);
use LiveRecord::Postgres;

our @EXPORT = qw(cluster_init cluster_pg cluster_conf add_node node_of
                 start_node stop_node node_log);

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


my ($PG, $P, %BYNAME);

sub cluster_init {
    my ($token) = @_;
    $P = prefix();
    $PG = LiveRecord::Postgres->new(dir => "$P/pg");
    $PG->init;
    open my $fh, '>', "$P/token" or die "token: $!";
    print $fh "$token\n";
    close $fh;
    return $PG;
}

sub cluster_pg { $PG }

sub cluster_conf {
    my ($id, $rtmp, $http, %o) = @_;
    my $url = $PG->url;
    my $pw = $PG->password_file;
    my $extra = $o{extra} // '';
    my $apps = $o{apps} // '';
    return <<"EOF";
rtmp {
    live_record_template t { live_record_formats mp4; }
    live_record_template c {
        live_record_formats mp4;
        live_record_continue 3s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_node_id $id;
    live_record_cluster "$url" password_file=$pw connections=2;
    $extra

    server {
        listen 127.0.0.1:%%PORT_$rtmp%%;
        application live { live on; live_record t; }
        application shared {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_DAV%%/ingest/ path=$P/shared;
        }
        application cont {
            live on;
            live_record c;
            live_record_store http http://127.0.0.1:%%PORT_DAV%%/ingest/ path=$P/shared;
        }
        $apps
    }
}

http {
    access_log off;
    server {
        listen 127.0.0.1:%%PORT_$http%%;
        location /api/ {
            live_record_api;
            live_record_api_token_file $P/token;
        }
        location /metrics {
            live_record_metrics;
        }
    }
}
EOF
}

# a node's prefix P/NAME with its configuration; its ports are held now
sub add_node {
    my ($name, $id, $rtmp, $http, %o) = @_;
    my $n = LiveRecord::Cluster->node($name,
                                      conf => cluster_conf($id, $rtmp, $http,
                                                           %o),
                                      dirs => [qw(store work index spool)],
                                      workers => $o{workers});
    $BYNAME{$name} = { node => $n, prefix => $n->node_prefix, id => $id,
                       rtmp => port($rtmp), http => port($http) };
    return $BYNAME{$name};
}

sub node_of { $BYNAME{ $_[0] } }

# nginx's exit code: 0 once the master runs
sub start_node { $BYNAME{ $_[0] }{node}->start }
sub node_log { $BYNAME{ $_[0] }{node}->log_lines($_[1]) }
sub stop_node { $BYNAME{ $_[0] }{node}->stop }

1;
