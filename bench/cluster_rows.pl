#!/usr/bin/perl

# How many index rows per second one worker's cluster client writes into
# a local PostgreSQL 15: N rows left in SPOOL/cluster/ by a dead worker
# are replayed at start (the path rows take after a database outage),
# timed from nginx's start to the last row in the table.
#
#   perl bench/cluster_rows.pl [N] [CONNECTIONS]     (default 5000 2)
#
# Uses the test harness (t/lib) for nginx and t/lib/LiveRecord/Postgres.pm
# for the database; everything on 127.0.0.1, stopped by PID at the end.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use File::Path qw(make_path);
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Postgres;

my $n = shift || 5000;
my $conns = shift || 2;
my $p = prefix();
my $pg = LiveRecord::Postgres->new(dir => "$p/pg");
$pg->start;

# a dead worker's rows: pid 4194305 is above Linux's pid_max

make_path("$p/spool/cluster");
for my $i (1 .. $n) {
    my $id = sprintf('%013d-bench-1-%d-mp4', 1764000000000 + $i * 1000, $i);
    open my $fh, '>', "$p/spool/cluster/4194305.$id.json" or die;
    print $fh qq({"file_id":"$id","app":"live","stream_id":"cam$i",)
        . qq("session_id":"s$i","part":1,"file_format":"mp4",)
        . qq("start_time_ms":) . (1764000000000 + $i * 1000)
        . qq(,"end_time_ms":) . (1764000000000 + $i * 1000 + 999)
        . qq(,"store":"local","path":"/x/$id.mp4"});
    close $fh;
}
system('chmod', '-R', '0777', "$p/spool");

my $t0 = time;
start_nginx(conf => <<"EOF", dirs => [qw(store work index spool)]);
rtmp {
    live_record_template t { live_record_formats mp4; }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_node_id bench;
    live_record_cluster "@{[ $pg->url ]}" password_file=@{[ $pg->password_file ]} connections=$conns;
    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live { live on; live_record t; }
    }
}
EOF

my $rows = 0;
while (time - $t0 < 300) {
    ($rows) = map { $_->[0] } $pg->query('SELECT count(*) FROM live_record_files');
    last if $rows >= $n;
    sleep 0.05;
}
my $dt = time - $t0;
printf "%d rows in %.2f s from nginx's start: %.0f rows/s "
       . "(1 worker, connections=%d)\n", $rows, $dt, $rows / $dt, $conns;

no_alerts();          # stops nginx; the replay logged nothing bad
$pg->stop;
Test::More::done_testing();
