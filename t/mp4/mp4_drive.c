
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * Unit driver for the write-once MP4 writer (t/mp4_writer.t): reads an FLV
 * file, turns its tags into frames with the module's codec parser, times
 * them as ngx_live_record_part_write() does (ms from the part's start, each
 * track strictly increasing, video from a keyframe) and writes them with
 * ngx_live_record_mp4_*, the way the module will: create, a few frames
 * buffered before open() completes, ready(), write(), a flush tick every
 * 250 ms of media, close().
 *
 *   mp4_drive [-r reserve] [-i interval_ms] [-o frames] [-l loops]
 *             [-d from_ms:to_ms] [-c crash_ms [-t cut_bytes]]
 *             in.flv out.mp4 [sidecar]
 *   mp4_drive -R out.mp4 sidecar
 *   mp4_drive [-H] [-A from_ms] in.flv out.mp4 [sidecar]
 *
 * -c stops at the first frame at or after crash_ms without flushing or
 * closing, like kill -9 (the sidecar stays); -t then cuts bytes off the
 * part's end, tearing the last sample.  -R recovers such a part.  -l
 * writes the input that many times in a row, as one longer part; -d drops
 * the audio frames in [from_ms, to_ms), as a source that loses audio.
 * -H hands the part over at the end (detach: written, closed, no moov, the
 * sidecar kept); -A goes on in such a part (reopen instead of open), the
 * input's first frame at from_ms of the part, as a reconnect does.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"
#include "ngx_live_record_mp4.h"
#include "ngx_stub.h"


#define DRIVE_TICK_MS  250


typedef struct {
    u_char                     *data;
    size_t                      len;
    ngx_live_record_track_t     tracks[NGX_LIVE_RECORD_NTRACKS];
    int64_t                     span;
} drive_input_t;


typedef struct {
    ngx_live_record_mp4_t      *w;
    int64_t                     base;
    int64_t                     last[NGX_LIVE_RECORD_NTRACKS];
    int64_t                     tick;
    int64_t                     crash;
    int64_t                     gap_from;
    int64_t                     gap_to;
    int64_t                     from;
    ngx_uint_t                  written[NGX_LIVE_RECORD_NTRACKS];
    ngx_uint_t                  keys;
    ngx_uint_t                  frames;
    ngx_uint_t                  open_after;
    u_char                     *path;
    u_char                     *sidecar;
    unsigned                    started:1;
    unsigned                    opened:1;
    unsigned                    crashed:1;
    unsigned                    handover:1;
    unsigned                    append:1;
} drive_ctx_t;


static int drive_read(char *path, drive_input_t *in);
static void drive_scan(drive_input_t *in);
static int drive_run(drive_input_t *in, drive_ctx_t *ctx, int64_t offset);
static int drive_frame(drive_ctx_t *ctx, ngx_live_record_tag_t *tag,
    int64_t ts);
static void drive_io(uint64_t *wchar, uint64_t *rchar);
static int drive_recover(ngx_log_t *log, char *path, char *sidecar);
static ngx_int_t drive_open(drive_ctx_t *ctx);


int
main(int argc, char **argv)
{
    int              c, loops, i;
    off_t            reserve, size, cut;
    uint64_t         w0, r0, w1, r1;
    ngx_str_t        label = ngx_string("drive/test");
    ngx_log_t        log;
    ngx_pool_t      *pool;
    ngx_msec_t       interval;
    struct stat      st;
    drive_ctx_t      ctx;
    drive_input_t    in;

    setvbuf(stdout, NULL, _IOLBF, 0);

    ngx_memzero(&log, sizeof(ngx_log_t));
    log.log_level = NGX_LOG_INFO;

    reserve = -1;
    interval = 1800000;
    loops = 1;
    cut = 0;

    ngx_memzero(&ctx, sizeof(drive_ctx_t));
    ctx.open_after = 8;
    ctx.crash = -1;

    if (argc > 1 && strcmp(argv[1], "-R") == 0) {
        if (argc != 4) {
            fprintf(stderr, "usage: mp4_drive -R part sidecar\n");
            return 2;
        }

        return drive_recover(&log, argv[2], argv[3]);
    }

    ctx.gap_from = -1;
    ctx.gap_to = -1;

    while ((c = getopt(argc, argv, "r:i:o:l:c:t:d:HA:")) != -1) {
        switch (c) {
        case 'r': reserve = atoll(optarg); break;
        case 'i': interval = atol(optarg); break;
        case 'o': ctx.open_after = atoi(optarg); break;
        case 'l': loops = atoi(optarg); break;
        case 'c': ctx.crash = atoll(optarg); break;
        case 't': cut = atoll(optarg); break;
        case 'H': ctx.handover = 1; break;
        case 'A': ctx.append = 1; ctx.from = atoll(optarg); break;
        case 'd':
            if (sscanf(optarg, "%lld:%lld", (long long *) &ctx.gap_from,
                       (long long *) &ctx.gap_to) != 2)
            {
                return 2;
            }
            break;
        default: return 2;
        }
    }

    if (argc - optind < 2) {
        fprintf(stderr, "usage: mp4_drive [options] in.flv out.mp4 "
                "[sidecar]\n");
        return 2;
    }

    if (drive_read(argv[optind], &in) != 0) {
        return 1;
    }

    ctx.path = (u_char *) argv[optind + 1];

    if (argc - optind > 2) {
        ctx.sidecar = (u_char *) argv[optind + 2];

    } else {
        ctx.sidecar = malloc(strlen(argv[optind + 1]) + sizeof(".lrsc"));
        sprintf((char *) ctx.sidecar, "%s.lrsc", argv[optind + 1]);
    }

    drive_scan(&in);

    printf("tracks video=%s audio=%s\n",
           ngx_live_record_codec_name(in.tracks[0].codec),
           ngx_live_record_codec_name(in.tracks[1].codec));

    if (reserve < 0) {
        reserve = ngx_live_record_mp4_reserve(in.tracks, interval);
    }

    pool = ngx_stub_pool_create(&log);
    if (pool == NULL) {
        return 1;
    }

    ctx.w = ngx_live_record_mp4_create(pool, &log, &label, in.tracks,
                                       reserve);
    if (ctx.w == NULL) {
        fprintf(stderr, "mp4_drive: create failed\n");
        return 1;
    }

    drive_io(&w0, &r0);

    if (ctx.append) {
        /* the frames of a part taken over wait until it is reopened */

        if (drive_open(&ctx) != NGX_OK) {
            fprintf(stderr, "mp4_drive: reopen failed\n");
            return 1;
        }

        ngx_live_record_mp4_ready(ctx.w, NGX_OK);
        ctx.opened = 1;
    }

    for (i = 0; i < loops && !ctx.crashed; i++) {
        if (drive_run(&in, &ctx, i * in.span) != 0) {
            return 1;
        }
    }

    if (!ctx.opened) {
        if (drive_open(&ctx) != NGX_OK) {
            return 1;
        }

        ngx_live_record_mp4_ready(ctx.w, NGX_OK);
    }

    printf("written video=%lu audio=%lu keys=%lu dropped=%lu\n",
           (unsigned long) ctx.written[0], (unsigned long) ctx.written[1],
           (unsigned long) ctx.keys,
           (unsigned long) ngx_live_record_mp4_dropped(ctx.w));

    if (ctx.crashed) {
        /* kill -9: what the ticks flushed is all there is */

        if (cut && stat((char *) ctx.path, &st) == 0 && st.st_size > cut) {
            if (truncate((char *) ctx.path, st.st_size - cut) != 0) {
                perror("truncate");
                return 1;
            }
        }

        printf("crashed at=%lld\n", (long long) ctx.crash);

        /* no pool cleanup, no exit handlers: the fds die with the process */
        _exit(0);
    }

    printf("span=%lld\n", (long long) in.span);

    if (ctx.handover) {
        if (ngx_live_record_mp4_detach(ctx.w) != NGX_OK) {
            fprintf(stderr, "mp4_drive: detach failed\n");
            return 1;
        }

        printf("detached\n");

        ngx_stub_pool_destroy(pool);
        free(in.data);

        if (argc - optind < 3) {
            free(ctx.sidecar);
        }

        return 0;
    }

    if (ngx_live_record_mp4_close(ctx.w, &size) != NGX_OK) {
        fprintf(stderr, "mp4_drive: close failed\n");
        return 1;
    }

    drive_io(&w1, &r1);

    printf("size=%lld\n", (long long) size);
    printf("io written=%llu read=%llu\n", (unsigned long long) (w1 - w0),
           (unsigned long long) (r1 - r0));

    ngx_stub_pool_destroy(pool);
    free(in.data);

    if (argc - optind < 3) {
        free(ctx.sidecar);
    }

    return 0;
}


static int
drive_read(char *path, drive_input_t *in)
{
    FILE         *f;
    struct stat   st;

    ngx_memzero(in, sizeof(drive_input_t));

    f = fopen(path, "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        perror(path);
        return 1;
    }

    in->len = st.st_size;
    in->data = malloc(in->len + 1);

    if (in->data == NULL || fread(in->data, 1, in->len, f) != in->len) {
        perror(path);
        return 1;
    }

    fclose(f);

    if (in->len < 13 || ngx_memcmp(in->data, "FLV", 3) != 0) {
        fprintf(stderr, "mp4_drive: %s is not FLV\n", path);
        return 1;
    }

    return 0;
}


/* FLV tags: type (1), size (3), timestamp (3 + 1), stream id (3), body */

#define drive_tags(in, p, end, type, size, ts)                               \
    for (p = in->data + 13;                                                  \
         p + 11 <= end                                                       \
         && (type = p[0] & 0x1f,                                             \
             size = ((size_t) p[1] << 16) | ((size_t) p[2] << 8) | p[3],     \
             ts = ((uint32_t) p[7] << 24) | ((uint32_t) p[4] << 16)          \
                  | ((uint32_t) p[5] << 8) | p[6],                           \
             p + 11 + size <= end);                                          \
         p += 11 + size + 4)


/* the tracks, from the sequence headers (MP3: from its first frame) */

static void
drive_scan(drive_input_t *in)
{
    u_char                   *p, *end;
    size_t                    size;
    uint32_t                  ts, first, last;
    ngx_uint_t                type, seen;
    ngx_live_record_tag_t     tag;
    ngx_live_record_track_t   t;

    end = in->data + in->len;
    seen = 0;
    first = 0;
    last = 0;

    drive_tags(in, p, end, type, size, ts) {
        if (type != NGX_LIVE_RECORD_FLV_AUDIO
            && type != NGX_LIVE_RECORD_FLV_VIDEO)
        {
            continue;
        }

        if (ngx_live_record_parse_tag(type, p + 11, size, &tag) != NGX_OK) {
            continue;
        }

        if (tag.kind == NGX_LIVE_RECORD_TAG_HEADER) {
            if (in->tracks[tag.track].codec == 0
                && ngx_live_record_parse_header(&tag, &t) == NGX_OK)
            {
                in->tracks[tag.track] = t;
            }

            continue;
        }

        if (tag.kind != NGX_LIVE_RECORD_TAG_FRAME) {
            continue;
        }

        if (tag.codec == NGX_LIVE_RECORD_CODEC_MP3
            && in->tracks[tag.track].codec == 0
            && ngx_live_record_parse_mp3(tag.data, tag.len, &t) == NGX_OK)
        {
            in->tracks[tag.track] = t;
        }

        if (!seen) {
            first = ts;
            seen = 1;
        }

        last = ngx_max(last, ts);
    }

    /* the input's length when looped: its span and one frame more */
    in->span = (int64_t) (last - first) + 40;
}


static int
drive_run(drive_input_t *in, drive_ctx_t *ctx, int64_t offset)
{
    u_char                 *p, *end;
    size_t                  size;
    uint32_t                ts;
    ngx_uint_t              type;
    ngx_live_record_tag_t   tag;

    end = in->data + in->len;

    drive_tags(in, p, end, type, size, ts) {
        if (type != NGX_LIVE_RECORD_FLV_AUDIO
            && type != NGX_LIVE_RECORD_FLV_VIDEO)
        {
            continue;
        }

        if (ngx_live_record_parse_tag(type, p + 11, size, &tag) != NGX_OK
            || tag.kind != NGX_LIVE_RECORD_TAG_FRAME
            || in->tracks[tag.track].codec != tag.codec)
        {
            continue;
        }

        if (drive_frame(ctx, &tag, (int64_t) ts + offset) != 0) {
            return 1;
        }

        if (ctx->crashed) {
            return 0;
        }
    }

    return 0;
}


static int
drive_frame(drive_ctx_t *ctx, ngx_live_record_tag_t *tag, int64_t ts)
{
    int64_t                  dts, pts;
    ngx_int_t                rc;
    ngx_live_record_frame_t  f;

    if (!ctx->started) {
        if (tag->track == NGX_LIVE_RECORD_VIDEO && !tag->key) {
            return 0;
        }

        ctx->started = 1;
        ctx->base = ts - ctx->from;
        ctx->last[0] = -1;
        ctx->last[1] = -1;
    }

    if (tag->track == NGX_LIVE_RECORD_VIDEO && !tag->key
        && ctx->last[NGX_LIVE_RECORD_VIDEO] < 0)
    {
        return 0;
    }

    /* as ngx_live_record_part_write() */

    dts = ngx_max(ts - ctx->base, 0);

    if (ctx->last[tag->track] >= 0 && dts <= ctx->last[tag->track]) {
        dts = ctx->last[tag->track] + 1;
    }

    pts = ngx_max(ts - ctx->base + tag->cts, dts);

    if (ctx->crash >= 0 && dts >= ctx->crash) {
        ctx->crashed = 1;
        return 0;
    }

    if (tag->track == NGX_LIVE_RECORD_AUDIO
        && dts >= ctx->gap_from && dts < ctx->gap_to)
    {
        /* the source drops audio */
        return 0;
    }

    ctx->last[tag->track] = dts;

    f.track = tag->track;
    f.key = tag->key;
    f.dts = dts;
    f.pts = pts;
    f.duration = 0;
    f.data = tag->data;
    f.len = tag->len;

    rc = ngx_live_record_mp4_write(ctx->w, &f);

    if (rc == NGX_ERROR) {
        fprintf(stderr, "mp4_drive: write failed\n");
        return 1;
    }

    if (rc == NGX_OK) {
        ctx->written[tag->track]++;
        ctx->keys += (tag->track == NGX_LIVE_RECORD_VIDEO && tag->key);
    }

    /* the thread pool's open() completes after a few frames */

    if (!ctx->opened && ++ctx->frames >= ctx->open_after) {
        rc = drive_open(ctx);
        ngx_live_record_mp4_ready(ctx->w, rc);

        if (rc != NGX_OK) {
            return 1;
        }

        ctx->opened = 1;
    }

    /* the flush timer, on media time */

    if (dts - ctx->tick >= DRIVE_TICK_MS) {
        ctx->tick = dts;

        if (ngx_live_record_mp4_flush(ctx->w) != NGX_OK) {
            fprintf(stderr, "mp4_drive: flush failed\n");
            return 1;
        }
    }

    return 0;
}


/* bytes this process passed to write() and read() so far */

static void
drive_io(uint64_t *wchar, uint64_t *rchar)
{
    char   line[128];
    FILE  *f;

    *wchar = 0;
    *rchar = 0;

    f = fopen("/proc/self/io", "r");
    if (f == NULL) {
        return;
    }

    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "wchar:", 6) == 0) {
            *wchar = strtoull(line + 6, NULL, 10);

        } else if (strncmp(line, "rchar:", 6) == 0) {
            *rchar = strtoull(line + 6, NULL, 10);
        }
    }

    fclose(f);
}


static int
drive_recover(ngx_log_t *log, char *path, char *sidecar)
{
    off_t        size;
    ngx_int_t    rc;
    ngx_str_t    label = ngx_string("drive/recover");
    ngx_pool_t  *pool;

    pool = ngx_stub_pool_create(log);
    if (pool == NULL) {
        return 1;
    }

    rc = ngx_live_record_mp4_recover(pool, log, &label, (u_char *) path,
                                     (u_char *) sidecar, &size);

    ngx_stub_pool_destroy(pool);

    if (rc != NGX_OK) {
        fprintf(stderr, "mp4_drive: recover returned %ld\n", (long) rc);
        return 1;
    }

    printf("recovered size=%lld\n", (long long) size);

    return 0;
}


/* the thread pool's open(), or reopen() of a part handed over */

static ngx_int_t
drive_open(drive_ctx_t *ctx)
{
    if (ctx->append) {
        return ngx_live_record_mp4_reopen(ctx->w, ctx->path, ctx->sidecar);
    }

    return ngx_live_record_mp4_open(ctx->w, ctx->path, ctx->sidecar);
}
