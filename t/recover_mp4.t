#!/usr/bin/perl

# kill -9 mid-part loses at most a second of MP4: A/V, audio-only and
# video-only streams pushed in real time at once, then (1) the worker is
# killed with SIGKILL, and the worker the master starts recovers the parts;
# (2) the master and the workers die together, and the next start recovers
# them.  Each recovered part is indexed with end_reason "recovered", and
# is checked box by box (mp4_ok: the input's first packets, keyframes =
# stss, the tables whole) with every track lasting at least the media
# pushed before the kill minus one second.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;

my %in = (av    => make_media(duration => 30),
          audio => make_media(duration => 30, video => 0),
          video => make_media(duration => 30, audio => 0));
my @kinds = sort keys %in;

plan tests => 3 + 2 * (1 + 5 * @kinds) + 1;

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;

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
start_nginx(conf => $conf, dirs => \@dirs);

sub master { (slurp(prefix() . '/logs/nginx.pid') =~ /(\d+)/)[0] }

sub worker {
    my $master = master() or return;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = slurp($stat);
        return $1 if $s =~ /^(\d+) \(nginx\) \S (\d+) / && $2 == $master;
    }
    return;
}

sub entries {
    my ($stream) = @_;
    return map { { %{ decode_json(slurp($_)) }, _file => $_ } }
           find_files(prefix() . "/index/live/$stream", qr/\.json$/);
}

# all three pushed in real time; each stream's media clock starts when its
# part appears in the work path (ffmpeg -re paces from its first packet);
# kill after $secs s of the latest and return the media each had pushed

sub crash {
    my ($round, $secs, $victims) = @_;
    my (%pid, %t0);
    for my $k (@kinds) {
        $pid{$k} = push_stream_bg($in{$k}, rtmp_url('live', "$k$round"),
                                  realtime => 1);
    }
    wait_for(sub {
        for my $k (grep { !$t0{$_} } @kinds) {
            $t0{$k} = time if find_files(prefix() . '/work',
                                         qr{/\Q$k$round\E[^/]*\.mp4$});
        }
        keys %t0 == @kinds;
    }, 15);
    my $latest = (sort { $b <=> $a } values %t0)[0] // time;
    sleep 0.05 while time < $latest + $secs;
    # what recovery will go by: each open part's record in spool/open
    # names its work file (the path is written while the part's directories
    # are made in the thread pool)
    my @bad;
    my %open = map { my $j = eval { decode_json(slurp($_)) } || {};
                     (($j->{stream_id} // $_) => $j) }
               find_files(prefix() . '/spool/open', qr/\.json$/);
    for my $k (@kinds) {
        my $w = $open{"$k$round"}{work} // '(no record)';
        push @bad, "$k$round: \"work\" is $w" unless -f $w;
    }
    ok(!@bad, "round $round: the open-part records name the work files")
        or diag join "\n", @bad;
    my @v = $victims->();
    kill 'KILL', @v;
    my $at = time;
    my %lived = map { $_ => $at - ($t0{$_} // $at) } @kinds;
    wait_push($pid{$_}, 10) for @kinds;
    return \%lived;
}

sub check {
    my ($round, $lived, $label) = @_;
    for my $k (@kinds) {
        my $stream = "$k$round";
        my @e;
        wait_for(sub { @e = entries($stream); @e >= 1 }, 30);
        is(scalar @e, 1, "$label, $k: one index entry");
        my $e = $e[0] // {};
        index_ok($e->{_file}, part => 1, end_reason => 'recovered',
                 name => "$label, $k");
        my $f = $e->{path} // '';
        my $want = $lived->{$k} - 1;
        mp4_ok($f, from => $in{$k}, prefix => 1, min_duration => $want,
               name => "$label, $k");
        my $d = probe_duration($f) // 0;
        diag(sprintf '%s, %s: pushed %.2f s before the kill, the recovered '
             . 'mp4 holds %.2f s', $label, $k, $lived->{$k}, $d);
        ok($d >= $want && $d <= $lived->{$k} + 1,
           "$label, $k: ffprobe plays at most 1 s less than pushed")
            or diag sprintf('%.2f s, pushed %.2f s', $d, $lived->{$k});
        ok(abs(($e->{duration} // 0) - $d) < 0.5,
           "$label, $k: duration in the index entry");
    }
}

# 1. the worker dies; the master starts another, which recovers

my $old = worker();
my $lived = crash(1, 5, sub { worker() });
ok(wait_for(sub { my $w = worker(); $w && $w != $old }, 10),
   'a new worker was started');
check(1, $lived, 'worker killed');
is(scalar(find_files(prefix() . '/work', qr/\.mp4$/)), 0,
   'no part left in the work path');

# 2. master and workers die together; the next start recovers

my $master = master();
$lived = crash(2, 4, sub { ($master, worker()) });
ok(wait_for(sub { !kill 0, $master }, 5), 'master gone');
unlink prefix() . '/logs/nginx.pid';
start_nginx(conf => $conf, dirs => \@dirs);
check(2, $lived, 'all killed');

no_alerts(allow => qr/worker process \d+ exited on signal 9/);
