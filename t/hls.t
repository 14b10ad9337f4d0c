#!/usr/bin/perl

# HLS recordings: a valid VOD playlist of keyframe-aligned segments, an
# EVENT playlist readable while live, continuation across a reconnect
# within live_record_hls_continue, a new recording after it, hls next to
# mp4, and the directives' ranges.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(ceil);
use Test::More tests => 48;
use LiveRecord::Test;

my $in12 = make_media(duration => 12);
my $in30 = make_media(duration => 30);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template cont {
        live_record_formats hls mp4;
        live_record_hls_fragment 4s;
        live_record_hls_continue 4s;
    }
    live_record_template once {
        live_record_formats hls;
        live_record_hls_fragment 6s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record cont;
        }
        application once {
            live on;
            live_record once;
        }
    }
}
EOF

sub extinfs {
    my ($pl) = @_;
    return $pl =~ /^#EXTINF:([\d.]+),/mg;
}

sub segments_start_with_keyframes {
    my ($dir) = @_;
    my @ts = find_files($dir, qr/\.ts$/);
    my @bad = grep {
        my @p = probe_video_packets($_);
        !@p || $p[0]{flags} !~ /K/;
    } @ts;
    return (scalar @ts, \@bad);
}

# 1. one faster-than-real-time push, no continuation: a VOD playlist

my $c30 = probe_counts($in30);
is(push_stream($in30, rtmp_url('once', 'vod')), 0, 'push 30 s');

my @pl = wait_files('store', qr{/once/vod/.*/index\.m3u8$}, 1);
is(scalar @pl, 1, 'one playlist in the store');
my $pl = slurp($pl[0] // '');

like($pl, qr/^#EXTM3U\n/, 'playlist header');
like($pl, qr/^#EXT-X-PLAYLIST-TYPE:VOD$/m, 'finished playlist is VOD');
like($pl, qr/^#EXT-X-ENDLIST$/m, 'finished playlist has ENDLIST');
unlike($pl, qr/DISCONTINUITY/, 'no discontinuity in one push');
my @pdt = $pl =~ /^#EXT-X-PROGRAM-DATE-TIME:(\S+)$/mg;
is(scalar @pdt, 1, 'program date time on the first segment only');
like($pdt[0] // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
    'program date time format');
my @d = extinfs($pl);
my ($longest) = sort { $b <=> $a } @d;
my ($target) = $pl =~ /^#EXT-X-TARGETDURATION:(\d+)$/m;
is($target, ceil($longest // 0), 'target duration is the longest, rounded up');
ok(@d >= 4 && @d <= 6, 'segments of about 6 s') or diag "@d";

my $dur = probe_duration($pl[0]);
# the ts muxer's timestamps round to 90 kHz ticks and the last frame's
# duration is estimated: within one video frame and rounding
ok(abs($dur - probe_duration($in30)) <= 0.05,
    'playlist duration within one frame of the input')
    or diag "$dur vs " . probe_duration($in30);
my $c = probe_counts($pl[0]);
is($c->{video}, $c30->{video}, 'every video frame in the playlist');
is($c->{audio}, $c30->{audio}, 'every audio frame in the playlist');

(my $dir = $pl[0] // '') =~ s{/index\.m3u8$}{};
my ($nts, $bad) = segments_start_with_keyframes($dir);
is($nts, scalar @d, 'every listed segment exists');
is_deeply($bad, [], 'every segment starts with a keyframe');
is(scalar(find_files(prefix() . '/work', qr/once/)), 0,
    'nothing left in the work path');

# 2. live: the EVENT playlist in the work path plays while recording

my $pid = push_stream_bg($in30, rtmp_url('once', 'live'), realtime => 1);
my @wpl;
wait_for(sub {
    @wpl = find_files(prefix() . '/work', qr{/live/.*index\.m3u8$});
    @wpl && scalar(extinfs(slurp($wpl[0]))) >= 2;
}, 25);
is(scalar @wpl, 1, 'a playlist in the work path while live');
my $live = slurp($wpl[0] // '');
like($live, qr/^#EXT-X-PLAYLIST-TYPE:EVENT$/m, 'live playlist is EVENT');
unlike($live, qr/ENDLIST/, 'live playlist has no ENDLIST');
ok(probe_ok($wpl[0] // ''), 'ffprobe reads the live playlist');
my $listed = 0;
$listed += $_ for extinfs($live);
ok($listed >= 10, 'live playlist lists the finished segments') or diag $live;
kill 'KILL', $pid;
wait_push($pid);
my @lpl = wait_files('store', qr{/once/live/.*/index\.m3u8$}, 1);
is(scalar @lpl, 1, 'killed publisher: recording finished into the store');

# 3. continuation: two pushes within the timeout are one recording

my $c12 = probe_counts($in12);
is(push_stream($in12, rtmp_url('live', 'cont')), 0, 'first push');
is(push_stream($in12, rtmp_url('live', 'cont')), 0, 'second push at once');
ok(!find_files(prefix() . '/store', qr{/cont/.*index\.m3u8$}),
    'recording not in the store while it may continue');

@pl = wait_files('store', qr{/cont/.*index\.m3u8$}, 1, 15);
is(scalar @pl, 1, 'one playlist for both pushes');
$pl = slurp($pl[0] // '');
my @disc = $pl =~ /^(#EXT-X-DISCONTINUITY)$/mg;
is(scalar @disc, 1, 'one discontinuity');
like($pl, qr/#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:/,
    'program date time after the discontinuity');
$c = probe_counts($pl[0]);
is($c->{video}, 2 * $c12->{video}, 'frames of both pushes');
is($c->{audio}, 2 * $c12->{audio}, 'audio frames of both pushes');
$dur = probe_duration($pl[0]);
ok(abs($dur - 2 * probe_duration($in12)) <= 4,
    'duration is the sum of both pushes') or diag $dur;
my @cmp4 = find_files(prefix() . '/store', qr{/cont/.*\.mp4$});
is(scalar @cmp4, 2, 'mp4 beside hls: one part per push');
mp4_ok($cmp4[$_ - 1], from => $in12, name => "mp4 beside hls, push $_")
    for 1 .. 2;
is(scalar(log_lines(qr/"live\/cont" hls recording .* continues/)), 1,
    'continuation logged');

# 4. after the timeout a push starts a new recording

is(push_stream($in12, rtmp_url('live', 'cont')), 0, 'push after timeout');
@pl = wait_files('store', qr{/cont/.*index\.m3u8$}, 2, 15);
is(scalar @pl, 2, 'a second recording');
unlike(slurp($pl[1] // ''), qr/DISCONTINUITY/,
    'the second recording starts afresh');

# 5. live_record_hls_continue 0: every interruption finishes the recording

is(push_stream($in12, rtmp_url('once', 'zero')), 0, 'push, continue 0');
is(push_stream($in12, rtmp_url('once', 'zero')), 0, 'push again at once');
@pl = wait_files('store', qr{/once/zero/.*index\.m3u8$}, 2, 15);
is(scalar @pl, 2, 'continue 0: two recordings');
is(scalar(grep { slurp($_) =~ /DISCONTINUITY/ } @pl), 0,
   'continue 0: neither continues the other');

# 6. ranges and formats

my $good = <<'EOF';
rtmp {
    live_record_template t { live_record_formats hls; %s }
    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live { live on; live_record t; }
    }
}
EOF

sub with {
    my ($line) = @_;
    return $good =~ s/%s/$line/r;
}

my ($rc, $out) = nginx_test_config(with('live_record_hls_continue 1801s;'));
isnt($rc, 0, 'hls_continue 1801s refused');
like($out, qr/"live_record_hls_continue" must be between 0s and 1800s/,
    'message names the directive and the range');
($rc, $out) = nginx_test_config(with('live_record_hls_continue 1800s;'));
is($rc, 0, 'hls_continue 1800s accepted') or diag $out;
($rc, $out) = nginx_test_config(with('live_record_hls_fragment 61s;'));
like($out, qr/"live_record_hls_fragment" must be between/,
    'hls_fragment range');
($rc, $out) = nginx_test_config(with('live_record_hls_segment_format fmp4;'));
like($out, qr/live_record_hls_segment_format/, 'fmp4 segments refused');

no_alerts();
