
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for ngx_live_record_codec.c: FLV tag bodies as
 * nginx-rtmp delivers RTMP audio and video message bodies.  The first byte
 * of an input, modulo 6, picks the path; the rest is the body, copied to a
 * buffer of exactly its size so that ASan sees a read past either end:
 *
 *   0  a video tag body (FLV type 9): parse_tag, then the stream model
 *   1  an audio tag body (FLV type 8): parse_tag, then the stream model
 *   2  an AVCDecoderConfigurationRecord alone: parse_header as H.264
 *   3  an AudioSpecificConfig alone: parse_header as AAC
 *   4  an MPEG audio frame alone: parse_mp3
 *   5  FLV tags one after another, with or without the FLV file header:
 *      each through parse_tag and one stream model
 *
 * The stream model is a small copy of what ngx_live_record_stream.c does
 * with a parsed tag, without nginx: a header replaces the track's
 * parameters if it parses, a frame needs a header of its own codec first
 * (mp3: its first frame tells), frames wait for a keyframe before the first
 * part opens, and a changed header or the interval cuts a new part at the
 * next boundary.  Whatever a parser returns is checked: data inside the
 * input, sizes and rates in range; a failed check aborts.
 *
 * Built with -DNGX_LIVE_RECORD_FUZZ_MAIN it is a plain program that runs
 * each file named on its command line, or each file in a directory named
 * there, once (t/fuzz.t: gcc and ASan, no clang needed).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"


#define NGX_LIVE_RECORD_FUZZ_VIDEO        0
#define NGX_LIVE_RECORD_FUZZ_AUDIO        1
#define NGX_LIVE_RECORD_FUZZ_AVC          2
#define NGX_LIVE_RECORD_FUZZ_AAC          3
#define NGX_LIVE_RECORD_FUZZ_MP3          4
#define NGX_LIVE_RECORD_FUZZ_FLV          5
#define NGX_LIVE_RECORD_FUZZ_NPATHS       6

/* as NGX_LIVE_RECORD_WAIT_MS and _WAIT_FRAMES in the module */
#define NGX_LIVE_RECORD_FUZZ_WAIT_MS      1000
#define NGX_LIVE_RECORD_FUZZ_WAIT_FRAMES  512

/* live_record_interval */
#define NGX_LIVE_RECORD_FUZZ_INTERVAL     10000

/* the SPS parser refuses more than 1024 macroblocks a side */
#define NGX_LIVE_RECORD_FUZZ_MAX_WIDTH    (1024 * 16)
#define NGX_LIVE_RECORD_FUZZ_MAX_HEIGHT   (1024 * 16 * 2)


#define ngx_live_record_fuzz_check(c)                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_tag: %s:%d: check failed: %s\n",           \
                    __FILE__, __LINE__, #c);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


typedef struct {
    ngx_live_record_tag_t       tag;
    int64_t                     ts;
} ngx_live_record_fuzz_pending_t;


typedef struct {
    ngx_live_record_track_t     tracks[NGX_LIVE_RECORD_NTRACKS];
    ngx_live_record_track_t     part[NGX_LIVE_RECORD_NTRACKS];
    ngx_live_record_fuzz_pending_t
                                pending[NGX_LIVE_RECORD_FUZZ_WAIT_FRAMES];
    ngx_uint_t                  npending;
    ngx_uint_t                  parts;
    ngx_uint_t                  frames;
    ngx_uint_t                  sum;
    uint32_t                    last_raw;
    int64_t                     ts;
    int64_t                     base;
    unsigned                    started:1;
    unsigned                    open:1;
    unsigned                    changed:1;
} ngx_live_record_fuzz_ctx_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_live_record_fuzz_flv(ngx_live_record_fuzz_ctx_t *ctx,
    u_char *p, size_t len);
static void ngx_live_record_fuzz_av(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_uint_t type, u_char *p, size_t len, uint32_t timestamp);
static void ngx_live_record_fuzz_header(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, u_char *p, size_t len);
static void ngx_live_record_fuzz_frame(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, int64_t ts);
static ngx_int_t ngx_live_record_fuzz_hold(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, int64_t ts);
static ngx_int_t ngx_live_record_fuzz_ready(ngx_live_record_fuzz_ctx_t *ctx);
static void ngx_live_record_fuzz_flush(ngx_live_record_fuzz_ctx_t *ctx);
static ngx_int_t ngx_live_record_fuzz_cut(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, int64_t ts);
static void ngx_live_record_fuzz_open(ngx_live_record_fuzz_ctx_t *ctx,
    int64_t base);
static ngx_uint_t ngx_live_record_fuzz_changed(ngx_live_record_track_t *old,
    ngx_live_record_track_t *cur);
static void ngx_live_record_fuzz_write(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag);
static void ngx_live_record_fuzz_free(ngx_live_record_fuzz_ctx_t *ctx);
static void ngx_live_record_fuzz_check_tag(ngx_live_record_tag_t *tag,
    ngx_uint_t type, u_char *p, size_t len);
static void ngx_live_record_fuzz_check_track(ngx_live_record_track_t *t,
    ngx_uint_t codec, u_char *p, size_t len);
static ngx_uint_t ngx_live_record_fuzz_touch(u_char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *p;
    size_t                       len;
    ngx_uint_t                   path;
    ngx_live_record_tag_t        tag;
    ngx_live_record_track_t      t;
    ngx_live_record_fuzz_ctx_t  *ctx;

    if (size == 0) {
        return 0;
    }

    path = data[0] % NGX_LIVE_RECORD_FUZZ_NPATHS;
    len = size - 1;

    /* malloc(0) may return NULL; the parsers get a valid pointer anyway */

    p = malloc(len ? len : 1);
    ngx_live_record_fuzz_check(p != NULL);

    if (len) {
        ngx_memcpy(p, data + 1, len);
    }

    switch (path) {

    case NGX_LIVE_RECORD_FUZZ_AVC:
    case NGX_LIVE_RECORD_FUZZ_AAC:
        ngx_memzero(&tag, sizeof(ngx_live_record_tag_t));

        tag.kind = NGX_LIVE_RECORD_TAG_HEADER;
        tag.codec = (path == NGX_LIVE_RECORD_FUZZ_AVC)
                    ? NGX_LIVE_RECORD_CODEC_H264 : NGX_LIVE_RECORD_CODEC_AAC;
        tag.track = (path == NGX_LIVE_RECORD_FUZZ_AVC)
                    ? NGX_LIVE_RECORD_VIDEO : NGX_LIVE_RECORD_AUDIO;
        tag.data = p;
        tag.len = len;

        if (ngx_live_record_parse_header(&tag, &t) == NGX_OK) {
            ngx_live_record_fuzz_check_track(&t, tag.codec, p, len);
        }

        break;

    case NGX_LIVE_RECORD_FUZZ_MP3:
        if (ngx_live_record_parse_mp3(p, len, &t) == NGX_OK) {
            ngx_live_record_fuzz_check_track(&t, NGX_LIVE_RECORD_CODEC_MP3,
                                             p, len);
        }

        break;

    default:
        ctx = calloc(1, sizeof(ngx_live_record_fuzz_ctx_t));
        ngx_live_record_fuzz_check(ctx != NULL);

        if (path == NGX_LIVE_RECORD_FUZZ_FLV) {
            ngx_live_record_fuzz_flv(ctx, p, len);

        } else {
            ngx_live_record_fuzz_av(ctx,
                                    path == NGX_LIVE_RECORD_FUZZ_VIDEO
                                    ? NGX_LIVE_RECORD_FLV_VIDEO
                                    : NGX_LIVE_RECORD_FLV_AUDIO,
                                    p, len, 0);
        }

        ngx_live_record_fuzz_free(ctx);
        free(ctx);
    }

    free(p);

    return 0;
}


/* FLV: 9-byte header, then previous tag size (4) and tag, tag, ... */

static void
ngx_live_record_fuzz_flv(ngx_live_record_fuzz_ctx_t *ctx, u_char *p,
    size_t len)
{
    size_t      n;
    uint32_t    timestamp;
    ngx_uint_t  type;

    if (len >= 13 && p[0] == 'F' && p[1] == 'L' && p[2] == 'V') {
        p += 13;
        len -= 13;
    }

    /* type (1), size (3), timestamp (3 + 1 extended), stream id (3) */

    while (len >= 11) {
        type = p[0] & 0x1f;
        n = ((size_t) p[1] << 16) | ((size_t) p[2] << 8) | p[3];
        timestamp = ((uint32_t) p[7] << 24) | ((uint32_t) p[4] << 16)
                    | ((uint32_t) p[5] << 8) | p[6];

        p += 11;
        len -= 11;
        n = ngx_min(n, len);

        if (type == NGX_LIVE_RECORD_FLV_AUDIO
            || type == NGX_LIVE_RECORD_FLV_VIDEO)
        {
            ngx_live_record_fuzz_av(ctx, type, p, n, timestamp);
        }

        p += n;
        len -= n;

        n = ngx_min(4, len);
        p += n;
        len -= n;
    }
}


/* ngx_live_record_stream_av(): one RTMP audio or video message */

static void
ngx_live_record_fuzz_av(ngx_live_record_fuzz_ctx_t *ctx, ngx_uint_t type,
    u_char *p, size_t len, uint32_t timestamp)
{
    u_char                 *body;
    int64_t                 ts;
    ngx_live_record_tag_t   tag;

    /* the body alone, in a buffer of its own size, as copy_body makes it */

    body = malloc(len ? len : 1);
    ngx_live_record_fuzz_check(body != NULL);

    if (len) {
        ngx_memcpy(body, p, len);
    }

    if (ngx_live_record_parse_tag(type, body, len, &tag) != NGX_OK) {
        goto done;
    }

    ngx_live_record_fuzz_check_tag(&tag, type, body, len);

    switch (tag.kind) {

    case NGX_LIVE_RECORD_TAG_SKIP:
    case NGX_LIVE_RECORD_TAG_CODEC:
        goto done;

    case NGX_LIVE_RECORD_TAG_HEADER:
        ngx_live_record_fuzz_header(ctx, &tag, body, len);
        goto done;
    }

    /* 32-bit rtmp time, extended so that wrapping keeps it monotonic */

    if (ctx->started) {
        ctx->ts += (int32_t) (timestamp - ctx->last_raw);

    } else {
        ctx->ts = timestamp;
        ctx->started = 1;
    }

    ctx->last_raw = timestamp;
    ts = ctx->ts;

    ngx_live_record_fuzz_frame(ctx, &tag, ts);

done:

    free(body);
}


static void
ngx_live_record_fuzz_header(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, u_char *p, size_t len)
{
    u_char                   *s;
    ngx_live_record_track_t   t, *cur;

    if (ngx_live_record_parse_header(tag, &t) != NGX_OK) {
        return;
    }

    ngx_live_record_fuzz_check_track(&t, tag->codec, p, len);

    cur = &ctx->tracks[tag->track];

    if (!ngx_live_record_fuzz_changed(cur, &t)) {
        return;
    }

    s = malloc(t.extradata_len);
    ngx_live_record_fuzz_check(s != NULL);

    ngx_memcpy(s, t.extradata, t.extradata_len);

    free(cur->extradata);

    *cur = t;
    cur->extradata = s;

    if (ctx->open) {
        ctx->changed = 1;
    }
}


static void
ngx_live_record_fuzz_frame(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, int64_t ts)
{
    ngx_live_record_track_t  *t, mp3;

    t = &ctx->tracks[tag->track];

    if (tag->codec == NGX_LIVE_RECORD_CODEC_MP3
        && t->codec != NGX_LIVE_RECORD_CODEC_MP3)
    {
        /* mp3 has no sequence header: its first frame tells */

        if (ngx_live_record_parse_mp3(tag->data, tag->len, &mp3) != NGX_OK) {
            return;
        }

        ngx_live_record_fuzz_check_track(&mp3, NGX_LIVE_RECORD_CODEC_MP3,
                                         tag->data, tag->len);

        free(t->extradata);
        *t = mp3;

        if (ctx->open) {
            ctx->changed = 1;
        }
    }

    if (t->codec != tag->codec) {
        /* frames before the sequence header */
        return;
    }

    if (!ctx->open) {
        if (ngx_live_record_fuzz_hold(ctx, tag, ts) != NGX_OK) {
            return;
        }

        if (ngx_live_record_fuzz_ready(ctx) == NGX_OK) {
            ngx_live_record_fuzz_flush(ctx);
        }

        return;
    }

    if (ngx_live_record_fuzz_cut(ctx, tag, ts) != NGX_OK) {
        return;
    }

    ngx_live_record_fuzz_write(ctx, tag);
}


static ngx_int_t
ngx_live_record_fuzz_hold(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, int64_t ts)
{
    ngx_uint_t                       i;
    ngx_live_record_fuzz_pending_t  *pf;

    if (tag->track == NGX_LIVE_RECORD_VIDEO && !tag->key
        && ctx->npending == 0)
    {
        /* a part starts at a keyframe */
        return NGX_DECLINED;
    }

    /* ready() flushes at WAIT_FRAMES: there is always room for one more */

    ngx_live_record_fuzz_check(ctx->npending
                               < NGX_LIVE_RECORD_FUZZ_WAIT_FRAMES);

    /* kept in time order: the first frame a muxer sees is the earliest */

    for (i = ctx->npending; i > 0; i--) {
        if (ctx->pending[i - 1].ts <= ts) {
            break;
        }
    }

    pf = &ctx->pending[i];

    ngx_memmove(pf + 1, pf,
                (ctx->npending - i) * sizeof(ngx_live_record_fuzz_pending_t));

    pf->tag = *tag;
    pf->ts = ts;
    pf->tag.data = malloc(tag->len);
    ngx_live_record_fuzz_check(pf->tag.data != NULL);

    ngx_memcpy(pf->tag.data, tag->data, tag->len);

    ctx->npending++;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_fuzz_ready(ngx_live_record_fuzz_ctx_t *ctx)
{
    ngx_uint_t  i;

    if (ctx->pending[ctx->npending - 1].ts - ctx->pending[0].ts
        >= NGX_LIVE_RECORD_FUZZ_WAIT_MS
        || ctx->npending >= NGX_LIVE_RECORD_FUZZ_WAIT_FRAMES)
    {
        return NGX_OK;
    }

    /* no onMetaData here: the tracks with a header are the ones to wait for */

    if (ctx->tracks[NGX_LIVE_RECORD_VIDEO].codec == 0) {
        return NGX_OK;
    }

    for (i = 0; i < ctx->npending; i++) {
        if (ctx->pending[i].tag.track == NGX_LIVE_RECORD_VIDEO
            && ctx->pending[i].tag.key)
        {
            return NGX_OK;
        }
    }

    return NGX_AGAIN;
}


static void
ngx_live_record_fuzz_flush(ngx_live_record_fuzz_ctx_t *ctx)
{
    int64_t                          base;
    ngx_uint_t                       i, video, seen_key;
    ngx_live_record_fuzz_pending_t  *pf;

    video = (ctx->tracks[NGX_LIVE_RECORD_VIDEO].codec != 0);
    base = INT64_MAX;
    seen_key = 0;

    for (i = 0; i < ctx->npending; i++) {
        pf = &ctx->pending[i];

        if (pf->tag.track == NGX_LIVE_RECORD_VIDEO && pf->tag.key) {
            seen_key = 1;
        }

        if (pf->tag.track == NGX_LIVE_RECORD_AUDIO || seen_key || !video) {
            base = ngx_min(base, pf->ts);
        }
    }

    if (base != INT64_MAX) {
        ngx_live_record_fuzz_open(ctx, base);

        seen_key = 0;

        for (i = 0; i < ctx->npending; i++) {
            pf = &ctx->pending[i];

            if (pf->tag.track == NGX_LIVE_RECORD_VIDEO) {
                seen_key |= pf->tag.key;

                if (!seen_key) {
                    continue;
                }
            }

            ngx_live_record_fuzz_write(ctx, &pf->tag);
        }
    }

    for (i = 0; i < ctx->npending; i++) {
        free(ctx->pending[i].tag.data);
    }

    ctx->npending = 0;
}


/* where a part ends: decided on media time, never on the wall clock */

static ngx_int_t
ngx_live_record_fuzz_cut(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, int64_t ts)
{
    ngx_uint_t  boundary;

    boundary = (ctx->tracks[NGX_LIVE_RECORD_VIDEO].codec == 0)
               || (tag->track == NGX_LIVE_RECORD_VIDEO && tag->key);

    if (ctx->changed) {
        if (!boundary) {
            /* the changed track's frames wait for the new part */
            return ngx_live_record_fuzz_changed(&ctx->part[tag->track],
                                                &ctx->tracks[tag->track])
                   ? NGX_DECLINED : NGX_OK;
        }

        ctx->changed = 0;
        ngx_live_record_fuzz_open(ctx, ts);

        return NGX_OK;
    }

    if (boundary && ts - ctx->base >= NGX_LIVE_RECORD_FUZZ_INTERVAL) {
        ngx_live_record_fuzz_open(ctx, ts);
    }

    return NGX_OK;
}


/* a part takes its own copy of the stream's parameters */

static void
ngx_live_record_fuzz_open(ngx_live_record_fuzz_ctx_t *ctx, int64_t base)
{
    ngx_uint_t                n;
    ngx_live_record_track_t  *t;

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        t = &ctx->part[n];

        free(t->extradata);

        *t = ctx->tracks[n];
        t->extradata = malloc(t->extradata_len + 1);
        ngx_live_record_fuzz_check(t->extradata != NULL);

        if (t->extradata_len) {
            ngx_memcpy(t->extradata, ctx->tracks[n].extradata,
                       t->extradata_len);
        }
    }

    ctx->open = 1;
    ctx->base = base;
    ctx->parts++;
}


static ngx_uint_t
ngx_live_record_fuzz_changed(ngx_live_record_track_t *old,
    ngx_live_record_track_t *cur)
{
    return old->codec != cur->codec
           || old->extradata_len != cur->extradata_len
           || (cur->extradata_len
               && ngx_memcmp(old->extradata, cur->extradata,
                             cur->extradata_len) != 0);
}


/* ngx_live_record_part_write(): a part takes frames of its own codecs */

static void
ngx_live_record_fuzz_write(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag)
{
    ngx_live_record_track_t  *t;

    ngx_live_record_fuzz_check(ctx->open);
    ngx_live_record_fuzz_check(tag->kind == NGX_LIVE_RECORD_TAG_FRAME);
    ngx_live_record_fuzz_check(tag->len > 0);

    t = &ctx->part[tag->track];

    if (t->codec != tag->codec) {
        return;
    }

    /* a track with a sequence header has its parameters */

    if (t->codec == NGX_LIVE_RECORD_CODEC_H264) {
        ngx_live_record_fuzz_check(t->width && t->height);

    } else {
        ngx_live_record_fuzz_check(t->sample_rate && t->channels);
    }

    ctx->sum += ngx_live_record_fuzz_touch(tag->data, tag->len);
    ctx->frames++;
}


static void
ngx_live_record_fuzz_free(ngx_live_record_fuzz_ctx_t *ctx)
{
    ngx_uint_t  n;

    for (n = 0; n < ctx->npending; n++) {
        free(ctx->pending[n].tag.data);
    }

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        free(ctx->tracks[n].extradata);
        free(ctx->part[n].extradata);
    }
}


static void
ngx_live_record_fuzz_check_tag(ngx_live_record_tag_t *tag, ngx_uint_t type,
    u_char *p, size_t len)
{
    ngx_live_record_fuzz_check(tag->track
                               == (type == NGX_LIVE_RECORD_FLV_VIDEO
                                   ? NGX_LIVE_RECORD_VIDEO
                                   : NGX_LIVE_RECORD_AUDIO));

    switch (tag->kind) {

    case NGX_LIVE_RECORD_TAG_FRAME:
        ngx_live_record_fuzz_check(tag->len > 0);
        /* fall through */

    case NGX_LIVE_RECORD_TAG_HEADER:
        ngx_live_record_fuzz_check(tag->data >= p && tag->data <= p + len);
        ngx_live_record_fuzz_check(tag->len <= (size_t) (p + len - tag->data));
        ngx_live_record_fuzz_check(tag->codec == NGX_LIVE_RECORD_CODEC_H264
                                   || tag->codec == NGX_LIVE_RECORD_CODEC_AAC
                                   || tag->codec == NGX_LIVE_RECORD_CODEC_MP3);
        ngx_live_record_fuzz_check((tag->codec == NGX_LIVE_RECORD_CODEC_H264)
                                   == (tag->track == NGX_LIVE_RECORD_VIDEO));

        (void) ngx_live_record_fuzz_touch(tag->data, tag->len);
        break;

    case NGX_LIVE_RECORD_TAG_SKIP:
    case NGX_LIVE_RECORD_TAG_CODEC:
        break;

    default:
        ngx_live_record_fuzz_check(0);
    }

    ngx_live_record_fuzz_check(tag->key <= 1);
    ngx_live_record_fuzz_check(tag->cts >= -(1 << 23) && tag->cts < (1 << 23));
}


static void
ngx_live_record_fuzz_check_track(ngx_live_record_track_t *t,
    ngx_uint_t codec, u_char *p, size_t len)
{
    ngx_live_record_fuzz_check(t->codec == codec);

    switch (codec) {

    case NGX_LIVE_RECORD_CODEC_H264:
        ngx_live_record_fuzz_check(t->width > 0
                                   && t->width
                                      <= NGX_LIVE_RECORD_FUZZ_MAX_WIDTH);
        ngx_live_record_fuzz_check(t->height > 0
                                   && t->height
                                      <= NGX_LIVE_RECORD_FUZZ_MAX_HEIGHT);
        ngx_live_record_fuzz_check(t->sample_rate == 0 && t->channels == 0);
        break;

    case NGX_LIVE_RECORD_CODEC_AAC:
        ngx_live_record_fuzz_check(t->sample_rate > 0
                                   && t->sample_rate < (1 << 24));
        ngx_live_record_fuzz_check(t->channels >= 1 && t->channels <= 8);
        ngx_live_record_fuzz_check(t->width == 0 && t->height == 0);
        break;

    case NGX_LIVE_RECORD_CODEC_MP3:
        ngx_live_record_fuzz_check(t->sample_rate >= 8000
                                   && t->sample_rate <= 48000);
        ngx_live_record_fuzz_check(t->channels == 1 || t->channels == 2);
        ngx_live_record_fuzz_check(t->extradata == NULL
                                   && t->extradata_len == 0);
        return;

    default:
        ngx_live_record_fuzz_check(0);
    }

    /* the parameters are the header itself: inside the input, not empty */

    ngx_live_record_fuzz_check(t->extradata_len > 0);
    ngx_live_record_fuzz_check(t->extradata >= p
                               && t->extradata + t->extradata_len <= p + len);

    (void) ngx_live_record_fuzz_touch(t->extradata, t->extradata_len);
}


/* reads every byte, so that ASan checks the whole range */

static ngx_uint_t
ngx_live_record_fuzz_touch(u_char *p, size_t len)
{
    size_t               i;
    volatile ngx_uint_t  sum;

    sum = 0;

    for (i = 0; i < len; i++) {
        sum += p[i];
    }

    return sum;
}


#ifdef NGX_LIVE_RECORD_FUZZ_MAIN

/*
 * A plain program: runs each file named on the command line, and each file
 * in a directory named there (not recursing; names starting with "." or
 * "README" are skipped), through LLVMFuzzerTestOneInput() once.
 */

static ngx_int_t ngx_live_record_fuzz_run_path(char *path, ngx_uint_t *n);
static ngx_int_t ngx_live_record_fuzz_run_file(char *path);


int
main(int argc, char **argv)
{
    int         i;
    ngx_uint_t  n;

    n = 0;

    for (i = 1; i < argc; i++) {
        if (ngx_live_record_fuzz_run_path(argv[i], &n) != NGX_OK) {
            return 1;
        }
    }

    printf("fuzz_tag: %lu inputs run\n", (unsigned long) n);

    return 0;
}


static ngx_int_t
ngx_live_record_fuzz_run_path(char *path, ngx_uint_t *n)
{
    DIR            *dir;
    char           *name;
    size_t          len;
    ngx_int_t       rc;
    struct stat     st;
    struct dirent  *de;

    if (stat(path, &st) == -1) {
        fprintf(stderr, "fuzz_tag: stat(\"%s\") failed (%s)\n",
                path, strerror(errno));
        return NGX_ERROR;
    }

    if (!S_ISDIR(st.st_mode)) {
        (*n)++;
        return ngx_live_record_fuzz_run_file(path);
    }

    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "fuzz_tag: opendir(\"%s\") failed (%s)\n",
                path, strerror(errno));
        return NGX_ERROR;
    }

    rc = NGX_OK;

    while (rc == NGX_OK && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.'
            || ngx_strncmp(de->d_name, "README", 6) == 0)
        {
            continue;
        }

        len = strlen(path) + 1 + strlen(de->d_name) + 1;

        name = malloc(len);
        if (name == NULL) {
            rc = NGX_ERROR;
            break;
        }

        snprintf(name, len, "%s/%s", path, de->d_name);

        if (stat(name, &st) == 0 && S_ISREG(st.st_mode)) {
            (*n)++;
            rc = ngx_live_record_fuzz_run_file(name);
        }

        free(name);
    }

    closedir(dir);

    return rc;
}


static ngx_int_t
ngx_live_record_fuzz_run_file(char *path)
{
    FILE     *f;
    u_char   *buf, *p;
    size_t    len, size, n;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "fuzz_tag: fopen(\"%s\") failed (%s)\n",
                path, strerror(errno));
        return NGX_ERROR;
    }

    len = 0;
    size = 4096;
    buf = malloc(size);

    while (buf != NULL) {
        n = fread(buf + len, 1, size - len, f);
        len += n;

        if (len < size) {
            break;
        }

        size *= 2;
        p = realloc(buf, size);

        if (p == NULL) {
            free(buf);
        }

        buf = p;
    }

    if (buf == NULL || ferror(f)) {
        fprintf(stderr, "fuzz_tag: reading \"%s\" failed\n", path);
        free(buf);
        fclose(f);
        return NGX_ERROR;
    }

    fclose(f);

    (void) LLVMFuzzerTestOneInput(buf, len);

    free(buf);

    return NGX_OK;
}

#endif /* NGX_LIVE_RECORD_FUZZ_MAIN */
