
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for the write-once MP4's crash recovery
 * (mux/ngx_live_record_mp4.c): the sidecar is read back from a disk that
 * may hold anything, so its parser and the whole of
 * ngx_live_record_mp4_recover() run on hostile input here.
 *
 * An input is 4 bytes (big endian) giving how many mdat payload bytes the
 * part holds (modulo 1 MiB), then the sidecar's bytes.  When the top bit of
 * the first byte is set, the harness first writes the right checksum into
 * the header (FNV-1a over the header, as the writer does), so that the
 * fuzzer reaches the field checks behind it.  Each run:
 *
 *   1  parses the sidecar header from a buffer of exactly its size (so
 *      ASan sees a read past its end) and checks what it returns: the
 *      codec configurations inside the input, the mdat after the reserve;
 *      then parses every 16-byte entry after the header;
 *   2  writes the sidecar to a file and a part for it (ftyp, the reserved
 *      region as a hole, the mdat header where the sidecar says, the
 *      payload) and runs ngx_live_record_mp4_recover() on the pair; when
 *      that succeeds, the part must be whole: its top-level boxes tile the
 *      file (one moov, one mdat) and every box inside the moov tiles its
 *      parent.
 *
 * A failed check aborts.  Built with -DNGX_LIVE_RECORD_FUZZ_MAIN it is a
 * plain program that runs each file named on its command line, or each
 * file in a directory named there, once (t/mp4_writer.t: gcc and ASan):
 *
 *   cc -DNGX_LIVE_RECORD_FUZZ_MAIN -fsanitize=address,undefined \
 *      -I<nginx headers> -I<build/ngx> -I. -Imux -It/mp4 \
 *      fuzz/fuzz_mp4_sidecar.c mux/ngx_live_record_mp4.c \
 *      mux/ngx_live_record_mp4_moov.c mux/ngx_live_record_mp4_chain.c \
 *      mux/ngx_live_record_mp4_resume.c \
 *      mux/ngx_live_record_codec.c t/mp4/ngx_stub.c
 *
 * and for libFuzzer the same with clang -fsanitize=fuzzer,address,undefined
 * and without -DNGX_LIVE_RECORD_FUZZ_MAIN.  Files go to $TMPDIR (default
 * /tmp), named after the process id.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"
#include "ngx_live_record_mp4.h"
#include "ngx_stub.h"


#define ngx_live_record_fuzz_check(c)                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_mp4_sidecar: %s:%d: check failed: %s\n",   \
                    __FILE__, __LINE__, #c);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


#define NGX_LIVE_RECORD_FUZZ_MAX_PAYLOAD  (1024 * 1024)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_live_record_fuzz_parse(u_char *p, size_t len);
static void ngx_live_record_fuzz_recover(u_char *p, size_t len,
    size_t payload);
static ngx_int_t ngx_live_record_fuzz_part(char *path, u_char *p, size_t len,
    size_t payload);
static void ngx_live_record_fuzz_whole(char *path, off_t size);
static void ngx_live_record_fuzz_tile(u_char *p, size_t len,
    ngx_uint_t depth);
static void ngx_live_record_fuzz_put(int fd, u_char *p, size_t len,
    off_t offset);
static uint32_t ngx_live_record_fuzz_r32(u_char *p);
static void ngx_live_record_fuzz_hash(u_char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char  *p;
    size_t   len, payload;

    if (size < 4) {
        return 0;
    }

    payload = (ngx_live_record_fuzz_r32((u_char *) data) & 0x7fffffff)
              % NGX_LIVE_RECORD_FUZZ_MAX_PAYLOAD;
    len = size - 4;

    p = malloc(len ? len : 1);
    ngx_live_record_fuzz_check(p != NULL);

    if (len) {
        ngx_memcpy(p, data + 4, len);
    }

    if (data[0] & 0x80) {
        ngx_live_record_fuzz_hash(p, len);
    }

    ngx_live_record_fuzz_parse(p, len);
    ngx_live_record_fuzz_recover(p, len, payload);

    free(p);

    return 0;
}


static void
ngx_live_record_fuzz_parse(u_char *p, size_t len)
{
    size_t                              off;
    uint64_t                            i;
    ngx_uint_t                          t;
    ngx_live_record_mp4_entry_t         e;
    ngx_live_record_mp4_sidecar_t       sc;
    ngx_live_record_mp4_track_info_t   *ti;

    if (ngx_live_record_mp4_sidecar_parse(p, len, &sc) != NGX_OK) {
        return;
    }

    ngx_live_record_fuzz_check(sc.header_len <= len);
    ngx_live_record_fuzz_check(sc.mdat == NGX_LIVE_RECORD_MP4_FTYP_SIZE
                                          + sc.reserve);
    ngx_live_record_fuzz_check(sc.reserve <= NGX_LIVE_RECORD_MP4_MAX_RESERVE);

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        ti = &sc.tracks[t];

        if (ti->extradata_len) {
            ngx_live_record_fuzz_check(ti->extradata >= p
                                       && ti->extradata + ti->extradata_len
                                          <= p + sc.header_len);
        }

        ngx_live_record_fuzz_check(ti->codec == NGX_LIVE_RECORD_CODEC_NONE
                                   || ti->timescale > 0);
    }

    i = 0;

    for (off = sc.header_len; off + NGX_LIVE_RECORD_MP4_ENTRY <= len;
         off += NGX_LIVE_RECORD_MP4_ENTRY)
    {
        if (ngx_live_record_mp4_entry_parse(p + off, i, &sc, &e) == NGX_OK) {
            ngx_live_record_fuzz_check(e.track < NGX_LIVE_RECORD_NTRACKS);
            ngx_live_record_fuzz_check(e.size > 0);
            ngx_live_record_fuzz_check(sc.tracks[e.track].codec
                                       != NGX_LIVE_RECORD_CODEC_NONE);
        }

        i++;
    }
}


static void
ngx_live_record_fuzz_recover(u_char *p, size_t len, size_t payload)
{
    int           fd;
    off_t         size;
    char          part[256], sidecar[256];
    const char   *dir;
    ngx_int_t     rc;
    ngx_str_t     label = ngx_string("fuzz/sidecar");
    ngx_log_t     log;
    ngx_pool_t   *pool;
    struct stat   st;

    dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0') {
        dir = "/tmp";
    }

    snprintf(part, sizeof(part), "%s/fuzz_mp4_%d.mp4", dir, (int) getpid());
    snprintf(sidecar, sizeof(sidecar), "%s/fuzz_mp4_%d.lrsc", dir,
             (int) getpid());

    fd = open(sidecar, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ngx_live_record_fuzz_check(fd != -1);
    ngx_live_record_fuzz_put(fd, p, len, 0);
    close(fd);

    if (ngx_live_record_fuzz_part(part, p, len, payload) != NGX_OK) {
        goto done;
    }

    ngx_memzero(&log, sizeof(ngx_log_t));
    log.log_level = getenv("FUZZ_MP4_LOG") ? NGX_LOG_INFO : NGX_LOG_EMERG;

    pool = ngx_stub_pool_create(&log);
    ngx_live_record_fuzz_check(pool != NULL);

    rc = ngx_live_record_mp4_recover(pool, &log, &label, (u_char *) part,
                                     (u_char *) sidecar, &size);

    ngx_stub_pool_destroy(pool);

    if (rc == NGX_OK) {
        ngx_live_record_fuzz_check(stat(part, &st) == 0);
        ngx_live_record_fuzz_check(st.st_size == size);

        ngx_live_record_fuzz_whole(part, size);
    }

done:

    (void) unlink(part);
    (void) unlink(sidecar);
}


/* a part as the sidecar describes it: the header's reserve and mdat */

static ngx_int_t
ngx_live_record_fuzz_part(char *path, u_char *p, size_t len, size_t payload)
{
    int                             fd;
    u_char                          head[40], *q;
    size_t                          i, n;
    uint64_t                        mdat;
    ngx_live_record_mp4_sidecar_t   sc;

    mdat = 32 + 4096;

    if (ngx_live_record_mp4_sidecar_parse(p, len, &sc) == NGX_OK) {
        mdat = sc.mdat;
    }

    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ngx_live_record_fuzz_check(fd != -1);

    ngx_memcpy(head, "\0\0\0\x20" "ftypisom" "\0\0\x02\0"
               "isomiso2avc1mp41", 32);
    ngx_memcpy(head + 32, "\0\0\0\0" "free", 8);
    head[32] = (u_char) ((mdat - 32) >> 24);
    head[33] = (u_char) ((mdat - 32) >> 16);
    head[34] = (u_char) ((mdat - 32) >> 8);
    head[35] = (u_char) (mdat - 32);

    ngx_live_record_fuzz_put(fd, head, mdat > 32 ? 40 : 32, 0);
    ngx_live_record_fuzz_put(fd, (u_char *) "\0\0\0\1" "mdat"
                             "\0\0\0\0\0\0\0\x10", 16, mdat);

    /* the payload: a pattern, written in one go */

    q = malloc(payload ? payload : 1);
    ngx_live_record_fuzz_check(q != NULL);

    for (i = 0; i < payload; i++) {
        q[i] = (u_char) (i * 7);
    }

    n = payload;
    ngx_live_record_fuzz_put(fd, q, n, mdat + 16);

    free(q);
    close(fd);

    return NGX_OK;
}


static void
ngx_live_record_fuzz_whole(char *path, off_t size)
{
    int         fd;
    u_char     *p;
    ssize_t     n;
    uint32_t    len;
    uint64_t    off, box;
    ngx_uint_t  moov, mdat;

    fd = open(path, O_RDONLY);
    ngx_live_record_fuzz_check(fd != -1);

    off = 0;
    moov = 0;
    mdat = 0;

    while (off < (uint64_t) size) {
        u_char  h[16];

        n = pread(fd, h, 16, off);
        ngx_live_record_fuzz_check(n >= 8);

        box = ngx_live_record_fuzz_r32(h);

        if (box == 1) {
            ngx_live_record_fuzz_check(n == 16);
            box = ((uint64_t) ngx_live_record_fuzz_r32(h + 8) << 32)
                  | ngx_live_record_fuzz_r32(h + 12);
        }

        ngx_live_record_fuzz_check(box >= 8 && off + box <= (uint64_t) size);

        if (ngx_memcmp(h + 4, "mdat", 4) == 0) {
            mdat++;
        }

        if (ngx_memcmp(h + 4, "moov", 4) == 0) {
            moov++;
            len = (uint32_t) box;

            p = malloc(len);
            ngx_live_record_fuzz_check(p != NULL);
            ngx_live_record_fuzz_check(pread(fd, p, len, off) == (ssize_t) len);

            ngx_live_record_fuzz_tile(p + 8, len - 8, 0);

            free(p);
        }

        off += box;
    }

    ngx_live_record_fuzz_check(off == (uint64_t) size);
    ngx_live_record_fuzz_check(moov == 1 && mdat == 1);

    close(fd);
}


/* the boxes inside a container fill it exactly */

static void
ngx_live_record_fuzz_tile(u_char *p, size_t len, ngx_uint_t depth)
{
    size_t  off, box;

    static const char  *containers[] = {
        "trak", "mdia", "minf", "stbl", "edts", "dinf", NULL
    };

    ngx_live_record_fuzz_check(depth < 8);

    for (off = 0; off < len; off += box) {
        const char  **c;

        ngx_live_record_fuzz_check(len - off >= 8);

        box = ngx_live_record_fuzz_r32(p + off);
        ngx_live_record_fuzz_check(box >= 8 && box <= len - off);

        for (c = containers; *c; c++) {
            if (ngx_memcmp(p + off + 4, *c, 4) == 0) {
                ngx_live_record_fuzz_tile(p + off + 8, box - 8, depth + 1);
            }
        }
    }
}


static void
ngx_live_record_fuzz_put(int fd, u_char *p, size_t len, off_t offset)
{
    ssize_t  n;

    while (len) {
        n = pwrite(fd, p, len, offset);
        ngx_live_record_fuzz_check(n > 0);

        p += n;
        len -= n;
        offset += n;
    }
}


static uint32_t
ngx_live_record_fuzz_r32(u_char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


/* the checksum a writer would have put at the header's end */

static void
ngx_live_record_fuzz_hash(u_char *p, size_t len)
{
    size_t    i, hlen;
    uint32_t  h;

    if (len < 12) {
        return;
    }

    hlen = ngx_live_record_fuzz_r32(p + 8);

    if (hlen < 8 || hlen > len) {
        return;
    }

    h = 2166136261u;

    for (i = 0; i < hlen - 4; i++) {
        h = (h ^ p[i]) * 16777619u;
    }

    p[hlen - 4] = (u_char) (h >> 24);
    p[hlen - 3] = (u_char) (h >> 16);
    p[hlen - 2] = (u_char) (h >> 8);
    p[hlen - 1] = (u_char) h;
}


#define NGX_LIVE_RECORD_FUZZ_NAME  "fuzz_mp4_sidecar"
#include "ngx_live_record_fuzz_main.h"
