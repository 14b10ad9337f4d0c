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
use JSON::PP qw(encode_json);
use POSIX ();
use Test::More tests => 84;
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
need('chromium', $why, 46);

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
my (%entry, %session, @all);
for my $f (reverse sort @entries) {
    my $e = eval { decode_json(slurp($f)) } or next;
    $entry{ $e->{file_format} } //= $e;
    $session{ $e->{session_id} }++;
    push @all, $e;
}
ok($entry{mp4} && $entry{flv} && $entry{hls} && keys %session == 1
   && @entries == 6, 'cam1: two parts of mp4, flv and hls in one session')
    or diag explain \%session;

my $live = push_stream_bg(make_media(duration => 60), rtmp_url('live', 'cam2'),
                          realtime => 1);
ok(wait_for(sub { my ($s) = api('GET', 'streams/live/cam2'); $s == 200 },
            15), 'cam2 is live');

# the task's end: typed as 24-hour local time in the browser's zone
# (+05:30), an afternoon hour within the API's 24 h limit
my $task_end = (int(time / 3600) + 2) * 3600;
$task_end += 3600 while (gmtime($task_end + 19800))[2] < 13;
my $task_end_text = POSIX::strftime('%Y-%m-%d %H:%M:%S',
                                    gmtime($task_end + 19800));

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
    task_end => $task_end_text,
    # no daylight saving time, a half-hour offset
    timezone => 'Asia/Kolkata',
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
is($w->{status}, 'The server refused this token. Enter the token from the '
                 . 'file live_record_api_token_file names.',
   '... and says so once, and what to do');
my $l = step_ok('login', 'logged in with the token');
is($l->{stored}, $TOKEN, 'the token is kept in sessionStorage');
step_ok('reload', 'a reload keeps the session');

my $lv = step_ok('live', 'the live push is listed');
like($lv->{formats} // '', qr/mp4/, '... with its formats');
is($lv->{part}, '1', '... and its part');

my $fl = step_ok('files', 'the recordings are listed');
is($fl->{rows}, 7, '... the broadcast\'s row and its six files')
    or diag explain $fl;

# what the page shows, computed here from the index entries: times in the
# browser's zone (+05:30), sizes and durations as the page rounds them
sub kolkata {
    return POSIX::strftime('%Y-%m-%d %H:%M:%S', gmtime($_[0] + 19800))
           . ' UTC+05:30';
}
sub bytes_text {
    my ($n) = @_;
    my @u = qw(B KB MB GB TB);
    my $i = 0;
    while ($n >= 1000 && $i < $#u) { $n /= 1000; $i++; }
    return ($i ? sprintf($n < 10 ? '%.1f' : '%.0f', $n) : $n) . " $u[$i]";
}
# a part: its number in its publish, and when it started
my (%part_len, $size);
for my $e (@all) {
    my $k = "$e->{start_time_ms}/$e->{part}";
    $part_len{$k} = $e->{duration}
        if $e->{duration} > ($part_len{$k} // 0);
    $size += $e->{file_size};
}
my $secs = 0;
$secs += $_ for values %part_len;
$secs = int($secs + 0.5);
my ($oldest) = sort { $a->{start_time} <=> $b->{start_time} } @all;
my $sid = $entry{mp4}{session_id};

my $g = step_ok('grouped', 'one row for the broadcast, its files under it');
is_deeply([ @$g{qw(groups files hidden_before visible_after expanded
                   hidden_again toggle summary)} ],
          [ 1, 6, 6, 6, 'true', 6, 'Files (6)', '1 broadcast, 6 files' ],
          '... closed, opened with "Files (6)", closed again; the total '
          . 'above the table') or diag explain $g;
my $head = $g->{head} || {};
$head->{Formats} = join ' ', sort split / /, $head->{Formats} // '';
is_deeply($head, { Stream => "live/cam1$oldest->{domain} \x{b7} "
                             . "session $sid",
                   Start => kolkata($oldest->{start_time}),
                   Duration => sprintf('%d:%02d', $secs / 60, $secs % 60),
                   Size => bytes_text($size),
                   Formats => 'flv hls mp4', Parts => '2',
                   Files => '6 files' },
          '... its totals: first start, parts\' length, size, formats, '
          . 'parts, files') or diag explain $g->{head};
is_deeply({ map { @$_ } @{ $g->{starts} || [] } },
          { map { ($_->{file_id} => kolkata($_->{start_time})) } @all },
          'every start time in the browser\'s zone, 24-hour, the zone named');
my $hl = $g->{hls_link} || {};
ok(($hl->{text} // '') eq 'Download playlist (.m3u8)'
   && ($hl->{href} // '') eq $entry{hls}{video_url}
   && defined $hl->{download}
   && ($hl->{title} // '') =~ /segments stay on the server/,
   'HLS: a download of its playlist, which says what it is')
    or diag explain $hl;

my $pg = step_ok('paging', 'Older and Newer page through them');
is_deeply([ @$pg{qw(first second)}, map { $_ ? 1 : 0 } @$pg{qw(more same)} ],
          [ 7, 0, 0, 1 ],
          '... the broadcast in full on page 1 (4 of its files), none '
          . 'again on page 2, and back') or diag explain $pg;
is($pg->{note}, 'The files of this page belong to broadcasts listed in '
                . 'full on a newer page.', '... page 2 says why it is empty');
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
ok(($tc->{type} // '') eq 'text'
   && ($tc->{default_end} // '') =~ /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/
   && ($tc->{label} // '') =~ /^\s*End \(UTC\+05:30\)/,
   'the end field: 24-hour text (no AM/PM in en-US), its zone named')
    or diag explain $tc;
is($t && $t->{end_time}, $task_end,
   "... $task_end_text at +05:30 is what the API got");
is(($tc->{cells} || {})->{End}, "$task_end_text UTC+05:30",
   '... and the list shows it so');
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
