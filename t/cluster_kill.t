#!/usr/bin/perl

# A cluster losing a node and its database (issue 16's "Done means"),
# with a real PostgreSQL 15 and two nginx nodes:
# - the database stopped for 20 s in the middle of a real-time push to A:
#   recording goes on, the file holds the whole push, its record_done is
#   sent meanwhile, its row appears once the database is back, once;
# - node B killed with SIGKILL (master and workers) during a push: its
#   stream leaves A's GET /streams once B's live row is older than 10 s;
#   B restarted recovers the part, announces it once (end_reason
#   recovered) and its row is written once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::Receiver;
use LiveRecord::Cluster;

need_all('postgresql', 'PostgreSQL 15 (/usr/lib/postgresql/15/bin/initdb)')
    unless -x '/usr/lib/postgresql/15/bin/initdb';

plan(tests => 21);

my $TOKEN = 'cluster-kill-' . $$;
my $pg = cluster_init($TOKEN);
$pg->start;

my %o = (extra => 'live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook'
                  . ' key=kk;');

add_node('b', 'rec-b', 'RTMPB', 'HTTPB', %o);
start_nginx(conf => cluster_conf('rec-a', 'RTMP', 'HTTP', %o),
            dirs => [qw(store work index spool)]);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'), key => 'kk');
is(start_node('b'), 0, 'B starts');

my $A = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);
my $BRTMP = node_of('b')->{rtmp};

ok(wait_for(sub { log_lines(qr/\[notice\].*cluster database .* connected/)
                  && node_log('b', qr/\[notice\].*cluster database .* connected/) },
            30), 'both nodes connected');

sub done {
    my ($stream) = @_;
    my %seen;
    return grep { $_->{event_type} eq 'record_done'
                  && $_->{stream_id} eq $stream && !$seen{$_->{event_id}}++ }
           map { $_->{json} || () } $rcv->requests;
}

sub rows {
    my ($stream) = @_;
    return $pg->query("SELECT file_id, node_id FROM live_record_files"
                      . " WHERE stream_id = '$stream' ORDER BY file_id");
}

# 1. the database away for 20 s during a push to A

my $long = make_media(duration => 30);
my $push = push_stream_bg($long, rtmp_url('live', 'outage'), realtime => 1);
sleep 4;
$pg->stop;
my $stopped = time;
ok(wait_for(sub { log_lines(qr/\[error\].*cluster database .* went away/) },
            15), 'A: the database went away, an error line');
sleep(20 - (time - $stopped)) if time - $stopped < 20;
$pg->start;
is(wait_push($push, 60), 0, 'A: the push went on to its end');

my @d;
ok(wait_for(sub { @d = done('outage'); @d == 1 }, 30),
   'A: one record_done for the push');
my $dur = probe_duration($d[0]{path} // '') // 0;
ok(abs($dur - probe_duration($long)) < 0.1,
   "A: the file holds the whole push ($dur s)");
my @r;
ok(wait_for(sub { @r = rows('outage'); @r >= 1 }, 30),
   'A: its row is written once the database is back');
sleep 1;
is_deeply([ map { "@$_" } rows('outage') ], [ "$d[0]{file_id} rec-a" ],
          'A: exactly one row, A\'s');

# 2. node B killed during a push

my $bpush = push_stream_bg($long, "rtmp://127.0.0.1:$BRTMP/live/onb",
                           realtime => 1);
my $j;
ok(wait_for(sub { my $st;
                  ($st, $j) = $A->call(GET => '/api/streams/live/onb');
                  $st == 200 && ($j->{node} // '') eq 'rec-b' }, 20),
   'A sees B\'s stream in GET /streams');

# the part has a few seconds when B dies
sleep 4;
open my $fh, '<', node_of('b')->{prefix} . '/logs/nginx.pid' or die;
my $bmaster = <$fh> // '';
close $fh;
chomp $bmaster;
my @bpids = ($bmaster, LiveRecord::Test::_children($bmaster));
is(kill('KILL', @bpids), scalar @bpids,
   'B\'s master and worker killed with SIGKILL');
my $killed = time;
wait_push($bpush, 60);

ok(wait_for(sub { my ($st) = $A->call(GET => '/api/streams/live/onb');
                  $st == 404 }, 30),
   'B\'s stream leaves A\'s GET /streams');
my $gone = time - $killed;
ok($gone >= 6, sprintf('... once its live row was about 10 s old (%.1f s)',
                       $gone));

is(scalar(done('onb')), 0, 'nothing announced for B\'s part yet');

# 3. B restarted: its part recovered, announced and indexed once

is(start_node('b'), 0, 'B starts again');
my @bd;
ok(wait_for(sub { @bd = done('onb'); @bd >= 1 }, 30),
   'B\'s part is announced after the restart');
is($bd[0]{end_reason} // '', 'recovered', '... as recovered');
ok(probe_ok($bd[0]{path} // ''), '... and plays');
ok(wait_for(sub { rows('onb') >= 1 }, 30), 'its row is written');
sleep 2;
is_deeply([ map { "@$_" } rows('onb') ], [ "$bd[0]{file_id} rec-b" ],
          'one row, B\'s, once');
is(scalar(done('onb')), 1, 'one record_done');

stop_node('b');
no_alerts(allow => [
    qr/\[error\].*cluster database .* went away/,
    qr/\[error\].*cluster row \S+ could not be written/,
]);
