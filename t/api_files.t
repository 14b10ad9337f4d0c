#!/usr/bin/perl

# GET /files: entries of a stream in a time window, newest first, exactly
# (a part ending at "from" or starting at "to" is out), pages that stay
# stable while new files arrive; GET /files/ID; DELETE /files/ID removes
# the file (an mp4, an hls directory) and its entry, 409 while the file is
# being recorded; bad parameters are 400 naming the parameter, and change
# nothing.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More tests => 86;
use Time::HiRes qw(sleep);
use LiveRecord::Test;
use LiveRecord::API;

my $TOKEN = 'files-token-' . $$;
my $in = make_media(duration => 4);
my $long = make_media(duration => 12);

my $conf = <<'EOF2';
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_path $app/$name/%Y%m%d/$name-%Y%m%d%H%M%S-$part;
    }
    live_record_template h {
        live_record_formats mp4 hls;
        live_record_hls_fragment 2s;
    }
    live_record_store local %%PREFIX%%/store url=http://vod.example/rec;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
        application other {
            live on;
            live_record t;
        }
        application hls {
            live on;
            live_record h;
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

my $p = prefix();
open my $tfh, '>', "$p/token" or die "token: $!";
print $tfh "$TOKEN\n";
close $tfh;

start_nginx(conf => $conf, dirs => [qw(store work index spool)],
            workers => 2);
my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);

# every entry of the index, read from the disk: the oracle

sub index_entries {
    my @e;
    for my $f (find_files("$p/index", qr/\.json$/)) {
        open my $fh, '<', $f or next;
        local $/;
        my $j = eval { decode_json(<$fh>) } or next;
        (my $id = $f) =~ s{.*/|\.json$}{}g;
        $j->{_id} = $id;
        push @e, $j;
    }
    return sort { $b->{_id} cmp $a->{_id} } @e;
}

sub ids { return [ map { $_->{file_id} } @_ ] }

sub list {
    my ($query) = @_;
    my ($st, $j) = $api->call(GET => "/api/files$query");
    return ($st, $j);
}

# 1. files: cam twice, cam2 once (mp4 + flv each), other/cam once

for my $s (['live', 'cam'], ['live', 'cam2'], ['live', 'cam'],
           ['other', 'cam'])
{
    is(push_stream($in, rtmp_url(@$s)), 0, "push $s->[0]/$s->[1]");
    sleep 0.3;
}

ok(wait_for(sub { my @e = index_entries(); @e >= 8 }, 20),
   'eight index entries');
my @all = index_entries();
is(scalar @all, 8, 'no more');

my ($st, $j) = list('');
is($st, 200, 'GET /files');
is_deeply(ids(@{ $j->{files} }), ids(@all), 'all entries, newest first');
ok(!defined $j->{next_cursor}, 'no next page');
is_deeply($j->{files}[0], do { my %e = %{ $all[0] }; delete $e{_id}; \%e },
          'an entry is the index JSON as written');

# 2. filters

my @cam = grep { $_->{app} eq 'live' && $_->{stream_id} eq 'cam' } @all;
($st, $j) = list('?app=live&stream=cam');
is_deeply(ids(@{ $j->{files} }), ids(@cam), 'app and stream');
is(scalar @cam, 4, 'live/cam has four files');

($st, $j) = list('?stream=cam');
is_deeply(ids(@{ $j->{files} }),
          ids(grep { $_->{stream_id} eq 'cam' } @all),
          'a stream in every app');

($st, $j) = list('?app=live&format=flv');
is_deeply(ids(@{ $j->{files} }),
          ids(grep { $_->{app} eq 'live' && $_->{file_format} eq 'flv' }
              @all), 'format');

my $sid = $cam[0]{session_id};
($st, $j) = list("?session_id=$sid");
is_deeply(ids(@{ $j->{files} }),
          ids(grep { $_->{session_id} eq $sid } @all), 'session_id');
ok(@{ $j->{files} } >= 2, 'the session has files');

($st, $j) = list('?app=nosuch');
is($st, 200, 'an app with no files');
is_deeply($j->{files}, [], 'no files');

# 3. time windows: a file is in when start < to and end > from

sub in_window {
    my ($from, $to, @e) = @_;
    return grep { (!defined $to || $_->{start_time_ms} < $to)
                  && (!defined $from || $_->{end_time_ms} > $from) } @e;
}

my $c1 = $cam[-1];      # the oldest live/cam file
my $c2 = $cam[0];       # the newest
my @windows = (
    [ $c1->{end_time_ms}, undef, 'from = end of the oldest: it is out' ],
    [ $c1->{end_time_ms} - 1, undef, 'from 1 ms before its end: in' ],
    [ undef, $c2->{start_time_ms}, 'to = start of the newest: it is out' ],
    [ undef, $c2->{start_time_ms} + 1, 'to 1 ms after its start: in' ],
    [ $c1->{end_time_ms} - 1, $c2->{start_time_ms}, 'both ends' ],
);

for my $w (@windows) {
    my ($from, $to, $name) = @$w;
    my $q = '?app=live&stream=cam';
    $q .= "&from_ms=$from" if defined $from;
    $q .= "&to_ms=$to" if defined $to;
    ($st, $j) = list($q);
    is($st, 200, "window: $name: 200");
    is_deeply(ids(@{ $j->{files} }), ids(in_window($from, $to, @cam)),
              "window: $name");
}

ok(!grep({ $_->{file_id} eq $c1->{file_id} } in_window($c1->{end_time_ms},
                                                        undef, @cam)),
   'the oracle excludes a file ending at from');

# seconds: [from, to) in whole seconds

my $from_s = int($c1->{end_time_ms} / 1000);
my $to_s = int($c2->{start_time_ms} / 1000) + 1;
($st, $j) = list("?app=live&stream=cam&from=$from_s&to=$to_s");
is_deeply(ids(@{ $j->{files} }),
          ids(in_window($from_s * 1000, $to_s * 1000, @cam)),
          'window in seconds');

# 4. pages: limit 3 over everything, then a file arrives between pages

my @seen;
my $cursor;
my $pages = 0;
do {
    ($st, $j) = list('?limit=3' . (defined $cursor ? "&cursor=$cursor" : ''));
    is($st, 200, "page " . ($pages + 1)) if $pages < 3;
    push @seen, @{ $j->{files} };
    $cursor = $j->{next_cursor};
    $pages++;

    if ($pages == 1) {
        # newer than every page: it must not show on the next ones
        is(push_stream($in, rtmp_url('live', 'late')), 0, 'push between pages');
        wait_for(sub { my @e = index_entries(); @e >= 10 }, 20);
    }
} while (defined $cursor && $pages < 10);

is($pages, 3, 'three pages of 3, 3, 2');
is_deeply(ids(@seen), ids(@all), 'the pages hold every file once, in order');
($st, $j) = list('?limit=1000');
is(scalar @{ $j->{files} }, 10, 'the late files are there');
is($j->{files}[0]{stream_id}, 'late', 'newest first');

($st, $j) = list('?limit=2&app=live&stream=cam');
is(scalar @{ $j->{files} }, 2, 'limit 2');
is($j->{next_cursor}, $j->{files}[1]{file_id}, 'the cursor is the last id');
($st, $j) = list("?limit=2&app=live&stream=cam&cursor=$j->{next_cursor}");
is_deeply(ids(@{ $j->{files} }), ids(@cam[2, 3]), 'next page');
ok(!defined $j->{next_cursor}, 'last page: next_cursor null');

# 5. bad parameters: 400, naming what is wrong

my @bad = (
    [ '?colour=red', 'unknown_parameter', qr/colour/ ],
    [ '?limit=0', 'invalid_parameter', qr/limit/ ],
    [ '?limit=1001', 'invalid_parameter', qr/limit/ ],
    [ '?limit=ten', 'invalid_parameter', qr/limit/ ],
    [ '?from=yesterday', 'invalid_parameter', qr/from/ ],
    [ '?to_ms=-5', 'invalid_parameter', qr/to_ms/ ],
    [ '?from=1&from_ms=1000', 'invalid_parameter', qr/from.*from_ms/ ],
    [ '?from=200&to=100', 'invalid_parameter', qr/"to"/ ],
    [ '?app=..%2Fx', 'invalid_parameter', qr/app/ ],
    [ '?stream=a%2Fb', 'invalid_parameter', qr/stream/ ],
    [ '?cursor=..', 'invalid_parameter', qr/cursor/ ],
    [ '?format=mkv', 'invalid_parameter', qr/format/ ],
);

for my $b (@bad) {
    ($st, $j) = list($b->[0]);
    ok($st == 400 && ($j->{code} // '') eq $b->[1]
       && ($j->{message} // '') =~ $b->[2], "GET /files$b->[0]: 400 $b->[1]")
        or diag explain [$st, $j];
}

# 6. one file

my $one = $all[2];
($st, $j) = $api->call(GET => "/api/files/$one->{_id}");
is($st, 200, 'GET /files/ID');
is_deeply($j, do { my %e = %$one; delete $e{_id}; \%e }, 'the entry');
($st, $j) = $api->call(GET => '/api/files/1234567890123-nosuch-1-1-mp4');
is($st, 404, 'unknown id: 404');
is($j->{code}, 'not_found', 'not_found');
($st, $j) = $api->call(GET => '/api/files/a%2Fb');
is($st, 400, '"/" in an id: 400');
is($j->{code}, 'invalid_id', 'invalid_id');
($st, $j) = $api->call(GET => '/api/files/.hidden');
is($st, 400, 'an id starting with a dot: 400');
($st, $j) = $api->call(DELETE => '/api/files/..%2F..%2Findex');
isnt($st, 200, 'DELETE "../../index" is not done');
($st, $j) = $api->call(GET => "/api/files/$one->{_id}?x=1");
is($st, 400, 'GET /files/ID with a parameter: 400');
($st, $j) = $api->call(PUT => "/api/files/$one->{_id}", {});
is($st, 405, 'PUT: 405');

# the refused request's body is not read as the next request

my $sock = IO::Socket::INET->new('127.0.0.1:' . port('HTTP'))
    or die "connect: $!";
print $sock "PUT /api/files/$one->{_id} HTTP/1.1\r\nHost: x\r\n"
    . "Authorization: Bearer $TOKEN\r\nContent-Length: 2\r\n\r\n{}"
    . "GET /api/files/$one->{_id} HTTP/1.1\r\nHost: x\r\n"
    . "Authorization: Bearer $TOKEN\r\nConnection: close\r\n\r\n";
my @status = map { /^HTTP\/1\.1 (\d+)/ ? $1 : () } <$sock>;
is("@status", '405 200', 'PUT with a body, then GET on the connection');

# 7. delete: the file, then its entry

my $victim = $cam[1];
ok(-f $victim->{path}, 'the file is in the store');
($st, $j) = $api->call(DELETE => "/api/files/$victim->{file_id}");
is($st, 200, 'DELETE /files/ID');
is_deeply($j, { deleted => $victim->{file_id} }, '{"deleted": id}');
ok(!-e $victim->{path}, 'the file is gone');
ok(!grep({ $_->{file_id} eq $victim->{file_id} } index_entries()),
   'the entry is gone');
($st, $j) = $api->call(GET => "/api/files/$victim->{file_id}");
is($st, 404, 'GET after DELETE: 404');
($st, $j) = $api->call(DELETE => "/api/files/$victim->{file_id}");
is($st, 404, 'DELETE again: 404');
ok(-f $cam[0]{path} && -f $cam[2]{path}, 'the other files stay');

# an hls recording: the directory goes

is(push_stream($in, rtmp_url('hls', 'h')), 0, 'push an hls recording');
my ($hls) = grep { $_->{file_format} eq 'hls' } @{ (wait_for(sub {
    my ($s, $r) = list('?app=hls&format=hls');
    @{ $r->{files} || [] } ? $r : undef }, 20) || { files => [] })->{files} };
ok($hls && -d $hls->{path}, 'hls directory in the store');
my @ts = find_files($hls->{path} // '/nonexistent', qr/\.ts$/);
ok(@ts >= 2, 'with segments');
($st, $j) = $api->call(DELETE => "/api/files/$hls->{file_id}");
is($st, 200, 'DELETE the hls recording');
ok(!-e $hls->{path}, 'its directory is gone');

# 8. 409 while recording

my $pid = push_stream_bg($long, rtmp_url('live', 'busy'), realtime => 1);
my $live;
wait_for(sub {
    ($st, $live) = $api->call(GET => '/api/streams/live/busy');
    $st == 200 && $live->{recording} && @{ $live->{file_ids} || [] };
}, 10);
my ($busy) = @{ $live->{file_ids} || [] };
ok($busy, 'a file id being recorded') or diag explain $live;
($st, $j) = $api->call(DELETE => "/api/files/$busy");
is($st, 409, 'DELETE while recording: 409') or diag explain [$j, $live];
is($j->{code}, 'recording', 'code recording');
is(wait_push($pid, 30), 0, 'push ends');
ok(wait_for(sub { ($st) = $api->call(GET => "/api/files/$busy"); $st == 200 },
            20), 'then it is indexed');
($st, $j) = $api->call(DELETE => "/api/files/$busy");
is($st, 200, 'and can be deleted');

# 9. nothing changed by the refused requests

my $before = join ',', map { $_->{_id} } index_entries();
for my $b (@bad) { list($b->[0]) }
$api->call(DELETE => '/api/files/..%2Fx');
$api->call(DELETE => '/api/files/a%2F..%2F..%2Fb');
$api->call(DELETE => '/api/files/1234567890123-nosuch-1-1-mp4');
$api->call(DELETE => '/api/files?app=live');
is(join(',', map { $_->{_id} } index_entries()), $before,
   'refused requests deleted nothing');

no_alerts();
