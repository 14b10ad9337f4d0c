#!/usr/bin/perl

# live_record_timezone: the %Y %m %d %H %M %S of live_record_path in the
# operator's zone (utc by default, local, or an offset such as +09:00),
# %z its offset (+0900); event and index times stay unix epoch.  The
# expected name is computed from the index entry's start_time with Perl's
# gmtime and the offset; offsets outside -14:00..+14:00 and other
# spellings fail nginx -t.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use POSIX qw(strftime);
use Test::More tests => 15;
use LiveRecord::Test;

my $in = make_media(duration => 3);

my $conf = <<'EOF';
rtmp {
    live_record_template tokyo {
        live_record_timezone +09:00;
        live_record_path $app/$name-%Y%m%d%H%M%S%z;
    }
    live_record_template newfoundland {
        live_record_timezone -03:30;
        live_record_path $app/$name-%Y%m%d%H%M%S%z;
    }
    live_record_template plain {
        live_record_path $app/$name-%Y%m%d%H%M%S%z;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application tokyo { live on; live_record tokyo; }
        application nf { live on; live_record newfoundland; }
        application utc { live on; live_record plain; }
    }
}
EOF

for my $bad ('+15:00', '+8:00', '0800', '+08:60', 'Asia/Tokyo') {
    (my $c = $conf) =~ s/\+09:00/$bad/;
    my ($rc, $out) = nginx_test_config($c);
    my $re = qr/"live_record_timezone" must be utc, local or an offset from/
           . qr/ -14:00 to \+14:00 such as \+08:00, not "\Q$bad\E"/;
    ok($rc != 0 && $out =~ $re,
       "nginx -t refuses live_record_timezone $bad");
}

start_nginx(conf => $conf, dirs => [qw(store work index)]);

my %zone = (tokyo => [9 * 3600, '+0900'], nf => [-(3 * 3600 + 1800), '-0330'],
            utc => [0, '+0000']);

for my $app (sort keys %zone) {
    is(push_stream($in, rtmp_url($app, 'cam')), 0, "push to $app");
}

for my $app (sort keys %zone) {
    my ($off, $z) = @{ $zone{$app} };
    my ($idx) = wait_files('index', qr{/\Q$app\E/cam/[^/]+\.json$}, 1);
    my $e = eval { open my $fh, '<:raw', $idx or die; local $/;
                   decode_json(<$fh>) } || {};
    my $want = "cam-" . strftime('%Y%m%d%H%M%S', gmtime($e->{start_time}
                                                        + $off)) . "$z.mp4";
    my ($file) = find_files(prefix() . "/store/$app", qr/\.mp4$/);
    is(($file // '') =~ s{.*/}{}r, $want,
       "$app: the name in its zone ($want)");
    is($e->{start_time}, int($e->{start_time_ms} / 1000),
       "$app: start_time stays unix epoch");
}

no_alerts();
