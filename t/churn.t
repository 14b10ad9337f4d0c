#!/usr/bin/perl

# 200 publish/unpublish cycles (each a finished, finalized, indexed and
# announced part): the worker's file descriptors and memory do not grow.
# Two pool threads: every thread that opens or finalizes gets its own
# malloc arena, so a 32-thread pool's RSS climbs for a while before it is
# flat.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 7;
use LiveRecord::Test;
use LiveRecord::Receiver;

my $CYCLES = 200;
my $BATCH = 4;
my $in = make_media(duration => 2);

start_nginx(conf => <<'EOF', dirs => [qw(store work index spool)]);
thread_pool churn threads=2;

rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_min_duration 1s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;
    live_record_thread_pool churn;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

my ($worker) = grep { -r "/proc/$_/status" && slurp("/proc/$_/status")
                      =~ /^PPid:\s+\Q@{[master()]}\E$/m }
               map { m{/proc/(\d+)/} ? $1 : () } glob '/proc/[0-9]*/stat';

sub master {
    return (slurp(prefix() . '/logs/nginx.pid') =~ /(\d+)/)[0] // 0;
}

sub usage {
    my $fds = () = glob "/proc/$worker/fd/*";
    my ($rss) = slurp("/proc/$worker/status") =~ /^VmRSS:\s+(\d+)/m;
    return ($fds, $rss);
}

sub cycles {
    my ($from, $to) = @_;
    for (my $i = $from; $i < $to; $i += $BATCH) {
        my @pids = map { push_stream_bg($in, rtmp_url('live', "c$_")) }
                   $i .. $i + $BATCH - 1;
        wait_push($_) for @pids;
    }
    # every part finalized and announced before measuring
    wait_for(sub { !find_files(prefix() . '/work', qr/\.(mp4|flv)$/)
                   && !find_files(prefix() . '/spool/notify', qr/\.json$/) },
             30);
}

ok($worker, "worker $worker");

cycles(0, 20);                     # warm-up: pools, caches, connections
my ($fd0, $rss0) = usage();
cycles(20, 108);
sleep 1;
my (undef, $rssm) = usage();
cycles(108, $CYCLES);
sleep 1;
my ($fd1, $rss1) = usage();

diag(sprintf "after %d cycles: worker fds %d -> %d, RSS %d -> %d -> %d KiB "
     . "(%+.1f KiB per cycle in the second half)", $CYCLES - 20, $fd0, $fd1,
     $rss0, $rssm, $rss1, ($rss1 - $rssm) / ($CYCLES - 108));

is(scalar(find_files(prefix() . '/store', qr/\.mp4$/)), $CYCLES,
   "$CYCLES parts recorded");
ok($fd1 - $fd0 <= 2, 'no descriptor growth') or diag "$fd0 -> $fd1";
SKIP: {
    # AddressSanitizer keeps freed memory in quarantine: RSS says nothing
    skip 'RSS is not measured under AddressSanitizer', 2
        if $ENV{LIVE_RECORD_PRELOAD};

    # the pool's threads open and close files too, and each thread's malloc
    # arena fills once, more or less quickly with the machine's load: a
    # leak grows in both halves, an arena's fill only in the first
    ok($rss1 - $rssm < 1024, 'no memory growth in the second 92 cycles '
       . '(a leak of 12 KiB a cycle would show)')
        or diag "$rssm -> $rss1 KiB";
    ok($rss1 - $rss0 < 6144, 'at most 6 MiB in all (two threads\' arenas)')
        or diag "$rss0 -> $rss1 KiB";
}

$rcv->signatures_ok('notify without a key: unsigned');
$rcv->stop;
no_alerts();
