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
    'k': '(k) ours, mp4, `live_record_checksum off`',
    'o': '(o) ours, mp4, the old build (`BENCH_OLD`)',
}
SHORT = {'a': 'a baseline', 'b': 'b nginx-rtmp FLV', 'c': 'c ours mp4',
         'd': 'd ours mp4+hls', 'e': 'e ffmpeg puller',
         'k': 'k ours mp4 checksum off', 'o': 'o ours mp4 OLD build'}
ORDER = 'abcokde'


def huge_ratio(r, kind):
    """write or read bytes of the worker per output byte of one run"""
    io = r.get('io', {})
    out = (r.get('out_bytes') or 0) - (r.get('free_bytes') or 0)
    b = sum(v for k, v in io.items() if k in (kind + '_mp4', kind + '_rec'))
    return '%.3f×' % (b / out) if out else 'n/a'


def long_group(runs):
    """{(cfg, minutes): [run + derived ratios]} of the long-part stage."""
    out = {}
    for r in runs:
        d = dict(r)
        io = r.get('io', {})
        fsz = r.get('out_bytes') or 0
        # the denominator: the part's boxes other than free/skip (ftyp, moov,
        # mdat): a reserved region the moov did not fill is not output
        o = fsz - (r.get('free_bytes') or 0)
        d['out'] = o
        d['file'] = fsz
        d['w_rec'] = io.get('w_rec', 0)
        if fsz:
            d['wr_file'] = (io.get('w_mp4', 0) + io.get('w_rec', 0)) / fsz
            d['rd_file'] = (io.get('r_mp4', 0) + io.get('r_rec', 0)) / fsz
        else:
            d['wr_file'] = d['rd_file'] = None
        if o > 0:
            d['wr'] = (io.get('w_mp4', 0) + io.get('w_rec', 0)) / o
            d['rd'] = (io.get('r_mp4', 0) + io.get('r_rec', 0)) / o
            d['wr_mp4'] = io.get('w_mp4', 0) / o
            d['rd_mp4'] = io.get('r_mp4', 0) / o
            d['wchar_ratio'] = r.get('proc_io', {}).get('wchar', 0) / o
            d['rchar_ratio'] = r.get('proc_io', {}).get('rchar', 0) / o
        else:
            d['wr'] = d['rd'] = d['wr_mp4'] = d['rd_mp4'] = None
            d['wchar_ratio'] = d['rchar_ratio'] = None
        lg = r.get('log', {})
        d['crit'] = lg.get('crit', 0)
        d['crit_lines'] = lg.get('crit_lines', [])
        b = r.get('boxes') or []
        d['boxes'] = b[0] if b else ''
        out.setdefault((r['cfg'], r['minutes']), []).append(d)
    return out


def flat_sources(R):
    """(description, run) of every long part whose RSS was sampled by
    media minute: the event-loop stage's (pinned, with the probe) and the
    long-part stage's longest (under strace)."""
    out = []
    for r in R.get('eventloop', []):
        if r['cfg'] in ('c', 'd', 'o') and r.get('pinned') \
                and r.get('rss_vs_media_min'):
            out.append(('worker RSS while one long part is the only '
                        'recording, §4', r))
    lr = [r for r in R.get('long', []) if r.get('cfg') == 'c'
          and r.get('rss_vs_media_min')]
    if lr and not any(r['cfg'] == 'c' for _, r in out):
        r = max(lr, key=lambda x: x['minutes'])
        out.append(('long-part stage, under strace', r))
    return out


def flatness(s):
    """RSS growth over a part from its (media minute, KiB) samples."""
    if not s or len(s) < 3:
        return None
    end = s[-1][0]

    def at(mm):
        pts = [x for x in s if x[0] >= mm]
        return pts[0] if pts else None
    a1, a5 = at(1.0), at(5.0)
    # the last sample before the part closes (the close itself, in the
    # thread pool, allocates its own buffers)
    tail = [x for x in s if x[0] <= 0.97 * end]
    if not a5 or not tail or tail[-1][0] < a5[0] + 10:
        return None
    z = tail[-1]
    return {'growth': z[1] - a5[1], 'growth1': z[1] - (a1 or a5)[1],
            'end_min': z[0], 'last_min': end,
            'slope10': 10.0 * (z[1] - a5[1]) / (z[0] - a5[0])}


def old_vs_new(R, g, fg, LG, lmins, ours_add, old_add, flv_add, fours, fold,
               fflv, rss_n, F):
    rows = []
    S = R['settings']
    for mm in lmins:
        o, c = LG.get(('o', mm)), LG.get(('c', mm))
        if not o or not c:
            continue
        o, c = o[0], c[0]
        if o.get('wr') is not None and c.get('wr') is not None:
            rows.append(('write / output, %d-minute part' % mm, o['wr'],
                         c['wr'], '%.3f×'))
            rows.append(('read / output, %d-minute part' % mm, o['rd'],
                         c['rd'], '%.3f×'))
        rows.append(('`[error]`/`[crit]` lines, %d-minute part' % mm,
                     o['crit'], c['crit'], '%d'))
        if o.get('finalize_s') is not None and c.get('finalize_s') \
                is not None:
            rows.append(('publisher exit → part done, %d-minute part, s'
                         % mm, o['finalize_s'], c['finalize_s'], '%.2f'))
    for n in sorted(ours_add):
        ov, cv = med(v for _, v in old_add[n]), med(v for _, v in ours_add[n])
        if ov is None or cv is None:
            continue
        rows.append(('worker CPU above baseline, CPU-s / stream-minute, '
                     'N=%d' % n, ov, cv, '%.4f'))
        f = med(v for _, v in flv_add[n])
        if f:
            rows.append(('… / nginx-rtmp FLV `record all`, N=%d' % n,
                         ov / f, cv / f, '%.2f×'))
    if fold and fours:
        rows.append(('worker CPU above baseline, ms / MB, faster than real '
                     'time', med(v for _, v in fold),
                     med(v for _, v in fours), '%.3f'))
        f = med(v for _, v in fflv)
        if f:
            rows.append(('… / nginx-rtmp FLV `record all`',
                         med(v for _, v in fold) / f,
                         med(v for _, v in fours) / f, '%.2f×'))
    fo = [r for r in fg.get(('o', F), [])]
    fc = [r for r in fg.get(('c', F), [])]
    if fo and fc:
        rows.append(('worker write() / output bytes (§3, `/proc/PID/io`)',
                     med(r.get('wchar_ratio') for r in fo),
                     med(r.get('wchar_ratio') for r in fc), '%.2f'))
    if rss_n:
        ov = med(v for _, v in paired(g, 'o', rss_n, 'rss_ps'))
        cv = med(v for _, v in paired(g, 'c', rss_n, 'rss_ps'))
        if ov is not None and cv is not None:
            rows.append(('worker RSS growth per recording, KiB, N=%d'
                         % rss_n, ov, cv, '%.0f'))
    el = {r['cfg']: r for r in R.get('eventloop', []) if r.get('pinned')}
    if 'o' in el and 'c' in el:
        o, c = el['o'], el['c']
        for ph in ('ingest', 'finalize'):
            for src, lbl in (('loop', 'longest loop iteration'),
                             ('phases', 'probe delay max')):
                ov = o.get(src, {}).get(ph, {}).get('max_ms')
                cv = c.get(src, {}).get(ph, {}).get('max_ms')
                if ov is not None and cv is not None:
                    rows.append(('%s, ms, one %d-minute part, %s'
                                 % (lbl, S['big_loops'], ph), ov, cv,
                                 '%.1f'))
        if o.get('finalize_s') is not None and c.get('finalize_s') \
                is not None:
            rows.append(('publisher exit → %d-minute part in the store, s '
                         '(§5, no strace)' % S['big_loops'],
                         o['finalize_s'], c['finalize_s'], '%.2f'))
        if o.get('ingest_cpu_s') and c.get('ingest_cpu_s'):
            rows.append(('worker CPU while ingesting it, s',
                         o['ingest_cpu_s'], c['ingest_cpu_s'], '%.2f'))
        fo = flatness(o.get('rss_vs_media_min'))
        fc = flatness(c.get('rss_vs_media_min'))
        if fo and fc:
            rows.append(('worker RSS growth from media minute 5 to the '
                         'close, KiB', fo['growth'], fc['growth'], '%d'))
    for n in sorted({n for (c, n) in g if c == 'o'}):
        for ph in ('opening', 'closing'):
            for src, lbl in (('loop', 'longest loop iteration'),
                             ('probe', 'probe delay max')):
                ov = med([r[src][ph]['max_ms'] for r in g.get(('o', n), [])
                          if r.get(src, {}).get(ph, {}).get('n')])
                cv = med([r[src][ph]['max_ms'] for r in g.get(('c', n), [])
                          if r.get(src, {}).get(ph, {}).get('n')])
                if ov is not None and cv is not None:
                    rows.append(('%s, ms, N=%d %s' % (lbl, n, ph), ov, cv,
                                 '%.1f'))
    return rows


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
      'BENCH_FAST_LOOPS=%s BENCH_FAST_REPS=%s BENCH_BIG_LOOPS=%s '
      'BENCH_LONG_MINUTES=%s BENCH_CMP_N=%s BENCH_OLD=%s`).'
      % (S['rt_seconds'], S['sweep'], S['max_n'], S['fast_loops'],
         S['fast_reps'], S['big_loops'], S.get('long_minutes'),
         S.get('cmp_n'), S.get('old') or 'none'))
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
    w('**Configurations:** ' + '; '.join(NAMES[c] for c in ORDER
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
    old_add = {n: paired(g, 'o', n, 'cpm') for n in Ns}
    off_add = {n: paired(g, 'k', n, 'cpm') for n in Ns}
    flv_add = {n: paired(g, 'b', n, 'cpm') for n in Ns}
    pull_add = {n: paired(g, 'e', n, 'cpm', extra='pull_cpm') for n in Ns}
    F = S['fast_streams']
    fours = paired(fg, 'c', F, 'ms_per_mb')
    fold = paired(fg, 'o', F, 'ms_per_mb')
    foff = paired(fg, 'k', F, 'ms_per_mb')
    fflv = paired(fg, 'b', F, 'ms_per_mb')
    LG = long_group(R.get('long', []))
    lmins = sorted({mm for (_, mm) in LG})
    old = R.get('old', {})
    oldname = ('old build %s' % old.get('commit')) if old.get('ok') \
        else 'old build'
    ck = R.get('checksum', {})

    w('## Targets (issue 13)')
    w('')
    w('"new" = the module built from this tree (%s); "old" = the same '
      'bench with the module built at %s (libavformat MP4 + faststart '
      'remux), in the same run%s.'
      % (m['git'], old.get('commit') or 'BENCH_OLD',
         '' if old.get('ok') else
         ' — **not run** (%s)' % (old.get('msg') or 'BENCH_OLD=none')[-160:]))
    if old.get('ok') and old.get('same'):
        w('')
        w('**Note:** the old and new builds record MP4 the same way here '
          '(%s), so old vs new shows the noise of the machine, not a '
          'change.' % old['same'])
    w('')
    w('| target | measured | verdict |')
    w('|---|---|---|')
    t_start = len(L)

    def lio(mm, cfg):
        rs = LG.get((cfg, mm), [])
        return rs[0] if rs else None

    # 1. file I/O per output byte, long parts
    for mm in lmins:
        r, o, k = lio(mm, 'c'), lio(mm, 'o'), lio(mm, 'k')
        if r and r.get('wr') is not None:
            w('| worker write() ≤ 1.02× output, %d-minute part (checksum on)'
              ' | new **%.3f×** (%.3f× of the file size, reserved hole '
              'included)%s | %s |'
              % (mm, r['wr'], r['wr_file'], '; old %.3f×' % o['wr'] if o and
                 o.get('wr') is not None else '', verdict(r['wr'] <= 1.02)))
            w('| worker read() ≤ 1.02× output, %d-minute part (checksum on) '
              '| new **%.3f×** (%.3f× of the file size)%s | %s |'
              % (mm, r['rd'], r['rd_file'], '; old %.3f×' % o['rd'] if o and
                 o.get('rd') is not None else '', verdict(r['rd'] <= 1.02)))
        if k and k.get('rd') is not None:
            w('| worker read() ≤ 0.02× output, %d-minute part (checksum off)'
              ' | new **%.3f×** (write %.3f×) | %s |'
              % (mm, k['rd'], k['wr'], verdict(k['rd'] <= 0.02)))
    if lmins and not ck.get('ok'):
        w('| worker read() ≤ 0.02× output (checksum off) | not measured: '
          '`live_record_checksum off;` is unknown to `nginx -t` in this '
          'build (tried in the template, in `rtmp {}` and in the '
          'application) | pending |')
    errs = [(mm, lio(mm, 'c')) for mm in lmins if lio(mm, 'c')]
    if errs:
        tot = sum(r['crit'] for _, r in errs)
        oerr = [(mm, lio(mm, 'o')) for mm in lmins if lio(mm, 'o')]
        w('| zero `[error]`/`[crit]` lines, parts of %s minutes | new: %s'
          '%s | %s |'
          % (', '.join(str(mm) for mm, _ in errs),
             ', '.join('%d min: %d' % (mm, r['crit']) for mm, r in errs),
             ('; old: ' + ', '.join('%d min: %d' % (mm, r['crit'])
                                    for mm, r in oerr)) if oerr else '',
             verdict(tot == 0)))
        bad = [(mm, r) for mm, r in errs if not r.get('valid')]
        w('| (not an issue-13 figure, checked alongside) every input packet '
          'is in the part, parts of %s minutes | %s | %s |'
          % (', '.join(str(mm) for mm, _ in errs),
             '; '.join('%d min: %s of %s, %d "drops frames" warnings'
                       % (mm, r.get('counts'), {k: v * max(1, round(
                           mm * 60.0 / R['input']['duration']))
                           for k, v in R['input']['counts'].items()},
                          r.get('log', {}).get('drops', 0))
                       for mm, r in bad) or 'all equal to the input',
             verdict(not bad)))

    # 2. CPU
    def cpu_row(label, o, f, rl, extra):
        w('| %s | %s vs %s = **%.2f×** (per-rep %s)%s | %s |'
          % (label, o[0], f[0], o[1] / f[1], ms(rl, '%.2f'), extra,
             verdict(o[1] / f[1] <= 1.2)))

    for n in [n for n in (32, 128) if n in Ns] or key_ns:
        o, f = med(v for _, v in ours_add[n]), med(v for _, v in flv_add[n])
        if o is None or not f:
            continue
        extra = ''
        ov = med(v for _, v in old_add[n])
        if ov is not None:
            extra += '; old %.2f×' % (ov / f)
        kv = med(v for _, v in off_add[n])
        if kv is not None:
            extra += '; new, checksum off %.2f×' % (kv / f)
        cpu_row('ours mp4 CPU above baseline ≤ 1.2× nginx-rtmp FLV `record '
                'all`, per stream-minute, N=%d (checksum on)' % n,
                ('%.4f' % o, o), ('%.4f CPU-s/stream-min' % f, f),
                ratio_list(ours_add[n], flv_add[n]), extra)
    o, f = med(v for _, v in fours), med(v for _, v in fflv)
    if o is not None and f:
        extra = ''
        if fold:
            extra += '; old %.2f×' % (med(v for _, v in fold) / f)
        if foff:
            extra += '; new, checksum off %.2f×' % (med(v for _, v in foff)
                                                     / f)
        cpu_row('… per MB, faster than real time (%d streams × %d min)'
                % (F, S['fast_loops']), ('%.3f' % o, o),
                ('%.3f ms CPU/MB' % f, f), ratio_list(fours, fflv), extra)

    # 3. memory
    rss_n = max([n for n in Ns if g.get(('c', n)) and g.get(('a', n))] or [0])
    if rss_n and med(v for _, v in paired(g, 'c', rss_n, 'rss_ps')) is not None:
        rss_ours = med(v for _, v in paired(g, 'c', rss_n, 'rss_ps'))
        rss_old = med(v for _, v in paired(g, 'o', rss_n, 'rss_ps'))
        w('| worker RSS growth ≤ 256 KiB per active MP4 recording (ours − '
          'baseline, N=%d) | new **%.0f KiB**%s | %s |'
          % (rss_n, rss_ours, '; old %.0f KiB' % rss_old
             if rss_old is not None else '', verdict(rss_ours <= 256)))
    for src, r in flat_sources(R):
        fl = flatness(r.get('rss_vs_media_min'))
        if not fl:
            continue
        w('| … and flat over a %.0f-minute part, %s (%s; criterion: growth '
          'from media minute 5 to the last sample before the close < 64 KiB, '
          'minutes 0–5 being allocator warm-up) | %+d KiB from minute 5 to '
          '%.0f (%+d KiB from minute 1; %.1f KiB per 10 media minutes) | %s |'
          % (fl['last_min'], SHORT[r['cfg']], src, fl['growth'], fl['end_min'],
             fl['growth1'], fl['slope10'], verdict(fl['growth'] < 64)
             if r['cfg'] != 'o' else 'old, for comparison'))

    # 4. the event loop
    def el_verdict(cmax, bmax):
        if cmax is None:
            return 'pending'
        if cmax <= 5:
            return verdict(True)
        if bmax is not None and bmax > 5 and cmax <= 1.5 * bmax:
            return ('inconclusive (the baseline shows %.1f ms in the '
                    'same phase)' % bmax)
        return verdict(False)

    probe_ns = sorted({n for (c, n), rs in g.items()
                       if any(r.get('probe') for r in rs)})
    for n in probe_ns:
        for cfg in ('c', 'd'):
            for ph, what in (('opening', '%d streams connect and open their '
                              'parts'),
                             ('recording', '%d real-time streams recording'),
                             ('closing', '%d parts close at once')):
                lt = [r['loop'][ph] for r in g.get((cfg, n), [])
                      if r.get('loop', {}).get(ph, {}).get('n')]
                pr = [r['probe'][ph] for r in g.get((cfg, n), [])
                      if r.get('probe', {}).get(ph, {}).get('n')]
                bl = [r['loop'][ph] for r in g.get(('a', n), [])
                      if r.get('loop', {}).get(ph, {}).get('n')]
                ol = [r['loop'][ph] for r in g.get(('o', n), [])
                      if r.get('loop', {}).get(ph, {}).get('n')]
                if not lt and not pr:
                    continue
                key = ('own_max_ms' if lt and all('own_max_ms' in x
                                                  for x in lt + bl)
                       else 'max_ms')
                cmax = med([x[key] for x in lt]) if lt else None
                bmax = med([x[key] for x in bl]) if bl else None
                cs = med([r.get('connect_s') for r in g.get((cfg, n), [])])
                w('| loop iterations ≤ 5 ms, %s, %s | iterations less time '
                  'preempted: max %s ms, %s > 5 ms; wall: max %s ms, %s of %s '
                  '> 5 ms (baseline max %s ms, less time preempted %s ms, '
                  '%s > 5 ms%s); probe delay max %s ms | %s |'
                  % (SHORT[cfg], (what % n) + (
                      ' (all connected within %.1f s)' % cs
                      if ph == 'opening' and cs else ''),
                     ms([x.get('own_max_ms', 0) for x in lt], '%.1f')
                     if lt else 'n/a',
                     '/'.join(str(x.get('own_over5ms', 'n/a')) for x in lt)
                     or 'n/a',
                     ms([x['max_ms'] for x in lt], '%.1f') if lt else 'n/a',
                     '/'.join(str(x['over5ms']) for x in lt) or 'n/a',
                     '/'.join(str(x['n']) for x in lt) or 'n/a',
                     ms([x['max_ms'] for x in bl], '%.1f') if bl else 'n/a',
                     ms([x.get('own_max_ms', 0) for x in bl], '%.1f')
                     if bl else 'n/a',
                     '/'.join(str(x.get('own_over5ms', 'n/a')) for x in bl)
                     or 'n/a',
                     ('; old max %s ms' % ms([x['max_ms'] for x in ol],
                                             '%.1f')) if ol else '',
                     ms([x['max_ms'] for x in pr], '%.1f') if pr else 'n/a',
                     el_verdict(cmax if lt else None, bmax)))
    for r in R.get('eventloop', []):
        if r['cfg'] not in ('c', 'd', 'o') or not r.get('pinned'):
            continue
        base = [x for x in R['eventloop'] if x['cfg'] == 'a'
                and x['pinned'] == r['pinned']]
        for ph, what in (('ingest', 'one publisher pushing %d media minutes '
                          'faster than real time' % S['big_loops']),
                         ('finalize', 'its %.1f GB part closing'
                          % ((r.get('big_bytes') or 0) / 1e9))):
            lt = r.get('loop', {}).get(ph, {})
            pb = r['phases'].get(ph, {})
            if not lt.get('n') and not pb.get('n'):
                continue
            bl = base[0].get('loop', {}).get(ph, {}) if base else {}
            key = 'own_max_ms' if 'own_max_ms' in lt else 'max_ms'
            w('| loop iterations ≤ 5 ms, %s, %s (8 live streams alongside) '
              '| iterations less time preempted: max %s ms, %s > 5 ms; wall: '
              'max %s ms, %s of %s > 5 ms (baseline max %s ms, less time '
              'preempted %s ms, %s > 5 ms); probe delay max %s ms | %s |'
              % (SHORT[r['cfg']], what, fmt(lt.get('own_max_ms'), '%.1f'),
                 lt.get('own_over5ms', 'n/a'),
                 fmt(lt.get('max_ms'), '%.1f'),
                 lt.get('over5ms', 'n/a'), lt.get('n', 'n/a'),
                 fmt(bl.get('max_ms'), '%.1f'),
                 fmt(bl.get('own_max_ms'), '%.1f'),
                 bl.get('own_over5ms', 'n/a'), fmt(pb.get('max_ms'), '%.1f'),
                 el_verdict(lt.get(key), bl.get(key))
                 if r['cfg'] != 'o' else 'old, for comparison'))

    # 5. close -> record_done
    nr = R.get('notify_run')
    if nr and nr.get('lat_s'):
        lat = nr['lat_s']
        p99 = pct(lat, 99)
        w('| close→`record_done` p99 < 1 s (local store) | p50 %.3f s, p99 '
          '**%.3f s** over %d stops (%d/%d notified) | %s |'
          % (pct(lat, 50), p99, len(lat), nr['notified'], nr['stops'],
             verdict(p99 < 1 and nr['notified'] == nr['stops'])))
    else:
        w('| close→`record_done` p99 < 1 s (local store) | pending (notify '
          'not in this build%s) | pending |'
          % ('' if not R.get('notify', {}).get('ok')
             else '; run failed or skipped'))
    # earlier target, kept
    for n in key_ns:
        o, p = med(v for _, v in ours_add[n]), med(v for _, v in pull_add[n])
        if o is not None and p:
            w('| (earlier target) ours ≤ 0.35× what a puller adds (ffmpeg + '
              'nginx relay, above baseline), N=%d | %.4f vs %.4f '
              'CPU-s/stream-min = **%.2f×** | %s |'
              % (n, o, p, o / p, verdict(o / p <= 0.35)))
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
        if v.startswith('met') or v.startswith('old'):
            continue
        w('- **%s**: %s — %s' % (v.split(' ')[0].upper(), r[0], r[1]))
    w('')

    # ---------------- old vs new
    ovn = old_vs_new(R, g, fg, LG, lmins, ours_add, old_add, flv_add,
                     fours, fold, fflv, rss_n, F)
    if ovn:
        w('## Old vs new, same run')
        w('')
        w('| figure | old (%s) | new | new / old |' % (old.get('commit')
                                                      or 'BENCH_OLD'))
        w('|---|---|---|---|')
        for label, a, b, f in ovn:
            w('| %s | %s | %s | %s |'
              % (label, f % a, f % b,
                 ('%.2f×' % (b / a)) if a else 'n/a'))
        w('')

    # ---------------- long parts
    if LG:
        w('## Long parts: file I/O per output byte (issue 13)')
        w('')
        w('One stream, one part: the 60 s input looped to %s minutes '
          '(2.66 Mbit/s, 1280x720 H.264 + AAC, ~20 MB per media '
          'minute) and pushed by one `ffmpeg -stream_loop N-1 -i input.flv '
          '-c copy -f flv` as fast as nginx takes it, into '
          '`live_record_interval 30m` (the default) for parts up to 30 '
          'minutes, `120m` above. nginx runs under `strace -f -ff -qq -y -s '
          '0 --seccomp-bpf -e trace=%s` (started under it, so that only '
          'these calls stop; attaching with -p would stop every recv() and '
          'epoll_wait), which logs every such call of every thread with the '
          'path of its fd; the worker\'s threads\' files are summed from '
          'just before the publisher connects until the part is `done` in '
          'the store. "write/read per output" sums the returned byte counts '
          'of calls on regular files under the run\'s prefix (the part, '
          'its sidecar/temporary files, index and spool; not the error '
          'log, not sockets: nginx reads RTMP with recv(), which is not in '
          'the list, and the few writev()s to sockets are left out by their '
          'fd) and divides by the final .mp4\'s size. "mp4" = only calls on '
          '`*.mp4` files. `[error]/[crit]` = lines of that level in the '
          'error log during the run. The worker runs under strace here: its '
          'CPU and the ingest time are not comparable with the other '
          'sections (CPU is measured without strace in §1 and §3).'
          % (', '.join(str(x) for x in lmins), 'read,pread64,readv,preadv,preadv2,write,pwrite64,writev,'
          'pwritev,pwritev2,copy_file_range,sendfile,splice'))
        w('')
        w('| minutes | config | interval | output MB (ftyp+moov+mdat) | file '
          'MB (on disk) | write / output | read / output | write / file '
          '| read / file | mp4 write / output | other files written MB | '
          '`[error]`/`[crit]` | ingest s | publisher exit → done s | '
          'top-level boxes | packets = input | `/proc/PID/io` wchar, rchar '
          '/ output |')
        w('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|'
          '---|')
        for mm in lmins:
            for c in 'ock':
                for r in LG.get((c, mm), []):
                    w('| %d | %s | %s | %.1f | %.1f (%.1f) | %s | %s | %s | %s '
                      '| %s | %.2f | %d | %.1f | %s | %s | %s | %s, %s |'
                      % (mm, SHORT[c], r.get('interval', '120m'),
                         r['out'] / 1e6, r['file'] / 1e6,
                         (r.get('alloc_bytes') or 0) / 1e6, fmt(r['wr']),
                         fmt(r['rd']), fmt(r['wr_file']), fmt(r['rd_file']),
                         fmt(r['wr_mp4']),
                         r['w_rec'] / 1e6, r['crit'], r.get('ingest_s') or 0,
                         fmt(r.get('finalize_s'), '%.2f'),
                         '`%s`' % r['boxes'] if r.get('boxes') else 'n/a',
                         'yes' if r.get('valid') else '**NO** %s'
                         % str(r.get('counts'))[:80],
                         fmt(r.get('wchar_ratio'), '%.3f'),
                         fmt(r.get('rchar_ratio'), '%.3f')))
        w('')
        w('"output" = the part\'s boxes other than `free` (the moov, the '
          'mdat and ftyp): the bytes a one-pass writer has to write at '
          'least. "file" = its size, which with the new writer includes '
          'the unused part of the reserved region (a `free` box, punched '
          'out, so the file is sparse: "on disk" is `st_blocks` × 512); the '
          'checksum hashes that hole as zeros without reading it '
          '(SEEK_DATA/SEEK_HOLE). fallocate() and hole punching are not '
          'write() calls and are not counted. Input: %s packets per media '
          'minute; "packets = input" compares the part\'s `stsz` counts '
          'with the input\'s.' % inp.get('counts'))
        w('')
        lines = [(r, x) for rs in LG.values() for r in rs
                 for x in (r.get('crit_lines', [])[:1]
                           + r.get('log', {}).get('drops_lines', [])[:1])]
        if lines:
            w('First `[error]`/`[crit]` line and first "drops frames" '
              'warning of each run that had any:')
            w('')
            for r, x in lines:
                w('- %s, %d min: `%s`' % (SHORT[r['cfg']], r['minutes'],
                                          x.replace('`', "'")[-220:]))
            w('')

    # ---------------- a part above 4 GiB
    H = R.get('huge')
    if H:
        w('## A part above 4 GiB (issue 13: `co64`)')
        w('')
        if H.get('error'):
            w('Not measured: %s' % H['error'])
        else:
            w('A 60 s clip at 40 Mbit/s (%s) looped into one part of %.2f '
              'GiB, pushed as fast as nginx takes it (same method as the '
              'long parts, config c). Chunk offset boxes: `%s`; packets = '
              'input: %s; the last 2 s decode with `ffmpeg -sseof -2 -i '
              'PART -f null -`: %s; `[error]`/`[crit]` lines: %d; write / '
              'output %s, read / output %s.'
              % (H.get('spec', 'see bench.py'),
                 (H.get('huge_bytes') or 0) / 2**30,
                 ' '.join(H.get('chunk_boxes') or []) or 'n/a',
                 'yes' if H.get('valid') else '**NO** %s'
                 % str(H.get('counts'))[:80],
                 'yes' if H.get('huge_tail_decodes')
                 else '**NO** %s' % H.get('huge_tail_err', ''),
                 H.get('log', {}).get('crit', 0),
                 huge_ratio(H, 'w'), huge_ratio(H, 'r')))
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
        for c in ORDER:
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
                 ('%d "drops frames" warnings, ' % r['log']['drops'])
                 if r.get('log', {}).get('drops') else '', r['valid_s'], r.get('pub_wall_s', 0),
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
    orows = []
    for n in Ns:
        f = med(v for _, v in flv_add[n])
        for c, add in (('o', old_add[n]), ('k', off_add[n])):
            if add and f:
                orows.append('| %d | %s | %s | %s | %.2f× (per-rep %s) |'
                             % (n, SHORT[c], ms([v for _, v in add], '%.4f'),
                                fmt(f, '%.4f'),
                                med(v for _, v in add) / f,
                                ms(ratio_list(add, flv_add[n]), '%.2f')))
    if orows:
        w('The old build and checksum off, same repetitions:')
        w('')
        w('| N | config | add | FLV add | / FLV |')
        w('|---|---|---|---|---|')
        L.extend(orows)
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
        for c in 'abcokd':
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
              'Ours (mp4) writes every recorded byte %s times and reads '
              'back %s times as many (columns "worker write()/read() / '
              'output bytes", from `/proc/PID/io`: wchar/rchar count file '
              'I/O only here, nginx reads RTMP with recv(); the long-part '
              'section checks this against strace; "output" here is the '
              'files\' sizes in the store, which for the new writer include '
              'the unused, punched-out part of the reserved region, so the '
              'long-part section\'s ratios, against the boxes actually '
              'written, are the exact ones); at that write rate the disk, '
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
              for c in ORDER if g.get((c, rss_n))) + '.')
        w('')
    lr = [r for r in R.get('long', []) if r.get('rss_vs_media_min')
          and r['minutes'] >= 30]
    for r in [r for r in R.get('eventloop', []) if r.get('pinned')] + lr:
        s = r.get('rss_vs_media_min')
        if r['cfg'] not in ('c', 'd', 'o', 'k') or not s:
            continue
        if 'minutes' in r:
            w(SHORT[r['cfg']] + ', long-part stage (%d-minute part, under '
              'strace), worker RSS by media minute: %s. Before: %s KiB; '
              'after the close: %s KiB.'
              % (r['minutes'], '; '.join(
                  '%.0f min: %d KiB' % (p[0][0], p[0][1])
                  for p in ([x for x in s if x[0] >= want]
                            for want in (1, 5, 15, 30, 60, 90, 115))
                  if p), r.get('rss_before_kb'), r.get('rss_after_kb')))
            w('')
            continue
        marks = []
        for want in (1, 5, 10, 20, 30, 45, 60, 90, 110):
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
    w('Two measures. **Loop iterations (direct):** `perf record -a -k mono '
      '-e syscalls:sys_enter_epoll_wait -e syscalls:sys_exit_epoll_wait '
      '--filter "common_pid == WORKER"` (kernel tracepoints, no ptrace '
      'stop, CLOCK_MONOTONIC) records the worker\'s main thread leaving and '
      're-entering `epoll_wait`; one iteration = the time between the two '
      '(event handlers, expired timers, posted events): what a slow file '
      'operation on the loop shows up in. That is wall time, which '
      'includes the worker being preempted by its own thread-pool threads '
      'on the same pinned CPU and by anything else on a shared machine; '
      'the same record has `sched:sched_switch` for the worker\'s main '
      'thread, and "less time preempted" subtracts, within each '
      'iteration, the spans where it was switched out while runnable '
      '(`prev_state` R): a disk wait (D) or any block (S) inside a '
      'handler still counts, as it is the loop\'s own. The targets are '
      'judged on that figure. **Probe delivery delay (indirect):** see below; it '
      'also counts the time the worker waits for the CPU while parked in '
      '`epoll_wait` (e.g. behind finalize threads), which an iteration '
      'does not.')
    w('')
    lrows = []
    for n in sorted({n for (c, n) in g}):
        for c in ORDER:
            for ph in ('opening', 'recording', 'closing'):
                xs = [r['loop'][ph] for r in g.get((c, n), [])
                      if r.get('loop', {}).get(ph, {}).get('n')]
                if xs:
                    lrows.append('| %s | %d | %s | %d | %s | %s | %s | %s | '
                                 '%s |' % (
                                     SHORT[c], n, ph, len(xs),
                                     ms([x['max_ms'] for x in xs], '%.1f'),
                                     ms([x['p999_ms'] for x in xs], '%.2f'),
                                     ms([x['p99_ms'] for x in xs], '%.2f'),
                                     ms([100 * x['busy'] for x in xs],
                                        '%.0f'),
                                     ' / '.join('%d of %d' % (
                                         x['over5ms'], x['n']) for x in xs)))
    for r in R.get('eventloop', []):
        for ph in ('steady', 'ingest', 'finalize', 'after'):
            x = r.get('loop', {}).get(ph)
            if x and x.get('n'):
                lrows.append('| %s (%s) | long part | %s | 1 | %.1f | %.2f | '
                             '%.2f | %.0f | %d of %d |' % (
                                 SHORT[r['cfg']], 'pinned' if r['pinned']
                                 else '2 CPUs', ph, x['max_ms'],
                                 x['p999_ms'], x['p99_ms'], 100 * x['busy'],
                                 x['over5ms'], x['n']))
    if lrows:
        w('Loop iterations (direct), per phase (phases as defined below):')
        w('')
        w('| config | N | phase | runs | max ms | p99.9 ms | p99 ms | '
          'loop busy % | iterations > 5 ms |')
        w('|---|---|---|---|---|---|---|---|---|')
        L.extend(lrows)
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
            for c in ORDER:
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
        for c in 'cok':
            lat = sorted(x for r in g.get((c, n), [])
                         for x in r.get('close_to_store_s', []))
            if lat:
                rows.append('| %d | %s | %d | %.3f | %.3f | %.3f |'
                            % (n, SHORT[c], len(lat), pct(lat, 50),
                               pct(lat, 99), lat[-1]))
    if rows:
        w('| N streams closing at once | config | parts | close→store p50 s '
          '| p99 s | max s |')
        w('|---|---|---|---|---|---|')
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
    w('- The flatness check uses one part that gets %d media minutes '
      'faster than real time (`live_record_interval 120m`, the longest '
      'allowed); the per-part buffers of a real-time part are the same, '
      'only the wall time is compressed.' % S['big_loops'])
    w('- Old vs new: `bench/run.sh` builds the module a second time from '
      '`git archive BENCH_OLD` (default 0df6410) in `bench/cache/old-src` '
      '(nginx-rtmp source, console assets and hls.js copied from this '
      'tree\'s `build/`, nothing fetched; cached by commit) and runs it as '
      'configuration (o) right after (c) in the same repetition, in the '
      'long-part stage, the faster-than-real-time stage, at N = %s in real '
      'time and in the event-loop stage. `BENCH_OLD=none` leaves it out.'
      % S.get('cmp_n', ''))
    w('- Checksum off (k): `live_record_checksum off;` (in the template; '
      'the bench asks `nginx -t` where it is accepted) %s.'
      % ('was accepted (%s)' % R['checksum']['where']
         if R.get('checksum', {}).get('ok') else
         '**is not known to this build**, so (k) did not run'))
    w('- Run length: to keep `make bench` near 20 minutes with the added '
      'stages, the real-time sweep runs N=32 and N=128 twice (was three '
      'times), the faster-than-real-time stage twice (was three times); '
      'the long-part stage adds 1+6+30+120 media minutes per '
      'configuration. Real-time N points with one run are indicative '
      'only; the key N values ran %s times (`BENCH_SWEEP`).'
      % '/'.join(sorted({str(len(v)) for v in g.values()})))
    w('- Loop iterations are wall time on a CPU the worker shares with its '
      'own thread-pool threads and, on this shared VM, with whatever else '
      'runs there: a single long iteration in a point that ran once can be '
      'the machine, read the counts of iterations > 5 ms and the baseline '
      'beside it; the targets use each iteration less the time it was '
      'preempted (sched:sched_switch on the same perf record, §5).')
    w('- Real-time parts are 10 s long with `live_record_interval 30m`: '
      'the new writer\'s reserved region (sized for 30 minutes) is then '
      'larger than the media (see "output MB / stream-min", file sizes), '
      'and the checksum reads it whole, so checksum-on CPU per stream-minute '
      'in §1–2 weighs the hash more than a 30-minute part does; the '
      'long-part section gives the per-part-length picture.')
    w('- Loop iterations: see §5. The perf tracepoints are on in the '
      'real-time runs that carry the probe (N ≥ %s) and in the event-loop '
      'stage; `BENCH_LOOPTRACE=0` turns them off.'
      % S.get('probe_min_n', 128))
    w('')
    cluster_section(R, w)
    open(outp, 'w').write('\n'.join(L) + '\n')
    return 0


def cluster_section(R, w):
    """issue 16: index rows per second into one PostgreSQL from two nodes,
    and the loop time a part close costs more with the cluster on."""
    c = R.get('cluster')
    if not c:
        return
    w('## Cluster (issue 16)')
    w('')
    if c.get('error'):
        w('Not measured: %s' % c['error'])
        w('')
        return
    w('`%s` (bench stage `cluster`, `BENCH_STAGES=cluster`): two nodes, '
      'one worker each, and a private PostgreSQL 15 on this machine.'
      % c.get('command', 'perl bench/cluster_close.pl'))
    w('')
    w('| measure | value |')
    w('|---|---|')
    w('| parts closing at once (%d streams of %s s per node, pushed at '
      'full speed) | %d |' % (c['streams_per_node'], c.get('seconds', 4),
                              c['parts']))
    w('| last of their rows in PostgreSQL, after the last publisher ended '
      '(median of %d) | %.2f s |' % (c['reps'], c['burst_last_row_s']))
    w('| rows/s from 2 nodes replaying %d spooled rows each (sustained) '
      '| **%.0f** |' % (c['replay_rows'] // 2, c['replay_rows_per_s']))
    w('| event-loop time over the burst, both workers, cluster off / on '
      '(median of %d; each run: off %s, on %s) | %.1f ms / %.1f ms |'
      % (c['reps'],
         ', '.join('%.0f' % sum(x['loop_ms']) for x in c['off']),
         ', '.join('%.0f' % sum(x['loop_ms']) for x in c['on']),
         c['loop_ms_off'], c['loop_ms_on']))
    w('| extra loop time per part close with the cluster on | **%.3f ms** |'
      % c['extra_loop_ms_per_part'])
    w('')
    w('Loop time is the worker main thread\'s CPU time '
      '(`/proc/PID/task/PID/schedstat`) from 1 s before the pushes to 1 s '
      'after the last index entry (and row) was in; the ingest is the same '
      'with the cluster on and off, so the difference is the rows\' work '
      '(spool file, query, answer).')
    w('')


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
