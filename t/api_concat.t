#!/usr/bin/perl

# POST /concat: the three parts of a session (a 150 s push cut every
# minute) joined into one MP4 without re-encoding: as many frames as the
# parts, their total duration, timestamps increasing, the index at the
# front; indexed as a file of its own (end_reason concat, its sources) and
# announced by concat_done; its job seen from either worker.  Parts of
# three pushes given out of order are joined in time order, flv parts
# too.  Parts that differ (another resolution) are refused with a 400
# naming the difference; bad requests are 4xx and change nothing; parts
# that are not local files (an http store) are 409, kept ones are joined
# and the result uploaded.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use List::Util qw(sum);
use Test::More tests => 126;
use Time::HiRes qw(sleep);
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::Receiver;

my $TOKEN = 'concat-token-' . $$;
my $in = make_media(duration => 4);
my $long = make_media(duration => 150);
my $wide = do {
    my $f = prefix() . '/../media/640x360-4s.flv';
    system('ffmpeg', qw(-hide_banner -loglevel error -nostdin -y -f lavfi
        -i testsrc=size=640x360:rate=25 -f lavfi
        -i sine=frequency=440:sample_rate=44100 -t 4 -c:v libx264
        -preset superfast -g 50 -pix_fmt yuv420p -c:a aac -b:a 64k -f flv),
        "$f.tmp") == 0 && rename("$f.tmp", $f) unless -s $f;
    $f;
};

my $conf = <<'EOF2';
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_interval 1m;
        live_record_path $app/$name/%Y%m%d/$name-%Y%m%d%H%M%S-$part;
    }
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key_file=%%PREFIX%%/key;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_store local %%PREFIX%%/store url=http://vod.example/rec;
        }
        application remote {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_STORE%%/ingest path=%%PREFIX%%/remote;
        }
        application kept {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_STORE%%/ingest path=%%PREFIX%%/kept;
            live_record_keep_local on;
        }
    }
}

http {
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;

        location /api/ {
            live_record_api;
            live_record_api_token_file %%PREFIX%%/token;
        }
    }
}
EOF2

my $p = prefix();
for (['token', $TOKEN], ['key', 'notify-key']) {
    open my $fh, '>', "$p/$_->[0]" or die "$_->[0]: $!";
    print $fh "$_->[1]\n";
    close $fh;
}

port('STORE');
start_nginx(conf => $conf, dirs => [qw(store remote kept work index spool)],
            workers => 2);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => 'notify-key');
my $store = LiveRecord::Receiver->start(port => port('STORE'));
my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);

sub entries {
    my ($stream) = @_;
    my @e;
    for my $f (find_files("$p/index", qr/\.json$/)) {
        open my $fh, '<', $f or next;
        local $/;
        my $j = eval { decode_json(<$fh>) } or next;
        push @e, $j if !defined $stream || $j->{stream_id} eq $stream;
    }
    return sort { $a->{start_time_ms} <=> $b->{start_time_ms}
                  || $a->{file_id} cmp $b->{file_id} } @e;
}

sub state {
    return join "\n", map { $_ . ' ' . (-s $_) }
                      find_files("$p/store"), find_files("$p/index");
}

sub events {
    my ($type) = @_;
    return grep { ($_->{event_type} // '') eq $type }
           map { eval { decode_json($_->{body}) } || {} } $rcv->requests;
}

sub wait_job {
    my ($id) = @_;
    my $j;
    wait_for(sub {
        (undef, $j) = $api->call(GET => "/api/concat/$id");
        ($j->{state} // '') =~ /^(done|failed)$/;
    }, 60);
    return $j;
}

# 1. a session of three parts: 150 s pushed at once, cut at 60 and 120 s;
# three pushes of 4 s to another stream

is(push_stream($long, rtmp_url('live', 'cam')), 0, 'push 150 s');
ok(wait_for(sub { my @e = entries('cam'); @e >= 6 }, 30),
   'six parts indexed (mp4 and flv)');
my @mp4 = grep { $_->{file_format} eq 'mp4' } entries('cam');
my @flv = grep { $_->{file_format} eq 'flv' } entries('cam');
is(scalar @mp4, 3, 'three mp4 parts');
for my $n (1 .. 3) {
    # 25 fps, a keyframe every 2 s: part n holds frames 1500(n-1)+1..1500n
    my ($e) = grep { $_->{part} == $n } @mp4;
    mp4_ok($e ? $e->{path} : undef, from => $long, name => "cam part $n",
           video_range => [1500 * ($n - 1) + 1, 1500 * $n]);
}
my $sid = $mp4[0]{session_id};
is(scalar(grep { $_->{session_id} eq $sid } @mp4, @flv), 6,
   'one session');

for my $n (1 .. 3) {
    is(push_stream($in, rtmp_url('live', 'short')), 0, "short push $n");
}

ok(wait_for(sub { my @e = entries('short'); @e >= 6 }, 20),
   'their parts indexed');
my @short = grep { $_->{file_format} eq 'mp4' } entries('short');
mp4_ok($short[$_ - 1] ? $short[$_ - 1]{path} : undef, from => $in,
       name => "short push $_") for 1 .. 3;

is(push_stream($in, rtmp_url('live', 'other')), 0, 'push another stream');
ok(wait_for(sub { my @e = entries('other'); @e >= 2 }, 20),
   'its parts indexed');
my ($other) = grep { $_->{file_format} eq 'mp4' } entries('other');

# 2. bad requests: 4xx, and nothing changes

my $before = state();
my $nosuch = '1234567890123-nosuch-1-1-mp4';
my @bad = (
    [ '{"file_ids": [', 400, 'invalid_json' ],
    [ '[]', 400, 'invalid_json' ],
    [ { file_ids => [ map { $_->{file_id} } @mp4 ], colour => 1 }, 400,
      'unknown_field' ],
    [ { file_ids => [ '../x', $mp4[0]{file_id} ] }, 400, 'invalid_field' ],
    [ { file_ids => [ 'a/b', $mp4[0]{file_id} ] }, 400, 'invalid_field' ],
    [ { session_id => '../../index' }, 400, 'invalid_field' ],
    [ { session_id => $sid, app => '../live' }, 400, 'invalid_field' ],
    [ {}, 400, 'invalid_field' ],
    [ { file_ids => [ $mp4[0]{file_id}, $mp4[1]{file_id} ],
        session_id => $sid }, 400, 'invalid_field' ],
    [ { file_ids => [ $mp4[0]{file_id} ] }, 400, 'invalid_field' ],
    [ { file_ids => "$mp4[0]{file_id},$mp4[1]{file_id}" }, 400,
      'invalid_field' ],
    [ { file_ids => [ $mp4[0]{file_id}, $mp4[0]{file_id} ] }, 400,
      'invalid_field' ],
    [ { file_ids => [ $mp4[0]{file_id}, 42 ] }, 400, 'invalid_field' ],
    [ { session_id => $sid, format => 'hls' }, 400, 'invalid_field' ],
    [ { file_ids => [ $mp4[0]{file_id}, $nosuch ] }, 404, 'not_found' ],
    [ { file_ids => [ $mp4[0]{file_id}, $flv[1]{file_id} ] }, 400,
      'invalid_format' ],
    [ { file_ids => [ $mp4[0]{file_id}, $other->{file_id} ] }, 400,
      'different_streams' ],
    [ { session_id => $sid, stream => 'other' }, 400, 'too_few_parts' ],
    [ { file_ids => [ $mp4[0]{file_id}, $short[0]{file_id} ] }, 400,
      'different_streams' ],
    [ { session_id => '1234567890123-1-1' }, 400, 'too_few_parts' ],
);

for my $b (@bad) {
    my ($st, $j) = $api->call(POST => '/api/concat', $b->[0]);
    my $what = ref $b->[0] ? JSON::PP->new->canonical->encode($b->[0])
                           : $b->[0];
    ok($st == $b->[1] && ($j->{code} // '') eq $b->[2],
       "$what: $b->[1] $b->[2]") or diag explain [$st, $j];
}

my ($st, $j) = $api->call(GET => '/api/concat/nosuch-job');
is($st, 404, 'GET /concat/unknown: 404');
($st, $j) = $api->call(GET => '/api/concat/.x');
is($st, 400, 'GET /concat/.x: 400');
($st, $j) = $api->call(DELETE => '/api/concat');
is($st, 405, 'DELETE /concat: 405');
($st, $j) = $api->call(GET => '/api/concat');
is_deeply($j->{jobs}, [], 'no jobs');
is(state(), $before, 'the store and the index are as they were');

# 3. the session joined

($st, $j) = $api->call(POST => '/api/concat', { session_id => $sid });
is($st, 202, 'POST /concat {"session_id"}: 202') or diag explain $j;
my $job = $j->{job_id} // '';
like($job, qr/^\d{13}-.+-\d+$/, 'a job id');
is_deeply($j->{file_ids}, [ map { $_->{file_id} } @mp4 ],
          'the mp4 parts, by time');

# whichever worker answers, the job is the same

my %seen;
for (1 .. 6) {
    (undef, $j) = $api->call(GET => "/api/concat/$job");
    $seen{$j->{job_id} // 'none'}++;
}
is_deeply([keys %seen], [$job], 'GET /concat/ID from any worker');

$j = wait_job($job);
is($j->{state}, 'done', 'the job is done') or diag explain $j;
diag(sprintf '3 parts, 150 s of media, joined in %d ms (queued to done)',
     ($j->{finished_ms} // 0) - ($j->{created_ms} // 0));
is($j->{progress}, 1, 'progress 1');
ok(!defined $j->{error}, 'no error');
my $fid = $j->{file_id} // '';

($st, my $e) = $api->call(GET => "/api/files/$fid");
is($st, 200, 'the result is a file of the index');
is($e->{end_reason}, 'concat', 'end_reason concat');
is($e->{file_format}, 'mp4', 'mp4');
is_deeply($e->{sources},
          [ map { { type => 'file', file_id => $_->{file_id} } } @mp4 ],
          'sources: the parts');
is($e->{session_id}, $sid, 'the session');
is($e->{start_time_ms}, $mp4[0]{start_time_ms}, 'starts with the first');
is($e->{end_time_ms}, $mp4[-1]{end_time_ms}, 'ends with the last');
ok(abs($e->{duration} - sum(map { $_->{duration} } @mp4)) < 0.0005,
   'duration: the sum of the parts\'');
my $out = $e->{path} // '';
ok(-f $out, 'the file is in the store');
like($out, qr{^\Q$p\E/store/live/cam/\d{8}/cam-\d{14}-1-concat\.mp4$},
     'next to the first part');
is($e->{file_size}, -s $out, 'file_size');
is($e->{sha256}, do { open my $fh, '<:raw', $out; local $/;
                      sha256_hex(<$fh> // '') }, 'sha256');
(my $rel = $out) =~ s{^\Q$p\E/store/}{};
is($e->{video_url}, "http://vod.example/rec/$rel", 'video_url');

# the media: every frame, each track as long as the parts' together

sub tracks {
    my ($file) = @_;
    my $j = probe($file, '-show_entries', 'stream=codec_type,duration');
    return { map { $_->{codec_type} => $_->{duration} }
             @{ $j ? $j->{streams} : [] } };
}

sub sums {
    my (@files) = @_;
    my %s = (video => 0, audio => 0, video_s => 0, audio_s => 0);
    for my $f (@files) {
        my $c = probe_counts($f);
        my $t = tracks($f);
        $s{$_} += $c->{$_} for qw(video audio);
        $s{"${_}_s"} += $t->{$_} // 0 for qw(video audio);
    }
    return \%s;
}

my $sum = sums(map { $_->{path} } @mp4);
my $c = probe_counts($out);
my $t = tracks($out);
is($c->{video}, $sum->{video}, "video frames: $sum->{video}, the parts' sum");
is($c->{audio}, $sum->{audio}, "audio frames: $sum->{audio}, the parts' sum");
ok(abs($t->{video} - $sum->{video_s}) < 0.001,
   "video $t->{video} s: the parts' $sum->{video_s} s");
ok(abs($t->{audio} - $sum->{audio_s}) < 0.05,
   "audio $t->{audio} s: the parts' $sum->{audio_s} s");
my $d = probe_duration($out) // 0;
my $dsum = sum(map { $_->{duration} } @mp4);
ok(abs($d - $dsum) < 0.1, "duration $d s: the parts' $dsum s");

sub monotonic {
    my ($file) = @_;
    my $j = probe($file, '-show_entries', 'packet=stream_index,dts_time');
    my (%last, $bad);
    for my $pk (@{ $j ? $j->{packets} : [] }) {
        my $s = $pk->{stream_index};
        $bad++ if defined $last{$s} && $pk->{dts_time} <= $last{$s};
        $last{$s} = $pk->{dts_time};
    }
    return $j && !$bad && keys %last == 2;
}

ok(monotonic($out), 'decoding timestamps increase in both tracks');
mp4_ok($out, from => $long, name => 'the concat of the three parts');
my @boxes = grep { /^(moov|mdat)$/ } mp4_top_boxes($out);
is_deeply(\@boxes, ['moov', 'mdat'], 'the index before the media');

# a join is continuous: no gap in presentation where part 2 starts

my @v = probe_video_packets($out);
my @pts = sort { $a <=> $b } map { $_->{pts_time} } @v;
my $gap = 0;
for my $i (1 .. $#pts) {
    $gap = $pts[$i] - $pts[$i - 1] if $pts[$i] - $pts[$i - 1] > $gap;
}
ok($gap < 0.045, "no frame gap over one frame (largest $gap s)");

# concat_done

ok(wait_for(sub { events('concat_done') >= 1 }, 10), 'concat_done sent');
my ($ev) = events('concat_done');
is($ev->{job_id}, $job, 'with the job id');
is($ev->{file_id}, $fid, 'with the file id');
is_deeply($ev->{sources}, $e->{sources}, 'and the sources');
is($ev->{video_url}, $e->{video_url}, 'and the url');
my ($req) = grep { ($_->{body} // '') =~ /"concat_done"/ } $rcv->requests;
like($req->{headers}{'x-live-record-signature'} // '',
     qr/^sha256=[0-9a-f]{64}$/, 'signed');
ok(log_lines(qr/concat \Q$job\E done: ".*-concat\.mp4" 3 parts/),
   'a log line');

# 4. the parts of three pushes, out of order: joined by time

($st, $j) = $api->call(POST => '/api/concat',
                       { file_ids => [ map { $_->{file_id} } reverse @short ]
                       });
is($st, 202, 'POST /concat {"file_ids"} of three pushes: 202')
    or diag explain $j;
is_deeply($j->{file_ids}, [ map { $_->{file_id} } @short ], 'by time');
$j = wait_job($j->{job_id} // '');
is($j->{state}, 'done', 'done');
($st, my $e3) = $api->call(GET => "/api/files/" . ($j->{file_id} // ''));
my $out3 = $e3->{path} // '';
$sum = sums(map { $_->{path} } @short);
$c = probe_counts($out3);
$t = tracks($out3);
is($c->{video}, $sum->{video}, 'three pushes: every video frame');
is($c->{audio}, $sum->{audio}, 'three pushes: every audio frame');

# each push has more audio than video at its end: the next picture waits
# for the last sample, so the total is the parts' durations, not video's

$d = probe_duration($out3) // 0;
$dsum = sum(map { $_->{duration} } @short);
ok(abs($d - $dsum) < 0.1, "three pushes: duration $d s, the parts' $dsum s");
ok($t->{video} >= $sum->{video_s} && $t->{audio} >= $sum->{audio_s} - 0.05,
   'three pushes: no track shorter than its parts');
ok(monotonic($out3), 'three pushes: timestamps increase');
my $c4 = probe_counts($in);
mp4_ok($out3, video => 3 * $c4->{video}, audio => 3 * $c4->{audio},
       name => 'the concat of three pushes');

# flv parts, into an mp4

($st, $j) = $api->call(POST => '/api/concat',
                       { session_id => $sid, format => 'flv' });
is($st, 202, 'POST /concat of the session\'s flv parts: 202')
    or diag explain $j;
is_deeply($j->{file_ids}, [ map { $_->{file_id} } @flv ], 'the flv parts');
$j = wait_job($j->{job_id} // '');
is($j->{state}, 'done', 'done');
($st, my $e2) = $api->call(GET => "/api/files/" . ($j->{file_id} // ''));
my $out2 = $e2->{path} // '';
like($out2, qr/-concat_2\.mp4$/, 'a name of its own');
$sum = sums(map { $_->{path} } @flv);
$c = probe_counts($out2);
is($c->{video}, $sum->{video}, 'flv parts: every video frame');
is($c->{audio}, $sum->{audio}, 'flv parts: every audio frame');
ok(monotonic($out2), 'flv parts: timestamps increase');
is((probe_streams($out2))[0]{codec_name}, 'h264', 'h264 in mp4');
mp4_ok($out2, from => $long, name => 'the concat of the flv parts');

# 5. a part of another resolution: 400 naming it

is(push_stream($wide, rtmp_url('live', 'short')), 0, 'push 640x360');
ok(wait_for(sub { my @e = entries('short'); @e >= 8 }, 20),
   'its parts indexed');
my ($big) = grep { $_->{file_format} eq 'mp4' && $_->{width} == 640 }
            entries('short');

$before = state();
($st, $j) = $api->call(GET => '/api/concat');
my $jobs = scalar @{ $j->{jobs} };
($st, $j) = $api->call(POST => '/api/concat',
                       { file_ids => [ $short[0]{file_id}, $big->{file_id} ]
                       });
is($st, 400, 'different resolutions: 400');
is($j->{code}, 'incompatible', 'incompatible');
ok((grep { $_->{file_id} eq $big->{file_id}
           && $_->{mismatch}
              =~ /video size 640x360, the first source has 320x240/ }
    @{ $j->{mismatches} || [] }), 'the mismatch names the part and sizes')
    or diag explain $j;
like($j->{message}, qr/\Q$big->{file_id}\E.*640x360/, 'and the message');
($st, $j) = $api->call(GET => '/api/concat');
is(scalar @{ $j->{jobs} }, $jobs, 'no job was made');
is(state(), $before, 'nothing was written');

# 6. parts in a remote store, not kept: 409; kept: joined and uploaded

is(push_stream($in, rtmp_url('remote', 'cam')), 0, 'push to the http store');
is(push_stream($in, rtmp_url('remote', 'cam')), 0, 'again');
ok(wait_for(sub {
       my @e = grep { $_->{app} eq 'remote' } entries('cam'); @e >= 4 }, 20),
   'uploaded and indexed');
my @r = grep { $_->{app} eq 'remote' && $_->{file_format} eq 'mp4' }
        entries('cam');
($st, $j) = $api->call(POST => '/api/concat',
                       { file_ids => [ map { $_->{file_id} } @r ] });
is($st, 409, 'not local: 409');
is($j->{code}, 'not_local', 'not_local');
like($j->{message}, qr/live_record_keep_local/, 'says what to turn on');

is(push_stream($in, rtmp_url('kept', 'cam')), 0, 'push, keep_local');
is(push_stream($in, rtmp_url('kept', 'cam')), 0, 'again');
ok(wait_for(sub {
       my @e = grep { $_->{app} eq 'kept' } entries('cam'); @e >= 4 }, 20),
   'uploaded and indexed');
my @k = grep { $_->{app} eq 'kept' && $_->{file_format} eq 'mp4' }
        entries('cam');
($st, $j) = $api->call(POST => '/api/concat',
                       { file_ids => [ map { $_->{file_id} } @k ] });
is($st, 202, 'kept parts of a remote store: 202') or diag explain $j;
my $kjob = $j->{job_id} // '';
is(wait_job($kjob)->{state}, 'done', 'done');
ok(wait_for(sub { grep { ($_->{job_id} // '') eq $kjob }
                  events('concat_done') }, 20),
   'concat_done once the upload is confirmed');
my ($kev) = grep { ($_->{job_id} // '') eq $kjob } events('concat_done');
like($kev->{video_url} // '',
     qr{^http://127\.0\.0\.1:\d+/ingest/kept/cam/\d{8}/
        cam-\d{14}-1-concat\.mp4$}x,
     'video_url: where it was PUT');
my ($put) = grep { $_->{method} eq 'PUT' && $_->{path} =~ /-concat\.mp4$/ }
            $store->requests;
ok($put && $put->{size} == $kev->{file_size}
   && $put->{sha256} eq $kev->{sha256}, 'the store got every byte')
    or diag explain [$put, $kev];
ok(-f "$p/index/kept/cam/$kev->{file_id}.json", 'indexed');
ok(-f ($kev->{path} // ''), 'the local copy is kept');
is(probe_counts($kev->{path} // '')->{video},
   probe_counts($k[0]{path})->{video} + probe_counts($k[1]{path})->{video},
   'every frame');

# every index entry the run made: its file's (a remote store's: the bytes
# PUT) and its record_done's or concat_done's

my %ev = map { $_->{file_id} => $_ } events('record_done'),
                                     events('concat_done');
my @entries = find_files("$p/index", qr/\.json$/);
subtest 'every index entry (' . @entries . ')' => sub {
    plan tests => 1 + @entries;
    is_deeply([sort map { m{/([^/]+)\.json$} } @entries], [sort keys %ev],
              'one for each record_done and concat_done');
    for my $f (@entries) {
        my ($id) = $f =~ m{/([^/]+)\.json$};
        my $e = $ev{$id} // {};
        my %o = (event => $e, name => "$e->{app}/$e->{stream_id} "
                 . "$e->{file_format} part " . ($e->{part} // '?')
                 . ($e->{job_id} ? ' concat' : ''));
        if (!-f ($e->{path} // '')) {
            my ($put) = grep { $_->{method} eq 'PUT' && $e->{path}
                               && substr($_->{path}, -length(
                                  (split m{/}, $e->{path})[-1])) eq
                                  (split m{/}, $e->{path})[-1] }
                        $store->requests;
            @o{qw(size sha256)} = @$put{qw(size sha256)} if $put;
        }
        index_ok($f, %o);
    }
};
$rcv->signatures_ok('notify (key_file=)');

# 7. the result is a file like any other: it can be deleted

($st, $j) = $api->call(DELETE => "/api/files/$fid");
is($st, 200, 'DELETE the result');
ok(!-e $out, 'gone');
ok(-f $mp4[0]{path}, 'its sources stay');

$rcv->stop;
$store->stop;
no_alerts();
