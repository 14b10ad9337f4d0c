#!/usr/bin/perl

# The cluster's cost, measured (bench.py's "cluster" stage runs this; it
# can run alone):
# - burst: two nodes (one worker each), N streams of SECONDS s pushed to
#   each at full speed, so that 2N parts close within about a second; how
#   long after the last publisher ended the last row was in PostgreSQL;
# - loop: the same burst with live_record_cluster on and off, REPS times
#   each, alternating; the event loop's time is the worker main thread's
#   CPU time (/proc/PID/task/PID/schedstat, ns) over the burst, and the
#   extra loop time per part close is (on - off) / parts, medians;
# - replay: ROWS rows per node left in SPOOL/cluster/ by a dead worker,
#   both nodes started at once: rows per second into one PostgreSQL.
#
#   perl bench/cluster_close.pl [--streams N] [--reps R] [--rows ROWS]
#                               [--seconds SECONDS] [--json FILE]
#
# Uses the test harness (t/lib) for nginx, ffmpeg and PostgreSQL;
# everything on 127.0.0.1, stopped by PID at the end.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../t/lib";
use Getopt::Long;
use File::Path qw(make_path remove_tree);
use JSON::PP;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Cluster;
use LiveRecord::Postgres;

my ($streams, $reps, $nrows, $secs, $json) = (24, 4, 5000, 3, undef);
GetOptions('streams=i' => \$streams, 'reps=i' => \$reps,
           'rows=i' => \$nrows, 'seconds=i' => \$secs,
           'json=s' => \$json) or die "usage\n";

my $p = prefix();
my $pg = LiveRecord::Postgres->new(dir => "$p/pg");
$pg->start;
# short pushes (over live_record_min_duration, 2 s): the ingest, the same
# with the cluster on and off, stays small beside what the closes cost
my $in = make_media(duration => $secs);
my $parts_per = 2 * $streams;

sub conf {
    my ($id, $cluster) = @_;
    my $c = $cluster ? 'live_record_cluster "' . $pg->url . '" password_file='
                       . $pg->password_file . ' connections=2;' : '';
    return <<"EOF2";
rtmp {
    live_record_template t { live_record_formats mp4; }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_node_id $id;
    $c
    server {
        listen 127.0.0.1:%%NODE_PORT_RTMP%%;
        application live { live on; live_record t; }
    }
}
EOF2
}

sub worker_of {
    my ($node) = @_;
    open my $fh, '<', $node->node_prefix . '/logs/nginx.pid' or return;
    chomp(my $master = <$fh> // '');
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $s, '<', $stat or next;
        my $l = <$s> // '';
        return $1 if $l =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $master;
    }
    return;
}

sub loop_ns {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/task/$pid/schedstat" or return 0;
    my ($ns) = split ' ', <$fh> // '0';
    return $ns;
}

sub entries {
    my ($node) = @_;
    return scalar find_files($node->node_prefix . '/index', qr/\.json$/);
}

my $round = 0;

sub burst {
    my ($cluster) = @_;
    $round++;
    my @nodes = map {
        LiveRecord::Cluster->node("r$round$_", conf => conf("bench-$round$_", $cluster),
                                  workers => 1,
                                  dirs => [qw(store work index spool)])
    } qw(a b);
    eval { $pg->query('DELETE FROM live_record_files') } if $cluster;
    LiveRecord::Test::release_ports();
    $_->start == 0 or die "nginx did not start\n" for @nodes;
    if ($cluster) {
        for my $n (@nodes) {
            wait_for(sub { $n->log_lines(qr/cluster database .* connected/) }, 30)
                or die "no database\n";
        }
    }
    my @w = map { worker_of($_) } @nodes;
    sleep 1;
    my @c0 = map { loop_ns($_) } @w;
    my @push;
    for my $n (@nodes) {
        for my $i (1 .. $streams) {
            push @push, push_stream_bg($in, 'rtmp://127.0.0.1:'
                                       . $n->node_port('RTMP') . "/live/s$i");
        }
    }
    wait_push($_) for @push;
    my $ended = time;
    my $ok = wait_for(sub { entries($nodes[0]) + entries($nodes[1]) >= $parts_per
                            && (!$cluster
                                || ($pg->query('SELECT count(*) FROM live_record_files'))[0][0]
                                   >= $parts_per) }, 120);
    $ok or die "the parts were not all indexed (and rowed) in 120 s\n";
    my $all = time - $ended;
    sleep 1;        # the spool files' removal and the last answers
    my @c1 = map { loop_ns($_) } @w;
    my %r = (cluster => $cluster ? 1 : 0, parts => $parts_per, ok => $ok ? 1 : 0,
             loop_ms => [ map { ($c1[$_] - $c0[$_]) / 1e6 } 0 .. 1 ],
             last_row_after_s => $all);
    if ($cluster) {
        my ($row) = $pg->query('SELECT count(*), extract(epoch FROM '
                               . 'max(indexed_at) - min(indexed_at)) '
                               . 'FROM live_record_files');
        $r{rows} = $row->[0];
        $r{spread_s} = $row->[1];
    }
    $_->stop for @nodes;
    remove_tree($_->node_prefix . '/store') for @nodes;
    return \%r;
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return undef unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

my (@on, @off);
for my $rep (1 .. $reps) {
    push @off, burst(0);
    push @on, burst(1);
    printf STDERR "cluster bench: rep %d: loop ms off %s, on %s\n", $rep,
        join('+', map { sprintf '%.1f', $_ } @{ $off[-1]{loop_ms} }),
        join('+', map { sprintf '%.1f', $_ } @{ $on[-1]{loop_ms} });
}

# replay: each node's dead worker left ROWS rows in its spool

$round++;
my @nodes = map {
    LiveRecord::Cluster->node("r$round$_", conf => conf("bench-$round$_", 1),
                              workers => 1, dirs => [qw(store work index spool)])
} qw(a b);
eval { $pg->query('DELETE FROM live_record_files') };
for my $k (0 .. 1) {
    my $dir = $nodes[$k]->node_prefix . '/spool/cluster';
    make_path($dir);
    for my $i (1 .. $nrows) {
        my $ms = 1764000000000 + $i * 1000;
        my $id = sprintf('%013d-bench-%s-1-%d-mp4', $ms, $k ? 'b' : 'a', $i);
        open my $fh, '>', "$dir/4194305.$id.json" or die;
        print $fh qq({"file_id":"$id","app":"live","stream_id":"cam$i",)
            . qq("session_id":"s$k-$i","part":1,"file_format":"mp4",)
            . qq("start_time_ms":$ms,"end_time_ms":) . ($ms + 999)
            . qq(,"store":"local","path":"/x/$id.mp4"});
        close $fh;
    }
    system('chmod', '-R', '0777', $nodes[$k]->node_prefix . '/spool');
}
LiveRecord::Test::release_ports();
my $t0 = time;
$_->start == 0 or die "nginx did not start\n" for @nodes;
my $rows = 0;
while (time - $t0 < 300) {
    ($rows) = map { $_->[0] } $pg->query('SELECT count(*) FROM live_record_files');
    last if $rows >= 2 * $nrows;
    sleep 0.05;
}
my $replay_s = time - $t0;
$_->stop for @nodes;
$pg->stop;

my $sum = sub { my $t = 0; $t += $_ for @{ $_[0]{loop_ms} }; $t };
my %R = (streams_per_node => $streams, parts => $parts_per, reps => $reps,
         on => \@on, off => \@off,
         loop_ms_on => median(map { $sum->($_) } @on),
         loop_ms_off => median(map { $sum->($_) } @off),
         seconds => $secs,
         burst_last_row_s => median(map { $_->{last_row_after_s} } @on),
         replay_rows => $rows, replay_s => $replay_s,
         replay_rows_per_s => $rows / $replay_s);
$R{extra_loop_ms_per_part} = ($R{loop_ms_on} - $R{loop_ms_off}) / $parts_per;
printf "burst: %d parts at once on 2 nodes; "
       . "last row %.2f s after the publishers ended\n"
       . "loop time over the burst: cluster off %.1f ms, on %.1f ms (medians "
       . "of %d): %.3f ms more per part close\n"
       . "replay: %d rows from 2 nodes in %.2f s: %.0f rows/s\n",
    $parts_per, $R{burst_last_row_s},
    $R{loop_ms_off}, $R{loop_ms_on}, $reps, $R{extra_loop_ms_per_part},
    $rows, $replay_s, $R{replay_rows_per_s};
if ($json) {
    open my $fh, '>', $json or die "$json: $!";
    print $fh encode_json(\%R);
    close $fh;
}
