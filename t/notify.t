#!/usr/bin/perl

# VOD handoff into the local store, index entries, playback URLs served by
# nginx, and signed notify callbacks that are retried, spooled across a
# restart and never sent twice once delivered.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(hmac_sha256_hex sha256_hex);
use Test::More tests => 75;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $KEY = 's3cret-key';
my $in = make_media(duration => 8);

my $conf = <<"EOF";
rtmp {
    live_record_template t {
        live_record_formats mp4 hls;
        live_record_hls_fragment 2s;
    }
    live_record_store local %%PREFIX%%/store url=http://127.0.0.1:%%PORT_HTTP%%/rec/;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_node_id test-node;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=$KEY timeout=2s;
        }
        application retry {
            live on;
            live_record t;
            live_record_notify http://127.0.0.1:%%PORT_RETRY%%/hook key=$KEY;
        }
    }
}

http {
    types {
        video/mp4                      mp4;
        application/vnd.apple.mpegurl  m3u8;
        video/mp2t                     ts;
    }
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;
        location /rec/ {
            alias %%PREFIX%%/store/;
            mp4;
        }
    }
}
EOF

my @dirs = qw(store work index spool);
start_nginx(conf => $conf, dirs => \@dirs);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'), key => $KEY);

sub events {
    my ($r, $type, $stream) = @_;
    return grep { $_->{event}{event_type} eq $type
                  && (!$stream || $_->{event}{stream_id} eq $stream) }
           map { { %$_, event => eval { decode_json($_->{body}) } || {} } }
           $r->requests;
}

sub wait_events {
    my ($r, $type, $stream, $n, $timeout) = @_;
    my @e;
    wait_for(sub { @e = events($r, $type, $stream); @e >= $n },
             $timeout // 15);
    return @e;
}

# 1. one push: record_started, then record_done with every field

my $pushed = time;
is(push_stream($in, rtmp_url('live', 'cam1')), 0, 'push');
my $ended = time;

my @done = wait_events($rcv, 'record_done', 'cam1', 2);
is(scalar @done, 2, 'record_done for mp4 and hls');
my ($mp4) = grep { $_->{event}{file_format} eq 'mp4' } @done;
my ($hls) = grep { $_->{event}{file_format} eq 'hls' } @done;
ok($mp4 && $hls, 'one event per format') or BAIL_OUT('no record_done');


my @started = events($rcv, 'record_started', 'cam1');
is(scalar @started, 2, 'record_started for each format');
ok($started[0]{t} <= $mp4->{t}, 'started before done');

my $e = $mp4->{event};
my $h = $mp4->{headers};
is($h->{'content-type'}, 'application/json', 'content type');
is($h->{'x-live-record-event-id'}, $e->{event_id}, 'event id header');
like($h->{'x-live-record-timestamp'}, qr/^\d{10}$/, 'timestamp header');
is($h->{'x-live-record-signature'},
   'sha256=' . hmac_sha256_hex("$h->{'x-live-record-timestamp'}."
                               . $mp4->{body}, $KEY),
   'signature verifies with the key');
ok(abs($h->{'x-live-record-timestamp'} - time) < 60, 'timestamp is fresh');

my $file = $e->{path} // '';
ok(-f $file, 'path names the stored file');
is($e->{file_size}, -s $file, 'file_size');
is($e->{sha256}, do { open my $fh, '<:raw', $file; local $/;
                      sha256_hex(<$fh> // '') }, 'sha256');
ok(abs($e->{duration} - probe_duration($file)) < 0.3, 'duration')
    or diag "$e->{duration} vs " . probe_duration($file);
is($e->{app}, 'live', 'app');
is($e->{stream_id}, 'cam1', 'stream_id');
is($e->{part}, 1, 'part');
is($e->{end_reason}, 'unpublish', 'end_reason');
is_deeply([@$e{qw(video_codec audio_codec width height)}],
          ['h264', 'aac', 320, 240], 'codecs and size');
ok($e->{start_time} >= int($pushed) - 1 && $e->{end_time} <= $ended + 1,
   'start and end wall clock');
ok($e->{end_time_ms} >= $e->{start_time_ms}
   && $e->{end_time_ms} - $e->{start_time_ms} < 1000 * ($ended - $pushed + 1),
   'end - start: wall clock of the first and last frame, not media time');
like($e->{file_id}, qr/^\d{13}-test-node-\d+-\d+-mp4$/,
     'file_id: time-sortable, node id');
ok(exists $e->{task_id} && !defined $e->{task_id}, 'task_id null');
like($e->{session_id}, qr/\S/, 'session_id');
is($e->{session_id}, $hls->{event}{session_id}, 'one session');
is($e->{event_type}, 'record_done', 'event_type');

# 2. the index entry

my $entry = prefix() . "/index/live/cam1/$e->{file_id}.json";
ok(-f $entry, 'index entry in INDEX/APP/STREAM/FILE_ID.json');
index_ok($entry, part => 1, session_id => $e->{session_id},
         end_reason => 'unpublish', event => $e, name => 'cam1 mp4');
index_ok(prefix() . "/index/live/cam1/$hls->{event}{file_id}.json",
         part => 1, session_id => $e->{session_id}, event => $hls->{event},
         name => 'cam1 hls');

# 3. the playback URLs play, and MP4 seeks

like($e->{video_url}, qr{^http://127\.0\.0\.1:\d+/rec/live/cam1/.*\.mp4$},
     'mp4 video_url');
ok(probe_ok($e->{video_url}), 'mp4 plays over http');
my $full = probe_duration($e->{video_url});
my $seek = probe_duration("$e->{video_url}?start=4");
ok($seek > 0 && abs(($full - $seek) - 4) <= 2.1,
   'mp4 ?start=4 seeks') or diag "$full vs $seek";
like($hls->{event}{video_url}, qr{/index\.m3u8$}, 'hls video_url');
is(probe_counts($hls->{event}{video_url})->{video},
   probe_counts($in)->{video}, 'hls plays over http');

# 4. a short push is skipped, and says so

is(push_stream(make_media(duration => 1), rtmp_url('live', 'short')), 0,
   'short push');
my @skip = wait_events($rcv, 'record_skipped', 'short', 1);
ok(@skip >= 1, 'record_skipped');
is($skip[0]{event}{reason}, 'min_duration', 'reason min_duration');

# 5. 500 twice, then 200: delivered once, same event id each time

my $flaky = LiveRecord::Receiver->start(port => port('RETRY'),
                                        fail_first => 2, key => $KEY);
is(push_stream($in, rtmp_url('retry', 'cam2')), 0, 'push to retry app');
my @tries = wait_events($flaky, 'record_done', 'cam2', 6, 30);
sleep 2;
@tries = events($flaky, 'record_done', 'cam2');
my %by_id;
push @{ $by_id{$_->{headers}{'x-live-record-event-id'}} }, $_->{status}
    for @tries;
is(scalar keys %by_id, 2, 'two record_done events');
is_deeply([map { $by_id{$_} } sort keys %by_id],
          [[500, 500, 200], [500, 500, 200]],
          'each: two 500s, one 200, then nothing');
ok(scalar(log_lines(qr/\[warn\].*notify event .* failed \(status 500\)/))
   >= 4, 'one warn line per failed attempt, naming the status');
ok(scalar(log_lines(qr/notify event .* delivered .* attempt 3/)) >= 2,
   'delivery logged with the attempt');

# 6. receiver down, nginx restarted, receiver up: delivered

# the receiver's log goes with it: what it got is checked now
my %done = map { $_->{event}{file_id} => $_->{event} }
           events($rcv, 'record_done'), events($flaky, 'record_done');
$rcv->signatures_ok('notify (key=)');
$flaky->signatures_ok('notify retried after 500s (key=)');
$rcv->stop;
is(push_stream($in, rtmp_url('live', 'cam3')), 0, 'push while down');
ok(wait_for(sub { log_lines(qr/notify event .* failed/) >= 6 }, 10),
   'attempts fail while the receiver is down');
my @spooled = find_files(prefix() . '/spool', qr/\.json$/);
ok(@spooled >= 2, 'events wait in the spool');
stop_nginx();
start_nginx(conf => $conf, dirs => \@dirs);
$rcv = LiveRecord::Receiver->start(port => port('NOTIFY'), key => $KEY);
my @late = wait_events($rcv, 'record_done', 'cam3', 2, 30);
is(scalar @late, 2, 'record_done delivered after the restart');
ok(scalar(log_lines(qr/spooled notify event .* resent/)) >= 2,
   'replay logged');
ok(wait_for(sub { !find_files(prefix() . '/spool', qr/\.json$/) }, 10),
   'spool empty once delivered');
sleep 2;
is(scalar(events($rcv, 'record_done', 'cam3')), 2, 'nothing sent twice');
is(scalar(find_files(prefix() . '/spool/dead', qr/./)), 0,
   'no dead letters');

# 7. close -> notify latency: publishers killed mid-stream

my @lat;
for my $i (1 .. 5) {
    my $pid = push_stream_bg($in, rtmp_url('live', "lat$i"), realtime => 1);
    # killed once 4 s are recorded, well past live_record_min_duration:
    # its third 2 s hls segment has begun (a fixed 3 s was too little for
    # a slow ffmpeg start on a loaded machine)
    wait_for(sub { find_files(prefix() . "/work/live/lat$i", qr{/2\.ts$}) },
             20) or diag "lat$i: no third hls segment in the work path";
    kill 'KILL', $pid;
    my $killed = time;
    wait_push($pid);
    my ($d) = wait_events($rcv, 'record_done', "lat$i", 1);
    push @lat, 1000 * (($d ? $d->{t} : time + 99) - $killed);
}
@lat = sort { $a <=> $b } @lat;
diag(sprintf 'close -> record_done latency over 5 kills (local store): '
     . 'min %.0f ms, median %.0f ms, max %.0f ms', @lat[0, 2, 4]);
ok($lat[4] < 10000, 'every killed publisher announced');

# 8. the whole cycle left nothing in the work path

is(scalar(find_files(prefix() . '/work', qr/./)), 0, 'work path empty');
ok(-d prefix() . '/index/live/cam3', 'cam3 indexed');
is(scalar(find_files(prefix() . '/index/live/short', qr/./)), 0,
   'a skipped part has no index entry');

# every entry the run made: its file's and its record_done's

%done = (%done, map { $_->{event}{file_id} => $_->{event} }
                events($rcv, 'record_done'));
is_deeply([sort map { m{/([^/]+)\.json$} } find_files(prefix() . '/index', qr/\.json$/)],
          [sort keys %done], 'an index entry for each record_done (16)');
index_ok(prefix() . "/index/$done{$_}{app}/$done{$_}{stream_id}/$_.json",
         part => 1, event => $done{$_}, name => $done{$_}{stream_id}
         . " $done{$_}{file_format}")
    for sort keys %done;
$rcv->signatures_ok('notify spooled across a restart (key=)');

$rcv->stop;
$flaky->stop;

no_alerts();
