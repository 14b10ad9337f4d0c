package LiveRecord::Postgres;

# A private PostgreSQL (Debian's postgresql-15) for a test, core Perl only:
#
#   my $pg = LiveRecord::Postgres->new(dir => "$prefix/pg");
#   $pg->init;                     # initdb, DIR/password; not started
#   $pg->start;                    # (init if need be); waits until up
#   my @rows = $pg->query('SELECT ...');      # psql, rows of [columns]
#   $pg->stop;                     # SIGINT (fast shutdown) to its PID
#
# initdb and the server run as the unprivileged "postgres" user (runuser
# when the test runs as root) in DIR, owned by that user; the server
# listens on 127.0.0.1 only, on a free port, and on a socket in DIR.  The
# superuser "rec" has a password (scram-sha-256 over TCP), in
# DIR/password; the database "recordings" is made at the first start.

use strict;
use warnings;

use File::Path qw(make_path);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $BIN = '/usr/lib/postgresql/15/bin';

sub new {
    my ($class, %o) = @_;
    my $self = bless { dir => $o{dir}, user => 'rec',
                       password => "pw-$$-" . int(rand(1e9)),
                       db => 'recordings' }, $class;
    $self->{port} = $o{port} || _free_port();
    return $self;
}

sub port     { $_[0]{port} }
sub user     { $_[0]{user} }
sub db       { $_[0]{db} }
sub password { $_[0]{password} }
sub pid      { $_[0]{pid} }

sub url {
    my ($self) = @_;
    return "postgresql://$self->{user}\@127.0.0.1:$self->{port}/$self->{db}";
}

sub password_file { "$_[0]{dir}/password" }

sub _free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1,
                                  ReuseAddr => 1)
        or die "cannot bind a free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# a command as the postgres user, its output to DIR/LOG; the exit code
sub _as_postgres {
    my ($self, $log, @cmd) = @_;
    my @as = $> == 0 ? ('/usr/sbin/runuser', '-u', 'postgres', '--') : ();
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$self->{dir}/$log" or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec @as, @cmd or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    return $? >> 8;
}

sub init {
    my ($self) = @_;
    my $dir = $self->{dir};
    make_path($dir);
    chmod 0755, $dir;
    my (undef, undef, $uid, $gid) = getpwnam('postgres');
    die "no postgres user: run make deps\n" unless defined $uid;
    chown $uid, $gid, $dir if $> == 0;
    open my $fh, '>', "$dir/password" or die "password: $!";
    print $fh "$self->{password}\n";
    close $fh;
    chmod 0644, "$dir/password";
    my $rc = $self->_as_postgres('initdb.log', "$BIN/initdb",
        '-D', "$dir/data", '-U', $self->{user}, "--pwfile=$dir/password",
        '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8',
        '--locale=C.UTF-8', '--no-sync');
    die "initdb failed ($rc), see $dir/initdb.log\n" if $rc != 0;
    $self->{fresh} = 1;
}

sub start {
    my ($self) = @_;
    $self->init unless -f "$self->{dir}/data/PG_VERSION";
    my $rc = $self->_as_postgres('pg_ctl.log', "$BIN/pg_ctl", '-D',
        "$self->{dir}/data", '-l', "$self->{dir}/server.log", '-w',
        '-t', '60', '-o', "-p $self->{port} -k $self->{dir} "
        . "-c listen_addresses=127.0.0.1 -c fsync=off", 'start');
    die "pg_ctl start failed ($rc), see $self->{dir}\n" if $rc != 0;
    open my $fh, '<', "$self->{dir}/data/postmaster.pid"
        or die "postmaster.pid: $!";
    my $pid = <$fh>;
    close $fh;
    chomp $pid;
    $self->{pid} = $pid;
    if (delete $self->{fresh}) {
        $self->query("CREATE DATABASE $self->{db}", 'postgres');
    }
    return $pid;
}

# fast shutdown: clients are disconnected, as when a server goes away
sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'INT', $pid;
    my $t = time + 30;
    while (kill(0, $pid) && time < $t) {
        sleep 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
}

# rows of columns; dies on an error
sub query {
    my ($self, $sql, $db) = @_;
    local $ENV{PGPASSWORD} = $self->{password};
    my $out = "$self->{dir}/psql.out";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec "$BIN/psql", '-X', '-q', '-A', '-t', '-F', "\t",
            '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', $self->{port},
            '-U', $self->{user}, '-d', $db || $self->{db}, '-c', $sql
            or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    my $rc = $? >> 8;
    open my $fh, '<', $out or die "$out: $!";
    my @lines = <$fh>;
    close $fh;
    die "psql failed ($rc): @lines" if $rc != 0;
    chomp @lines;
    return map { [ split /\t/, $_, -1 ] } @lines;
}

sub DESTROY {
    my ($self) = @_;
    $self->stop if $self->{pid};
}

1;
