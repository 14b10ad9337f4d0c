#!/usr/bin/perl

# live_record_store http: every finished file PUT to a second, real nginx
# with dav_methods PUT; the local copy deleted once confirmed (or kept);
# a JSON reply's file_id and url win; an outage is retried, not lost.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use Test::More tests => 38;
use Time::HiRes qw(sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;
use LiveRecord::Dav;

my $in = make_media(duration => 6);

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4 hls;
        live_record_hls_fragment 2s;
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
            live_record_store http http://127.0.0.1:%%PORT_DAV%%/ingest/ "header=X-Token: abc" path=%%PREFIX%%/store;
        }
        application keep {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_DAV%%/ingest/ path=%%PREFIX%%/kept;
            live_record_keep_local on;
        }
        application vod {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_VOD%%/upload path=%%PREFIX%%/vod;
        }
    }
}
EOF

open my $kfh, '>', prefix() . '/key' or die "key: $!";
print $kfh "store-http-key\n";
close $kfh;
start_nginx(conf => $conf, dirs => [qw(store kept vod work index spool)]);
my $p = prefix();

sub sha_file {
    my ($f) = @_;
    open my $fh, '<:raw', $f or return '';
    local $/;
    return sha256_hex(<$fh> // '');
}

start_dav();
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => 'store-http-key');

# 1. PUT to the dav nginx, local copy deleted

is(push_stream($in, rtmp_url('live', 'cam')), 0, 'push');
my @done = $rcv->wait_events('record_done', 'cam', 2);
is(scalar @done, 2, 'record_done for mp4 and hls after the upload');
my ($mp4) = grep { $_->{file_format} eq 'mp4' } @done;
my ($hls) = grep { $_->{file_format} eq 'hls' } @done;

my @put = find_files("$p/dav/files", qr/\.mp4$/);
is(scalar @put, 1, 'mp4 PUT into the dav store');
is(sha_file($put[0] // ''), $mp4->{sha256}, 'uploaded bytes match sha256');
mp4_ok($put[0], from => $in, name => 'the mp4 PUT into the dav store');
like($mp4->{video_url}, qr{^http://127\.0\.0\.1:\d+/ingest/live/cam/.*\.mp4$},
     'video_url is where it was PUT');
ok(probe_ok($mp4->{video_url}), 'and plays from there');
my @ts = find_files("$p/dav/files", qr/\.ts$/);
ok(@ts >= 2, 'hls segments uploaded');
ok(find_files("$p/dav/files", qr/index\.m3u8$/), 'hls playlist uploaded');
is(probe_counts($hls->{video_url})->{video}, probe_counts($in)->{video},
   'uploaded hls plays');
is(scalar(find_files("$p/store", qr/./)), 0, 'local copies deleted');
my $log = do { open my $fh, '<', "$p/dav/logs/access.log"; local $/; <$fh> };
like($log // '', qr/"PUT \/ingest\/live\/cam\/.*\.mp4 HTTP\/1\.1" 201/,
     'the dav nginx answered 201');
index_ok("$p/index/live/cam/$mp4->{file_id}.json", file => $put[0] // '',
         part => 1, event => $mp4, name => 'the mp4 PUT');

# 2. keep_local

is(push_stream($in, rtmp_url('keep', 'cam')), 0, 'push, keep_local');
$rcv->wait_events('record_done', 'cam', 4);
is(scalar(find_files("$p/kept", qr/\.mp4$/)), 1, 'local mp4 kept');
is(scalar(find_files("$p/kept", qr/index\.m3u8$/)), 1, 'local hls kept');

# 3. a VOD ingest that answers with its own id and URL

my $vod = LiveRecord::Receiver->start(port => port('VOD'),
    reply => '{"file_id":"vod-42","url":"https://cdn.example/v/42.mp4"}');
is(push_stream($in, rtmp_url('vod', 'cam9')), 0, 'push to the vod ingest');
my @v = $rcv->wait_events('record_done', 'cam9', 2);
my ($vm) = grep { $_->{file_format} eq 'mp4' } @v;
is($vm->{file_id}, 'vod-42', 'file_id from the reply wins');
is($vm->{video_url}, 'https://cdn.example/v/42.mp4', 'url from the reply wins');
like($vm->{index_id} // '', qr/^\d{13}-.*-mp4$/,
     'index_id: the time-sortable name of the entry');
ok(-f "$p/index/vod/cam9/" . ($vm->{index_id} // 'none') . '.json',
   'the entry is found by its index_id');
my @puts = grep { $_->{method} eq 'PUT' } $vod->requests;
ok(@puts >= 3, 'every file PUT');
my ($mput) = grep { $_->{path} =~ /\.mp4$/ } @puts;
index_ok("$p/index/vod/cam9/" . ($vm->{index_id} // 'none') . '.json',
         size => $mput->{size}, sha256 => $mput->{sha256}, part => 1,
         event => $vm, name => 'the mp4 the vod ingest renamed');
is($mput->{size}, $vm->{file_size}, 'PUT body is the whole file');
$vod->stop;

# 4. the store is down: retried with a log line, delivered when it is back

stop_dav();
is(push_stream($in, rtmp_url('live', 'late')), 0, 'push while down');
ok(wait_for(sub { log_lines(qr/\[warn\].*upload of .* failed/) >= 1 }, 10),
   'failed upload logged') or diag join "\n", log_lines(qr/upload/);
is(scalar($rcv->wait_events('record_done', 'late', 1, 1)), 0,
   'no record_done yet');
ok(find_files("$p/spool/handoff", qr/\.json$/), 'upload spooled');
start_dav();
my @late = $rcv->wait_events('record_done', 'late', 2, 30);
is(scalar @late, 2, 'delivered once the store is back');
ok(wait_for(sub { !find_files("$p/spool/handoff", qr/\.json$/) }, 5),
   'spool emptied');

# 5. the store is down across an nginx restart: the next worker takes the
#    spooled upload over and finishes it

stop_dav();
is(push_stream($in, rtmp_url('live', 'restart')), 0, 'push while down');
ok(wait_for(sub { find_files("$p/spool/handoff", qr/\.json$/) >= 2 }, 10),
   'uploads spooled');
stop_nginx();
start_dav();
start_nginx(conf => $conf, dirs => [qw(store kept vod work index spool)]);
my @resumed = $rcv->wait_events('record_done', 'restart', 2, 30);
is(scalar @resumed, 2, 'delivered by the restarted nginx');
ok(scalar(log_lines(qr/spooled upload of .* resumed/)) >= 2,
   'resumption logged');
ok(wait_for(sub { !find_files("$p/spool/handoff", qr/\.json$/) }, 5),
   'spool emptied after the restart');
is(scalar(find_files("$p/store", qr/restart.*\.mp4$/)), 0,
   'local copy deleted after the resumed upload');

stop_dav();
$rcv->signatures_ok('notify after uploads (key_file=)');
$rcv->stop;

no_alerts();
