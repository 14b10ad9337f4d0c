#!/usr/bin/perl

# make run / make push / make stop, as the README has a newcomer use them,
# in a private RUN_DIR: a busy port stops "make run" before nginx starts,
# with a message naming the port and the variable that changes it;
# RTMP_PORT and HTTP_PORT move the example's listeners (and its URLs);
# "make push" records its generated clip, every frame of it; "make stop"
# stops nginx.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use IO::Socket::INET;
use Test::More tests => 17;
use LiveRecord::Test;

my $top = "$FindBin::Bin/..";
my $run = prefix() . '/run';

sub make {
    my ($args) = @_;
    my $out = `make -C $top --no-print-directory RUN_DIR=$run $args 2>&1`;
    return ($? >> 8, $out);
}

sub listen_on {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => $port // 0, Listen => 1, Proto => 'tcp',
        ReuseAddr => 1) or die "listen: $!";
    return $s;
}

# two free ports, and a third held by someone else
my ($rtmp_s, $http_s, $busy) = (listen_on(), listen_on(), listen_on());
my ($rtmp, $http) = ($rtmp_s->sockport, $http_s->sockport);
my $taken = $busy->sockport;
close $rtmp_s;
close $http_s;

my ($rc, $out) = make("run RTMP_PORT=$rtmp HTTP_PORT=$taken");
isnt($rc, 0, 'make run fails with HTTP_PORT busy');
my $msg = "make run: port $taken on 127.0.0.1 (http) is in use.\n"
          . "Pick another with HTTP_PORT, e.g.: make run HTTP_PORT="
          . ($taken + 1) . "\n";
like($out, qr/^\Q$msg\E/m, 'the message names the port and HTTP_PORT')
    or diag $out;
ok(!-e "$run/logs/nginx.pid" && $out !~ /bind\(\)/,
   'nginx was not started');

($rc, $out) = make("run RTMP_PORT=$taken HTTP_PORT=$http");
isnt($rc, 0, 'make run fails with RTMP_PORT busy');
$msg = "make run: port $taken on 127.0.0.1 (rtmp) is in use.\n"
       . "Pick another with RTMP_PORT, e.g.: make run RTMP_PORT="
       . ($taken + 1) . "\n";
like($out, qr/^\Q$msg\E/m, 'names RTMP_PORT')
    or diag $out;

($rc, $out) = make("push");
isnt($rc, 0, 'make push without make run fails');
like($out,
     qr/make push: nginx is not running in \Q$run\E; start it with make run/,
     'and says so');

($rc, $out) = make("run RTMP_PORT=$rtmp HTTP_PORT=$http");
is($rc, 0, 'make run with free ports') or diag $out;
like($out, qr{http://127\.0\.0\.1:\Q$http\E/console/},
     'prints the console URL');

my $conf = slurp("$run/conf/nginx.conf");
my @listen = $conf =~ /^\s*listen\s+(\S+);/mg;
is_deeply(\@listen, [ "127.0.0.1:$rtmp", "127.0.0.1:$http" ],
          'the example listens on RTMP_PORT and HTTP_PORT');
like($conf, qr{url=http://127\.0\.0\.1:\Q$http\E/recordings/;},
     'playback URLs carry HTTP_PORT');

my $r = HTTP::Tiny->new(timeout => 10)
    ->get("http://127.0.0.1:$http/metrics");
is($r->{status}, 200, 'its /metrics answers on HTTP_PORT');

($rc, $out) = make("push PUSH_SECONDS=3 PUSH_NAME=first");
is($rc, 0, 'make push') or diag $out;
my ($mp4) = $out =~ m{^recorded:\n\s+(/\S+\.mp4)$}m;
ok($mp4
   && $mp4 =~ m{^\Q$run\E/recordings/live/first/\d{8}/first-\d{14}-1\.mp4$}
   && -s $mp4, 'it names the recorded MP4') or diag $out;
is(probe_counts($mp4 // '')->{video}, 75,
   'all 3 s of 25 fps video recorded');

($rc, $out) = make("stop");
my $pid = slurp("$run/logs/nginx.pid");
is($rc, 0, 'make stop');
my @bad = grep { /\[(?:alert|crit|emerg)\]/ }
          split /\n/, slurp("$run/logs/error.log");
ok(!@bad && !-e "$run/logs/nginx.pid", 'stopped, no alerts in the log')
    or diag join "\n", @bad;
