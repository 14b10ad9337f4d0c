#!/usr/bin/perl

# Two back-to-back publishes of one stream name: two distinct files, neither
# overwritten, both with the default path (where they may land in the same
# second; parts 1 and 2 of one session) and with a path that always
# collides ($app/$name-$part, each publish a session of its own: part 1).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 17;
use LiveRecord::Test;

my @in = (make_media(duration => 3), make_media(duration => 6));
my @frames = sort { $a <=> $b } map { probe_counts($_)->{video} } @in;

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template dflt {
        live_record_formats mp4;
    }
    live_record_template fixed {
        live_record_formats mp4;
        live_record_path $app/$name-$part;
        live_record_session_gap 0;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record dflt;
        }
        application fixed {
            live on;
            live_record fixed;
        }
    }
}
EOF

for my $app (qw(live fixed)) {
    is(push_stream($_, rtmp_url($app, 'same')), 0, "$app: push") for @in;
}

my %name_re = (
    live  => qr{/store/live/same/\d{8}/same-\d{14}-[12]\.mp4$},
    fixed => qr{/store/fixed/same-1(?:\D[^/]*)?\.mp4$},
);
my %as = (live => 'as parts 1 and 2', fixed => 'both as part 1');

for my $app (qw(live fixed)) {
    my @f = wait_files("store/$app", qr/\.mp4$/, 2);
    is(scalar @f, 2, "$app: two files") or diag explain \@f;
    is(scalar(grep { $_ =~ $name_re{$app} } @f), 2,
        "$app: named $as{$app}") or diag explain \@f;
    is(scalar(grep { probe_ok($_) } @f), 2, "$app: both playable");
    is_deeply([sort { $a <=> $b } map { probe_counts($_)->{video} } @f],
        \@frames, "$app: each holds its own publish (no overwrite)");
    # the shorter file is the 3 s push, the longer the 6 s one
    my @by = sort { (-s $a) <=> (-s $b) } @f;
    mp4_ok($by[$_], from => $in[$_], name => "$app: publish " . ($_ + 1))
        for 0 .. 1;
}

no_alerts();
