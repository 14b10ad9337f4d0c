#!/bin/sh
# Starts (or with "stop", stops) nginx with conf/example.conf, prefix ./run.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
prefix=$top/run
nginx=/usr/sbin/nginx

stop() {
    if [ -f "$prefix/logs/nginx.pid" ]; then
        pid=$(cat "$prefix/logs/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.2
        done
        rm -f "$prefix/logs/nginx.pid"
    fi
}

if [ "${1:-}" = stop ]; then
    stop
    echo "nginx stopped"
    exit 0
fi

stop
mkdir -p "$prefix/conf" "$prefix/logs"
cp "$top/conf/example.conf" "$prefix/conf/nginx.conf"
if [ ! -s "$prefix/conf/api.token" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' \
        > "$prefix/conf/api.token")
fi
sed -i "s#load_module ../build/#load_module $top/build/#" \
    "$prefix/conf/nginx.conf"

$nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log" -t
$nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log"

cat <<MSG

nginx is running (prefix $prefix, log $prefix/logs/error.log).
Push a stream:
    ffmpeg -re -i input.mp4 -c copy -f flv rtmp://127.0.0.1:1935/live/demo
Recordings land in $prefix/recordings/live/demo/ and are served at
    http://127.0.0.1:8080/recordings/live/demo/
The API (docs/api.md) answers with the token in $prefix/conf/api.token:
    curl -H "Authorization: Bearer \$(cat $prefix/conf/api.token)" \\
        http://127.0.0.1:8080/api/streams
and so does the web console (docs/console.md):
    http://127.0.0.1:8080/console/
Prometheus metrics (docs/metrics.md): http://127.0.0.1:8080/metrics
Stop nginx with: make stop
MSG
