#!/usr/bin/perl

# live_record_store s3 against the suite's strict S3 server (s3rver behind
# t/lib/s3proxy.py: SigV4 re-checked with botocore, multipart held to the
# S3 API reference): single PUTs of every format with its Content-Type, a
# multipart upload of a part larger than part_size, keys from stream names
# percent-encoded, the objects fetched back and their sha256 matching the
# index, no incomplete upload left; bad credentials are retried with the
# S3 error's code in a clear log line, not lost; the proxy answers a
# malformed Authorization header with 403.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;
use LiveRecord::S3;

need_all('s3rver', 's3rver or its proxy not installed')
    unless LiveRecord::S3::available();
plan(tests => 35);

my $in = make_media(duration => 6);

# a recording above one 8 MiB part: 1280x720 at ~24 Mbit/s for 8 s

my $big = big_media();

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4 flv aac hls;
        live_record_hls_fragment 2s;
    }
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_store s3 http://127.0.0.1:%%PORT_PROXY%%/vod/rec region=us-east-1 access_key=%%ACCESS%% secret_key_file=%%PREFIX%%/secret path=%%PREFIX%%/store url=http://cdn.example/vod;
        }
        application bad {
            live on;
            live_record t;
            live_record_store s3 http://127.0.0.1:%%PORT_PROXY%%/vod/bad region=us-east-1 access_key=%%ACCESS%% secret_key_file=%%PREFIX%%/wrong path=%%PREFIX%%/badstore;
        }
    }
}
EOF
$conf =~ s/%%ACCESS%%/$LiveRecord::S3::ACCESS/g;

my $p = prefix();
for (['secret', $LiveRecord::S3::SECRET], ['wrong', 'not-the-secret']) {
    open my $fh, '>', "$p/$_->[0]" or die;
    print $fh "$_->[1]\n";
    close $fh;
}

port('S3');     # taken now: start_nginx frees the ports it holds
start_nginx(conf => $conf, dirs => [qw(store badstore work index spool)]);

# s3rver behind the strict proxy, both stopped by pid at the end

my $s3 = LiveRecord::S3->start(dir => "$p/s3", log => "$p/proxy.log",
                               tools => "$p/logs/tools.log",
                               proxy => port('PROXY'), port => port('S3'),
                               bucket => 'vod');
ok($s3->up, 's3rver and the strict proxy are up');

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

sub proxy_log { return $s3->log }

sub object {
    my ($key) = @_;
    my (undef, $body) = $s3->object($key);
    return $body;
}

# 1. a stream name that needs encoding, small parts: single PUTs

is(push_stream($in, rtmp_url('live', 'cam+1=x')), 0,
   'push "cam+1=x"');
my @done = $rcv->wait_events('record_done', 'cam+1=x', 4, 30);
is(scalar @done, 4, 'record_done for mp4, flv, aac and hls');
my ($mp4) = grep { $_->{file_format} eq 'mp4' } @done;
like($mp4->{video_url},
     qr{^http://cdn\.example/vod/rec/live/cam%2B1%3Dx/\d{8}/cam%2B1%3Dx-\d+-1\.mp4$},
     'video_url: url= base and the percent-encoded key');
(my $key = $mp4->{video_url}) =~ s{^http://cdn\.example/vod/}{};
my $obj = object($key);
ok(defined $obj, 'object stored under the encoded key');
is(sha256_hex($obj // ''), $mp4->{sha256}, 'object sha256 = index sha256');
is(length($obj // ''), $mp4->{file_size}, 'object size');
{
    my $copy = prefix() . '/object.mp4';
    open my $fh, '>:raw', $copy or die "$copy: $!";
    print $fh $obj // '';
    close $fh;
    mp4_ok($copy, from => $in, name => 'the mp4 object read back from s3');
}
my %type = (mp4 => 'video/mp4', flv => 'video/x-flv', aac => 'audio/aac',
            hls => 'application/vnd.apple.mpegurl');
for my $e (sort { $a->{file_format} cmp $b->{file_format} } @done) {
    (my $k = $e->{video_url}) =~ s{^http://cdn\.example/vod/}{};
    is($s3->content_type($k), $type{$e->{file_format}},
       "$e->{file_format} object served as $type{$e->{file_format}}");
}
{
    my ($hls) = grep { $_->{file_format} eq 'hls' } @done;
    (my $k = $hls->{video_url}) =~ s{^http://cdn\.example/vod/}{};
    $k =~ s{index\.m3u8$}{0.ts};
    is($s3->content_type($k), 'video/mp2t', 'hls segment served as video/mp2t');
}
my @log = proxy_log();
ok(@log >= 4, 'requests went through the proxy');
is_deeply([grep { $_->{verdict} ne 'ok' } @log], [],
          'every signature verified by botocore');
is(scalar(find_files("$p/store", qr/\.(mp4|ts|m3u8)$/)), 0,
   'local copies deleted');
my $entry = eval {
    open my $fh, '<', "$p/index/live/cam+1=x/$mp4->{file_id}.json";
    local $/;
    decode_json(<$fh>);
} || {};
is($entry->{sha256}, $mp4->{sha256}, 'index entry');

# 2. multipart: a file above part_size (8 MiB)

is(push_stream($big, rtmp_url('live', 'big')), 0, 'push ~24 MB');
my ($bm) = grep { $_->{file_format} eq 'mp4' }
           $rcv->wait_events('record_done', 'big', 4, 60);
ok($bm && $bm->{file_size} > 8 * 1024 * 1024, 'the mp4 is over one part')
    or diag explain $bm;
my @mp = grep { $_->{path} =~ /big.*\.mp4$/ } proxy_log();
is_deeply([map { $_->{method} } grep { $_->{query} eq 'uploads=' } @mp],
          ['POST'], 'CreateMultipartUpload');
my @parts = grep { $_->{query} =~ /^partNumber=\d+&uploadId=/ } @mp;
is(scalar @parts, int(($bm->{file_size} - 1) / (8 * 1024 * 1024)) + 1,
   'UploadPart per 8 MiB');
ok(!grep({ $_->{size} < 8 * 1024 * 1024 } @parts[0 .. $#parts - 1]),
   'parts of 8 MiB but the last');
is(scalar(grep { $_->{query} =~ /^uploadId=/ && $_->{method} eq 'POST' }
          @mp), 1, 'CompleteMultipartUpload');
is_deeply([grep { $_->{verdict} ne 'ok' } @mp], [],
          'multipart signatures verified');
(my $bkey = $bm->{video_url}) =~ s{^http://cdn\.example/vod/}{};
is(sha256_hex(object($bkey) // ''), $bm->{sha256},
   'multipart object sha256 = index sha256');
is($s3->content_type($bkey), 'video/mp4', 'multipart object: video/mp4');
is_deeply($s3->incomplete, [], 'no incomplete multipart upload left');

# 3. bad credentials: 403, retried with a clear line, spooled, not lost

is(push_stream($in, rtmp_url('bad', 'cam')), 0, 'push with a wrong secret');
ok(wait_for(sub {
       log_lines(qr/\[warn\].*upload of .* failed \(status 403 Signature/
                 . qr/DoesNotMatch: .*\), key "bad\/.*retry in/)
       >= 2 }, 10), 'failed attempts logged with the status, S3 code, key');
ok(find_files("$p/spool/handoff", qr/\.json$/), 'the upload waits in the spool');
ok(find_files("$p/badstore", qr/\.mp4$/), 'the file is kept locally');
ok(!grep({ /\Q$LiveRecord::S3::SECRET\E|not-the-secret/ } log_lines()),
   'no secret in the error log');

# 4. the proxy itself: a malformed Authorization header is answered 403

{
    my $sock = IO::Socket::INET->new('127.0.0.1:' . port('PROXY'));
    print $sock "GET /vod/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        . "Authorization: AWS4-HMAC-SHA256 garbage\r\n"
        . "Connection: close\r\n\r\n";
    local $/;
    my $resp = <$sock> // '';
    like($resp, qr{^HTTP/1\.1 403 .*<Code>AuthorizationHeaderMalformed</Code>}s,
         'malformed Authorization: 403 AuthorizationHeaderMalformed');
}

is_deeply($s3->incomplete, [], 'no incomplete upload left at the end');

$rcv->stop;
$s3->stop;

no_alerts();
