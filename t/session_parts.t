#!/usr/bin/perl

# Part numbers go on across reconnects within live_record_session_gap, on
# one node: two publishes of one stream give parts 1 and 2 of one session
# (events, file names), one after the gap starts a new session at part 1;
# with the gap 0 every publish is a session of its own, part 1.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use JSON::PP qw(decode_json);
use Time::HiRes qw(time sleep);
use Test::More tests => 16;
use LiveRecord::Test;
use LiveRecord::Receiver;

my $in = make_media(duration => 2);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template gap {
        live_record_formats mp4 flv;
        live_record_session_gap 4s;
    }
    live_record_template nogap {
        live_record_formats mp4;
        live_record_session_gap 0;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record gap;
        }
        application nogap {
            live on;
            live_record nogap;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

sub events {
    my ($type, $app, $name) = @_;
    return grep { $_->{event_type} eq $type && $_->{app} eq $app
                  && $_->{stream_id} eq $name }
           map { decode_json($_->{body}) } $rcv->requests;
}

sub wait_done {
    my ($app, $name, $n) = @_;
    my @d;
    wait_for(sub { (@d = events('record_done', $app, $name)) >= $n }, 30);
    return @d;
}

# 1. two publishes within the gap: parts 1 and 2 of one session

is(push_stream($in, rtmp_url('live', 's')), 0, 'first publish');
is(push_stream($in, rtmp_url('live', 's')), 0, 'reconnect within the gap');
my $ended = time;
my @d = wait_done('live', 's', 4);
is(scalar @d, 4, 'four files: mp4 and flv of each publish');
is_deeply([sort map { "$_->{file_format} $_->{part}" } @d],
          ['flv 1', 'flv 2', 'mp4 1', 'mp4 2'], 'parts 1 and 2 of each format');
my %sid = map { $_->{session_id} => 1 } @d;
is(scalar keys %sid, 1, 'one session_id');
is_deeply([sort map { "$_->{file_format} $_->{part}" }
           events('record_started', 'live', 's')],
          ['flv 1', 'flv 2', 'mp4 1', 'mp4 2'], 'record_started says so too');
my @f = wait_files('store/live', qr/\.mp4$/, 2);
is(scalar(grep { /-1\.mp4$/ } @f) . ' ' . scalar(grep { /-2\.mp4$/ } @f),
   '1 1', 'files named as parts 1 and 2') or diag explain \@f;
is(scalar(log_lines(qr{"live/s" recording with template "gap", session \S+ from part 2})),
   1, 'the log names the part the reconnect starts at');

# 2. after the gap: a new session, part 1

sleep($ended + 4.5 - time) if time < $ended + 4.5;
is(push_stream($in, rtmp_url('live', 's')), 0, 'publish after the gap');
@d = wait_done('live', 's', 6);
my @third = grep { !$sid{$_->{session_id}} } @d;
is(scalar @third, 2, 'a new session_id');
is_deeply([map { $_->{part} } @third], [1, 1], 'at part 1');

# 3. gap 0: a session per publish, each part 1

is(push_stream($in, rtmp_url('nogap', 'z')), 0, "gap 0: publish $_")
    for 1 .. 2;
@d = wait_done('nogap', 'z', 2);
is_deeply([map { $_->{part} } @d], [1, 1], 'gap 0: part 1 each');
my %z = map { $_->{session_id} => 1 } @d;
is(scalar keys %z, 2, 'gap 0: two sessions');

$rcv->stop;
no_alerts();
