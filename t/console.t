#!/usr/bin/perl

# The web console: its files compiled into the module and served with the
# right types, validators and no external URL; then, in Debian's chromium
# driven by playwright-core (t/lib/console-browser.js), a person's session
# against the JSON API: log in with the token, see a live push and its
# recordings, play the MP4 and the HLS recording, create and stop a task,
# delete a file.  The server's state after each action is checked here
# through the API and the store, not through the page.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);
use HTTP::Tiny;
use JSON::PP qw(decode_json encode_json);
use POSIX ();
use Test::More tests => 75;
use LiveRecord::Test;

my $REPO  = "$FindBin::Bin/..";
my $TOOLS = $ENV{LIVE_RECORD_TOOLS} || "$REPO/build/tools";
my $CHROMIUM = $ENV{CHROMIUM} || '/usr/bin/chromium';
my $SCREENS = "$REPO/build/screens";
my $TOKEN = 'console-test-token-' . sha256_hex("$$" . time);

my $http = HTTP::Tiny->new(timeout => 10, max_redirect => 0);

sub url {
    return 'http://127.0.0.1:' . port('HTTP') . $_[0];
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return undef;
    local $/;
    return <$fh> // '';
}

sub api {
    my ($method, $path, $body) = @_;
    my $r = $http->request($method, url("/api/$path"), {
        headers => { Authorization => "Bearer $TOKEN",
                     $body ? ('Content-Type' => 'application/json') : () },
        $body ? (content => encode_json($body)) : () });
    return ($r->{status}, eval { decode_json($r->{content}) });
}


# 1. serving: no API needed

start_nginx(conf => <<'EOF');
rtmp {
    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live { live on; }
    }
}

http {
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;

        location /console/ {
            live_record_console;
        }
        location /ops/console {
            live_record_console api=https://vod.example.com/v1/;
        }
        location ~ ^/re/[a-z]+/ {
            live_record_console api=/re-api/;
        }
    }
}
EOF

my %files = (
    '' => ["$REPO/console/index.html", qr{^text/html; charset=utf-8$}],
    'index.html' => ["$REPO/console/index.html", qr{^text/html}],
    'console.js' => ["$REPO/console/console.js",
                     qr{^application/javascript; charset=utf-8$}],
    'console.css' => ["$REPO/console/console.css",
                      qr{^text/css; charset=utf-8$}],
    'hls.min.js' => ["$TOOLS/node_modules/hls.js/dist/hls.min.js",
                     qr{^application/javascript}],
);

for my $name (sort keys %files) {
    my ($src, $type) = @{ $files{$name} };
    my $r = $http->get(url("/console/$name"));
    my $want = slurp($src);
    ok($r->{status} == 200 && defined $want && $r->{content} eq $want,
       "/console/$name: 200, the bytes of " . ($name || 'index.html'))
        or diag "status $r->{status}, "
                . length($r->{content}) . ' bytes';
    like($r->{headers}{'content-type'} // '', $type,
         "/console/$name: content type");
}

my $r = $http->get(url('/console/console.js'));
my $etag = $r->{headers}{etag} // '';
like($etag, qr/^"[0-9a-f]{20}"$/, 'ETag');
is($r->{headers}{'cache-control'}, 'no-cache', 'Cache-Control: no-cache');
is($r->{headers}{'x-content-type-options'}, 'nosniff', 'nosniff');
like($r->{headers}{'content-security-policy'} // '',
     qr/default-src 'self'/, 'CSP keeps scripts and styles on the server');

$r = $http->get(url('/console/console.js'),
                { headers => { 'If-None-Match' => $etag } });
is($r->{status}, 304, 'If-None-Match: 304');
is($r->{content} // '', '', '304 has no body');
$r = $http->get(url('/console/console.js'),
                { headers => { 'If-None-Match' => '"other"' } });
is($r->{status}, 200, 'another ETag: 200');
isnt($http->get(url('/console/console.css'))->{headers}{etag}, $etag,
     'each file its own ETag');

$r = $http->request('HEAD', url('/console/hls.min.js'));
ok($r->{status} == 200 && ($r->{content} // '') eq ''
   && $r->{headers}{'content-length'} == -s $files{'hls.min.js'}[0],
   'HEAD: length, no body');

$r = $http->get(url('/console/config.json'));
is($r->{status}, 200, 'config.json');
is_deeply(eval { decode_json($r->{content}) }, { api => '/api/' },
          'config.json: the default API base');
like($r->{headers}{'content-type'}, qr{^application/json}, 'json type');
like($r->{headers}{etag} // '', qr/^"config-[0-9a-f]{8}"$/, 'its ETag');

$r = $http->get(url('/ops/console/config.json'));
is_deeply(eval { decode_json($r->{content}) },
          { api => 'https://vod.example.com/v1/' }, 'api=URL');
$r = $http->get(url('/ops/console'));
ok($r->{status} == 301
   && ($r->{headers}{location} // '') =~ m{/ops/console/$},
   'prefix without its slash: redirected to it');
is($http->get(url('/ops/consoleindex.html'))->{status}, 404,
   'prefix without slash: no name glued to it');
is($http->get(url('/ops/console/console.css'))->{content},
   slurp("$REPO/console/console.css"), 'prefix without slash: files');
$r = $http->get(url('/re/abc/config.json'));
is_deeply(eval { decode_json($r->{content}) }, { api => '/re-api/' },
          'regex location: by the last segment');

is($http->get(url('/console/nope.js'))->{status}, 404, 'unknown: 404');
is($http->get(url('/console/js/console.js'))->{status}, 404,
   'a subdirectory: 404');
is($http->get(url('/console/console.js.map'))->{status}, 404, 'no map');
is($http->request('POST', url('/console/'), { content => 'x' })->{status},
   405, 'POST: 405');
is($http->request('DELETE', url('/console/index.html'))->{status}, 405,
   'DELETE: 405');

# offline: the page and its own files name no other server (hls.min.js is
# the upstream build and holds URLs in strings and comments; the browser
# test below checks that nothing is fetched from anywhere else)

my @urls = map { slurp("$REPO/console/$_") =~ m{(?:https?:)?//[\w.-]+\.\w+}g }
           qw(index.html console.js console.css);
is_deeply(\@urls, [], 'no external URL in the page, script or style');

stop_nginx();

my ($rc, $out) = nginx_test_config(<<'EOF');
http { server { location / { live_record_console js=/x/; } } }
EOF
ok($rc != 0 && $out =~ /\[emerg\] invalid parameter "js=\/x\/"/,
   'a bad parameter: emerg');
($rc, $out) = nginx_test_config(<<'EOF');
http { server { location / { live_record_console api=ftp:x; } } }
EOF
ok($rc != 0 && $out =~ /\[emerg\] API URI "ftp:x" .* neither a path/,
   'a bad API URI: emerg');
($rc, $out) = nginx_test_config(<<'EOF');
http { server { location / { live_record_console; live_record_console; } } }
EOF
ok($rc != 0 && $out =~ /\[emerg\] "live_record_console" directive is dup/,
   'twice: emerg');


# 2. the console in a browser, against the API

SKIP: {

my $node = `command -v node 2>/dev/null`;
chomp $node;
my $why = !-x $CHROMIUM ? "$CHROMIUM not installed (make deps installs it)"
        : !$node ? 'node not installed (make deps installs it)'
        : !-d "$TOOLS/node_modules/playwright-core"
          ? "playwright-core not in $TOOLS (make deps installs it)"
        : undef;
skip $why, 37 if $why;

my $prefix = prefix();
open my $fh, '>', "$prefix/token" or die "token: $!";
print $fh "$TOKEN\n";
close $fh;
chmod 0644, "$prefix/token";

start_nginx(dirs => [qw(store work index spool)], conf => <<'EOF');
rtmp {
    live_record_template t {
        live_record_formats mp4 flv hls;
        live_record_hls_fragment 2s;
    }
    live_record_store local %%PREFIX%%/store url=http://127.0.0.1:%%PORT_HTTP%%/rec/;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
        }
    }
}

http {
    types {
        text/html                      html;
        video/mp4                      mp4;
        video/x-flv                    flv;
        application/vnd.apple.mpegurl  m3u8;
        video/mp2t                     ts;
    }
    access_log off;

    server {
        listen 127.0.0.1:%%PORT_HTTP%%;

        location /api/ {
            live_record_api;
            live_record_api_token_file %%PREFIX%%/token;
        }
        location /console/ {
            live_record_console;
        }
        location /rec/ {
            alias %%PREFIX%%/store/;
            mp4;
        }
    }
}
EOF

# a finished session of two parts in three formats, and a live push

my $in = make_media(duration => 8);
is(push_stream($in, rtmp_url('live', 'cam1')), 0, 'push cam1');
is(push_stream($in, rtmp_url('live', 'cam1')), 0, 'push cam1 again');
my @entries = wait_files('index', qr{/live/cam1/.*\.json$}, 6, 20);
my (%entry, %session);
for my $f (reverse sort @entries) {
    my $e = eval { decode_json(slurp($f)) } or next;
    $entry{ $e->{file_format} } //= $e;
    $session{ $e->{session_id} }++;
}
ok($entry{mp4} && $entry{flv} && $entry{hls} && keys %session == 1
   && @entries == 6, 'cam1: two parts of mp4, flv and hls in one session')
    or diag explain \%session;

my $live = push_stream_bg(make_media(duration => 60), rtmp_url('live', 'cam2'),
                          realtime => 1);
ok(wait_for(sub { my ($s) = api('GET', 'streams/live/cam2'); $s == 200 },
            15), 'cam2 is live');

make_path($SCREENS);
my $case = {
    url => url('/console/?limit=4'),
    token => $TOKEN,
    live => 'live/cam2',
    stream => 'cam1',
    mp4 => $entry{mp4}{file_id},
    hls => $entry{hls}{file_id},
    delete => $entry{flv}{file_id},
    task_stream => 'cam9',
    screens => $SCREENS,
    chromium => $CHROMIUM,
    tools => $TOOLS,
};
my $res = run_browser($case);
my %s = %{ $res->{steps} || {} };

sub step_ok {
    my ($name, $what) = @_;
    ok($s{$name} && $s{$name}{ok}, $what)
        or diag "$name: " . ($s{$name} ? $s{$name}{error} // '?'
                                       : 'not run') . ($res->{fatal}
                                       ? "; browser: $res->{fatal}" : '');
    return $s{$name} || {};
}

step_ok('page', 'the page loads and asks for the token');
my $w = step_ok('wrong_token', 'a wrong token is refused');
like($w->{status} // '', qr/wrong token/i, '... and says so');
my $l = step_ok('login', 'logged in with the token');
is($l->{stored}, $TOKEN, 'the token is kept in sessionStorage');
step_ok('reload', 'a reload keeps the session');

my $lv = step_ok('live', 'the live push is listed');
like($lv->{formats} // '', qr/mp4/, '... with its formats');
is($lv->{part}, '1', '... and its part');

my $fl = step_ok('files', 'the recordings are listed');
is($fl->{rows}, 4, '... four a page with ?limit=4')
    or diag explain $fl;

my $pg = step_ok('paging', 'Older and Newer page through them');
ok($pg->{second} == 2 && $pg->{distinct} == 6 && !$pg->{more}
   && $pg->{same}, '... 4 then 2, six in all, and back') or diag explain $pg;
step_ok('window', 'a time window after the pushes lists none; around, all');

my $st;
my $pm = step_ok('play_mp4', 'the MP4 recording plays (currentTime > 1)');
ok(!$pm->{error} && ($pm->{time} // 0) > 1, '... with no media error')
    or diag explain $pm;
my $ph = step_ok('play_hls', 'HLS plays (currentTime > 1)');
ok(!$ph->{error} && ($ph->{time} // 0) > 1
   && ($ph->{native} ? ($ph->{src} // '') eq $entry{hls}{video_url}
                     : ($ph->{src} // '') =~ /^blob:/),
   '... natively from the playlist URL where the browser can, '
   . 'with no media error') or diag explain $ph;
my $pj = step_ok('play_hls_js', 'HLS plays with hls.js (currentTime > 1)');
ok(!$pj->{error} && ($pj->{time} // 0) > 1 && $pj->{hls_js}
   && ($pj->{src} // '') =~ /^blob:/,
   '... through media source extensions, with no media error')
    or diag explain $pj;

my $cc = step_ok('concat', 'the session is joined from the page');
($st, my $cf) = api('GET', 'files/' . ($cc->{file_id} // 'none'));
ok($st == 200 && $cf->{duration} > $entry{mp4}{duration} + 4,
   '... into a file the API has, as long as both parts')
    or diag "$st ", explain $cf;

my $tc = step_ok('task_create', 'a task is created in the page');
my $task = $tc->{task_id} // '';
($st, my $t) = api('GET', 'tasks/' . $task);
ok($task && $st == 200 && $t->{stream} eq 'cam9', '... and exists in the API')
    or diag "$st ", explain $t;
step_ok('task_stop', 'the task is stopped in the page');
($st, $t) = api('GET', 'tasks/' . $task);
is($t && $t->{state}, 'stopped', '... and the API says stopped');

my $d = step_ok('delete', 'a file is deleted after a confirmation');
like($d->{dialog} // '', qr/\Q$entry{flv}{file_id}\E/,
     '... the confirmation names the file');
($st) = api('GET', 'files/' . $entry{flv}{file_id});
is($st, 404, '... the API no longer has it');
ok(!-e $entry{flv}{path}, '... nor the store') or diag $entry{flv}{path};

step_ok('phone', 'at 390 px wide: rows are cards, no sideways scrolling');
is_deeply($res->{external} || ['none'], [],
          'nothing fetched from another server')
    or diag explain $res->{external};
is_deeply($res->{page_errors} || ['none'], [], 'no script errors')
    or diag explain $res->{page_errors};

diag("screenshots: @{ $res->{screenshots} || [] }");

kill 'KILL', $live;
wait_push($live, 10);

}

no_alerts();


# Runs t/lib/console-browser.js with the case as JSON; returns its JSON
# answer (as far as it got), with fatal => why if it did not finish.
sub run_browser {
    my ($c) = @_;
    my $out = $c->{out} = prefix() . '/browser.json';
    my $log = prefix() . '/logs/browser.log';
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT or POSIX::_exit(126);
        exec 'node', "$FindBin::Bin/lib/console-browser.js", encode_json($c)
            or POSIX::_exit(127);
    }
    my $rc = wait_push($pid, 300);
    my $res = eval { decode_json(slurp($out)) } || {};
    $res->{fatal} //= "exit $rc: " . (slurp($log) // '') if $rc;
    return $res;
}
