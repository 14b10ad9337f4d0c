#!/usr/bin/env python3
"""Split FLV files into fuzz_tag seeds.

usage: flv_split.py OUTDIR FILE.flv...

FLV: a 9-byte header and a 4-byte previous tag size, then tags: type (1),
body size (3), timestamp (3) and its high byte (1), stream id (3), body,
previous tag size (4).  Each audio (8) or video (9) body becomes a seed,
prefixed with fuzz_tag's selector byte:

  0 video tag body, 1 audio tag body, 2 bare AVCDecoderConfigurationRecord,
  3 bare AudioSpecificConfig, 4 bare MP3 frame, 5 FLV tags in a row

Every sequence header is kept, with its bare record too; of the frames, the
first FRAMES of each track (keyframes all), and one run of whole tags from
the start of the file, under fuzz_tag's -max_len.  Identical seeds are
written once.  Names: seed-<file>-<tag number>-<what>.
"""

import hashlib
import os
import sys

FRAMES = 40
MAX_LEN = 65536


def tags(data):
    if data[:3] != b'FLV' or len(data) < 13:
        raise ValueError('not an FLV file')

    pos = int.from_bytes(data[5:9], 'big') + 4

    while pos + 11 <= len(data):
        kind = data[pos] & 0x1f
        size = int.from_bytes(data[pos + 1:pos + 4], 'big')
        end = pos + 11 + size

        if end > len(data):
            break

        yield pos, kind, data[pos + 11:end], end + 4
        pos = end + 4


def split(path, outdir, seen):
    data = open(path, 'rb').read()
    base = os.path.splitext(os.path.basename(path))[0]
    frames = {8: 0, 9: 0}
    written = 0
    run_end = 0

    def put(n, what, body):
        nonlocal written

        digest = hashlib.sha1(body).digest()
        if digest in seen:
            return

        seen.add(digest)
        name = 'seed-%s-%04d-%s' % (base, n, what)

        with open(os.path.join(outdir, name), 'wb') as f:
            f.write(body)

        written += 1

    for n, (pos, kind, body, end) in enumerate(tags(data)):
        if 1 + end <= MAX_LEN:
            run_end = end

        if kind not in (8, 9) or not body:
            continue

        if kind == 9:
            header = body[0] & 0x0f == 7 and len(body) > 1 and body[1] == 0
            key = body[0] >> 4 == 1

            if header:
                put(n, 'video-header', b'\x00' + body)
                put(n, 'avc', b'\x02' + body[5:])

            elif key or frames[9] < FRAMES:
                frames[9] += 1
                put(n, 'video-key' if key else 'video-frame', b'\x00' + body)

            continue

        fmt = body[0] >> 4

        if fmt == 10 and len(body) > 1 and body[1] == 0:
            put(n, 'audio-header', b'\x01' + body)
            put(n, 'asc', b'\x03' + body[2:])

        elif frames[8] < FRAMES:
            if fmt in (2, 14) and frames[8] == 0:
                put(n, 'mp3', b'\x04' + body[1:])

            frames[8] += 1
            put(n, 'audio-frame', b'\x01' + body)

    # whole tags from the start, FLV header included, for the stream model

    if run_end:
        put(0, 'flv', b'\x05' + data[:run_end])

    return written


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)

    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    seen = set()

    for path in sys.argv[2:]:
        print('flv_split: %s: %d seeds' % (path, split(path, outdir, seen)))


if __name__ == '__main__':
    main()
