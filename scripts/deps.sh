#!/bin/sh
# Installs what building, running and testing ngx_live_record needs, and
# fetches nginx-rtmp-module's source for its headers.  Idempotent: a second
# run installs nothing and downloads nothing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${NGX_LIVE_RECORD_BUILD:-$top/build}

pkgs="nginx nginx-dev libnginx-mod-rtmp libavformat-dev libavcodec-dev
libavutil-dev libcurl4-openssl-dev libcjson-dev libssl-dev dpkg-dev xz-utils
ffmpeg
perl curl python3 python3-botocore"

missing=""
for p in $pkgs; do
    if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null \
         | grep -q 'install ok installed'
    then
        missing="$missing $p"
    fi
done

if [ -n "$missing" ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # nginx's package starts the stock server on port 80; we never use it
    apt-get install -y -q --no-install-recommends $missing
    if [ -x /usr/sbin/nginx ] && pgrep -x nginx >/dev/null 2>&1 \
       && [ -f /run/nginx.pid ]
    then
        /usr/sbin/nginx -s stop 2>/dev/null || true
    fi
fi

"$top/scripts/fetch-rtmp.sh" "$build"

# s3rver, the S3-compatible server the S3 store is tested against
if [ ! -x "$build/tools/node_modules/.bin/s3rver" ]; then
    if ! command -v npm >/dev/null 2>&1; then
        echo "deps: installing nodejs npm"
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
            --no-install-recommends nodejs npm
    fi
    mkdir -p "$build/tools"
    (cd "$build/tools" && npm install --no-audit --no-fund --silent \
        s3rver@3.7.1)
fi
