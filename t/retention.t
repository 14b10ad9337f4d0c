#!/usr/bin/perl

# live_record_keep: a file expires keep seconds after its end, by the
# template its index entry names; worker 0 finds it through the index and
# deletes it from the store and the index as DELETE /files/ID does,
# sending a signed record_deleted (reason "expired"; "api" for a DELETE).
# keep 0 (the default) keeps a file.  An http store (WebDAV in the same
# nginx) loses its copy by HTTP DELETE, as for the API.  Across a restart: a file recorded by
# the first instance under keep 0 is deleted by the second, whose template
# now has a keep.  Two workers: each file is deleted, and announced, once.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 31;
use LiveRecord::Test;
use LiveRecord::Receiver;
use LiveRecord::API;

my $KEY = 'keep-key';
my $TOKEN = 'keep-token';
my $in = make_media(duration => 3);

my $conf = <<"EOF";
rtmp {
    live_record_template short {
        live_record_keep 3s;
    }
    live_record_template forever {
        live_record_keep 0;
    }
    live_record_template later {
        live_record_keep %%LATER%%;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=$KEY;
        application short { live on; live_record short; }
        application forever { live on; live_record forever; }
        application later { live on; live_record later; }
        application dav {
            live on;
            live_record short;
            live_record_store http http://127.0.0.1:%%PORT_HTTP%%/ingest/ path=%%PREFIX%%/davlocal;
        }
    }
}

http {
    access_log off;

    client_body_temp_path %%PREFIX%%/body;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;
        client_max_body_size 0;

        location /ingest/ {
            alias %%PREFIX%%/davroot/;
            dav_methods PUT DELETE;
            create_full_put_path on;
        }

        location /api/ {
            live_record_api;
            live_record_api_token_file %%PREFIX%%/token;
        }

        location /metrics {
            live_record_metrics;
        }
    }
}
EOF

(my $bad = $conf) =~ s/%%LATER%%/forever/;
my ($rc, $out) = nginx_test_config($bad);
ok($rc != 0 && $out =~ /"live_record_keep" directive invalid value/,
   'nginx -t refuses live_record_keep forever');

my $p = prefix();
open my $tfh, '>', "$p/token" or die "token: $!";
print $tfh "$TOKEN\n";
close $tfh;

(my $first = $conf) =~ s/%%LATER%%/0/;
start_nginx(conf => $first, workers => 2,
            dirs => [qw(store work index spool davlocal davroot body)]);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'), key => $KEY);
my $api = LiveRecord::API->new(port => port('HTTP'), token => $TOKEN);

sub events {
    my ($type, $app) = @_;
    return grep { $_->{event_type} eq $type
                  && (!$app || $_->{app} eq $app) }
           map { $_->{json} || {} } $rcv->requests;
}

sub wait_events {
    my ($type, $app, $n, $timeout) = @_;
    my @e;
    wait_for(sub { @e = events($type, $app); @e >= $n }, $timeout // 20);
    return @e;
}

my @pushes = map { push_stream_bg($in, rtmp_url($_, 'cam')) }
             qw(short forever later);
push @pushes, push_stream_bg($in, rtmp_url('forever', 'gone'));
push @pushes, push_stream_bg($in, rtmp_url('dav', 'cam'));
is(wait_push($_), 0, "push $_ done") for @pushes;

my %done;
for my $app (qw(short forever later dav)) {
    my @d = wait_events('record_done', $app, $app eq 'forever' ? 2 : 1);
    $done{$app} = { map { ($_->{stream_id} => $_) } @d };
}

# 1. keep 3s: the file and its entry go, record_deleted says why

my $short = $done{short}{cam} // {};
my ($del) = wait_events('record_deleted', 'short', 1);
is($del && $del->{file_id}, $short->{file_id},
   'record_deleted for the short file');
is($del && $del->{reason}, 'expired', 'its reason is expired');
is($del && $del->{template}, 'short', 'it names the template');
ok(!-e ($short->{path} // '/'), 'the short file is gone from the store');
ok(!find_files("$p/index/short", qr/\.json$/),
   'and its index entry from the index');
ok($del && $del->{end_time_ms} == $short->{end_time_ms},
   'the event carries the entry as it was');

# an http store: the file is deleted there by HTTP DELETE

my $dav = $done{dav}{cam} // {};
my ($ddel) = wait_events('record_deleted', 'dav', 1);
is($ddel && $ddel->{file_id}, $dav->{file_id},
   'record_deleted for the file in the http store');
ok($dav->{video_url} && !find_files("$p/davroot", qr/\.mp4$/),
   'the http store no longer has it');
ok(!find_files("$p/index/dav", qr/\.json$/), 'nor the index');

# 2. a DELETE sends record_deleted too, reason api

my $gone = $done{forever}{gone} // {};
my ($st) = $api->call(DELETE => "/api/files/$gone->{file_id}");
is($st, 200, 'DELETE /files/ID of forever/gone');
my ($adel) = grep { $_->{stream_id} eq 'gone' }
             wait_events('record_deleted', 'forever', 1);
is($adel && $adel->{reason}, 'api', 'record_deleted with reason api');

# 3. keep 0 keeps its file: it ended with the short one, so the scan that
# found that one saw it too

my $kept = $done{forever}{cam} // {};
my $later = $done{later}{cam} // {};
ok(-f ($kept->{path} // '/'), 'keep 0: the file is kept');
ok(-f ($later->{path} // '/'), 'keep 0: the later file is kept too');
is(scalar(events('record_deleted')), 3, 'no other record_deleted');

my (undef, undef, $m) = $api->call(GET => '/metrics');
like($m->{content}, qr/^live_record_deleted_files_total\{reason="expired"\} 2$/m,
     'metric: two expired');
like($m->{content}, qr/^live_record_deleted_files_total\{reason="api"\} 1$/m,
     'metric: one api');

stop_nginx();

# 4. a restart with keep on "later": the new instance deletes the file
# recorded before it

ok(-f ($later->{path} // '/'), 'the later file outlived the first nginx');
(my $second = $conf) =~ s/%%LATER%%/3s/;
start_nginx(conf => $second, workers => 2, dirs => []);

my ($ldel) = wait_events('record_deleted', 'later', 1);
is($ldel && $ldel->{file_id}, $later->{file_id},
   'the second nginx deleted the file recorded before the restart');
is($ldel && $ldel->{reason}, 'expired', 'reason expired');
ok(!-e ($later->{path} // '/'), 'the later file is gone from the store');
ok(!find_files("$p/index/later", qr/\.json$/), 'and from the index');
ok(-f ($kept->{path} // '/'), 'the keep 0 file is still there');

my %ids;
$ids{ $_->{file_id} }++ for events('record_deleted');
is(join(',', sort values %ids), '1,1,1,1', 'each file announced once');
$rcv->signatures_ok('record_deleted events');
no_alerts();
