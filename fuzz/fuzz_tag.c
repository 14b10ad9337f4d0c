
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for the codec parsers (mux/ngx_live_record_codec.c) and
 * the segmenter (ngx_live_record_segmenter.c): FLV tag bodies as
 * nginx-rtmp delivers RTMP audio and video message bodies.  The first byte
 * of an input, modulo 6, picks the path; the rest is the body, copied to a
 * buffer of exactly its size so that ASan sees a read past either end:
 *
 *   0  a video tag body (FLV type 9): parse_tag, then the segmenter
 *   1  an audio tag body (FLV type 8): parse_tag, then the segmenter
 *   2  a video configuration record alone: parse_header as H.264
 *      (AVCDecoderConfigurationRecord), H.265 (HEVC...Record and its SPS)
 *      and AV1 (AV1CodecConfigurationRecord and its sequence header OBU)
 *   3  an AudioSpecificConfig alone: parse_header as AAC
 *   4  an MPEG audio frame alone: parse_mp3
 *   5  FLV tags one after another, with or without the FLV file header:
 *      each through parse_tag and one segmenter
 *
 * The segmenter is the module's own; the harness plays
 * record/ngx_live_record_stream.c around it: it carries out each decision
 * on one interval part and, when asked, an hls recording (opened, cut,
 * written) and checks it: a cut or an open only at a boundary, an interval
 * cut only past the interval, held frames released in time order from the
 * part's base, no frame written outside a part or before its track's
 * sequence header, every byte of a held frame readable.  In path 5 the
 * tag's stream id (0 in a real file) plays what the segmenter cannot see:
 * NGX_LIVE_RECORD_FUZZ_FAIL and the other bits below.  Whatever a parser
 * returns is checked too: data inside the input, sizes and rates in range;
 * a failed check aborts.
 *
 * Built with -DNGX_LIVE_RECORD_FUZZ_MAIN it is a plain program that runs
 * each file named on its command line, or each file in a directory named
 * there, once (t/fuzz.t: gcc and ASan, no clang needed).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"
#include "ngx_live_record_segmenter.h"


#define NGX_LIVE_RECORD_FUZZ_VIDEO        0
#define NGX_LIVE_RECORD_FUZZ_AUDIO        1
#define NGX_LIVE_RECORD_FUZZ_AVC          2
#define NGX_LIVE_RECORD_FUZZ_AAC          3
#define NGX_LIVE_RECORD_FUZZ_MP3          4
#define NGX_LIVE_RECORD_FUZZ_FLV          5
#define NGX_LIVE_RECORD_FUZZ_NPATHS       6

/* live_record_interval */
#define NGX_LIVE_RECORD_FUZZ_INTERVAL     10000

/*
 * the H.264 SPS parser refuses more than 1024 macroblocks a side, the
 * HEVC and AV1 ones more than 16384 pixels
 */
#define NGX_LIVE_RECORD_FUZZ_MAX_WIDTH    (1024 * 16)
#define NGX_LIVE_RECORD_FUZZ_MAX_HEIGHT   (1024 * 16 * 2)


/* path 2 tries each */
static ngx_uint_t  ngx_live_record_fuzz_video_codecs[] = {
    NGX_LIVE_RECORD_CODEC_H264, NGX_LIVE_RECORD_CODEC_H265,
    NGX_LIVE_RECORD_CODEC_AV1
};

/* the world around the segmenter, from an FLV tag's stream id */
#define NGX_LIVE_RECORD_FUZZ_FAIL         0x01  /* a part fails to open */
#define NGX_LIVE_RECORD_FUZZ_REPLAN       0x02  /* a task started */
#define NGX_LIVE_RECORD_FUZZ_TASK_END     0x04  /* ... or ended */
#define NGX_LIVE_RECORD_FUZZ_PAUSED       0x08  /* the retry timer runs */
#define NGX_LIVE_RECORD_FUZZ_META_VIDEO   0x10  /* onMetaData: video */
#define NGX_LIVE_RECORD_FUZZ_META_AUDIO   0x20  /* onMetaData: audio */
#define NGX_LIVE_RECORD_FUZZ_OFF          0x40  /* no format records */
#define NGX_LIVE_RECORD_FUZZ_HLS          0x80  /* hls records too */


#define ngx_live_record_fuzz_check(c)                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_tag: %s:%d: check failed: %s\n",           \
                    __FILE__, __LINE__, #c);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


typedef struct {
    ngx_live_record_segmenter_t  seg;
    ngx_live_record_track_t      tracks[NGX_LIVE_RECORD_NTRACKS];
    ngx_live_record_track_t      part[NGX_LIVE_RECORD_NTRACKS];
    ngx_live_record_track_t      hls[NGX_LIVE_RECORD_NTRACKS];
    ngx_uint_t                   world;
    ngx_uint_t                   parts;
    ngx_uint_t                   frames;
    ngx_uint_t                   sum;
    int64_t                      base;          /* of the open part */
    int64_t                      last;          /* extended time */
    unsigned                     open:1;
    unsigned                     hls_open:1;
    unsigned                     keyed:1;       /* the part has video */
    unsigned                     hls_keyed:1;
    unsigned                     started:1;
} ngx_live_record_fuzz_ctx_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_live_record_fuzz_stream(ngx_uint_t path, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_flv(ngx_live_record_fuzz_ctx_t *ctx,
    u_char *p, size_t len);
static void ngx_live_record_fuzz_av(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_uint_t type, u_char *p, size_t len, uint32_t timestamp);
static void ngx_live_record_fuzz_world(ngx_live_record_fuzz_ctx_t *ctx);
static void ngx_live_record_fuzz_check_out(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_int_t rc,
    ngx_live_record_segmenter_out_t *out);
static void ngx_live_record_fuzz_carry_out(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out);
static void ngx_live_record_fuzz_flush(ngx_live_record_fuzz_ctx_t *ctx,
    int64_t base);
static ngx_int_t ngx_live_record_fuzz_cut(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_uint_t reason, int64_t ts);
static ngx_int_t ngx_live_record_fuzz_open(ngx_live_record_fuzz_ctx_t *ctx,
    int64_t base);
static void ngx_live_record_fuzz_open_hls(ngx_live_record_fuzz_ctx_t *ctx);
static void ngx_live_record_fuzz_copy(ngx_live_record_track_t *dst,
    ngx_live_record_track_t *src);
static void ngx_live_record_fuzz_close(ngx_live_record_fuzz_ctx_t *ctx);
static void ngx_live_record_fuzz_close_hls(ngx_live_record_fuzz_ctx_t *ctx);
static void ngx_live_record_fuzz_write(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_uint_t held);
static void ngx_live_record_fuzz_write_to(ngx_live_record_track_t *tracks,
    unsigned *keyed, ngx_live_record_tag_t *tag, ngx_uint_t held,
    ngx_uint_t *sum);
static ngx_uint_t ngx_live_record_fuzz_boundary(
    ngx_live_record_fuzz_ctx_t *ctx, ngx_live_record_tag_t *tag);
static void *ngx_live_record_fuzz_alloc(size_t size, void *data);
static void ngx_live_record_fuzz_free(void *p, void *data);
static void ngx_live_record_fuzz_check_tag(ngx_live_record_tag_t *tag,
    ngx_uint_t type, u_char *p, size_t len);
static void ngx_live_record_fuzz_check_track(ngx_live_record_track_t *t,
    ngx_uint_t codec, u_char *p, size_t len);
static ngx_uint_t ngx_live_record_fuzz_touch(u_char *p, size_t len);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                   *p;
    size_t                    len;
    ngx_uint_t                path, i;
    ngx_live_record_tag_t     tag;
    ngx_live_record_track_t   t;

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
        for (i = 0; i < 3; i++) {
            ngx_memzero(&tag, sizeof(ngx_live_record_tag_t));

            tag.kind = NGX_LIVE_RECORD_TAG_HEADER;
            tag.codec = ngx_live_record_fuzz_video_codecs[i];
            tag.track = NGX_LIVE_RECORD_VIDEO;
            tag.data = p;
            tag.len = len;

            if (ngx_live_record_parse_header(&tag, &t) == NGX_OK) {
                ngx_live_record_fuzz_check_track(&t, tag.codec, p, len);
            }
        }

        break;

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
        ngx_live_record_fuzz_stream(path, p, len);
    }

    free(p);

    return 0;
}


/* one publish: a segmenter and the part it cuts */

static void
ngx_live_record_fuzz_stream(ngx_uint_t path, u_char *p, size_t len)
{
    ngx_uint_t                   n;
    ngx_live_record_fuzz_ctx_t  *ctx;

    ctx = calloc(1, sizeof(ngx_live_record_fuzz_ctx_t));
    ngx_live_record_fuzz_check(ctx != NULL);

    ngx_live_record_segmenter_init(&ctx->seg, ctx->tracks,
                                   ngx_live_record_fuzz_alloc,
                                   ngx_live_record_fuzz_free, ctx);

    ctx->seg.interval = NGX_LIVE_RECORD_FUZZ_INTERVAL;
    ctx->seg.recording = 1;

    if (path == NGX_LIVE_RECORD_FUZZ_FLV) {
        ngx_live_record_fuzz_flv(ctx, p, len);

    } else {
        ngx_live_record_fuzz_av(ctx,
                                path == NGX_LIVE_RECORD_FUZZ_VIDEO
                                ? NGX_LIVE_RECORD_FLV_VIDEO
                                : NGX_LIVE_RECORD_FLV_AUDIO,
                                p, len, 0);
    }

    /* the end of the publish: everything the segmenter holds is freed */

    ngx_live_record_fuzz_close(ctx);
    ngx_live_record_fuzz_close_hls(ctx);
    ngx_live_record_segmenter_free(&ctx->seg);

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        ngx_live_record_fuzz_check(ctx->tracks[n].extradata == NULL);
        free(ctx->part[n].extradata);
        free(ctx->hls[n].extradata);
    }

    ngx_live_record_fuzz_check(ctx->seg.npending == 0
                               && ngx_queue_empty(&ctx->seg.pending));

    free(ctx);
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
        ctx->world = p[8];

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
    u_char                           *body;
    ngx_int_t                         rc;
    ngx_live_record_tag_t             tag;
    ngx_live_record_track_t           t;
    ngx_live_record_segmenter_out_t   out;

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

    if (tag.kind == NGX_LIVE_RECORD_TAG_HEADER
        && ngx_live_record_parse_header(&tag, &t) == NGX_OK)
    {
        /* the parser alone first: its result points into the body */
        ngx_live_record_fuzz_check_track(&t, tag.codec, body, len);
    }

    ngx_live_record_fuzz_world(ctx);

    rc = ngx_live_record_segmenter_push(&ctx->seg, &tag, timestamp, &out);

    ngx_live_record_fuzz_check_out(ctx, &tag, rc, &out);

    if (rc == NGX_OK) {
        ngx_live_record_fuzz_carry_out(ctx, &tag, &out);
    }

done:

    free(body);
}


/* what ngx_live_record_stream.c tells the segmenter before a push */

static void
ngx_live_record_fuzz_world(ngx_live_record_fuzz_ctx_t *ctx)
{
    ngx_uint_t  w;

    w = ctx->world;

    ctx->seg.paused = (w & NGX_LIVE_RECORD_FUZZ_PAUSED) != 0;
    ctx->seg.announced =
        ((w & NGX_LIVE_RECORD_FUZZ_META_VIDEO) ? 1 << NGX_LIVE_RECORD_VIDEO
                                               : 0)
        | ((w & NGX_LIVE_RECORD_FUZZ_META_AUDIO) ? 1 << NGX_LIVE_RECORD_AUDIO
                                                 : 0);

    if (w & NGX_LIVE_RECORD_FUZZ_OFF) {
        if (ctx->seg.recording) {
            /* a plan without formats: all closes, nothing is held */
            ctx->seg.replan = 0;
            ngx_live_record_fuzz_close(ctx);
            ngx_live_record_fuzz_close_hls(ctx);
            ngx_live_record_segmenter_drop(&ctx->seg);
        }

        ctx->seg.recording = 0;
        return;
    }

    ctx->seg.recording = 1;

    if ((w & NGX_LIVE_RECORD_FUZZ_REPLAN) && (ctx->open || ctx->hls_open))
    {
        ctx->seg.replan = 1 + ((w & NGX_LIVE_RECORD_FUZZ_TASK_END)
                               ? NGX_LIVE_RECORD_REASON_TASK_END
                               : NGX_LIVE_RECORD_REASON_TASK_START);
    }
}


/* the decision alone, before it is carried out */

static void
ngx_live_record_fuzz_check_out(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_int_t rc,
    ngx_live_record_segmenter_out_t *out)
{
    ngx_uint_t                 boundary;
    ngx_live_record_track_t   *t;

    t = &ctx->tracks[tag->track];

    ngx_live_record_fuzz_check(ctx->seg.npending
                               < NGX_LIVE_RECORD_WAIT_FRAMES);
    ngx_live_record_fuzz_check((ctx->seg.open[NGX_LIVE_RECORD_SEG_PART]
                                != NULL) == ctx->open);
    ngx_live_record_fuzz_check((ctx->seg.open[NGX_LIVE_RECORD_SEG_HLS]
                                != NULL) == ctx->hls_open);

    if (out->flags & NGX_LIVE_RECORD_SEG_HEADER) {
        /* the new parameters are the segmenter's own copy */
        ngx_live_record_fuzz_check_track(t, t->codec, t->extradata,
                                         t->extradata_len);
        ngx_live_record_fuzz_check(t->codec == tag->codec);
    }

    if (tag->kind == NGX_LIVE_RECORD_TAG_FRAME
        && (out->flags & NGX_LIVE_RECORD_SEG_JUMP) == 0
        && out->drop != NGX_LIVE_RECORD_SEG_DROP_SKIP
        && out->drop != NGX_LIVE_RECORD_SEG_DROP_CODEC)
    {
        /* extended time moves by at most MAX_JUMP, never wraps */

        if (ctx->started) {
            ngx_live_record_fuzz_check(out->ts - ctx->last
                                       <= NGX_LIVE_RECORD_MAX_JUMP
                                       && ctx->last - out->ts
                                          <= NGX_LIVE_RECORD_MAX_JUMP);
        }
    }

    if (tag->kind == NGX_LIVE_RECORD_TAG_FRAME) {
        if (out->flags & NGX_LIVE_RECORD_SEG_JUMP) {
            ngx_live_record_fuzz_check(out->jump > NGX_LIVE_RECORD_MAX_JUMP
                                       || out->jump
                                          < -NGX_LIVE_RECORD_MAX_JUMP);
            ngx_live_record_fuzz_check(out->ts == ctx->last);
        }

        ctx->last = out->ts;
        ctx->started = 1;
    }

    switch (rc) {

    case NGX_DECLINED:
    case NGX_ERROR:
        ngx_live_record_fuzz_check(out->drop > NGX_LIVE_RECORD_SEG_DROP_NONE
                                   && out->drop
                                      < NGX_LIVE_RECORD_SEG_NDROPS);
        ngx_live_record_fuzz_check((out->flags
                                    & ~(NGX_LIVE_RECORD_SEG_JUMP
                                        | NGX_LIVE_RECORD_SEG_HEADER))
                                   == 0);
        (void) ngx_live_record_fuzz_touch(
            (u_char *) ngx_live_record_segmenter_why(out->drop),
            ngx_strlen(ngx_live_record_segmenter_why(out->drop)));
        return;

    case NGX_AGAIN:
        ngx_live_record_fuzz_check(out->flags & NGX_LIVE_RECORD_SEG_HELD);
        ngx_live_record_fuzz_check(!ctx->open && !ctx->hls_open
                                   && ctx->seg.npending > 0);
        return;

    case NGX_OK:
        break;

    default:
        ngx_live_record_fuzz_check(0);
    }

    ngx_live_record_fuzz_check(out->drop == NGX_LIVE_RECORD_SEG_DROP_NONE);

    if (tag->kind == NGX_LIVE_RECORD_TAG_HEADER) {
        ngx_live_record_fuzz_check(out->flags == NGX_LIVE_RECORD_SEG_HEADER);
        return;
    }

    /* a frame of a track with a header, while something records */

    ngx_live_record_fuzz_check(t->codec == tag->codec);
    ngx_live_record_fuzz_check(ctx->seg.recording);

    if (out->flags & NGX_LIVE_RECORD_SEG_FLUSH) {
        ngx_live_record_fuzz_check(!ctx->open && !ctx->hls_open);
        ngx_live_record_fuzz_check(out->base != INT64_MAX);
        ngx_live_record_fuzz_check((out->flags
                                    & (NGX_LIVE_RECORD_SEG_CUT
                                       | NGX_LIVE_RECORD_SEG_OPEN
                                       | NGX_LIVE_RECORD_SEG_WRITE))
                                   == 0);
        return;
    }

    ngx_live_record_fuzz_check(out->flags & NGX_LIVE_RECORD_SEG_WRITE);
    ngx_live_record_fuzz_check(ctx->open || ctx->hls_open);

    boundary = ngx_live_record_fuzz_boundary(ctx, tag);

    if (out->flags & NGX_LIVE_RECORD_SEG_CUT) {
        ngx_live_record_fuzz_check(boundary);

        switch (out->reason) {

        case NGX_LIVE_RECORD_REASON_INTERVAL:
            ngx_live_record_fuzz_check(ctx->open);
            ngx_live_record_fuzz_check(out->ts - ctx->base
                                       >= NGX_LIVE_RECORD_FUZZ_INTERVAL);
            break;

        case NGX_LIVE_RECORD_REASON_PARAM_CHANGE:
        case NGX_LIVE_RECORD_REASON_TASK_START:
        case NGX_LIVE_RECORD_REASON_TASK_END:
            break;

        default:
            ngx_live_record_fuzz_check(0);
        }
    }

    if (out->flags & NGX_LIVE_RECORD_SEG_OPEN) {
        /* an hls recording goes on and the part failed: it starts again */
        ngx_live_record_fuzz_check(!ctx->open && boundary
                                   && !ctx->seg.paused);
    }
}


/* ngx_live_record_stream.c: flush, cut, open, write */

static void
ngx_live_record_fuzz_carry_out(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out)
{
    if (out->flags & NGX_LIVE_RECORD_SEG_FLUSH) {
        ngx_live_record_fuzz_flush(ctx, out->base);
        return;
    }

    if (!(out->flags & NGX_LIVE_RECORD_SEG_WRITE)) {
        return;
    }

    if (out->flags & NGX_LIVE_RECORD_SEG_CUT
        && ngx_live_record_fuzz_cut(ctx, out->reason, out->ts) != NGX_OK)
    {
        /* the frame was the next part's first */
        return;
    }

    if ((out->flags & NGX_LIVE_RECORD_SEG_OPEN) && !ctx->open) {
        (void) ngx_live_record_fuzz_open(ctx, out->ts);
    }

    ngx_live_record_fuzz_write(ctx, tag, 0);
}


static void
ngx_live_record_fuzz_flush(ngx_live_record_fuzz_ctx_t *ctx, int64_t base)
{
    int64_t                     last;
    ngx_uint_t                  n, key;
    ngx_live_record_pending_t  *pf;

    n = ctx->seg.npending;

    ngx_live_record_fuzz_check(n > 0);

    (void) ngx_live_record_fuzz_open(ctx, base);
    ngx_live_record_fuzz_open_hls(ctx);

    if (ctx->open || ctx->hls_open) {
        last = base;
        key = 0;

        while ((pf = ngx_live_record_segmenter_release(&ctx->seg)) != NULL) {

            /* in time order from the base, video from a keyframe on */

            ngx_live_record_fuzz_check(pf->ts >= last);
            ngx_live_record_fuzz_check(n-- > 0);

            if (pf->tag.track == NGX_LIVE_RECORD_VIDEO) {
                key |= pf->tag.key;
                ngx_live_record_fuzz_check(key);
            }

            last = pf->ts;

            ngx_live_record_fuzz_write(ctx, &pf->tag, 1);
        }
    }

    ngx_live_record_segmenter_drop(&ctx->seg);

    ngx_live_record_fuzz_check(ctx->seg.npending == 0
                               && ngx_queue_empty(&ctx->seg.pending)
                               && ctx->seg.released == NULL);
}


/* ngx_live_record_cut(): what closes and what opens, by the reason */

static ngx_int_t
ngx_live_record_fuzz_cut(ngx_live_record_fuzz_ctx_t *ctx, ngx_uint_t reason,
    int64_t ts)
{
    switch (reason) {

    case NGX_LIVE_RECORD_REASON_PARAM_CHANGE:

        /* ngx_live_record_hls_param_change(): it goes on, new tracks */

        if (ctx->hls_open) {
            ngx_live_record_fuzz_copy(ctx->hls, ctx->tracks);
        }

        if (!ctx->open) {
            return NGX_OK;
        }

        break;

    case NGX_LIVE_RECORD_REASON_INTERVAL:
        break;

    default:
        if (!(ctx->world & NGX_LIVE_RECORD_FUZZ_HLS)
            || reason == NGX_LIVE_RECORD_REASON_TASK_END)
        {
            ngx_live_record_fuzz_close_hls(ctx);
        }

        ngx_live_record_fuzz_close(ctx);

        if (!ctx->hls_open) {
            ngx_live_record_fuzz_open_hls(ctx);
        }

        return ngx_live_record_fuzz_open(ctx, ts);
    }

    ngx_live_record_fuzz_close(ctx);

    return ngx_live_record_fuzz_open(ctx, ts);
}


/* a part takes its own copy of the stream's parameters */

static ngx_int_t
ngx_live_record_fuzz_open(ngx_live_record_fuzz_ctx_t *ctx, int64_t base)
{
    ngx_live_record_fuzz_check(!ctx->open);

    if (ctx->world & NGX_LIVE_RECORD_FUZZ_FAIL) {
        return NGX_ERROR;
    }

    ngx_live_record_fuzz_copy(ctx->part, ctx->tracks);

    ctx->open = 1;
    ctx->keyed = 0;
    ctx->base = base;
    ctx->parts++;

    ngx_live_record_segmenter_opened(&ctx->seg, NGX_LIVE_RECORD_SEG_PART,
                                     base, ctx->part);

    return NGX_OK;
}


/* an hls recording never fails here: it opens and goes on */

static void
ngx_live_record_fuzz_open_hls(ngx_live_record_fuzz_ctx_t *ctx)
{
    if (!(ctx->world & NGX_LIVE_RECORD_FUZZ_HLS)) {
        return;
    }

    ngx_live_record_fuzz_check(!ctx->hls_open);

    ngx_live_record_fuzz_copy(ctx->hls, ctx->tracks);

    ctx->hls_open = 1;
    ctx->hls_keyed = 0;

    ngx_live_record_segmenter_opened(&ctx->seg, NGX_LIVE_RECORD_SEG_HLS, 0,
                                     ctx->hls);
}


static void
ngx_live_record_fuzz_copy(ngx_live_record_track_t *dst,
    ngx_live_record_track_t *src)
{
    ngx_uint_t  n;

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        free(dst[n].extradata);

        dst[n] = src[n];
        dst[n].extradata = malloc(src[n].extradata_len + 1);
        ngx_live_record_fuzz_check(dst[n].extradata != NULL);

        if (src[n].extradata_len) {
            ngx_memcpy(dst[n].extradata, src[n].extradata,
                       src[n].extradata_len);
        }
    }
}


static void
ngx_live_record_fuzz_close_hls(ngx_live_record_fuzz_ctx_t *ctx)
{
    if (ctx->hls_open) {
        ctx->hls_open = 0;
        ngx_live_record_segmenter_closed(&ctx->seg, NGX_LIVE_RECORD_SEG_HLS);
    }
}


static void
ngx_live_record_fuzz_close(ngx_live_record_fuzz_ctx_t *ctx)
{
    if (ctx->open) {
        ctx->open = 0;
        ngx_live_record_segmenter_closed(&ctx->seg, NGX_LIVE_RECORD_SEG_PART);
    }
}


/*
 * ngx_live_record_part_write(): a part takes frames of its own codecs,
 * video from a keyframe on.  A frame the segmenter writes has its track's
 * parameters in the part; a held one may predate a new header.
 */

static void
ngx_live_record_fuzz_write(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_uint_t held)
{
    unsigned  keyed;

    ngx_live_record_fuzz_check(tag->kind == NGX_LIVE_RECORD_TAG_FRAME);
    ngx_live_record_fuzz_check(tag->len > 0);

    if (ctx->open) {
        keyed = ctx->keyed;
        ngx_live_record_fuzz_write_to(ctx->part, &keyed, tag, held,
                                      &ctx->sum);
        ctx->keyed = keyed;
        ctx->frames++;
    }

    if (ctx->hls_open) {
        keyed = ctx->hls_keyed;
        ngx_live_record_fuzz_write_to(ctx->hls, &keyed, tag, held,
                                      &ctx->sum);
        ctx->hls_keyed = keyed;
        ctx->frames++;
    }
}


static void
ngx_live_record_fuzz_write_to(ngx_live_record_track_t *tracks,
    unsigned *keyed, ngx_live_record_tag_t *tag, ngx_uint_t held,
    ngx_uint_t *sum)
{
    ngx_live_record_track_t  *t;

    t = &tracks[tag->track];

    if (!held) {
        ngx_live_record_fuzz_check(t->codec == tag->codec);
    }

    if (t->codec != tag->codec) {
        return;
    }

    if (tag->track == NGX_LIVE_RECORD_VIDEO) {
        ngx_live_record_fuzz_check(t->width && t->height);

        *keyed |= tag->key;

        if (!*keyed) {
            return;
        }

    } else {
        ngx_live_record_fuzz_check(t->sample_rate && t->channels);
    }

    *sum += ngx_live_record_fuzz_touch(tag->data, tag->len);
}


static ngx_uint_t
ngx_live_record_fuzz_boundary(ngx_live_record_fuzz_ctx_t *ctx,
    ngx_live_record_tag_t *tag)
{
    return ctx->tracks[NGX_LIVE_RECORD_VIDEO].codec == 0
           || (tag->track == NGX_LIVE_RECORD_VIDEO && tag->key);
}


static void *
ngx_live_record_fuzz_alloc(size_t size, void *data)
{
    return malloc(size);
}


static void
ngx_live_record_fuzz_free(void *p, void *data)
{
    free(p);
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
                                   || tag->codec == NGX_LIVE_RECORD_CODEC_H265
                                   || tag->codec == NGX_LIVE_RECORD_CODEC_AV1
                                   || tag->codec == NGX_LIVE_RECORD_CODEC_AAC
                                   || tag->codec == NGX_LIVE_RECORD_CODEC_MP3);
        ngx_live_record_fuzz_check((tag->codec == NGX_LIVE_RECORD_CODEC_AAC
                                    || tag->codec == NGX_LIVE_RECORD_CODEC_MP3)
                                   == (tag->track == NGX_LIVE_RECORD_AUDIO));

        /* only enhanced RTMP names a FourCC, and only these */
        ngx_live_record_fuzz_check(tag->fourcc == 0
                                   || tag->fourcc
                                      == NGX_LIVE_RECORD_FOURCC_AVC1
                                   || tag->fourcc
                                      == NGX_LIVE_RECORD_FOURCC_HVC1
                                   || tag->fourcc
                                      == NGX_LIVE_RECORD_FOURCC_AV01
                                   || tag->fourcc
                                      == NGX_LIVE_RECORD_FOURCC_MP4A
                                   || tag->fourcc
                                      == NGX_LIVE_RECORD_FOURCC_MP3);

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
    case NGX_LIVE_RECORD_CODEC_H265:
    case NGX_LIVE_RECORD_CODEC_AV1:
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


#define NGX_LIVE_RECORD_FUZZ_NAME  "fuzz_tag"
#include "ngx_live_record_fuzz_main.h"
