#!/usr/bin/perl

# live_record_continue with worker_processes 2: a waiting part is its
# worker's.  A reconnect on that worker goes on in the same files; one on
# the other worker starts a new part there, and the waiting one is finished
# when its window ends (end_reason unpublish), so no file is written by two
# workers; the new part is the session's next (part 2), and its worker
# says where the waiting one is.  Which worker takes the reconnect is
# forced by stopping the other one (SIGSTOP) while it connects.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json);
use Test::More tests => 26;
use LiveRecord::Test;
use LiveRecord::Receiver;

my $in = make_media(duration => 4);
my $c = probe_counts($in);

my $master = start_nginx(workers => 2, conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 flv aac;
        live_record_continue 6s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
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

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));
my @workers = LiveRecord::Test::_children($master);
is(scalar @workers, 2, 'two workers');

sub done_events {
    my ($name) = @_;
    return grep { $_->{event_type} eq 'record_done'
                  && $_->{stream_id} eq $name }
           map { decode_json($_->{body}) } $rcv->requests;
}

# the worker whose part of NAME waits
sub waiting_on {
    my ($name) = @_;
    my $pid;
    wait_for(sub {
        ($pid) = map { /\] (\d+)#/ ? $1 : () }
                 log_lines(qr{"live/$name" part "[^"]+" waits 6000 ms});
        $pid;
    }, 10);
    return $pid;
}

# a push while only worker PID may take it (the other one stopped)
sub push_on {
    my ($pid, $name) = @_;
    my ($other) = grep { $_ != $pid } @workers;
    kill 'STOP', $other;
    my $rc = push_stream($in, rtmp_url('live', $name));
    kill 'CONT', $other;
    return $rc;
}

# 1. the reconnect lands on the waiting part's worker: one part

is(push_stream($in, rtmp_url('live', 'same')), 0, 'first push');
my $wa = waiting_on('same');
ok($wa, "its part waits on worker " . ($wa // '?'));
is(push_on($wa, 'same'), 0, 'second push, on that worker');
my @f = wait_files('store', qr{/live/same/.*\.(mp4|flv|aac)$}, 3, 30);
is(scalar @f, 3, 'one mp4, flv and aac');
for my $f (grep { /\.(mp4|flv)$/ } @f) {
    is(probe_counts($f)->{video}, 2 * $c->{video},
       "$f: both pushes' video");
}
is(probe_counts((grep { /\.aac$/ } @f)[0] // '')->{audio}, 2 * $c->{audio},
   'aac: both pushes\' audio');
wait_for(sub { done_events('same') >= 3 }, 10);
is(scalar(done_events('same')), 3, 'record_done once per file');

# 2. the reconnect lands on the other worker: a new part there, the
#    waiting one finished at its window's end

is(push_stream($in, rtmp_url('live', 'other')), 0, 'first push');
$wa = waiting_on('other');
ok($wa, "its part waits on worker " . ($wa // '?'));
my ($wb) = grep { $_ != ($wa // 0) } @workers;
is(push_on($wb, 'other'), 0, "second push, on worker $wb");

@f = wait_files('store', qr{/live/other/.*\.(mp4|flv|aac)$}, 6, 30);
is(scalar @f, 6, 'two of each format');
for my $ext (qw(mp4 flv aac)) {
    my @e = grep { /\.$ext$/ } @f;
    my $track = $ext eq 'aac' ? 'audio' : 'video';
    is_deeply([map { probe_counts($_)->{$track} } @e],
              [$c->{$track}, $c->{$track}], "$ext: one push in each");
}
my @ends = log_lines(qr{"live/other" part "[^"]+" ends: no publisher }
                     . qr{within live_record_continue on this worker});
my %ended = map { /\] (\d+)#/ ? ($1 => 1) : () } @ends;
is(scalar @ends, 2, 'each part ended with its window');
is_deeply([sort keys %ended], [sort($wa, $wb)],
          'each on its own worker');
my @done;
wait_for(sub { (@done = done_events('other')) >= 6 }, 10);
sleep 1;
@done = done_events('other');
is(scalar @done, 6, 'record_done once per file');
is(scalar(grep { $_->{end_reason} eq 'unpublish' } @done), 6,
   'end_reason unpublish for both parts');
is_deeply([sort map { "$_->{file_format} $_->{part}" } @done],
          ['aac 1', 'aac 2', 'flv 1', 'flv 2', 'mp4 1', 'mp4 2'],
          'parts 1 and 2: the new part is numbered after the waiting one');
my %sid = map { $_->{session_id} => 1 } @done;
is(scalar keys %sid, 1, '... of one session');
my @said = log_lines(qr{"live/other": its part 1 waits on worker \Q$wa\E, }
                     . qr{which finishes it when its window ends; this }
                     . qr{worker goes on at part 2 of session });
is_deeply([map { /\] (\d+)#/ ? $1 : () } @said], [$wb],
          'the other worker says where the part waits, once');
my %by = map { /\] (\d+)#/ ? ($1 => 1) : () }
         log_lines(qr{"live/other" part \d+ mp4 done});
is_deeply([sort keys %by], [sort($wa, $wb)],
          'each worker finished its own part');
is(scalar(find_files(prefix() . '/work', qr/\.(mp4|flv|aac)$/)), 0,
   'nothing left in the work path');

$rcv->stop;
no_alerts();
