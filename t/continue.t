#!/usr/bin/perl

# live_record_continue: a publisher that reconnects within the window goes
# on in the same mp4, flv and aac (both pushes' frames, media time
# continuing, the gap left out, each file announced once, end_reason
# unpublish when the window ends); after the window, or with other tracks,
# a new part starts; continue 0 keeps one part per push; the range.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json);
use Test::More tests => 63;
use LiveRecord::Test;
use LiveRecord::Receiver;

my $in = make_media(duration => 6);
my $audio = make_media(duration => 6, video => 0);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template cont {
        live_record_formats mp4 flv aac;
        live_record_continue 10s;
    }
    live_record_template short {
        live_record_formats mp4 flv aac;
        live_record_continue 1s;
    }
    live_record_template zero {
        live_record_formats mp4 flv aac;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record cont;
        }
        application short {
            live on;
            live_record short;
        }
        application zero {
            live on;
            live_record zero;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

# the part of live/NAME has a second or two of media in the work path
sub media_packets_seen {
    my ($name) = @_;
    my ($f) = find_files(prefix() . '/work', qr{/live/$name/.*\.flv$});
    return $f && -s $f > 30000;
}

sub events {
    my ($type, $app, $name) = @_;
    return grep { $_->{event_type} eq $type && $_->{app} eq $app
                  && $_->{stream_id} eq $name }
           map { decode_json($_->{body}) } $rcv->requests;
}

# every packet of a track strictly after the one before; the largest step
sub steps {
    my ($p) = @_;
    my ($bad, $max) = (0, 0);
    for my $i (1 .. $#$p) {
        my $d = $p->[$i]{dts} - $p->[$i - 1]{dts};
        $bad++ if $d <= 0;
        $max = $d if $d > $max;
    }
    return ($bad, $max);
}

my $c = probe_counts($in);
my $ca = probe_counts($audio);
my $d_in = probe_duration($in);

# 1. two pushes 2 s apart within the 10 s window: one part

is(push_stream($in, rtmp_url('live', 'c')), 0, 'first push');
ok(wait_for(sub { log_lines(qr{"live/c" part "[^"]+" waits 10000 ms}) }),
   'the part waits for its publisher');
sleep 2;
is(push_stream($in, rtmp_url('live', 'c')), 0, 'second push, 2 s later');
is(scalar(log_lines(qr{"live/c" part "[^"]+" goes on at})), 1,
   'the part goes on');
is(scalar(find_files(prefix() . '/store', qr{/live/c/})), 0,
   'nothing in the store while the part may go on');

my %f;
for my $ext (qw(mp4 flv aac)) {
    my @f = wait_files('store', qr{/live/c/.*\.$ext$}, 1, 30);
    is(scalar @f, 1, "one $ext for both pushes");
    $f{$ext} = $f[0] // '';
}

for my $ext (qw(mp4 flv)) {
    my $n = probe_counts($f{$ext});
    is($n->{video}, 2 * $c->{video}, "$ext: both pushes' video frames");
    is($n->{audio}, 2 * $c->{audio}, "$ext: both pushes' audio frames");
    my $p = media_packets($f{$ext});
    my ($bad, $max) = steps($p->{video});
    is($bad, 0, "$ext: video timestamps increase");
    ok($max < 1000, "$ext: no video step of the 2 s gap "
       . "(it is left out, not filled)") or diag "$max ms";
    ($bad, $max) = steps($p->{audio});
    is($bad, 0, "$ext: audio timestamps increase");
    ok($max < 1000, "$ext: no audio step of the 2 s gap") or diag "$max ms";
    my $d = probe_duration($f{$ext});
    ok(abs($d - 2 * $d_in) <= 0.1, "$ext: duration $d is the sum of "
       . "the pushes, " . 2 * $d_in);
}

is(probe_counts($f{aac})->{audio}, 2 * $c->{audio},
   "aac: both pushes' audio frames");
mp4_ok($f{mp4}, video => 2 * $c->{video}, audio => 2 * $c->{audio},
       joins => 1, name => 'continued mp4');

my @done;
wait_for(sub { (@done = events('record_done', 'live', 'c')) >= 3 }, 15);
sleep 1;
@done = events('record_done', 'live', 'c');
is(scalar @done, 3, 'record_done once per file');
is_deeply([sort map { $_->{file_format} } @done], [qw(aac flv mp4)],
          'one per format');
is(scalar(grep { ($_->{end_reason} // '') eq 'unpublish' } @done), 3,
   'end_reason unpublish');
is(scalar(grep { abs($_->{duration} - 2 * $d_in) <= 0.1 } @done), 3,
   'the events\' duration is both pushes\'');
is(scalar(events('record_started', 'live', 'c')), 3,
   'record_started once per file');
is(scalar(log_lines(qr{"live/c" part "[^"]+" ends: no publisher within }
                    . qr{live_record_continue})), 1,
   'closed when the window ended');

# 1b. a publisher killed mid-push (a dropped uplink) and back at once

my $pid = push_stream_bg($in, rtmp_url('live', 'k'), realtime => 1);
ok(wait_for(sub { log_lines(qr{"live/k" part 1 opened}) }, 15),
   'real-time push recording');
wait_for(sub { media_packets_seen('k') }, 15);
kill 'KILL', $pid;
wait_push($pid);
ok(wait_for(sub { log_lines(qr{"live/k" part "[^"]+" waits}) }, 10),
   'killed publisher: the part waits');
is(push_stream($in, rtmp_url('live', 'k')), 0, 'the publisher is back');
my @k = wait_files('store', qr{/live/k/.*\.(mp4|flv|aac)$}, 3, 30);
is(scalar @k, 3, 'one mp4, flv and aac');
my @kv = map { probe_counts($_)->{video} } grep { /\.(mp4|flv)$/ } @k;
ok(@kv == 2 && $kv[0] == $kv[1] && $kv[0] > $c->{video}
   && $kv[0] < 2 * $c->{video}, 'both pushes in each: '
   . "@kv video frames, a whole push is $c->{video}");
my @kd;
wait_for(sub { (@kd = events('record_done', 'live', 'k')) >= 3 }, 15);
is_deeply([map { $_->{end_reason} } @kd], [qw(unpublish) x 3],
          'ended by the last publisher\'s unpublish');

# 2. a push after the window: a new part

is(push_stream($in, rtmp_url('live', 'c')), 0, 'push after the window');
for my $ext (qw(mp4 flv aac)) {
    my @f = wait_files('store', qr{/live/c/.*\.$ext$}, 2, 30);
    is(scalar @f, 2, "$ext: a second file after the window");
}
my @c2;
wait_for(sub { (@c2 = events('record_done', 'live', 'c')) >= 6 }, 15);
my %ms = map { ($_->{media_start_time} // 'none') => 1 } @c2;
is_deeply([keys %ms], [$c2[-1]{media_start_time} // 'none'],
          'media_start_time of the continued part: its first frame\'s, '
          . 'as for a single push');

# 3. the window ends before the reconnect: two of each

is(push_stream($in, rtmp_url('short', 's')), 0, 'push, 1 s window');
my @s = wait_files('store', qr{/short/s/.*\.(mp4|flv|aac)$}, 3, 30);
is(scalar @s, 3, 'the part is finished once the window is over');
is(push_stream($in, rtmp_url('short', 's')), 0, 'push after it');
for my $ext (qw(mp4 flv aac)) {
    my @f = wait_files('store', qr{/short/s/.*\.$ext$}, 2, 30);
    is(scalar @f, 2, "$ext: two files, one per push");
    is(probe_counts($f[1] // '')->{audio}, $c->{audio},
       "$ext: the second holds the second push");
}

# 4. other tracks: the waiting part ends, a new one starts

is(push_stream($in, rtmp_url('live', 't')), 0, 'audio and video');
is(push_stream($audio, rtmp_url('live', 't')), 0, 'audio only, at once');
my @t = wait_files('store', qr{/live/t/.*\.aac$}, 2, 30);
is(scalar @t, 2, 'other tracks: a new part');
is(scalar(log_lines(qr{"live/t" part .* does not go on: the video }
                    . qr{track's codec or parameters changed})), 1,
   'said why');
my @tm = find_files(prefix() . '/store', qr{/live/t/.*\.mp4$});
is(scalar @tm, 2, 'two mp4');
is(probe_counts($tm[1] // '')->{video}, 0, 'the second has no video');

# 5. continue 0: one part per push

is(push_stream($in, rtmp_url('zero', 'z')), 0, 'push, continue 0');
is(push_stream($in, rtmp_url('zero', 'z')), 0, 'push again at once');
my @z = wait_files('store', qr{/zero/z/.*\.mp4$}, 2, 30);
is(scalar @z, 2, 'continue 0: two parts');

# 6. the range

my $good = <<'EOF';
rtmp {
    live_record_template t { live_record_formats mp4; %s }
    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live { live on; live_record t; }
    }
}
EOF

my ($rc, $out) =
    nginx_test_config($good =~ s/%s/live_record_continue 1801s;/r);
isnt($rc, 0, 'live_record_continue 1801s refused');
like($out, qr/"live_record_continue" must be between 0s and 1800s/,
     'the message names the directive and its range');
($rc, $out) = nginx_test_config($good =~ s/%s/live_record_continue 30m;/r);
is($rc, 0, 'live_record_continue 30m accepted') or diag $out;

$rcv->stop;
no_alerts();
