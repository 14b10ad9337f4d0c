#!/usr/bin/perl

# live_record_continue with worker_processes 2.  A reconnect on the
# waiting part's worker goes on in the same files; so does one on the
# other worker, which asks for the part and takes it over (the owner
# detaches its files, the taker reopens them): one mp4, flv and aac with
# both pushes' frames, record_started and record_done once per file, part
# 1 only, written by one worker at a time.  When the owner does not answer
# (stopped for longer than the 1 s the taker waits), the reconnect starts
# part 2 of the session there and the waiting part is finished when its
# window ends (end_reason unpublish), each by its own worker.  A publish
# that ends before the owner answers leaves its frames with the request,
# and they go on in the part when it is taken over.  A taker
# killed (-9) while it writes the part leaves it to the recovery, once,
# with what both pushes put on the disk.  Which worker
# takes the reconnect is forced by stopping the other one (SIGSTOP) while
# it connects.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use JSON::PP qw(decode_json);
use Test::More tests => 57;
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

http {
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;

        location /metrics {
            live_record_metrics;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));
my @workers = LiveRecord::Test::_children($master);
is(scalar @workers, 2, 'two workers');

sub events {
    my ($type, $name) = @_;
    return grep { $_->{event_type} eq $type && $_->{stream_id} eq $name }
           map { decode_json($_->{body}) } $rcv->requests;
}

sub done_events { return events('record_done', @_) }

sub pids_of {
    return map { /\] (\d+)#/ ? $1 : () } log_lines(@_);
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
    my ($pid, $name, %o) = @_;
    my ($other) = grep { $_ != $pid } @workers;
    kill 'STOP', $other;
    my $rc = push_stream($in, rtmp_url('live', $name), %o);
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

# 2. the reconnect lands on the other worker, which takes the part over:
#    the owner is stopped only while the publisher connects

is(push_stream($in, rtmp_url('live', 'other')), 0, 'first push');
$wa = waiting_on('other');
ok($wa, "its part waits on worker " . ($wa // '?'));
my ($wb) = grep { $_ != ($wa // 0) } @workers;
kill 'STOP', $wa;
my $bg = push_stream_bg($in, rtmp_url('live', 'other'), realtime => 1);
my $asked = wait_for(sub {
    log_lines(qr{"live/other": its part 1 waits on worker \Q$wa\E, }
              . qr{asked to hand it over});
}, 20);
kill 'CONT', $wa;
ok($asked, "worker $wb asks worker $wa for the part");
is(wait_push($bg, 60), 0, "second push, on worker $wb");

@f = wait_files('store', qr{/live/other/.*\.(mp4|flv|aac)$}, 3, 30);
is(scalar @f, 3, 'one mp4, flv and aac');
for my $f (grep { /\.(mp4|flv)$/ } @f) {
    is(probe_counts($f)->{video}, 2 * $c->{video},
       "$f: both pushes' video");
}
is(probe_counts((grep { /\.aac$/ } @f)[0] // '')->{audio}, 2 * $c->{audio},
   'aac: both pushes\' audio');
my @done;
wait_for(sub { (@done = done_events('other')) >= 3 }, 10);
sleep 1;
@done = done_events('other');
is(scalar @done, 3, 'record_done once per file');
is_deeply([sort map { "$_->{file_format} $_->{part} $_->{end_reason}" }
           @done],
          ['aac 1 unpublish', 'flv 1 unpublish', 'mp4 1 unpublish'],
          'part 1 only, ended by its window');
is(scalar(events('record_started', 'other')),
   scalar(events('record_started', 'same')),
   'record_started as for one part on one worker');
is_deeply([pids_of(qr{"live/other" part 1 "[^"]+" handed over at })],
          [$wa], 'the owner handed it over');
is_deeply([pids_of(qr{"live/other" part 1 "[^"]+" taken over from }
                   . qr{worker \Q$wa\E at })],
          [$wb], 'the other worker took it over');
is_deeply([pids_of(qr{"live/other" part "[^"]+" ends: no publisher })],
          [$wb], 'and ended it at its window');
is_deeply([pids_of(qr{"live/other" part \d+ mp4 done})], [$wb],
          'the mp4 finished by the taker');

# 2b. the publish on the other worker ends before the owner answers (its
#     worker stopped until then): its frames wait with the request and go
#     on in the part once it is taken over

is(push_stream($in, rtmp_url('live', 'brief')), 0, 'first push');
$wa = waiting_on('brief');
ok($wa, "its part waits on worker " . ($wa // '?'));
($wb) = grep { $_ != ($wa // 0) } @workers;
kill 'STOP', $wa;
my $rc2 = push_stream($in, rtmp_url('live', 'brief'));
my $kept = wait_for(sub {
    log_lines(qr{"live/brief": the publish ended before its part 1 was }
              . qr{taken over from worker \Q$wa\E: its \d+ frames wait});
}, 20);
kill 'CONT', $wa;
is($rc2, 0, "second push, on worker $wb, over before the answer");
ok($kept, 'its frames wait for the part');
@f = wait_files('store', qr{/live/brief/.*\.(mp4|flv|aac)$}, 3, 30);
is(scalar @f, 3, 'one mp4, flv and aac');
is_deeply([map { probe_counts($_)->{video} } grep { /\.(mp4|flv)$/ } @f],
          [2 * $c->{video}, 2 * $c->{video}], 'mp4, flv: both pushes\' video');
is(probe_counts((grep { /\.aac$/ } @f)[0] // '')->{audio}, 2 * $c->{audio},
   'aac: both pushes\' audio');
wait_for(sub { (@done = done_events('brief')) >= 3 }, 10);
sleep 1;
@done = done_events('brief');
is_deeply([sort map { "$_->{file_format} $_->{part} $_->{end_reason}" }
           @done],
          ['aac 1 unpublish', 'flv 1 unpublish', 'mp4 1 unpublish'],
          'part 1 only, once per file');
is_deeply([pids_of(qr{"live/brief" part "[^"]+" ends: no publisher })],
          [$wb], 'ended at its window by the worker that took it over');

# 3. the owner does not answer within 1 s (stopped for the whole push): a
#    new part on the other worker, the waiting one ends at its window

is(push_stream($in, rtmp_url('live', 'late')), 0, 'first push');
$wa = waiting_on('late');
ok($wa, "its part waits on worker " . ($wa // '?'));
($wb) = grep { $_ != ($wa // 0) } @workers;
is(push_on($wb, 'late', realtime => 1), 0, "second push, on worker $wb");

@f = wait_files('store', qr{/live/late/.*\.(mp4|flv|aac)$}, 6, 30);
is(scalar @f, 6, 'two of each format');
for my $ext (qw(mp4 flv aac)) {
    my @e = grep { /\.$ext$/ } @f;
    my $track = $ext eq 'aac' ? 'audio' : 'video';
    is_deeply([map { probe_counts($_)->{$track} } @e],
              [$c->{$track}, $c->{$track}], "$ext: one push in each");
}
my %ended = map { $_ => 1 }
            pids_of(qr{"live/late" part "[^"]+" ends: no publisher }
                    . qr{within live_record_continue on this worker});
is_deeply([sort keys %ended], [sort($wa, $wb)],
          'each part ended with its window, on its own worker');
wait_for(sub { (@done = done_events('late')) >= 6 }, 10);
sleep 1;
@done = done_events('late');
is(scalar @done, 6, 'record_done once per file');
is(scalar(grep { $_->{end_reason} eq 'unpublish' } @done), 6,
   'end_reason unpublish for both parts');
is_deeply([sort map { "$_->{file_format} $_->{part}" } @done],
          ['aac 1', 'aac 2', 'flv 1', 'flv 2', 'mp4 1', 'mp4 2'],
          'parts 1 and 2: the new part is numbered after the waiting one');
my %sid = map { $_->{session_id} => 1 } @done;
is(scalar keys %sid, 1, '... of one session');
is_deeply([pids_of(qr{"live/late": its part 1 waits on worker \Q$wa\E, }
                   . qr{which finishes it when its window ends \(not }
                   . qr{handed over: no answer within 1000 ms\); this }
                   . qr{worker goes on at part 2 of session })],
          [$wb], 'the other worker says why and where the part waits, once');
my %by = map { $_ => 1 } pids_of(qr{"live/late" part \d+ mp4 done});
is_deeply([sort keys %by], [sort($wa, $wb)],
          'each worker finished its own part');

# the metric counts the two parts taken over (cases 2 and 2b) and the one
# not (case 3), whichever worker answers the scrape

my $m = HTTP::Tiny->new->get('http://127.0.0.1:' . port('HTTP')
                             . '/metrics')->{content} // '';
is(join(' ', $m =~ /^live_record_handovers_total\{result="(\w+)"\} (\d+)$/mg),
   'taken 2 not_taken 1', 'live_record_handovers_total: 2 taken, 1 not');

# 4. the worker that took the part over is killed (-9) while it writes
#    it: the part is recovered once, by the worker left, with the frames
#    of both pushes that reached the disk

sub recorded {
    my ($name) = @_;
    my ($flv) = find_files(prefix() . '/work', qr{/\Q$name\E-[^/]*\.flv$});
    my @v = $flv ? probe_video_packets($flv) : ();
    return @v ? $v[-1]{dts_time} + 0 : 0;
}

is(push_stream($in, rtmp_url('live', 'crash')), 0, 'first push');
$wa = waiting_on('crash');
ok($wa, "its part waits on worker " . ($wa // '?'));
($wb) = grep { $_ != ($wa // 0) } @workers;
my $first = recorded('crash');
kill 'STOP', $wa;
$bg = push_stream_bg($in, rtmp_url('live', 'crash'), realtime => 1);
$asked = wait_for(sub {
    log_lines(qr{"live/crash": its part 1 waits on worker \Q$wa\E, }
              . qr{asked to hand it over});
}, 20);
kill 'CONT', $wa;
ok($asked && wait_for(sub { recorded('crash') >= $first + 1.5 }, 20),
   "worker $wb took the part over and writes it")
    or diag('recorded ' . recorded('crash') . " s, first push $first s");
kill 'KILL', $wb;
wait_push($bg, 20);

@f = wait_files('store', qr{/live/crash/.*\.(mp4|flv|aac)$}, 3, 40);
is(scalar @f, 3, 'one mp4, flv and aac');
my $v = probe_counts((grep { /\.mp4$/ } @f)[0] // '')->{video} // 0;
ok($v > $c->{video} && $v < 2 * $c->{video},
   "mp4: the first push's $c->{video} frames and some of the second's "
   . "($v)");
wait_for(sub { (@done = done_events('crash')) >= 3 }, 10);
sleep 1;
@done = done_events('crash');
is_deeply([sort map { "$_->{file_format} $_->{part} $_->{end_reason}" }
           @done],
          ['aac 1 recovered', 'flv 1 recovered', 'mp4 1 recovered'],
          'part 1 recovered, announced once per file');

is(scalar(find_files(prefix() . '/work', qr/\.(mp4|flv|aac)$/)), 0,
   'nothing left in the work path');
is(scalar(find_files(prefix(), qr/\.handover$/)), 0,
   'no hand-over file left');

$rcv->stop;
no_alerts(allow => qr/worker process \d+ exited on signal 9/);
