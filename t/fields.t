#!/usr/bin/perl

# record_done and the index entry carry media_start_time, the RTMP
# timestamp (ms) of the part's first frame, and record_bps, the file's
# bit rate (file_size * 8 / duration, whole bits per second), as the
# service this module replaces sends them.  A raw publisher starts its
# timestamps at 123456 ms, so the first frame's is known exactly; the
# first part of a stream killed with the worker is recovered and keeps it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 14;
use LiveRecord::Test;
use LiveRecord::Publisher;
use LiveRecord::Receiver;

my $in = make_media(duration => 4);
my @tags = map { [$_->[0], $_->[1] + 123456, $_->[2]] }
           LiveRecord::Publisher::flv_tags($in);

start_nginx(dirs => [qw(store work index spool)], conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_path $app/$name-$part;
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

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));
my $p = prefix();

sub done {
    my ($name) = @_;
    return grep { ($_->{event_type} // '') eq 'record_done'
                  && $_->{stream_id} eq $name }
           map { $_->{json} || () } $rcv->requests;
}

my $pub = LiveRecord::Publisher->new(port => port('RTMP'), app => 'live',
                                     name => 'cam');
$pub->send(@$_) for @tags;
$pub->close;

ok(wait_for(sub { done('cam') == 2 }, 20), 'record_done for mp4 and flv');

for my $e (sort { $a->{file_format} cmp $b->{file_format} } done('cam')) {
    my $f = $e->{file_format};
    is($e->{media_start_time}, 123456, "$f: media_start_time is the first "
       . "frame's timestamp");
    my $bps = int($e->{file_size} * 8000 / int($e->{duration} * 1000 + 0.5));
    is($e->{record_bps}, $bps, "$f: record_bps = file_size * 8 / duration "
       . "($bps)");
    ok($e->{record_bps} > 100_000, "$f: a plausible rate");
    my ($idx) = find_files("$p/index", qr/\Q$e->{file_id}\E\.json$/);
    index_ok($idx, event => $e, name => "$f index entry, the same fields");
}

# recovered: the worker killed while the part is open

my ($worker) = nginx_workers();
$pub = LiveRecord::Publisher->new(port => port('RTMP'), app => 'live',
                                  name => 'rec');
$pub->send(@$_) for @tags[0 .. int(@tags / 2)];
ok(wait_for(sub { (-s "$p/work/live/rec-1.mp4.samples" // 0) > 200 }, 10),
   'the sample index is on disk');
kill 'KILL', $worker;
eval { $pub->close };

ok(wait_for(sub { done('rec') == 2 }, 30), 'recovered: record_done for both');
my @rec = done('rec');
is_deeply([map { $_->{media_start_time} } @rec], [123456, 123456],
    'recovered: media_start_time kept');
is_deeply([map { $_->{end_reason} } @rec], [qw(recovered recovered)],
    'recovered: end_reason recovered');

no_alerts(allow => qr/worker process \d+ exited on signal 9/);
