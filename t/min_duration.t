#!/usr/bin/perl

# live_record_min_duration: a part shorter than it is deleted with an info
# line; a longer one is kept.  Default 2s, and an explicit 5s.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 12;
use LiveRecord::Test;

my $short = make_media(duration => 1);
my $long  = make_media(duration => 4);

start_nginx(conf => <<'EOF');
rtmp {
    live_record_template dflt {
        live_record_formats mp4 flv;
    }
    live_record_template strict {
        live_record_formats mp4;
        live_record_min_duration 5s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record dflt;
        }
        application strict {
            live on;
            live_record strict;
        }
    }
}
EOF

my $deleted = qr/\[info\].*live_record_min_duration.*deleted
                 |\[info\].*deleted.*live_record_min_duration/x;

# 1 s with the default 2s
is(push_stream($short, rtmp_url('live', 'short')), 0, 'push 1 s');
ok(wait_for(sub { grep { /"live\/short"/ } log_lines($deleted) }, 10),
    '1 s: info line names live_record_min_duration and the stream')
    or diag join "\n", log_lines(qr/live record/);
is(scalar find_files(prefix() . '/store'), 0, '1 s: no file in the store');

# 4 s with the default 2s
is(push_stream($long, rtmp_url('live', 'long')), 0, 'push 4 s');
my @f = wait_files('store', qr/\.(?:mp4|flv)$/, 2);
is(scalar @f, 2, '4 s: mp4 and flv in the store') or diag explain \@f;
is(scalar(grep { m{/live/long/} && probe_ok($_) } @f), 2,
    '4 s: both playable, of the long stream');
mp4_ok((grep { /\.mp4$/ } @f)[0], from => $long, name => '4 s');

# 4 s with 5s
is(push_stream($long, rtmp_url('strict', 'long')), 0, 'push 4 s, min 5s');
ok(wait_for(sub { grep { /"strict\/long"/ } log_lines($deleted) }, 10),
    '4 s, min 5s: deleted with an info line');
is(scalar find_files(prefix() . '/store/strict'), 0,
    '4 s, min 5s: no file in the store');

is(scalar find_files(prefix() . '/work', qr/\.(?:mp4|flv|aac)$/), 0,
    'no media left in the work path');

no_alerts();
