#!/usr/bin/perl

# A full disk: the part closes at its last good frame with one crit line
# and a record_failed event, the stream keeps being served to a player,
# and a later part records once space is freed.  live_record_min_free
# keeps new parts from starting on a nearly full disk.  Needs root (the
# work path is a tiny tmpfs).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $p = prefix();
my $small = small_disk('1536k');
need_all('tmpfs', 'cannot mount a tmpfs here (needs root)') unless $small;

plan(tests => 15);

my $in = dense_media();

start_nginx(conf => <<'EOF', dirs => [qw(store work index spool)]);
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_min_duration 1s;
    }
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=disk-key;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_store local %%PREFIX%%/small/store;
            live_record_work_path %%PREFIX%%/small/work;
            live_record_min_free 0;
        }
        application low {
            live on;
            live_record t;
            live_record_store local %%PREFIX%%/store;
            live_record_work_path %%PREFIX%%/work;
            live_record_min_free 100000g;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => 'disk-key');

# a player of the same stream counts what it is served

sub player {
    my ($app, $name, $log) = @_;
    my $pid = fork();
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log;
        open STDERR, '>&', \*STDOUT;
        exec 'ffprobe', qw(-v error -rw_timeout 8000000 -show_entries
            packet=stream_index -select_streams v:0 -of csv),
            rtmp_url($app, $name);
        exit 127;
    }
    return $pid;
}

# 1. the work path fills during a real-time push

my $pub = push_stream_bg($in, rtmp_url('live', 'full'), realtime => 1);
sleep 1;
my $play = player('live', 'full', "$p/play.csv");

ok(wait_for(sub { log_lines(qr/\[crit\].*No space left on device/) }, 15),
   'write error logged') or diag join "\n", log_lines(qr/live record/);
ok(wait_for(sub { log_lines(qr/\[warn\].*closed at its last good frame/) },
            5), 'the part closed at its last good frame');
my @f = wait_files("$small/store", qr/\.mp4$/, 1, 10);
ok(@f >= 1, 'the failed part is in the store');
ok(probe_ok($f[0] // ''), 'and plays');
ok(wait_for(sub { $rcv->events('record_failed', 'full') }, 10),
   'record_failed event');
my ($done) = grep { $_->{file_format} eq 'mp4' }
             $rcv->events('record_done', 'full');
is($done->{end_reason} // '', 'write_error', 'record_done says why it ended');

# 2. free the space: a later part records

unlink find_files("$small/store", qr/\.(mp4|flv)$/);
ok(wait_for(sub { log_lines(qr/part 2 opened/) }, 12), 'part 2 started')
    or diag join "\n", log_lines(qr/live record/);
wait_push($pub, 40);
waitpid($play, 0);

my @later = wait_files("$small/store", qr/-2(?:_\d+)?\.mp4$/, 1, 10);
ok(@later && probe_ok($later[0]), 'a later part recorded and plays')
    or diag explain [find_files($small)];

my $served = () = do { open my $fh, '<', "$p/play.csv"; <$fh> };
ok($served >= 0.8 * 20 * 25, "the player was served the stream throughout")
    or diag "$served video frames";

# 3. below live_record_min_free no part starts, the publish goes on

is(push_stream(make_media(duration => 4), rtmp_url('low', 'cam')), 0,
   'push below min_free');
ok(scalar(log_lines(qr/\[warn\].*below live_record_min_free .* no new part/)),
   'min_free logged');
is(scalar(find_files("$p/store", qr/\.mp4$/)), 0, 'no part started');
ok(wait_for(sub { grep { $_->{reason} eq 'min_free' }
                  $rcv->events('record_failed', 'cam') }, 5),
   'record_failed event with reason min_free');

$rcv->signatures_ok('notify of write and min_free failures (key=)');
$rcv->stop;

# one crit line for each file a write error ends, naming the cause
# the full disk's crit lines: libavformat's FLV calls, or the MP4
# writer's write(), whichever fails first
no_alerts(allow => qr/\[crit\].*(?:: av(?:_write_frame|io_flush|_write_trailer)\(.*\) failed \(No space left on device\)|: write\("[^"]*\.mp4(?:\.samples)?"\) failed \(28: No space left on device\))/);
