#!/usr/bin/env python3
"""Event-loop probe for the ngx_live_record benchmark (stdlib only).

Publishes a tiny RTMP stream (one audio message every --period-ms carrying
its CLOCK_MONOTONIC send time) into an application that is NOT recorded,
plays it back through the same nginx worker on a second connection, and
timestamps every message on arrival.  delay = arrival - send is the time the
message spent in nginx (plus loopback TCP, a few tens of microseconds): an
event-loop stall of D ms shows up as a delay of about D ms.

Writes one line per received message to --out: "arrival_ns delay_us seq".
Runs until SIGTERM/SIGINT or --seconds.  Exits 0 after flushing.
"""

import argparse
import os
import select
import signal
import socket
import struct
import sys
import time


# -- AMF0 -------------------------------------------------------------------

def amf_enc(v):
    if v is None:
        return b'\x05'
    if isinstance(v, bool):
        return b'\x01' + (b'\x01' if v else b'\x00')
    if isinstance(v, (int, float)):
        return b'\x00' + struct.pack('>d', float(v))
    if isinstance(v, str):
        b = v.encode()
        return b'\x02' + struct.pack('>H', len(b)) + b
    if isinstance(v, dict):
        out = b'\x03'
        for k, x in v.items():
            kb = k.encode()
            out += struct.pack('>H', len(kb)) + kb + amf_enc(x)
        return out + b'\x00\x00\x09'
    raise TypeError(type(v))


def amf_dec(b, i):
    t = b[i]
    i += 1
    if t == 0x00:
        return struct.unpack_from('>d', b, i)[0], i + 8
    if t == 0x01:
        return b[i] != 0, i + 1
    if t == 0x02:
        n = struct.unpack_from('>H', b, i)[0]
        return b[i + 2:i + 2 + n].decode('utf-8', 'replace'), i + 2 + n
    if t == 0x0c:
        n = struct.unpack_from('>I', b, i)[0]
        return b[i + 4:i + 4 + n].decode('utf-8', 'replace'), i + 4 + n
    if t in (0x03, 0x08):
        if t == 0x08:
            i += 4
        d = {}
        while True:
            n = struct.unpack_from('>H', b, i)[0]
            i += 2
            if n == 0 and b[i] == 0x09:
                return d, i + 1
            k = b[i:i + n].decode('utf-8', 'replace')
            i += n
            d[k], i = amf_dec(b, i)
    if t == 0x0a:
        n = struct.unpack_from('>I', b, i)[0]
        i += 4
        arr = []
        for _ in range(n):
            x, i = amf_dec(b, i)
            arr.append(x)
        return arr, i
    if t in (0x05, 0x06):
        return None, i
    raise ValueError('amf type %d' % t)


def amf_all(b):
    out, i = [], 0
    while i < len(b):
        try:
            v, i = amf_dec(b, i)
        except (ValueError, IndexError, struct.error):
            break
        out.append(v)
    return out


# -- RTMP connection --------------------------------------------------------

class Rtmp:
    def __init__(self, host, port, timeout=10.0):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.in_chunk = 128
        self.out_chunk = 128
        self.cs = {}            # csid -> [ts, len, type, msid, body, ext]
        self.tx = 1

    def quickack(self):
        try:
            self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        except (OSError, AttributeError):
            pass

    def _need(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError('connection closed')
            self.buf += d
            self.quickack()

    def _take(self, n):
        self._need(n)
        b = bytes(self.buf[:n])
        del self.buf[:n]
        return b

    def handshake(self):
        c1 = struct.pack('>II', 0, 0) + os.urandom(1528)
        self.s.sendall(b'\x03' + c1)
        s0s1 = self._take(1 + 1536)
        self.s.sendall(s0s1[1:])            # C2 echoes S1
        self._take(1536)                    # S2

    def send(self, csid, mtype, msid, body, ts=0):
        ext = b''
        tsf = ts
        if ts >= 0xffffff:
            ext = struct.pack('>I', ts)
            tsf = 0xffffff
        out = bytearray()
        out += bytes([csid]) + struct.pack('>I', tsf)[1:] \
            + struct.pack('>I', len(body))[1:] + bytes([mtype]) \
            + struct.pack('<I', msid) + ext
        out += body[:self.out_chunk]
        pos = self.out_chunk
        while pos < len(body):
            out += bytes([0xc0 | csid]) + ext + body[pos:pos + self.out_chunk]
            pos += self.out_chunk
        self.s.sendall(out)

    def set_chunk_size(self, n):
        self.send(2, 1, 0, struct.pack('>I', n))
        self.out_chunk = n

    def command(self, msid, *args):
        body = b''.join(amf_enc(a) for a in args)
        self.send(3 if msid == 0 else 8, 20, msid, body)

    def parse_one(self):
        """Parses one message from self.buf if it is complete; returns
        (type, msid, ts, body) or None (needs more data)."""
        b = self.buf
        if not b:
            return None
        fmt = b[0] >> 6
        csid = b[0] & 0x3f
        i = 1
        if csid == 0:
            if len(b) < 2:
                return None
            csid = 64 + b[1]
            i = 2
        elif csid == 1:
            if len(b) < 3:
                return None
            csid = 64 + b[1] + b[2] * 256
            i = 3
        hl = (11, 7, 3, 0)[fmt]
        if len(b) < i + hl:
            return None
        st = self.cs.setdefault(csid, [0, 0, 0, 0, bytearray(), False])
        ts = st[0]
        if fmt <= 2:
            tsf = int.from_bytes(b[i:i + 3], 'big')
        if fmt <= 1:
            mlen = int.from_bytes(b[i + 3:i + 6], 'big')
            mtype = b[i + 6]
        else:
            mlen, mtype = st[1], st[2]
        msid = st[3]
        if fmt == 0:
            msid = struct.unpack_from('<I', b, i + 7)[0]
        i += hl
        ext = st[5] if fmt == 3 else (tsf == 0xffffff)
        if ext:
            if len(b) < i + 4:
                return None
            tsf = struct.unpack_from('>I', b, i)[0]
            i += 4
        have = len(st[4]) if fmt == 3 else 0
        n = min(self.in_chunk, mlen - have)
        if len(b) < i + n:
            return None
        if fmt == 0:
            ts = tsf
        elif fmt in (1, 2):
            ts = st[0] + tsf
        if fmt != 3 or not st[4]:
            st[4] = bytearray()
        st[4] += b[i:i + n]
        st[0], st[1], st[2], st[3], st[5] = ts, mlen, mtype, msid, ext
        del b[:i + n]
        if len(st[4]) < mlen:
            return 'partial'
        body = bytes(st[4])
        st[4] = bytearray()
        if mtype == 1:
            self.in_chunk = struct.unpack('>I', body[:4])[0] & 0x7fffffff
        return (mtype, msid, ts, body)

    def read_msgs(self):
        out = []
        while True:
            m = self.parse_one()
            if m is None:
                return out
            if m != 'partial':
                out.append(m)

    def wait_for(self, pred, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            for m in self.read_msgs():
                if m[0] in (20, 17):
                    vals = amf_all(m[3][1:] if m[0] == 17 else m[3])
                    r = pred(vals)
                    if r is not None:
                        return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError('rtmp: no reply')
            self.s.settimeout(left)
            d = self.s.recv(65536)
            if not d:
                raise EOFError('connection closed')
            self.buf += d

    def connect(self, host, port, app):
        self.set_chunk_size(4096)
        self.command(0, 'connect', self.tx, {
            'app': app, 'type': 'nonprivate', 'flashVer': 'FMLE/3.0',
            'tcUrl': 'rtmp://%s:%d/%s' % (host, port, app)})
        self.tx += 1
        self.wait_for(lambda v: True if v and v[0] == '_result' else None)
        self.command(0, 'createStream', self.tx, None)
        t = self.tx
        self.tx += 1
        return int(self.wait_for(
            lambda v: v[3] if len(v) > 3 and v[0] == '_result'
            and v[1] == t else None))

    @staticmethod
    def status_is(code):
        def pred(v):
            for x in v:
                if isinstance(x, dict) and x.get('code') == code:
                    return True
                if isinstance(x, dict) and str(x.get('level')) == 'error':
                    raise RuntimeError('rtmp: %r' % x)
            return None
        return pred


def flv_tags(path):
    with open(path, 'rb') as f:
        data = f.read()
    if data[:3] != b'FLV':
        raise ValueError('not an FLV file')
    i = struct.unpack_from('>I', data, 5)[0] + 4
    while i + 11 <= len(data):
        t = data[i] & 0x1f
        n = int.from_bytes(data[i + 1:i + 4], 'big')
        ts = int.from_bytes(data[i + 4:i + 7], 'big') | (data[i + 7] << 24)
        body = data[i + 11:i + 11 + n]
        if len(body) < n:
            break
        yield t, ts, body
        i += 11 + n + 4


def publish_file(a):
    """Publishes an FLV file (at its own pace with --realtime), then stops
    and writes the CLOCK_MONOTONIC ns of the stop to --close-out."""
    c = Rtmp(a.host, a.port)
    c.handshake()
    sid = c.connect(a.host, a.port, a.app)
    c.command(sid, 'publish', 0, None, a.name, 'live')
    c.wait_for(Rtmp.status_is('NetStream.Publish.Start'))
    t0 = time.monotonic()
    for t, ts, body in flv_tags(a.publish_file):
        if a.realtime:
            d = t0 + ts / 1000.0 - time.monotonic()
            if d > 0:
                time.sleep(d)
        if t == 18:
            c.send(5, 18, sid, amf_enc('@setDataFrame') + body, ts)
        elif t in (8, 9):
            c.send(4 if t == 8 else 6, t, sid, body, ts)
    t_close = time.monotonic_ns()
    c.command(0, 'deleteStream', 0, None, float(sid))
    c.s.close()
    if a.close_out:
        with open(a.close_out, 'a') as f:
            f.write('%s %d\n' % (a.name, t_close))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--publish-file', help='publish this FLV file and stop')
    ap.add_argument('--realtime', action='store_true')
    ap.add_argument('--close-out')
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--app', default='probe')
    ap.add_argument('--name', default='probe')
    ap.add_argument('--period-ms', type=float, default=5.0)
    ap.add_argument('--size', type=int, default=256)
    ap.add_argument('--seconds', type=float, default=600)
    ap.add_argument('--out')
    ap.add_argument('--ready', help='file created once playing')
    ap.add_argument('--fifo', action='store_true',
                    help='run SCHED_FIFO so the probe itself is not delayed')
    a = ap.parse_args()
    if a.publish_file:
        return publish_file(a)

    if a.fifo:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
        except (OSError, AttributeError):
            try:
                os.nice(-10)
            except OSError:
                pass

    stop = [False]

    def on_sig(*_):
        stop[0] = True

    signal.signal(signal.SIGTERM, on_sig)
    signal.signal(signal.SIGINT, on_sig)

    pub = Rtmp(a.host, a.port)
    pub.handshake()
    sid = pub.connect(a.host, a.port, a.app)
    pub.command(sid, 'publish', 0, None, a.name, 'live')
    pub.wait_for(Rtmp.status_is('NetStream.Publish.Start'))

    ply = Rtmp(a.host, a.port)
    ply.handshake()
    psid = ply.connect(a.host, a.port, a.app)
    ply.command(psid, 'play', 0, None, a.name, -1000)
    ply.wait_for(Rtmp.status_is('NetStream.Play.Start'))
    ply.s.setblocking(False)
    pub.s.settimeout(5.0)

    out = open(a.out, 'w')
    if a.ready:
        open(a.ready, 'w').close()

    period = int(a.period_ms * 1e6)
    pad = b'\x00' * max(0, a.size - 14)
    t0 = time.monotonic_ns()
    nxt = t0
    seq = 0
    end = t0 + int(a.seconds * 1e9)
    lines = []
    # sequence header first, so nothing in nginx waits for one
    pub.send(4, 8, sid, b'\xaf\x00\x12\x10', 0)

    while not stop[0]:
        now = time.monotonic_ns()
        if now >= end:
            break
        if now >= nxt:
            ts = (now - t0) // 1000000
            body = b'\xaf\x01' + struct.pack('>QI', time.monotonic_ns(), seq) \
                + pad
            pub.send(4, 8, sid, body, ts)
            seq += 1
            nxt += period
            if nxt < now:               # we were late ourselves: resync
                nxt = now + period
            continue
        try:
            r, _, _ = select.select([ply.s], [], [],
                                    max(0.0, (nxt - now) / 1e9))
        except InterruptedError:
            continue
        if not r:
            continue
        try:
            d = ply.s.recv(262144)
        except BlockingIOError:
            continue
        arr = time.monotonic_ns()
        if not d:
            break
        ply.quickack()
        ply.buf += d
        for m in ply.read_msgs():
            if m[0] == 8 and len(m[3]) >= 14 and m[3][1] == 1:
                sent, q = struct.unpack_from('>QI', m[3], 2)
                lines.append('%d %d %d\n' % (arr, (arr - sent) // 1000, q))
        if len(lines) > 2000:
            out.write(''.join(lines))
            lines = []
        # the publisher side only gets acks/pings; drain them
        try:
            pub.s.setblocking(False)
            while pub.s.recv(65536):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        finally:
            pub.s.setblocking(True)

    out.write(''.join(lines))
    out.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
