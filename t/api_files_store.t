#!/usr/bin/perl

# DELETE /files/ID at remote stores: an http store (a second nginx with
# WebDAV DELETE) and s3 (the suite's strict S3 server: s3rver behind
# t/lib/s3proxy.py, which checks every SigV4 signature and payload hash).
# An mp4 is one DELETE; an hls recording is its playlist fetched, then a
# DELETE per segment and the playlist; a kept local copy goes too; the
# entry goes last.  A store that refuses keeps the entry and the answer is
# 502 with the store's status.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(_exit);
use Test::More;
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::S3;
use LiveRecord::Dav;

plan(tests => 32);

my $TOKEN = 'store-token-' . $$;
my $in = make_media(duration => 6);
my $p = prefix();

my $conf = <<'EOF2';
rtmp {
    live_record_template t {
        live_record_formats mp4 hls;
        live_record_hls_fragment 2s;
    }
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application dav {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_DAV%%/ingest/ path=%%PREFIX%%/kept;
            live_record_keep_local on;
        }
        application nodel {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_DAV%%/putonly/ path=%%PREFIX%%/nodel;
        }
        application s3 {
            live on;
            live_record t;
            live_record_store s3 http://127.0.0.1:%%PORT_PROXY%%/vod/rec region=us-east-1 access_key=%%ACCESS%% secret_key_file=%%PREFIX%%/secret path=%%PREFIX%%/s3local;
        }
    }
}

http {
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;

        location /api/ {
            live_record_api;
            live_record_api_token_file %%PREFIX%%/token;
        }
    }
}
EOF2

$conf =~ s/%%ACCESS%%/$LiveRecord::S3::ACCESS/g;

for (['token', $TOKEN], ['secret', $LiveRecord::S3::SECRET]) {
    open my $fh, '>', "$p/$_->[0]" or die "$_->[0]: $!";
    print $fh "$_->[1]\n";
    close $fh;
}

port('S3');
port('PROXY');
start_nginx(conf => $conf, dirs => [qw(kept nodel s3local work index spool)]);
# the WebDAV nginx: /ingest/ takes PUT and DELETE, /putonly/ only PUT
start_dav(methods => { '/ingest/' => 'PUT DELETE', '/putonly/' => 'PUT' });

my @pids;
END { kill 'KILL', @pids if @pids; }

my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);

sub entries {
    my ($app) = @_;
    my @e;
    for my $f (find_files("$p/index/$app", qr/\.json$/)) {
        open my $fh, '<', $f or next;
        local $/;
        my $j = eval { decode_json(<$fh>) } or next;
        push @e, $j;
    }
    return @e;
}

sub dav_log {
    open my $fh, '<', "$p/dav/logs/access.log" or return '';
    local $/;
    return <$fh> // '';
}

# 1. http store, keep_local: an mp4, then an hls recording

is(push_stream($in, rtmp_url('dav', 'cam')), 0, 'push to the http store');
ok(wait_for(sub { my @e = entries('dav'); @e >= 2 }, 20), 'uploaded, indexed');
my ($mp4) = grep { $_->{file_format} eq 'mp4' } entries('dav');
my ($hls) = grep { $_->{file_format} eq 'hls' } entries('dav');
my @remote = find_files("$p/dav/files", qr/\.mp4$/);
is(scalar @remote, 1, 'the mp4 is at the store');
ok(-f $mp4->{path}, 'and kept locally');

my ($st, $j) = $api->call(DELETE => "/api/files/$mp4->{file_id}");
is($st, 200, 'DELETE the mp4') or diag explain $j;
is(scalar(find_files("$p/dav/files", qr/\.mp4$/)), 0, 'gone from the store');
like(dav_log(), qr/"DELETE \/ingest\/dav\/cam\/\S+\.mp4 HTTP\/1\.1" 204/,
     'the store answered DELETE with 204');
ok(!-e $mp4->{path}, 'the kept copy is gone');
ok(!-e "$p/index/dav/cam/$mp4->{file_id}.json", 'the entry is gone');

my @ts = find_files("$p/dav/files", qr/\.ts$/);
ok(@ts >= 3, scalar(@ts) . ' hls segments at the store');
($st, $j) = $api->call(DELETE => "/api/files/$hls->{file_id}");
is($st, 200, 'DELETE the hls recording') or diag explain $j;
is(scalar(find_files("$p/dav/files", qr/\.(ts|m3u8)$/)), 0,
   'every segment and the playlist are gone from the store');
my $log = dav_log();
like($log, qr/"GET \/ingest\/\S+\/index\.m3u8 HTTP\/1\.1" 200/,
     'the playlist was read for the segment names');
is(scalar(() = $log =~ /"DELETE \/ingest\/\S+\.ts HTTP\/1\.1" 204/g),
   scalar @ts, 'one DELETE per segment');
ok(!-e $hls->{path}, 'the kept directory is gone');
ok(!-e "$p/index/dav/cam/$hls->{file_id}.json", 'the entry is gone');

# 2. a store that does not allow DELETE: 502, the entry stays

is(push_stream($in, rtmp_url('nodel', 'cam')), 0, 'push to /putonly/');
ok(wait_for(sub { my @e = entries('nodel'); @e >= 2 }, 20), 'indexed');
my ($nd) = grep { $_->{file_format} eq 'mp4' } entries('nodel');
($st, $j) = $api->call(DELETE => "/api/files/$nd->{file_id}");
is($st, 502, 'refused by the store: 502');
is($j->{code}, 'store_error', 'store_error');
is($j->{status}, 405, 'with the store\'s status');
ok(-f "$p/index/nodel/cam/$nd->{file_id}.json", 'the entry stays');
ok(scalar(find_files("$p/dav/files", qr/\.mp4$/)) == 1, 'the file stays');

# 3. s3

SKIP: {
    need('s3rver', 's3rver or its proxy not installed', 8)
        unless LiveRecord::S3::available();

    my $s3 = LiveRecord::S3->start(dir => "$p/s3", log => "$p/proxy.log",
                                   tools => "$p/logs/tools.log",
                                   proxy => port('PROXY'),
                                   port => port('S3'), bucket => 'vod');
    push @pids, @{$s3->{pids}};

    is(push_stream($in, rtmp_url('s3', 'cam')), 0, 'push to s3');
    ok(wait_for(sub { my @e = entries('s3'); @e >= 2 }, 30), 'indexed');
    my ($s3mp4) = grep { $_->{file_format} eq 'mp4' } entries('s3');
    my ($s3hls) = grep { $_->{file_format} eq 'hls' } entries('s3');
    my $objects = sub {
        find_files("$p/s3/vod", qr/\._S3rver_object$|\.(mp4|ts|m3u8)$/);
    };
    my $n = () = $objects->();

    ($st, $j) = $api->call(DELETE => "/api/files/$s3mp4->{file_id}");
    is($st, 200, 'DELETE the mp4 at s3') or diag explain $j;
    ($st, $j) = $api->call(DELETE => "/api/files/$s3hls->{file_id}");
    is($st, 200, 'DELETE the hls recording at s3') or diag explain $j;
    is(scalar(() = $objects->()), 0, "the $n objects are gone")
        or diag join "\n", $objects->();
    my @dels = grep { $_->{method} eq 'DELETE' } proxy_log();
    ok(@dels >= 4, scalar(@dels) . ' DELETE Object requests');
    is_deeply([grep { $_->{verdict} ne 'ok' } proxy_log()], [],
              'every signature verified by botocore');
    is_deeply($s3->incomplete, [], 'no incomplete upload left');
}

sub spawn {
    my @cmd = @_;
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$p/logs/tools.log";
        open STDERR, '>&', \*STDOUT;
        exec @cmd or _exit(127);
    }
    return $pid;
}

sub proxy_log {
    open my $fh, '<', "$p/proxy.log" or return ();
    return map { decode_json($_) } grep { /\S/ } <$fh>;
}

# the DELETE that /putonly/ refuses
no_alerts(allow => qr/\[error\] .*live record: delete of "[^"]+-mp4": DELETE nodel\/cam\/.* at the store "http:\/\/127\.0\.0\.1:\d+\/putonly\/" answered 405, the index entry is kept/);
