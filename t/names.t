#!/usr/bin/perl

# Hostile stream names ("..", "/", control characters, too long) are not
# recorded and get a log line naming them; the publish itself still works,
# nothing is written outside the store, and a normal name still records.
#
# The prefix and the directories around the store are made world-writable
# so that a path escaping the store would show up as a file here instead of
# failing with EACCES.  nginx-rtmp truncates names to 255 bytes, so the
# 300-byte name reaches the module as 255 bytes: the module must still
# refuse it (a 255-byte name may be a truncated one, and cannot become a
# file name with a suffix) rather than fail with [crit] at file creation.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 19;
use LiveRecord::Test;

my $in = make_media(duration => 3);
my $long = 'n' x 300;
my @bad = ('..%2f..%2fx', 'a/../../b', '../../../../x', 'a/../../../b',
           "ctl\x01name", $long);

chmod 0777, prefix();
start_nginx(dirs => [qw(s1 s1/s2 s1/s2/store s1/s2/work)], conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4;
        live_record_path $app/$name-$part;
    }
    live_record_store local %%PREFIX%%/s1/s2/store;
    live_record_work_path %%PREFIX%%/s1/s2/work;
    live_record_index %%PREFIX%%/s1/s2/index;
    live_record_spool %%PREFIX%%/s1/s2/spool;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}
EOF

sub printable { my $s = shift; $s =~ s/([^ -~])/sprintf '\x%02x', ord $1/ge;
                length $s > 40 ? substr($s, 0, 40) . '...' : $s }

for my $name (@bad) {
    is(push_stream($in, rtmp_url('live', 'x'),
                   opts => ['-rtmp_app', 'live', '-rtmp_playpath', $name]),
       0, 'publish "' . printable($name) . '" works');
}

is(push_stream($in, rtmp_url('live', 'good')), 0, 'publish "good"');
my $p = prefix();
my $store = "$p/s1/s2/store";
wait_files($store, qr/\.mp4$/, 1);
sleep 1;

is_deeply([map { s/^\Q$store\E//r } find_files($store)], ['/live/good-1.mp4'],
    'the store holds the good stream only');
ok(probe_ok("$store/live/good-1.mp4"), 'good stream playable');

my @outside = grep {
        !m{^\Q$p\E/(?:conf|logs|modules|s1/s2/(?:store|work|spool))/}
        && !m{^\Q$p\E/s1/s2/index/live/good/[^/]+\.json$}
    } find_files($p);
is_deeply(\@outside, [], 'no file outside the store, work path and index');
is_deeply([sort map { s{.*/}{}r } glob("$p/* $p/s1/* $p/s1/s2/*")],
    [sort qw(conf logs modules s1 s2 store work index spool)],
    'no directory created outside');

# [error] (or [warn]) lines naming each refused stream; the control
# character may be escaped, the long name is matched by its start
my %re = (
    "ctl\x01name" => qr/ctl.{1,6}name/,
    $long         => qr/n{200}/,
);
for my $name (@bad) {
    my $re = $re{$name} // qr/\Q$name\E/;
    ok(scalar log_lines(qr/\[(?:warn|error)\].*$re/),
        'refusal logged for "' . printable($name) . '"');
}

my ($entry) = find_files("$p/s1/s2/index/live/good", qr/\.json$/);
index_ok($entry, part => 1, name => 'the good stream');

# those refusals are errors (the publisher's); nothing else is
no_alerts(allow => qr/\[error\] .*live record: stream "live\/[^"]*" on "127\.0\.0\.1" refused for recording: (?:name starts with "\."|path separator in name|control character in name|name of 255 bytes or more), /);
