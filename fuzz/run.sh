#!/bin/bash
# `make fuzz`, after fuzz/deps.sh: builds build/fuzz/fuzz_tag (the codec
# parsers and the segmenter), fuzz_mp4_sidecar, fuzz_s3_reply, fuzz_utf8
# fuzz_spool and fuzz_handover with clang (libFuzzer, ASan, UBSan), makes
# the seed corpus once
# (fuzz/seeds.sh), adds fuzz/regress/ to it, and fuzzes each for
# FUZZ_SECONDS (default 60).  The log is build/fuzz/fuzz.log; crashes go to
# build/fuzz/crashes/.  Exits non-zero if the fuzzer found something.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${NGX_LIVE_RECORD_BUILD:-$top/build}
ngx_src=${NGX_SRC:-/usr/share/nginx/src}
seconds=${FUZZ_SECONDS:-60}
dir=$build/fuzz

if [ ! -f "$build/ngx/ngx_auto_config.h" ]; then
    echo "fuzz: $build/ngx/ngx_auto_config.h is missing: run make first" >&2
    exit 1
fi

mkdir -p "$dir/corpus" "$dir/crashes"

# UB is reported, not trapped, so that fuzz/ubsan.supp can hold a known
# finding back; halt_on_error makes every other report a crash

clang -fsanitize=fuzzer,address,undefined -g -O1 \
    -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
    -I"$ngx_src/src/core" -I"$ngx_src/src/event" \
    -I"$ngx_src/src/event/modules" -I"$ngx_src/src/os/unix" \
    -I"$build/ngx" -I"$top" -I"$top/mux" \
    -o "$dir/fuzz_tag.tmp" "$top/fuzz/fuzz_tag.c" \
    "$top/mux/ngx_live_record_codec.c" "$top/ngx_live_record_segmenter.c"
mv "$dir/fuzz_tag.tmp" "$dir/fuzz_tag"

# the MP4 sidecar read back at recovery: parser and recover() on hostile
# bytes; t/mp4/ngx_stub.c stands in for the pool and log of nginx's core

clang -fsanitize=fuzzer,address,undefined -g -O1 \
    -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
    -I"$ngx_src/src/core" -I"$ngx_src/src/event" \
    -I"$ngx_src/src/event/modules" -I"$ngx_src/src/os/unix" \
    -I"$build/ngx" -I"$top" -I"$top/mux" -I"$top/t/mp4" \
    -o "$dir/fuzz_mp4_sidecar.tmp" "$top/fuzz/fuzz_mp4_sidecar.c" \
    "$top/mux/ngx_live_record_mp4.c" "$top/mux/ngx_live_record_mp4_moov.c" \
    "$top/mux/ngx_live_record_mp4_chain.c" \
    "$top/mux/ngx_live_record_mp4_resume.c" \
    "$top/mux/ngx_live_record_codec.c" "$top/t/mp4/ngx_stub.c"
mv "$dir/fuzz_mp4_sidecar.tmp" "$dir/fuzz_mp4_sidecar"
mkdir -p "$dir/corpus-mp4"

# S3 replies (libxml2) and the ETag header: fuzz_s3_reply.c, seeded from
# fuzz/s3/

xml2_inc=$(pkg-config --cflags-only-I libxml-2.0 2>/dev/null \
           || echo -I/usr/include/libxml2)
clang -fsanitize=fuzzer,address,undefined -g -O1 \
    -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
    -I"$ngx_src/src/core" -I"$ngx_src/src/event" \
    -I"$ngx_src/src/event/modules" -I"$ngx_src/src/os/unix" \
    -I"$build/ngx" -I"$top" -I"$top/store" -I"$top/t/mp4" $xml2_inc \
    -o "$dir/fuzz_s3_reply.tmp" "$top/fuzz/fuzz_s3_reply.c" \
    "$top/store/ngx_live_record_s3.c" "$top/t/mp4/ngx_stub.c" \
    -lxml2 -lcrypto
mv "$dir/fuzz_s3_reply.tmp" "$dir/fuzz_s3_reply"
mkdir -p "$dir/corpus-s3"
for f in "$top"/fuzz/s3/*; do
    case ${f##*/} in
    README*) ;;
    *) cp "$f" "$dir/corpus-s3/seed-${f##*/}" ;;
    esac
done

# what may reach JSON (core/ngx_live_record_utf8.c): names, query
# strings, API bodies; seeded from fuzz/regress-utf8/

clang -fsanitize=fuzzer,address,undefined -g -O1 \
    -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
    -I"$ngx_src/src/core" -I"$ngx_src/src/event" \
    -I"$ngx_src/src/event/modules" -I"$ngx_src/src/os/unix" \
    -I"$build/ngx" -I"$top" -I"$top/core" \
    -o "$dir/fuzz_utf8.tmp" "$top/fuzz/fuzz_utf8.c" \
    "$top/core/ngx_live_record_utf8.c"
mv "$dir/fuzz_utf8.tmp" "$dir/fuzz_utf8"
mkdir -p "$dir/corpus-utf8"
find "$top/fuzz/regress-utf8" -type f ! -name "README*" \
    -exec cp {} "$dir/corpus-utf8/" \;

# files read back after a crash (fuzz_spool.c): part sidecars, tasks.json,
# a torn MPEG-TS segment, an HLS EVENT playlist, a cluster row, a notify
# spool file, a spooled upload and an http store's reply; seeded from
# fuzz/spool/.  It includes the readers' files
# whole: lld's --gc-sections drops what it does not reach (ld.bfd keeps
# all of it under libFuzzer's coverage tables)

pq_inc=$(pkg-config --cflags-only-I libpq 2>/dev/null \
         || echo -I/usr/include/postgresql)

clang -fsanitize=fuzzer,address,undefined -g -O1 \
    -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
    -ffunction-sections -fdata-sections -fuse-ld=lld -Wl,--gc-sections \
    -I"$ngx_src/src/core" -I"$ngx_src/src/event" \
    -I"$ngx_src/src/event/modules" -I"$ngx_src/src/os/unix" \
    -I"$build/ngx" -I"$build/rtmp" -I"$top" -I"$top/mux" -I"$top/core" \
    -I"$top/cluster" -I"$top/store" -I"$top/record" -I"$top/http" \
    -I"$top/t/mp4" -I"$top/fuzz" $pq_inc \
    -o "$dir/fuzz_spool.tmp" "$top/fuzz/fuzz_spool.c" \
    "$top/core/ngx_live_record_json.c" "$top/core/ngx_live_record_utf8.c" \
    "$top/core/ngx_live_record_util.c" "$top/core/ngx_live_record_file.c" \
    "$top/mux/ngx_live_record_writer.c" \
    "$top/t/mp4/ngx_stub.c" -lcjson -lavformat -lavcodec -lavutil -lcrypto -lpq
mv "$dir/fuzz_spool.tmp" "$dir/fuzz_spool"
mkdir -p "$dir/corpus-spool"
find "$top/fuzz/spool" -type f ! -name "README*" \
    -exec cp {} "$dir/corpus-spool/" \;

# the hand-over file a worker reads when it takes a waiting part over
# (fuzz_handover.c, record/ngx_live_record_handover_file.c included
# whole); seeded from fuzz/handover/

clang -fsanitize=fuzzer,address,undefined -g -O1 \
    -W -Wall -Wpointer-arith -Wno-unused-parameter -Werror \
    -ffunction-sections -fdata-sections -fuse-ld=lld -Wl,--gc-sections \
    -I"$ngx_src/src/core" -I"$ngx_src/src/event" \
    -I"$ngx_src/src/event/modules" -I"$ngx_src/src/os/unix" \
    -I"$build/ngx" -I"$build/rtmp" -I"$top" -I"$top/mux" -I"$top/core" \
    -I"$top/cluster" -I"$top/store" -I"$top/record" -I"$top/t/mp4" \
    -I"$top/fuzz" $pq_inc \
    -o "$dir/fuzz_handover.tmp" "$top/fuzz/fuzz_handover.c" \
    "$top/core/ngx_live_record_json.c" "$top/t/mp4/ngx_stub.c" -lcjson
mv "$dir/fuzz_handover.tmp" "$dir/fuzz_handover"
mkdir -p "$dir/corpus-handover"
find "$top/fuzz/handover" -type f ! -name "README*" \
    -exec cp {} "$dir/corpus-handover/" \;

"$top/fuzz/seeds.sh" "$dir"

for f in "$top"/fuzz/regress/*; do
    case ${f##*/} in
    README*) ;;
    *) cp "$f" "$dir/corpus/regress-${f##*/}" ;;
    esac
done

ubsan=halt_on_error=1:print_stacktrace=1:suppressions=$top/fuzz/ubsan.supp
rc=0

# fuzz TARGET CORPUS LOG MAX_LEN: one target for $seconds; a finding
# makes the script's exit status non-zero
fuzz() {
    echo "fuzz: $dir/$1 for ${seconds}s, log in $dir/$3"

    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-$ubsan} \
    "$dir/$1" -max_total_time="$seconds" -max_len="$4" -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$dir/crashes/" \
        "$dir/$2" > "$dir/$3" 2>&1 || rc=$?

    grep -E '^#[0-9]+' "$dir/$3" | tail -1 || true
}

fuzz fuzz_tag corpus fuzz.log 65536
fuzz fuzz_mp4_sidecar corpus-mp4 fuzz-mp4.log 65536
fuzz fuzz_s3_reply corpus-s3 fuzz-s3.log 65536
fuzz fuzz_utf8 corpus-utf8 fuzz-utf8.log 4096
fuzz fuzz_spool corpus-spool fuzz-spool.log 65536
fuzz fuzz_handover corpus-handover fuzz-handover.log 65536

grep -E '^stat::|SUMMARY|Test unit written' "$dir/fuzz.log" || true
echo "fuzz: corpus $(find "$dir/corpus" -type f ! -name '.*' | wc -l) files;" \
     "crashes in $dir/crashes: $(find "$dir/crashes" -type f | wc -l)"

exit $rc
