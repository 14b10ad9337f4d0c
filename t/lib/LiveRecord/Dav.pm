package LiveRecord::Dav;

# The http store's far end: a second, real nginx with WebDAV, under
# prefix()/dav, listening on port('DAV').  Files land in dav/files/,
# requests in dav/logs/access.log.
#
#   start_dav(methods => { '/ingest/' => 'PUT DELETE', ... })
#       each location an alias of dav/files/ taking those dav_methods
#       (default: /ingest/ with PUT and DELETE), creating directories;
#       dies if nginx does not start
#   stop_dav()  QUIT, and waits until it is gone; also done at exit

use strict;
use warnings;

use Exporter qw(import);
use File::Path qw(make_path);
use LiveRecord::Test qw(prefix port wait_for);

our @EXPORT = qw(start_dav stop_dav);

my $NGINX = $ENV{NGINX} || '/usr/sbin/nginx';
my $DIR;

sub start_dav {
    my (%o) = @_;
    my $d = $DIR = prefix() . '/dav';
    my $port = port('DAV');
    my %methods = %{ $o{methods} || { '/ingest/' => 'PUT DELETE' } };

    make_path("$d/files", "$d/logs");
    chmod 0777, "$d/files";

    my $locations = join '', map { <<"EOF" } sort keys %methods;
        location $_ {
            alias $d/files/;
            dav_methods $methods{$_};
            create_full_put_path on;
            dav_access user:rw group:r all:r;
        }
EOF

    open my $fh, '>', "$d/nginx.conf" or die "$d/nginx.conf: $!";
    print $fh <<"EOF";
worker_processes 1;
pid $d/nginx.pid;
error_log $d/logs/error.log info;
events {}
http {
    access_log $d/logs/access.log;
    client_body_temp_path $d/body;
    server {
        listen 127.0.0.1:$port;
        client_max_body_size 0;
$locations    }
}
EOF
    close $fh;

    system($NGINX, '-p', "$d/", '-c', "$d/nginx.conf",
           '-e', "$d/logs/error.log") == 0 or die "dav nginx failed\n";
    wait_for(sub { -s "$d/nginx.pid" }, 5);
}

sub stop_dav {
    my $pid = _pid() or return;
    kill 'QUIT', $pid;
    wait_for(sub { !kill 0, $pid }, 10);
}

sub _pid {
    return undef unless defined $DIR;
    open my $fh, '<', "$DIR/nginx.pid" or return undef;
    my $pid = <$fh> // '';
    return $pid =~ /^(\d+)/ ? $1 : undef;
}

END {
    my $status = $?;
    if (my $pid = _pid()) {
        kill 'QUIT', $pid;
    }
    $? = $status;
}

1;
