#!/bin/sh
# run.sh [start|stop|push]: starts nginx with conf/example.conf on
# 127.0.0.1:RTMP_PORT (1935) and 127.0.0.1:HTTP_PORT (8080), prefix
# RUN_DIR (./run); stops it; or pushes a generated test clip to it.
# `make run`, `make stop`, `make push`.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
prefix=${RUN_DIR:-$top/run}
nginx=/usr/sbin/nginx
ports=$prefix/conf/ports

running() {
    [ -f "$prefix/logs/nginx.pid" ] \
        && kill -0 "$(cat "$prefix/logs/nginx.pid")" 2>/dev/null
}

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

# free() PORT: can nginx listen there?  Bound the way nginx binds
# (SO_REUSEADDR), so a port in TIME_WAIT counts as free, as for nginx.
free() {
    perl -MIO::Socket::INET -e 'exit !IO::Socket::INET->new(
        LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 1,
        ReuseAddr => 1, Proto => "tcp")' "$1"
}

check_port() {
    # $1: the variable, $2: the port, $3: what listens there
    case $2 in
    ''|*[!0-9]*)
        echo "make run: $1=$2 is not a port number" >&2
        exit 1 ;;
    esac
    if [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
        echo "make run: $1=$2 is not a port number (1-65535)" >&2
        exit 1
    fi
    if ! free "$2"; then
        echo "make run: port $2 on 127.0.0.1 ($3) is in use." >&2
        echo "Pick another with $1, e.g.: make run $1=$(($2 + 1))" >&2
        exit 1
    fi
}

push() {
    if ! running; then
        echo "make push: nginx is not running in $prefix; start it with" \
             "make run" >&2
        exit 1
    fi
    . "$ports"
    name=${PUSH_NAME:-demo}
    seconds=${PUSH_SECONDS:-10}
    dir=$prefix/recordings/live/$name
    mark=$prefix/logs/push.mark
    : > "$mark"

    # a test pattern with a clock and a 1 kHz tone, encoded as it is sent
    # (-re): a camera's stream, no input file needed
    echo "pushing a ${seconds} s test clip to" \
         "rtmp://127.0.0.1:$RTMP_PORT/live/$name"
    ffmpeg -hide_banner -loglevel error -nostdin -re \
        -f lavfi -i "testsrc2=size=640x360:rate=25" \
        -f lavfi -i "sine=frequency=1000:sample_rate=44100" \
        -t "$seconds" \
        -c:v libx264 -preset veryfast -g 50 -pix_fmt yuv420p \
        -c:a aac -b:a 96k \
        -f flv "rtmp://127.0.0.1:$RTMP_PORT/live/$name"

    # the MP4 is in the store within a second of the push's end
    for _ in $(seq 1 100); do
        new=$(find "$dir" -name '*.mp4' -newer "$mark" 2>/dev/null)
        [ -n "$new" ] && break
        sleep 0.1
    done
    if [ -z "$new" ]; then
        echo "make push: no new MP4 in $dir after 10 s; see" \
             "$prefix/logs/error.log" >&2
        exit 1
    fi
    echo "recorded:"
    echo "$new" | sed 's/^/    /'
    echo "served at http://127.0.0.1:$HTTP_PORT/recordings/live/$name/" \
         "and in the console http://127.0.0.1:$HTTP_PORT/console/"
}

case ${1:-start} in
stop)
    stop
    echo "nginx stopped"
    exit 0 ;;
push)
    push
    exit 0 ;;
esac

RTMP_PORT=${RTMP_PORT:-1935}
HTTP_PORT=${HTTP_PORT:-8080}

stop
check_port RTMP_PORT "$RTMP_PORT" rtmp
check_port HTTP_PORT "$HTTP_PORT" http
if [ "$RTMP_PORT" = "$HTTP_PORT" ]; then
    echo "make run: RTMP_PORT and HTTP_PORT are both $RTMP_PORT" >&2
    exit 1
fi

mkdir -p "$prefix/conf" "$prefix/logs"
# the example's ports and module path, wherever they appear (listen,
# url=, comments)
sed -e "s#127\.0\.0\.1:1935#127.0.0.1:$RTMP_PORT#g" \
    -e "s#127\.0\.0\.1:8080#127.0.0.1:$HTTP_PORT#g" \
    -e "s#load_module \.\./build/#load_module $top/build/#" \
    "$top/conf/example.conf" > "$prefix/conf/nginx.conf"
printf 'RTMP_PORT=%s\nHTTP_PORT=%s\n' "$RTMP_PORT" "$HTTP_PORT" > "$ports"
if [ ! -s "$prefix/conf/api.token" ]; then
    (umask 077; head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' \
        > "$prefix/conf/api.token")
fi

$nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log" -t
$nginx -p "$prefix/" -c "$prefix/conf/nginx.conf" -e "$prefix/logs/error.log"

cat <<MSG

nginx is running (prefix $prefix, log $prefix/logs/error.log).
Push a generated test clip (10 s, no input file needed):
    make push
or your own stream:
    ffmpeg -re -i input.mp4 -c copy -f flv rtmp://127.0.0.1:$RTMP_PORT/live/demo
Recordings land in $prefix/recordings/live/demo/ and are served at
    http://127.0.0.1:$HTTP_PORT/recordings/live/demo/
The API (docs/api.md) answers with the token in $prefix/conf/api.token:
    curl -H "Authorization: Bearer \$(cat $prefix/conf/api.token)" \\
        http://127.0.0.1:$HTTP_PORT/api/streams
and so does the web console (docs/console.md):
    http://127.0.0.1:$HTTP_PORT/console/
Prometheus metrics (docs/metrics.md): http://127.0.0.1:$HTTP_PORT/metrics
Stop nginx with: make stop
MSG
