#!/usr/bin/perl

# The HTTP API's record tasks and live view: tokens, validation, a task
# created through one worker recording a stream held by another, tasks
# and templates sharing one recorder per format, stop and end_time closing
# the part with "task_end", tasks surviving a restart, /streams.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 118;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::Receiver;

my $TOKEN = 'api-token-' . $$;
my $in = make_media(duration => 12);
my $short = make_media(duration => 4);

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4;
    }
    live_record_template th {
        live_record_formats mp4 hls;
        live_record_hls_fragment 1s;
    }
    live_record_template t2 {
        live_record_formats mp4 flv;
        live_record_path $app/$name/t2-$part;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=tasks-key;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application tasks {
            live on;
            live_record_tasks on;
        }
        application both {
            live on;
            live_record t;
        }
        application hls {
            live on;
            live_record th;
        }
        application plain {
            live on;
        }
    }
}

http {
    access_log off;
    live_record_api_zone 2m;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;
        client_max_body_size 1m;

        location /api/ {
            live_record_api;
            live_record_api_token_file %%PREFIX%%/token;
            add_header X-Worker $pid always;
        }
        location /open/ {
            live_record_api;
        }
    }
}
EOF

my @dirs = qw(store work index spool);
my $token_file = prefix() . '/token';
open my $tfh, '>', $token_file or die "token: $!";
print $tfh "$TOKEN\n";
close $tfh;

start_nginx(conf => $conf, dirs => \@dirs, workers => 2);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => 'tasks-key');
my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);

sub done_events {
    my ($stream) = @_;
    return grep { $_->{event_type} eq 'record_done'
                  && $_->{stream_id} eq $stream }
           map { eval { decode_json($_->{body}) } || {} } $rcv->requests;
}

sub wait_done {
    my ($stream, $n, $timeout) = @_;
    my @e;
    wait_for(sub { @e = done_events($stream); @e >= $n }, $timeout // 20);
    return @e;
}

# 1. tokens: nothing is open by default

my ($st, $j) = $api->call(GET => '/api/tasks', undef, token => undef);
is($st, 401, 'no token: 401');
is($j->{code}, 'unauthorized', 'no token: code');
($st, $j) = $api->call(GET => '/api/tasks', undef, token => 'wrong');
is($st, 403, 'wrong token: 403');
is($j->{code}, 'forbidden', 'wrong token: code');
($st, $j) = $api->call(GET => '/open/tasks', undef);
is($st, 401, 'no live_record_api_token_file: 401 even with a token');
($st, $j) = $api->call(GET => '/api/tasks');
is($st, 200, 'right token: 200');
is_deeply($j->{tasks}, [], 'no tasks yet');

# 2. bad requests change nothing

my $now = time;
my %ok = (app => 'tasks', stream => 'cam', end_time => int($now) + 60);

my @bad = (
    [ '{"app": "tasks", ', 400, 'invalid_json', 'bad JSON' ],
    [ '[1, 2]', 400, 'invalid_json', 'not an object' ],
    [ { %ok, colour => 'red' }, 400, 'unknown_field', 'unknown field' ],
    [ { app => 'tasks', stream => 'cam' }, 400, 'invalid_field',
      'no end_time' ],
    [ { %ok, stream => '../x' }, 400, 'invalid_field', '../ in a name' ],
    [ { %ok, app => 7 }, 400, 'invalid_field', 'app not a string' ],
    [ { %ok, end_time => int($now) + 25 * 3600 }, 400, 'invalid_window',
      'window over 24 h' ],
    [ { %ok, start_time => int($now) + 8 * 86400,
        end_time => int($now) + 8 * 86400 + 60 }, 400, 'invalid_window',
      'start over 7 days ahead' ],
    [ { %ok, end_time => int($now) - 10 }, 400, 'invalid_window',
      'end in the past' ],
    [ { %ok, template => 'nope' }, 400, 'unknown_template',
      'unknown template' ],
    [ { %ok, app => 'nope' }, 400, 'unknown_app', 'unknown application' ],
    [ { %ok, app => 'plain' }, 400, 'unknown_app',
      'an application where tasks do not record' ],
    [ { %ok, extension => { blob => 'x' x 5000 } }, 400, 'invalid_field',
      'extension too long' ],
    [ '{"app": "' . ('a' x 100_000) . '"}', 413, 'body_too_large',
      'huge body' ],
);

for my $b (@bad) {
    my ($body, $want, $code, $name) = @$b;
    ($st, $j) = $api->call(POST => '/api/tasks', $body);
    is($st, $want, "$name: $want");
    is($j && $j->{code}, $code, "$name: code $code");
}

($st, $j) = $api->call(GET => '/api/tasks/..%2F..%2Fetc');
ok($st >= 400 && $st < 500, '../ in a task id: 4xx');
($st, $j) = $api->call(POST => '/api/tasks/..x/stop');
is($j && $j->{code}, 'invalid_id', 'a task id starting with a dot: 400');
($st, $j) = $api->call(GET => '/api/tasks?colour=red');
is($j && $j->{code}, 'unknown_parameter', 'unknown query parameter');
($st, $j, my $put) = $api->call(PUT => '/api/tasks', '{}');
is($st, 405, 'PUT: 405');
is($put->{headers}{allow}, 'GET, HEAD, POST', 'Allow names the methods');
($st, $j) = $api->call(GET => '/api/tasks/1234-abcd');
is($st, 404, 'unknown task: 404');
($st, $j) = $api->call(GET => '/api/tasks');
is_deeply($j->{tasks}, [], 'bad requests created nothing');

# 3. a task for a stream that is not live yet, in an application with no
# template: created through one worker, the stream lands on either

($st, $j) = $api->call(POST => '/api/tasks', {
    app => 'tasks', stream => 'cam', end_time => time + 7,
    extension => { order => 42, tag => 'x' } });
is($st, 201, 'task created');
my $task = $j;
like($task->{task_id}, qr/^\d{13}-[0-9a-f]{8}$/, 'task id');
is($task->{state}, 'active', 'active at once');
is_deeply($task->{extension}, { order => 42, tag => 'x' }, 'extension');

my $pid = push_stream_bg($in, rtmp_url('tasks', 'cam'), realtime => 1);

my $live;
wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/tasks/cam');
    $st == 200 && $live->{recording};
}, 10);
is($st, 200, '/streams/tasks/cam while live');
ok($live->{recording}, 'recording');
is_deeply($live->{plan}{tasks}, [ $task->{task_id} ], 'plan names the task');
ok(!defined $live->{plan}{template}, 'plan: no template rule');
like($live->{plan}{why}, qr/task "\Q$task->{task_id}\E"/, 'plan: why');
is_deeply($live->{formats}, ['mp4'], 'formats');

my @done = wait_done('cam', 1, 20);
is(scalar @done, 1, 'part closed before the publisher stopped');
my $e = $done[0] || {};
is($e->{end_reason}, 'task_end', 'end_reason task_end');
is($e->{task_id}, $task->{task_id}, 'task_id in the callback');
is_deeply($e->{extension}, { order => 42, tag => 'x' },
          'extension echoed');
is_deeply($e->{sources}, [ { type => 'task',
                             task_id => $task->{task_id},
                             template => 't' } ],
          'sources: the task, with the first template');
ok(probe_ok($e->{path}), 'playable');
ok($e->{duration} > 2 && $e->{duration} < 7.5, 'cut at end_time')
    or diag "duration $e->{duration}";

is(wait_push($pid, 30), 0, 'publisher went on');
sleep 1.5;
is(scalar done_events('cam'), 1, 'nothing recorded after end_time');
($st, $j) = $api->call(GET => "/api/tasks/$task->{task_id}");
is($j->{state}, 'ended', 'task ended');

# 4. template and task on one stream: one recorder per format, the task's
# template settles, every file names both sources

($st, $j) = $api->call(POST => '/api/tasks', {
    app => 'both', stream => 'dup', end_time => time + 120,
    template => 't2', extension => 'ext-2' });
is($st, 201, 'task with template t2');
my $t2 = $j;

($st, $live) = $api->call(GET => '/api/streams/both/dup');
is($st, 404, 'not live yet: 404');

is(push_stream($short, rtmp_url('both', 'dup')), 0, 'push to both/dup');
@done = wait_done('dup', 2, 20);
is(scalar @done, 2, 'two files');
is_deeply([ sort map { $_->{file_format} } @done ], [qw(flv mp4)],
          'one mp4 and one flv');
my @src = ( { type => 'template', template => 't', rule => 'application' },
            { type => 'task', task_id => $t2->{task_id},
              template => 't2' } );
is_deeply($done[0]{sources}, \@src, 'first file names both sources');
is_deeply($done[1]{sources}, \@src, 'second file names both sources');
is($done[0]{template}, 't2', "the task's template settles");
like($done[0]{path}, qr{/t2-1\.(mp4|flv)$}, "the task template's path");
is($done[0]{extension}, 'ext-2', 'extension echoed');
is(scalar(find_files(prefix() . '/store', qr{/dup/.*\.mp4$})), 1,
   'exactly one mp4');
ok(log_lines(qr/both\/dup": template "t" and task "\Q$t2->{task_id}\E" both record it/),
   'logged which settles');

# 4b. a task joining the template's recorder with the same template
# extends it; its end closes the part, and the template goes on alone

$pid = push_stream_bg($in, rtmp_url('both', 'ext'), realtime => 1);
wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/both/ext');
    $live && $live->{recording};
}, 10);
sleep 1;
($st, $j) = $api->call(POST => '/api/tasks', {
    app => 'both', stream => 'ext', template => 't', end_time => time + 4 });
my $ext = $j;
wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/both/ext');
    @{ $live->{plan}{tasks} || [] };
}, 5);
is($live->{part}, 1, 'the task joined the part being recorded');
my ($sidecar) = grep { /"stream_id":"ext"/ }
                map { open my $sfh, '<', $_; local $/; <$sfh> // '' }
                find_files(prefix() . '/spool/open', qr/\.json$/);
like($sidecar // '', qr/"task_id":"\Q$ext->{task_id}\E"/,
     'the sidecar names the task too, for a recovery');
is(wait_push($pid, 30), 0, 'push to both/ext');
@done = sort { $a->{part} <=> $b->{part} } wait_done('ext', 2, 15);
is(scalar @done, 2, 'two parts');
is_deeply([ map { $_->{end_reason} } @done ], [qw(task_end unpublish)],
          'cut where the task ended, then unpublish');
is_deeply($done[0]{sources},
          [ { type => 'template', template => 't', rule => 'application' },
            { type => 'task', task_id => $ext->{task_id},
              template => 't' } ],
          'the first part names the template and the task');
is($done[0]{task_id}, $ext->{task_id}, 'and carries the task id');
is_deeply($done[1]{sources},
          [ { type => 'template', template => 't', rule => 'application' } ],
          'the second part only the template');
ok(!defined $done[1]{task_id}, 'and no task id');

# 4c. the same with hls: the task's end ends its playlist too

$pid = push_stream_bg($in, rtmp_url('hls', 'h'), realtime => 1);
wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/hls/h');
    $live && $live->{recording};
}, 10);
sleep 1;
($st, $j) = $api->call(POST => '/api/tasks', {
    app => 'hls', stream => 'h', end_time => time + 4 });
my $th = $j;
is(wait_push($pid, 30), 0, 'push to hls/h');
@done = wait_done('h', 4, 15);
my %by = map { ("$_->{file_format} $_->{end_reason}" => $_) } @done;
is_deeply([ sort keys %by ],
          [ 'hls task_end', 'hls unpublish', 'mp4 task_end',
            'mp4 unpublish' ], 'mp4 and hls both end with the task');
is($by{'hls task_end'}{task_id}, $th->{task_id}, 'the task named the hls');
ok(!defined $by{'hls unpublish'}{task_id}, 'the next playlist does not');

# 5. a stream live before its task's window: recorded from the start,
# until the task is stopped

($st, $j) = $api->call(POST => '/api/tasks', {
    app => 'tasks', stream => 'late', start_time => time + 3,
    end_time => time + 60 });
my $late = $j;
is($late->{state}, 'scheduled', 'scheduled');

my $start = time;
$pid = push_stream_bg($in, rtmp_url('tasks', 'late'), realtime => 1);

wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/tasks/late');
    $st == 200;
}, 10);
ok(!$live->{recording}, 'live but not recorded before the window');
like($live->{plan}{why}, qr/nothing to record/, 'plan says why');

wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/tasks/late');
    $live->{recording};
}, 10);
ok($live->{recording}, 'recording once the window opens');
sleep 3;
($st, $j) = $api->call(POST => "/api/tasks/$late->{task_id}/stop");
is($st, 200, 'stop');
is($j->{state}, 'stopped', 'stopped');

@done = wait_done('late', 1, 15);
$e = $done[0] || {};
is($e->{end_reason}, 'task_end', 'stop closes the part: task_end');
ok($e->{start_time_ms} >= 1000 * ($late->{start_time}) - 1000,
   'not recorded before start_time');
ok($e->{duration} >= 2 && $e->{duration} < 8, 'recorded while active')
    or diag "duration $e->{duration}";
is(wait_push($pid, 30), 0, 'publisher went on');

# 5b. a task created through the worker that does not hold the stream

$pid = push_stream_bg($in, rtmp_url('tasks', 'xw'), realtime => 1);
wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/tasks/xw');
    $st == 200;
}, 10);
my $holder = $live->{worker_pid} // 0;
my ($other, $via);
for (1 .. 100) {
    my $c = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);
    my (undef, undef, $r) = $c->call(GET => '/api/streams');
    $via = $r->{headers}{'x-worker'} // 0;
    if ($via != $holder) {
        $other = $c;
        last;
    }
}
ok($other, "a connection to the worker not holding the stream ($holder)");
$other //= $api;
($st, $j, my $r) = $other->call(POST => '/api/tasks', {
    app => 'tasks', stream => 'xw', end_time => time + 4 });
is($st, 201, 'task created through the other worker');
isnt($r->{headers}{'x-worker'}, $holder, 'served by the other worker');
@done = wait_done('xw', 1, 15);
is($done[0] && $done[0]{task_id}, $j->{task_id},
   'recorded by the worker holding the stream');
is($done[0] && $done[0]{end_reason}, 'task_end', 'until end_time');
is(wait_push($pid, 30), 0, 'publisher went on');

# 6. listing

($st, $j) = $api->call(GET => '/api/tasks?app=tasks');
is(scalar @{ $j->{tasks} }, 3, 'list by app');
($st, $j) = $api->call(GET => '/api/tasks?app=tasks&stream=late');
is_deeply([ map { $_->{task_id} } @{ $j->{tasks} } ], [ $late->{task_id} ],
          'list by stream');
($st, $j) = $api->call(GET => '/api/tasks?from=' . int(time + 3600));
is(scalar @{ $j->{tasks} }, 0, 'list by window: none an hour ahead');

# 7. tasks survive a restart; a delete too

stop_nginx();
start_nginx(conf => $conf, dirs => \@dirs, workers => 2);

($st, $j) = $api->call(GET => "/api/tasks/$t2->{task_id}");
is($st, 200, 'task back after restart');
is_deeply([ @$j{qw(app stream template extension end_time)} ],
          [ @$t2{qw(app stream template extension end_time)} ],
          'with its fields');
($st, $j) = $api->call(GET => "/api/tasks/$late->{task_id}");
is($j->{state}, 'stopped', 'still stopped');

($st, $j) = $api->call(DELETE => "/api/tasks/$t2->{task_id}");
is($st, 200, 'delete');
is($j->{deleted}, $t2->{task_id}, 'deleted id');
($st, $j) = $api->call(DELETE => "/api/tasks/$t2->{task_id}");
is($st, 404, 'delete again: 404');

stop_nginx();
my $master = start_nginx(conf => $conf, dirs => \@dirs, workers => 2);
($st, $j) = $api->call(GET => "/api/tasks/$t2->{task_id}");
is($st, 404, 'a deleted task stays deleted after a restart');

# 8. a reload keeps the zone, and the tasks in it

($st, $j) = $api->call(POST => '/api/tasks', {
    app => 'tasks', stream => 'reload', end_time => time + 600 });
my $kept = $j;
kill 'HUP', $master;
ok(wait_for(sub { scalar log_lines(qr/reconfiguring/) }, 10), 'reloaded');
sleep 1;
($st, $j) = $api->call(GET => "/api/tasks/$kept->{task_id}");
is($st, 200, 'task kept across a reload');
($st, $j) = $api->call(GET => '/api/tasks?app=tasks');
is(scalar @{ $j->{tasks} }, 4, 'all tasks kept across a reload');

# the API without a token file, and nginx resolving ../ out of /api/ to
# its default root (a 404, as the test wants)
$rcv->signatures_ok('notify of task parts (key=)');
no_alerts(allow => [
    qr/\[error\] .*api request refused: no live_record_api_token_file is configured, .*"GET \/open\/tasks /,
    qr/\[error\] .*open\(\) ".*\/html\/etc" failed \(2: .*"GET \/api\/tasks\/\.\.%2F\.\.%2Fetc /,
]);
$rcv->stop;
