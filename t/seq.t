#!/usr/bin/perl

# seq: the events of one session are numbered 1, 2, 3, ... in the order
# nginx made them, across a reconnect that joins the session, whatever
# order they arrive in; another session counts from 1 on its own.  The
# receiver answers the first attempt of every event with a 500, so that
# retries shuffle the arrivals.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 11;
use LiveRecord::Test;
use LiveRecord::Receiver;

my $in = make_media(duration => 3);

start_nginx(dirs => [qw(store work index spool)], conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_session_gap 60s;
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

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'), fail_first => 1);

sub events {
    my ($stream) = @_;
    my %seen;
    return grep { $_->{stream_id} eq $stream && !$seen{$_->{event_id}}++ }
           map { $_->{json} || () }
           grep { ($_->{status} // 200) == 200 } $rcv->requests;
}

# two pushes of one stream within the session gap, one of another

is(push_stream($in, rtmp_url('live', 'a')), 0, 'first push of a');
ok(wait_for(sub { (grep { $_->{event_type} eq 'record_done' } events('a'))
                  == 2 }, 20), 'its record_done');
my %first = map { $_->{event_id} => 1 } events('a');
is(push_stream($in, rtmp_url('live', 'a')), 0, 'second push of a');
is(push_stream($in, rtmp_url('live', 'b')), 0, 'a push of b');

my (@a, @b);
ok(wait_for(sub { @a = events('a'); @b = events('b');
                  (grep { $_->{event_type} eq 'record_done' } @a) == 4
                  && (grep { $_->{event_type} eq 'record_done' } @b) == 2 },
            30), 'every record_done, each after a 500')
    or diag explain [map { "$_->{event_type} $_->{stream_id}" } @a, @b];

my %sessions = map { $_->{session_id} => 1 } @a;
is(scalar(keys %sessions), 1, 'the reconnect joined the session');

is_deeply([sort { $a <=> $b } map { $_->{seq} // 0 } @a], [1 .. scalar @a],
          'a: seq 1 to ' . scalar(@a) . ', each once')
    or diag explain [map { "$_->{event_type} $_->{file_format} "
                           . ($_->{seq} // 'none') } @a];
is_deeply([sort { $a <=> $b } map { $_->{seq} // 0 } @b], [1 .. scalar @b],
          'b counts on its own from 1');

# the order they were made in: a file's start before its end, the first
# push's events before the second's

my %started = map { ($_->{event_type} eq 'record_started'
                     ? ("$_->{file_id}" => $_->{seq}) : ()) } @a;
my @done = grep { $_->{event_type} eq 'record_done' } @a;
is(scalar(grep { ($started{$_->{file_id}} // 1e9) > $_->{seq} } @done), 0,
   'each record_done numbered after its record_started');

my @first = map { $_->{seq} // 0 } grep { $first{$_->{event_id}} } @a;
my @later = map { $_->{seq} // 0 } grep { !$first{$_->{event_id}} } @a;
my ($max) = sort { $b <=> $a } @first;
my ($min) = sort { $a <=> $b } @later;
ok(@first && @later && $max < $min,
   "the first push's events numbered before the second's")
    or diag "first @first, later @later";

no_alerts();
