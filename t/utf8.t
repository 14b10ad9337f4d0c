#!/usr/bin/perl

# Bytes that are not UTF-8 never reach JSON.  A stream name that is not
# UTF-8 is refused for recording (one [error] line, the publish itself
# works); a query string that is not is recorded percent-encoded, the same
# in the callback, the index entry and GET /files.  The API refuses with
# 400 a body with "\u0000" in a string (cJSON would cut the string there)
# or bytes that are not UTF-8, and a query string with malformed
# percent-encoding or one that decodes to non-UTF-8 or NUL.  A first
# message of zero bytes is dropped without undefined behaviour.  Every
# JSON received is decoded as strict UTF-8 (LiveRecord::JSON, checked by
# no_alerts).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 29;
use LiveRecord::Test;
use LiveRecord::API;
use LiveRecord::Publisher;
use LiveRecord::Receiver;

my $TOKEN = 'utf8-token-' . $$;
my $in = make_media(duration => 3);
my @tags = LiveRecord::Publisher::flv_tags($in);

my $p = prefix();
open my $tfh, '>', "$p/token" or die "token: $!";
print $tfh "$TOKEN\n";
close $tfh;

start_nginx(dirs => [qw(store work index spool)], conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4;
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
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));
my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);

sub publish {
    my ($name, @t) = @_;
    my $pub = LiveRecord::Publisher->new(port => port('RTMP'), app => 'live',
                                         name => $name);
    $pub->send(@$_) for @t;
    $pub->close;
    return 1;
}

# 1. a name that is not UTF-8: refused for recording, the publish goes on

ok(publish("bad\xff\xfe", @tags), 'publish of "bad\xff\xfe" works');
ok(wait_for(sub { log_lines(qr/\[error\].*refused\ for\ recording:
                                \ name\ is\ not\ valid\ UTF-8/x) }, 10),
    '[error] line: name is not valid UTF-8');

# 2. a query string that is not: percent-encoded everywhere; a zero-length
#    first message does no harm

my $enc = "k=%FF%FE&u=\x{e9}";

ok(publish("q?k=\xff\xfe&u=\xc3\xa9", [9, 0, ''], @tags),
    'publish with a non-UTF-8 query string, zero-length first message');
ok(publish('good', @tags), 'publish "good"');

ok(wait_for(sub { $rcv->events('record_done') >= 2 }, 20), 'two record_done');
my %done = map { $_->{stream_id} => $_ } $rcv->events('record_done');
is_deeply([sort keys %done], [qw(good q)], 'record_done for q and good only');
is($done{q}{stream_param}, $enc,
    'callback: invalid bytes percent-encoded, valid UTF-8 kept');
ok(scalar log_lines(qr/\[warn\].*"live\/q":\ the\ query\ string\ is\ not\ UTF-8,
                      \ recorded\ percent-encoded\ as
                      \ "k=%FF%FE&u=\xc3\xa9"/x),
    '[warn] line for the query string');
is(scalar(grep { m{/bad} } find_files("$p/store")), 0, 'no file for "bad"');

my @idx = find_files("$p/index", qr{/live/q/[^/]+\.json$});
is(scalar @idx, 1, 'one index entry for q');
my $entry = eval {
    open my $fh, '<:raw', $idx[0] or die; local $/; decode_json(<$fh>) };
is($entry->{stream_param}, $enc, 'index entry: the same');

my ($st, $j) = $api->call(GET => '/api/files?app=live&stream=q');
is($st, 200, 'GET /files?stream=q');
is($j->{files}[0]{stream_param}, $enc, 'GET /files: the same')
    or diag explain $j;

# 3. the API: NUL in a JSON string, bytes that are not UTF-8, bad
#    percent-encoding

my $end = time + 60;

($st, $j) = $api->call(POST => '/api/tasks',
    '{"app":"live","stream":"ab\u0000/../../x","end_time":' . $end . '}');
is($st, 400, '"\u0000" in a string: 400');
is($j->{code}, 'invalid_json', '... invalid_json');

($st, $j) = $api->call(POST => '/api/tasks',
    '{"app":"live","stream":"ab\\\\u0000","end_time":' . $end . '}');
is($st, 400, 'an escaped backslash before u0000 is no NUL: refused for the '
    . 'name only');
is($j->{code}, 'invalid_field', '... invalid_field');

($st, $j) = $api->call(POST => '/api/tasks',
    '{"app":"live","stream":"ab\xff","end_time":' . $end . '}');
is($st, 400, 'raw \xff in a string: 400');
is($j->{code}, 'invalid_json', '... invalid_json');

($st, $j) = $api->call(POST => '/api/tasks',
    '{"app":"live","stream":"\xed\xa0\x80","end_time":' . $end . '}');
is($st, 400, 'an encoded surrogate: 400');

for my $q ('stream=%zz', 'stream=%f', 'stream=%ff', 'stream=a%00b',
           "stream=\xff", 'stream=%c0%af')
{
    ($st, $j) = $api->call(GET => "/api/files?app=live&$q");
    is($st, 400, "GET /files?...&$q: 400");
}

($st, $j) = $api->call(GET => '/api/files?app=live&stream=%67ood');
is($st, 200, 'well-formed percent-encoding is fine');
is(scalar @{ $j->{files} || [] }, 1, '... and finds "good"');

# the refused name; the zero-length message, skipped as a malformed tag
no_alerts(allow => [qr/refused for recording: name is not valid UTF-8/,
                    qr/"live\/q": malformed video tag skipped/]);
