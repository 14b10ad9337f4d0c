#!/usr/bin/env bash
# ngx_live_record benchmark: `make bench` runs this.  See docs/benchmarks.md.
#
# Compares, on this machine and in the same run, nginx-rtmp `live on` alone
# (baseline), nginx-rtmp `record all` (FLV), this module (mp4; mp4+hls when
# the build has it) and one ffmpeg `-c copy -f segment` MP4 puller per
# stream; then rewrites docs/benchmarks.md.
#
# With BENCH_OLD (a commit, default 0df6410: main before the write-once MP4
# writer, libavformat + faststart remux) the module is also built at that
# commit (bench/cache/old-src, cached by commit) and runs as configuration
# (o) beside the current tree's in the long-part, faster-than-real-time and
# N=32/128/256 cases; BENCH_OLD=none leaves it out.
#
# Loopback only, bounded counts and durations (~22 min on 2 cores).  Every
# process it starts is recorded in bench/cache/pids and stopped by PID on
# exit; nginx runs with private prefixes under bench/cache/run/.
#
# Knobs (environment, all optional): BENCH_RT_SECONDS, BENCH_SWEEP
# ("N:reps,..."), BENCH_MAX_N, BENCH_FAST_STREAMS, BENCH_FAST_LOOPS,
# BENCH_FAST_REPS, BENCH_BIG_LOOPS, BENCH_EL_STREAMS, BENCH_PERF,
# BENCH_CONFIGS (subset of "abcdkoe"), BENCH_STAGES
# (dd,long,huge,fast,rt,el,notify,cluster; cluster: bench/cluster_close.pl,
# two nodes and a private PostgreSQL 15, with BENCH_CLUSTER_STREAMS,
# BENCH_CLUSTER_REPS, BENCH_CLUSTER_ROWS), BENCH_LONG_MINUTES (1,6,30,120), BENCH_CMP_N
# (32,128,256), BENCH_LOOPTRACE (1), BENCH_OLD (commit or none), BENCH_OUT
# (default docs/benchmarks.md).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cache=$top/bench/cache
out=${BENCH_OUT:-$top/docs/benchmarks.md}
results=$cache/results.json
py=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
driver_pid=

mkdir -p "$cache"
: > "$cache/pids"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [ -n "$driver_pid" ] && kill -0 "$driver_pid" 2>/dev/null; then
        kill -TERM "$driver_pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$driver_pid" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$driver_pid" 2>/dev/null || true
    fi
    # anything the driver started and did not stop (by PID, checked by name)
    if [ -f "$cache/pids" ]; then
        while read -r pid what; do
            [ -n "$pid" ] || continue
            if [ -r "/proc/$pid/cmdline" ] \
               && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q -- "$what"
            then
                kill -KILL "$pid" 2>/dev/null || true
            fi
        done < "$cache/pids"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# -- what the benchmark needs beyond `make deps` ------------------------------
"$top/scripts/need-packages.sh" bench python3 ffmpeg nginx libnginx-mod-rtmp \
    coreutils
# linux-perf serves the profile and the direct loop-iteration measure,
# strace the long parts' file I/O: the bench goes on without them
"$top/scripts/need-packages.sh" bench linux-perf || true
"$top/scripts/need-packages.sh" bench strace || true

# -- the module: built, then copied so a rebuild cannot touch the loaded one --
built=
for i in $(seq 1 20); do
    if make -s -C "$top" build >"$cache/build.log" 2>&1; then
        built=1
        break
    fi
    echo "bench: build failed (attempt $i, someone editing?), retrying in 15 s"
    tail -3 "$cache/build.log"
    sleep 15
done
[ -n "$built" ] || { echo "bench: the module does not build"; exit 1; }
mkdir -p "$cache/module"
cp "$top/build/ngx_live_record_module.so" "$cache/module/.mod.tmp"
mv -f "$cache/module/.mod.tmp" "$cache/module/ngx_live_record_module.so"

# -- the same module at the baseline commit (old vs new in one run) -----------
old=${BENCH_OLD-0df6410}
export BENCH_OLD_MODULE= BENCH_OLD_COMMIT= BENCH_OLD_SAME=
if [ -n "$old" ] && [ "$old" != none ]; then
    if oldc=$(git -C "$top" rev-parse --verify -q "$old^{commit}"); then
        osrc=$cache/old-src
        if [ "$(cat "$osrc/.commit" 2>/dev/null)" != "$oldc" ] \
           || [ ! -f "$osrc/build/ngx_live_record_module.so" ]; then
            echo "bench: building the module at $old (${oldc:0:12}) in $osrc"
            rm -rf "$osrc"
            mkdir -p "$osrc/build"
            git -C "$top" archive "$oldc" | tar -x -C "$osrc"
            # nginx-rtmp's source, the console assets and hls.js: the
            # current tree's, so nothing is fetched
            for d in rtmp console tools; do
                [ -d "$top/build/$d" ] && cp -a "$top/build/$d" "$osrc/build/"
            done
            if make -s -C "$osrc" build >"$cache/build-old.log" 2>&1; then
                echo "$oldc" > "$osrc/.commit"
            else
                echo "bench: the old module does not build (see" \
                     "$cache/build-old.log); configuration (o) left out"
                tail -3 "$cache/build-old.log"
            fi
        fi
        if [ -f "$osrc/.commit" ]; then
            mkdir -p "$cache/module-old"
            cp "$osrc/build/ngx_live_record_module.so" \
               "$cache/module-old/.mod.tmp"
            mv -f "$cache/module-old/.mod.tmp" \
               "$cache/module-old/ngx_live_record_module.so"
            BENCH_OLD_MODULE=$cache/module-old/ngx_live_record_module.so
            BENCH_OLD_COMMIT=$(git -C "$top" rev-parse --short "$oldc")
            # the C sources unchanged since then: old and new are one writer
            if git -C "$top" diff --quiet "$oldc" -- '*.c' '*.h' config
            then
                export BENCH_OLD_SAME="no C source differs from $BENCH_OLD_COMMIT"
            fi
        fi
    else
        echo "bench: BENCH_OLD=$old is not a commit here; (o) left out"
    fi
fi

# -- run ----------------------------------------------------------------------
start=$(date +%s)
echo "bench: running (about 22 minutes); progress below, raw results in" \
     "$results"
"$py" "$top/bench/bench.py" suite "$results" &
driver_pid=$!
rc=0
wait "$driver_pid" || rc=$?
driver_pid=

if [ "$rc" -ne 0 ]; then
    "$py" "$top/bench/bench.py" report "$results" "$cache/benchmarks-partial.md" \
        || true
    echo "bench: the run failed (rc=$rc); $out left as it was, partial" \
         "report in $cache/benchmarks-partial.md"
    exit "$rc"
fi

"$py" "$top/bench/bench.py" report "$results" "$out"
echo "bench: done in $(( $(date +%s) - start )) s; wrote $out"
