#!/usr/bin/perl

# A part whose files cannot be opened (its work path cannot be created):
# the thread pool's open fails, the stream says so once with a
# record_failed event (reason open), keeps being served, and a part opens
# 5 s later once the path can be created.  Frames that arrive while a part
# opens are not lost: every frame of a push reaches its files.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

plan(tests => 12);

my $p = prefix();

start_nginx(conf => <<'EOF', dirs => [qw(store work index spool)]);
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_min_duration 0;
    }
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_store local %%PREFIX%%/store;
            live_record_work_path %%PREFIX%%/work;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

sub events {
    my ($type, $stream) = @_;
    return grep { $_->{event_type} eq $type && $_->{stream_id} eq $stream }
           map { decode_json($_->{body}) } $rcv->requests;
}

# 1. a plain file where the application's directory should be

open my $fh, '>', "$p/work/live" or die "$p/work/live: $!";
close $fh;

my $in = make_media(duration => 20);
my $c = probe_counts($in);
my $pub = push_stream_bg($in, rtmp_url('live', 'cam'), realtime => 1);

ok(wait_for(sub { log_lines(qr/\[error\].*"live\/cam" part 1 could not be (?#
                                )opened, trying again in 5 s/) }, 15),
   'the failed open is logged, naming the stream')
    or diag join "\n", log_lines(qr/live record/);
ok(wait_for(sub { grep { $_->{reason} eq 'open' }
                  events('record_failed', 'cam') }, 10),
   'record_failed event with reason open');
is(scalar(events('record_started', 'cam')), 0,
   'no record_started for a part that never opened');

# 2. the path can be created again: a part opens within the retry delay

unlink "$p/work/live";
ok(wait_for(sub { log_lines(qr/"live\/cam" part 1 opened/) }, 12),
   'part 1 opens on the retry');
is(wait_push($pub, 40), 0, 'the push went on throughout');

my @mp4 = wait_files('store', qr/\.mp4$/, 1, 15);
is(scalar @mp4, 1, 'one mp4');
mp4_ok($mp4[0] // '');
my @flv = wait_files('store', qr/\.flv$/, 1, 10);
is(scalar @flv, 1, 'one flv');

# 3. a push whose part opens at once: every frame reaches both files

is(push_stream($in, rtmp_url('live', 'all')), 0, 'push faster than real '
   . 'time while the part opens');
my @all = wait_files('store', qr{/all/.*\.(?:mp4|flv)$}, 2, 15);
my %n = map { /\.(\w+)$/; ($1 => probe_counts($_)) } @all;
is_deeply([map { $n{$_} && $n{$_}{video} } qw(mp4 flv)],
          [$c->{video}, $c->{video}], 'every video frame in mp4 and flv');
is_deeply([map { $n{$_} && $n{$_}{audio} } qw(mp4 flv)],
          [$c->{audio}, $c->{audio}], 'every audio frame in mp4 and flv');

$rcv->stop;

# the failed open (crit) and the stream saying it retries (error)
no_alerts(allow => [
    qr/\[crit\].*creating directories for "[^"]*\/work\/live\/cam\/[^"]*" failed \(20: Not a directory\)/,
    qr/\[error\] .*live record: "live\/cam" part 1 could not be opened, trying again in 5 s, /,
]);
