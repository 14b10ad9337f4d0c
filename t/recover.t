#!/usr/bin/perl

# Crash recovery: kill -9 of the worker during a push, then of the master
# and the workers together: the parts left open (mp4, flv, aac, hls) are
# finalized from what was written, handed off, indexed and announced with
# end_reason "recovered", exactly once, covering the media up to about a
# second before the kill.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json);
use Test::More tests => 29;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $in = make_media(duration => 30);

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4 flv aac hls;
        live_record_hls_fragment 2s;
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
start_nginx(conf => $conf, dirs => \@dirs);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

sub slurp {
    open my $fh, '<', $_[0] or return '';
    local $/;
    return <$fh>;
}

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

# push in real time, kill the given processes after $secs of media

sub crash {
    my ($stream, $secs, $what) = @_;
    my $pid = push_stream_bg($in, rtmp_url('live', $stream), realtime => 1);
    wait_for(sub { find_files(prefix() . '/work', qr/\Q$stream\E.*\.mp4$/) },
             10);
    my $t0 = time;
    sleep $secs;
    my @victims = $what->();
    kill 'KILL', @victims;
    my $lived = time - $t0;
    wait_push($pid, 10);
    return $lived;
}

sub check {
    my ($stream, $lived, $label) = @_;
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
    diag(sprintf "%s: the publisher pushed %.2f s before the kill, the "
         . "recovered mp4 holds %.2f s", $label, $lived, $dur);
    ok($dur >= $lived - 1.5, "$label: media up to 1.5 s before the kill")
        or diag "recorded $dur s, the publisher pushed $lived s";
    ok(abs($mp4->{duration} - $dur) < 0.5, "$label: duration in the event");
    mp4_ok($f, from => $in, prefix => 1, min_duration => $lived - 1.5,
           name => "$label: recovered mp4");
    my ($hls) = grep { $_->{file_format} eq 'hls' } @d;
    my $pl = slurp($hls->{path} . '/index.m3u8');
    like($pl, qr/#EXT-X-PLAYLIST-TYPE:VOD\n(?s:.*)#EXT-X-ENDLIST\n$/,
         "$label: hls playlist finished as VOD");
    ok(probe_ok($hls->{path} . '/index.m3u8'), "$label: hls plays");
    my ($aac) = grep { $_->{file_format} eq 'aac' } @d;
    ok(probe_ok($aac->{path} // ''), "$label: aac plays");
    ok(-f prefix() . "/index/live/$stream/$mp4->{file_id}.json",
       "$label: indexed");
    return @d;
}

# 1. the worker dies; the master starts another, which recovers

my $old = worker();
my $lived = crash('w', 5, sub { worker() });
ok(wait_for(sub { my $w = worker(); $w && $w != $old }, 10),
   'a new worker was started');
my @d = check('w', $lived, 'worker killed');
ok(scalar(log_lines(qr/left open by a worker that is gone, recovering/))
   >= 4, 'recovery logged');

# once: the next scans and a restart announce nothing again

sleep 11;
is(scalar(done('w')), 4, 'announced once, also after the next scan');
stop_nginx();
start_nginx(conf => $conf, dirs => \@dirs);
sleep 2;
is(scalar(done('w')), 4, 'a restart does not announce them again');
is(scalar(find_files(prefix() . '/spool/open', qr/\.json$/)), 0,
   'no sidecar left');

# 2. master and workers die together; the next start recovers

my ($master) = slurp(prefix() . '/logs/nginx.pid') =~ /(\d+)/;
$lived = crash('m', 4, sub { ($master, worker()) });
ok(wait_for(sub { !kill 0, $master }, 5), 'master gone');
unlink prefix() . '/logs/nginx.pid';
start_nginx(conf => $conf, dirs => \@dirs);
check('m', $lived, 'all killed');

$rcv->stop;

no_alerts(allow => qr/worker process \d+ exited on signal 9/);
