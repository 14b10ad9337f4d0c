#!/usr/bin/env python3
"""Benchmark driver for ngx_live_record (Python 3 stdlib only).

    bench.py suite RESULTS.json     run every measurement, write raw results
    bench.py report RESULTS.json OUT.md
    bench.py hook --port P --out F  tiny HTTP receiver for notify events

bench/run.sh (`make bench`) installs what is missing, builds, copies the
module, then runs `suite` and `report`.  Everything runs on 127.0.0.1, with
bounded counts and durations; every process started here is registered in
bench/cache/pids and stopped by PID on exit.
"""

import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

TOP = Path(__file__).resolve().parent.parent
BENCH = TOP / 'bench'
CACHE = BENCH / 'cache'
RUNS = CACHE / 'run'
PIDFILE = CACHE / 'pids'
NGINX = '/usr/sbin/nginx'
RTMP_SO = '/usr/lib/nginx/modules/ngx_rtmp_module.so'
MODULE = CACHE / 'module' / 'ngx_live_record_module.so'
PY = sys.executable
PROBE = BENCH / 'rtmp_probe.py'

CFG_NAMES = {
    'a': 'nginx-rtmp live only (baseline)',
    'b': 'nginx-rtmp record all (FLV)',
    'c': 'ours mp4',
    'k': 'ours mp4, live_record_checksum off',
    'o': 'ours mp4, old build (BENCH_OLD)',
    'd': 'ours mp4+hls',
    'e': 'ffmpeg -c copy segment puller per stream (MP4)',
}
# configurations that run this module (one MP4 per stream; d adds HLS)
OURS = 'cdko'
# the module built at the baseline commit (bench/run.sh, BENCH_OLD)
OLD_MODULE = os.environ.get('BENCH_OLD_MODULE') or ''
OLD_COMMIT = os.environ.get('BENCH_OLD_COMMIT') or ''


def env(name, default):
    v = os.environ.get(name)
    if v is None or v == '':
        return default
    return type(default)(v)


S = {
    'rt_seconds': env('BENCH_RT_SECONDS', 10),
    'per_proc': env('BENCH_PER_PROC', 8),
    'probe_min_n': env('BENCH_PROBE_MIN_N', 128),
    'sweep': env('BENCH_SWEEP', '1:1,8:1,32:2,128:2'),
    'max_n': env('BENCH_MAX_N', '256:1'),
    'fast_streams': env('BENCH_FAST_STREAMS', 4),
    'fast_loops': env('BENCH_FAST_LOOPS', 6),
    'fast_reps': env('BENCH_FAST_REPS', 2),
    'big_loops': env('BENCH_BIG_LOOPS', 120),
    'el_streams': env('BENCH_EL_STREAMS', 8),
    'el_steady': env('BENCH_EL_STEADY', 8.0),
    'el_unpinned': env('BENCH_EL_UNPINNED', 1),
    'notify_lanes': env('BENCH_NOTIFY_LANES', 8),
    'notify_stops': env('BENCH_NOTIFY_STOPS', 6),
    'perf': env('BENCH_PERF', 1),
    'dd_mb': env('BENCH_DD_MB', 1024),
    'dd_reps': env('BENCH_DD_REPS', 3),
    'configs': env('BENCH_CONFIGS', 'abcdkoe'),
    'stages': env('BENCH_STAGES', 'dd,long,huge,fast,rt,el,notify,cluster'),
    'cluster_streams': env('BENCH_CLUSTER_STREAMS', 24),
    'cluster_reps': env('BENCH_CLUSTER_REPS', 4),
    'cluster_rows': env('BENCH_CLUSTER_ROWS', 5000),
    'cluster_seconds': env('BENCH_CLUSTER_SECONDS', 3),
    # issue 13: single parts of these many media minutes, pushed faster
    # than real time, worker file I/O counted by strace
    'long_minutes': env('BENCH_LONG_MINUTES', '1,6,30,120'),
    # the N at which old build (o) and checksum off (k) also run
    'cmp_n': env('BENCH_CMP_N', '32,128,256'),
    'looptrace': env('BENCH_LOOPTRACE', 1),
    # issue 13: one part of this many GiB (co64)
    'huge_gib': env('BENCH_HUGE_GIB', 5.0),
    'old': OLD_COMMIT,
}

T_START = time.monotonic()


def log(msg):
    sys.stderr.write('[bench %6.1fs] %s\n' % (time.monotonic() - T_START, msg))
    sys.stderr.flush()


def mono():
    return time.monotonic()


# -- CPU layout --------------------------------------------------------------

ALL_CPUS = sorted(os.sched_getaffinity(0))
if len(ALL_CPUS) >= 2:
    NGINX_CPUS = {ALL_CPUS[-1]}
    GEN_CPUS = set(ALL_CPUS[:-1])
else:
    NGINX_CPUS = None
    GEN_CPUS = None


# -- processes -----------------------------------------------------------------

class Reg:
    """Every process we start, by PID; killed on exit."""

    def __init__(self):
        self.procs = {}
        self.extra = {}
        PIDFILE.parent.mkdir(parents=True, exist_ok=True)
        PIDFILE.write_text('')

    def _note(self, pid, what):
        with open(PIDFILE, 'a') as f:
            f.write('%d %s\n' % (pid, what))

    def spawn(self, cmd, cpus=None, out=None, fifo=False, nice=None):
        def pre():
            for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE,
                      signal.SIGHUP, signal.SIGQUIT):
                signal.signal(s, signal.SIG_DFL)
            os.sched_setaffinity(0, cpus if cpus else ALL_CPUS)
            if nice:
                os.nice(nice)
        fo = open(out, 'ab') if out else subprocess.DEVNULL
        try:
            p = subprocess.Popen([str(c) for c in cmd], stdin=subprocess.DEVNULL,
                                 stdout=fo, stderr=fo, preexec_fn=pre,
                                 close_fds=True)
        finally:
            if out:
                fo.close()
        p.ru = None
        p.t_start = mono()
        p.t_end = None
        self.procs[p.pid] = p
        self._note(p.pid, Path(str(cmd[0])).name)
        return p

    def add_pid(self, pid, what):
        self.extra[pid] = what
        self._note(pid, what)

    def poll(self, p):
        if p.returncode is not None:
            return True
        try:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        except ChildProcessError:
            p.returncode = -999
            p.t_end = mono()
            return True
        if pid == 0:
            return False
        p.returncode = os.waitstatus_to_exitcode(st)
        p.ru = ru
        p.t_end = mono()
        self.procs.pop(p.pid, None)
        return True

    def wait(self, p, timeout=None):
        end = None if timeout is None else mono() + timeout
        while not self.poll(p):
            if end is not None and mono() > end:
                return False
            time.sleep(0.01)
        return True

    def stop(self, p, sig=signal.SIGTERM, grace=5.0):
        if self.poll(p):
            return
        try:
            os.kill(p.pid, sig)
        except ProcessLookupError:
            pass
        if not self.wait(p, grace):
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(p, 5.0)

    def cleanup(self):
        for p in list(self.procs.values()):
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.poll(p)
        for pid, what in list(self.extra.items()):
            if pid_alive(pid, what):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.extra.clear()


REG = None


def pid_alive(pid, what=None):
    try:
        cmd = Path('/proc/%d/cmdline' % pid).read_bytes()
    except OSError:
        return False
    if what and what.encode() not in cmd:
        return False
    try:
        st = Path('/proc/%d/stat' % pid).read_text()
        if st[st.rindex(')') + 2] == 'Z':
            return False
    except (OSError, ValueError, IndexError):
        return False
    return True


# -- /proc metrics -----------------------------------------------------------

def cpu_ns(pid):
    """CPU time of all threads of pid, ns (schedstat: ns resolution)."""
    tot = 0
    try:
        for t in os.listdir('/proc/%d/task' % pid):
            try:
                tot += int(Path('/proc/%d/task/%s/schedstat' % (pid, t))
                           .read_text().split()[0])
            except (OSError, ValueError, IndexError):
                pass
    except OSError:
        return None
    if tot == 0:
        # no schedstat: utime+stime in clock ticks
        try:
            st = Path('/proc/%d/stat' % pid).read_text()
            f = st[st.rindex(')') + 2:].split()
            tot = (int(f[11]) + int(f[12])) * 10**9 // os.sysconf('SC_CLK_TCK')
        except (OSError, ValueError):
            return None
    return tot


def rss_kb(pid):
    try:
        for line in Path('/proc/%d/status' % pid).read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def proc_io(pid):
    d = {}
    try:
        for line in Path('/proc/%d/io' % pid).read_text().splitlines():
            k, v = line.split(':')
            d[k.strip()] = int(v)
    except OSError:
        pass
    return d


def ru_cpu(ru):
    return ru.ru_utime + ru.ru_stime if ru else 0.0


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def tree_bytes(path, suffix=None):
    tot = 0
    for root, _, files in os.walk(path):
        for f in files:
            if suffix and not f.endswith(suffix):
                continue
            try:
                tot += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return tot


def find_files(path, suffix):
    out = []
    for root, _, files in os.walk(path):
        for f in files:
            if f.endswith(suffix):
                out.append(os.path.join(root, f))
    return sorted(out)


# -- ffprobe -----------------------------------------------------------------

def probe_many(paths, count=True):
    """{path: {'video': n, 'audio': n}} or {path: 'error'}; runs a few
    ffprobes at a time on every CPU (after the measurement)."""
    res = {}
    todo = list(paths)
    running = []
    width = max(2, len(ALL_CPUS))
    while todo or running:
        while todo and len(running) < width:
            p = todo.pop(0)
            cmd = ['ffprobe', '-v', 'error']
            if count:
                cmd += ['-count_packets', '-show_entries',
                        'stream=codec_type,nb_read_packets']
            else:
                cmd += ['-show_entries', 'stream=codec_type,nb_frames']
            cmd += ['-of', 'json', p]
            running.append((p, subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL)))
        p, pr = running.pop(0)
        out, err = pr.communicate()
        try:
            d = {}
            for st in json.loads(out)['streams']:
                k = st['codec_type']
                d[k] = d.get(k, 0) + int(st.get('nb_read_packets')
                                        or st.get('nb_frames') or 0)
            res[p] = d if d else 'no streams'
        except (ValueError, KeyError, TypeError):
            res[p] = 'error: ' + err.decode(errors='replace').strip()[-200:]
    return res


def py_counts(path, chunks=False):
    """Packet counts per track kind without ffprobe: FLV tags (codec
    headers excluded, as ffprobe does) or MP4 stsz sample counts, after
    checking that the top-level boxes tile the file exactly (not truncated).
    """
    import struct
    with open(path, 'rb') as f:
        data = f.read()
    if data[:3] == b'FLV':
        i = struct.unpack_from('>I', data, 5)[0] + 4
        c = {}
        while i + 11 <= len(data):
            t = data[i] & 0x1f
            n = int.from_bytes(data[i + 1:i + 4], 'big')
            if i + 11 + n + 4 > len(data):
                return 'truncated tag at %d' % i
            b = data[i + 11:i + 11 + n]
            if t == 9 and n >= 2 and not (b[0] & 0x0f == 7 and b[1] != 1):
                c['video'] = c.get('video', 0) + 1
            elif t == 8 and n >= 2 and not (b[0] >> 4 == 10 and b[1] == 0):
                c['audio'] = c.get('audio', 0) + 1
            i += 11 + n + 4
        return c

    def boxes(a, b):
        while a + 8 <= b:
            size, typ = struct.unpack_from('>I4s', data, a)
            h = 8
            if size == 1:
                size = struct.unpack_from('>Q', data, a + 8)[0]
                h = 16
            elif size == 0:
                size = b - a
            if size < h or a + size > b:
                raise ValueError('box %r overruns' % typ)
            yield typ, a + h, a + size
            a += size
        if a != b:
            raise ValueError('trailing bytes')
    try:
        top = list(boxes(0, len(data)))
        moov = [x for x in top if x[0] == b'moov']
        if not moov:
            return 'no moov'
        c = {}
        for typ, a, b in boxes(moov[0][1], moov[0][2]):
            if typ != b'trak':
                continue
            kind, count = None, None
            stack = [(a, b)]
            while stack:
                a2, b2 = stack.pop()
                for t2, x, y in boxes(a2, b2):
                    if t2 in (b'mdia', b'minf', b'stbl'):
                        stack.append((x, y))
                    elif t2 == b'hdlr':
                        kind = {b'vide': 'video', b'soun': 'audio'}.get(
                            data[x + 8:x + 12])
                    elif t2 == b'stsz':
                        count = struct.unpack_from('>I', data, x + 8)[0]
                    elif t2 in (b'stco', b'co64') and chunks:
                        c.setdefault('_chunks', set()).add(t2.decode())
            if kind and count is not None:
                c[kind] = c.get(kind, 0) + count
        return c
    except (ValueError, struct.error) as e:
        return 'bad mp4: %s' % e


# -- media ---------------------------------------------------------------------

INPUT_SPEC = ('testsrc2 1280x720 30fps + temporal noise, libx264 veryfast '
              'high, 2500k CBR-ish (maxrate 2500k bufsize 5000k), GOP 60 '
              '(2 s, no scenecut), AAC-LC 128k 48 kHz stereo, 60 s')


def prepare_media():
    CACHE.mkdir(parents=True, exist_ok=True)
    meta_f = CACHE / 'input.json'
    inp = CACHE / 'input.flv'
    meta = None
    if meta_f.exists() and inp.exists():
        try:
            meta = json.loads(meta_f.read_text())
            if meta.get('spec') != INPUT_SPEC:
                meta = None
        except ValueError:
            meta = None
    if meta is None:
        log('generating the 60 s input (cached in bench/cache)')
        mp4 = CACHE / 'input.mp4'
        subprocess.run([
            'ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
            '-f', 'lavfi', '-i',
            'testsrc2=size=1280x720:rate=30,noise=alls=8:allf=t',
            '-f', 'lavfi', '-i',
            'sine=frequency=440:beep_factor=4:sample_rate=48000',
            '-t', '60', '-map', '0:v', '-map', '1:a',
            '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high',
            '-pix_fmt', 'yuv420p', '-b:v', '2500k', '-maxrate', '2500k',
            '-bufsize', '5000k', '-x264-params',
            'keyint=60:min-keyint=60:scenecut=0',
            '-c:a', 'aac', '-b:a', '128k', '-ac', '2',
            '-movflags', '+faststart', str(mp4)], check=True)
        subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y',
                        '-i', str(mp4), '-c', 'copy', '-f', 'flv', str(inp)],
                       check=True)
        meta = {'spec': INPUT_SPEC}
        meta.update(describe(inp))
        meta_f.write_text(json.dumps(meta, indent=1))
    clips = {}
    for d in sorted({S['rt_seconds'], 3}):
        cf = CACHE / ('clip-%ds.flv' % d)
        jf = CACHE / ('clip-%ds.json' % d)
        if not cf.exists() or not jf.exists():
            subprocess.run(['ffmpeg', '-nostdin', '-loglevel', 'error', '-y',
                            '-i', str(inp), '-t', str(d), '-c', 'copy',
                            '-f', 'flv', str(cf)], check=True)
            jf.write_text(json.dumps(describe(cf)))
        clips[d] = json.loads(jf.read_text())
        clips[d]['path'] = str(cf)
    meta['path'] = str(inp)
    return meta, clips


def describe(path):
    c = probe_many([str(path)])[str(path)]
    out = subprocess.run(['ffprobe', '-v', 'error', '-show_entries',
                          'format=duration,bit_rate', '-of', 'json',
                          str(path)], capture_output=True, check=True).stdout
    fmt = json.loads(out)['format']
    return {'counts': c, 'bytes': os.path.getsize(path),
            'duration': float(fmt['duration']),
            'bit_rate': int(fmt.get('bit_rate') or 0)}


# -- nginx ---------------------------------------------------------------------

class Nginx:
    # where `live_record_checksum off;` goes ('template', 'rtmp' or
    # 'application'), found by nginx -t in suite(); None: not supported
    checksum_where = None

    def __init__(self, name, cfg, interval='30m', notify_url=None,
                 notify_spool=True, formats=None, checksum_where=None):
        self.name = name
        self.cfg = cfg
        self.prefix = RUNS / name
        if self.prefix.exists():
            shutil.rmtree(self.prefix)
        for d in ('conf', 'logs', 'store', 'work', 'flv', 'out', 'spool'):
            (self.prefix / d).mkdir(parents=True, exist_ok=True)
            os.chmod(self.prefix / d, 0o777)
        self.port = free_port()
        self.interval = interval
        self.notify_url = notify_url
        self.notify_spool = notify_spool
        self.formats = formats
        self.checksum_where = checksum_where or Nginx.checksum_where
        self.module = OLD_MODULE if cfg == 'o' else MODULE
        self.master = None
        self.worker = None
        self.tracer = None
        self.log_off = 0
        self.log_counts = {}
        self.log_tail = ''
        self.write_conf()

    @property
    def errlog(self):
        return self.prefix / 'logs' / 'error.log'

    def write_conf(self):
        P = self.prefix
        cfg = self.cfg
        formats = self.formats or {'c': 'mp4', 'd': 'mp4 hls'}.get(cfg, 'mp4')
        rec = ''
        main = ''
        tpl = ''
        if cfg == 'k':
            ck = 'live_record_checksum off;'
            where = self.checksum_where or 'template'
            if where == 'template':
                tpl = ' ' + ck
            elif where == 'rtmp':
                main = ck
        if cfg == 'b':
            rec = 'record all; record_path %s/flv;' % P
        elif cfg in OURS:
            rec = 'live_record rec;'
            if self.notify_url:
                rec += ' live_record_notify %s;' % self.notify_url
                if self.notify_spool:
                    main += ' live_record_spool %s/spool;' % P
            if cfg == 'k' and self.checksum_where == 'application':
                rec += ' live_record_checksum off;'
        text = """
load_module %(rtmp)s;
load_module %(mod)s;
worker_processes 1; daemon on; master_process on;
error_log %(P)s/logs/error.log info; pid %(P)s/logs/nginx.pid;
thread_pool live_record threads=4;
events { worker_connections 4096; }
rtmp {
    live_record_template rec { live_record_formats %(formats)s; live_record_interval %(interval)s;%(tpl)s }
    live_record_store local %(P)s/store;
    live_record_work_path %(P)s/work;
    live_record_thread_pool live_record;
    %(main)s
    server {
        listen 127.0.0.1:%(port)d;
        application live { live on; play_restart on; %(rec)s }
        application probe { live on; }
    }
}
""" % {'rtmp': RTMP_SO, 'mod': self.module, 'P': P, 'formats': formats,
       'interval': self.interval, 'port': self.port, 'rec': rec,
       'main': main, 'tpl': tpl}
        (P / 'conf' / 'nginx.conf').write_text(text)

    def cmd(self, *extra):
        return [NGINX, '-p', '%s/' % self.prefix,
                '-c', '%s/conf/nginx.conf' % self.prefix,
                '-e', str(self.errlog)] + list(extra)

    def test(self):
        r = subprocess.run(self.cmd('-t', '-q'), capture_output=True,
                           stdin=subprocess.DEVNULL)
        return r.returncode == 0, (r.stderr + r.stdout).decode(
            errors='replace').strip()

    def start(self, cpus='nginx', wrap=None):
        """wrap: a tracer command nginx runs under (strace ... --); it
        runs on the generator CPUs and nginx is pinned by taskset."""
        cpus = NGINX_CPUS if cpus == 'nginx' else cpus
        if wrap:
            cmd = list(wrap)
            if cpus:
                cmd += ['taskset', '-c', ','.join(str(c) for c in
                                                  sorted(cpus))]
            self.tracer = REG.spawn(cmd + self.cmd(), cpus=GEN_CPUS,
                                    out=self.prefix / 'logs' / 'stderr.log')
        else:
            p = REG.spawn(self.cmd(), cpus=cpus,
                          out=self.prefix / 'logs' / 'stderr.log')
            REG.wait(p, 15)
        pidf = self.prefix / 'logs' / 'nginx.pid'
        end = mono() + 10
        while mono() < end:
            if pidf.exists():
                try:
                    self.master = int(pidf.read_text().strip())
                    break
                except ValueError:
                    pass
            time.sleep(0.02)
        if not self.master:
            raise RuntimeError('nginx did not start: %s' % self.tail())
        REG.add_pid(self.master, 'nginx')
        while mono() < end:
            kids = children(self.master)
            if kids:
                self.worker = kids[0]
                REG.add_pid(self.worker, 'nginx')
                break
            time.sleep(0.02)
        # the master listens before it forks: wait for the worker to have
        # run its init (thread pool threads up) before anyone samples it
        while mono() < end:
            try:
                if (len(os.listdir('/proc/%d/task' % self.worker)) >= 2
                        and (cpu_ns(self.worker) or 0) > 0):
                    break
            except (OSError, TypeError):
                pass
            time.sleep(0.02)
        while mono() < end:
            try:
                socket.create_connection(('127.0.0.1', self.port), 1).close()
                time.sleep(0.2)
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError('nginx does not listen: %s' % self.tail())

    def stop(self):
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.master and pid_alive(self.master, 'nginx'):
                try:
                    os.kill(self.master, sig)
                except ProcessLookupError:
                    pass
            end = mono() + 10
            while mono() < end and (
                    (self.master and pid_alive(self.master, 'nginx'))
                    or (self.worker and pid_alive(self.worker, 'nginx'))):
                time.sleep(0.02)
            if self.worker and pid_alive(self.worker, 'nginx'):
                try:
                    os.kill(self.worker, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not (self.master and pid_alive(self.master, 'nginx')):
                break
        REG.extra.pop(self.master, None)
        REG.extra.pop(self.worker, None)

    def tail(self, n=5):
        try:
            return ' | '.join(self.errlog.read_text(errors='replace')
                              .strip().splitlines()[-n:])
        except OSError:
            return '(no log)'

    PATS = {
        'publish': re.compile(r"\] \d+#\d+: \*\d+ publish: name='"),
        'play': re.compile(r"\] \d+#\d+: \*\d+ play: name='"),
        'done': re.compile(r'live record: "[^"]+" part \d+ (\w+) done:'),
        'crash': re.compile(r'exited on signal|\[emerg\]|\[alert\]'),
        'crit': re.compile(r'\[crit\]|\[error\]'),
        'drops': re.compile(r'\[warn\].*drops? frames'),
    }

    def scan_log(self):
        try:
            with open(self.errlog, 'r', errors='replace') as f:
                f.seek(self.log_off)
                data = f.read()
        except OSError:
            return self.log_counts
        i = data.rfind('\n')
        if i < 0:
            return self.log_counts
        chunk = self.log_tail + data[:i + 1]
        self.log_tail = ''
        self.log_off += len(data[:i + 1].encode(errors='replace'))
        for line in chunk.splitlines():
            for k, pat in self.PATS.items():
                m = pat.search(line)
                if m:
                    self.log_counts[k] = self.log_counts.get(k, 0) + 1
                    if k == 'done':
                        kk = 'done_' + m.group(1)
                        self.log_counts[kk] = self.log_counts.get(kk, 0) + 1
                    if k in ('crash', 'crit', 'drops'):
                        self.log_counts.setdefault(k + '_lines', []).append(
                            line[-300:])
        return self.log_counts

    def count(self, k):
        return self.scan_log().get(k, 0)

    def clean_media(self):
        for d in ('store', 'work', 'flv', 'out'):
            shutil.rmtree(self.prefix / d, ignore_errors=True)


def children(pid):
    try:
        kids = Path('/proc/%d/task/%d/children' % (pid, pid)).read_text()
        return [int(x) for x in kids.split()]
    except OSError:
        pass
    out = []
    for d in os.listdir('/proc'):
        if d.isdigit():
            try:
                st = Path('/proc/%s/stat' % d).read_text()
                if int(st[st.rindex(')') + 2:].split()[1]) == pid:
                    out.append(int(d))
            except (OSError, ValueError):
                pass
    return out


# -- load generators -----------------------------------------------------------

def publishers(port, names, src, realtime=True, loops=0, per_proc=16,
               app='live', logf=None, cpus='gen'):
    """One ffmpeg per group of up to per_proc streams, each stream an output
    of the same input (-map 0 -c copy -f flv URL ...)."""
    cpus = GEN_CPUS if cpus == 'gen' else cpus
    procs = []
    groups = [names[i:i + per_proc] for i in range(0, len(names), per_proc)]
    for g in groups:
        cmd = ['ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error']
        if realtime:
            cmd += ['-re']
        if loops:
            cmd += ['-stream_loop', str(loops)]
        cmd += ['-i', src]
        for n in g:
            cmd += ['-map', '0', '-c', 'copy', '-f', 'flv',
                    'rtmp://127.0.0.1:%d/%s/%s' % (port, app, n)]
        p = REG.spawn(cmd, cpus=cpus, out=logf)
        p.names = g
        procs.append(p)
    return procs


def puller_cmd(port, name, outdir):
    return ['ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error',
            '-rtmp_live', 'live', '-i',
            'rtmp://127.0.0.1:%d/live/%s' % (port, name),
            '-map', '0', '-c', 'copy', '-f', 'segment', '-segment_time', '1800',
            '-segment_format', 'mp4', '-reset_timestamps', '1',
            '%s/%s-%%03d.mp4' % (outdir, name)]


# -- one recording run -----------------------------------------------------------

def expected_counts(base, times=1):
    return {k: v * times for k, v in base.items()}


def outputs_of(ng, cfg, names):
    """{name: [files]} of the primary (MP4 or FLV) output per stream."""
    res = {}
    for n in names:
        if cfg == 'b':
            f = ng.prefix / 'flv' / (n + '.flv')
            res[n] = [str(f)] if f.exists() else []
        elif cfg in OURS:
            res[n] = find_files(ng.prefix / 'store' / 'live' / n, '.mp4')
        elif cfg == 'e':
            res[n] = sorted(str(x) for x in (ng.prefix / 'out').glob(
                n + '-*.mp4'))
        else:
            res[n] = []
    return res


def validate(ng, cfg, names, expect, count=True, ffprobe_max=32):
    """Every output's packet counts must equal the input's: checked for all
    files by py_counts() and by ffprobe -count_packets for all of them up
    to ffprobe_max files, else for an even sample of 16 (ffprobe's start-up
    alone would take seconds per hundred files)."""
    if cfg == 'a':
        return {'checked': 0, 'ok': 0, 'bad': []}
    outs = outputs_of(ng, cfg, names)
    paths = [p for v in outs.values() for p in v]
    sample = paths
    if len(paths) > ffprobe_max:
        step = len(paths) / 16.0
        sample = [paths[int(i * step)] for i in range(16)]
    pr = probe_many(sample, count=count) if sample else {}
    ok = 0
    bad = []
    for n in names:
        tot = {}
        ftot = {}
        err = None
        if not outs[n]:
            err = 'missing'
        for p in outs[n]:
            r = py_counts(p)
            if not isinstance(r, dict):
                err = r
                break
            for k, v in r.items():
                tot[k] = tot.get(k, 0) + v
            if p in pr:
                r = pr[p]
                if not isinstance(r, dict):
                    err = 'ffprobe: %s' % r
                    break
                for k, v in r.items():
                    ftot[k] = ftot.get(k, 0) + v
        if err is None and tot != expect:
            err = 'counts %s != %s (%d files)' % (tot, expect, len(outs[n]))
        if err is None and ftot and ftot != expect:
            err = 'ffprobe counts %s != %s' % (ftot, expect)
        if err:
            bad.append('%s: %s' % (n, err))
        else:
            ok += 1
    return {'checked': len(names), 'ok': ok, 'bad': bad[:5],
            'nbad': len(bad), 'ffprobed': len(sample)}


def output_bytes(ng):
    return {'store': tree_bytes(ng.prefix / 'store'),
            'flv': tree_bytes(ng.prefix / 'flv'),
            'out': tree_bytes(ng.prefix / 'out'),
            'work_left': tree_bytes(ng.prefix / 'work')}


def run_one(cfg, n, rep, media, clip, realtime=True, loops=0, tag='rt',
            perf=False, per_proc=16, timeout_extra=60):
    """Starts nginx, (pullers), publishers; measures; validates; stops."""
    name = '%s-%s-n%d-r%d' % (tag, cfg, n, rep)
    ng = Nginx(name, cfg)
    res = {'cfg': cfg, 'n': n, 'rep': rep, 'mode': tag, 'name': name}
    tm = {'begin': mono()}
    res['timing'] = tm
    ng.start()
    tm['started'] = mono()
    names = ['s%d' % i for i in range(n)]
    src = clip['path'] if realtime else media['path']
    base = clip['counts'] if realtime else media['counts']
    times = 1 if realtime else loops + 1
    dur = (clip['duration'] if realtime else media['duration']) * times
    in_bytes = (clip['bytes'] if realtime else media['bytes']) * times
    pulls = []
    perfp = None
    probe = None
    ltrace = None
    probe_out = ng.prefix / 'logs' / 'probe.txt'
    marks = {}
    try:
        if realtime and n >= S['probe_min_n']:
            ready = ng.prefix / 'logs' / 'probe.ready'
            probe = REG.spawn([PY, PROBE, '--port', ng.port, '--out',
                               probe_out, '--ready', ready, '--fifo',
                               '--seconds', 900], cpus=GEN_CPUS,
                              out=ng.prefix / 'logs' / 'probe.log')
            t = mono()
            while not ready.exists() and mono() - t < 15 \
                    and not REG.poll(probe):
                time.sleep(0.02)
        if cfg == 'e':
            t = mono()
            for nm in names:
                pulls.append(REG.spawn(puller_cmd(ng.port, nm,
                                                  ng.prefix / 'out'),
                                       out=ng.prefix / 'logs' / 'pull.log'))
            while ng.count('play') < n + (1 if probe else 0) \
                    and mono() - t < 60:
                time.sleep(0.05)
            res['pullers_ready_s'] = mono() - t
            time.sleep(0.5)
        if perf:
            perfp = REG.spawn(['perf', 'record', '-q', '-F', '999', '-g',
                               '-p', ng.worker, '-o',
                               CACHE / ('perf-%s.data' % cfg)],
                              cpus=GEN_CPUS,
                              out=ng.prefix / 'logs' / 'perf.log')
            time.sleep(0.5)
        w = ng.worker
        if probe:
            ltrace = looptrace_start(ng)
        c0, io0, rss0, t0 = cpu_ns(w) or cpu_ns(w), proc_io(w), rss_kb(w), \
            mono()
        marks['t0'] = time.monotonic_ns()
        pubs = publishers(ng.port, names, src, realtime=realtime, loops=loops,
                          per_proc=per_proc,
                          logf=ng.prefix / 'logs' / 'pub.log')
        rss_samples = []
        seen = {}
        connect_s = None
        next_rss = t0
        timed_out = False
        deadline = t0 + dur * (1.5 if realtime else 20) + n * 0.3 \
            + timeout_extra
        t_last_exit = None
        while True:
            now = mono()
            for p in pubs:
                REG.poll(p)
            exited = [p for p in pubs if p.returncode is not None]
            if connect_s is None and ng.count('publish') >= n + (
                    1 if probe else 0):
                connect_s = now - t0
                # parts open on each stream's first keyframe: steady
                # recording from a second after the last stream connected
                marks['rec'] = time.monotonic_ns() + 10**9
            if exited and 'close' not in marks:
                marks['close'] = time.monotonic_ns()
            if now >= next_rss:
                r = rss_kb(w)
                if r is not None:
                    rss_samples.append((now - t0, r, connect_s is not None
                                        and not exited))
                next_rss = now + 0.25
            if exited and cfg in OURS:
                for nm, files in outputs_of(ng, cfg, names).items():
                    if files and nm not in seen:
                        seen[nm] = now
            if len(exited) == len(pubs):
                if t_last_exit is None:
                    t_last_exit = now
                if cfg in OURS:
                    fin = ng.count('done') >= n * (2 if cfg == 'd' else 1)
                elif cfg == 'e':
                    fin = all(REG.poll(p) for p in pulls)
                else:
                    fin = now - t_last_exit >= 0.3
                if fin:
                    break
            if now > deadline:
                timed_out = True
                break
            time.sleep(0.01 if exited else 0.05)
        marks['end'] = time.monotonic_ns()
        time.sleep(0.1)
        c1, io1, t1 = cpu_ns(w) or cpu_ns(w), proc_io(w), mono()
        if probe:
            REG.stop(probe, signal.SIGTERM, 10)
            phs = {'opening': (marks.get('t0'), marks.get('rec')),
                   'recording': (marks.get('rec'), marks.get('close')),
                   'closing': (marks.get('close'), marks.get('end'))}
            res['probe'] = probe_phases(probe_out, phs)
            if ltrace:
                iters, note = looptrace_stop(ltrace)
                ltrace = None
                res['loop'] = loop_phases(iters, phs)
                res['loop_note'] = note
        res['cpu_raw'] = [c0, c1]
        if perfp:
            REG.stop(perfp, signal.SIGINT, 20)
        for p in pubs + pulls:
            if p.returncode is None:
                REG.stop(p, signal.SIGKILL)
        crashed = not pid_alive(w, 'nginx')
        res.update({
            'timed_out': timed_out, 'crashed': crashed,
            'dur_media_s': dur, 'stream_min': n * dur / 60.0,
            'in_mb': n * in_bytes / 1e6,
            'nginx_cpu_s': (c1 - c0) / 1e9 if c1 and c0 else None,
            'wall_s': t1 - t0,
            'connect_s': connect_s,
            'pub_wall_s': max((p.t_end or t1) - p.t_start for p in pubs),
            'pub_cpu_s': sum(ru_cpu(p.ru) for p in pubs),
            'pub_procs': len(pubs),
            'rss0_kb': rss0,
            'rss_active_kb': (statistics.median(
                [r for _, r, a in rss_samples if a])
                if any(a for _, _, a in rss_samples) else None),
            'rss_peak_kb': max([r for _, r, _ in rss_samples] or [0]),
            'wchar': io1.get('wchar', 0) - io0.get('wchar', 0),
            'rchar': io1.get('rchar', 0) - io0.get('rchar', 0),
            'write_bytes': io1.get('write_bytes', 0)
            - io0.get('write_bytes', 0),
        })
        if pulls:
            res['puller_cpu_s'] = sum(ru_cpu(p.ru) for p in pulls)
            res['puller_maxrss_kb'] = sorted(
                p.ru.ru_maxrss for p in pulls if p.ru) or None
            res['puller_rc'] = sorted({p.returncode for p in pulls})
        if cfg in OURS:
            lat = []
            for p in pubs:
                for nm in p.names:
                    if nm in seen and p.t_end:
                        lat.append(max(0.0, seen[nm] - p.t_end))
            res['close_to_store_s'] = sorted(lat)
        tm['measured'] = mono()
        res['log'] = {k: v for k, v in ng.scan_log().items()}
        res['bytes'] = output_bytes(ng)
        res['valid'] = validate(ng, cfg, names, expected_counts(base, times))
        tm['validated'] = mono()
        if realtime:
            slack = max(1.0, 0.05 * dur)
            res['held'] = (not timed_out and not crashed
                           and res['valid']['ok'] == res['valid']['checked']
                           and res['pub_wall_s'] <= (connect_s or 0) + dur
                           + slack)
    finally:
        for p in pulls + ([probe] if probe else []) + (
                [ltrace] if ltrace else []):
            if p.returncode is None:
                REG.stop(p, signal.SIGKILL)
        ng.stop()
        ng.clean_media()
        tm['end'] = mono()
        res['timing'] = {k: round(v - tm['begin'], 2) for k, v in tm.items()}
    return res


def summarize_run(r):
    v = r.get('valid', {})
    s = '%s N=%d rep %d: nginx %.3f CPU-s' % (r['cfg'], r['n'], r['rep'],
                                             r.get('nginx_cpu_s') or -1)
    if 'puller_cpu_s' in r:
        s += ', pullers %.2f CPU-s' % r['puller_cpu_s']
    s += ', pub %.2f CPU-s, valid %d/%d' % (r.get('pub_cpu_s', 0),
                                           v.get('ok', 0), v.get('checked', 0))
    if r.get('held') is not None:
        s += ', held=%s' % r['held']
    for ph, st in (r.get('probe') or {}).items():
        if st.get('n'):
            s += ', probe %s max %.1f ms' % (ph, st['max_ms'])
    if r.get('timed_out'):
        s += ' TIMEOUT'
    if r.get('crashed'):
        s += ' NGINX CRASHED'
    if v.get('bad'):
        s += ' bad: %s' % v['bad'][:2]
    return s


# -- event-loop iterations, measured directly ------------------------------------

def looptrace_start(ng):
    """perf records the worker's main thread entering and leaving
    epoll_wait (kernel tracepoints, CLOCK_MONOTONIC timestamps, no ptrace
    stop); the time between leaving epoll_wait and entering it again is one
    event-loop iteration (handlers, timers, posted events)."""
    if not S['looptrace'] or not shutil.which('perf'):
        return None
    data = ng.prefix / 'logs' / 'loop.data'
    flt = 'common_pid == %d' % ng.worker
    cmd = ['perf', 'record', '-q', '-a', '-k', 'mono', '-m', '4M',
           '-o', data]
    for ev in ('enter', 'exit'):
        for sc in ('epoll_wait', 'epoll_pwait'):
            cmd += ['-e', 'syscalls:sys_%s_%s' % (ev, sc), '--filter', flt]
    # the worker's main thread leaving and getting the CPU: an iteration's
    # time spent runnable but preempted (by its own pool threads or anything
    # else on a shared machine) is not the loop's work
    cmd += ['-e', 'sched:sched_switch', '--filter',
            'prev_pid == %d || next_pid == %d' % (ng.worker, ng.worker)]
    p = REG.spawn(cmd, cpus=GEN_CPUS, out=ng.prefix / 'logs' / 'loop.log')
    p.data = data
    p.worker = ng.worker
    p.logf = ng.prefix / 'logs' / 'loop.log'
    time.sleep(0.5)
    if REG.poll(p):
        return None
    return p


def looptrace_stop(p):
    """[(start_ns, duration_ns)] of every loop iteration, and a note."""
    if p is None:
        return None, 'not run'
    REG.stop(p, signal.SIGINT, 30)
    r = subprocess.run(['perf', 'script', '-i', str(p.data), '-F',
                        'time,event,trace', '--ns'], capture_output=True,
                       text=True)
    iters = []
    last_exit = None
    bad = 0
    preempted = 0       # ns runnable but off the CPU in this iteration
    off_at = None       # when the worker was switched out while runnable
    worker = getattr(p, 'worker', None)
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) < 2:
            continue
        sec, _, frac = f[0].rstrip(':').partition('.')
        try:
            t = int(sec) * 10**9 + int((frac + '000000000')[:9])
        except ValueError:
            continue
        if 'sched_switch' in f[1]:
            kv = dict(x.split('=', 1) for x in f[2:] if '=' in x)
            if kv.get('prev_pid') == str(worker):
                # R / R+: preempted; S / D: it waits (a disk wait counts)
                if kv.get('prev_state', '').startswith('R'):
                    off_at = t
            elif kv.get('next_pid') == str(worker) and off_at is not None:
                if last_exit is not None:
                    preempted += t - max(off_at, last_exit)
                off_at = None
            continue
        if 'sys_exit_epoll' in f[1]:
            if last_exit is not None:
                bad += 1
            last_exit = t
            preempted = 0
        elif 'sys_enter_epoll' in f[1]:
            if last_exit is not None:
                iters.append((last_exit, t - last_exit,
                              max(0, t - last_exit - preempted)))
            last_exit = None
    lost = ''
    try:
        txt = Path(p.logf).read_text(errors='replace')
        m = re.search(r'(\d+) (?:samples|events) lost|lost (\d+)', txt)
        if m:
            lost = m.group(0)
    except OSError:
        pass
    try:
        os.unlink(p.data)
    except OSError:
        pass
    note = '%d iterations%s%s' % (len(iters),
                                  ', %d unpaired exits' % bad if bad else '',
                                  ', perf: ' + lost if lost else '')
    return iters, note


def loop_phases(iters, phases):
    out = {}
    if iters is None:
        return out
    for ph, (a, b) in phases.items():
        if a is None or b is None:
            continue
        d = sorted(x[1] for x in iters if a <= x[0] < b)
        if not d:
            out[ph] = {'n': 0, 'secs': (b - a) / 1e9}
            continue
        # the same iterations less the time they were preempted
        own = sorted(x[2] for x in iters if a <= x[0] < b and len(x) > 2)
        out[ph] = {'n': len(d), 'secs': (b - a) / 1e9,
                   'p50_ms': pct(d, 50) / 1e6, 'p99_ms': pct(d, 99) / 1e6,
                   'p999_ms': pct(d, 99.9) / 1e6, 'max_ms': d[-1] / 1e6,
                   'over5ms': sum(1 for x in d if x > 5 * 10**6),
                   'over1ms': sum(1 for x in d if x > 10**6),
                   'busy': sum(d) / (b - a)}
        if own:
            out[ph].update({'own_max_ms': own[-1] / 1e6,
                            'own_p999_ms': pct(own, 99.9) / 1e6,
                            'own_over5ms': sum(1 for x in own
                                               if x > 5 * 10**6)})
    return out


# -- long parts (issue 13): file I/O per output byte -----------------------------

STRACE_CALLS = ('read,pread64,readv,preadv,preadv2,write,pwrite64,writev,'
                'pwritev,pwritev2,copy_file_range,sendfile,splice')
STRACE_RE = re.compile(r'^(\w+)\((\d+)<([^>]*)>.*\)\s+=\s+(-?\d+)')
READS = {'read', 'pread64', 'readv', 'preadv', 'preadv2'}


def strace_sums(d, prefix, tids):
    """Sums the bytes that strace -ff -y saw the worker's threads transfer,
    by direction and by what the fd was: 'mp4' (a file ending in .mp4,
    in work or store), 'rec' (other files under the run's prefix:
    sidecars, index, spool), 'log' (error log), 'other' (any other regular
    file), 'nonfile' (sockets, pipes, eventfds)."""
    sums = {}
    calls = {}
    pre = str(prefix).rstrip('/') + '/'
    for tid in tids:
        f = Path(d) / ('t.%d' % tid)
        if not f.exists():
            continue
        with open(f, errors='replace') as fh:
            for line in fh:
                m = STRACE_RE.match(line)
                if not m:
                    continue
                call, _, path, ret = m.groups()
                ret = int(ret)
                if ret <= 0:
                    continue
                kind = 'r' if call in READS else 'w'
                if call in ('copy_file_range', 'sendfile', 'splice'):
                    kind = 'w'
                if not path.startswith('/'):
                    cls = 'nonfile'
                elif path.startswith(pre + 'logs/'):
                    cls = 'log'
                elif not path.startswith(pre):
                    cls = 'other'
                elif path.split(' (deleted)')[0].endswith('.mp4'):
                    cls = 'mp4'
                else:
                    cls = 'rec'
                k = kind + '_' + cls
                sums[k] = sums.get(k, 0) + ret
                calls[k] = calls.get(k, 0) + 1
    return sums, calls


def mp4_counts_stream(path):
    """py_counts() for big files: reads only box headers and the moov."""
    import struct
    size = os.path.getsize(path)
    try:
        with open(path, 'rb') as f:
            a = 0
            moov = None
            tops = []
            free = 0
            while a + 8 <= size:
                f.seek(a)
                h = f.read(16)
                sz, typ = struct.unpack_from('>I4s', h, 0)
                hl = 8
                if sz == 1:
                    sz = struct.unpack_from('>Q', h, 8)[0]
                    hl = 16
                elif sz == 0:
                    sz = size - a
                if sz < hl or a + sz > size:
                    return 'bad mp4: box %r overruns' % typ
                tops.append(typ.decode(errors='replace'))
                if typ in (b'free', b'skip'):
                    free += sz
                if typ == b'moov':
                    f.seek(a)
                    moov = f.read(sz)
                a += sz
            if a != size:
                return 'bad mp4: trailing bytes'
            if moov is None:
                return 'no moov'
    except (OSError, struct.error) as e:
        return 'bad mp4: %s' % e
    tmp = CACHE / 'moov.tmp'
    tmp.write_bytes(moov)
    try:
        r = py_counts(str(tmp), chunks=True)
    finally:
        tmp.unlink()
    if isinstance(r, dict):
        r = dict(r)
        r['_boxes'] = ' '.join(tops)
        r['_free'] = free
        r['_chunks'] = ' '.join(sorted(r.get('_chunks', ())))
    return r


def run_long(cfg, minutes, media, check=None, tag=''):
    """One part of `minutes` media minutes (the input looped), pushed by one
    publisher as fast as nginx takes it, into a 120m interval; strace counts
    the worker's file I/O; the error log is scanned for [error]/[crit]."""
    name = 'long-%s-%dm%s' % (cfg, minutes, tag)
    # the default interval where the part fits in it, else the longest
    interval = '30m' if minutes <= 30 else '120m'
    ng = Nginx(name, cfg, interval=interval)
    res = {'cfg': cfg, 'minutes': minutes, 'name': name,
           'interval': interval}
    loops = max(1, int(round(minutes * 60.0 / media['duration'])))
    res['in_mb'] = media['bytes'] * loops / 1e6
    st_dir = ng.prefix / 'logs' / 'strace'
    st_dir.mkdir(parents=True, exist_ok=True)
    # nginx starts under strace, so its seccomp filter stops only the
    # traced calls (attaching with -p would stop every recv and epoll_wait)
    ng.start(wrap=['strace', '-f', '-ff', '-qq', '-y', '-s', '0',
                   '--seccomp-bpf', '-e', 'signal=none',
                   '-e', 'trace=' + STRACE_CALLS, '-o', st_dir / 't', '--'])
    w = ng.worker
    tr = ng.tracer
    pub = []
    try:
        time.sleep(0.5)
        ng.scan_log()
        tids = [int(t) for t in os.listdir('/proc/%d/task' % w)]
        s0, _ = strace_sums(st_dir, ng.prefix, tids)
        io0, c0, rss0 = proc_io(w), cpu_ns(w), rss_kb(w)
        t0 = mono()
        pub = publishers(ng.port, ['big'], media['path'], realtime=False,
                         loops=loops - 1, logf=ng.prefix / 'logs' / 'pub.log')
        bpm = media['bytes'] / (media['duration'] / 60.0)
        samples = []
        while not REG.poll(pub[0]):
            r = rss_kb(w)
            sz = tree_bytes(ng.prefix / 'work' / 'live' / 'big', '.mp4')
            if r:
                samples.append((sz / bpm, r))
            time.sleep(0.05)
            if mono() - t0 > 900:
                raise RuntimeError('publisher does not finish')
        t1 = mono()
        res['ingest_s'] = t1 - t0
        res['pub_rc'] = pub[0].returncode
        pat = re.compile(r'"live/big" part \d+ mp4 done: .* size=(\d+)')
        done = []
        while mono() - t1 < 600:
            try:
                done = pat.findall(ng.errlog.read_text(errors='replace'))
            except OSError:
                done = []
            if done:
                break
            if not pid_alive(w, 'nginx'):
                break
            time.sleep(0.02)
        t2 = mono()
        res['finalize_s'] = t2 - t1 if done else None
        res['parts'] = len(done)
        time.sleep(0.5)
        io1, c1 = proc_io(w), cpu_ns(w)
        res['cpu_s_under_strace'] = ((c1 - c0) / 1e9
                                     if c0 is not None and c1 else None)
        res['proc_io'] = {k: io1.get(k, 0) - io0.get(k, 0)
                          for k in ('rchar', 'wchar', 'read_bytes',
                                    'write_bytes', 'syscr', 'syscw')}
        res['rss_before_kb'] = rss0
        res['rss_vs_media_min'] = samples[::max(1, len(samples) // 400)]
        res['rss_after_kb'] = rss_kb(w)
        tids = sorted(set(tids) | {int(t) for t in
                                   os.listdir('/proc/%d/task' % w)})
        res['crashed'] = not pid_alive(w, 'nginx')
        ng.stop()
        REG.wait(tr, 30)
        res['log'] = {k: v for k, v in ng.scan_log().items()}
        files = find_files(ng.prefix / 'store' / 'live' / 'big', '.mp4')
        res['out_bytes'] = sum(os.path.getsize(f) for f in files)
        res['alloc_bytes'] = sum(os.stat(f).st_blocks * 512 for f in files)
        res['files'] = len(files)
        sums, calls = strace_sums(st_dir, ng.prefix, tids)
        for k, v in s0.items():
            sums[k] = sums.get(k, 0) - v
        res['io'] = sums
        res['io_calls'] = calls
        cnt = {}
        for f in files:
            r = mp4_counts_stream(f)
            if not isinstance(r, dict):
                cnt = r
                break
            res.setdefault('boxes', []).append(r.pop('_boxes', ''))
            res.setdefault('chunk_boxes', []).append(r.pop('_chunks', ''))
            res['free_bytes'] = res.get('free_bytes', 0) + r.pop('_free', 0)
            for k, v in r.items():
                cnt[k] = cnt.get(k, 0) + v
        res['counts'] = cnt
        res['valid'] = cnt == expected_counts(media['counts'], loops)
        if minutes <= 6 and files:
            pr = probe_many(files[:1])
            res['ffprobe'] = pr[files[0]]
        if check and files:
            check(files, res)
    finally:
        if tr is not None and tr.returncode is None:
            REG.stop(tr, signal.SIGTERM, 30)
        for p in pub:
            if p.returncode is None:
                REG.stop(p, signal.SIGKILL)
        ng.stop()
        ng.clean_media()
        shutil.rmtree(st_dir, ignore_errors=True)
    return res


HUGE_SPEC = ('testsrc2 1280x720 30fps + temporal noise, libx264 ultrafast, '
             '40 Mbit/s, GOP 60, AAC-LC 128k 48 kHz stereo, 60 s')


def prepare_huge_media():
    """A 60 s clip at 40 Mbit/s (~300 MB): looped, a part above 4 GiB in
    a few minutes of pushing."""
    meta_f = CACHE / 'huge.json'
    inp = CACHE / 'huge.flv'
    if meta_f.exists() and inp.exists():
        meta = json.loads(meta_f.read_text())
        if meta.get('spec') == HUGE_SPEC:
            meta['path'] = str(inp)
            return meta
    log('generating the 40 Mbit/s input (cached in bench/cache)')
    subprocess.run([
        'ffmpeg', '-nostdin', '-hide_banner', '-loglevel', 'error', '-y',
        '-f', 'lavfi', '-i',
        'testsrc2=size=1280x720:rate=30,noise=alls=40:allf=t',
        '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
        '-t', '60', '-map', '0:v', '-map', '1:a',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p',
        '-b:v', '40M', '-maxrate', '40M', '-bufsize', '40M',
        '-x264-params', 'keyint=60:min-keyint=60:scenecut=0',
        '-c:a', 'aac', '-b:a', '128k', '-ac', '2', '-f', 'flv', str(inp)],
        check=True)
    meta = {'spec': HUGE_SPEC}
    meta.update(describe(inp))
    meta_f.write_text(json.dumps(meta, indent=1))
    meta['path'] = str(inp)
    return meta


def huge_check(files, res):
    """Above 4 GiB the chunk offsets are co64; the part plays to its end
    (the last two seconds decode) and seeks through nginx's mp4 module's
    own parser is not needed here: ffmpeg reads the co64 offsets."""
    f = files[0]
    res['huge_bytes'] = os.path.getsize(f)
    r = subprocess.run(['ffmpeg', '-nostdin', '-v', 'error', '-sseof', '-2',
                        '-i', f, '-map', '0', '-f', 'null', '-'],
                       capture_output=True, text=True)
    res['huge_tail_decodes'] = r.returncode == 0 and not r.stderr.strip()
    res['huge_tail_err'] = r.stderr.strip()[-300:]


def run_huge():
    """One part above 4 GiB (issue 13: co64), pushed faster than real time
    through the module into a 120m interval."""
    media = prepare_huge_media()
    loops = int(math.ceil(S['huge_gib'] * 2**30 / media['bytes']))
    minutes = loops * media['duration'] / 60.0
    r = run_long('c', int(math.ceil(minutes)), media, check=huge_check,
                 tag='-huge')
    r['huge'] = True
    r['spec'] = HUGE_SPEC
    return r


def checksum_support():
    """Where `live_record_checksum off;` is accepted, if anywhere."""
    msg = ''
    for where in ('template', 'rtmp', 'application'):
        ng = Nginx('probe-checksum-%s' % where, 'k', checksum_where=where)
        ok, msg = ng.test()
        shutil.rmtree(ng.prefix, ignore_errors=True)
        if ok:
            return {'ok': True, 'where': where}
    return {'ok': False, 'msg': msg}


# -- event loop ------------------------------------------------------------------

def run_eventloop(cfg, media, pinned=True):
    """A probe stream's delivery delay through the worker while 8 real-time
    streams record and one ~2 GB part (100 media minutes, under the longest
    live_record_interval, 120m) is ingested at full speed and then
    finalized."""
    name = 'el-%s-%s' % (cfg, 'pinned' if pinned else 'unpinned')
    ng = Nginx(name, cfg, interval='120m')
    res = {'cfg': cfg, 'pinned': pinned, 'name': name}
    ng.start(cpus='nginx' if pinned else None)
    w = ng.worker
    probe_out = ng.prefix / 'logs' / 'probe.txt'
    ready = ng.prefix / 'logs' / 'probe.ready'
    bg = []
    big = []
    probe = None
    ltrace = None
    iters = None
    phases = {}
    try:
        probe = REG.spawn([PY, PROBE, '--port', ng.port, '--out', probe_out,
                           '--ready', ready, '--fifo', '--seconds', 900],
                          cpus=GEN_CPUS, out=ng.prefix / 'logs' / 'probe.log')
        t = mono()
        while not ready.exists() and mono() - t < 15:
            if REG.poll(probe):
                raise RuntimeError('probe failed: %s' % (
                    ng.prefix / 'logs' / 'probe.log').read_text()[-500:])
            time.sleep(0.02)
        ltrace = looptrace_start(ng)
        k = S['el_streams']
        # other live streams, not recorded: the long part is the worker's
        # only recording, so its RSS is the part's own
        bg = publishers(ng.port, ['bg%d' % i for i in range(k)],
                        media['path'], realtime=True, loops=-1, app='probe',
                        logf=ng.prefix / 'logs' / 'pub.log')
        t = mono()
        while ng.count('publish') < k + 1 and mono() - t < 30:
            time.sleep(0.05)
        time.sleep(2.0)
        a = time.monotonic_ns()
        time.sleep(S['el_steady'])
        phases['steady'] = (a, time.monotonic_ns())
        rss_base = rss_kb(w)
        loops = S['big_loops'] - 1
        a = time.monotonic_ns()
        c0 = cpu_ns(w)
        big = publishers(ng.port, ['big'], media['path'], realtime=False,
                         loops=loops, logf=ng.prefix / 'logs' / 'big.log')
        samples = []
        bpm = media['bytes'] / (media['duration'] / 60.0)
        while not REG.poll(big[0]):
            # media minutes from the fragmented MP4's size (an hls
            # directory beside it is not counted)
            sz = tree_bytes(ng.prefix / 'work' / 'live' / 'big', '.mp4')
            r = rss_kb(w)
            if cfg in OURS and r:
                samples.append((sz / bpm, r))
            time.sleep(0.02)
            if mono() - big[0].t_start > 600:
                raise RuntimeError('big publisher does not finish')
        b = time.monotonic_ns()
        phases['ingest'] = (a, b)
        res['ingest_s'] = (b - a) / 1e9
        res['ingest_mb'] = media['bytes'] * (loops + 1) / 1e6
        res['ingest_cpu_s'] = (cpu_ns(w) - c0) / 1e9
        if cfg in OURS:
            t = mono()
            nfmt = 2 if cfg == 'd' else 1
            pat = re.compile(r'"live/big" part 1 \w+ done:')
            while mono() - t < 300:
                try:
                    txt = ng.errlog.read_text(errors='replace')
                except OSError:
                    txt = ''
                if len(pat.findall(txt)) >= nfmt:
                    break
                time.sleep(0.005)
            e = time.monotonic_ns()
            phases['finalize'] = (b, e)
            res['finalize_s'] = (e - b) / 1e9
            m = re.search(r'"live/big" part 1 mp4 done: .* duration=([\d.]+)s '
                          r'size=(\d+)', ng.errlog.read_text(errors='replace'))
            if m:
                res['big_duration_s'] = float(m.group(1))
                res['big_bytes'] = int(m.group(2))
            res['rss_vs_media_min'] = samples
            res['rss_after_kb'] = rss_kb(w)
            res['rss_before_kb'] = rss_base
            b = e
        a = b
        time.sleep(4.0)
        phases['after'] = (a, time.monotonic_ns())
        for p in bg:
            REG.stop(p, signal.SIGTERM, 10)
        REG.stop(probe, signal.SIGTERM, 10)
        if ltrace:
            iters, res['loop_note'] = looptrace_stop(ltrace)
            ltrace = None
        res['crashed'] = not pid_alive(w, 'nginx')
        if cfg in OURS:
            f = find_files(ng.prefix / 'store' / 'live' / 'big', '.mp4')
            if f:
                r = probe_many(f, count=False)[f[0]]
                res['big_valid'] = r == expected_counts(media['counts'],
                                                        loops + 1)
                res['big_counts'] = r
        res['log'] = {k: v for k, v in ng.scan_log().items()}
    finally:
        for p in bg + big + ([probe] if probe else []) + (
                [ltrace] if ltrace else []):
            if p.returncode is None:
                REG.stop(p, signal.SIGKILL)
        ng.stop()
        ng.clean_media()
    res['phases'] = probe_phases(probe_out, phases)
    res['loop'] = loop_phases(iters, phases)
    # the RSS samples: one per 0.1 media minute is plenty for the report
    s = res.get('rss_vs_media_min')
    if s:
        keep, last = [], -1.0
        for x in s:
            if x[0] - last >= 0.1:
                keep.append(x)
                last = x[0]
        keep.append(s[-1])
        res['rss_vs_media_min'] = keep
    return res


def probe_phases(probe_out, phases):
    """delay statistics of the probe's messages received in each phase
    (a, b) of CLOCK_MONOTONIC ns; the first 200 ms are warm-up."""
    pts = []
    try:
        for line in Path(probe_out).read_text().splitlines():
            f = line.split()
            if len(f) == 3:
                pts.append((int(f[0]), int(f[1])))
    except OSError:
        pass
    if pts:
        t_first = pts[0][0] + 200 * 10**6
        pts = [x for x in pts if x[0] >= t_first]
    out = {}
    for ph, (a, b) in phases.items():
        if a is None or b is None:
            continue
        d = sorted(x[1] for x in pts if a <= x[0] < b)
        out[ph] = delay_stats(d, (b - a) / 1e9)
    return out


def delay_stats(d, secs):
    if not d:
        return {'n': 0, 'secs': secs}
    return {'n': len(d), 'secs': secs, 'p50_ms': pct(d, 50) / 1000,
            'p99_ms': pct(d, 99) / 1000, 'p999_ms': pct(d, 99.9) / 1000,
            'max_ms': d[-1] / 1000, 'over5ms': sum(1 for x in d if x > 5000),
            'over1ms': sum(1 for x in d if x > 1000)}


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    f = math.floor(k)
    c = min(f + 1, len(sorted_vals) - 1)
    return sorted_vals[f] + (sorted_vals[c] - sorted_vals[f]) * (k - f)


# -- notify ------------------------------------------------------------------

def hook_main(argv):
    import http.server
    port = int(argv[argv.index('--port') + 1])
    out = open(argv[argv.index('--out') + 1], 'a')

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            t = time.monotonic_ns()
            n = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(n) if n else b''
            out.write('%d %s\n' % (t, json.dumps(body.decode(
                errors='replace'))))
            out.flush()
            self.send_response(200)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', '2')
            self.end_headers()
            self.wfile.write(b'{}')

        do_PUT = do_POST

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', port), H)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    srv.serve_forever()


def notify_supported():
    for spool in (True, False):
        ng = Nginx('probe-notify-%d' % spool, 'c',
                   notify_url='http://127.0.0.1:9/hook', notify_spool=spool)
        ok, msg = ng.test()
        shutil.rmtree(ng.prefix, ignore_errors=True)
        if ok:
            return {'ok': True, 'spool': spool}
    return {'ok': False, 'msg': msg}


def run_notify(media, clip, spool):
    hport = free_port()
    ng = Nginx('notify', 'c', notify_url='http://127.0.0.1:%d/hook' % hport,
               notify_spool=spool)
    res = {'name': 'notify'}
    hook_out = ng.prefix / 'logs' / 'hook.txt'
    hook = REG.spawn([PY, Path(__file__).resolve(), 'hook', '--port', hport,
                      '--out', hook_out], cpus=GEN_CPUS,
                     out=ng.prefix / 'logs' / 'hook.log')
    t = mono()
    while mono() - t < 10:
        try:
            socket.create_connection(('127.0.0.1', hport), 1).close()
            break
        except OSError:
            time.sleep(0.05)
    ng.start()
    nl = S['notify_lanes']
    close_f = ng.prefix / 'logs' / 'closes.txt'
    try:
        # each lane publishes its streams one after the other with a small
        # RTMP publisher that notes the instant it stops (CLOCK_MONOTONIC)
        current = {}
        nxt = {i: 0 for i in range(nl)}
        end = mono() + 300
        while mono() < end:
            for i in range(nl):
                p = current.get(i)
                if p is not None and REG.poll(p):
                    current[i] = None
                    p = None
                if p is None and nxt[i] < S['notify_stops']:
                    nm = 'nt%dk%d' % (i, nxt[i])
                    nxt[i] += 1
                    current[i] = REG.spawn(
                        [PY, PROBE, '--publish-file', clip['path'],
                         '--realtime', '--port', ng.port, '--app', 'live',
                         '--name', nm, '--close-out', close_f],
                        cpus=GEN_CPUS, out=ng.prefix / 'logs' / 'pub.log')
            if all(current.get(i) is None for i in range(nl)) \
                    and all(v >= S['notify_stops'] for v in nxt.values()):
                break
            time.sleep(0.01)
        closes = {}
        for line in close_f.read_text().splitlines():
            nm, t = line.split()
            closes[nm] = int(t) / 1e9
        want = len(closes)
        got = {}
        t = mono()
        while mono() - t < 15 and len(got) < want:
            got = parse_hook(hook_out)
            time.sleep(0.05)
        time.sleep(1.0)
        got = parse_hook(hook_out)
        lat = sorted(got[nm] / 1e9 - closes[nm] for nm in closes if nm in got)
        res.update({'stops': nl * S['notify_stops'], 'closed': want,
                    'notified': len(lat), 'lat_s': lat,
                    'log': ng.scan_log()})
    finally:
        for p in list(REG.procs.values()):
            if p is not hook:
                REG.stop(p, signal.SIGKILL)
        ng.stop()
        REG.stop(hook)
        ng.clean_media()
    return res


def parse_hook(path):
    got = {}
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return got
    for line in lines:
        t, _, body = line.partition(' ')
        try:
            body = json.loads(body)
        except ValueError:
            continue
        try:
            ev = json.loads(body)
            if ev.get('event_type') != 'record_done':
                continue
            nm = str(ev.get('stream_id', ''))
        except (ValueError, AttributeError):
            if 'record_done' not in body:
                continue
            nm = ''
        m = re.search(r'nt\d+k\d+', nm or body)
        if m and m.group(0) not in got:
            got[m.group(0)] = int(t)
    return got


# -- disk ------------------------------------------------------------------------

def run_cluster():
    """bench/cluster_close.pl: two nodes and a private PostgreSQL 15 (the
    test harness's), parts closing at once with the cluster on and off."""
    if not os.path.exists('/usr/lib/postgresql/15/bin/initdb'):
        return {'error': 'PostgreSQL 15 is not installed (make deps)'}
    out = RUNS / 'cluster.json'
    cmd = ['perl', str(BENCH / 'cluster_close.pl'), '--json', str(out),
           '--streams', str(S['cluster_streams']),
           '--reps', str(S['cluster_reps']),
           '--rows', str(S['cluster_rows']),
           '--seconds', str(S['cluster_seconds'])]
    p = REG.spawn(cmd, out=RUNS / 'cluster.log')
    REG.wait(p, 1800)
    if p.returncode is None:
        REG.stop(p)
    if p.returncode != 0 or not out.exists():
        return {'error': 'cluster_close.pl failed (rc %s): %s' % (
            p.returncode, (RUNS / 'cluster.log').read_text(
                errors='replace')[-500:])}
    r = json.loads(out.read_text())
    r['command'] = 'perl bench/cluster_close.pl ' + ' '.join(cmd[4:])
    return r


def run_dd():
    out = []
    f = CACHE / 'dd.tmp'
    for _ in range(S['dd_reps']):
        r = subprocess.run(['dd', 'if=/dev/zero', 'of=%s' % f, 'bs=1M',
                            'count=%d' % S['dd_mb'], 'conv=fdatasync'],
                           capture_output=True, text=True)
        m = re.search(r'(\d+) bytes .* copied, ([\d.]+) s', r.stderr)
        if m:
            out.append(int(m.group(1)) / float(m.group(2)) / 1e6)
        try:
            f.unlink()
        except OSError:
            pass
    return out


def perf_top(cfg, limit=18):
    data = CACHE / ('perf-%s.data' % cfg)
    if not data.exists():
        return None
    r = subprocess.run(['perf', 'report', '-i', str(data), '--stdio',
                        '--no-children', '--sort', 'dso,sym', '-g', 'none',
                        '--percent-limit', '0.7'],
                       capture_output=True, text=True)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r'\s+([\d.]+)%\s+(\S+)\s+\[.\]\s+(.*)$', line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3).strip()))
    return rows[:limit]


# -- machine ---------------------------------------------------------------------

def machine():
    model = '?'
    for line in Path('/proc/cpuinfo').read_text().splitlines():
        if line.startswith('model name'):
            model = line.split(':', 1)[1].strip()
            break
    mem = 0
    for line in Path('/proc/meminfo').read_text().splitlines():
        if line.startswith('MemTotal:'):
            mem = int(line.split()[1]) // 1024
    def out(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
            return (r.stdout + r.stderr).strip()
        except OSError:
            return '?'
    ngv = out([NGINX, '-v']).replace('nginx version: ', '')
    ffv = out(['ffmpeg', '-version']).splitlines()[0].split(' Copyright')[0] \
        .replace('ffmpeg version ', '')
    rtmpv = out(['dpkg-query', '-W', '-f', '${Version}',
                 'libnginx-mod-rtmp'])
    git = out(['git', '-C', str(TOP), 'rev-parse', '--short', 'HEAD'])
    dirty = out(['git', '-C', str(TOP), 'status', '--porcelain', '--',
                 '*.c', '*.h', 'config'])
    return {'cpu': model, 'cores': os.cpu_count(), 'kernel': os.uname().release,
            'mem_mb': mem, 'nginx': ngv, 'ffmpeg': ffv,
            'rtmp': rtmpv, 'git': git + (' + uncommitted C changes'
                                         if dirty else ''),
            'nginx_cpus': sorted(NGINX_CPUS) if NGINX_CPUS else None,
            'gen_cpus': sorted(GEN_CPUS) if GEN_CPUS else None,
            'module_sha': out(['sha256sum', str(MODULE)])[:12],
            'date': time.strftime('%Y-%m-%d %H:%M:%S %Z')}


# -- suite -----------------------------------------------------------------------

def guarded(fn, *a, **kw):
    """One run; a failure (say, a module that does not load because someone
    is mid-edit) is recorded and the suite goes on."""
    try:
        return fn(*a, **kw)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        import traceback
        log('run %s%r failed: %r' % (fn.__name__, a[:3], e))
        return {'error': repr(e), 'fn': fn.__name__, 'args': repr(a[:3]),
                'trace': traceback.format_exc()[-2000:]}


def parse_sweep(s):
    out = []
    for part in s.split(','):
        part = part.strip()
        n, _, r = part.partition(':')
        if n.isdigit() and int(n) > 0:
            out.append((int(n), int(r or 1)))
    return out


def suite(out_path):
    global REG
    REG = Reg()
    out_path = Path(out_path)

    def on_sig(sig, _):
        raise KeyboardInterrupt('signal %d' % sig)
    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)
    signal.signal(signal.SIGHUP, on_sig)
    if GEN_CPUS:
        os.sched_setaffinity(0, GEN_CPUS)
    if RUNS.exists():
        shutil.rmtree(RUNS)
    RUNS.mkdir(parents=True)
    R = {'settings': S, 'machine': machine(), 'runs': [], 'fast': [],
         'eventloop': [], 'started': time.time()}

    def save():
        R['elapsed_s'] = mono() - T_START
        tmp = out_path.with_suffix('.tmp')
        tmp.write_text(json.dumps(R, indent=1, default=str))
        tmp.replace(out_path)

    try:
        media, clips = prepare_media()
        clip = clips[S['rt_seconds']]
        R['input'] = {k: v for k, v in media.items()}
        R['clip'] = clip
        log('input: %.1f MB, %.1f s, %.2f Mbit/s, %s; real-time clip %.1f s'
            % (media['bytes'] / 1e6, media['duration'],
               media['bit_rate'] / 1e6, media['counts'], clip['duration']))

        # features present in this build
        cfgs = [c for c in S['configs'] if c in 'abcdkoe']
        R['old'] = {'commit': OLD_COMMIT, 'module': OLD_MODULE,
                    'ok': bool(OLD_MODULE and os.path.exists(OLD_MODULE)),
                    'same': os.environ.get('BENCH_OLD_SAME') or ''}
        if 'o' in cfgs and not R['old']['ok']:
            cfgs.remove('o')
            log('old build: not available (BENCH_OLD unset or failed)')
        elif 'o' in cfgs:
            ng = Nginx('probe-old', 'o')
            ok, msg = ng.test()
            shutil.rmtree(ng.prefix, ignore_errors=True)
            if not ok:
                cfgs.remove('o')
                R['old'].update({'ok': False, 'msg': msg})
                log('old build: does not load: %s' % msg[-200:])
        R['checksum'] = checksum_support()
        if R['checksum']['ok']:
            Nginx.checksum_where = R['checksum']['where']
        elif 'k' in cfgs:
            cfgs.remove('k')
            log('checksum off: not supported by this build (%s)'
                % R['checksum'].get('msg', '')[-160:])
        ng = Nginx('probe-hls', 'd')
        ok, msg = ng.test()
        shutil.rmtree(ng.prefix, ignore_errors=True)
        R['hls'] = {'ok': ok, 'msg': msg}
        if not ok and 'd' in cfgs:
            cfgs.remove('d')
            log('hls: not available (%s)' % msg[-160:])
        R['notify'] = notify_supported()
        log('features: hls=%s notify=%s' % (ok, R['notify']['ok']))
        R['configs'] = cfgs
        stages = S['stages'].split(',')
        cmp_n = {int(x) for x in str(S['cmp_n']).split(',') if x.strip()}

        if 'long' in stages:
            R['long'] = []
            mins = [int(x) for x in str(S['long_minutes']).split(',')
                    if x.strip()]
            for mm in mins:
                for cfg in [c for c in 'ock' if c in cfgs]:
                    r = guarded(run_long, cfg, mm, media)
                    if r.get('error'):
                        R.setdefault('errors', []).append(r)
                        continue
                    R['long'].append(r)
                    out = ((r.get('out_bytes') or 0)
                           - (r.get('free_bytes') or 0))
                    io = r.get('io', {})
                    wr = sum(v for k, v in io.items()
                             if k in ('w_mp4', 'w_rec'))
                    rd = sum(v for k, v in io.items()
                             if k in ('r_mp4', 'r_rec'))
                    log('long %s %d min: %.0f MB out (ftyp+moov+mdat), write %.3fx read '
                        '%.3fx, %d error/crit lines, ingest %.1f s, '
                        'finalize %s s, valid %s' % (
                            cfg, mm, out / 1e6, wr / out if out else -1,
                            rd / out if out else -1,
                            r.get('log', {}).get('crit', 0),
                            r.get('ingest_s') or -1,
                            ('%.1f' % r['finalize_s'])
                            if r.get('finalize_s') is not None else 'n/a',
                            r.get('valid')))
                    save()

        if 'huge' in stages and 'c' in cfgs:
            r = guarded(run_huge)
            R['huge'] = r
            log('huge part: %s bytes, chunk offsets %s, counts valid %s, '
                'last 2 s decode %s, %d error/crit lines' % (
                    r.get('huge_bytes'), r.get('chunk_boxes'),
                    r.get('valid'), r.get('huge_tail_decodes'),
                    r.get('log', {}).get('crit', 0)))
            save()

        if 'dd' in stages:
            R['dd_mb_s'] = run_dd()
            log('dd conv=fdatasync: %s MB/s' % ['%.0f' % x
                                                 for x in R['dd_mb_s']])
            save()

        if 'fast' in stages:
            fcfgs = [c for c in 'abcokd' if c in cfgs]
            for rep in range(S['fast_reps']):
                for cfg in fcfgs:
                    r = guarded(run_one, cfg, S['fast_streams'], rep, media,
                                clip, realtime=False,
                                loops=S['fast_loops'] - 1, tag='fast',
                                per_proc=S['fast_streams'])
                    if r.get('error'):
                        R.setdefault('errors', []).append(r)
                        continue
                    R['fast'].append(r)
                    log('fast ' + summarize_run(r) + ', %.0f MB in %.2f s'
                        % (r['in_mb'], r['pub_wall_s']))
                    save()
            if S['perf'] and shutil.which('perf'):
                for cfg in [c for c in ('c', 'b') if c in fcfgs]:
                    try:
                        r = run_one(cfg, S['fast_streams'], 99, media, clip,
                                    realtime=False,
                                    loops=S['fast_loops'] - 1,
                                    tag='perf', perf=True,
                                    per_proc=S['fast_streams'])
                        R.setdefault('perf', {})[cfg] = perf_top(cfg)
                        log('perf %s: %d symbols' % (
                            cfg, len(R['perf'][cfg] or [])))
                    except Exception as e:
                        log('perf %s failed: %r' % (cfg, e))
                save()

        if 'rt' in stages:
            plan = []
            sweep = parse_sweep(S['sweep'])
            maxn = parse_sweep(S['max_n'])
            reps = max([r for _, r in sweep + maxn] or [1])
            for rep in range(reps):
                for n, nreps in sweep:
                    if rep < nreps:
                        plan += [(c, n, rep) for c in cfgs
                                 if c not in 'ok' or n in cmp_n]
                for n, nreps in maxn:
                    if rep < nreps:
                        plan += [(c, n, rep) for c in cfgs
                                 if c in 'abc' or (c == 'o' and n in cmp_n)]
            log('real-time plan: %d runs of %.0f s media' % (
                len(plan), clip['duration']))
            for cfg, n, rep in plan:
                r = guarded(run_one, cfg, n, rep, media, clip, realtime=True,
                            per_proc=S['per_proc'])
                if r.get('error'):
                    R.setdefault('errors', []).append(r)
                    continue
                R['runs'].append(r)
                log('rt ' + summarize_run(r))
                save()

        if 'el' in stages:
            variants = [('c', True), ('a', True)]
            if 'd' in cfgs:
                variants.insert(1, ('d', True))
            if 'o' in cfgs:
                variants.insert(1, ('o', True))
            if S['el_unpinned'] and NGINX_CPUS:
                variants.append(('c', False))
            for cfg, pinned in variants:
                if cfg not in cfgs:
                    continue
                r = guarded(run_eventloop, cfg, media, pinned)
                if r.get('error'):
                    R.setdefault('errors', []).append(r)
                    continue
                R['eventloop'].append(r)
                log('eventloop %s pinned=%s: %s' % (
                    cfg, pinned, {k: (v.get('max_ms'), v.get('p99_ms'))
                                  for k, v in r['phases'].items()}))
                save()

        if 'cluster' in stages:
            r = guarded(run_cluster)
            R['cluster'] = r
            log('cluster: %s' % ('last row %.2f s after a burst, %.0f rows/s '
                                 'replayed, %.3f ms more loop time per part '
                                 'close' % (r.get('burst_last_row_s') or -1,
                                            r.get('replay_rows_per_s') or -1,
                                            r.get('extra_loop_ms_per_part')
                                            or 0)
                                 if 'replay_rows_per_s' in r
                                 else r.get('error')))
            save()

        if 'notify' in stages and R['notify']['ok'] and 'c' in cfgs:
            r = guarded(run_notify, media, clips[3], R['notify']['spool'])
            R['notify_run'] = r
            log('notify: %s' % ('%d/%d stops notified' % (r['notified'], r['stops']) if 'notified' in r else r.get('error')))
            save()
    except KeyboardInterrupt as e:
        log('interrupted: %s' % e)
        R['interrupted'] = str(e)
        save()
        REG.cleanup()
        return 130
    finally:
        REG.cleanup()
    R['finished'] = True
    save()
    log('suite done in %.0f s' % (mono() - T_START))
    return 0


if __name__ == '__main__':
    if len(sys.argv) >= 2 and sys.argv[1] == 'hook':
        hook_main(sys.argv)
    elif len(sys.argv) >= 3 and sys.argv[1] == 'suite':
        sys.exit(suite(sys.argv[2]))
    elif len(sys.argv) >= 4 and sys.argv[1] == 'report':
        sys.path.insert(0, str(BENCH))
        sys.dont_write_bytecode = True
        import report
        sys.exit(report.main(sys.argv[2], sys.argv[3]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)
