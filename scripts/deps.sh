#!/bin/sh
# Installs what building, running and testing ngx_live_record needs, and
# fetches nginx-rtmp-module's source for its headers.  Idempotent: a second
# run installs nothing and downloads nothing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${NGX_LIVE_RECORD_BUILD:-$top/build}

pkgs="nginx nginx-dev libnginx-mod-rtmp libavformat-dev libavcodec-dev
libavutil-dev libcurl4-openssl-dev libcjson-dev libssl-dev libxml2-dev
dpkg-dev xz-utils lintian prometheus
ffmpeg
libpq-dev postgresql-15
perl curl python3 python3-botocore chromium"

"$top/scripts/need-packages.sh" deps $pkgs

# installing nginx may start Debian's stock server; nothing here uses it
if [ -f /run/nginx.pid ] && kill -0 "$(cat /run/nginx.pid)" 2>/dev/null; then
    /usr/sbin/nginx -s stop 2>/dev/null || true
fi

"$top/scripts/fetch-rtmp.sh" "$build"

# from npm, pinned, into build/tools: s3rver, the S3-compatible server the
# S3 store is tested against; hls.js, which the web console serves (compiled
# into the module); playwright-core, which drives chromium in t/console.t
npm_want="s3rver@3.7.1 hls.js@1.6.15 playwright-core@1.65.1"
npm_missing=""
for p in $npm_want; do
    json="$build/tools/node_modules/${p%@*}/package.json"
    if ! grep -q "\"version\": *\"${p##*@}\"" "$json" 2>/dev/null; then
        npm_missing="$npm_missing $p"
    fi
done

if [ -n "$npm_missing" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        "$top/scripts/need-packages.sh" deps nodejs npm
    fi
    mkdir -p "$build/tools"
    # every pinned package each time: npm prunes what it is not told of
    (cd "$build/tools" && npm install --no-audit --no-fund --silent \
        --no-save $npm_want)
fi
