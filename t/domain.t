#!/usr/bin/perl

# live_record_domain picks the template by the host of the publisher's
# tcUrl (exact or *.suffix) and wins over live_record; other hosts fall back
# to live_record.  Each template has its own format and path prefix, and the
# path shows $domain.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 10;
use LiveRecord::Test;

my $in = make_media(duration => 3);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template tplA {
        live_record_formats flv;
        live_record_path A/$domain/$name-$part;
    }
    live_record_template tplB {
        live_record_formats aac;
        live_record_path B/$domain/$name-$part;
    }
    live_record_template dflt {
        live_record_formats mp4;
        live_record_path D/$domain/$name-$part;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record dflt;
            live_record_domain rec.example.com tplA;
            live_record_domain *.example.org tplB;
        }
        application dom {
            live on;
            live_record off;
            live_record_domain rec.example.com tplA;
        }
    }
}
EOF

# [app, stream, tcUrl host or undef for the default, expected file]
my @cases = (
    [ 'live', 's1', 'rec.example.com',     'A/rec.example.com/s1-1.flv' ],
    [ 'live', 's2', 'cam.example.org',     'B/cam.example.org/s2-1.aac' ],
    [ 'live', 's3', 'other.example.net',   'D/other.example.net/s3-1.mp4' ],
    [ 'live', 's4', 'www.rec.example.com', 'D/www.rec.example.com/s4-1.mp4' ],
    [ 'live', 's5', undef,                 'D/127.0.0.1/s5-1.mp4' ],
    [ 'dom',  's6', 'rec.example.com',     'A/rec.example.com/s6-1.flv' ],
    [ 'dom',  's7', 'other.example.net',   undef ],
);

for my $c (@cases) {
    my ($app, $name, $host) = @$c;
    my @opts = $host ? ('-rtmp_tcurl', "rtmp://$host:" . port('RTMP') . "/$app")
                     : ();
    is(push_stream($in, rtmp_url($app, $name), opts => \@opts), 0,
        "push $app/$name via " . ($host // '127.0.0.1'));
}

my @expect = sort grep { defined } map { $_->[3] } @cases;
my $store = prefix() . '/store';
my @got = map { s{^\Q$store\E/}{}r }
    wait_files($store, qr/\.(?:mp4|flv|aac)$/, scalar @expect);
is_deeply(\@got, \@expect, 'templates chosen by tcUrl host')
    or diag explain \@got;
is(scalar(grep { probe_ok("$store/$_") } @got), scalar @expect,
    'all files playable');

no_alerts();
