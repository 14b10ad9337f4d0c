#!/bin/sh
# One full record -> finalize -> handoff -> index -> notify cycle of a
# single nginx process (master_process off) under valgrind memcheck, then
# the leak summary of what is attributable to the module.  `make valgrind`.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/valgrind
port=${VALGRIND_RTMP_PORT:-19399}
hook=${VALGRIND_NOTIFY_PORT:-19398}

rm -rf "$dir"
mkdir -p "$dir/conf" "$dir/logs" "$dir/store" "$dir/work"
chmod 0777 "$dir/store" "$dir/work"

cat > "$dir/conf/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
load_module $top/build/ngx_live_record_module.so;
master_process off;
daemon off;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
thread_pool lr threads=2;
events {}
rtmp {
    live_record_template t {
        live_record_formats mp4 flv aac hls;
        live_record_hls_fragment 2s;
    }
    live_record_store local $dir/store url=http://127.0.0.1/rec;
    live_record_work_path $dir/work;
    live_record_index $dir/index;
    live_record_spool $dir/spool;
    live_record_thread_pool lr;
    live_record_notify http://127.0.0.1:$hook/hook key=k;
    server {
        listen 127.0.0.1:$port;
        application live { live on; live_record t; }
    }
}
EOF

# a receiver that answers 200 to every callback
python3 -c "
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get('Content-Length', 0)))
        self.send_response(200); self.send_header('Content-Length', '0')
        self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', $hook), H).serve_forever()
" &
rcv=$!

input=$dir/input.flv
ffmpeg -hide_banner -loglevel error -nostdin -y \
    -f lavfi -i testsrc=size=320x240:rate=25 \
    -f lavfi -i sine=frequency=440:sample_rate=44100 -t 6 \
    -c:v libx264 -preset superfast -g 50 -pix_fmt yuv420p \
    -c:a aac -b:a 64k -f flv "$input"

valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --keep-debuginfo=yes \
    --num-callers=30 --log-file="$dir/valgrind.log" \
    /usr/sbin/nginx -p "$dir/" -c "$dir/conf/nginx.conf" \
    -e "$dir/logs/error.log" &
ngx=$!

trap 'kill $rcv 2>/dev/null || true; kill -9 $ngx 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
    ss -ltn "sport = :$port" | grep -q LISTEN && break
    sleep 1
done

ffmpeg -hide_banner -loglevel error -nostdin -i "$input" -c copy \
    -f flv "rtmp://127.0.0.1:$port/live/vg"

# finalize, handoff and callbacks, then a graceful stop
for _ in $(seq 1 60); do
    [ "$(grep -c 'delivered to' "$dir/logs/error.log" || true)" -ge 8 ] \
        && break
    sleep 1
done

kill -QUIT $ngx
wait $ngx || true

echo "valgrind: recordings:"
find "$dir/store" -type f | sed 's/^/  /'
echo "valgrind: callbacks delivered: $(grep -c 'delivered to' \
    "$dir/logs/error.log" || true)"
grep -E 'ERROR SUMMARY|definitely lost' "$dir/valgrind.log" || true

# definite leaks whose stack passes through the module
if grep -A30 'definitely lost in' "$dir/valgrind.log" \
   | grep -q 'ngx_live_record'
then
    echo "valgrind: definite leaks in ngx_live_record, see $dir/valgrind.log"
    exit 1
fi

echo "valgrind: no definite leak attributable to ngx_live_record" \
     "(full log: $dir/valgrind.log)"
