#!/usr/bin/perl

# live_record_cluster against a real PostgreSQL 15 (Debian's, started
# here with initdb and pg_ctl as the postgres user on a free loopback
# port) and two nginx nodes sharing it:
# - configuration errors are [emerg] naming the directive;
# - node A starts with the database down: a clear error line, recording
#   goes on, the row waits in the spool; when the database comes, the
#   schema is made (version 2) and the row written;
# - node B (database up at start) lists A's file in GET /files with the
#   exact fields of A's index entry, and GET /files/ID; its DELETE of A's
#   file in A's local store is 409 naming A; A's DELETE removes the row;
#   B's DELETE of A's file in a shared (http) store deletes it there and
#   removes the row;
# - a stream live on B is in A's GET /streams with "node": "rec-b", and
#   leaves it when B's push ends;
# - sessions across nodes: a push to A then a reconnect to B within the
#   session gap give one session_id with A's part 1 and B's part 2; with
#   live_record_continue, A's waiting part ends at its window's end
#   (unpublish, and a log line) while B records part 2;
# - the database stopped mid-run: one error line, recording goes on, the
#   row is written once it is back (one notice line), exactly once;
# - a database with a newer schema, or a node id in use by a live node,
#   refuse to start with [emerg];
# - GET /files answers 503 while the database is down.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use HTTP::Tiny;
use Test::More;
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::Postgres;
use LiveRecord::Cluster;

my $NGINX = $ENV{NGINX} || '/usr/sbin/nginx';

need_all('postgresql', 'PostgreSQL 15 (/usr/lib/postgresql/15/bin/initdb)')
    unless -x '/usr/lib/postgresql/15/bin/initdb';

plan(tests => 94);

my $TOKEN = 'cluster-token-' . $$;
my $in = make_media(duration => 4);
my $p = prefix();
my $pg = cluster_init($TOKEN);
my $PGPORT = $pg->port;
my $URL = $pg->url;

# 1. configuration

my ($rc, $out) = nginx_test_config(<<"EOF2");
rtmp {
    live_record_cluster "$URL";
    server { listen 127.0.0.1:%%PORT_T1%%; application a { live on; } }
}
EOF2
isnt($rc, 0, 'no node id: refused');
like($out, qr/\[emerg\].*live_record_cluster needs live_record_node_id/,
     'no node id: the message says so');

($rc, $out) = nginx_test_config(<<"EOF2");
rtmp {
    live_record_node_id x;
    live_record_cluster "mysql://db/x";
    server { listen 127.0.0.1:%%PORT_T1%%; application a { live on; } }
}
EOF2
like($out, qr/\[emerg\].*live_record_cluster: "mysql:\/\/db\/x" is not a postgresql:\/\/ URL/,
     'a URL of another scheme: [emerg]');

($rc, $out) = nginx_test_config(<<"EOF2");
rtmp {
    live_record_node_id x;
    live_record_cluster "$URL" connections=0;
    server { listen 127.0.0.1:%%PORT_T1%%; application a { live on; } }
}
EOF2
like($out, qr/\[emerg\].*live_record_cluster: "connections=0": connections must be 1 to 16/,
     'connections=0: [emerg]');

($rc, $out) = nginx_test_config(<<"EOF2");
rtmp {
    live_record_node_id x;
    live_record_cluster "postgresql://u\@db.invalid./x";
    server { listen 127.0.0.1:%%PORT_T1%%; application a { live on; } }
}
EOF2
like($out, qr/\[emerg\].*live_record_cluster: host "db\.invalid\." not found/,
     'a host that does not resolve: [emerg] at configuration time');

# the other nodes' prefixes and ports, allocated before A holds its own

for my $n (['b', 'rec-b', 'RTMPB', 'HTTPB'], ['c', 'rec-c', 'RTMPC', 'HTTPC'],
           ['d', 'rec-a', 'RTMPD', 'HTTPD'])
{
    add_node(@$n);
}

# the shared http store: a WebDAV nginx taking PUT and DELETE

make_path("$p/dav/files", "$p/dav/logs", "$p/shared");
chmod 0777, "$p/dav/files", "$p/shared";
my $dav = port('DAV');
open my $dfh, '>', "$p/dav/nginx.conf" or die;
print $dfh <<"EOF2";
worker_processes 1;
pid $p/dav/nginx.pid;
error_log $p/dav/logs/error.log info;
events {}
http {
    access_log off;
    client_body_temp_path $p/dav/body;
    server {
        listen 127.0.0.1:$dav;
        client_max_body_size 0;
        location /ingest/ {
            alias $p/dav/files/;
            dav_methods PUT DELETE;
            create_full_put_path on;
        }
    }
}
EOF2
close $dfh;

END {
    if (open my $fh, '<', "$p/dav/nginx.pid") {
        my $pid = <$fh>;
        kill 'QUIT', $pid if $pid;
    }
}

# 2. node A, the database down

start_nginx(conf => cluster_conf('rec-a', 'RTMP', 'HTTP'),
            dirs => [qw(store work index spool)], workers => 2);
my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);
system($NGINX, '-p', "$p/dav/", '-c', "$p/dav/nginx.conf",
       '-e', "$p/dav/logs/error.log") == 0 or die "dav nginx failed\n";

ok(wait_for(sub { log_lines(qr/cluster database 127\.0\.0\.1:$PGPORT\/recordings is unreachable: /) >= 1 }, 20),
   'A: the workers say the database is unreachable');
is(scalar(log_lines(qr/\[error\].*cluster database 127\.0\.0\.1:$PGPORT\/recordings is unreachable at start: .*recording goes on/)),
   1, 'A: the master said so once at start, recording goes on');

my ($st, $j) = $api->call(GET => '/api/files');
is($st, 503, 'GET /files without the database: 503');
is($j && $j->{code}, 'cluster_unavailable', '... cluster_unavailable');

is(push_stream($in, rtmp_url('live', 'cam')), 0, 'A: push cam');
my @ia;
ok(wait_for(sub { @ia = find_files("$p/index", qr/\.json$/); @ia == 1 }, 30),
   'A: recorded and indexed locally');
ok(wait_for(sub { find_files("$p/spool/cluster", qr/\.json$/) == 1 }, 10),
   'A: the row waits in the spool');

# 3. the database comes

$pg->start;
# each worker says so: until then a worker that knows the database is
# away answers 503 at once
ok(wait_for(sub { log_lines(qr/\[notice\].*cluster database 127\.0\.0\.1:$PGPORT\/recordings connected/) == 2 }, 30),
   'A: connected notice, from both workers');

sub spooled_metric {
    my $r = HTTP::Tiny->new(timeout => 10)->get('http://127.0.0.1:'
                                                 . port('HTTP') . '/metrics');
    return $r->{content} =~ /^live_record_spool_files\{dir="cluster"\} (\d+)$/m
           ? $1 : undef;
}

sub rows {
    return eval { $pg->query('SELECT file_id, node_id, app, stream_id, '
                             . 'file_format, store_type, entry FROM '
                             . 'live_record_files ORDER BY file_id') };
}

my @rows;
ok(wait_for(sub { @rows = rows(); @rows == 1 }, 30), 'A: the row is written');
is(($pg->query('SELECT version FROM live_record_schema'))[0][0], 2,
   'schema version 2');
ok(wait_for(sub { !find_files("$p/spool/cluster", qr/\.json$/) }, 10),
   'A: the spool file is gone once written');

(my $aid = $ia[0]) =~ s{.*/|\.json$}{}g;
my $aentry = do { local $/; open my $fh, '<', $ia[0] or die; decode_json(<$fh>) };
is_deeply([ @{ $rows[0] }[0 .. 5] ], [ $aid, 'rec-a', 'live', 'cam', 'mp4', 'local' ],
          'the row: file id, node, app, stream, format, store type');
is_deeply(decode_json($rows[0][6]), $aentry, 'the row holds the index entry');

# 4. node B lists A's file

is(start_node('b'), 0, 'B starts with the database up');
my $bapi = LiveRecord::API->new(port => node_of('b')->{http}, token => $TOKEN);

($st, $j) = $bapi->call(GET => '/api/files');
is($st, 200, 'B: GET /files');
is_deeply($j, { files => [ $aentry ], next_cursor => undef },
          'B lists A\'s file with the exact fields of A\'s entry');

($st, $j) = $api->call(GET => '/api/files?stream=cam&format=mp4');
is_deeply([ $st, $j->{files} ], [ 200, [ $aentry ] ],
          'A lists it too, from the rows');

($st, $j) = $bapi->call(GET => "/api/files/$aid");
is_deeply([ $st, $j ], [ 200, $aentry ], 'B: GET /files/ID');

($st, $j) = $bapi->call(GET => '/api/files?stream=other');
is_deeply([ $st, $j->{files} ], [ 200, [] ], 'B: another stream: none');

($st, $j) = $bapi->call(DELETE => "/api/files/$aid");
is($st, 409, 'B: DELETE of a file in A\'s local store: 409');
like($j && $j->{message}, qr/recorded by the node "rec-a" into its local store/,
     '... naming the node');
ok(-f $ia[0], 'A\'s entry is still there');

# the live view: B's stream on A

my $long = make_media(duration => 8);
my $far = push_stream_bg($long, 'rtmp://127.0.0.1:' . node_of('b')->{rtmp}
                                . '/live/far', realtime => 1);
my $seen;
ok(wait_for(sub {
       ($st, $j) = $api->call(GET => '/api/streams');
       ($seen) = grep { $_->{stream} eq 'far' } @{ $j->{streams} || [] };
       $seen && $seen->{recording};
   }, 20), 'A: GET /streams lists the stream live on B');
is_deeply([ @{ $seen }{qw(node app stream part)} ], [ 'rec-b', 'live', 'far', 1 ],
          '... with its node, app, stream and part');
($st, $j) = $api->call(GET => '/api/streams/live/far');
is_deeply([ $st, $j->{node}, $j->{session_id} ], [ 200, 'rec-b', $seen->{session_id} ],
          'A: GET /streams/live/far is B\'s');
($st, $j) = $bapi->call(GET => '/api/streams/live/far');
is_deeply([ $st, $j->{node} ], [ 200, 'rec-b' ], 'B: its own, with its node');
($st, $j) = $api->call(GET => '/api/streams/live/nothere');
is($st, 404, 'A: a stream live nowhere: 404');
is(wait_push($far, 60), 0, 'the push to B ends');
ok(wait_for(sub {
       ($st, $j) = $api->call(GET => '/api/streams');
       $st == 200 && !grep { $_->{stream} eq 'far' } @{ $j->{streams} };
   }, 20), 'A: and it leaves A\'s /streams');

is(push_stream($in, rtmp_url('shared', 'up')), 0, 'A: push to the shared store');
my $srow;
ok(wait_for(sub { ($srow) = grep { $_->[2] eq 'shared' && $_->[3] eq 'up' } rows(); $srow }, 30),
   'A: its row, once uploaded');
is_deeply([ @{ $srow }[1, 4, 5] ], [ 'rec-a', 'mp4', 'http' ],
          '... node, format, store type http');
my $sentry = decode_json($srow->[6]);
my @dav = find_files("$p/dav/files", qr/\.mp4$/);
is(scalar @dav, 1, 'the file is in the shared store');
($st, $j) = $bapi->call(DELETE => "/api/files/$srow->[0]");
is_deeply([ $st, $j ], [ 200, { deleted => $srow->[0] } ],
          'B: DELETE of A\'s file in the shared store');
ok(!-e $dav[0], 'B deleted it at the store');
ok(!grep({ $_->[3] eq 'up' } rows()), 'and its row');
($st, $j) = $api->call(GET => "/api/files/$srow->[0]");
is($st, 404, 'A: GET /files/ID is 404 now');

# sessions across nodes: a reconnect to B within the gap (60 s) joins the
# session A started and goes on with its part numbers

sub roam_rows {
    return grep { $_->[2] eq 'shared' && $_->[3] eq 'roam' } rows();
}

is(push_stream($in, rtmp_url('shared', 'roam')), 0, 'A: push roam');
my @roam;
ok(wait_for(sub { @roam = roam_rows(); @roam == 1 }, 30), 'A: its row');
# live, as publishers push: an unpaced 4 s push can end before the answer
is(push_stream($in, 'rtmp://127.0.0.1:' . node_of('b')->{rtmp} . '/shared/roam',
               realtime => 1), 0, 'B: the reconnect, within the session gap');
ok(wait_for(sub { @roam = roam_rows(); @roam == 2 }, 30), 'B: its row');
my @re = sort { $a->[1]{part} <=> $b->[1]{part} }
         map { [ $_->[1], decode_json($_->[6]), $_->[0] ] } @roam;
is_deeply([ map { "$_->[0] part $_->[1]{part}" } @re ],
          [ 'rec-a part 1', 'rec-b part 2' ], 'A\'s part 1, B\'s part 2');
is($re[1][1]{session_id}, $re[0][1]{session_id}, 'one session_id');
is(scalar(node_log('b', qr/"shared\/roam" joins session \Q$re[0][1]{session_id}\E of node "rec-a" at part 2 \(an hls recording does not continue across nodes\)/)),
   1, 'B says so, and that hls does not continue');
for my $e (@re) {
    ($st, $j) = $bapi->call(DELETE => "/api/files/$e->[2]");
    is($st, 200, "B: DELETE of $e->[0]'s part $e->[1]{part}");
}
ok(!roam_rows(), 'their rows are gone');

# a hostile session row: refused with a line, the stream records in a
# session of its own

$pg->query("INSERT INTO live_record_sessions VALUES ('shared/bad', '../x',"
           . " 'rec-a', 7, 1, now() + interval '1 minute')");
is(push_stream($in, 'rtmp://127.0.0.1:' . node_of('b')->{rtmp} . '/shared/bad',
               realtime => 1), 0, 'B: push shared/bad, its row hostile');
my @bad;
ok(wait_for(sub { @bad = grep { $_->[2] eq 'shared' && $_->[3] eq 'bad' } rows(); @bad == 1 }, 30),
   'B: recorded');
my $be = @bad ? decode_json($bad[0][6]) : {};
ok($be->{part} == 1 && $be->{session_id} ne '../x',
   '... as part 1 of a session of its own')
    or diag explain $be;
is(scalar(node_log('b', qr/\[warn\].*"shared\/bad": the cluster database did not say which session the stream is in \(the session row is invalid\)/)),
   1, 'B: a warn line says the row is invalid');
($st, $j) = $bapi->call(DELETE => "/api/files/$bad[0][0]") if @bad;
is($st, 200, 'B: DELETE of it');

# a part waiting for its publisher (live_record_continue 3s) on A while
# the publisher reconnects to B: A's part ends at the window's end, B
# records part 2 of the session

sub cont_rows {
    return grep { $_->[2] eq 'cont' && $_->[3] eq 'w' } rows();
}

is(push_stream($in, rtmp_url('cont', 'w')), 0, 'A: push cont/w');
ok(wait_for(sub { log_lines(qr{"cont/w" part "[^"]+" waits 3000 ms}) == 1 }, 10),
   'A: its part waits for the publisher');
ok(wait_for(sub {
       my @r = eval { $pg->query("SELECT parts FROM live_record_sessions WHERE stream_key = 'cont/w'") };
       @r && $r[0][0] == 1;
   }, 10), 'A: the session row says part 1');
is(push_stream($in, 'rtmp://127.0.0.1:' . node_of('b')->{rtmp} . '/cont/w',
               realtime => 1), 0, 'B: the reconnect, within the window');
my @cw;
ok(wait_for(sub { @cw = cont_rows(); @cw == 2 }, 30),
   'both parts indexed once A\'s window ended');
my @ce = sort { $a->[1]{part} <=> $b->[1]{part} }
         map { [ $_->[1], decode_json($_->[6]), $_->[0] ] } @cw;
is_deeply([ map { "$_->[0] part $_->[1]{part} $_->[1]{end_reason}" } @ce ],
          [ 'rec-a part 1 unpublish', 'rec-b part 2 unpublish' ],
          'A\'s part 1 ended (unpublish), B\'s part 2');
is($ce[1][1]{session_id}, $ce[0][1]{session_id}, '... one session_id');
is(scalar(log_lines(qr{"cont/w" part "[^"]+" ends: no publisher within live_record_continue on this worker})),
   1, 'A: the part ends at its window\'s end, and says so');
for my $e (@ce) {
    ($st, $j) = $bapi->call(DELETE => "/api/files/$e->[2]");
    is($st, 200, "B: DELETE of $e->[0]'s cont part $e->[1]{part}");
}

# 5. the database away mid-run

$pg->stop;
ok(wait_for(sub { log_lines(qr/\[error\].*cluster database 127\.0\.0\.1:$PGPORT\/recordings went away: /) >= 1 }, 30),
   'A: the database went away, one error line');

is(push_stream($in, rtmp_url('live', 'cam2')), 0, 'A: push cam2 meanwhile');
ok(wait_for(sub { find_files("$p/index/live", qr/\.json$/) == 2 }, 30),
   'A: recorded and indexed locally');
ok(wait_for(sub { find_files("$p/spool/cluster", qr/\.json$/) == 1 }, 10),
   'A: its row waits in the spool');
is(spooled_metric(), 1, 'A: live_record_spool_files{dir="cluster"} 1');

# the worker holding it killed: the new worker takes the row over

my ($held) = find_files("$p/spool/cluster", qr/\.json$/);
my ($owner) = $held =~ m{/(\d+)\.[^/]+$};
ok(kill('KILL', $owner), "A: the worker holding the row ($owner) killed");
my $taken;
ok(wait_for(sub {
       ($taken) = find_files("$p/spool/cluster", qr/\.json$/);
       $taken && $taken !~ m{/$owner\.};
   }, 30), 'A: a new worker took the row over');

($st, $j) = $bapi->call(GET => "/api/files/$aid");
is($st, 503, 'B: GET /files/ID without the database: 503');

$pg->start;
ok(wait_for(sub { @rows = rows(); grep { $_->[3] eq 'cam2' } @rows }, 30),
   'A: the row is written once the database is back');
ok(wait_for(sub { !find_files("$p/spool/cluster", qr/\.json$/) }, 10),
   'A: the spool is empty');
is(spooled_metric(), 0, 'A: live_record_spool_files{dir="cluster"} 0');
ok(wait_for(sub { log_lines(qr/\[notice\].*cluster database 127\.0\.0\.1:$PGPORT\/recordings (is back|connected)/) == 4 }, 30),
   'A: a notice when it is back, from both workers (connected for the new one)');
ok(wait_for(sub { node_log('b', qr/\[notice\].*cluster database .* is back/) == 1 }, 30),
   'B: back too');
is(scalar(log_lines(qr/\[error\].*cluster database .* went away/)), 2,
   'A: one error line per worker for the outage (two links each)');
is_deeply([ map { "$_->[1] $_->[3]" } @rows ],
          [ 'rec-a cam', 'rec-b far', 'rec-a cam2' ],
          'one row per file, B\'s too, by start time');

($st, $j) = $bapi->call(GET => '/api/files?limit=1');
is($st, 200, 'B: a page of one');
is_deeply([ map { $_->{stream_id} } @{ $j->{files} } ], [ 'cam2' ],
          '... the newest first');
my @pages;
while (my $next = $j->{next_cursor}) {
    ($st, $j) = $bapi->call(GET => "/api/files?limit=1&cursor=$next");
    push @pages, [ $st, map { $_->{stream_id} } @{ $j->{files} } ];
    last if @pages > 5;
}
is_deeply(\@pages, [ [ 200, 'far' ], [ 200, 'cam' ] ],
          '... then the older ones, and no cursor after the last');

# 6. A deletes its own file: the row goes

($st, $j) = $api->call(DELETE => "/api/files/$aid");
is_deeply([ $st, $j ], [ 200, { deleted => $aid } ], 'A: DELETE its file');
@rows = rows();
is_deeply([ map { $_->[3] } @rows ], [ 'far', 'cam2' ], 'its row is gone');
ok(!-f $ia[0], 'and its local entry');

# 7. a newer schema, a node id in use

is(start_node('d'), 1, 'a node with A\'s id: refused');
ok(node_log('d', qr/\[emerg\].*live_record_node_id "rec-a" is in use by ".*\/conf\/nginx\.conf" \(heartbeat \d+ s ago\): node ids must be unique/),
   '... [emerg] naming the id');

$pg->query('UPDATE live_record_schema SET version = 3');
is(start_node('c'), 1, 'a database with a newer schema: refused');
ok(node_log('c', qr/\[emerg\].*has schema version 3, this module knows version 2/),
   '... [emerg] naming both versions');
$pg->query('UPDATE live_record_schema SET version = 2');

stop_node('b');
is(scalar(node_log('b', qr/\[(alert|crit|emerg)\]|AddressSanitizer|runtime error/)),
   0, 'B: no alerts');
# the database not there yet at the start, and its outage mid-run
# and the worker killed with SIGKILL
no_alerts(allow => [ qr/worker process $owner exited on signal 9/, qr/\[error\] .*live record: cluster database 127\.0\.0\.1:\d+\/recordings (?:is unreachable(?: at start)?: connection to server at "127\.0\.0\.1", port \d+ failed: Connection refused|went away: server closed the connection unexpectedly)/ ]);
$pg->stop;
