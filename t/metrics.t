#!/usr/bin/perl

# live_record_metrics: Prometheus text format, served without a token by
# either of two workers with the same numbers; after pushes, failing
# receivers, an unreachable store and a crash every counter has moved by
# exactly what the files on disk, the events received and the spool say;
# counters survive a reload and start again from zero after a restart.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/lib";
use HTTP::Tiny;
use Test::More tests => 94;
use Time::HiRes qw(time sleep);
use LiveRecord::Test;
use LiveRecord::Receiver;

my $long = make_media(duration => 150);     # 60 + 60 + 30 s parts
my $short = make_media(duration => 6);
my $live = make_media(duration => 30);

my @FORMATS = qw(mp4 flv aac hls);
my @REASONS = qw(interval unpublish drop param_change shutdown recovered
                 write_error task_start task_end);
my @HISTS = qw(finalize handoff notify_delay);
my @LE = qw(0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 5 10 30 60 120 300 600 +Inf);

my $conf = <<'EOF';
rtmp {
    live_record_template t {
        live_record_formats mp4 flv;
        live_record_interval 1m;
        live_record_min_duration 1s;
    }
    live_record_store local %%PREFIX%%/store;
    live_record_work_path %%PREFIX%%/work;
    live_record_index %%PREFIX%%/index;
    live_record_spool %%PREFIX%%/spool;
    live_record_notify_retry 8s;

    server {
        listen 127.0.0.1:%%PORT_RTMP%%;
        application live {
            live on;
            live_record t;
            live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;
        }
        application fail {
            live on;
            live_record t;
            live_record_notify http://127.0.0.1:%%PORT_FAIL%%/hook;
        }
        application put {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_PUT%%/ingest/ path=%%PREFIX%%/kept;
            live_record_keep_local on;
            live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;
        }
        application small {
            live on;
            live_record t;
            live_record_work_path %%PREFIX%%/small;
            live_record_min_free 0;
            live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;
        }
        application remote {
            live on;
            live_record t;
            live_record_store http http://127.0.0.1:%%PORT_DEAD%%/ingest/ path=%%PREFIX%%/staging;
            live_record_work_path %%PREFIX%%/work2;
            live_record_notify http://127.0.0.1:%%PORT_NOTIFY%%/hook;
        }
    }
}

http {
    log_format scrape '$pid $status $request_method $uri';
    live_record_api_token_file %%PREFIX%%/token;

    server {
        listen 127.0.0.1:%%PORT_HTTP%% reuseport;
        access_log %%PREFIX%%/logs/access.log scrape;

        location /metrics {
            live_record_metrics;
            allow 127.0.0.1;
            deny all;
        }
        location /closed {
            live_record_metrics;
            deny all;
        }
        location /api/ {
            live_record_api;
        }
    }
}
EOF

my @dirs = qw(store work work2 staging kept index spool);
my $p = prefix();

# a work path that fills: a 1.5 MB tmpfs (root only; else that part fails,
# or skips with LIVE_RECORD_ALLOW_MISSING=tmpfs)
my $small = "$p/small";
mkdir $small;
my $tmpfs = $> == 0
            && system("mount -t tmpfs -o size=1536k,mode=0777 tmpfs $small "
                      . ">/dev/null 2>&1") == 0;
END { system("umount $small >/dev/null 2>&1") if $tmpfs; }
open my $tfh, '>', "$p/token" or die "token: $!";
print $tfh "secret-$$\n";
close $tfh;

my $master = start_nginx(conf => $conf, dirs => \@dirs, workers => 2);
my $rcv = LiveRecord::Receiver->start(port => port('NOTIFY'));

# a new connection per request, so that reuseport spreads them over workers
my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $url = 'http://127.0.0.1:' . port('HTTP');

# every metric docs/metrics.md lists
my %documented;
{
    open my $fh, '<', "$FindBin::Bin/../docs/metrics.md" or die "docs: $!";
    while (<$fh>) {
        $documented{$1} = $2 if /^\|\s*`(live_record_\w+)`\s*\|\s*(\w+)\s*\|/;
    }
}

# parse one scrape strictly: returns ({ 'name{labels}' => value }, [errors]);
# a histogram's buckets are the fixed ones, in order, cumulative, the
# +Inf one equal to _count
sub parse {
    my ($text) = @_;
    my (%v, %help, %type, %samples, %le, @bad);
    my $label = qr/[a-zA-Z_]\w*="(?:[^"\\\n]|\\[\\"n])*"/;
    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP (live_record_\w+) \S.*$/) {
            push @bad, "second HELP for $1" if $help{$1}++;
        } elsif ($line
                 =~ /^# TYPE (live_record_\w+) (counter|gauge|histogram)$/)
        {
            push @bad, "TYPE after samples of $1" if $samples{$1};
            push @bad, "second TYPE for $1" if $type{$1};
            $type{$1} = $2;
        } elsif ($line =~ /^(live_record_\w+)(\{$label(?:,$label)*\})?
                            \ (\d+(?:\.\d+)?)$/x) {
            my ($name, $key, $value) = ($1, $1 . ($2 // ''), $3);
            if ($name =~ /^(\w+)_(bucket|sum|count)$/
                && ($type{$1} // '') eq 'histogram')
            {
                $name = $1;
                push @{ $le{$name} }, [ $1, $value ]
                    if $key =~ /_bucket\{le="([^"]+)"\}$/;
            }
            push @bad, "no TYPE before $name" unless $type{$name};
            push @bad, "no HELP before $name" unless $help{$name};
            push @bad, "counter $name does not end in _total"
                if ($type{$name} // '') eq 'counter' && $name !~ /_total$/;
            push @bad, "duplicate $key" if exists $v{$key};
            $samples{$name}++;
            $v{$key} = $value;
        } else {
            push @bad, "unparsable line: $line";
        }
    }
    push @bad, map { "$_ has no samples" } grep { !$samples{$_} } keys %type;
    for my $h (grep { $type{$_} eq 'histogram' } sort keys %type) {
        my @b = @{ $le{$h} || [] };
        push @bad, "$h: buckets " . join(' ', map { $_->[0] } @b)
            if join(' ', map { $_->[0] } @b) ne "@LE";
        push @bad, "$h: buckets not cumulative"
            if grep { $b[$_][1] < $b[$_ - 1][1] } 1 .. $#b;
        push @bad, "$h: +Inf bucket is not _count"
            if !@b || !defined $v{"${h}_count"}
               || $b[-1][1] != $v{"${h}_count"};
        push @bad, "$h: no _sum" unless defined $v{"${h}_sum"};
    }
    return (\%v, \@bad, \%type);
}

# GET /metrics, parsed; dies if the scrape fails or does not parse
sub scrape {
    my $r = $http->get("$url/metrics");
    die "scrape: $r->{status} $r->{content}\n" if $r->{status} != 200;
    my ($v, $bad) = parse($r->{content});
    die "scrape: " . join('; ', @$bad) . "\n" if @$bad;
    return $v;
}

# promtool check metrics on a scrape: exit 0, nothing to say
sub promtool_ok {
    my ($text, $what) = @_;
    my $file = "$p/scrape.txt";
    open my $fh, '>', $file or die "$file: $!";
    print $fh $text;
    close $fh;
    my $out = `promtool check metrics < $file 2>&1`;
    is("exit " . ($? >> 8) . ": $out", 'exit 0: ',
       "promtool check metrics: $what");
}

sub hist_count {
    my ($from, $to, $h) = @_;
    return delta($from, $to, "live_record_${h}_seconds_count");
}

sub val {
    my ($s, $key) = @_;
    die "no sample $key\n" unless exists $s->{$key};
    return $s->{$key};
}

sub delta {
    my ($from, $to, $key) = @_;
    return val($to, $key) - val($from, $key);
}

# distinct events of a type (of the streams named, if any)
sub events {
    my ($r, $type, @streams) = @_;
    my %seen;
    my %want = map { $_ => 1 } @streams;
    return grep { $_->{event_type} eq $type && !$seen{$_->{event_id}}++
                  && (!@streams || $want{$_->{stream_id}}) }
           map { eval { decode_json($_->{body}) } || {} } $r->requests;
}

sub files_of {
    my (@streams) = @_;
    my $re = join '|', map { quotemeta } @streams;
    return grep { m{/(?:$re)/} && /\.(?:mp4|flv)$/ }
           map { find_files("$p/$_") } qw(store staging kept);
}

# parts, bytes and seconds moved by exactly what these files and their
# events say

sub check_parts {
    my ($what, $from, $to, $events, $files, %o) = @_;
    my (@bad, %n, %size, %secs, %probed, %disk);
    for my $e (@$events) {
        $n{$e->{file_format}}{$e->{end_reason}}++;
        $size{$e->{file_format}} += $e->{file_size};
        $secs{$e->{file_format}} += $e->{duration};
    }
    for my $f (@$files) {
        my ($ext) = $f =~ /\.(\w+)$/;
        $disk{$ext}{n}++;
        $disk{$ext}{bytes} += -s $f;
        $probed{$ext} += $o{probe} // 1 ? probe_duration($f) // -1000 : 0;
    }
    for my $fmt (@FORMATS) {
        my $total = 0;
        for my $r (@REASONS) {
            my $d = delta($from, $to,
                "live_record_parts_total{format=\"$fmt\",reason=\"$r\"}");
            push @bad, "parts $fmt $r moved $d, events say "
                       . ($n{$fmt}{$r} // 0) if $d != ($n{$fmt}{$r} // 0);
            $total += $d;
        }
        push @bad, "parts $fmt moved $total, files on disk "
                   . ($disk{$fmt}{n} // 0) if $total != ($disk{$fmt}{n} // 0);
        my $bytes = delta($from, $to,
            "live_record_written_bytes_total{format=\"$fmt\"}");
        push @bad, "bytes $fmt moved $bytes, files hold "
                   . ($disk{$fmt}{bytes} // 0)
            if $bytes != ($disk{$fmt}{bytes} // 0);
        push @bad, "bytes $fmt moved $bytes, events say " . ($size{$fmt} // 0)
            if $bytes != ($size{$fmt} // 0);
        my $secs = delta($from, $to,
            "live_record_recorded_seconds_total{format=\"$fmt\"}");
        my $k = $disk{$fmt}{n} // 0;
        push @bad, "seconds $fmt moved $secs, events say " . ($secs{$fmt} // 0)
            if abs($secs - ($secs{$fmt} // 0)) > 0.001 * ($k + 1);
        push @bad, "seconds $fmt moved $secs, ffprobe says "
                   . ($probed{$fmt} // 0)
            if ($o{probe} // 1) && abs($secs - ($probed{$fmt} // 0)) > 0.3 * $k;
    }
    my $fin = hist_count($from, $to, 'finalize');
    my $n = 0;
    $n += $disk{$_}{n} // 0 for @FORMATS;
    push @bad, "finalize_seconds_count moved $fin, files on disk $n"
        if $fin != $n;
    ok(!@bad, "$what: parts by format and reason, bytes and seconds, "
              . "finalize_seconds_count match "
              . scalar(@$files) . ' files')
        or diag join "\n", @bad;
}

sub worker_pids {
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $s = <$fh> // '';
        push @kids, $1 if $s =~ /^(\d+) \(nginx\) \S (\d+) / && $2 == $master;
    }
    return sort @kids;
}

sub scrape_pids {
    open my $fh, '<', "$p/logs/access.log" or return ();
    return map { /^(\d+) 200 GET \/metrics$/ ? $1 : () } <$fh>;
}

sub spool_count {
    my ($dir) = @_;
    return scalar grep { /\.json$/ } find_files("$p/spool/$dir");
}

# 1. the endpoint: no token needed, format, HEAD, methods, allow/deny

my $r = $http->get("$url/metrics");
is($r->{status}, 200, 'scrape without a token: 200');
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4\b},
     'content type text/plain; version=0.0.4');
my ($s0, $bad, $type) = parse($r->{content});
is_deeply($bad, [], 'every line parses; HELP and TYPE before each '
                    . 'family\'s samples; counters end in _total');
is_deeply({ %$type }, \%documented,
          'the families and types served are those docs/metrics.md lists')
    or diag explain { served => $type, documented => \%documented };
is(scalar(grep { /^live_record_parts_total\{/ } keys %$s0),
   @FORMATS * @REASONS, 'parts_total: every format and reason, zeros too');
ok(!grep({ $_ != 0 } map { $s0->{$_} } grep { /_total/ } keys %$s0),
   'a new nginx starts every counter at 0');
is(val($s0, 'live_record_last_error_timestamp_seconds'), 0,
   'no error yet: last_error_timestamp_seconds 0');
is_deeply([map { val($s0, "live_record_${_}_seconds_count") } @HISTS],
          [0, 0, 0], 'histograms start empty');
promtool_ok($r->{content}, 'a new nginx');

$r = $http->head("$url/metrics");
is($r->{status}, 200, 'HEAD: 200');
is($r->{content} // '', '', 'HEAD: no body');
is($http->post_form("$url/metrics", {})->{status}, 405, 'POST: 405');
is($http->get("$url/closed")->{status}, 403,
   'deny all in the location: 403, the scrape obeys allow/deny');
is($http->get("$url/api/tasks")->{status}, 401,
   'the API next to it still wants its token');

ok(wait_for(sub { val(scrape(), 'live_record_workers') == 2 }, 10),
   'live_record_workers 2');

# work_free_bytes: one sample per distinct work path, as df says

my $s = scrape();
for my $dir (qw(work work2)) {
    my $v = $s->{"live_record_work_free_bytes{path=\"$p/$dir\"}"};
    my ($df) = `df -B1 --output=avail $p/$dir` =~ /(\d+)\s*$/;
    ok(defined $v && abs($v - $df) < 0.02 * $df + 64 * 1024 * 1024,
       "work_free_bytes for $dir is what df says")
        or diag "metric " . ($v // 'none') . ", df $df";
}

# 2. two real-time pushes at once, and a long one: recorders while live,
#    then every counter against the files and events

my $s1a = scrape();
my @rt = map { push_stream_bg($short, rtmp_url('live', "rt$_"),
                              realtime => 1) } 1, 2;
ok(wait_for(sub { find_files("$p/work", qr/rt1-.*\.flv$/)
                  && find_files("$p/work", qr/rt2-.*\.flv$/) }, 10),
   'two streams recording');
$s = scrape();
is_deeply([map { val($s, "live_record_recorders{format=\"$_\"}") } @FORMATS],
          [2, 2, 0, 0], 'recorders: mp4 2, flv 2, aac 0, hls 0');
is(val($s, 'live_record_spool_files{dir="open"}'), 4,
   'spool_files open: a sidecar per open file');
is(spool_count('open'), 4, 'and four sidecars are in the spool');
is(push_stream($long, rtmp_url('live', 'long')), 0, 'a 150 s push');
is(wait_push($_, 30), 0, 'real-time push') for @rt;

ok(wait_for(sub { events($rcv, 'record_done') >= 10 }, 30),
   '10 record_done events');
ok(wait_for(sub { my $x = scrape();
                  val($x, 'live_record_notify_pending') == 0
                  && val($x, 'live_record_handoffs_pending') == 0 }, 15),
   'nothing pending');
my $s1 = scrape();
my @done = events($rcv, 'record_done');
check_parts('live pushes', $s1a, $s1, \@done, [files_of(qw(rt1 rt2 long))]);
is(scalar(grep { $_->{end_reason} eq 'interval' } @done), 4,
   'the 150 s push was cut twice per format at the interval');
is(delta($s1a, $s1, 'live_record_handoffs_total{result="ok"}'), 10,
   'handoffs ok: 10');
is(delta($s1a, $s1, 'live_record_handoffs_total{result="failed"}'), 0,
   'handoffs failed: 0');
is_deeply([hist_count($s1a, $s1, 'handoff'),
           delta($s1a, $s1, 'live_record_handoff_seconds_bucket{le="0.01"}'),
           delta($s1a, $s1, 'live_record_handoff_seconds_sum')],
          [10, 10, 0], 'handoff_seconds: 10 handoffs to a local store, '
                       . 'each 0 (the move was the finalize\'s)');
is(hist_count($s1a, $s1, 'notify_delay'), 10,
   'notify_delay_seconds: one per record_done delivered');
my @reqs = $rcv->requests;
is(delta($s1a, $s1, 'live_record_notify_total{result="delivered"}'),
   scalar @reqs, 'notify delivered: every request the receiver answered');
is(scalar @reqs, 20, 'which is 10 record_started and 10 record_done');
is(delta($s1a, $s1, 'live_record_notify_total{result="failed"}'), 0,
   'notify failed: 0');
is_deeply([map { val($s1, $_) } 'live_record_recorders{format="mp4"}',
                              'live_record_spool_files{dir="notify"}',
                              'live_record_spool_files{dir="handoff"}',
                              'live_record_spool_files{dir="open"}'],
          [0, 0, 0, 0], 'after the pushes: no recorders, spool empty');
is(val($s1, 'live_record_last_error_timestamp_seconds'), 0,
   'no error: last_error_timestamp_seconds still 0');

# both workers answer, with the same numbers

my (%by_pid, $same);
$same = 1;
for (1 .. 40) {
    my $before = scalar scrape_pids();
    my $x = scrape();
    wait_for(sub { scrape_pids() > $before }, 2);
    my $pid = (scrape_pids())[$before] // 0;
    $by_pid{$pid}++;
    $same &&= !grep { $x->{$_} != $s1->{$_} } grep { !/work_free/ } keys %$s1;
    last if keys %by_pid >= 2 && $_ >= 10;
}
is(scalar keys %by_pid, 2, 'scrapes served by both workers')
    or diag explain \%by_pid;
ok($same, 'every scrape, whichever worker served it, the same numbers');
my %recorders = map { /\] (\d+)#/ ? ($1 => 1) : () }
                log_lines(qr/live record: .* done:/);
note('files recorded by worker ' . join(', ', sort keys %recorders)
     . '; scrapes served by ' . join(', ', sort keys %by_pid));

# 3. a receiver that answers 500, a store nobody listens on and one that
#    takes the files, at once: pending while retried, then dead letters,
#    failed and successful uploads

my $fail = LiveRecord::Receiver->start(port => port('FAIL'),
                                       statuses => [500]);
my $put = LiveRecord::Receiver->start(port => port('PUT'));
my $started = time;
is(push_stream($short, rtmp_url('fail', 'f1')), 0, 'push, failing receiver');
is(push_stream($short, rtmp_url('remote', 'far')), 0,
   'push, unreachable store');
is(push_stream($short, rtmp_url('put', 'up')), 0, 'push, working store');
ok(wait_for(sub { events($fail, 'record_done') >= 2 }, 10),
   'the failing receiver got both record_done');
ok(wait_for(sub { log_lines(qr/upload of .* failed/) >= 2
                  && events($rcv, 'record_done', 'up') >= 2 }, 15),
   'both uploads to the dead store failed once, both to the other done');
my $s3a = scrape();
is(val($s3a, 'live_record_notify_pending'), 4,
   'notify_pending: 4 events in retry');
is(val($s3a, 'live_record_spool_files{dir="notify"}'), spool_count('notify'),
   'spool_files notify: the files in the spool');
is(spool_count('notify'), 4, 'which are 4');
is(val($s3a, 'live_record_handoffs_pending'), 2,
   'handoffs_pending: 2 uploads in retry');
is(val($s3a, 'live_record_spool_files{dir="handoff"}'), spool_count('handoff'),
   'spool_files handoff: the files in the spool');
is(spool_count('handoff'), 2, 'which are 2');
is(delta($s1, $s3a, 'live_record_handoffs_total{result="failed"}'), 0,
   'no handoff failed yet');
ok(delta($s1, $s3a, 'live_record_notify_total{result="failed"}') >= 4,
   'failed attempts counted');
is(delta($s1, $s3a, 'live_record_notify_dead_total'), 0, 'none dead yet');
is(val($s3a, 'live_record_last_error_timestamp_seconds'), 0,
   'retrying is not yet an error');

ok(wait_for(sub { grep({ !/\.error$/ } find_files("$p/spool/dead")) >= 4
                  && log_lines(qr/upload of .* given up/) >= 2 }, 40),
   'events dead-lettered, uploads given up');
ok(wait_for(sub { events($rcv, 'record_failed', 'far') >= 2 }, 10),
   'record_failed for both uploads');
ok(wait_for(sub { val(scrape(), 'live_record_notify_pending') == 0 }, 10),
   'nothing pending');
sleep 1;
my $s3 = scrape();
my @dead = grep { !/\.error$/ } find_files("$p/spool/dead");
is(delta($s1, $s3, 'live_record_notify_dead_total'), scalar @dead,
   'notify_dead_total: the files in the dead-letter directory');
is(scalar @dead, 4, 'which are 4');
is(delta($s1, $s3, 'live_record_notify_total{result="failed"}'),
   scalar($fail->requests), 'notify failed: every request answered 500');
is(delta($s1, $s3, 'live_record_notify_total{result="delivered"}'),
   $rcv->requests - @reqs,
   'notify delivered: the good receiver\'s new requests');
is(delta($s1, $s3, 'live_record_handoffs_total{result="failed"}'), 2,
   'handoffs failed: the 2 uploads given up');
is(delta($s1, $s3, 'live_record_handoffs_total{result="ok"}'),
   2 + scalar(grep { $_->{method} eq 'PUT' } $put->requests),
   'handoffs ok: 2 local files and one per PUT to the working store');
is(hist_count($s1, $s3, 'handoff'),
   delta($s1, $s3, 'live_record_handoffs_total{result="ok"}'),
   'handoff_seconds: one per handoff ok, none for those given up');
is(hist_count($s1, $s3, 'notify_delay'),
   scalar(events($rcv, 'record_done', 'up')),
   'notify_delay_seconds: only the record_done delivered (2), not those '
   . 'dead-lettered');
promtool_ok($http->get("$url/metrics")->{content},
            'after retries, dead letters and uploads');
is_deeply([map { val($s3, $_) } 'live_record_handoffs_pending',
                              'live_record_notify_pending',
                              'live_record_spool_files{dir="notify"}',
                              'live_record_spool_files{dir="handoff"}'],
          [0, 0, 0, 0], 'pending and spool back to 0');
my $err = val($s3, 'live_record_last_error_timestamp_seconds');
ok($err >= int($started) + 8 && $err <= time + 1,
   'last_error_timestamp_seconds: when they gave up')
    or diag "$err, started $started";
check_parts('failing pushes and uploads', $s1, $s3,
            [events($fail, 'record_done'), events($rcv, 'record_done', 'up'),
             events($rcv, 'record_failed', 'far')],
            [files_of(qw(f1 far up))]);
$fail->stop;
$put->stop;

# 3b. a work path that fills up: the part ends with "write_error", and
#     that is an error

SKIP: {
    need('tmpfs', 'cannot mount a tmpfs here (needs root)', 5)
        unless $tmpfs;

    # ~1 Mbit/s, so 1.5 MB fills within seconds (the clip of t/disk.t)
    my $dense = "$p/../media/dense-20s.flv";
    unless (-s $dense) {
        system('ffmpeg', qw(-hide_banner -loglevel error -nostdin -y
            -f lavfi -i testsrc2=size=320x240:rate=25 -f lavfi
            -i sine=frequency=500:sample_rate=44100 -t 20 -c:v libx264
            -preset superfast -b:v 1M -maxrate 1M -bufsize 1M -g 50
            -pix_fmt yuv420p -c:a aac -b:a 64k -f flv), "$dense.$$")
            == 0 or die "ffmpeg failed\n";
        rename "$dense.$$", $dense;
    }

    my $t0 = time;
    push_stream($dense, rtmp_url('small', 'full'));
    ok(wait_for(sub { events($rcv, 'record_done', 'full') >= 2 }, 20),
       'the part that hit the full disk is finished');
    ok(wait_for(sub { val(scrape(), 'live_record_handoffs_pending') == 0 },
                10), 'nothing pending');
    my $s3b = scrape();
    my @full = events($rcv, 'record_done', 'full');
    is_deeply([sort map { "$_->{file_format} $_->{end_reason}" } @full],
              ['flv write_error', 'mp4 write_error'],
              'both files ended with write_error');
    # what a failed write held is lost: durations are not ffprobe's
    check_parts('full disk', $s3, $s3b, \@full, [files_of('full')],
                probe => 0);
    my $e = val($s3b, 'live_record_last_error_timestamp_seconds');
    ok($e >= int($t0) && $e <= time + 1,
       'last_error_timestamp_seconds: the write error')
        or diag "$e, pushed at $t0";
    $s3 = $s3b;
    $err = $e;
}

# 4. the recording worker killed mid-push while the master is stopped, so
#    that nothing respawns: the survivor leaves the dead one's recorder,
#    sidecars and slot out; then the parts it left open are recovered

my $pub = push_stream_bg($live, rtmp_url('live', 'crash'), realtime => 1);
ok(wait_for(sub { find_files("$p/work", qr/crash-.*\.flv$/) }, 10),
   'recording');
sleep 2;
$s = scrape();
is(val($s, 'live_record_spool_files{dir="open"}'), 2, 'two files open');
my ($victim) = map { /\] (\d+)#/ ? $1 : () }
               log_lines(qr{"live/crash" part 1 opened});
ok($victim && grep({ $_ == $victim } worker_pids()),
   'the recording worker is known');
kill 'STOP', $master;
kill 'KILL', $victim;
ok(wait_for(sub { my $st = `cat /proc/$victim/stat 2>/dev/null`;
                  $st eq '' || $st =~ /^\d+ \(.*\) Z/ }, 5),
   'recording worker killed, a zombie its stopped master does not reap');

# half the connections wait in the dead worker's reuseport queue
my $quick = HTTP::Tiny->new(timeout => 2, keep_alive => 0);
my $survivor;
for (1 .. 20) {
    my $x = $quick->get("$url/metrics");
    next if $x->{status} != 200;
    $survivor = (parse($x->{content}))[0];
    last;
}
kill 'CONT', $master;
ok($survivor, 'the other worker answers while the master is stopped');
$survivor //= {};
is_deeply([map { $survivor->{$_} } 'live_record_workers',
                                   'live_record_recorders{format="mp4"}',
                                   'live_record_spool_files{dir="open"}'],
          [1, 0, 0], 'the dead worker is left out: workers 1, recorders 0, '
                     . 'spool_files open 0');
wait_push($pub, 10);
ok(wait_for(sub { grep({ $_->{stream_id} eq 'crash' }
                       events($rcv, 'record_done')) >= 2 }, 30),
   'both files recovered and announced');
ok(wait_for(sub { my $x = scrape();
                  val($x, 'live_record_workers') == 2
                  && val($x, 'live_record_handoffs_pending') == 0 }, 10),
   'respawned: two workers, nothing pending');
my $s4 = scrape();
is(delta($s3, $s4, 'live_record_recovered_parts_total'), 2,
   'recovered_parts_total: 2');
is_deeply([map { val($s4, $_) } 'live_record_recorders{format="mp4"}',
                              'live_record_recorders{format="flv"}',
                              'live_record_spool_files{dir="open"}',
                              'live_record_notify_pending'],
          [0, 0, 0, 0],
          'after the recovery: no recorders, sidecars or events left');
check_parts('recovered', $s3, $s4,
            [grep { $_->{stream_id} eq 'crash' } events($rcv, 'record_done')],
            [files_of('crash')]);
is(delta($s3, $s4, 'live_record_parts_total{format="mp4",reason="recovered"}'),
   1, 'the mp4 counted with reason recovered');

# 5. a reload keeps the counters; a restart starts them from zero

my @before = worker_pids();
kill 'HUP', $master;
ok(wait_for(sub { my @w = worker_pids();
                  @w == 2 && !grep({ my $o = $_; grep { $_ == $o } @w }
                                   @before) }, 20),
   'reloaded: two new workers');
ok(wait_for(sub { val(scrape(), 'live_record_workers') == 2 }, 10),
   'live_record_workers 2 after the reload');
my $s5 = scrape();
my $counted = qr/_total|_seconds_(?:bucket|sum|count)/;
my @moved = grep { /$counted/ && $s5->{$_} != $s4->{$_} } keys %$s4;
is_deeply(\@moved, [], 'after a reload every counter is where it was');
ok(val($s5, 'live_record_parts_total{format="mp4",reason="interval"}') >= 2,
   'and not at zero');
is(val($s5, 'live_record_last_error_timestamp_seconds'), $err,
   'last error time kept too');

stop_nginx();
$master = start_nginx(conf => $conf, dirs => \@dirs, workers => 2);
my $s6 = scrape();
is_deeply([grep { /$counted/ && $s6->{$_} != 0 } keys %$s6], [],
          'after a restart every counter is 0');
is(val($s6, 'live_record_last_error_timestamp_seconds'), 0,
   'and last_error_timestamp_seconds 0');

$rcv->stop;

# the kill, the uploads given up and the full disk's crit lines
# (libavformat's FLV calls, or the MP4 writer's write(), whichever fails
# first)
my $allow = join '|', 'exited on signal 9', 'upload of .* given up',
    ': av(?:_write_frame|io_flush|_write_trailer)\(.*\) failed '
    . '\(No space left on device\)',
    ': write\("[^"]*\.mp4(?:\.samples)?"\) failed '
    . '\(28: No space left on device\)';
# and the scrape /closed refuses (deny all)
no_alerts(allow => [qr/$allow/, qr/\[error\] .*access forbidden by rule, .*"GET \/closed /]);
