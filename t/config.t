#!/usr/bin/perl

# Configuration checks: "nginx -t" refuses bad values with an [emerg] that
# names the directive, accepts the bounds, and a good config runs.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More tests => 30;
use LiveRecord::Test;

# A config with extra lines in the template "t" and in application "live".
sub conf {
    my ($tpl, $app) = @_;
    $tpl //= '';
    $app //= 'live_record t;';
    return <<"EOF";
rtmp {
    live_record_template t {
        $tpl
    }
    live_record_template other {
        live_record_formats flv aac;
        live_record_interval 10m;
        live_record_min_duration 3s;
        live_record_path \$app/\$domain/\$name-\$session-\$part;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_thread_pool default;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            $app
        }
        application off {
            live on;
            live_record off;
            live_record_domain rec.example.com t;
            live_record_domain *.example.org other;
        }
    }
}
EOF
}

my ($rc, $out) = nginx_test_config(conf());
is($rc, 0, 'good config passes') or diag $out;
like($out, qr/test is successful/, 'good config: test is successful');

for my $v (qw(1m 120m)) {
    ($rc, $out) = nginx_test_config(conf("live_record_interval $v;"));
    is($rc, 0, "live_record_interval $v accepted") or diag $out;
}

# [name, config, words the [emerg] line must contain]
my @bad = (
    [ 'interval 121m', conf('live_record_interval 121m;'),
      'live_record_interval' ],
    [ 'interval 30s', conf('live_record_interval 30s;'),
      'live_record_interval' ],
    [ 'unknown format', conf('live_record_formats mp4 xyz;'),
      'live_record_formats', 'xyz' ],
    [ 'unknown template', conf(undef, 'live_record unknown_tpl;'),
      'live_record', 'unknown_tpl' ],
    [ 'live_record_domain with one argument',
      conf(undef, 'live_record_domain rec.example.com;'),
      'live_record_domain' ],
    [ 'live_record_domain with three arguments',
      conf(undef, 'live_record_domain rec.example.com t t;'),
      'live_record_domain' ],
    [ 'live_record_domain with an unknown template',
      conf(undef, 'live_record_domain rec.example.com nope;'),
      'live_record', 'nope' ],
    [ 'unknown store type', conf() =~ s/store local/store nowhere/r,
      'live_record_store' ],
    [ 'live_record_api_zone too small',
      conf() . "http {\n    live_record_api_zone 64k;\n}\n",
      'live_record_api_zone', '64k' ],
    [ 'live_record_api_token_file missing',
      conf() . "http {\n    server {\n        location /api/ {\n"
      . "            live_record_api;\n"
      . "            live_record_api_token_file /nonexistent/token;\n"
      . "        }\n    }\n}\n",
      'live_record_api_token_file', '/nonexistent/token' ],
    [ 'live_record_api twice',
      conf() . "http {\n    server {\n        location /api/ {\n"
      . "            live_record_api;\n            live_record_api;\n"
      . "        }\n    }\n}\n",
      'live_record_api', 'duplicate' ],
    [ 'live_record_tasks with a bad value',
      conf(undef, 'live_record t; live_record_tasks maybe;'),
      'live_record_tasks' ],
);

for my $case (@bad) {
    my ($name, $conf, @words) = @$case;
    ($rc, $out) = nginx_test_config($conf);
    isnt($rc, 0, "$name: nginx -t fails");
    my $re = join q(), map { q{(?=.*} . quotemeta($_) . q{)} } @words;
    like($out, qr/\[emerg\]$re/, "$name: [emerg] names @words");
}

start_nginx(conf => conf());
is(push_stream(make_media(duration => 3), rtmp_url('live', 'cfg')), 0,
    'good config runs and takes a push');
no_alerts();
