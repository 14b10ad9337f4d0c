#!/usr/bin/perl

# Tasks read back from SPOOL/tasks.json at start: valid ones are restored,
# a hand-edited file with bad entries loses only those, and a task that
# cannot record (no template left) is refused with a log line, the stream
# going on unrecorded.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use JSON::PP qw(encode_json);
use Test::More tests => 10;
use Time::HiRes qw(time);
use LiveRecord::Test;
use LiveRecord::API;

my $TOKEN = "restore-$$";
my $now = int(time * 1000);

my %task = (app => 'live', stream => 'cam', domain => '', template => undef,
            extension => undef, start_time_ms => $now - 1000,
            end_time_ms => $now + 600_000, created_time_ms => $now - 1000,
            stopped_time_ms => 0);

my @tasks = (
    { %task, task_id => "$now-00000001" },
    { %task, task_id => ('x' x 300) },               # too long
    { %task, task_id => "$now-00000002", app => '../etc' },
    { %task, task_id => "$now-00000003", end_time_ms => $now - 5000,
      start_time_ms => $now },                      # ends before it starts
);

my $p = prefix();
make_path("$p/spool");
chmod 0777, "$p/spool";
open my $fh, '>', "$p/spool/tasks.json" or die "tasks.json: $!";
print $fh encode_json(\@tasks);
close $fh;
open $fh, '>', "$p/token" or die "token: $!";
print $fh $TOKEN;
close $fh;

start_nginx(dirs => [qw(store work index spool)], conf => <<'EOF');
rtmp {
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record_tasks on;
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

my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);

ok(scalar log_lines(qr/1 record tasks restored/), 'one task restored');
is(scalar log_lines(qr/a task in ".*tasks\.json" is invalid/), 3,
   'three bad entries skipped, each logged');
my ($st, $j) = $api->call(GET => '/api/tasks');
is_deeply([ map { $_->{task_id} } @{ $j->{tasks} } ], [ "$now-00000001" ],
          'the valid task is listed');

is(push_stream(make_media(duration => 3), rtmp_url('live', 'cam')), 0,
   'push while a task without any template is active');
my ($refused) = log_lines(qr/"live\/cam": task "$now-00000001" cannot record, no live_record_template/);
ok($refused, 'the task is refused with a log line');
# once nginx-rtmp has deleted the publisher's stream, a part opened for it
# would be in the work path or the store, and would have said so
my ($conn) = ($refused // '') =~ /\] \d+#\d+: (\*\d+) /;
ok($conn && wait_for(sub { log_lines(qr/\Q$conn\E deleteStream/) }, 10),
   'the publisher\'s stream is deleted');
is(scalar(find_files("$p/store", qr/./)) + scalar(find_files("$p/work", qr/./))
   + scalar(log_lines(qr{"live/cam" part \d+ opened})), 0,
   'nothing recorded');
($st, $j) = $api->call(POST => '/api/tasks', {
    app => 'live', stream => 'x', end_time => time + 60 });
is($j && $j->{code}, 'no_template', 'no new task without a template');
ok(!log_lines(qr/exited on signal/), 'no worker crashed');

# the three bad entries (logged by nginx -t's pass and the start's) and
# the refused task
no_alerts(allow => [
    qr/\[error\] .*live record: a task in ".*tasks\.json" is invalid and skipped$/,
    qr/\[error\] .*"live\/cam": task "$now-00000001" cannot record, no live_record_template/,
]);
