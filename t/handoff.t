#!/usr/bin/perl

# kill -9 during the hand-off: every file is still announced, each under
# one event id.  A finished part is moved into the store and gets its
# index entry in the finalize thread; its record_done is spooled on the
# event loop afterwards.  The recovery sidecar must stay until that event
# is in the spool, so that a crash in between leaves the part to recover.
#
# The window is caught from the filesystem, not by timing: a publisher
# pushes parts of three formats (mp4, flv, aac, checksummed, 25 MB) faster
# than real time, one after another, while the receiver is down (so
# spooled events stay in the spool);
# the worker is stopped (SIGSTOP) again and again, and killed (SIGKILL)
# while stopped at a moment when a file has its index entry and no event
# in the spool: the dangerous point.  Then the receiver comes up and every
# file in the store must reach it as record_done, each file under one
# event id ("record_done-FILE_ID"; a resent duplicate keeps it).  Done
# twice: the worker alone (the master starts another), then all of nginx
# (started again).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 15;
use Time::HiRes qw(sleep time);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $p = prefix();

# parts of about 25 MB each: the flv's fdatasync and sha256 after the
# mp4's index entry make the window a few ms wide
my $in = "$p/../media/720p-qp0-4s.flv";
system('ffmpeg', qw(-hide_banner -loglevel error -nostdin -y -f lavfi
    -i testsrc2=size=1280x720:rate=25 -f lavfi
    -i sine=frequency=440:sample_rate=44100 -t 4 -vf noise=alls=1:allf=t
    -c:v libx264 -preset ultrafast -qp 0 -g 50 -pix_fmt yuv420p
    -c:a aac -b:a 64k -f flv), "$in.$$.tmp") == 0
    && rename("$in.$$.tmp", $in) or die "ffmpeg: $?\n" unless -s $in;

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4 flv aac;
        live_record_path $app/$name-%Y%m%d%H%M%S-$part;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}
EOF

my @dirs = qw(store work index spool);

# glob in scalar context is an iterator: count the list instead
sub count { my @f = glob $_[0]; return scalar @f }

sub worker_pid {
    my $master = slurp("$p/logs/nginx.pid") =~ /(\d+)/ ? $1 : return;
    for my $d (glob '/proc/[0-9]*') {
        my $st = slurp("$d/stat");
        return $1 if $st =~ /^(\d+) \(nginx\) \S+ $master /;
    }
    return;
}

# file ids with an index entry and no record_done in the spool (nor at
# the receiver): the window

my %received;

sub unannounced {
    my %spooled = %received;
    for my $f (glob "$p/spool/notify/*.json") {
        my $text = slurp($f);
        next unless $text =~ /"event_type":"record_done"/;
        $spooled{$1} = 1 while $text =~ /"file_id":"([^"]+)"/g;
    }
    return grep { !$spooled{$_} }
           map { m{/([^/]+)\.json$} } find_files("$p/index", qr/\.json$/);
}

# polls freely; when a file looks unannounced, stops the worker and looks
# again: still so while stopped, the worker dies there

my $STOPPED;

sub catch_and_kill {
    my ($what) = @_;
    my $worker;

    # the master listens before its worker is forked: wait for the worker
    wait_for(sub { $worker = worker_pid() }, 10) or return;
    my ($n, $i, @caught) = (0, 0);
    my $pub = push_stream_bg($in, rtmp_url('live', 's' . ++$i));
    my $t = time;

    while (time - $t < 120) {
        # the next part only when the last one is announced (no sidecar
        # left): no part is being written when the worker dies, so only
        # the hand-off is under test
        if ($pub && waitpid($pub, POSIX::WNOHANG()) != 0) {
            undef $pub;
        }
        if (!$pub && !count("$p/spool/open/*.json")) {
            $pub = push_stream_bg($in, rtmp_url('live', 's' . ++$i));
        }
        if (unannounced()) {
            kill 'STOP', $STOPPED = $worker;
            $n++;
            @caught = unannounced();
            last if @caught;
            kill 'CONT', $worker;
            undef $STOPPED;
        }
        sleep 0.003;
    }

    if (@caught) {
        if ($what eq 'all') {
            kill 'KILL', slurp("$p/logs/nginx.pid") =~ /(\d+)/ ? $1 : ();
        }
        kill 'KILL', $worker;
    }
    kill 'CONT', $worker;
    undef $STOPPED;
    wait_push($pub, 60) if $pub;
    return ($n, @caught);
}

# a worker left stopped would hang nginx's stop at exit
END { kill 'CONT', $STOPPED if $STOPPED }

my ($rcv, %caught, @reqs);

# file_id => 1 for each record_done among requests
sub done {
    return map { $_->{json}{file_id} => 1 }
           grep { ($_->{json}{event_type} // '') eq 'record_done' } @_;
}

for my $what (qw(worker all)) {
    start_nginx(conf => $conf, dirs => \@dirs) if $what eq 'worker';

    my ($n, @caught) = catch_and_kill($what);
    ok(@caught, "$what: killed in the window (stop #$n): @caught");
    $caught{$_} = 1 for @caught;

    if ($what eq 'all') {
        wait_for(sub { !kill 0, $_ }, 10) for grep { $_ } worker_pid();
        start_nginx(conf => $conf, dirs => \@dirs);
    }

    $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      log => "$p/receiver.$what.log");

    # every file in the store reaches the receiver, once the recovery is
    # over (no sidecar left)
    my @ids;
    ok(wait_for(sub {
        my %got = (%received, done($rcv->requests));
        @ids = map { m{/([^/]+)\.json$} } find_files("$p/index", qr/\.json$/);
        @ids && !grep({ !$got{$_} } @ids) && !count("$p/spool/open/*.json");
    }, 60), "$what: every indexed file announced after the kill");

    my %files = map { m{/([^/]+)$} ? ($1 => 1) : () }
                find_files("$p/store", qr/\.(?:mp4|flv|aac)$/);
    my %paths = map { my $e = eval { decode_json(slurp($_)) } || {};
                      ($e->{path} // '') =~ m{/([^/]+)$} ? ($1 => 1) : () }
                find_files("$p/index", qr/\.json$/);
    is_deeply([sort keys %paths], [sort keys %files],
        "$what: every file in the store has an index entry");
    my %got = (%received, done($rcv->requests));
    ok(@caught && !grep({ !$got{$_} } @caught),
        "$what: the files caught in the window are among them");

    # down again: the next round's events stay in the spool; the last
    # round first waits for the spool to empty
    ok(wait_for(sub { !count("$p/spool/notify/*.json") }, 30),
        "$what: the notify spool empties") if $what eq 'all';
    push @reqs, $rcv->requests;
    %received = (%received, %got);
    $rcv->stop;
}

my (%ids, %bad);
for my $r (@reqs) {
    my $e = $r->{json} or next;
    next unless ($e->{event_type} // '') eq 'record_done';
    $ids{$e->{file_id}}{$e->{event_id}} = 1;
    $bad{$e->{file_id}} = $e->{event_id}
        if $e->{event_id} ne "record_done-$e->{file_id}";
}
my @caught_done = grep { $ids{$_} } keys %caught;
is(scalar @caught_done, scalar keys %caught,
    'each file caught in the window got record_done')
    or diag explain [\%caught, \%ids];
is_deeply([grep { keys %{ $ids{$_} } != 1 } sort keys %ids], [],
    'one event id per file (a resent duplicate keeps it)');
is_deeply(\%bad, {}, 'event ids are record_done-FILE_ID');
my $dups = grep { ($_->{json}{event_type} // '') eq 'record_done' } @reqs;
diag(scalar(keys %ids) . " files, $dups record_done requests");

my @open = glob "$p/spool/open/*.json";
is_deeply(\@open, [], 'no sidecar left in SPOOL/open');

ok(scalar log_lines(qr/left open by a worker that is gone/),
    'parts recovered after the kill');

no_alerts(allow => qr/worker process \d+ exited on signal 9/);

