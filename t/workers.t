#!/usr/bin/perl

# worker_processes 2 and three concurrent real-time publishers, spread over
# both workers: three complete recordings, each with all of its own frames,
# each announced exactly once; reconnects join one session on whichever
# worker they land.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 33;
use LiveRecord::Test;
use LiveRecord::Receiver;

my %in = map { ("w$_" => make_media(duration => $_)) } 4, 5, 6;

# the notify key in a file (trailing newline dropped), read by both workers
open my $kfh, '>', prefix() . '/key' or die "key: $!";
print $kfh "workers-key-$$\n";
close $kfh;

start_nginx(workers => 2, conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4;
        live_record_session_gap 30s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key_file=%%PREFIX%%/key;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => "workers-key-$$");

# nginx hands an idle server's connections to one worker (EPOLLEXCLUSIVE
# wakes the first waiting): w4 and w5 are placed on a worker each by
# stopping the other one (SIGSTOP) until the stream has started there;
# w6 lands where it lands

sub recorder {
    my ($name) = @_;
    my ($l) = log_lines(qr{"live/$name" recording with template});
    return $l && $l =~ /\] (\d+)#/ ? $1 : undef;
}

my @workers = nginx_workers();
is(scalar @workers, 2, 'two workers');
my %pid;
for my $i (0, 1) {
    my ($name, $other) = ("w" . (4 + $i), $workers[1 - $i]);
    kill 'STOP', $other;
    $pid{$name} = push_stream_bg($in{$name}, rtmp_url('live', $name),
                                 realtime => 1);
    wait_for(sub { recorder($name) }, 10);
    kill 'CONT', $other;
    is(recorder($name), $workers[$i], "$name: recorded by worker $i");
}
$pid{w6} = push_stream_bg($in{w6}, rtmp_url('live', 'w6'), realtime => 1);
is(wait_push($pid{$_}, 30), 0, "$_: push") for sort keys %pid;

my @f = wait_files('store', qr/\.mp4$/, 3);
is(scalar @f, 3, 'three files') or diag explain \@f;

for my $name (sort keys %in) {
    my @mine = grep { m{/live/$name/} } @f;
    is(scalar @mine, 1, "$name: one file");
    my $f = $mine[0] // '';
    my ($c, $c_in) = (probe_counts($f), probe_counts($in{$name}));
    is($c->{video}, $c_in->{video}, "$name: video frames");
    is($c->{audio}, $c_in->{audio}, "$name: audio packets");
    mp4_ok($mine[0], from => $in{$name}, name => $name);
}

wait_for(sub { grep({ /record_done/ } map { $_->{body} } $rcv->requests)
               >= 3 }, 10);
sleep 2;
my @done = grep { $_->{event_type} eq 'record_done' }
           map { decode_json($_->{body}) } $rcv->requests;
is(scalar @done, 3, 'three record_done, none twice');
is_deeply([sort map { $_->{stream_id} } @done], [sort keys %in],
          'one per stream');
my %ids = map { $_->{event_id} => 1 } @done;
is(scalar keys %ids, 3, 'distinct event ids');

# reconnects: the session is in the shared zone, not in one worker

my $short = make_media(duration => 2);
is(push_stream($short, rtmp_url('live', 'rc')), 0, 'first publish');
my $first;
wait_for(sub {
    ($first) = map { /\] (\d+)#/ ? $1 : () }
               log_lines(qr{"live/rc" part \d+ mp4 done});
    $first;
}, 10);
ok($first, 'first part recorded');

# its worker goes: the reconnects land on workers that never saw it
kill 'QUIT', $first if $first;
ok(wait_for(sub { !kill 0, $first }, 20), 'that worker exited');
is(push_stream($short, rtmp_url('live', 'rc')), 0, "reconnect $_")
    for 1 .. 3;
my @rc;
wait_for(sub {
    @rc = grep { $_->{event_type} eq 'record_done' && $_->{stream_id} eq 'rc' }
          map { decode_json($_->{body}) } $rcv->requests;
    @rc >= 4;
}, 15);
is(scalar @rc, 4, 'four parts');
my %sessions = map { $_->{session_id} => 1 } @rc;
is(scalar keys %sessions, 1, 'one session for the four publishes');
my %by = map { /\] (\d+)#/ ? ($1 => 1) : () }
    log_lines(qr{"live/rc" part \d+ mp4 done});
ok(keys %by >= 2, 'recorded by ' . scalar(keys %by) . ' workers');
$rcv->signatures_ok('notify from both workers (key_file=)');
$rcv->stop;

my %pids = map { /\] (\d+)#/ ? ($1 => 1) : () }
    log_lines(qr/live record: .* done:/);
note('recorded by worker pids ' . join ' ', sort keys %pids);

no_alerts();
