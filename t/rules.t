#!/usr/bin/perl

# live_record_rule [domain=HOST] stream=NAME TEMPLATE|off: per-stream
# rules beside live_record_domain and live_record, in the priority of the
# service this module replaces: domain and stream > stream > domain >
# application.  Four rules at once, five pushes: each lands under its
# template's own path, the log names the template and the rule that won;
# "off" records nothing; bad rules fail nginx -t.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 19;
use LiveRecord::Test;

my $in = make_media(duration => 3);

my $conf = <<'EOF';
rtmp {
    live_record_template app { live_record_path $app/app/$name-$part; }
    live_record_template dom { live_record_path $app/dom/$name-$part; }
    live_record_template str { live_record_path $app/str/$name-$part; }
    live_record_template both { live_record_path $app/both/$name-$part; }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record app;
            live_record_domain *.example.com dom;
            live_record_rule stream=cam str;
            live_record_rule domain=*.example.com stream=cam both;
            live_record_rule stream=quiet off;
        }
    }
}
EOF

for my $bad (['live_record_rule stream=cam nosuch;',
              qr/unknown live_record_template "nosuch" in "live_record_rule stream=cam"/],
             ['live_record_rule domain=a.com str;',
              qr/"live_record_rule" needs stream=NAME/],
             ['live_record_rule stream=a stream=b str;',
              qr/invalid parameter "stream=b" in "live_record_rule"/],
             ['live_record_rule domain=a/b stream=x str;',
              qr/invalid parameter "domain=a\/b" in "live_record_rule"/])
{
    (my $c = $conf) =~ s/(live_record_rule stream=quiet off;)/$1\n$bad->[0]/;
    my ($rc, $out) = nginx_test_config($c);
    ok($rc != 0 && $out =~ $bad->[1], "nginx -t refuses $bad->[0]")
        or diag($out);
}

start_nginx(conf => $conf, dirs => [qw(store work index)]);

my $port = port('RTMP');

# [host, stream, the template that must record it, the rule]
my @cases = (
    ['cdn.example.com', 'cam',   'both', 'rule domain=*.example.com stream=cam'],
    ['127.0.0.1',       'cam',   'str',  'rule stream=cam'],
    ['cdn.example.com', 'other', 'dom',  'domain *.example.com'],
    ['127.0.0.1',       'other', 'app',  'application'],
);

for my $c (@cases) {
    my ($host, $name) = @$c;
    is(push_stream($in, rtmp_url('live', $name), opts => ['-rtmp_tcurl',
                   "rtmp://$host:$port/live"]), 0, "push $name via $host");
    wait_files('store', qr{/live/$c->[2]/\Q$name\E-1\.mp4$}, 1);
    ok(-s prefix() . "/store/live/$c->[2]/$name-1.mp4",
       "$host/$name recorded by \"$c->[2]\"");
    my ($idx) = wait_files('index', qr{/live/\Q$name\E/[^/]+\.json$}, 1);
    my $e = eval { open my $fh, '<:raw', $idx or die; local $/;
                   decode_json(<$fh>) } || {};
    is_deeply($e->{sources}, [{ type => 'template', template => $c->[2],
                                rule => $c->[3] }],
       "$host/$name: the entry's sources name \"$c->[2]\" and $c->[3]");
    unlink prefix() . "/store/live/$c->[2]/$name-1.mp4", $idx;
}

is(push_stream($in, rtmp_url('live', 'quiet')), 0, 'push quiet');
sleep 1;
is(scalar(find_files(prefix() . '/store', qr/quiet/)), 0,
   '"live_record_rule stream=quiet off" records nothing');

no_alerts();
