#!/usr/bin/perl

# The index and the notify spool on a full disk, the work path and store
# elsewhere, for a local store and an http one (WebDAV nginx): a finished
# file's index entry cannot be written, so its
# record_done waits (a receiver told of a file finds it listed); the entry
# is tried again every 5 s, and once space returns it is written and the
# file announced, once.  Needs root (the tmpfs).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Test::More;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;
use LiveRecord::Dav;

my $small = small_disk('1m');
need_all('tmpfs', 'cannot mount a tmpfs here (needs root)') unless $small;

plan(tests => 19);

my $in = make_media(duration => 4);

make_path(map { "$small/$_" } qw(index spool));
chmod 0777, "$small/index", "$small/spool";

start_nginx(conf => <<'EOF', dirs => [qw(store work outbox)]);
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/small/index;
    live_record_spool %%PREFIX%%/small/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=index-key;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
        application remote {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_DAV%%/ingest/ path=%%PREFIX%%/outbox;
        }
    }
}
EOF

start_dav();
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => 'index-key');

sub done {
    return grep { $_->{event_type} eq 'record_done' }
           map { decode_json($_->{body}) } $rcv->requests;
}

# fill what is left of the tmpfs once nginx made its spool directories

ok(wait_for(sub { -d "$small/spool/notify" }, 10), 'spool made');
system("dd if=/dev/zero of=$small/ballast bs=64k status=none "
       . ">/dev/null 2>&1");
ok(-s "$small/ballast", 'the index disk is full');

is(push_stream($in, rtmp_url('live', 'ix')), 0, 'push');
is(push_stream($in, rtmp_url('remote', 'rx')), 0, 'push to the http store');

my $waits = qr/\[crit\].*(?:part 1 (?:mp4|flv)|\S+-(?:mp4|flv)): no index entry in .*its record_done waits until one is written/;
ok(wait_for(sub { log_lines($waits) >= 4 }, 15),
   'no index entry for any of the four files: logged')
    or diag join "\n", log_lines(qr/live record/);
is(scalar(done()), 0, 'and no record_done before its entry');

# two retries go by with the disk full: still nothing, no duplicate line

sleep 11;
is(scalar(done()), 0, 'none while the disk stays full');
is(scalar(log_lines($waits)), 4, 'logged once per file');
is(scalar(log_lines(qr{writing "[^"]*/small/index/[^"]*" failed})), 4,
   'and the write error once per file, not once per retry');

unlink "$small/ballast";

my @d;
ok(wait_for(sub { @d = done(); @d >= 4 }, 15),
   'record_done for all four once the entries are written')
    or diag join "\n", log_lines(qr/live record/);
ok(scalar(log_lines(qr/\[notice\].*: index entry written, announcing it/))
   == 4, 'the late entries are logged');
for my $e (@d) {
    my $remote = $e->{app} eq 'remote';
    my $file = $remote ? prefix() . '/dav/files/' . ($e->{video_url} =~
                             m{/ingest/(.+)$})[0]
                       : $e->{path};
    index_ok("$small/index/$e->{app}/$e->{stream_id}/$e->{file_id}.json",
             event => $e, file => $file);
}
is(scalar(find_files(prefix() . '/outbox', qr/\.(?:mp4|flv)$/)), 0,
   'the outbox is emptied once announced');
sleep 1;
is(scalar(done()), 4, 'each announced once');

$rcv->signatures_ok('late record_done (key=)');
$rcv->stop;

no_alerts(allow => [
    $waits,
    qr/\[crit\].*No space left on device/,
    qr/\[crit\].*is not spooled, it is (?:sent from memory|lost if nginx)/,
    qr/\[crit\].*is kept: its event is not spooled/,
    qr/\[crit\].*has no sidecar in the spool: a crash would leave it/,
    qr/\[crit\].*upload of \S+ is not spooled, it is not retried after/,
]);
