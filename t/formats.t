#!/usr/bin/perl

# One faster-than-real-time push recorded as mp4, flv and aac at once:
# complete files, a faststart MP4, the default path layout.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(strftime);
use Test::More tests => 27;
use LiveRecord::Test;

my $in = make_media(duration => 12);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template all {
        live_record_formats mp4 flv aac;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record all;
        }
    }
}
EOF

my $t0 = time;
is(push_stream($in, rtmp_url('live', 'fmt')), 0, 'push');
my $t1 = time;

my %f;
for my $ext (qw(mp4 flv aac)) {
    my @f = wait_files('store', qr/\.$ext$/, 1);
    is(scalar @f, 1, "one .$ext in the store") or diag explain \@f;
    $f{$ext} = $f[0] // '';
}

# default path: $app/$name/%Y%m%d/$name-%Y%m%d%H%M%S-$part, UTC
like($f{mp4}, qr{/store/live/fmt/(\d{8})/fmt-\1\d{6}-1\.mp4$},
    'mp4 path follows the default pattern');
my ($stamp) = $f{mp4} =~ /fmt-(\d{14})-1\.mp4$/;
$stamp //= '';
ok($stamp ge strftime('%Y%m%d%H%M%S', gmtime($t0 - 2))
    && $stamp le strftime('%Y%m%d%H%M%S', gmtime($t1 + 2)),
    'part start time in the name is UTC') or diag "$stamp, push at $t0";
(my $base = $f{mp4}) =~ s/\.mp4$//;
is_deeply([map { s/\.\w+$//r } @f{qw(flv aac)}], [$base, $base],
    'flv and aac share the mp4 path');

my $c_in  = probe_counts($in);
my $c_mp4 = probe_counts($f{mp4});
my $c_flv = probe_counts($f{flv});
my $c_aac = probe_counts($f{aac});

my ($d_mp4, $d_in) = (probe_duration($f{mp4}) // -1, probe_duration($in));
ok(abs($d_mp4 - $d_in) <= 0.04, 'mp4 duration within one frame of the input')
    or diag "mp4 $d_mp4 s, input $d_in s";
is_deeply([map { "$_->{codec_type}:$_->{codec_name}" } probe_streams($f{mp4})],
    ['video:h264', 'audio:aac'], 'mp4 streams');
is($c_mp4->{video}, $c_in->{video}, 'mp4 video packets');
is($c_mp4->{audio}, $c_in->{audio}, 'mp4 audio packets');
is($c_flv->{video}, $c_in->{video}, 'flv video packets');
is($c_flv->{audio}, $c_in->{audio}, 'flv audio packets');
is_deeply([map { $_->{codec_type} } probe_streams($f{aac})], ['audio'],
    'aac has one audio stream');
is($c_aac->{audio}, $c_in->{audio}, 'aac audio packets');

like((probe_video_packets($f{mp4}))[0]{flags} // '', qr/K/,
    'mp4 starts with a keyframe');
like((probe_video_packets($f{flv}))[0]{flags} // '', qr/K/,
    'flv starts with a keyframe');

my @boxes = mp4_top_boxes($f{mp4});
my %at = map { $boxes[$_] => $_ } reverse 0 .. $#boxes;
is($boxes[0], 'ftyp', 'mp4 starts with ftyp') or diag "@boxes";
ok(defined $at{moov} && defined $at{mdat} && $at{moov} < $at{mdat},
    'moov before mdat (faststart)') or diag "@boxes";
ok(!grep({ $_ eq 'moof' } @boxes), 'mp4 is not fragmented') or diag "@boxes";
mp4_ok($f{mp4}, from => $in, name => 'mp4');

for my $fmt (qw(mp4 flv aac)) {
    ok(scalar log_lines(qr/live record: "live\/fmt" part 1 $fmt done: ".+" /
                        . qr/duration=[\d.]+s size=\d+ reason=unpublish/),
        "$fmt done log line");
}

is(scalar find_files(prefix() . '/work', qr/\.(?:mp4|flv|aac)$/), 0,
    'no media left in the work path');

# nginx runs with umask 0: files are made 0644, directories 0755
my %modes = map { (sprintf '%s %o', (-d $_ ? 'dir' : 'file'),
                   (stat $_)[2] & 07777) => 1 }
            values(%f), map { my $d = $_; $d =~ s{/[^/]+$}{}; $d } values %f;
is_deeply([sort keys %modes], ['dir 755', 'file 644'],
          'stored files 0644, their directories 0755');

no_alerts();
