
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_segmenter.h"


static ngx_int_t ngx_live_record_segmenter_header(
    ngx_live_record_segmenter_t *seg, ngx_live_record_tag_t *tag,
    ngx_live_record_segmenter_out_t *out);
static void ngx_live_record_segmenter_time(ngx_live_record_segmenter_t *seg,
    uint32_t timestamp, ngx_live_record_segmenter_out_t *out);
static ngx_int_t ngx_live_record_segmenter_frame(
    ngx_live_record_segmenter_t *seg, ngx_live_record_tag_t *tag,
    ngx_live_record_segmenter_out_t *out);
static ngx_int_t ngx_live_record_segmenter_wait(
    ngx_live_record_segmenter_t *seg, ngx_live_record_tag_t *tag,
    ngx_live_record_segmenter_out_t *out);
static ngx_int_t ngx_live_record_segmenter_hold(
    ngx_live_record_segmenter_t *seg, ngx_live_record_tag_t *tag, int64_t ts);
static ngx_int_t ngx_live_record_segmenter_ready(
    ngx_live_record_segmenter_t *seg);
static int64_t ngx_live_record_segmenter_base(
    ngx_live_record_segmenter_t *seg);
static ngx_int_t ngx_live_record_segmenter_cut(
    ngx_live_record_segmenter_t *seg, ngx_live_record_tag_t *tag,
    ngx_live_record_segmenter_out_t *out);
static ngx_uint_t ngx_live_record_segmenter_changed(
    ngx_live_record_track_t *old, ngx_live_record_track_t *cur);


static const char  *ngx_live_record_segmenter_drops[] = {
    "none",
    "end of sequence or info frame",
    "codec not recorded",
    "invalid sequence header",
    "invalid mp3 frame header",
    "sequence header already in use",
    "no sequence header yet",
    "nothing records the stream",
    "no new part for now",
    "waits for a keyframe",
    "its track changed, waits for the next part",
    "out of memory"
};


void
ngx_live_record_segmenter_init(ngx_live_record_segmenter_t *seg,
    ngx_live_record_track_t *tracks, ngx_live_record_segmenter_alloc_pt alloc,
    ngx_live_record_segmenter_free_pt free, void *data)
{
    ngx_memzero(seg, sizeof(ngx_live_record_segmenter_t));

    seg->tracks = tracks;
    seg->alloc = alloc;
    seg->free = free;
    seg->data = data;

    ngx_queue_init(&seg->pending);
}


/*
 * One parsed tag.  NGX_OK: out->flags say what to do; NGX_AGAIN: the frame
 * is held; NGX_DECLINED: not taken, out->drop says why; NGX_ERROR: no
 * memory.  A JUMP flag may come with any of them.
 */

ngx_int_t
ngx_live_record_segmenter_push(ngx_live_record_segmenter_t *seg,
    ngx_live_record_tag_t *tag, uint32_t timestamp,
    ngx_live_record_segmenter_out_t *out)
{
    ngx_memzero(out, sizeof(ngx_live_record_segmenter_out_t));

    switch (tag->kind) {

    case NGX_LIVE_RECORD_TAG_SKIP:
        out->drop = NGX_LIVE_RECORD_SEG_DROP_SKIP;
        return NGX_DECLINED;

    case NGX_LIVE_RECORD_TAG_CODEC:
        out->drop = NGX_LIVE_RECORD_SEG_DROP_CODEC;
        return NGX_DECLINED;

    case NGX_LIVE_RECORD_TAG_HEADER:
        return ngx_live_record_segmenter_header(seg, tag, out);
    }

    ngx_live_record_segmenter_time(seg, timestamp, out);

    return ngx_live_record_segmenter_frame(seg, tag, out);
}


static ngx_int_t
ngx_live_record_segmenter_header(ngx_live_record_segmenter_t *seg,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out)
{
    u_char                   *p;
    ngx_live_record_track_t   t, *cur;

    if (ngx_live_record_parse_header(tag, &t) != NGX_OK) {
        out->drop = NGX_LIVE_RECORD_SEG_DROP_BADHEADER;
        return NGX_DECLINED;
    }

    cur = &seg->tracks[tag->track];

    if (cur->codec == t.codec && cur->extradata_len == t.extradata_len
        && ngx_memcmp(cur->extradata, t.extradata, t.extradata_len) == 0)
    {
        out->drop = NGX_LIVE_RECORD_SEG_DROP_SAME;
        return NGX_DECLINED;
    }

    /* the tag's body is the caller's: the track keeps a copy */

    p = seg->alloc(t.extradata_len, seg->data);
    if (p == NULL) {
        out->drop = NGX_LIVE_RECORD_SEG_DROP_NOMEM;
        return NGX_ERROR;
    }

    ngx_memcpy(p, t.extradata, t.extradata_len);

    if (cur->extradata) {
        seg->free(cur->extradata, seg->data);
    }

    *cur = t;
    cur->extradata = p;

    if (seg->open[NGX_LIVE_RECORD_SEG_PART]
        || seg->open[NGX_LIVE_RECORD_SEG_HLS])
    {
        seg->changed = 1;
    }

    out->flags = NGX_LIVE_RECORD_SEG_HEADER;

    return NGX_OK;
}


/* 32-bit rtmp time, extended so that wrapping keeps it monotonic */

static void
ngx_live_record_segmenter_time(ngx_live_record_segmenter_t *seg,
    uint32_t timestamp, ngx_live_record_segmenter_out_t *out)
{
    int32_t  delta;

    if (seg->started) {
        delta = (int32_t) (timestamp - seg->last_raw);

        if (delta > NGX_LIVE_RECORD_MAX_JUMP
            || delta < -NGX_LIVE_RECORD_MAX_JUMP)
        {
            /* the publisher's clock jumped: media goes on without a gap */
            out->flags |= NGX_LIVE_RECORD_SEG_JUMP;
            out->jump = delta;
            delta = 0;
        }

        seg->ts += delta;

    } else {
        seg->ts = timestamp;
        seg->started = 1;
    }

    seg->last_raw = timestamp;
    out->ts = seg->ts;
}


static ngx_int_t
ngx_live_record_segmenter_frame(ngx_live_record_segmenter_t *seg,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out)
{
    ngx_live_record_track_t  *t, mp3;

    t = &seg->tracks[tag->track];

    if (tag->codec == NGX_LIVE_RECORD_CODEC_MP3
        && t->codec != NGX_LIVE_RECORD_CODEC_MP3)
    {
        /* mp3 has no sequence header: its first frame tells */

        if (ngx_live_record_parse_mp3(tag->data, tag->len, &mp3) != NGX_OK) {
            out->drop = NGX_LIVE_RECORD_SEG_DROP_BADMP3;
            return NGX_DECLINED;
        }

        if (t->extradata) {
            seg->free(t->extradata, seg->data);
        }

        *t = mp3;

        if (seg->open[NGX_LIVE_RECORD_SEG_PART]
            || seg->open[NGX_LIVE_RECORD_SEG_HLS])
        {
            seg->changed = 1;
        }

        out->flags |= NGX_LIVE_RECORD_SEG_HEADER;
    }

    if (t->codec != tag->codec) {
        out->drop = NGX_LIVE_RECORD_SEG_DROP_NOHEADER;
        return NGX_DECLINED;
    }

    if (!seg->recording) {
        /* no template and no task: the tracks are kept for a task */
        out->drop = NGX_LIVE_RECORD_SEG_DROP_OFF;
        return NGX_DECLINED;
    }

    if (seg->open[NGX_LIVE_RECORD_SEG_PART] == NULL
        && seg->open[NGX_LIVE_RECORD_SEG_HLS] == NULL)
    {
        return ngx_live_record_segmenter_wait(seg, tag, out);
    }

    return ngx_live_record_segmenter_cut(seg, tag, out);
}


/* before the first part: held until it can open with all its tracks */

static ngx_int_t
ngx_live_record_segmenter_wait(ngx_live_record_segmenter_t *seg,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out)
{
    ngx_int_t  rc;

    if (seg->paused) {
        out->drop = NGX_LIVE_RECORD_SEG_DROP_PAUSED;
        return NGX_DECLINED;
    }

    rc = ngx_live_record_segmenter_hold(seg, tag, out->ts);

    if (rc == NGX_DECLINED) {
        out->drop = NGX_LIVE_RECORD_SEG_DROP_NOKEY;
        return NGX_DECLINED;
    }

    if (rc == NGX_ERROR) {
        out->drop = NGX_LIVE_RECORD_SEG_DROP_NOMEM;
        return NGX_ERROR;
    }

    if (ngx_live_record_segmenter_ready(seg) != NGX_OK) {
        out->flags |= NGX_LIVE_RECORD_SEG_HELD;
        return NGX_AGAIN;
    }

    /*
     * Never without a base: the first frame held is audio or a video
     * keyframe, and either dates the part.
     */

    out->flags |= NGX_LIVE_RECORD_SEG_FLUSH;
    out->base = ngx_live_record_segmenter_base(seg);

    seg->seen_key = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_segmenter_hold(ngx_live_record_segmenter_t *seg,
    ngx_live_record_tag_t *tag, int64_t ts)
{
    ngx_queue_t                *q;
    ngx_live_record_pending_t  *pf, *prev;

    if (tag->track == NGX_LIVE_RECORD_VIDEO && !tag->key
        && ngx_queue_empty(&seg->pending))
    {
        /* a part starts at a keyframe */
        return NGX_DECLINED;
    }

    pf = seg->alloc(sizeof(ngx_live_record_pending_t) + tag->len, seg->data);
    if (pf == NULL) {
        return NGX_ERROR;
    }

    pf->tag = *tag;
    pf->tag.data = (u_char *) &pf[1];
    pf->ts = ts;
    ngx_memcpy(pf->tag.data, tag->data, tag->len);

    /* kept in time order: the first frame a muxer sees is the earliest */

    for (q = ngx_queue_last(&seg->pending);
         q != ngx_queue_sentinel(&seg->pending);
         q = ngx_queue_prev(q))
    {
        prev = ngx_queue_data(q, ngx_live_record_pending_t, queue);

        if (prev->ts <= ts) {
            break;
        }
    }

    ngx_queue_insert_after(q, &pf->queue);
    seg->npending++;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_segmenter_ready(ngx_live_record_segmenter_t *seg)
{
    ngx_uint_t                  want_video, want_audio;
    ngx_queue_t                *q;
    ngx_live_record_pending_t  *first, *last, *pf;

    first = ngx_queue_data(ngx_queue_head(&seg->pending),
                           ngx_live_record_pending_t, queue);
    last = ngx_queue_data(ngx_queue_last(&seg->pending),
                          ngx_live_record_pending_t, queue);

    if (seg->npending >= NGX_LIVE_RECORD_WAIT_FRAMES) {
        seg->hold = 0;
        return NGX_OK;
    }

    /*
     * The caller does not know the first part's number yet (a cluster's
     * session, looked up): its frames wait until it says so (unhold), or
     * until there are too many of them.
     */

    if (seg->hold) {
        return NGX_AGAIN;
    }

    if (last->ts - first->ts >= NGX_LIVE_RECORD_WAIT_MS) {
        return NGX_OK;
    }

    /* onMetaData tells which tracks to wait for */

    want_video = seg->tracks[NGX_LIVE_RECORD_VIDEO].codec
                 || (seg->announced & (1 << NGX_LIVE_RECORD_VIDEO));
    want_audio = seg->tracks[NGX_LIVE_RECORD_AUDIO].codec
                 || (seg->announced & (1 << NGX_LIVE_RECORD_AUDIO));

    if (want_audio && !seg->tracks[NGX_LIVE_RECORD_AUDIO].codec) {
        return NGX_AGAIN;
    }

    if (!want_video) {
        return NGX_OK;
    }

    for (q = ngx_queue_head(&seg->pending);
         q != ngx_queue_sentinel(&seg->pending);
         q = ngx_queue_next(q))
    {
        pf = ngx_queue_data(q, ngx_live_record_pending_t, queue);

        if (pf->tag.track == NGX_LIVE_RECORD_VIDEO && pf->tag.key) {
            return NGX_OK;
        }
    }

    return NGX_AGAIN;
}


/* the part starts at its earliest audio frame or first video keyframe */

static int64_t
ngx_live_record_segmenter_base(ngx_live_record_segmenter_t *seg)
{
    int64_t                     base;
    ngx_uint_t                  video, seen_key;
    ngx_queue_t                *q;
    ngx_live_record_pending_t  *pf;

    video = (seg->tracks[NGX_LIVE_RECORD_VIDEO].codec != 0);
    base = INT64_MAX;
    seen_key = 0;

    for (q = ngx_queue_head(&seg->pending);
         q != ngx_queue_sentinel(&seg->pending);
         q = ngx_queue_next(q))
    {
        pf = ngx_queue_data(q, ngx_live_record_pending_t, queue);

        if (pf->tag.track == NGX_LIVE_RECORD_VIDEO && pf->tag.key) {
            seen_key = 1;
        }

        if (pf->tag.track == NGX_LIVE_RECORD_AUDIO || seen_key || !video) {
            base = ngx_min(base, pf->ts);
        }
    }

    return base;
}


/*
 * The caller's hold ends: NGX_OK with *base when the held frames may open
 * the first part now (FLUSH them as after a push that said so), NGX_AGAIN
 * when they still wait for a track, NGX_DECLINED when none wait.
 */

ngx_int_t
ngx_live_record_segmenter_unhold(ngx_live_record_segmenter_t *seg,
    int64_t *base)
{
    seg->hold = 0;

    if (ngx_queue_empty(&seg->pending)
        || seg->open[NGX_LIVE_RECORD_SEG_PART]
        || seg->open[NGX_LIVE_RECORD_SEG_HLS])
    {
        return NGX_DECLINED;
    }

    if (ngx_live_record_segmenter_ready(seg) != NGX_OK) {
        return NGX_AGAIN;
    }

    *base = ngx_live_record_segmenter_base(seg);
    seg->seen_key = 0;

    return NGX_OK;
}


/*
 * After a FLUSH: the held frames in time order, video from its first
 * keyframe on, one a call; each is freed at the next call, NULL at the end.
 */

ngx_live_record_pending_t *
ngx_live_record_segmenter_release(ngx_live_record_segmenter_t *seg)
{
    ngx_queue_t                *q;
    ngx_live_record_pending_t  *pf;

    if (seg->released) {
        seg->free(seg->released, seg->data);
        seg->released = NULL;
    }

    while (!ngx_queue_empty(&seg->pending)) {
        q = ngx_queue_head(&seg->pending);
        ngx_queue_remove(q);
        seg->npending--;

        pf = ngx_queue_data(q, ngx_live_record_pending_t, queue);

        if (pf->tag.track == NGX_LIVE_RECORD_VIDEO) {
            seg->seen_key |= pf->tag.key;

            if (!seg->seen_key) {
                seg->free(pf, seg->data);
                continue;
            }
        }

        seg->released = pf;

        return pf;
    }

    return NULL;
}


/*
 * Where a part ends: decided on media time, never on the wall clock, and
 * at a boundary, a video keyframe or, without video, any frame.
 */

static ngx_int_t
ngx_live_record_segmenter_cut(ngx_live_record_segmenter_t *seg,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out)
{
    ngx_uint_t                boundary;
    ngx_live_record_track_t  *open;

    boundary = (seg->tracks[NGX_LIVE_RECORD_VIDEO].codec == 0)
               || (tag->track == NGX_LIVE_RECORD_VIDEO && tag->key);

    open = seg->open[NGX_LIVE_RECORD_SEG_PART]
           ? seg->open[NGX_LIVE_RECORD_SEG_PART]
           : seg->open[NGX_LIVE_RECORD_SEG_HLS];

    if (seg->changed) {
        if (!boundary) {
            if (ngx_live_record_segmenter_changed(&open[tag->track],
                                                  &seg->tracks[tag->track]))
            {
                out->drop = NGX_LIVE_RECORD_SEG_DROP_CHANGED;
                return NGX_DECLINED;
            }

            goto write;
        }

        seg->changed = 0;
        out->flags |= NGX_LIVE_RECORD_SEG_CUT;
        out->reason = NGX_LIVE_RECORD_REASON_PARAM_CHANGE;

    } else if (seg->replan && boundary) {
        out->flags |= NGX_LIVE_RECORD_SEG_CUT;
        out->reason = seg->replan - 1;
        seg->replan = 0;

    } else if (seg->open[NGX_LIVE_RECORD_SEG_PART] && boundary
               && out->ts - seg->base >= (int64_t) seg->interval)
    {
        out->flags |= NGX_LIVE_RECORD_SEG_CUT;
        out->reason = NGX_LIVE_RECORD_REASON_INTERVAL;
    }

    if (seg->open[NGX_LIVE_RECORD_SEG_PART] == NULL && !seg->paused
        && boundary)
    {
        /* after a failure, the interval formats start again here */
        out->flags |= NGX_LIVE_RECORD_SEG_OPEN;
    }

write:

    out->flags |= NGX_LIVE_RECORD_SEG_WRITE;

    return NGX_OK;
}


static ngx_uint_t
ngx_live_record_segmenter_changed(ngx_live_record_track_t *old,
    ngx_live_record_track_t *cur)
{
    return old->codec != cur->codec
           || old->extradata_len != cur->extradata_len
           || (cur->extradata_len
               && ngx_memcmp(old->extradata, cur->extradata,
                             cur->extradata_len) != 0);
}


/* the caller opened a part (or an hls recording) with these tracks */

void
ngx_live_record_segmenter_opened(ngx_live_record_segmenter_t *seg,
    ngx_uint_t kind, int64_t base, ngx_live_record_track_t *tracks)
{
    seg->open[kind] = tracks;

    if (kind == NGX_LIVE_RECORD_SEG_PART) {
        seg->base = base;
    }
}


void
ngx_live_record_segmenter_closed(ngx_live_record_segmenter_t *seg,
    ngx_uint_t kind)
{
    seg->open[kind] = NULL;
}


/* the held frames are not wanted */

void
ngx_live_record_segmenter_drop(ngx_live_record_segmenter_t *seg)
{
    ngx_queue_t  *q;

    if (seg->released) {
        seg->free(seg->released, seg->data);
        seg->released = NULL;
    }

    while (!ngx_queue_empty(&seg->pending)) {
        q = ngx_queue_head(&seg->pending);
        ngx_queue_remove(q);
        seg->free(ngx_queue_data(q, ngx_live_record_pending_t, queue),
                  seg->data);
    }

    seg->npending = 0;
}


/* the end of the publish: the held frames and the tracks' parameters */

void
ngx_live_record_segmenter_free(ngx_live_record_segmenter_t *seg)
{
    ngx_uint_t  n;

    ngx_live_record_segmenter_drop(seg);

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        if (seg->tracks[n].extradata) {
            seg->free(seg->tracks[n].extradata, seg->data);
            seg->tracks[n].extradata = NULL;
        }
    }
}


const char *
ngx_live_record_segmenter_why(ngx_uint_t drop)
{
    if (drop >= NGX_LIVE_RECORD_SEG_NDROPS) {
        return "unknown";
    }

    return ngx_live_record_segmenter_drops[drop];
}
