#!/usr/bin/perl

# A full disk under everything: work path, store, index and notify spool
# on one small tmpfs, all four formats.  Each file closes at its last good
# frame and is kept valid (HLS: VOD, ENDLIST, no empty segment); the
# events that cannot be spooled go out from memory; the index entries
# that cannot be written wait, and their record_done with them, until
# space returns; while the disk stays full nothing new is tried (no crit
# line per retry); once space returns every entry is written, every file
# announced once, and recording resumes.  Needs root (the tmpfs).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use File::Path qw(make_path);
use Test::More;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $small = small_disk('8m');
need_all('tmpfs', 'cannot mount a tmpfs here (needs root)') unless $small;

plan(tests => 23);

# ~1 Mbit/s; the ballast leaves about 1.5 MB, full within seconds

my $in = dense_media(30);

make_path(map { "$small/$_" } qw(index spool), { mode => 0777 });
chmod 0777, "$small/index", "$small/spool";
system('dd', 'if=/dev/zero', "of=$small/ballast", 'bs=1M', 'count=6',
       'status=none') == 0 or die "dd failed\n";

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 flv aac hls;
        live_record_min_duration 1s;
        live_record_hls_fragment 2s;
    }
    live_record_index %%PREFIX%%/small/index;
    live_record_spool %%PREFIX%%/small/spool;
    live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook key=full-key;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_store local %%PREFIX%%/small/store;
            live_record_work_path %%PREFIX%%/small/work;
            live_record_min_free 0;
        }
    }
}
EOF

my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'),
                                      key => 'full-key');

sub events {
    my ($type) = @_;
    return grep { $_->{event_type} eq $type }
           map { decode_json($_->{body}) } $rcv->requests;
}

my $nospace = qr/\[crit\].*No space left on device/;

# 1. the disk fills

my $pub = push_stream_bg($in, rtmp_url('live', 'full'), realtime => 1);

ok(wait_for(sub { log_lines($nospace) }, 20), 'the disk fills')
    or diag join "\n", log_lines(qr/live record/);
ok(wait_for(sub { grep { ($_->{reason} // '') eq 'write' }
                  events('record_failed') }, 10),
   'record_failed (write) arrives from memory')
    or diag join "\n", log_lines(qr/live record/);

# 2. it stays full for two retry periods: nothing new is tried

sleep 1;
my $before = () = log_lines($nospace);
sleep 11;
my $after = () = log_lines($nospace);
is($after, $before, 'no new write error while the disk stays full')
    or diag join "\n", log_lines($nospace);
ok(scalar(log_lines(qr/\[warn\].*after a write error: recording resumes /)),
   'the wait for space is logged once');
my @early = events('record_done');

# 3. space returns

unlink "$small/ballast";

my @done;
ok(wait_for(sub { @done = grep { $_->{part} == 1 } events('record_done');
                  @done >= 4 }, 30),
   'record_done for each file of part 1 once space is back')
    or diag join "\n", log_lines(qr/live record/);
is(join(',', sort map { $_->{file_format} } @done), 'aac,flv,hls,mp4',
   'one per format');
is(scalar(grep { $_->{end_reason} ne 'write_error' } @done), 0,
   'each says write_error');
ok(wait_for(sub { log_lines(qr/part 2 opened/) }, 15),
   'recording resumes: part 2') or diag join "\n", log_lines(qr/live record/);

for my $d (@done) {
    my $path = $d->{file_format} eq 'hls' ? "$d->{path}/index.m3u8"
                                          : $d->{path};
    ok(probe_ok($path), "$d->{file_format} of part 1 plays");
}

my ($hls) = grep { $_->{file_format} eq 'hls' } @done;
my $pl = '';
if (open my $fh, '<', "$hls->{path}/index.m3u8") {
    local $/;
    $pl = <$fh>;
    close $fh;
}
like($pl, qr/#EXT-X-PLAYLIST-TYPE:VOD\n(?s:.*)#EXT-X-ENDLIST\n\z/,
     'the playlist is VOD and ends');
unlike($pl, qr/#EXTINF:0\.000/, 'no empty segment listed');

# every file of part 1 has its entry, checked against its bytes and event
index_ok("$small/index/live/full/$_->{file_id}.json", event => $_,
         end_reason => 'write_error') for @done;

wait_push($pub, 60);

my @later;
ok(wait_for(sub { @later = grep { $_->{part} == 2 } events('record_done');
                  @later >= 4 }, 30),
   'part 2 announced after the push') or diag explain [events('record_done')];

my %seen;
$seen{$_->{event_id}}++ for events('record_done');
is(scalar(grep { $_ > 1 } values %seen), 0, 'no event twice');
is(scalar(find_files("$small/spool/open", qr/\.json$/)), 0,
   'no sidecar left');

$rcv->signatures_ok('notify from memory and from the spool (key=)');
$rcv->stop;

no_alerts(allow => [
    qr/\[crit\].*No space left on device/,
    qr/\[crit\].*is not spooled, it is (?:sent from memory|lost if nginx)/,
    qr/\[crit\].*is kept: its event is not spooled/,
    qr/\[crit\].*no index entry in .*, its record_done waits/,
]);
