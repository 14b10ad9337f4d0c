#!/usr/bin/env python3
"""Turns bench.py's raw results (JSON) into docs/benchmarks.md."""

import json
import statistics
import sys
import time

NAMES = {
    'a': '(a) nginx-rtmp `live on` only (baseline)',
    'b': '(b) nginx-rtmp `record all` FLV',
    'c': '(c) ours, mp4',
    'd': '(d) ours, mp4+hls',
    'e': '(e) ffmpeg `-c copy -f segment` MP4 puller per stream',
}
SHORT = {'a': 'a baseline', 'b': 'b nginx-rtmp FLV', 'c': 'c ours mp4',
         'd': 'd ours mp4+hls', 'e': 'e ffmpeg puller'}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def ms(xs, f='%.3f'):
    """median (min-max) of xs, or the single value."""
    xs = [x for x in xs if x is not None]
    if not xs:
        return 'n/a'
    m = statistics.median(xs)
    if len(xs) == 1:
        return f % m
    return (f + ' (' + f + '–' + f + ')') % (m, min(xs), max(xs))


def fmt(x, f='%.3f'):
    return 'n/a' if x is None else f % x


def derive(r):
    sm = r.get('stream_min') or 0
    d = dict(r)
    if sm and r.get('nginx_cpu_s') is not None:
        d['cpm'] = r['nginx_cpu_s'] / sm
        d['ms_per_mb'] = r['nginx_cpu_s'] * 1000 / r['in_mb']
    if sm and r.get('puller_cpu_s') is not None:
        d['pull_cpm'] = r['puller_cpu_s'] / sm
        d['pull_ms_per_mb'] = r['puller_cpu_s'] * 1000 / r['in_mb']
    if sm:
        d['pub_cpm'] = r.get('pub_cpu_s', 0) / sm
    if r.get('rss_active_kb') and r.get('rss0_kb'):
        d['rss_ps'] = (r['rss_active_kb'] - r['rss0_kb']) / r['n']
    b = r.get('bytes', {})
    out = b.get('store', 0) + b.get('flv', 0) + b.get('out', 0)
    if sm:
        d['out_mb_pm'] = out / 1e6 / sm
        d['wchar_mb_pm'] = r.get('wchar', 0) / 1e6 / sm
        d['out_ratio'] = out / (r['in_mb'] * 1e6) if r.get('in_mb') else None
        d['wchar_ratio'] = r.get('wchar', 0) / out if out else None
        d['rchar_ratio'] = r.get('rchar', 0) / out if out else None
    v = r.get('valid', {})
    d['valid_s'] = ('%d/%d' % (v.get('ok', 0), v.get('checked', 0))
                    if v.get('checked') else '—')
    return d


def group(runs):
    g = {}
    for r in runs:
        g.setdefault((r['cfg'], r['n']), []).append(derive(r))
    return g


def paired(g, cfg, n, key, base='a', extra=None):
    """per-rep (cfg - base) of key; falls back to base's median."""
    xs = g.get((cfg, n), [])
    bs = {r['rep']: r.get(key) for r in g.get((base, n), [])}
    bmed = med(bs.values())
    out = []
    for r in xs:
        b = bs.get(r['rep'], bmed)
        if r.get(key) is None or b is None:
            continue
        v = r[key] - b
        if extra:
            v += r.get(extra) or 0
        out.append((r['rep'], v))
    return out


def ratio_list(num, den):
    dd = dict(den)
    out = []
    for rep, v in num:
        if rep in dd and dd[rep]:
            out.append(v / dd[rep])
    return out


def verdict(ok):
    return '**met**' if ok else '**missed**'


def main(inp, outp):
    R = json.load(open(inp))
    m = R['machine']
    S = R['settings']
    L = []
    w = L.append
    g = group(R.get('runs', []))
    fg = group(R.get('fast', []))
    Ns = sorted({n for (_, n) in g})
    cfgs = R.get('configs', ['a', 'b', 'c', 'e'])
    elapsed = R.get('elapsed_s', 0)

    w('# Benchmarks')
    w('')
    w('Written by `make bench` (`bench/run.sh`), %s; the whole run took '
      '%.1f min%s. Figures are from that one run on the machine below: '
      'medians over repetitions with the spread (min–max) in parentheses, '
      'single values where a point ran once.'
      % (m['date'], elapsed / 60,
         '' if R.get('finished') else ' (**incomplete run**: %s)'
         % R.get('interrupted', 'stopped early')))
    w('')
    w('Reproduce:')
    w('')
    w('    cd /work/main && make bench')
    w('')
    w('(the same as `bench/run.sh` after `make`; knobs, all optional: '
      '`BENCH_RT_SECONDS=%s BENCH_SWEEP=%s BENCH_MAX_N=%s '
      'BENCH_FAST_LOOPS=%s BENCH_FAST_REPS=%s BENCH_BIG_LOOPS=%s`).'
      % (S['rt_seconds'], S['sweep'], S['max_n'], S['fast_loops'],
         S['fast_reps'], S['big_loops']))
    w('')
    w('**Machine:** %s, %d cores, Linux %s, %d MiB RAM; nginx %s, '
      'libnginx-mod-rtmp %s, ffmpeg %s; module %s (build sha256 %s). nginx '
      '(master, worker and its thread pool) pinned to CPU %s, the load '
      'generator and probes to CPU %s, pullers unpinned. Shared VM: '
      'figures vary run to run.'
      % (m['cpu'], m['cores'], m['kernel'], m['mem_mb'],
         m['nginx'].replace('nginx/', ''),
         m['rtmp'], m['ffmpeg'], m['git'], m['module_sha'],
         m['nginx_cpus'], m['gen_cpus']))
    w('')
    inp = R.get('input', {})
    clip = R.get('clip', {})
    w('**Input** (generated once, cached in `bench/cache/`): %s: %.2f Mbit/s, '
      '%s packets, %.1f MB. Real-time runs publish the first %.0f s of it '
      '(%s packets) once per stream with `ffmpeg -re -i clip.flv -map 0 '
      '-c copy -f flv rtmp://… [-map 0 … per stream]` (one ffmpeg per %d '
      'streams), so every output must hold exactly the clip\'s packets.'
      % (inp.get('spec'), inp.get('bit_rate', 0) / 1e6, inp.get('counts'),
         inp.get('bytes', 0) / 1e6, clip.get('duration', 0),
         clip.get('counts'), S.get('per_proc', 16)))
    w('')
    w('**Configurations:** ' + '; '.join(NAMES[c] for c in 'abcde'
                                         if c in cfgs) + '.')
    hls = R.get('hls', {})
    if not hls.get('ok'):
        w('(d) ours mp4+hls: **pending (HLS not implemented yet)** — '
          '`live_record_formats mp4 hls` fails `nginx -t`: `%s`.'
          % (hls.get('msg', '')[-160:].replace('`', "'")))
    elif 'd' not in cfgs:
        w('(d) ours mp4+hls: not run (left out of `BENCH_CONFIGS`).')
    w('')

    # ---------------- targets
    T = []
    key_ns = [n for n in Ns if len(g.get(('c', n), [])) >= 2] or Ns
    ours_add = {n: paired(g, 'c', n, 'cpm') for n in Ns}
    flv_add = {n: paired(g, 'b', n, 'cpm') for n in Ns}
    pull_add = {n: paired(g, 'e', n, 'cpm', extra='pull_cpm') for n in Ns}
    fours = paired(fg, 'c', S['fast_streams'], 'ms_per_mb')
    fflv = paired(fg, 'b', S['fast_streams'], 'ms_per_mb')

    w('## Targets')
    w('')
    w('| target | measured | verdict |')
    w('|---|---|---|')
    t_start = len(L)
    for n in key_ns:
        o, f = med(v for _, v in ours_add[n]), med(v for _, v in flv_add[n])
        if o is not None and f:
            rl = ratio_list(ours_add[n], flv_add[n])
            w('| ours mp4 CPU above baseline ≤ 1.2× nginx-rtmp FLV record, per '
              'stream-minute (N=%d) | %.4f vs %.4f CPU-s/stream-min = '
              '**%.2f×** (per-rep %s) | %s |'
              % (n, o, f, o / f, ms(rl, '%.2f'), verdict(o / f <= 1.2)))
    o, f = med(v for _, v in fours), med(v for _, v in fflv)
    if o is not None and f:
        w('| … per MB (faster than real time, %d streams) | %.3f vs %.3f '
          'ms CPU/MB = **%.2f×** (per-rep %s) | %s |'
          % (S['fast_streams'], o, f, o / f,
             ms(ratio_list(fours, fflv), '%.2f'), verdict(o / f <= 1.2)))
    for n in key_ns:
        o, p = med(v for _, v in ours_add[n]), med(v for _, v in pull_add[n])
        if o is not None and p:
            w('| ours ≤ 0.35× what a puller adds (ffmpeg + nginx relay, above '
              'baseline), N=%d | %.4f vs %.4f CPU-s/stream-min = **%.2f×** '
              '(per-rep %s) | %s |'
              % (n, o, p, o / p, ms(ratio_list(ours_add[n], pull_add[n]),
                                    '%.2f'), verdict(o / p <= 0.35)))
    # memory
    rss_n = max([n for n in Ns if g.get(('c', n)) and g.get(('a', n))] or [0])
    rss_ours = None
    if rss_n:
        rss_ours = med(v for _, v in paired(g, 'c', rss_n, 'rss_ps'))
        w('| RSS per active recording < 512 KiB (worker RSS growth per '
          'stream, ours − baseline, N=%d) | %.0f KiB (ours %s, baseline %s '
          'KiB/stream) | %s |'
          % (rss_n, rss_ours,
             ms([r.get('rss_ps') for r in g[('c', rss_n)]], '%.0f'),
             ms([r.get('rss_ps') for r in g[('a', rss_n)]], '%.0f'),
             verdict(rss_ours < 512)))
    for r in R.get('eventloop', []):
        s = r.get('rss_vs_media_min')
        if r['cfg'] not in ('c', 'd') or not r.get('pinned') or not s:
            continue

        def at(mm):
            pts = [x for x in s if x[0] >= mm]
            return pts[0][1] if pts else None
        r1, r5, r30 = at(1.0), at(5.0), at(30.0)
        if r5 is None or r30 is None:
            continue
        # after minute 30, leaving out the last 5% (the part closing)
        tail = [x for x in s if 30.0 <= x[0] <= 0.95 * s[-1][0]]
        slope = None
        if len(tail) >= 2 and tail[-1][0] - tail[0][0] >= 10:
            slope = (tail[-1][1] - tail[0][1]) / (tail[-1][0] - tail[0][0])
        w('| … and flat over a 30-minute part, %s (worker RSS while one long '
          'part is the only recording; criterion: growth from media minute '
          '5 to 30 < 64 KiB, minutes 0–5 being allocator warm-up) | '
          '%+d KiB from minute 5 to 30 (%+d KiB from minute 1); after that '
          '%s | %s |'
          % (SHORT[r['cfg']], r30 - r5, r30 - (r1 or r5),
             ('%+.1f KiB per media minute up to minute %.0f'
              % (slope, tail[-1][0])) if slope is not None else 'n/a',
             verdict(r30 - r5 < 64)))
    def el_verdict(cmax, bmax):
        if cmax <= 5:
            return verdict(True)
        if bmax is not None and bmax > 5 and cmax <= 1.5 * bmax:
            return ('inconclusive (the baseline shows %.1f ms stalls in the '
                    'same phase)' % bmax)
        return verdict(False)

    probe_ns = sorted({n for (c, n), rs in g.items()
                       if any(r.get('probe') for r in rs)})
    for n in probe_ns:
        for ph, what in (('opening', '%d streams connecting and opening '
                          'their parts within ~2 s'),
                         ('recording', '%d real-time streams recording, '
                          'steady'),
                         ('closing', '%d parts closing at once and being '
                          'finalized')):
            cs = [r['probe'][ph] for r in g.get(('c', n), [])
                  if r.get('probe', {}).get(ph, {}).get('n')]
            bs = [r['probe'][ph] for r in g.get(('a', n), [])
                  if r.get('probe', {}).get(ph, {}).get('n')]
            if not cs:
                continue
            cmax = med([x['max_ms'] for x in cs])
            bmax = med([x['max_ms'] for x in bs]) if bs else None
            w('| no event-loop stall > 5 ms attributable to recording: %s '
              '(probe delivery delay, worst per run) | ours max %s ms, %s '
              'of %s messages > 5 ms; baseline max %s ms | %s |'
              % (what % n, ms([x['max_ms'] for x in cs], '%.1f'),
                 '/'.join(str(x['over5ms']) for x in cs),
                 '/'.join(str(x['n']) for x in cs),
                 ms([x['max_ms'] for x in bs], '%.1f') if bs else 'n/a',
                 el_verdict(cmax, bmax)))
    for r in R.get('eventloop', []):
        if r['cfg'] != 'c':
            continue
        base = [x for x in R['eventloop'] if x['cfg'] == 'a'
                and x['pinned'] == r['pinned']]
        bst = base[0]['phases'].get('steady', {}) if base else {}
        for ph, what in (('finalize', 'while a %.1f GB part is finalized'
                          % ((r.get('big_bytes') or 0) / 1e9)),
                         ('ingest', 'while one publisher pushes at ~100× '
                          'real time (synthetic)')):
            fz = r['phases'].get(ph, {})
            if not fz.get('n'):
                continue
            bph = base[0]['phases'].get(ph, {}) if base else {}
            bmax = max([x for x in (bst.get('max_ms'), bph.get('max_ms'))
                        if x is not None] or [0]) or None
            w('| … %s (nginx %s, %d real-time live streams alongside) | max '
              '%.1f ms, p99.9 %.1f ms, %d of %d messages > 5 ms (same run '
              'before it: max %.1f ms; baseline run: %s ms) | %s |'
              % (what, 'and its threads pinned to 1 CPU' if r['pinned']
                 else 'on 2 CPUs', S['el_streams'], fz['max_ms'],
                 fz['p999_ms'],
                 fz['over5ms'], fz['n'],
                 r['phases'].get('steady', {}).get('max_ms') or 0,
                 fmt(bmax, '%.1f'), el_verdict(fz['max_ms'], bmax)))
    nr = R.get('notify_run')
    if nr and nr.get('lat_s'):
        lat = nr['lat_s']
        p99 = pct(lat, 99)
        w('| close→notify p99 < 1 s (local store) | p50 %.3f s, p99 %.3f s '
          'over %d stops (%d/%d notified) | %s |'
          % (pct(lat, 50), p99, len(lat), nr['notified'], nr['stops'],
             verdict(p99 < 1 and nr['notified'] == nr['stops'])))
    else:
        w('| close→notify p99 < 1 s (local store) | pending (notify not '
          'implemented in this build%s) | pending |'
          % ('' if not R.get('notify', {}).get('ok')
             else '; run failed or skipped'))
    w('')
    rows = [r.strip('| ').split(' | ') for r in L[t_start:] if r.strip()]
    kinds = {'met': 0, 'missed': 0, 'inconclusive': 0, 'pending': 0}
    for r in rows:
        for k in kinds:
            if r[-1].replace('*', '').startswith(k):
                kinds[k] += 1
    w('**Summary:** %d targets met, %d missed, %d inconclusive, %d pending.'
      % (kinds['met'], kinds['missed'], kinds['inconclusive'],
         kinds['pending']))
    w('')
    for r in rows:
        v = r[-1].replace('*', '')
        if v.startswith('met'):
            continue
        w('- **%s**: %s — %s' % (v.split(' ')[0].upper(), r[0], r[1]))
    w('')

    # ---------------- real-time sweep
    w('## 1. Real-time recording, N concurrent streams')
    w('')
    w('%.0f s of media per stream at 1× speed. CPU is measured from the '
      'worker\'s threads (`/proc/PID/task/*/schedstat`, ns) from before the '
      'first publisher connects until every output is complete (finalize '
      'included); pullers and publishers from `wait4()` rusage. '
      '"held" = every output valid and the publishers finished within 5%% '
      'of real time. "valid" = the output\'s video and audio packet counts '
      'equal the clip\'s, for every file by parsing it (FLV tags, MP4 '
      '`stsz` after checking the boxes tile the file) and by `ffprobe '
      '-count_packets` for every file up to N=32, for 16 files per run '
      'above.' % clip.get('duration', 0))
    w('')
    w('| config | N | runs | nginx worker CPU-s / stream-min | above '
      'baseline | puller ffmpeg CPU-s / stream-min | generator CPU-s / '
      'stream-min | worker RSS growth KiB / stream | output MB / stream-min '
      '| worker write() MB / stream-min | valid outputs | held |')
    w('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for n in Ns:
        for c in 'abcde':
            rs = g.get((c, n))
            if not rs:
                continue
            add = paired(g, c, n, 'cpm') if c != 'a' else []
            w('| %s | %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |'
              % (SHORT[c], n, len(rs), ms([r.get('cpm') for r in rs], '%.4f'),
                 ms([v for _, v in add], '%.4f') if add else '—',
                 ms([r.get('pull_cpm') for r in rs], '%.4f')
                 if c == 'e' else '—',
                 ms([r.get('pub_cpm') for r in rs], '%.4f'),
                 ms([r.get('rss_ps') for r in rs], '%.0f'),
                 ms([r.get('out_mb_pm') for r in rs], '%.1f')
                 if c != 'a' else '—',
                 ms([r.get('wchar_mb_pm') for r in rs], '%.1f'),
                 ', '.join(r['valid_s'] for r in rs),
                 ', '.join('yes' if r.get('held') else 'NO' for r in rs)))
    w('')
    pr = [r for rs in g.values() for r in rs if r['cfg'] == 'e'
          and r.get('puller_maxrss_kb')]
    if pr:
        allrss = [x for r in pr for x in r['puller_maxrss_kb']]
        w('Puller peak RSS per ffmpeg process: median %.1f MB (min %.1f, '
          'max %.1f) over %d processes.'
          % (statistics.median(allrss) / 1024, min(allrss) / 1024,
             max(allrss) / 1024, len(allrss)))
        w('')
    bad = [r for rs in g.values() for r in rs
           if r.get('valid', {}).get('bad') or r.get('timed_out')
           or r.get('crashed') or (r.get('held') is False)]
    if bad:
        w('Runs with problems:')
        w('')
        for r in bad:
            w('- %s N=%d rep %d: %s%s%s valid %s, publishers took %.1f s '
              'for %.1f s of media after %.1f s connecting%s'
              % (SHORT[r['cfg']], r['n'], r['rep'],
                 'TIMEOUT, ' if r.get('timed_out') else '',
                 'NGINX CRASHED, ' if r.get('crashed') else '',
                 '', r['valid_s'], r.get('pub_wall_s', 0),
                 r.get('dur_media_s', 0), r.get('connect_s') or 0,
                 ('; e.g. ' + '; '.join(r['valid']['bad'][:2]))
                 if r.get('valid', {}).get('bad') else ''))
        w('')

    # ---------------- ratios
    w('## 2. Ratios (recording CPU above the no-recording baseline)')
    w('')
    w('"ours add" = ours − baseline worker CPU; "FLV add" = nginx-rtmp '
      '`record all` − baseline; "puller add" = (nginx with one puller per '
      'stream − baseline) + the pullers\' own CPU. Differences are paired '
      'by repetition (runs of one repetition are adjacent in time).')
    w('')
    w('| N | ours add | FLV add | puller add | ours / FLV | ours / puller |')
    w('|---|---|---|---|---|---|')
    for n in Ns:
        o = [v for _, v in ours_add[n]]
        f = [v for _, v in flv_add[n]]
        p = [v for _, v in pull_add[n]]
        if not o:
            continue
        r1 = ratio_list(ours_add[n], flv_add[n])
        r2 = ratio_list(ours_add[n], pull_add[n])
        w('| %d | %s | %s | %s | %s | %s |'
          % (n, ms(o, '%.4f'), ms(f, '%.4f'), ms(p, '%.4f'),
             ('%.2f× ' % (med(o) / med(f)) + '(per-rep ' + ms(r1, '%.2f')
              + ')') if f and med(f) else 'n/a',
             ('%.2f× ' % (med(o) / med(p)) + '(per-rep ' + ms(r2, '%.2f')
              + ')') if p and med(p) else 'n/a'))
    w('')
    w('CPU-s per stream-minute; at N=1 the differences are within the '
      'run-to-run noise of a shared VM, read the larger N.')
    w('')

    # ---------------- fast mode
    w('## 3. Faster than real time (no `-re`)')
    w('')
    fr = R.get('fast', [])
    if fr:
        F = S['fast_streams']
        w('%d streams, each the 60 s input looped %d times (%.0f MB in '
          'total per run), pushed as fast as one ffmpeg publisher goes. The '
          'publisher is the bottleneck on 2 cores, so compare CPU per MB; '
          '"1-core capacity" = 1000 / (ms per MB), the MB/s one worker could '
          'record if it had a core to itself.'
          % (F, S['fast_loops'], fr[0]['in_mb']))
        w('')
        w('| config | runs | worker ms CPU / MB | above baseline | '
          '1-core capacity MB/s | achieved MB/s (publisher-bound) | '
          'worker write() / output bytes | worker read() / output bytes | '
          'output / input bytes | valid |')
        w('|---|---|---|---|---|---|---|---|---|---|')
        for c in 'abcd':
            rs = fg.get((c, F))
            if not rs:
                continue
            add = paired(fg, c, F, 'ms_per_mb') if c != 'a' else []
            w('| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |'
              % (SHORT[c], len(rs), ms([r.get('ms_per_mb') for r in rs]),
                 ms([v for _, v in add]) if add else '—',
                 ms([1000 / r['ms_per_mb'] for r in rs
                     if r.get('ms_per_mb')], '%.0f'),
                 ms([r['in_mb'] / r['pub_wall_s'] for r in rs], '%.0f'),
                 ms([r.get('wchar_ratio') for r in rs], '%.2f')
                 if c != 'a' else '—',
                 ms([r.get('rchar_ratio') for r in rs], '%.2f')
                 if c != 'a' else '—',
                 ms([r.get('out_ratio') for r in rs], '%.2f')
                 if c != 'a' else '—',
                 ', '.join(r['valid_s'] for r in rs)))
        w('')
        dd = R.get('dd_mb_s')
        if dd:
            w('Disk, sequential write with `dd bs=1M count=%d '
              'conv=fdatasync`: %s MB/s over %d runs (noisy shared disk). '
              'Ours (mp4) writes every recorded byte %s times (the '
              'fragmented MP4 while recording, then what the finalize '
              'thread writes) and reads back %s times as many in the '
              'finalize thread (columns "worker write()/read() / output '
              'bytes", from `/proc/PID/io`); at that write rate the disk, '
              'not the CPU, would cap ours at about %s MB/s of input.'
              % (S['dd_mb'], ms(dd, '%.0f'), len(dd),
                 ms([r.get('wchar_ratio') for r in fg.get(('c', F), [])],
                    '%.1f'),
                 ms([r.get('rchar_ratio') for r in fg.get(('c', F), [])],
                    '%.1f'),
                 fmt(med(dd) / med([r.get('wchar_ratio') for r in
                                    fg.get(('c', F), [])] or [1])
                     if med(dd) and fg.get(('c', F)) else None, '%.0f')))
            w('')

    # ---------------- memory
    w('## 4. Memory')
    w('')
    if rss_n:
        w('Worker RSS growth per active stream (median over the samples '
          'taken every 250 ms while all N streams were publishing, minus '
          'the RSS before the first connected), N=%d: ' % rss_n
          + '; '.join('%s %s KiB' % (SHORT[c], ms(
              [r.get('rss_ps') for r in g.get((c, rss_n), [])], '%.0f'))
              for c in 'abcde' if g.get((c, rss_n))) + '.')
        w('')
    for r in R.get('eventloop', []):
        s = r.get('rss_vs_media_min')
        if r['cfg'] not in ('c', 'd') or not s or not r.get('pinned'):
            continue
        marks = []
        for want in (1, 5, 10, 20, 30, 45, 60, 90):
            pts = [x for x in s if x[0] >= want]
            if pts:
                marks.append('%.0f min: %d KiB' % (pts[0][0], pts[0][1]))
        marks.append('last sample, as the part closes (%.0f min): %d KiB'
                     % (s[-1][0], s[-1][1]))
        w(SHORT[r['cfg']] + ': one long part (%.0f media minutes in one part, '
          '`live_record_interval 120m`, pushed faster than real time, the '
          'only recording in the worker), worker RSS by media minute of '
          'the part: %s. Before the part: %s KiB; after its finalize: %s '
          'KiB (the finalize thread\'s own buffers).'
          % (s[-1][0], '; '.join(marks), r.get('rss_before_kb'),
             r.get('rss_after_kb')))
        w('')

    # ---------------- event loop
    w('## 5. Event-loop health')
    w('')
    w('A probe (`bench/rtmp_probe.py`, SCHED_FIFO on the generator CPU) '
      'publishes a 256-byte message every 5 ms into an unrecorded '
      'application of the same worker and plays it back on a second '
      'connection; the delay between sending and receiving each message is '
      'the time it waited in nginx (loopback adds ~0.1 ms). Phases: '
      '*steady* = %d real-time live streams (not recorded) and the '
      'probe; *ingest* = plus one '
      'stream pushing %d× the input (%.1f GB) as fast as possible into one '
      'part; *finalize* = from that publisher\'s close until the part is '
      'in the store (the finalize of the whole part in the thread pool); *after* = 4 s later.'
      % (S['el_streams'], S['big_loops'],
         S['big_loops'] * inp.get('bytes', 0) / 1e9))
    w('')
    if probe_ns:
        w('Real-time runs with N ≥ %d also carry the probe (its small cost is '
          'in every configuration\'s figures alike). *opening* = from the '
          'first publisher starting until 1 s after the last of the N '
          'streams connected (%d streams per ffmpeg, which starts sending '
          'once all its streams are connected, so parts open in bursts); '
          '*recording* = from then until the first publisher exits; '
          '*closing* = from the first publisher\'s '
          'exit until every output is complete (ours: N parts closed, '
          'trailers written and finalized in the 4 thread-pool threads '
          'on the worker\'s CPU).' % (S.get('probe_min_n', 128),
                                      S.get('per_proc', 8)))
        w('')
        w('| config | N | phase | runs | max ms | p99.9 ms | p99 ms | '
          'messages > 5 ms |')
        w('|---|---|---|---|---|---|---|---|')
        for n in probe_ns:
            for c in 'abcde':
                for ph in ('opening', 'recording', 'closing'):
                    xs = [r['probe'][ph] for r in g.get((c, n), [])
                          if r.get('probe', {}).get(ph, {}).get('n')]
                    if not xs:
                        continue
                    w('| %s | %d | %s | %d | %s | %s | %s | %s |'
                      % (SHORT[c], n, ph, len(xs),
                         ms([x['max_ms'] for x in xs], '%.1f'),
                         ms([x['p999_ms'] for x in xs], '%.1f'),
                         ms([x['p99_ms'] for x in xs], '%.2f'),
                         ' / '.join('%d of %d' % (x['over5ms'], x['n'])
                                    for x in xs)))
        w('')
        w('Faster than real time, one long part:')
        w('')
    w('| config | nginx CPUs | phase | seconds | messages | p50 ms | p99 ms '
      '| p99.9 ms | max ms | > 5 ms |')
    w('|---|---|---|---|---|---|---|---|---|---|')
    for r in R.get('eventloop', []):
        for ph in ('steady', 'ingest', 'finalize', 'after'):
            s = r['phases'].get(ph)
            if not s:
                continue
            w('| %s | %s | %s | %.1f | %d | %s | %s | %s | %s | %s |'
              % (SHORT[r['cfg']], '1 (pinned)' if r['pinned'] else '2',
                 ph, s['secs'], s['n'], fmt(s.get('p50_ms'), '%.2f'),
                 fmt(s.get('p99_ms'), '%.2f'), fmt(s.get('p999_ms'), '%.2f'),
                 fmt(s.get('max_ms'), '%.2f'), s.get('over5ms', 'n/a')))
    w('')
    for r in R.get('eventloop', []):
        if r.get('finalize_s') is not None:
            w('- %s, nginx on %s: ingest of %.0f MB took %.1f s (%.1f s '
              'worker CPU, %.2f ms/MB); finalize of the %.2f GB, %.0f-minute '
              'part took %.1f s; part valid: %s (%s)'
              % (SHORT[r['cfg']], '1 CPU' if r['pinned'] else '2 CPUs',
                 r['ingest_mb'], r['ingest_s'], r['ingest_cpu_s'],
                 r['ingest_cpu_s'] * 1000 / r['ingest_mb'],
                 (r.get('big_bytes') or 0) / 1e9,
                 (r.get('big_duration_s') or 0) / 60, r['finalize_s'],
                 r.get('big_valid'), r.get('big_counts')))
        elif r.get('ingest_s'):
            w('- %s, nginx on %s: ingest of %.0f MB took %.1f s (%.1f s '
              'worker CPU)' % (SHORT[r['cfg']], '1 CPU' if r['pinned']
                               else '2 CPUs', r['ingest_mb'], r['ingest_s'],
                               r['ingest_cpu_s']))
    w('')

    # ---------------- close -> notify / store
    w('## 6. Close → notify')
    w('')
    if nr and nr.get('lat_s'):
        lat = nr['lat_s']
        w('%d streams of 3 s published in %d parallel lanes, one after the '
          'other; latency = the publisher\'s exit → the `record_done` POST '
          'arriving at a local HTTP receiver: p50 %.3f s, p99 %.3f s, max '
          '%.3f s (%d/%d stops notified).'
          % (nr['stops'], S['notify_lanes'], pct(lat, 50), pct(lat, 99),
             lat[-1], nr['notified'], nr['stops']))
    else:
        w('**pending** — the notify/callback feature is not in this build '
          '(`live_record_notify` fails `nginx -t`). Until it lands, the '
          'closest measured figure is close → part in the store:')
    w('')
    rows = []
    for n in Ns:
        lat = sorted(x for r in g.get(('c', n), [])
                     for x in r.get('close_to_store_s', []))
        if lat:
            rows.append('| %d | %d | %.3f | %.3f | %.3f |'
                        % (n, len(lat), pct(lat, 50), pct(lat, 99), lat[-1]))
    if rows:
        w('| N streams closing at once (ours mp4) | parts | close→store p50 s '
          '| p99 s | max s |')
        w('|---|---|---|---|---|')
        L.extend(rows)
        w('')
        w('(publisher exit → final file visible in the store, polled every '
          '10 ms; N parts closing together share the 4 finalize threads.)')
        w('')

    # ---------------- perf
    pf = R.get('perf') or {}
    if pf:
        w('## Profile')
        w('')
        w('`perf record -F 999 -g -p WORKER` during one extra '
          'faster-than-real-time run (not counted above); self time by '
          'symbol, worker and its threads:')
        w('')
        for c in ('c', 'b'):
            rows = pf.get(c)
            if not rows:
                continue
            w('%s:' % NAMES[c])
            w('')
            w('| self % | object | symbol |')
            w('|---|---|---|')
            for p, dso, sym in rows:
                w('| %.1f | %s | `%s` |' % (p, dso, sym))
            w('')

    # ---------------- notes
    w('## Method notes')
    w('')
    w('- Each run starts a fresh nginx with a private prefix under '
      '`bench/cache/run/` on a free loopback port, loading a private copy of '
      'the module (`bench/cache/module/`, so a rebuild during the run cannot '
      'change a loaded library). All configurations share one config file '
      'shape: `live on; play_restart on;` (the latter lets ffmpeg pullers '
      'see the end of a stream), ours with `live_record_interval 30m` and '
      '`thread_pool threads=4`.')
    w('- Baseline subtraction: the same publishers into `live on` only; the '
      'worker CPU of receiving, connection handling and logging is the '
      'same in every configuration.')
    w('- The 30-minute flatness check uses one part that gets %d media '
      'minutes faster than real time; the per-fragment buffers of a '
      'real-time part are the same, only the wall time is compressed.'
      % S['big_loops'])
    w('- Real-time N points with one run are indicative only; the key N '
      'values ran %s times (`BENCH_SWEEP`).'
      % '/'.join(sorted({str(len(v)) for v in g.values()})))
    w('')
    open(outp, 'w').write('\n'.join(L) + '\n')
    return 0


def pct(vals, p):
    vals = sorted(vals)
    if not vals:
        return None
    k = (len(vals) - 1) * p / 100.0
    f = int(k)
    c = min(f + 1, len(vals) - 1)
    return vals[f] + (vals[c] - vals[f]) * (k - f)


if __name__ == '__main__':
    sys.exit(main(sys.argv[1], sys.argv[2]))
