#!/usr/bin/perl

# Crash recovery: kill -9 of the worker during a push, then of the master
# and the workers together: the parts left open (mp4, flv, aac, hls) are
# finalized from what was written, handed off, indexed and announced with
# end_reason "recovered", exactly once, covering the media up to about a
# second before the kill.  HLS with the default 10 s fragment: the worker
# is killed 17.5 s in (a segment listed, the next half written), all of
# nginx 4 s in (no playlist yet): the segment being written is kept with
# its real duration either way.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 48;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $in = make_media(duration => 30);

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4 flv aac hls;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=recover-key;

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
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => 'recover-key');

sub worker {
    my ($master) = slurp(prefix() . '/logs/nginx.pid') =~ /(\d+)/;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = slurp($stat);
        return $1 if $s =~ /^(\d+) \(nginx\) \S (\d+) / && $2 == $master;
    }
    return;
}

sub done {
    my ($stream) = @_;
    return grep { $_->{event_type} eq 'record_done'
                  && $_->{stream_id} eq $stream }
           map { decode_json($_->{body}) } $rcv->requests;
}

# how far a live recording is: the last video timestamp in its flv in the
# work path (flushed every 500 ms)

sub recorded {
    my ($stream) = @_;
    my ($flv) = find_files(prefix() . '/work', qr{/\Q$stream\E-[^/]*\.flv$});
    my @v = $flv ? probe_video_packets($flv) : ();
    return @v ? $v[-1]{dts_time} + 0 : 0;
}

# push in real time, kill the given processes once the work path holds
# $secs of media; returns how much it held just before the kill

sub crash {
    my ($stream, $secs, $what) = @_;
    my $pid = push_stream_bg($in, rtmp_url('live', $stream), realtime => 1);
    wait_for(sub { recorded($stream) >= $secs }, 20)
        or diag "$stream: the work path holds " . recorded($stream)
                . " s after 20 s, not $secs";
    my $before = recorded($stream);
    kill 'KILL', $what->();
    wait_push($pid, 10);
    return $before;
}

# a canary in the notify spool, as a worker that is gone leaves an event:
# the next spool scan (at start, then every 10 s) sends it, so once it
# arrives a scan has run since

my $canaries = 0;

sub scan_ran {
    my $id = 'canary-' . ++$canaries;
    my $f = prefix() . "/spool/notify/999999999.$id.1.json";
    open my $fh, '>', "$f.tmp" or die "$f.tmp: $!";
    print $fh 'http://127.0.0.1:' . port('NOTIFY') . "/hook\n"
              . qq({"event_id":"$id","event_type":"canary"});
    close $fh;
    rename "$f.tmp", $f or die "$f: $!";
    return sub {
        wait_for(sub { grep { ($_->{body} // '') =~ /"\Q$id\E"/ }
                       $rcv->requests }, 15)
            or diag "no spool scan sent $id within 15 s";
    };
}

sub check {
    my ($stream, $before, $label) = @_;
    my @d;
    wait_for(sub { @d = done($stream); @d >= 4 }, 30);
    is(scalar @d, 4, "$label: record_done for mp4, flv, aac, hls");
    is_deeply([sort map { $_->{end_reason} } @d], [('recovered') x 4],
              "$label: end_reason recovered");
    my ($mp4) = grep { $_->{file_format} eq 'mp4' } @d;
    my $f = $mp4->{path} // '';
    ok(probe_ok($f), "$label: recovered mp4 plays");
    is((mp4_top_boxes($f))[1], 'moov', "$label: mp4 finalized, moov first");
    my $dur = probe_duration($f);
    diag(sprintf "%s: the work path's flv held %.2f s before the kill, the "
         . "recovered mp4 holds %.2f s", $label, $before, $dur);
    # the mp4's sample index is flushed every 250 ms: it holds all the flv
    # had but for at most that and a frame
    ok($dur >= $before - 0.29, "$label: what the work path held before the "
       . 'kill, but for at most the last 250 ms and a frame')
        or diag "recorded $dur s, the work path held $before s";
    ok(abs($mp4->{duration} - $dur) < 0.5, "$label: duration in the event");
    mp4_ok($f, from => $in, prefix => 1, min_duration => $before - 0.29,
           name => "$label: recovered mp4");
    my ($hls) = grep { $_->{file_format} eq 'hls' } @d;
    my $pl = slurp($hls->{path} . '/index.m3u8');
    like($pl, qr/#EXT-X-PLAYLIST-TYPE:VOD\n(?s:.*)#EXT-X-ENDLIST\n$/,
         "$label: hls playlist finished as VOD");
    ok(probe_ok($hls->{path} . '/index.m3u8'), "$label: hls plays");
    my @ts = find_files($hls->{path}, qr/\.ts$/);
    my @inf = $pl =~ /^#EXTINF:([\d.]+),$/mg;
    is(scalar @inf, scalar @ts, "$label: every segment listed, no other");
    my $sum = 0;
    $sum += $_ for @inf;
    my $hdur = probe_duration($hls->{path} . '/index.m3u8') // 0;
    my $media = 0;
    $media += probe_duration($_) // 0 for @ts;
    diag(sprintf "%s: the recovered hls holds %.2f s (%d segments, "
         . "%.2f s of media in them)", $label, $hdur, scalar @ts, $media);
    # its segment being written is flushed every 500 ms, like the flv
    ok($hdur >= $before - 1.0 && $hdur <= $before + 1.0,
       "$label: hls holds what the work path held before the kill, "
       . 'within 1 s') or diag "hls $hdur s, the work path held $before s";
    ok(abs($sum - $media) <= 0.1 * @ts,
       "$label: hls durations listed are the segments' own")
        or diag "listed $sum s, segments $media s";
    ok(abs($hls->{duration} - $sum) < 0.01,
       "$label: hls duration in the event is the playlist's")
        or diag "event $hls->{duration}, playlist $sum";
    my $bytes = 0;
    $bytes += -s $_ for @ts;
    is($hls->{file_size}, $bytes, "$label: hls file_size is its segments'");
    ok(!-e "$hls->{path}/.reserve", "$label: no reserve file left");
    my ($aac) = grep { $_->{file_format} eq 'aac' } @d;
    ok(probe_ok($aac->{path} // ''), "$label: aac plays");
    index_ok(prefix() . "/index/live/$stream/$_->{file_id}.json",
             part => 1, end_reason => 'recovered', event => $_,
             session_id => $mp4->{session_id},
             name => "$label: $_->{file_format}")
        for sort { $a->{file_format} cmp $b->{file_format} } @d;
    return @d;
}

# 1. the worker dies; the master starts another, which recovers

my $old = worker();
my $before = crash('w', 17.5, sub { worker() });
ok(wait_for(sub { my $w = worker(); $w && $w != $old }, 10),
   'a new worker was started');
my @d = check('w', $before, 'worker killed');
ok(scalar(log_lines(qr/left open by a worker that is gone, recovering/))
   >= 4, 'recovery logged');

# once: the next scans and a restart announce nothing again

scan_ran()->();
is(scalar(done('w')), 4, 'announced once, also after the next scan');
stop_nginx();
my $scanned = scan_ran();
start_nginx(conf => $conf, dirs => \@dirs);
$scanned->();
is(scalar(done('w')), 4, 'a restart does not announce them again');
is(scalar(find_files(prefix() . '/spool/open', qr/\.json$/)), 0,
   'no sidecar left');

# 2. master and workers die together; the next start recovers

my ($master) = slurp(prefix() . '/logs/nginx.pid') =~ /(\d+)/;
$before = crash('m', 4, sub { ($master, worker()) });
ok(wait_for(sub { !kill 0, $master }, 5), 'master gone');
unlink prefix() . '/logs/nginx.pid';
start_nginx(conf => $conf, dirs => \@dirs);
check('m', $before, 'all killed');

$rcv->signatures_ok('notify of recovered parts (key=)');
$rcv->stop;

no_alerts(allow => qr/worker process \d+ exited on signal 9/);
