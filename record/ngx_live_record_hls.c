
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_store.h"


/*
 * An HLS recording is a part of format hls that is never cut by the
 * interval: a directory with MPEG-TS segments and index.m3u8.  While it is
 * recorded the playlist is an EVENT playlist of the segments finished so
 * far, replaced atomically after each one; a publisher that reconnects
 * within live_record_hls_continue continues it after a discontinuity;
 * finished, it becomes a VOD playlist and the directory moves into the
 * store as one unit.
 */


#define NGX_LIVE_RECORD_PLAYLIST      "index.m3u8"
/* a day of 2 s segments with long names is about 2 MB */
#define NGX_LIVE_RECORD_PLAYLIST_MAX  (16 * 1024 * 1024)


typedef struct {
    int64_t                     duration;       /* ms */
    uint64_t                    pdt;            /* wall clock ms, or 0 */
    ngx_uint_t                  discont;
} ngx_live_record_segment_t;


struct ngx_live_record_hls_s {
    ngx_array_t                 segments;
    ngx_live_record_writer_t   *writer;
    ngx_pool_t                 *pool;           /* the writer's */
    u_char                     *path;           /* segment being written */
    int64_t                     start;          /* its first dts */
    int64_t                     end;            /* dts + duration so far */
    uint64_t                    pdt;            /* its wall clock start */
    int64_t                     epoch_dts;      /* wall clock anchor */
    uint64_t                    epoch_ms;
    off_t                       bytes;
    ngx_uint_t                  discont;        /* next segment follows one */
    ngx_uint_t                  reason;         /* of the pause */
    ngx_event_t                 wait;
    ngx_queue_t                 queue;          /* in lmcf->waiting */
};


static ngx_int_t ngx_live_record_hls_open_segment(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f);
static void ngx_live_record_hls_wait_handler(ngx_event_t *ev);
static void ngx_live_record_hls_cleanup(void *data);
static u_char *ngx_live_record_hls_render(ngx_live_record_part_t *p,
    ngx_uint_t final, size_t *len);
static ngx_int_t ngx_live_record_hls_write_playlist(ngx_live_record_part_t *p,
    ngx_uint_t final, ngx_log_t *log);


ngx_int_t
ngx_live_record_hls_init(ngx_live_record_part_t *p)
{
    ngx_pool_cleanup_t     *cln;
    ngx_live_record_hls_t  *h;

    h = ngx_pcalloc(p->pool, sizeof(ngx_live_record_hls_t));
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (ngx_array_init(&h->segments, p->pool, 64,
                       sizeof(ngx_live_record_segment_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    h->path = ngx_pnalloc(p->pool, p->files[NGX_LIVE_RECORD_HLS].work.len
                                   + sizeof("/" NGX_LIVE_RECORD_PLAYLIST)
                                   + NGX_INT_T_LEN + sizeof(".tmp"));
    if (h->path == NULL) {
        return NGX_ERROR;
    }

    /* the part's open task created the directory */

    ngx_sprintf(h->path, "%V/" NGX_LIVE_RECORD_PLAYLIST "%Z",
                &p->files[NGX_LIVE_RECORD_HLS].work);

    h->epoch_ms = p->start_ms;
    h->epoch_dts = 0;
    h->discont = 0;

    h->wait.handler = ngx_live_record_hls_wait_handler;
    h->wait.data = p;
    h->wait.log = p->log;
    h->wait.cancelable = 1;

    cln = ngx_pool_cleanup_add(p->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_live_record_hls_cleanup;
    cln->data = h;

    p->hls = h;

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" hls recording in \"%V\"",
                   &p->st.label, &p->files[NGX_LIVE_RECORD_HLS].work);

    return NGX_OK;
}


/* a part freed with a segment open (a failed open) frees the segment too */

static void
ngx_live_record_hls_cleanup(void *data)
{
    ngx_live_record_hls_t  *h = data;

    if (h->pool) {
        ngx_destroy_pool(h->pool);
        h->pool = NULL;
        h->writer = NULL;
    }
}


/* segments start at a keyframe once they are long enough */

void
ngx_live_record_hls_write(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f)
{
    ngx_uint_t              boundary;
    ngx_live_record_hls_t  *h;

    h = p->hls;

    boundary = (p->st.tracks[NGX_LIVE_RECORD_VIDEO].codec == 0)
               || (f->track == NGX_LIVE_RECORD_VIDEO && f->key);

    if (h->writer && boundary
        && f->dts - h->start >= (int64_t) p->tpl->hls_fragment)
    {
        ngx_live_record_hls_end_segment(p);
    }

    if (h->writer == NULL) {
        if (!boundary || ngx_live_record_hls_open_segment(p, f) != NGX_OK) {
            return;
        }
    }

    if (ngx_live_record_writer_write(h->writer, f) == NGX_OK) {
        h->end = ngx_max(h->end, f->dts + f->duration);
    }
}


static ngx_int_t
ngx_live_record_hls_open_segment(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    ngx_sprintf(h->path, "%V/%ui.ts%Z", &p->files[NGX_LIVE_RECORD_HLS].work,
                h->segments.nelts);

    /* a segment's muxer lives in a pool of its own: hours of segments */

    h->pool = ngx_create_pool(4096, p->log);
    if (h->pool == NULL) {
        return NGX_ERROR;
    }

    h->writer = ngx_live_record_writer_open(h->pool, p->log, &p->st.label,
                                            NGX_LIVE_RECORD_HLS, h->path,
                                            p->st.tracks);
    if (h->writer == NULL) {
        ngx_destroy_pool(h->pool);
        h->pool = NULL;
        return NGX_ERROR;
    }

    h->start = f->dts;
    h->end = f->dts;
    h->pdt = h->epoch_ms + (f->dts - h->epoch_dts);

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" hls segment %ui opened at %L ms",
                   &p->st.label, h->segments.nelts, f->dts);

    return NGX_OK;
}


void
ngx_live_record_hls_end_segment(ngx_live_record_part_t *p)
{
    ngx_file_info_t             fi;
    ngx_live_record_hls_t      *h;
    ngx_live_record_segment_t  *seg;

    h = p->hls;

    if (h->writer == NULL) {
        return;
    }

    (void) ngx_live_record_writer_close(h->writer);
    h->writer = NULL;

    ngx_destroy_pool(h->pool);
    h->pool = NULL;

    if (ngx_file_info(h->path, &fi) != NGX_FILE_ERROR) {
        h->bytes += ngx_file_size(&fi);
    }

    seg = ngx_array_push(&h->segments);
    if (seg == NULL) {
        return;
    }

    seg->duration = h->end - h->start;
    seg->discont = h->discont;
    seg->pdt = (h->segments.nelts == 1 || h->discont) ? h->pdt : 0;

    h->discont = 0;

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" hls segment %ui closed: %L ms, "
                   "%O bytes so far", &p->st.label, h->segments.nelts - 1,
                   seg->duration, h->bytes);

    (void) ngx_live_record_hls_write_playlist(p, 0, p->log);
}


/* a new sequence header: the segment ends, a discontinuity follows */

ngx_int_t
ngx_live_record_hls_param_change(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st)
{
    ngx_live_record_part_flush(p);
    ngx_live_record_hls_end_segment(p);

    p->hls->discont = 1;

    return ngx_live_record_part_set_tracks(p, st);
}


/*
 * The publisher has gone: the recording waits for it to come back.  The
 * in-progress segment is closed and listed, so the playlist in the work
 * path stays valid whatever happens next.
 */

void
ngx_live_record_hls_pause(ngx_live_record_part_t *p, ngx_uint_t reason)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    ngx_live_record_part_flush(p);
    ngx_live_record_hls_end_segment(p);

    h->reason = reason;
    h->discont = 1;

    ngx_queue_insert_tail(&p->lmcf->waiting, &h->queue);
    ngx_add_timer(&h->wait, p->tpl->hls_continue);

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" hls recording \"%V\" waits %M ms "
                  "for the publisher to return", &p->st.label, &p->rel,
                  p->tpl->hls_continue);
}


/* the waiting recording of a stream name, taken off the waiting list */

ngx_live_record_part_t *
ngx_live_record_hls_take(ngx_live_record_main_conf_t *lmcf, ngx_str_t *label)
{
    ngx_queue_t             *q;
    ngx_live_record_hls_t   *h;
    ngx_live_record_part_t  *p;

    for (q = ngx_queue_head(&lmcf->waiting);
         q != ngx_queue_sentinel(&lmcf->waiting);
         q = ngx_queue_next(q))
    {
        h = ngx_queue_data(q, ngx_live_record_hls_t, queue);
        p = h->wait.data;

        if (p->st.label.len == label->len
            && ngx_strncmp(p->st.label.data, label->data, label->len) == 0)
        {
            ngx_queue_remove(q);

            if (h->wait.timer_set) {
                ngx_del_timer(&h->wait);
            }

            return p;
        }
    }

    return NULL;
}


/*
 * Continues the recording: media time goes on from where it stopped, the
 * wall clock anchor moves to now, and the tracks are the new publisher's.
 */

ngx_int_t
ngx_live_record_hls_resume(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st, int64_t base)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (ngx_live_record_part_set_tracks(p, st) != NGX_OK) {
        return NGX_ERROR;
    }

    p->base = base - p->duration;

    h->epoch_ms = ngx_live_record_now_ms();
    h->epoch_dts = p->duration;

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" hls recording \"%V\" continues after "
                  "a discontinuity at %.3fs", &p->st.label, &p->rel,
                  (double) p->duration / 1000);

    return NGX_OK;
}


static void
ngx_live_record_hls_wait_handler(ngx_event_t *ev)
{
    ngx_live_record_part_t  *p = ev->data;

    ngx_queue_remove(&p->hls->queue);

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" hls recording \"%V\" ends: no "
                  "publisher within live_record_hls_continue on this worker",
                  &p->st.label, &p->rel);

    ngx_live_record_part_close(p, p->hls->reason, 0);
}


/* the worker is going: every waiting recording is finished now */

void
ngx_live_record_hls_finish_waiting(ngx_live_record_main_conf_t *lmcf)
{
    ngx_queue_t             *q;
    ngx_live_record_hls_t   *h;
    ngx_live_record_part_t  *p;

    while (!ngx_queue_empty(&lmcf->waiting)) {
        q = ngx_queue_head(&lmcf->waiting);
        ngx_queue_remove(q);

        h = ngx_queue_data(q, ngx_live_record_hls_t, queue);
        p = h->wait.data;

        if (h->wait.timer_set) {
            ngx_del_timer(&h->wait);
        }

        ngx_live_record_part_close(p, NGX_LIVE_RECORD_REASON_SHUTDOWN, 1);
    }
}


off_t
ngx_live_record_hls_bytes(ngx_live_record_part_t *p)
{
    return p->hls->bytes;
}


/* runs in the finalize thread: the playlist becomes a VOD one */

ngx_int_t
ngx_live_record_hls_finalize(ngx_live_record_part_t *p, ngx_log_t *log)
{
    p->files[NGX_LIVE_RECORD_HLS].segments = p->hls->segments.nelts;

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" hls playlist final, %ui segments",
                   &p->st.label, p->hls->segments.nelts);

    return ngx_live_record_hls_write_playlist(p, 1, log);
}


static ngx_int_t
ngx_live_record_hls_write_playlist(ngx_live_record_part_t *p,
    ngx_uint_t final, ngx_log_t *log)
{
    u_char     *path;
    ngx_str_t   text;
    ngx_int_t   rc;

    text.data = ngx_live_record_hls_render(p, final, &text.len);
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    path = ngx_alloc(p->files[NGX_LIVE_RECORD_HLS].work.len
                     + sizeof("/" NGX_LIVE_RECORD_PLAYLIST), log);
    if (path == NULL) {
        ngx_free(text.data);
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/" NGX_LIVE_RECORD_PLAYLIST "%Z",
                &p->files[NGX_LIVE_RECORD_HLS].work);

    rc = ngx_live_record_write_atomic(path, &text, 1, log);

    ngx_free(text.data);
    ngx_free(path);

    return rc;
}


static u_char *
ngx_live_record_hls_render(ngx_live_record_part_t *p, ngx_uint_t final,
    size_t *len)
{
    u_char                     *text, *s;
    int64_t                     longest;
    ngx_tm_t                    tm;
    ngx_uint_t                  i, target;
    ngx_live_record_hls_t      *h;
    ngx_live_record_segment_t  *seg;

    h = p->hls;
    seg = h->segments.elts;

    longest = 0;

    for (i = 0; i < h->segments.nelts; i++) {
        longest = ngx_max(longest, seg[i].duration);
    }

    /* the longest segment rounded up; while live, at least the target */

    target = (ngx_uint_t) ((longest + 999) / 1000);

    if (!final) {
        target = ngx_max(target, (p->tpl->hls_fragment + 999) / 1000);
    }

    target = ngx_max(target, 1);

    text = ngx_alloc(256 + h->segments.nelts * 128, p->log);
    if (text == NULL) {
        return NULL;
    }

    s = ngx_sprintf(text,
                    "#EXTM3U\n"
                    "#EXT-X-VERSION:3\n"
                    "#EXT-X-PLAYLIST-TYPE:%s\n"
                    "#EXT-X-TARGETDURATION:%ui\n"
                    "#EXT-X-MEDIA-SEQUENCE:0\n",
                    final ? "VOD" : "EVENT", target);

    for (i = 0; i < h->segments.nelts; i++) {
        if (seg[i].discont) {
            s = ngx_sprintf(s, "#EXT-X-DISCONTINUITY\n");
        }

        if (seg[i].pdt) {
            ngx_libc_gmtime((time_t) (seg[i].pdt / 1000), &tm);

            s = ngx_sprintf(s, "#EXT-X-PROGRAM-DATE-TIME:"
                            "%4d-%02d-%02dT%02d:%02d:%02d.%03uLZ\n",
                            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec,
                            seg[i].pdt % 1000);
        }

        s = ngx_sprintf(s, "#EXTINF:%.3f,\n%ui.ts\n",
                        (double) seg[i].duration / 1000, i);
    }

    if (final) {
        s = ngx_sprintf(s, "#EXT-X-ENDLIST\n");
    }

    *len = s - text;

    return text;
}


/*
 * A recovered recording (its worker is gone): the EVENT playlist in the
 * work path lists the finished segments; it becomes the VOD playlist, and
 * the segment that was being written, listed nowhere, is dropped.  Runs in
 * the finalize thread.
 */

ngx_int_t
ngx_live_record_hls_recover(ngx_live_record_part_t *p, ngx_log_t *log)
{
    u_char                  *path, *s, *e, *last, *out, *o;
    double                   d, longest;
    ngx_int_t                rc;
    ngx_str_t                text, playlist;
    ngx_uint_t               listed;
    ngx_file_info_t          fi;
    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_HLS];
    rc = NGX_ERROR;
    out = NULL;
    text.data = NULL;

    path = ngx_alloc(f->work.len + sizeof("/" NGX_LIVE_RECORD_PLAYLIST)
                     + NGX_INT_T_LEN + 8, log);
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/" NGX_LIVE_RECORD_PLAYLIST "%Z", &f->work);

    if (ngx_live_record_read_file(path, NGX_LIVE_RECORD_PLAYLIST_MAX, &text,
                                  log)
        != NGX_OK
        || text.len == 0)
    {
        goto done;
    }

    last = text.data + text.len;

    out = ngx_alloc(text.len + sizeof("#EXT-X-ENDLIST\n") + 64, log);
    if (out == NULL) {
        goto done;
    }

    /* durations and sizes of the listed segments */

    longest = 0;
    listed = 0;
    p->duration = 0;
    f->size = 0;

    for (s = text.data; s < last; s = e + 1) {
        e = ngx_strlchr(s, last, '\n');
        e = e ? e : last;

        if (e - s > 8 && ngx_strncmp(s, "#EXTINF:", 8) == 0) {
            d = strtod((char *) s + 8, NULL);
            longest = ngx_max(longest, d);
            p->duration += (int64_t) (d * 1000 + 0.5);

        } else if (e > s && *s != '#'
                   && e - s <= (ssize_t) NGX_INT_T_LEN + 3)
        {
            ngx_sprintf(path, "%V/%*s%Z", &f->work, e - s, s);
            listed++;

            if (ngx_file_info(path, &fi) != NGX_FILE_ERROR) {
                f->size += ngx_file_size(&fi);
            }
        }
    }

    /* the same playlist, VOD, with the target rounded up and an end */

    o = out;

    for (s = text.data; s < last; s = e + 1) {
        e = ngx_strlchr(s, last, '\n');
        e = e ? e : last;

        if (ngx_strncmp(s, "#EXT-X-PLAYLIST-TYPE:", 21) == 0) {
            o = ngx_sprintf(o, "#EXT-X-PLAYLIST-TYPE:VOD\n");

        } else if (ngx_strncmp(s, "#EXT-X-TARGETDURATION:", 22) == 0) {
            o = ngx_sprintf(o, "#EXT-X-TARGETDURATION:%ui\n",
                            (ngx_uint_t) ngx_max(1, (ngx_int_t) (longest
                                                              + 0.999)));

        } else if (ngx_strncmp(s, "#EXT-X-ENDLIST", 14) != 0 && e > s) {
            o = ngx_sprintf(o, "%*s\n", e - s, s);
        }
    }

    o = ngx_sprintf(o, "#EXT-X-ENDLIST\n");

    playlist.data = out;
    playlist.len = o - out;

    /* the segment being written when the worker died follows the last */

    ngx_sprintf(path, "%V/%ui.ts%Z", &f->work, listed);
    (void) ngx_delete_file(path);

    ngx_sprintf(path, "%V/" NGX_LIVE_RECORD_PLAYLIST "%Z", &f->work);

    rc = ngx_live_record_write_atomic(path, &playlist, 1, log);

    p->last_ms = p->start_ms + p->duration;
    f->segments = listed;

done:

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "live record: \"%V\": the hls playlist \"%s\" cannot "
                      "be recovered", &p->st.label, path);
    }

    ngx_free(out);
    ngx_free(text.data);
    ngx_free(path);

    return rc;
}
