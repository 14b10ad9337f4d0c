package LiveRecord::Test;

# Test harness for ngx_live_record (core Perl only, nginx-tests style).
#
#   use Test::More tests => 5;
#   use FindBin; use lib "$FindBin::Bin/lib";
#   use LiveRecord::Test;
#
#   start_nginx(conf => <<'EOF');       # text after "events {}": rtmp/http
#   rtmp {
#       live_record_template t { live_record_formats mp4; }
#       live_record_store local %%PREFIX%%/store;
#       live_record_work_path %%PREFIX%%/work;
#       server {
#           listen 127.0.0.1:%%PORT_RTMP%%;
#           application live { live on; live_record t; }
#       }
#   }
#   EOF
#   my $in = make_media(duration => 12);             # cached lavfi FLV
#   is(push_stream($in, rtmp_url('live', 'cam')), 0, 'push');
#   my @mp4 = wait_files('store', qr/\.mp4$/, 1);
#   is(probe_counts($mp4[0])->{video}, probe_counts($in)->{video}, 'frames');
#   no_alerts();                                     # stops nginx, checks log
#
# Every test file gets a private prefix t/tmp/<test>.<pid>/ holding conf/,
# logs/ and the directories named by start_nginx(dirs => [...]) (default
# store and work, mode 0777 since the workers run as "nobody").  The prefix is
# removed when all tests passed, kept (and its path printed) otherwise, or
# always with LIVE_RECORD_KEEP=1.  LIVE_RECORD_MODULE overrides the module's
# .so path ("none" runs plain nginx-rtmp, to check the harness itself); the
# environment (ASAN_OPTIONS, LD_PRELOAD) passes through to nginx.
#
# Config placeholders: %%PREFIX%%, %%PORT_RTMP%%, %%PORT_HTTP%%, %%PORT_<n>%%
# (each distinct name a distinct free loopback port; port('RTMP') in Perl).
#
# API (all exported):
#   start_nginx(conf =>, workers =>, dirs =>, modules =>)  stop_nginx()
#       prefix()  (modules: main-context text replacing the load_module
#       lines, e.g. an include of modules-enabled/*.conf)
#   nginx_workers() -> the worker pids
#   port(NAME)  rtmp_url(APP, NAME)
#   nginx_test_config(CONF, %opts)    -> (exit code, nginx -t output)
#   make_media(duration =>, video =>, audio =>, format =>) -> cached file
#   dense_media() -> a cached 20 s clip at ~1 Mbit/s, to fill a small disk
#   big_media() -> a cached 8 s 720p clip of ~24 MB (~24 Mbit/s), for
#       multipart uploads
#   small_disk(SIZE) -> prefix()/small with a tmpfs of SIZE ("1536k") on
#       it, unmounted at exit; undef where it cannot be mounted (not root)
#   push_stream(IN, URL, realtime =>, opts => [...], timeout =>) -> exit code
#   push_stream_bg(...) -> pid;  wait_push(PID, TIMEOUT) -> exit code,
#       128 + signal if killed, -1 on timeout
#   probe(FILE, ffprobe args) -> JSON;  probe_ok  probe_duration
#   probe_streams  probe_counts -> {video, audio}  probe_video_packets
#   mp4_top_boxes(FILE) -> ('ftyp', 'moov', ...)
#   media_packets(FILE) -> { video => [ {dts, size, key} ], audio => [...] }
#   mp4_ok(FILE, %expect) -> one test: the MP4 checked box by box (below)
#   browser_missing() -> why chromium cannot run (undef when it can)
#   play_in_chromium(page => URL, files => [URL...], seek => S) -> answer
#   wait_for(CODE, TIMEOUT)  wait_files(DIR, RE, N, TIMEOUT)
#   find_files(DIR, RE)  log_lines(RE)  no_alerts(allow => RE | [RE...])
#   slurp(FILE) -> its bytes ('' when it cannot be read)
#   decode_json(BYTES) -> strict UTF-8 JSON (LiveRecord::JSON); dies on
#       bad input, which no_alerts() then reports too
#   index_ok(ENTRY, %expect) -> one test on an index entry (below)
#   need_all(NAME, WHY)  need(NAME, WHY, N): a missing tool fails
#       (LiveRecord::Need; LIVE_RECORD_ALLOW_MISSING makes it a skip)
#
# ("push" itself would clash with Perl's builtin, hence push_stream.)

use strict;
use warnings;

use Exporter qw(import);
use Cwd qw(abs_path);
use Digest::SHA qw(sha256_hex);
use Encode ();
use File::Copy qw(copy);
use File::Path qw(make_path remove_tree);
use File::Spec;
use File::Temp qw(tempfile);
use IO::Socket::INET;
use JSON::PP qw(encode_json);
use LiveRecord::JSON;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use Test::More ();

use LiveRecord::MP4;
use LiveRecord::Need;

our @EXPORT = qw(
    prefix port rtmp_url start_nginx stop_nginx nginx_test_config
    make_media dense_media big_media small_disk
    push_stream push_stream_bg wait_push
    probe probe_ok probe_duration probe_streams probe_counts
    probe_video_packets mp4_top_boxes media_packets mp4_ok
    browser_missing play_in_chromium
    wait_for wait_files find_files log_lines no_alerts decode_json slurp
    need_all need index_ok nginx_workers
);

my $REPO   = abs_path(File::Spec->catdir(
                 (File::Spec->splitpath(abs_path(__FILE__)))[1], '..', '..',
                 '..'));
my $NGINX  = $ENV{NGINX} || '/usr/sbin/nginx';
my $RTMP   = '/usr/lib/nginx/modules/ngx_rtmp_module.so';
my $MODULE = $ENV{LIVE_RECORD_MODULE}
             || "$REPO/build/ngx_live_record_module.so";
my $TMP    = "$REPO/t/tmp";

my ($PREFIX, $NGINX_PID, %PORTS, %HELD, %BG, $CHECKS, $PUSHES,
    $ALERTS_DUE, @MOUNTS);

sub prefix {
    return $PREFIX if defined $PREFIX;
    my $name = (File::Spec->splitpath($0))[2];
    $name =~ s/\.t$//;
    $PREFIX = "$TMP/$name.$$";
    remove_tree($PREFIX);
    make_path("$PREFIX/conf", "$PREFIX/logs", { mode => 0755 });
    chmod 0755, $TMP, $PREFIX;
    return $PREFIX;
}

# A free loopback port per name; the probing socket is held until nginx
# starts so that concurrent test files do not pick the same one.
sub port {
    my ($name) = @_;
    return $PORTS{$name} if $PORTS{$name};
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "cannot bind a free port: $!";
    $HELD{$name} = $s;
    return $PORTS{$name} = $s->sockport;
}

# The ports held so far, let go: for servers a test starts itself before
# (or without) start_nginx.
sub release_ports {
    close $_ for values %HELD;
    %HELD = ();
}

sub rtmp_url {
    my ($app, $name) = @_;
    return 'rtmp://127.0.0.1:' . port('RTMP') . "/$app/$name";
}

sub _expand {
    my ($text, $prefix) = @_;
    $text =~ s/%%PREFIX%%/$prefix/g;
    $text =~ s/%%PORT_(\w+)%%/port($1)/ge;
    return $text;
}

sub _write_conf {
    my ($prefix, %o) = @_;
    my $workers = $o{workers} || 1;
    my $conf = "load_module $RTMP;\n";
    if (defined $o{modules}) {
        # the test loads the modules itself (t/package.t: the packaged ones)
        $conf = _expand($o{modules}, $prefix);
    } elsif ($MODULE ne 'none') {
        # load a private copy: a rebuild that rewrites build/*.so in place
        # while tests run would crash their workers
        my $so = "$prefix/modules/live_record.so";
        make_path("$prefix/modules");
        copy($MODULE, "$so.tmp") && rename("$so.tmp", $so)
            or die "cannot copy $MODULE: $!\n";
        $conf .= "load_module $so;\n";
    }
    $conf .= "daemon on;\nmaster_process on;\n"
        . "worker_processes $workers;\n"
        . "error_log $prefix/logs/error.log info;\n"
        . "pid $prefix/logs/nginx.pid;\n"
        . "events {}\n\n" . _expand($o{conf} || '', $prefix);
    make_path("$prefix/conf", "$prefix/logs");
    for my $d (@{ $o{dirs} || [qw(store work)] }) {
        make_path("$prefix/$d");
        chmod 0777, "$prefix/$d";
    }
    open my $fh, '>', "$prefix/conf/nginx.conf" or die "nginx.conf: $!";
    print $fh $conf;
    close $fh;
}

# Runs a command with stdin from /dev/null, stdout and stderr to files;
# returns (exit code or -1 on timeout, stdout, stderr).
sub _run {
    my ($cmd, $timeout) = @_;
    my (undef, $out) = tempfile(UNLINK => 1);
    my (undef, $err) = tempfile(UNLINK => 1);
    my $pid = _spawn($cmd, $out, $err);
    my $rc = wait_push($pid, $timeout || 60);
    return ($rc, slurp($out), slurp($err));
}

sub _spawn {
    my ($cmd, $out, $err) = @_;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $out or POSIX::_exit(126);
        open STDERR, '>>', $err or POSIX::_exit(126);
        exec @$cmd or POSIX::_exit(127);
    }
    return $pid;
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return '';
    local $/;
    my $s = <$fh>;
    return defined $s ? $s : '';
}

# start_nginx(conf => TEXT, workers => N, dirs => [...]); dies on failure.
sub start_nginx {
    my (%o) = @_;
    my $p = prefix();
    local $ENV{LD_PRELOAD} = $ENV{LIVE_RECORD_PRELOAD}
        if $ENV{LIVE_RECORD_PRELOAD};
    port('RTMP');
    _write_conf($p, %o);
    close $_ for values %HELD;
    %HELD = ();
    my ($rc, $out, $err) = _run([$NGINX, '-p', "$p/", '-c',
        "$p/conf/nginx.conf", '-e', "$p/logs/error.log"], 30);
    open my $fh, '>>', "$p/logs/stderr.log";
    print $fh $out, $err;
    close $fh;
    die "nginx failed to start (rc=$rc): $out$err\n" if $rc != 0;
    my $up = wait_for(sub {
        $NGINX_PID //= _read_pid();
        $NGINX_PID && IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => port('RTMP'), Proto => 'tcp');
    }, 10);
    die "nginx did not come up, see $p/logs/error.log\n" unless $up;
    $ALERTS_DUE = 1;
    return $NGINX_PID;
}

sub _read_pid {
    my $s = slurp(prefix() . '/logs/nginx.pid');
    return $s =~ /(\d+)/ ? $1 : undef;
}

sub _children {
    my ($ppid) = @_;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my $s = slurp($stat);
        push @kids, $1 if $s =~ /^(\d+) \(.*\) \S (\d+) / && $2 == $ppid;
    }
    return @kids;
}

sub nginx_workers {
    my $pid = $NGINX_PID // _read_pid() or return ();
    return sort { $a <=> $b } _children($pid);
}

sub _alive {
    my ($pid) = @_;
    return kill(0, $pid) && slurp("/proc/$pid/stat") !~ /^\d+ \(.*\) Z/;
}

# Graceful stop: QUIT, up to 20 s, then TERM, then KILL (workers too).
sub stop_nginx {
    my $pid = $NGINX_PID // (defined $PREFIX ? _read_pid() : undef);
    undef $NGINX_PID;
    return unless $pid && _alive($pid);
    my @workers = _children($pid);
    for my $sig (qw(QUIT TERM KILL)) {
        kill $sig, $pid;
        last if wait_for(sub { !_alive($pid) }, $sig eq 'QUIT' ? 20 : 5);
        Test::More::diag("nginx $pid ignored SIG$sig") if $sig ne 'KILL';
    }
    kill 'KILL', grep { _alive($_) } @workers;
}

# Runs "nginx -t" on a config (same expansion as start_nginx) in a scratch
# prefix; returns (exit code, stdout + stderr).
sub nginx_test_config {
    my ($conf, %o) = @_;
    my $p = prefix() . '/check.' . ++$CHECKS;
    local $ENV{LD_PRELOAD} = $ENV{LIVE_RECORD_PRELOAD}
        if $ENV{LIVE_RECORD_PRELOAD};
    _write_conf($p, %o, conf => $conf);
    my ($rc, $out, $err) = _run([$NGINX, '-t', '-p', "$p/", '-c',
        "$p/conf/nginx.conf", '-e', "$p/logs/error.log"], 30);
    return ($rc, $out . $err);
}

# make_media(duration => S, video => 0|1, audio => 0|1, format => flv|mp4):
# a cached lavfi clip, 320x240@25 H.264 (2 s GOP, B-frames) + 44.1k AAC.
sub make_media {
    my (%o) = @_;
    my $d   = $o{duration} // 10;
    my $v   = $o{video} // 1;
    my $a   = $o{audio} // 1;
    my $fmt = $o{format} || 'flv';
    my @cmd;
    push @cmd, '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25' if $v;
    push @cmd, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100'
        if $a;
    push @cmd, '-t', $d;
    push @cmd, qw(-c:v libx264 -preset superfast -g 50 -keyint_min 50
                  -sc_threshold 0 -pix_fmt yuv420p) if $v;
    push @cmd, qw(-c:a aac -b:a 64k) if $a;
    push @cmd, '-f', $fmt;
    return _clip(($v ? 'v' : '') . ($a ? 'a' : '') . "-${d}s.$fmt", @cmd);
}

# ~1 Mbit/s, so that 1.5 MB fills within seconds (t/disk*.t, t/hls_disk.t);
# 20 s unless told
sub dense_media {
    my ($d) = @_;
    $d //= 20;
    return _clip("dense-${d}s.flv", qw(-f lavfi
        -i testsrc2=size=320x240:rate=25 -f lavfi
        -i sine=frequency=500:sample_rate=44100), '-t', $d, qw(-c:v libx264
        -preset superfast -b:v 1M -maxrate 1M -bufsize 1M -g 50
        -pix_fmt yuv420p -c:a aac -b:a 64k -f flv));
}

# ~24 MB: several parts of an S3 multipart upload
# (t/store_s3.t, t/store_s3_multipart.t)
sub big_media {
    return _clip('big-8s.flv', qw(-f lavfi
        -i testsrc2=size=1280x720:rate=25 -f lavfi
        -i sine=frequency=300:sample_rate=44100 -t 8 -c:v libx264
        -preset ultrafast -b:v 24M -maxrate 24M -bufsize 4M -g 50
        -pix_fmt yuv420p -c:a aac -b:a 64k -f flv));
}

# t/tmp/media/NAME, made once by ffmpeg with ARGS and the output's name
sub _clip {
    my ($name, @args) = @_;
    my $file = "$TMP/media/$name";
    return $file if -s $file;
    make_path("$TMP/media");
    my $tmp = "$file.$$.tmp";
    my ($rc, undef, $err) = _run(['ffmpeg', qw(-hide_banner -loglevel error
        -nostdin -y), @args, $tmp], 120);
    die "ffmpeg media generation failed: $err\n" if $rc != 0;
    rename $tmp, $file or die "rename $tmp: $!";
    return $file;
}

# a tmpfs: a disk that fills, and is freed again, in seconds
sub small_disk {
    my ($size) = @_;
    my $dir = prefix() . '/small';
    make_path($dir);
    return undef if $> != 0
        || system("mount -t tmpfs -o size=$size,mode=0777 tmpfs $dir "
                  . '>/dev/null 2>&1') != 0;
    push @MOUNTS, $dir;
    return $dir;
}

# push_stream_bg(INPUT, URL, realtime => 0|1, opts => [ffmpeg options])
# starts "ffmpeg [-re] -i INPUT -c copy OPTS -f flv URL" and returns its
# pid; its output goes to logs/ffmpeg.N.log.  push_stream() waits and
# returns the exit code (-1 on timeout, default 120 s).
sub push_stream_bg {
    my ($input, $url, %o) = @_;
    my @cmd = ('ffmpeg', '-hide_banner', '-loglevel', 'error', '-nostdin');
    push @cmd, '-re' if $o{realtime};
    push @cmd, '-i', $input, '-c', 'copy', @{ $o{opts} || [] },
        '-f', 'flv', $url;
    my $log = prefix() . '/logs/ffmpeg.' . ++$PUSHES . '.log';
    my $pid = _spawn(\@cmd, $log, $log);
    $BG{$pid} = $log;
    return $pid;
}

sub push_stream {
    my ($input, $url, %o) = @_;
    return wait_push(push_stream_bg($input, $url, %o), $o{timeout} || 120);
}

# Waits for a child; returns its exit code, 128+signal, or -1 on timeout
# (the child is then killed).
sub wait_push {
    my ($pid, $timeout) = @_;
    my $end = time + ($timeout // 120);
    while (time < $end) {
        if (waitpid($pid, WNOHANG) == $pid) {
            my $st = $?;
            my $log = delete $BG{$pid};
            my $rc = $st & 127 ? 128 + ($st & 127) : $st >> 8;
            Test::More::diag("ffmpeg exited $rc: " . slurp($log))
                if $log && $rc && !($st & 127);
            return $rc;
        }
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    delete $BG{$pid};
    Test::More::diag("pid $pid killed after ${timeout}s timeout");
    return -1;
}

# ffprobe oracle: probe(FILE, ARGS...) returns the decoded JSON or undef.
sub probe {
    my ($file, @args) = @_;
    my ($rc, $out, $err) = _run(['ffprobe', '-v', 'error', '-of', 'json',
        @args, $file], 60);
    return undef if $rc != 0;
    return eval { decode_json($out) };
}

sub probe_ok {
    my ($file) = @_;
    my $j = probe($file, '-show_entries', 'stream=codec_type');
    return $j && @{ $j->{streams} || [] } ? 1 : 0;
}

sub probe_duration {
    my $j = probe($_[0], '-show_entries', 'format=duration');
    return $j ? $j->{format}{duration} : undef;
}

# List of { index, codec_type, codec_name }.
sub probe_streams {
    my $j = probe($_[0], '-show_entries',
        'stream=index,codec_type,codec_name');
    return $j ? @{ $j->{streams} || [] } : ();
}

# { video => N, audio => N } packet counts (absent types count 0).
sub probe_counts {
    my $j = probe($_[0], '-count_packets', '-show_entries',
        'stream=codec_type,nb_read_packets');
    my %n = (video => 0, audio => 0);
    $n{ $_->{codec_type} } += $_->{nb_read_packets} || 0
        for @{ $j ? $j->{streams} || [] : [] };
    return \%n;
}

# List of { pts_time, dts_time, flags } of the first video stream.
sub probe_video_packets {
    my $j = probe($_[0], '-select_streams', 'v:0', '-show_entries',
        'packet=pts_time,dts_time,flags');
    return $j ? @{ $j->{packets} || [] } : ();
}

# Top-level box types of an MP4 file, in file order.
sub mp4_top_boxes {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return ();
    my $size = -s $fh;
    my ($pos, @types) = (0);
    while ($pos + 8 <= $size) {
        seek $fh, $pos, 0;
        read($fh, my $h, 16) >= 8 or last;
        my ($len, $type) = unpack 'Na4', $h;
        $len = unpack 'x8 Q>', $h if $len == 1 && length $h == 16;
        $len = $size - $pos if $len == 0;
        push @types, $type;
        last if $len < 8;
        $pos += $len;
    }
    return @types;
}

# media_packets(FILE): every packet of FILE as ffprobe reads it, per type,
# in file order: { video => [ { dts (ms), size, key } ], audio => [...] }.
# Cached per file (the inputs are pushed several times).
my %PACKETS;

sub media_packets {
    my ($file) = @_;
    return $PACKETS{$file} if $PACKETS{$file};
    my $j = probe($file, '-show_entries',
        'packet=codec_type,dts_time,size,flags');
    my %p = (video => [], audio => []);
    for my $k (@{ $j ? $j->{packets} || [] : [] }) {
        next unless $p{ $k->{codec_type} // '' };
        push @{ $p{ $k->{codec_type} } }, {
            dts => int(($k->{dts_time} // 0) * 1000 + 0.5),
            size => $k->{size}, key => ($k->{flags} // '') =~ /K/ ? 1 : 0 };
    }
    return $j ? ($PACKETS{$file} = \%p) : \%p;
}

# mp4_ok(FILE, %expect): one test, passing when the MP4 is whole by the
# independent box reader (t/lib/LiveRecord/MP4.pm) and holds what was
# pushed.  Always: the top-level boxes tile the file, one ftyp first, one
# moov, one mdat; per track stts/ctts/stsc cover every sample, mdhd's
# duration is the stts sum (exact to the sample), every sample (stco/co64
# + stsc + stsz) lies inside the mdat's payload and none overlaps another;
# audio has no stss (all sync).  Then, per track, against %expect:
#
#   from => INPUT      the pushed file: its packets (media_packets) are the
#                      expected samples: counts, sizes, keyframes = stss,
#                      video durations = the input's dts steps
#   video_range => [FIRST, LAST]   this part holds input video packets
#                      FIRST..LAST (1-based), e.g. one interval part, and
#                      the audio packets from FIRST's time to LAST+1's
#   prefix => 1        the file holds the first n packets of each track
#                      (recovery after a kill): n <= the input's
#   audio_slack => N   the audio count may differ by N (part boundaries);
#                      audio sizes are then not compared
#   video => N, audio => N   explicit counts (without from; 0 = no track)
#   odd_steps => N     up to N video samples may last other than the
#                      input's step (a clock jump the segmenter rebased)
#   min_duration => S  every track lasts at least S seconds
#   joins => N         up to N audio samples may last longer than a frame
#                      (live_record_continue: the last one before each
#                      reconnect lasts until the next push's first)
#   name => LABEL
#
# A file that libavformat wrote (its "Lavf" tag in moov/udta: main before
# the write-once writer, concat) keeps its 1/1000 s audio steps, its
# first video sample may span the input's start, and its mdhd may end a
# few samples past the stts sum (a dropped publisher); any other file
# must have exact timing too: the audio time scale is the sample rate and
# every audio sample lasts one frame (1024 AAC, 1152/576 MP3; the first
# may also span up to 250 ms of lead-in from the part's start), video at
# 90 kHz.  Returns the reader (LiveRecord::MP4) for more checks.
sub mp4_ok {
    my ($file, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $name = $o{name} // (File::Spec->splitpath($file // ''))[2];
    my ($m, @e);
    if (!defined $file || !-f $file) {
        @e = ('no such file: ' . ($file // 'undef'));
    } else {
        $m = eval { LiveRecord::MP4->read($file) };
        @e = $m ? $m->check : ("unreadable: $@");
    }
    if ($m && ($m->{udta} // '') =~ /Lavf/) {
        # libavformat ends mdhd at the last sample's composition end on a
        # dropped connection: a sample or two past the stts sum
        @e = grep {
            !(/^(\w+): mdhd duration (\d+) is not the stts sum (\d+)$/
              && abs($2 - $3) <= 4 * _max_duration($m, $1))
        } @e;
    }
    push @e, _mp4_expect($m, %o) if $m;
    Test::More::ok(!@e, "$name: mp4 box by box ("
        . ($m ? join(', ', map { ($_->{handler} // '?')
            . " $_->{samples}" } @{ $m->{tracks} }) : 'unread') . ')')
        or Test::More::diag(join "\n", "$file:", $m ? 'boxes: '
            . $m->top_types : (), @e[0 .. ($#e > 19 ? 19 : $#e)]);
    return $m;
}

sub _mp4_expect {
    my ($m, %o) = @_;
    my @e;
    my $in = $o{from} ? media_packets($o{from}) : undef;
    my $lavf = ($m->{udta} // '') =~ /Lavf/;
    for my $kind (qw(video audio)) {
        my $t = $m->track($kind eq 'video' ? 'vide' : 'soun');
        my @want = $in ? @{ $in->{$kind} } : ();
        if ($in && $o{video_range}) {
            # the part's video frames; its audio: the packets from the
            # part's first frame's time (the first part: from the start)
            # to the next part's (the last part: to the end)
            my ($a, $b) = @{ $o{video_range} };
            my $v = $in->{video};
            if ($kind eq 'video') {
                @want = @want[$a - 1 .. ($b > @$v ? $#$v : $b - 1)];
            } else {
                my $t0 = $a > 1 ? $v->[$a - 1]{dts} : -1e18;
                my $t1 = $b < @$v ? $v->[$b]{dts} : 1e18;
                @want = grep { $_->{dts} >= $t0 && $_->{dts} < $t1 } @want;
            }
        }
        my $count = $in ? scalar @want : $o{$kind};
        my $n = $t ? $t->{samples} : 0;
        my $slack = $kind eq 'audio' ? $o{audio_slack} // 0 : 0;
        if ($in && $o{prefix}) {
            push @e, "$kind: $n samples, more than the input's $count"
                if $n > $count;
            push @e, "$kind: no samples" if $count && !$n;
            @want = @want[0 .. $n - 1] if $n <= @want;
        } elsif (defined $count) {
            push @e, "$kind: $n samples, expected $count"
                     . ($slack ? " +-$slack" : '')
                if abs($n - $count) > $slack;
        }
        next unless $t;
        my @sizes = @{ $t->{sizes} };
        if (@want && @want == $n && ($kind eq 'video' || !$slack)) {
            my ($i) = grep { $sizes[$_] != $want[$_]{size} } 0 .. $n - 1;
            push @e, "$kind: sample " . ($i + 1) . " is $sizes[$i] bytes, "
                     . "the input's packet $want[$i]{size}" if defined $i;
        }
        if ($kind eq 'video') {
            my @stss = @{ $t->{stss} // [ 1 .. $n ] };
            push @e, "video: first sample is not a sync sample"
                if $n && (!@stss || $stss[0] != 1);
            if (@want && @want == $n) {
                my @keys = grep { $want[$_ - 1]{key} } 1 .. $n;
                push @e, "video: stss @{[_short(@stss)]} is not the input's "
                         . "keyframes @{[_short(@keys)]}"
                    if "@stss" ne "@keys";
                my @d = $m->durations($t);
                my $ts = $t->{timescale} || 1;
                my $odd = $o{odd_steps} // 0;
                for my $i (0 .. $n - 2) {
                    my $step = ($want[$i + 1]{dts} - $want[$i]{dts}) * $ts;
                    next if $step % 1000;   # not representable: skip
                    next if $d[$i] == $step / 1000;
                    # libavformat starts the track at 0: its first sample
                    # also spans the input's first dts
                    next if $lavf && $i == 0;
                    next if $odd-- > 0;
                    push @e, "video: sample " . ($i + 1) . " lasts $d[$i] "
                             . "of $ts, the input's step is "
                             . ($step / 1000);
                    last;
                }
            }
            push @e, "video: time scale $t->{timescale}, not 90000"
                if !$lavf && ($t->{timescale} // 0) != 90000;
        } else {
            push @e, "audio: has an stss (@{[_short(@{ $t->{stss} })]})"
                if $t->{stss} && @{ $t->{stss} } != $n;
            if (!$lavf) {
                my $frame = ($t->{oti} // 0x40) == 0x40 ? 1024
                          : ($t->{rate} // 0) >= 32000 ? 1152 : 576;
                push @e, "audio: time scale $t->{timescale} is not the "
                         . "sample rate " . ($t->{rate} // '?')
                    if ($t->{timescale} // 0) != ($t->{rate} // -1);
                # the first sample may also span the part's lead-in (audio
                # starts with the part, as libavformat's files did), up to
                # 250 ms more; every other sample lasts one frame
                my ($first, @rest) = $m->durations($t);
                my ($joins, %odd) = ($o{joins} // 0);
                @rest = grep { $_ <= $frame || $joins-- <= 0 } @rest;
                $odd{$_}++ for grep { $_ != $frame } @rest;
                $odd{"$first (the first)"}++ if defined $first
                    && ($first < $frame
                        || $first > $frame + 0.25 * ($t->{rate} // 0));
                push @e, "audio: samples not one frame ($frame) long: "
                         . join(', ', map { "$odd{$_} x $_" } sort keys %odd)
                    if %odd;
            }
        }
        if (defined $o{min_duration}) {
            my $s = $m->stts_sum($t) / ($t->{timescale} || 1);
            push @e, sprintf("$kind: lasts %.3f s, less than %s s", $s,
                             $o{min_duration}) if $s < $o{min_duration};
        }
    }
    return @e;
}

sub _max_duration {
    my ($m, $handler) = @_;
    my $t = $m->track($handler) or return 0;
    my $max = 0;
    $_ > $max and $max = $_ for $m->durations($t);
    return $max;
}

sub _short {
    return @_ > 12 ? join(',', @_[0 .. 5], '...', @_[-3 .. -1])
                   : join(',', @_);
}

# Debian's chromium through playwright-core (make deps installs both):
# browser_missing() names what is not installed; play_in_chromium() runs
# t/lib/mp4-play.js with a fresh profile in the prefix and returns its
# answer, { files => [ { url, ok, error, times, width, height, duration,
# seeked } ], fatal => ... }.
my $TOOLS    = $ENV{LIVE_RECORD_TOOLS} || "$REPO/build/tools";
my $CHROMIUM = $ENV{CHROMIUM} || '/usr/bin/chromium';

sub browser_missing {
    return "$CHROMIUM missing: install Debian's chromium package "
           . '(apt-get install chromium; scripts/deps.sh does)'
        unless -x $CHROMIUM;
    return 'node missing: install the nodejs package (make deps)'
        unless grep { -x "$_/node" } split /:/, $ENV{PATH} // '';
    return "playwright-core missing in $TOOLS/node_modules (make deps)"
        unless -d "$TOOLS/node_modules/playwright-core";
    return undef;
}

my $BROWSER_RUNS = 0;

sub play_in_chromium {
    my (%c) = @_;
    my $n = ++$BROWSER_RUNS;
    my $out = $c{out} = prefix() . "/browser.$n.json";
    $c{profile} = prefix() . "/chromium-profile.$n";
    make_path($c{profile});
    @c{qw(chromium tools)} = ($CHROMIUM, $TOOLS);
    my $log = prefix() . "/logs/browser.$n.log";
    my $pid = _spawn([ 'node', "$REPO/t/lib/mp4-play.js", encode_json(\%c) ],
                     $log, $log);
    my $rc = wait_push($pid, $c{timeout} || 120);
    my $res = eval { decode_json(slurp($out)) } || {};
    $res->{fatal} //= "exit $rc: " . slurp($log) if $rc;
    return $res;
}

# index_ok(ENTRY, %expect): one test, passing when the index entry file
# ENTRY (INDEX/APP/STREAM/NAME.json) is strict UTF-8 JSON naming its own
# place (app, stream_id, NAME = index_id or file_id) and its file: a
# file_size and sha256 that are the stored file's own (the file at its
# path; HLS: sha256 of index.m3u8, file_size the listed segments), a
# part >= 1, a session_id.  %expect:
#   part => N, session_id => S, end_reason => R   exact values
#   file => PATH       the stored bytes are this file's (a remote store's
#                      copy), not the one at path
#   size => N, sha256 => HEX   the stored bytes, when no file holds them
#                      (a remote store: what the receiver got)
#   checksum => 0      live_record_checksum off: sha256 must be empty
#   event => HASH      the record_done/concat_done: every field the two
#                      share is the same
#   name => LABEL
# Returns the decoded entry ({} when unreadable).
sub index_ok {
    my ($entry, %o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $name = $o{name} // (File::Spec->splitpath($entry // ''))[2];
    my ($j, @e) = ({});
    my $bytes = defined $entry && -f $entry ? _slurp_raw($entry) : undef;
    if (!defined $bytes) {
        @e = ('no index entry ' . ($entry // 'undef'));
    } elsif (!eval { Encode::decode('UTF-8', my $c = $bytes,
                                    Encode::FB_CROAK); 1 }) {
        @e = ('not strict UTF-8');
    } elsif (ref($j = eval { JSON::PP->new->utf8->decode($bytes) }) ne
             'HASH') {
        ($j, @e) = ({}, 'not a JSON object: ' . ($@ || 'not a hash'));
    } else {
        @e = _index_check($entry, $j, %o);
    }
    Test::More::ok(!@e, "$name: index entry (part " . ($j->{part} // '?')
                        . ", " . ($j->{file_size} // "?") . " bytes, sha256 "
                        . (length($j->{sha256} // '') ? 'checked' : 'empty')
                        . ')')
        or Test::More::diag(join "\n", "$entry:", @e);
    return $j;
}

sub _index_check {
    my ($entry, $j, %o) = @_;
    my @e;
    my ($app, $stream, $file) = $entry =~ m{([^/]+)/([^/]+)/([^/]+)\.json$};
    push @e, "app $j->{app} is not its directory's $app"
        if ($j->{app} // '') ne ($app // '');
    push @e, "stream_id $j->{stream_id} is not its directory's $stream"
        if ($j->{stream_id} // '') ne ($stream // '');
    push @e, "named $file, not after index_id or file_id"
        if ($file // '') ne ($j->{index_id} // $j->{file_id} // '');
    push @e, 'part ' . ($j->{part} // 'missing') . ' is not an integer >= 1'
        unless ($j->{part} // '') =~ /^[1-9]\d*$/;
    for my $k (qw(part session_id end_reason)) {
        push @e, "$k " . ($j->{$k} // 'missing') . ", expected $o{$k}"
            if defined $o{$k} && ($j->{$k} // '') ne $o{$k};
    }
    push @e, 'no session_id' unless length($j->{session_id} // '');
    my ($size, $sum) = @o{qw(size sha256)};
    my $path = $o{file} // $j->{path} // '';
    if (!defined $size && -d $path) {
        # HLS: the playlist's checksum, the listed segments' bytes
        my $pl = _slurp_raw("$path/index.m3u8");
        $sum = sha256_hex($pl);
        $size = 0;
        $size += -s "$path/$_" // 0
            for grep { length && !/^#/ } split /\r?\n/, $pl;
    } elsif (!defined $size && -f $path) {
        $size = -s $path;
        $sum = sha256_hex(_slurp_raw($path));
    } elsif (!defined $size) {
        push @e, "path $path: no such file, and no size or sha256 given";
    }
    push @e, 'file_size ' . ($j->{file_size} // 'missing') . ", the file's "
             . "$size" if defined $size && ($j->{file_size} // '') ne $size;
    $sum = '' if defined $o{checksum} && !$o{checksum};
    push @e, 'sha256 ' . ($j->{sha256} // 'missing') . ", the file's "
             . ($sum eq '' ? 'empty (checksum off)' : $sum)
        if defined $sum && ($j->{sha256} // 'x') ne $sum;
    if (my $ev = $o{event}) {
        for my $k (sort grep { exists $ev->{$_} } keys %$j) {
            my ($a, $b) = map { JSON::PP->new->canonical->allow_nonref
                                ->encode($_) } $j->{$k}, $ev->{$k};
            push @e, "$k: entry $a, event $b" if $a ne $b;
        }
    }
    return @e;
}

sub _slurp_raw {
    my ($file) = @_;
    open my $fh, '<:raw', $file or return undef;
    local $/;
    my $s = <$fh>;
    return $s // '';
}

# Polls CODE every 0.1 s until it returns true or TIMEOUT (s) passes.
sub wait_for {
    my ($code, $timeout) = @_;
    my $end = time + ($timeout // 10);
    while (1) {
        my $r = $code->();
        return $r if $r;
        return undef if time >= $end;
        sleep 0.1;
    }
}

# Recursive list of files under DIR whose path matches RE, sorted.
sub find_files {
    my ($dir, $re) = @_;
    my @found;
    opendir my $dh, $dir or return @found;
    for my $e (sort grep { $_ ne '.' && $_ ne '..' } readdir $dh) {
        my $path = "$dir/$e";
        if (-d $path && !-l $path) {
            push @found, find_files($path, $re);
        } elsif (!$re || $path =~ $re) {
            push @found, $path;
        }
    }
    @found = sort @found;
    return @found;
}

# wait_files(DIR, RE, N, TIMEOUT): waits until at least N files match under
# DIR (relative to the prefix unless absolute), then 0.5 s more so a
# surplus file would show too; returns the list.
sub wait_files {
    my ($dir, $re, $n, $timeout) = @_;
    $dir = prefix() . "/$dir" unless $dir =~ m{^/};
    wait_for(sub { find_files($dir, $re) >= ($n // 1) }, $timeout // 10);
    sleep 0.5;
    return find_files($dir, $re);
}

sub log_lines {
    my ($re) = @_;
    my @lines = split /\n/, slurp(prefix() . '/logs/error.log');
    return $re ? grep { $_ =~ $re } @lines : @lines;
}

# JSON::PP's decode_json, remembering what fails (see LiveRecord::JSON)
sub decode_json {
    my ($bytes) = @_;
    return LiveRecord::JSON::decode($bytes, (caller)[1] . ':' . (caller)[2]);
}

# One test: stops nginx, then no [error]/[alert]/[crit]/[emerg] line and
# no sanitizer report in error.log or nginx's stderr, and no JSON received
# that was not strict UTF-8 (LiveRecord::JSON).  Expected lines are
# named per test: no_alerts(allow => qr/.../ or [qr/.../, ...]) exempts the
# lines matching any of them.  A test that started nginx and dies (or ends)
# before calling no_alerts gets the check from the END block below, with
# no allow list, so the log of a failed run is never left unread.
sub no_alerts {
    my (%o) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    undef $ALERTS_DUE;
    stop_nginx();
    my @allow = ref $o{allow} eq 'ARRAY' ? @{ $o{allow} }
              : defined $o{allow} ? ($o{allow}) : ();
    my @lines = (log_lines(),
                 split /\n/, slurp(prefix() . '/logs/stderr.log'));
    my @bad = grep { /\[(?:error|alert|crit|emerg)\]|AddressSanitizer|
                      LeakSanitizer|runtime\ error:/x } @lines;
    for my $re (@allow) {
        @bad = grep { $_ !~ $re } @bad;
    }
    push @bad, map { "JSON that is not strict UTF-8: $_" }
                   LiveRecord::JSON::bad();
    Test::More::ok(!@bad, 'no errors, alerts or sanitizer reports in '
                          . 'error.log' . (@allow ? ' (but the expected)' : ''))
        or Test::More::diag(join "\n", @bad[0 .. ($#bad > 19 ? 19 : $#bad)]);
}

END {
    my $status = $?;
    for my $pid (keys %BG) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    no_alerts() if $ALERTS_DUE;
    stop_nginx() if defined $PREFIX;
    # small_disk()s, once nginx no longer holds files on them
    system("umount $_ >/dev/null 2>&1") for @MOUNTS;
    if (defined $PREFIX && -d $PREFIX) {
        if ($status == 0 && !$ENV{LIVE_RECORD_KEEP}
            && Test::More->builder->is_passing)
        {
            remove_tree($PREFIX);
        } else {
            Test::More::diag("test files kept in $PREFIX");
        }
    }
    $? = $status;
}

1;
