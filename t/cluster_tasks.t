#!/usr/bin/perl

# Record tasks shared by the nodes of a cluster (docs/cluster.md): rows of
# live_record_tasks in a real PostgreSQL 15, mirrored by every node into
# its zone (NOTIFY, a read on every new connection, a read every 10 s).
# Two nodes, two workers each:
# - a task created through A records the stream pushed to B: B's file
#   plays, its record_done and its index row name the task; after its
#   end the task is "ended" on both;
# - a task stopped through B and one deleted through B stop recording
#   their streams on A; stopped shows on both, deleted is gone on both;
# - a row written with no NOTIFY, and one deleted while the database
#   restarts, reach both nodes by the re-reads;
# - the database away: writes answer 503 cluster_unavailable, reads
#   answer from the node's copy and say so, a known task records; one
#   error line per worker, one notice when it is back.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::Receiver;
use LiveRecord::Cluster;

need_all('postgresql', 'PostgreSQL 15 (/usr/lib/postgresql/15/bin/initdb)')
    unless -x '/usr/lib/postgresql/15/bin/initdb';

plan(tests => 61);

my $TOKEN = 'cluster-tasks-' . $$;
my $pg = cluster_init($TOKEN);
$pg->start;

my %o = (workers => 2,
         extra => 'live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook'
                  . ' key=ck;',
         apps => 'application tasks { live on; live_record_tasks on; }');

add_node('b', 'rec-b', 'RTMPB', 'HTTPB', %o);
start_nginx(conf => cluster_conf('rec-a', 'RTMP', 'HTTP', %o),
            dirs => [qw(store work index spool)], workers => 2);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'), key => 'ck');
is(start_node('b'), 0, 'B starts');

my $A = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);
my $B = LiveRecord::API->new(port => node_of('b')->{http}, token => $TOKEN);
my $ARTMP = port('RTMP');
my $BRTMP = node_of('b')->{rtmp};

sub done_events {
    my ($stream) = @_;
    return grep { $_->{event_type} eq 'record_done'
                  && $_->{stream_id} eq $stream }
           map { eval { decode_json($_->{body}) } || {} } $rcv->requests;
}

sub task_on {
    my ($api, $id) = @_;
    my ($st, $j) = $api->call(GET => "/api/tasks/$id");
    return $st == 200 ? $j : undef;
}

sub task_rows {
    return map { join ' ', @$_ }
           $pg->query('SELECT task_id, node_id, app, stream,'
                      . ' coalesce(stopped_time_ms::text, \'-\')'
                      . ' FROM live_record_tasks ORDER BY task_id');
}

# both connected (each node's workers said so) before the API is used
ok(wait_for(sub { log_lines(qr/\[notice\].*cluster database .* connected/) == 2
                  && node_log('b', qr/\[notice\].*cluster database .* connected/) == 2 }, 30),
   'both nodes connected, both workers');

# 1. a task made on A records on B

my $media = make_media(duration => 14);
my $t0 = time;
my ($st, $j) = $A->call(POST => '/api/tasks', {
    app => 'tasks', stream => 'cam', end_time => int($t0) + 9,
    extension => { order => 7 } });
my $t1 = time;
is($st, 201, 'A: task created');
my $task = $j;
my $id = $task->{task_id};
my $seen;
ok(wait_for(sub { $seen = task_on($B, $id) }, 15), 'B has it');
diag(sprintf 'B had the task %.2f s after A answered (polled every 0.1 s)',
     time - $t1);
is_deeply($seen, $task, 'B: the same task, field for field');
is_deeply([ task_rows() ], [ "$id rec-a tasks cam -" ],
          'its row, naming A, not stopped');

my $push = push_stream_bg($media, "rtmp://127.0.0.1:$BRTMP/tasks/cam",
                          realtime => 1);
my $live;
ok(wait_for(sub {
       ($st, $live) = $B->call(GET => '/api/streams/tasks/cam');
       $st == 200 && $live->{recording};
   }, 15), 'B records tasks/cam');
is_deeply([ $live->{node}, $live->{plan}{tasks} ], [ 'rec-b', [ $id ] ],
          '... for the task, its plan says');
# B's live view reaches A with B's next heartbeat (2 s)
ok(wait_for(sub { ($st, $j) = $A->call(GET => '/api/streams/tasks/cam');
                  $st == 200 && $j->{recording} }, 15),
   'A sees it in GET /streams');
is_deeply([ $j->{node}, $j->{plan}{tasks} ], [ 'rec-b', [ $id ] ],
          '... recording on B for the task');

my @done;
ok(wait_for(sub { @done = done_events('cam'); @done == 1 }, 30),
   'record_done when the task ends');
my $e = $done[0] || {};
is_deeply([ @{$e}{qw(task_id end_reason file_format)}, $e->{extension} ],
          [ $id, 'task_end', 'mp4', { order => 7 } ],
          '... task id, task_end, mp4, the extension');
ok(probe_ok($e->{path}), '... B\'s file plays');
like($e->{path}, qr{^\Q${\ node_of('b')->{prefix} }\E/store/}, '... in B\'s store');
my @row;
ok(wait_for(sub {
       @row = $pg->query("SELECT node_id, stream_id, entry FROM"
                         . " live_record_files WHERE file_id = '$e->{file_id}'");
       @row == 1 }, 30), 'its index row');
is_deeply([ $row[0][0], $row[0][1], decode_json($row[0][2])->{task_id} ],
          [ 'rec-b', 'cam', $id ], '... B\'s, naming the task');
my ($bentry) = grep { m{/\Q$e->{file_id}\E\.json$} }
               find_files(node_of('b')->{prefix} . '/index', qr/\.json$/);
my $ej = index_ok($bentry, event => $e, end_reason => 'task_end');
is_deeply(decode_json($row[0][2]), $ej, '... holding B\'s index entry');
is(wait_push($push, 60), 0, 'the push goes on to its end');
is(scalar(done_events('cam')), 1, 'nothing recorded after the task');
is_deeply([ map { task_on($_, $id)->{state} } $A, $B ], [ 'ended', 'ended' ],
          'the task has ended, on A and on B');

# 2. stopped and deleted through B while A records

my @t;
for my $s (qw(stp del)) {
    ($st, $j) = $B->call(POST => '/api/tasks', {
        app => 'tasks', stream => $s, end_time => int(time) + 120 });
    is($st, 201, "B: task for $s");
    push @t, $j->{task_id};
}
ok(wait_for(sub { task_on($A, $t[0]) && task_on($A, $t[1]) }, 15),
   'A has both');
my @pushes = map { push_stream_bg($media, "rtmp://127.0.0.1:$ARTMP/tasks/$_",
                                  realtime => 1) } qw(stp del);
ok(wait_for(sub {
       2 == grep { my ($s, $l) = $A->call(GET => "/api/streams/tasks/$_");
                   $s == 200 && $l->{recording} && $l->{duration} >= 3 }
                 qw(stp del);
   }, 15), 'A records both (3 s each: past live_record_min_duration)');

($st, $j) = $B->call(POST => "/api/tasks/$t[0]/stop");
is_deeply([ $st, $j->{state} ], [ 200, 'stopped' ], 'B: stop');
my $ts = time;
ok(wait_for(sub { task_on($A, $t[0])->{state} eq 'stopped' }, 15),
   'A has it stopped');
diag(sprintf 'A had the stop %.2f s after B answered', time - $ts);
($st, $j) = $B->call(DELETE => "/api/tasks/$t[1]");
is_deeply([ $st, $j ], [ 200, { deleted => $t[1] } ], 'B: delete');

ok(wait_for(sub { done_events('stp') == 1 && done_events('del') == 1 }, 15),
   'A closes both parts');
is_deeply([ map { $_->{end_reason} } done_events('stp'), done_events('del') ],
          [ 'task_end', 'task_end' ], '... as their tasks ended');
($st, $j) = $A->call(GET => '/api/streams/tasks/stp');
is_deeply([ $st, $j->{recording} ? 1 : 0 ], [ 200, 0 ],
          'A: stp live, not recording');
is_deeply([ map { task_on($_, $t[0])->{state} } $A, $B ],
          [ 'stopped', 'stopped' ], 'stopped on A and on B');
is_deeply([ map { scalar(($_->call(GET => "/api/tasks/$t[1]"))[0]) } $A, $B ],
          [ 404, 404 ], 'the deleted one: 404 on A and on B');
($st, $j) = $A->call(DELETE => "/api/tasks/$t[1]");
is($st, 404, 'A: deleting it again: 404');
is(wait_push($_, 60), 0, 'push ends') for @pushes;
is_deeply([ scalar(done_events('stp')), scalar(done_events('del')) ], [ 1, 1 ],
          'nothing more recorded');

# 3. changes no NOTIFY announced: the periodic read

my $now = int(time * 1000);
$pg->query("INSERT INTO live_record_tasks (task_id, node_id, app, stream,"
           . " domain, start_time_ms, end_time_ms, created_time_ms)"
           . " VALUES ('0000000000001-quiet', 'psql', 'tasks', 'q', '',"
           . " $now, $now + 600000, $now)");
ok(wait_for(sub { task_on($A, '0000000000001-quiet')
                  && task_on($B, '0000000000001-quiet') }, 30),
   'a row written without NOTIFY reaches A and B');
is(task_on($A, '0000000000001-quiet')->{state}, 'active', '... active');
$pg->query("INSERT INTO live_record_tasks (task_id, node_id, app, stream,"
           . " domain, start_time_ms, end_time_ms, created_time_ms)"
           . " VALUES ('bad/id', 'psql', 'tasks', 'q', '', $now,"
           . " $now + 600000, $now)");

# 4. the database away

($st, $j) = $A->call(POST => '/api/tasks', {
    app => 'tasks', stream => 'out', end_time => int(time) + 300 });
is($st, 201, 'A: a task for "out"');
my $out = $j->{task_id};
ok(wait_for(sub { task_on($B, $out) }, 15), 'B has it');

$pg->stop;
ok(wait_for(sub { node_log('b', qr/\[error\].*cluster database .* went away/) == 2 }, 30),
   'B: one error line per worker');
($st, $j) = $A->call(POST => '/api/tasks', {
    app => 'tasks', stream => 'x', end_time => int(time) + 60 });
is_deeply([ $st, $j->{code} ], [ 503, 'cluster_unavailable' ],
          'A: create without the database: 503 cluster_unavailable');
like($j->{message}, qr/cannot be created, stopped or deleted until it is back/,
     '... saying what cannot be done');
($st, $j) = $B->call(POST => "/api/tasks/$out/stop");
is($st, 503, 'B: stop: 503');
($st, $j) = $B->call(DELETE => "/api/tasks/$out");
is($st, 503, 'B: delete: 503');
($st, $j) = $B->call(GET => '/api/tasks?stream=out');
is_deeply([ $st, [ map { $_->{task_id} } @{ $j->{tasks} } ],
            @{ $j->{cluster} }{qw(node database)} ],
          [ 200, [ $out ], 'rec-b', 'unreachable' ],
          'B: GET /tasks from its copy, saying the database is unreachable');

is(push_stream(make_media(duration => 4), "rtmp://127.0.0.1:$BRTMP/tasks/out"),
   0, 'B: push "out" meanwhile');
ok(wait_for(sub { done_events('out') == 1 }, 30), 'the known task records');
is((done_events('out'))[0]{task_id}, $out, '... for its task');

# restarted: a row deleted before the nodes are back (no NOTIFY)
$pg->start;
$pg->query("DELETE FROM live_record_tasks WHERE task_id = '0000000000001-quiet'");
ok(wait_for(sub { !task_on($A, '0000000000001-quiet')
                  && !task_on($B, '0000000000001-quiet') }, 30),
   'a row deleted while the nodes reconnected: gone on A and B');
ok(wait_for(sub { node_log('b', qr/\[notice\].*cluster database .* is back/) == 2 }, 30),
   'B: one notice per worker when it is back');
ok(wait_for(sub { ($st, $j) = $B->call(GET => '/api/tasks?stream=out');
                  $j->{cluster}{database} eq 'connected' }, 30),
   'B: GET /tasks says connected again');
ok($j->{cluster}{synced_time} >= int($now / 1000), '... and when it synced');
ok(wait_for(sub { ($st, $j) = $B->call(POST => "/api/tasks/$out/stop");
                  $st == 200 }, 30), 'B: stop works again');
ok(wait_for(sub { my $t = task_on($A, $out); $t && $t->{state} eq 'stopped' }, 15),
   '... and A sees it');
is_deeply([ map { join ' ', @$_ }
            $pg->query('SELECT task_id, node_id, stopped_time_ms IS NOT NULL'
                       . ' FROM live_record_tasks ORDER BY task_id') ],
          [ sort("$id rec-a f", "$t[0] rec-b t", "$out rec-a t",
                 'bad/id psql f') ],
          'the rows: stopped ones stopped, the deleted and the quiet one gone');
is(scalar(node_log('b', qr/\[error\].*1 cluster task row\(s\) with invalid names or times left out/)),
   1, 'B: the bad row is left out, one error line');

$rcv->signatures_ok;

stop_node('b');
is(scalar(node_log('b', qr/\[(alert|crit|emerg)\]|AddressSanitizer|runtime error/)),
   0, 'B: no alerts');
no_alerts(allow => [ qr/\[error\] .*live record: cluster database 127\.0\.0\.1:\d+\/recordings went away: /,
                     qr/\[error\] .*cluster task row\(s\) with invalid names/ ]);
$rcv->stop;
$pg->stop;
