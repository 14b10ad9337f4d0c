#!/usr/bin/perl

# HLS on a full disk: the recording closes at once with what reached the
# disk, one crit line naming the cause, a record_failed event, then a
# record_done whose duration is what the stored playlist holds; that
# playlist is VOD with #EXT-X-ENDLIST, lists no empty segment and gives
# every segment its real duration, and ffmpeg reads it to the end.  Once
# space is freed a new recording starts.  Needs root (the work path is a
# tiny tmpfs).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(remove_tree);
use Test::More;
use Time::HiRes qw(sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $p = prefix();
my $small = small_disk('1536k');
need_all('tmpfs', 'cannot mount a tmpfs here (needs root)') unless $small;

plan(tests => 21);

my $in = dense_media();

start_nginx(conf => <<'EOF', dirs => [qw(index spool)]);
rtmp {
    live_record_template t {
        live_record_formats hls;
        live_record_hls_fragment 2s;
        live_record_min_duration 1s;
    }
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_store local %%PREFIX%%/small/store;
            live_record_work_path %%PREFIX%%/small/work;
            live_record_min_free 0;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

my $crit = qr/\[crit\]/;

# 1. the work path fills during a real-time push

my $pub = push_stream_bg($in, rtmp_url('live', 'full'), realtime => 1);

ok(wait_for(sub { log_lines(qr/\[crit\].*No space left on device/) }, 20),
   'write error logged') or diag join "\n", log_lines(qr/live record/);

my @done;
ok(wait_for(sub { @done = $rcv->events('record_done', 'full') }, 15),
   'record_done for what was kept')
    or diag join "\n", log_lines(qr/live record/);
my $done = $done[0] // {};

# what was kept is copied off the tmpfs, which is then freed at once

my @crits = log_lines($crit);
my $dir = "$p/kept";
system('cp', '-a', $done->{path} // '', $dir) == 0 or diag "cp failed";
remove_tree("$small/store");
my $pl = slurp("$dir/index.m3u8");
is(scalar @crits, 1, 'one crit line for the full disk')
    or diag join "\n", @crits;
like($crits[0] // '', qr/No space left on device/, 'it names the cause');

is($done->{end_reason} // '', 'write_error', 'record_done says why it ended');
my @failed = $rcv->events('record_failed', 'full');
is(scalar(grep { ($_->{reason} // '') eq 'write' } @failed), 1,
   'one record_failed event, reason write');

like($pl, qr/^#EXT-X-PLAYLIST-TYPE:VOD$/m, 'the stored playlist is VOD');
like($pl, qr/#EXT-X-ENDLIST\n\z/, 'and ends with #EXT-X-ENDLIST');

my @names = $pl =~ /^(\d+\.ts)$/mg;
my @inf = $pl =~ /^#EXTINF:([\d.]+),$/mg;
ok(@names >= 2, 'segments listed') or diag $pl;
is(scalar @inf, scalar @names, 'one duration per segment');
my @ts = map { "$dir/$_" } @names;
is(scalar(grep { !-s $_ } @ts), 0, 'no empty or missing segment listed');
is(scalar(find_files($dir, qr/\.ts$/)), scalar @ts,
   'no segment on disk that is not listed');
is(scalar(grep { $_ <= 0 } @inf), 0, 'no zero duration listed');

my $listed = 0;
$listed += $_ for @inf;
my @bad = grep {
    abs($inf[$_] - (probe_duration($ts[$_]) // 0)) > 0.1
} 0 .. $#ts;
is_deeply([map { $names[$_] } @bad], [],
          'every listed duration is its segment\'s own');
ok(abs(($done->{duration} // 0) - $listed) < 0.01,
   'record_done duration is what the playlist holds')
    or diag "event $done->{duration}, playlist $listed";
ok($listed > 2 && $listed < 20, 'part of the push was kept')
    or diag $listed;
ok(!-e "$dir/.reserve", 'no reserve file left in the store');

# ffmpeg reads the playlist to the end (an EVENT playlist it would poll)

my $rc = system('timeout', '30', 'ffmpeg', qw(-hide_banner -loglevel error
                -nostdin -i), "$dir/index.m3u8", qw(-c copy -f null -));
is($rc, 0, 'ffmpeg -i on the stored playlist terminates');

# 2. the space is free: a new recording starts

ok(wait_for(sub { log_lines(qr/"live\/full" hls recording of part \d+ opened/)
                  >= 2 }, 15),
   'a new recording starts once space is freed')
    or diag join "\n", log_lines(qr/live record/);


wait_push($pub, 40);

my @later;
wait_for(sub { @later = grep { $_->{path} ne $done->{path} }
                        $rcv->events('record_done', 'full');
               @later }, 20);
ok(@later && probe_ok("$later[0]{path}/index.m3u8"),
   'the recording after the freed space plays')
    or diag explain [$rcv->events('record_done', 'full')];

$rcv->stop;

# the segment's bytes are written by libav's calls or by the write task
no_alerts(allow => qr/\[crit\].*(?:: av(?:_write_frame|io_flush|_write_trailer)\(.*\) failed \(No space left on device\)|: write\("[^"]*\.ts"\) failed \(28: No space left on device\))/);
