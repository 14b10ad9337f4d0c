#!/usr/bin/perl

# S3 multipart uploads against the suite's strict S3 server (s3rver behind
# t/lib/s3proxy.py, which refuses a CompleteMultipartUpload that S3 would
# refuse and answers ListParts, ListMultipartUploads and
# AbortMultipartUpload itself):
#
#   1. a 24 MB mp4 with part_size=5m: 5 parts, byte-identical, video/mp4;
#   2. a part the server keeps failing: the file's attempts come with
#      growing gaps (1, 2, 4, 8, 16 s: counted at the server, not timed),
#      and giving up (live_record_notify_retry 20s) aborts the upload;
#   3. kill -9 of nginx while part 3 is on its way: after the restart the
#      upload is found (ListMultipartUploads), its parts compared with the
#      local MD5s (ListParts), and only parts 3 to 5 are sent again;
#   4. a part damaged on the way: its ETag is not the local MD5, it is sent
#      again and the object is byte-identical;
#
# and after each, no incomplete multipart upload is left in the bucket.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use Test::More;
use Time::HiRes qw(sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;
use LiveRecord::S3;

need_all('s3rver', 's3rver or its proxy not installed')
    unless LiveRecord::S3::available();
plan(tests => 38);

# a recording of ~24 MB: 1280x720 at ~24 Mbit/s for 8 s (as store_s3.t)

my $big = big_media();

my $PART = 5 * 1024 * 1024;

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4;
    }
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;
    live_record_notify_retry 20s;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_store s3 http://127.0.0.1:%%PORT_PROXY%%/vod/rec region=us-east-1 access_key=%%ACCESS%% secret_key_file=%%PREFIX%%/secret part_size=5m path=%%PREFIX%%/store;
        }
    }
}
EOF
$conf =~ s/%%ACCESS%%/$LiveRecord::S3::ACCESS/g;

my $p = prefix();
{
    open my $fh, '>', "$p/secret" or die;
    print $fh "$LiveRecord::S3::SECRET\n";
    close $fh;
}

my @dirs = qw(store work index spool);
port('S3');
port('PROXY');
start_nginx(conf => $conf, dirs => \@dirs);

my $s3 = LiveRecord::S3->start(dir => "$p/s3", log => "$p/proxy.log",
                               tools => "$p/logs/tools.log",
                               proxy => port('PROXY'), port => port('S3'),
                               bucket => 'vod');
ok($s3->up, 's3rver and the strict proxy are up');

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

sub key_of {
    my ($stream) = @_;
    my ($mp4) = grep { $_->{path} =~ m{/live/\Q$stream\E/.*\.mp4$} }
                $s3->log;
    return $mp4 ? $mp4->{path} : '';
}

# the requests of one object's upload, in order, with their part numbers

sub requests_of {
    my ($path) = @_;
    return map { my %r = %$_;
                 ($r{part}) = $r{query} =~ /^partNumber=(\d+)&/;
                 \%r }
           grep { $_->{path} eq $path } $s3->log;
}

sub parts_of {
    my ($size) = @_;
    return int(($size + $PART - 1) / $PART);
}

# 1. a multipart upload across part_size

is(push_stream($big, rtmp_url('live', 'big')), 0, 'push ~24 MB');
my ($bm) = $rcv->wait_events('record_done', 'big', 1, 60);
ok($bm && $bm->{file_size} > 3 * $PART, 'the mp4 is over three parts')
    or diag explain $bm;
my $path = key_of('big');
my @r = requests_of($path);
my @put = grep { $_->{part} } @r;
is_deeply([map { $_->{part} } @put], [1 .. parts_of($bm->{file_size})],
          'UploadPart 1 to N, once each');
ok(!grep({ $_->{size} != $PART } @put[0 .. $#put - 1]),
   'parts of part_size but the last');
is_deeply([map { "$_->{method} $_->{verdict} $_->{status}" }
           grep { !$_->{part} } @r],
          ['POST ok 200', 'POST ok 200'],
          'CreateMultipartUpload and CompleteMultipartUpload, accepted');
(my $key = $path) =~ s{^/vod/}{};
my (undef, $obj) = $s3->object($key);
is(sha256_hex($obj // ''), $bm->{sha256},
   'the object is byte-identical: sha256 = index sha256');
is($s3->content_type($key), 'video/mp4', 'stored as video/mp4');
is_deeply($s3->incomplete, [], 'no incomplete upload after success');

# 2. part 2 keeps failing: backoff per file, then giving up aborts

$s3->control({ fail => 'PUT /vod/rec/live/fail/.*partNumber=2&',
               status => 503 });
is(push_stream($big, rtmp_url('live', 'fail')), 0, 'push to a failing part');
my ($failed) = $rcv->wait_events('record_failed', 'fail', 1, 90);
ok($failed, 'record_failed once the upload gives up');
is($failed && $failed->{reason}, 'handoff', 'reason handoff');
$path = key_of('fail');
@r = requests_of($path);
my @p2 = grep { ($_->{part} // 0) == 2 } @r;
is(scalar @p2, 6, 'part 2 tried 6 times in 20 s and a bit (1+2+4+8+16 s '
   . 'gaps), not once a second');
ok(!grep({ $_->{status} != 503 } @p2), 'each failed by the server');
my @retry = map { /attempt (\d+), retry in (\d+) ms/ ? "$1:$2" : () }
            log_lines(qr/upload of .* failed \(status 503 SlowDown: failed /
                      . qr/by the test\), key "rec\/live\/fail\//);
is_deeply(\@retry, ['1:1000', '2:2000', '3:4000', '4:8000', '5:16000'],
          'the failures: attempts of the file, the gap doubling');
is(scalar(log_lines(qr/\[crit\].*upload of .* given up after 6 attempts /
                    . qr/\(status 503 SlowDown/)), 1, 'given up after 6');
is(scalar(grep { $_->{method} eq 'POST' && $_->{query} eq 'uploads=' } @r), 1,
   'one upload for all the attempts');
is(scalar(grep { $_->{method} eq 'GET' && $_->{query} =~ /uploadId=/ } @r), 5,
   'each retry looks at the parts there (ListParts)');
is_deeply([map { "$_->{method} $_->{status}" }
           grep { $_->{method} eq 'DELETE' } @r], ['DELETE 204'],
          'AbortMultipartUpload on giving up');
is_deeply($s3->incomplete, [], 'no incomplete upload after giving up');
$s3->control({});

# 3. kill -9 while part 3 is sent; the restart sends only what is missing

$s3->control({ hold => 'PUT /vod/rec/live/resume/.*partNumber=3&' });
is(push_stream($big, rtmp_url('live', 'resume')), 0, 'push, part 3 held');
ok(wait_for(sub { grep { $_->{verdict} eq 'held' } $s3->log }, 30),
   'part 3 reached the server');
my ($master) = (do { local (@ARGV, $/) = "$p/logs/nginx.pid"; <> } // '')
               =~ /(\d+)/;
my @victims = ($master, children($master));
kill 'KILL', @victims;
ok(wait_for(sub { !grep { kill 0, $_ } @victims }, 10), 'nginx killed');
$s3->control({});
ok(wait_for(sub { grep { ($_->{forced} // '') eq 'hold'
                         && $_->{verdict} eq 'ok' && $_->{status} == 503 }
                  $s3->log }, 10),
   'the held part is answered 503, not stored');
stop_nginx();
unlink "$p/logs/nginx.pid";
start_nginx(conf => $conf, dirs => \@dirs);
my ($rm) = $rcv->wait_events('record_done', 'resume', 1, 60);
ok($rm, 'record_done after the restart');
$path = key_of('resume');
@r = requests_of($path);
my ($held) = grep { $_->{verdict} eq 'held' } @r;
my @ids = do { my %s; grep { !$s{$_}++ }
               map { /uploadId=(\w+)/ ? $1 : () } map { $_->{query} } @r };
is(scalar @ids, 1, 'one multipart upload, resumed');
my @after = grep { !$_->{forced} } @r[(grep { $r[$_]{verdict} eq 'held' }
                                       0 .. $#r)[0] + 1 .. $#r];
is_deeply([map { $_->{part} } grep { $_->{part} } @after],
          [3 .. parts_of($rm->{file_size})],
          'after the restart only the missing parts are sent');
ok(!grep({ $_->{query} eq 'uploads=' } @after),
   'no new CreateMultipartUpload');
(my $rkey = $path) =~ s{^/vod/}{};
(undef, $obj) = $s3->object($rkey);
is(sha256_hex($obj // ''), $rm->{sha256},
   'the resumed object is byte-identical');
is_deeply($s3->incomplete, [], 'no incomplete upload after the restart');

# 4. part 2 reaches the server damaged: its ETag is not the local MD5, so
#    it is sent again, and the object is still byte-identical

$s3->control({ damage => 'PUT /vod/rec/live/damaged/.*partNumber=2&' });
is(push_stream($big, rtmp_url('live', 'damaged')), 0, 'push, part 2 damaged');
ok(wait_for(sub { grep { ($_->{forced} // '') eq 'damage' } $s3->log }, 60),
   'part 2 reached the server damaged');
$s3->control({});
my ($dm) = $rcv->wait_events('record_done', 'damaged', 1, 60);
ok($dm, 'record_done after the damaged part');
$path = key_of('damaged');
my @d2 = grep { ($_->{part} // 0) == 2 } requests_of($path);
ok(@d2 >= 2 && ($d2[0]{forced} // '') eq 'damage' && !$d2[-1]{forced}
   && $d2[-1]{status} == 200, 'part 2: damaged, then sent again whole')
    or diag explain \@d2;
ok(scalar(log_lines(qr/ETag "?[0-9a-f]{32}"? is not the MD5 of the part /
                    . qr/sent.*"rec\/live\/damaged\//)),
   'the ETag mismatch is logged');
(my $dkey = $path) =~ s{^/vod/}{};
(undef, $obj) = $s3->object($dkey);
is(sha256_hex($obj // ''), $dm && $dm->{sha256},
   'the object is byte-identical despite the damage');
is_deeply($s3->incomplete, [], 'no incomplete upload after the damage');

$rcv->stop;
$s3->stop;

sub children {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $s = <$fh> // '';
        push @kids, $1 if $s =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $ppid;
    }
    return @kids;
}

no_alerts(allow => qr/worker process \d+ exited on signal 9|"live\/fail" /
                   . qr/upload of \S+ to "[^"]+" given up after 6 attempts/);
