#!/usr/bin/perl

# live_record_rule [domain=HOST] [app=NAME] [stream=NAME|~REGEX]
# TEMPLATE|off: per-stream rules beside live_record_domain and
# live_record, in the priority of the service this module replaces:
# domain and stream > stream > domain > application; an exact stream over
# a regex.  Six rules at once, seven pushes: each lands under its
# template's own path, the entry names the template and the rule that
# won; "off" records nothing; bad rules fail nginx -t.  app= at the
# server level picks the template of one application that inherits it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 31;
use LiveRecord::Test;

my $in = make_media(duration => 3);

my $conf = <<'EOF';
rtmp {
    live_record_template app { live_record_path $app/app/$name-$part; }
    live_record_template dom { live_record_path $app/dom/$name-$part; }
    live_record_template str { live_record_path $app/str/$name-$part; }
    live_record_template both { live_record_path $app/both/$name-$part; }
    live_record_template rx { live_record_path $app/rx/$name-$part; }
    live_record_template appt { live_record_path $app/appt/$name-$part; }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        live_record_rule app=side appt;
        application side { live on; live_record app; }
        application live {
            live on;
            live_record app;
            live_record_domain *.example.com dom;
            live_record_rule stream=cam str;
            live_record_rule domain=*.example.com stream=cam both;
            live_record_rule stream=quiet off;
            live_record_rule stream=~^cam rx;
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
              qr/invalid parameter "domain=a\/b" in "live_record_rule"/],
             ['live_record_rule stream=~(cam str;',
              qr/invalid regex in "live_record_rule stream=~\(cam": /],
             ['live_record_rule app=a app=b str;',
              qr/invalid parameter "app=b" in "live_record_rule"/],
             ['live_record_rule app=live stream=~^x nosuch;',
              qr/unknown live_record_template "nosuch" in "live_record_rule app=live stream=~\^x"/])
{
    (my $c = $conf) =~ s/(live_record_rule stream=quiet off;)/$1\n$bad->[0]/;
    my ($rc, $out) = nginx_test_config($c);
    ok($rc != 0 && $out =~ $bad->[1], "nginx -t refuses $bad->[0]")
        or diag($out);
}

start_nginx(conf => $conf, dirs => [qw(store work index)]);

my $port = port('RTMP');

# [host, stream, the template that must record it, the rule, app]
my @cases = (
    ['cdn.example.com', 'cam',   'both', 'rule domain=*.example.com stream=cam'],
    ['127.0.0.1',       'cam',   'str',  'rule stream=cam'],
    ['127.0.0.1',       'cam-42', 'rx',  'rule stream=~^cam'],
    ['cdn.example.com', 'cam-42', 'rx',  'rule stream=~^cam'],
    ['cdn.example.com', 'other', 'dom',  'domain *.example.com'],
    ['127.0.0.1',       'other', 'app',  'application'],
    ['127.0.0.1',       'any',   'appt', 'rule app=side', 'side'],
);

for my $c (@cases) {
    my ($host, $name) = @$c;
    my $app = $c->[4] // 'live';
    is(push_stream($in, rtmp_url($app, $name), opts => ['-rtmp_tcurl',
                   "rtmp://$host:$port/$app"]), 0, "push $app/$name via $host");
    # one stream name via two hosts is one session: parts 1, then 2
    my ($f) = wait_files('store', qr{/$app/$c->[2]/\Q$name\E-\d+\.mp4$}, 1);
    ok($f && -s $f, "$host/$app/$name recorded by \"$c->[2]\"");
    my ($idx) = wait_files('index', qr{/$app/\Q$name\E/[^/]+\.json$}, 1);
    my $e = eval { open my $fh, '<:raw', $idx or die; local $/;
                   decode_json(<$fh>) } || {};
    is_deeply($e->{sources}, [{ type => 'template', template => $c->[2],
                                rule => $c->[3] }],
       "$host/$name: the entry's sources name \"$c->[2]\" and $c->[3]");
    unlink $f, $idx;
}

is(push_stream($in, rtmp_url('live', 'quiet')), 0, 'push quiet');
sleep 1;
is(scalar(find_files(prefix() . '/store', qr/quiet/)), 0,
   '"live_record_rule stream=quiet off" records nothing');

no_alerts();
