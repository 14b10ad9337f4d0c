#!/usr/bin/perl

# /concat and live_record_keep in a cluster: two nodes (rec-a, rec-b)
# sharing a private PostgreSQL 15 and the suite's strict S3 server.
# - B joins a part recorded on A and one recorded on B (an s3 store, no
#   local copies: B fetches both from the store): the result holds every
#   frame of both, read back from S3 with ffprobe;
# - B refuses, 409 naming A, to join parts in A's local store;
# - a file A recorded expires with both nodes running: one node claims
#   its row and deletes it; one record_deleted (reason expired), the row
#   and the object gone; a file expiring later proves that no second
#   delete followed;
# - the database away: POST /concat is 503 cluster_unavailable, a file
#   that comes due stays (no error line but the client's one per worker)
#   and is deleted once when the database is back.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes ();
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::Cluster;
use LiveRecord::Postgres;
use LiveRecord::Receiver;
use LiveRecord::S3;

need_all('postgresql', 'PostgreSQL 15 (/usr/lib/postgresql/15/bin/initdb)')
    unless -x '/usr/lib/postgresql/15/bin/initdb';
need_all('s3rver', 's3rver or its proxy not installed')
    unless LiveRecord::S3::available();

plan(tests => 47);

my $KEY = 'cluster-notify-key';
my $TOKEN = 'cluster-token-' . $$;
my $in = make_media(duration => 4);
my $p = prefix();

my $pg = LiveRecord::Postgres->new(dir => "$p/pg");
$pg->start;
my ($URL, $PW) = ($pg->url, $pg->password_file);

for (['token', $TOKEN], ['secret', $LiveRecord::S3::SECRET]) {
    open my $fh, '>', "$p/$_->[0]" or die "$_->[0]: $!";
    print $fh "$_->[1]\n";
    close $fh;
}


# one configuration, the node id apart: the stores are configured alike
my $S3STORE = 'live_record_store s3 http://127.0.0.1:%%PORT_PROXY%%/vod/rec'
    . " region=us-east-1 access_key=$LiveRecord::S3::ACCESS"
    . " secret_key_file=$p/secret path=$p/shared";

sub conf {
    my ($id) = @_;
    return <<"EOF2";
rtmp {
    live_record_template t { live_record_formats mp4; }
    live_record_template old { live_record_formats mp4; live_record_keep 5s; }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_node_id $id;
    live_record_cluster "$URL" password_file=$PW connections=2;

    server {
        listen 127.0.0.1:%%NODE_PORT_RTMP%%;
        live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=$KEY;
        application live { live on; live_record t; }
        application vod { live on; live_record t; $S3STORE; }
        application old { live on; live_record old; $S3STORE; }
    }
}

http {
    access_log off;
    server {
        listen 127.0.0.1:%%NODE_PORT_HTTP%%;
        location /api/ {
            live_record_api;
            live_record_api_token_file $p/token;
        }
        location /metrics {
            live_record_metrics;
        }
    }
}
EOF2
}

my %n;
for my $name (qw(a b)) {
    $n{$name} = LiveRecord::Cluster->node($name, conf => conf("rec-$name"),
        workers => 2, dirs => [qw(store work index spool)]);
}
mkdir "$p/shared";
chmod 0777, "$p/shared";

# every port is taken: let them go to the servers
port($_) for qw(PROXY S3 NOTIFY);
LiveRecord::Test::release_ports();
my $s3 = LiveRecord::S3->start(dir => "$p/s3", log => "$p/proxy.log",
                               tools => "$p/s3.out", proxy => port('PROXY'),
                               port => port('S3'), bucket => 'vod');
ok($s3->up, 's3rver and the strict proxy are up');
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'), key => $KEY);
is($n{$_}->start, 0, "node $_ starts") for qw(a b);
my %api = map { ($_ => LiveRecord::API->new(port => $n{$_}->node_port('HTTP'),
                                             token => $TOKEN)) } qw(a b);
for my $name (qw(a b)) {
    ok(wait_for(sub { $n{$name}->log_lines(qr/\[notice\].*cluster database .* connected/) == 2 }, 30),
       "node $name: both workers connected");
}

sub url {
    my ($node, $app, $stream) = @_;
    return 'rtmp://127.0.0.1:' . $n{$node}->node_port('RTMP') . "/$app/$stream";
}

sub rows {
    my ($where) = @_;
    return eval { $pg->query("SELECT file_id, node_id FROM live_record_files WHERE $where ORDER BY file_id") };
}

# the s3 object of an entry, in a file
sub fetch {
    my ($e, $file) = @_;
    (my $rel = $e->{path} // '') =~ s{^\Q$p\E/shared/}{};
    my (undef, $body) = $s3->object("rec/$rel");
    return undef unless defined $body;
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $body;
    close $fh;
    return $file;
}

# 1. parts on A and on B, joined through B's API

my @push = (push_stream_bg($in, url('a', 'vod', 'cam')),
            push_stream_bg($in, url('a', 'live', 'l1')),
            push_stream_bg($in, url('a', 'live', 'l2')));
is(wait_push($_), 0, 'A: push done') for @push;
is(push_stream($in, url('b', 'vod', 'cam')), 0, 'B: push vod/cam done');

my @vod = grep { $_->{video_url} } $rcv->wait_events('record_done', 'cam', 2, 40);
my ($pa) = grep { $_->{file_id} =~ /-rec-a-/ } @vod;
my ($pb) = grep { $_->{file_id} =~ /-rec-b-/ } @vod;
ok($pa && $pb, 'a part of A and a part of B, both uploaded');
my $pid_a = $pa->{index_id} // $pa->{file_id};
my $pid_b = $pb->{index_id} // $pb->{file_id};
ok(wait_for(sub { rows("app = 'vod'") == 2 }, 30), 'both rows are written');
ok(!-e $pa->{path} && !-e $pb->{path}, 'no local copy of either is kept');

my ($st, $j) = $api{b}->call(POST => '/api/concat',
                             { file_ids => [ $pid_b, $pid_a ] });
is($st, 202, 'B: POST /concat of A\'s and B\'s part: 202');
is_deeply($j && $j->{file_ids}, [ sort { $a cmp $b } $pid_a, $pid_b ],
          'the parts, by start time');
my $job = $j && $j->{job_id} // '';
ok(wait_for(sub { (undef, $j) = $api{b}->call(GET => "/api/concat/$job");
                  $j && $j->{state} =~ /^(done|failed)$/ }, 60),
   'the job ends');
is($j && $j->{state}, 'done', 'the job is done') or diag explain $j;
is(scalar($n{b}->log_lines(qr/concat: \S+ fetched from the store/)), 2,
   'B fetched both parts from the store');
my ($cd) = $rcv->wait_events('concat_done', 'cam', 1, 40);
ok($cd && $cd->{video_url}, 'concat_done, the result uploaded');
my $parts = { video => 0, audio => 0 };
for my $e ($pa, $pb) {
    my $c = probe_counts(fetch($e, "$p/part.mp4") // '/');
    $parts->{$_} += $c->{$_} for qw(video audio);
}
my $want = probe_counts($in);
is_deeply($parts, { video => 2 * $want->{video}, audio => 2 * $want->{audio} },
          'the parts hold every frame of both pushes');
my $got = probe_counts(fetch($cd || {}, "$p/joined.mp4") // '/');
is_deeply($got, $parts, 'the result, read back from S3, holds every frame '
                        . "($got->{video} video, $got->{audio} audio)");
ok(!find_files("$p/b/work", qr/concat-fetch/), 'the fetched parts are gone');
ok(wait_for(sub { rows("file_id = '$cd->{file_id}'") == 1 }, 20),
   'the result has its row');

# 2. A's local store: out of B's reach

my @loc = map { $rcv->wait_events('record_done', $_, 1, 40) } qw(l1 l2);
($st, $j) = $api{b}->call(POST => '/api/concat',
    { file_ids => [ map { $_->{file_id} } @loc ] });
is($st, 409, 'B: concat of parts in A\'s local store: 409');
is($j && $j->{code}, 'other_node', '... other_node');
like($j && $j->{message}, qr/recorded by the node "rec-a" into its local store/,
     '... naming the node');

# 3. retention: a file A recorded expires, with both nodes running

is(push_stream($in, url('a', 'old', 'one')), 0, 'A: push old/one done');
my ($one) = grep { $_->{video_url} } $rcv->wait_events('record_done', 'one', 1, 40);
my $one_id = $one->{index_id} // $one->{file_id};
ok(fetch($one, "$p/one.mp4"), 'its object is in S3');
my ($del) = $rcv->wait_events('record_deleted', 'one', 1, 60);
is_deeply([ $del && $del->{file_id}, $del && $del->{reason} ],
          [ $one->{file_id}, 'expired' ], 'record_deleted, reason expired');
ok(wait_for(sub { !rows("file_id = '$one_id'") }, 10), 'its row is gone');
ok(!fetch($one, "$p/one.mp4"), 'its object is gone from S3');

# a file expiring later: both nodes went through rounds meanwhile
is(push_stream($in, url('b', 'old', 'two')), 0, 'B: push old/two done');
$rcv->wait_events('record_deleted', 'two', 1, 60);
my @del = $rcv->events('record_deleted');
my %seen;
$seen{ $_->{file_id} }++ for @del;
is(join(',', map { $seen{$_} // 0 } $one->{file_id}, sort grep { $_ ne $one->{file_id} } keys %seen),
   '1,1', 'each expired file announced once, by one node');
is(scalar(map { $n{$_}->log_lines(qr/expired, deleting it \(its row is claimed\)/) } qw(a b)),
   2, 'each claimed and deleted by one node');

# 4. the database away: /concat is 503, nothing expires meanwhile (the
# client's one line per worker is all the log says), and the file that
# came due goes once the database is back

is(push_stream($in, url('a', 'old', 'three')), 0, 'A: push old/three done');
my ($three) = grep { $_->{video_url} }
              $rcv->wait_events('record_done', 'three', 1, 40);
my $three_id = $three->{index_id} // $three->{file_id};
ok(wait_for(sub { rows("file_id = '$three_id'") == 1 }, 20),
   'its row is written');
$pg->stop;
for my $name (qw(a b)) {
    ok(wait_for(sub { $n{$name}->log_lines(qr/\[error\].*cluster database .* went away/) == 2 }, 30),
       "node $name: each worker says once that the database went away");
}
($st, $j) = $api{b}->call(POST => '/api/concat',
                          { file_ids => [ $pid_a, $pid_b ] });
is_deeply([ $st, $j && $j->{code} ], [ 503, 'cluster_unavailable' ],
          'POST /concat without the database: 503 cluster_unavailable');

# keep 5 s past its end, and two looks (1.25 s apart) more
my $due = $three->{end_time_ms} / 1000 + 5 + 2.5;
wait_for(sub { Time::HiRes::time() > $due }, 30);
ok(fetch($three, "$p/three.mp4"), 'past its keep, the file stays while the database is away');
is(scalar($rcv->events('record_deleted', 'three')), 0, '... and no record_deleted');
is(scalar(map { $n{$_}->log_lines(qr/\[error\]/) } qw(a b)), 4,
   'no error line but the workers\' "went away"');

$pg->start;
my ($d3) = $rcv->wait_events('record_deleted', 'three', 1, 60);
is_deeply([ $d3 && $d3->{file_id}, $d3 && $d3->{reason} ],
          [ $three->{file_id}, 'expired' ],
          'the database back: the file is deleted, record_deleted sent');
ok(wait_for(sub { !rows("file_id = '$three_id'") }, 10), 'its row is gone');
ok(!fetch($three, "$p/three.mp4"), 'its object is gone from S3');
is(scalar($rcv->events('record_deleted', 'three')), 1, 'announced once');

is(scalar(map { $n{$_}->log_lines(qr/\[(alert|crit|emerg)\]/) } qw(a b)), 0,
   'no alert in either log');
$rcv->signatures_ok('the events are signed');
$s3->stop;
