
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_shm.h"
#include "ngx_live_record_hls.h"


/*
 * An HLS recording is a part of format hls that is never cut by the
 * interval: a directory with MPEG-TS segments and index.m3u8.  While it is
 * recorded the playlist is an EVENT playlist of the segments finished so
 * far, replaced atomically after each one; a publisher that reconnects
 * within live_record_hls_continue continues it after a discontinuity;
 * finished, it becomes a VOD playlist and the directory moves into the
 * store as one unit.
 *
 * Nothing slow runs on the event loop: a segment's open (the directory,
 * the file, the MPEG-TS header), its close and the playlist that then
 * lists it are the recording's jobs, run in the thread pool one at a time
 * and in order.  Frames wait in memory while a segment opens; once it is
 * open they are muxed on the loop, and the writer flushes them every
 * 500 ms of media, so that a crash keeps the segment being written up to
 * its last moments (recovery lists it with its real duration) and a full
 * disk fails at once.  A reserve file beside the playlist keeps room for
 * the final playlist on a disk that fills up.
 */


static ngx_live_record_ts_t *ngx_live_record_hls_open_segment(
    ngx_live_record_part_t *p, ngx_live_record_frame_t *f);
static void ngx_live_record_hls_close_segment(ngx_live_record_part_t *p,
    ngx_live_record_ts_t *ts);
static ngx_uint_t ngx_live_record_hls_holding(ngx_live_record_hls_t *h);
static void ngx_live_record_hls_hold(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f);
static void ngx_live_record_hls_mark(ngx_live_record_part_t *p,
    ngx_uint_t end, ngx_uint_t discont);
static void ngx_live_record_hls_apply(ngx_live_record_part_t *p,
    ngx_live_record_held_t *m);
static void ngx_live_record_hls_release(ngx_live_record_part_t *p,
    size_t budget);
static void ngx_live_record_hls_mux(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f);
static void ngx_live_record_hls_free_held(ngx_live_record_part_t *p);
static void ngx_live_record_hls_fail(ngx_live_record_part_t *p);
static void ngx_live_record_hls_list(ngx_live_record_part_t *p,
    ngx_live_record_ts_t *ts, int64_t duration);
static void ngx_live_record_hls_run(ngx_live_record_part_t *p);
static void ngx_live_record_hls_job(void *data, ngx_log_t *log);
static void ngx_live_record_hls_unmark(ngx_live_record_part_t *p,
    ngx_live_record_ts_t *ts, ngx_log_t *log);
#if (NGX_THREADS)
static void ngx_live_record_hls_job_thread(void *data, ngx_log_t *log);
#endif
static void ngx_live_record_hls_job_done(ngx_event_t *ev);
static void ngx_live_record_hls_finish_job(ngx_live_record_part_t *p);
static void ngx_live_record_hls_check_closed(ngx_live_record_part_t *p);
static void ngx_live_record_hls_reserve(ngx_live_record_part_t *p,
    off_t size, ngx_log_t *log);
static void ngx_live_record_hls_cleanup(void *data);


ngx_int_t
ngx_live_record_hls_init(ngx_live_record_part_t *p)
{
    ngx_pool_cleanup_t     *cln;
    ngx_live_record_hls_t  *h;

    h = ngx_pcalloc(p->pool, sizeof(ngx_live_record_hls_t));
    if (h == NULL) {
        return NGX_ERROR;
    }

    if (ngx_list_init(&h->segments, p->pool, 64,
                      sizeof(ngx_live_record_segment_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_queue_init(&h->jobs);
    ngx_queue_init(&h->hold);

    /* what segments open with: p's, unless frames before a change wait */
    ngx_memcpy(h->tracks, p->st.tracks, sizeof(h->tracks));

    h->epoch_ms = p->start_ms;
    h->epoch_dts = 0;
    h->discont = 0;

#if (NGX_THREADS)

    if (p->lacf->thread_pool) {
        h->task = ngx_thread_task_alloc(p->pool, 0);
        if (h->task == NULL) {
            return NGX_ERROR;
        }

        h->task->ctx = p;
        h->task->handler = ngx_live_record_hls_job_thread;
        h->task->event.handler = ngx_live_record_hls_job_done;
        h->task->event.data = p;
        h->task->event.log = p->log;
    }

#endif

    cln = ngx_pool_cleanup_add(p->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_live_record_hls_cleanup;
    cln->data = p;

    p->hls = h;

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" hls recording in \"%V\"",
                   &p->st.label, &p->files[NGX_LIVE_RECORD_HLS].work);

    return NGX_OK;
}


/* a part freed with segments of its own (a failed open, an exit) */

static void
ngx_live_record_hls_cleanup(void *data)
{
    ngx_live_record_part_t  *p = data;

    ngx_queue_t            *q;
    ngx_live_record_ts_t   *ts;
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (h == NULL) {
        return;
    }

    if (h->running) {
        ngx_queue_insert_head(&h->jobs, &h->running->queue);
        h->running = NULL;
    }

    if (h->cur && h->cur->state == NGX_LIVE_RECORD_TS_OPEN) {
        ngx_queue_insert_tail(&h->jobs, &h->cur->queue);
    }

    h->cur = NULL;

    while (!ngx_queue_empty(&h->jobs)) {
        q = ngx_queue_head(&h->jobs);
        ngx_queue_remove(q);
        ts = ngx_queue_data(q, ngx_live_record_ts_t, queue);

        if (ts->pool) {
            ngx_destroy_pool(ts->pool);
        }

        ngx_free(ts);
    }

    ngx_live_record_hls_free_held(p);

    if (h->busy) {
        h->busy = 0;
        p->lmcf->busy.n--;
    }
}


/* a frame of the stream: after those that wait, in order */

void
ngx_live_record_hls_write(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (h->failed) {
        return;
    }

    if (ngx_live_record_hls_holding(h)) {
        ngx_live_record_hls_hold(p, f);

        /* a segment opened meanwhile: what waits goes on, a slice a frame */
        if (h->cur == NULL || h->cur->state != NGX_LIVE_RECORD_TS_OPENING) {
            ngx_live_record_hls_release(p, NGX_LIVE_RECORD_DRAIN_MAX);
        }

        return;
    }

    ngx_live_record_hls_mux(p, f);
}


/*
 * A frame in its turn: into the segment, or held while one opens;
 * segments start at a keyframe once they are long enough.
 */

static void
ngx_live_record_hls_mux(ngx_live_record_part_t *p, ngx_live_record_frame_t *f)
{
    ngx_uint_t              boundary;
    ngx_live_record_ts_t   *ts;
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (h->failed) {
        return;
    }

    if (ngx_live_record_hls_holding(h)) {
        ngx_live_record_hls_hold(p, f);
        return;
    }

    boundary = (h->tracks[NGX_LIVE_RECORD_VIDEO].codec == 0)
               || (f->track == NGX_LIVE_RECORD_VIDEO && f->key);

    ts = h->cur;

    if (ts && ts->state == NGX_LIVE_RECORD_TS_OPEN && boundary
        && f->dts - ts->start >= (int64_t) p->tpl->hls_fragment)
    {
        ngx_live_record_hls_end_segment(p);
        ts = NULL;
    }

    if (ts == NULL) {
        if (!boundary) {
            return;
        }

        ts = ngx_live_record_hls_open_segment(p, f);
        if (ts == NULL) {
            return;
        }
    }

    if (ts->state == NGX_LIVE_RECORD_TS_OPENING) {
        ngx_live_record_hls_hold(p, f);
        return;
    }

    switch (ngx_live_record_writer_write(ts->writer, f)) {

    case NGX_OK:
        ts->end = ngx_max(ts->end, f->dts + f->duration);
        break;

    case NGX_ERROR:
        ts->failed = 1;
        ngx_live_record_hls_fail(p);
        break;
    }
}


/* the next segment: its file is opened by a job, frames wait meanwhile */

static ngx_live_record_ts_t *
ngx_live_record_hls_open_segment(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f)
{
    ngx_live_record_ts_t   *ts;
    ngx_live_record_hls_t  *h;

    h = p->hls;

    ts = ngx_alloc(sizeof(ngx_live_record_ts_t)
                   + p->files[NGX_LIVE_RECORD_HLS].work.len
                   + sizeof("/.ts") + NGX_INT_T_LEN, p->log);
    if (ts == NULL) {
        return NULL;
    }

    ngx_memzero(ts, sizeof(ngx_live_record_ts_t));

    /* a segment's muxer lives in a pool of its own: hours of segments */

    ts->pool = ngx_create_pool(4096, p->log);
    if (ts->pool == NULL) {
        ngx_free(ts);
        return NULL;
    }

    ts->n = h->files++;

    ngx_sprintf(ts->path, "%V/%ui.ts%Z", &p->files[NGX_LIVE_RECORD_HLS].work,
                ts->n);

    /* its own: a new sequence header changes p's */
    ngx_memcpy(ts->tracks, h->tracks, sizeof(ts->tracks));

    ts->state = NGX_LIVE_RECORD_TS_OPENING;
    ts->start = f->dts;
    ts->end = f->dts;
    ts->pdt = h->epoch_ms + (f->dts - h->epoch_dts);
    ts->discont = h->discont;

    h->discont = 0;
    h->cur = ts;

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" hls segment %ui begins at %L ms",
                   &p->st.label, ts->n, f->dts);

    ngx_queue_insert_tail(&h->jobs, &ts->queue);
    ngx_live_record_hls_run(p);

    return h->cur;
}


/* frames and segment ends wait, in order, while a segment opens */

static ngx_uint_t
ngx_live_record_hls_holding(ngx_live_record_hls_t *h)
{
    return (h->cur && h->cur->state == NGX_LIVE_RECORD_TS_OPENING)
           || !ngx_queue_empty(&h->hold);
}


/*
 * Up to NGX_LIVE_RECORD_HLS_PENDING bytes of frames a recording; past
 * that they are dropped, and said so once, rather than the loop waiting.
 */

static void
ngx_live_record_hls_hold(ngx_live_record_part_t *p, ngx_live_record_frame_t *f)
{
    ngx_live_record_hls_t   *h;
    ngx_live_record_held_t  *qf;

    h = p->hls;

    if (h->pending_size + f->len > NGX_LIVE_RECORD_HLS_PENDING
        || (qf = ngx_alloc(sizeof(ngx_live_record_held_t) + f->len, p->log))
           == NULL)
    {
        ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_OPEN_DROPPED, 1);

        if (h->dropped++ == 0) {
            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "live record: \"%V\" hls recording \"%V\": a "
                          "segment is still being opened and %uz bytes of "
                          "frames wait: frames are dropped until it is open "
                          "(is the thread pool \"%V\" busy?)", &p->st.label,
                          &p->rel, h->pending_size,
                          &p->lacf->thread_pool_name);
        }

        return;
    }

    qf->marker = 0;
    qf->frame = *f;
    qf->frame.data = (u_char *) &qf[1];
    ngx_memcpy(qf->frame.data, f->data, f->len);

    ngx_queue_insert_tail(&h->hold, &qf->queue);
    h->pending_size += f->len;
}


/*
 * The segment ends (end), and the next one follows a discontinuity
 * (discont) with p's tracks as they are now: at once, or after the
 * frames that wait.
 */

static void
ngx_live_record_hls_mark(ngx_live_record_part_t *p, ngx_uint_t end,
    ngx_uint_t discont)
{
    ngx_live_record_held_t   m, *qm;
    ngx_live_record_hls_t   *h;

    h = p->hls;

    /* a segment end is rare: what waits before it goes on at once */
    if (h->cur == NULL || h->cur->state != NGX_LIVE_RECORD_TS_OPENING) {
        ngx_live_record_hls_release(p, 0);
    }

    m.marker = 1;
    m.end = end;
    m.discont = discont;
    ngx_memcpy(m.tracks, p->st.tracks, sizeof(m.tracks));

    if (!ngx_live_record_hls_holding(h)) {
        ngx_live_record_hls_apply(p, &m);
        return;
    }

    qm = ngx_alloc(sizeof(ngx_live_record_held_t), p->log);
    if (qm == NULL) {
        /* the order is lost: better a segment too long than wrong */
        ngx_live_record_hls_apply(p, &m);
        return;
    }

    *qm = m;
    ngx_queue_insert_tail(&h->hold, &qm->queue);
}


static void
ngx_live_record_hls_apply(ngx_live_record_part_t *p, ngx_live_record_held_t *m)
{
    ngx_live_record_ts_t   *ts;
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (m->end && h->cur) {
        ts = h->cur;
        h->cur = NULL;
        ngx_live_record_hls_close_segment(p, ts);
    }

    ngx_memcpy(h->tracks, m->tracks, sizeof(h->tracks));
    h->discont |= m->discont;
}


/*
 * The segment is open: what waited goes on in order, cut into further
 * segments as it comes; a segment that begins meanwhile holds the rest.
 * At most budget bytes of frames (0: all) are muxed in one go, so that
 * 128 recordings whose segments open together do not mux megabytes each
 * in one loop iteration; the rest waits for the next frame.
 */

static void
ngx_live_record_hls_release(ngx_live_record_part_t *p, size_t budget)
{
    size_t                   done;
    ngx_queue_t              queue, *q;
    ngx_live_record_hls_t   *h;
    ngx_live_record_held_t  *qf;

    h = p->hls;

    if (ngx_queue_empty(&h->hold)) {
        return;
    }

    queue = h->hold;
    queue.next->prev = &queue;
    queue.prev->next = &queue;
    ngx_queue_init(&h->hold);
    done = 0;

    while (!ngx_queue_empty(&queue)) {
        q = ngx_queue_head(&queue);

        if (budget && done >= budget) {
            /* after what went back to waiting meanwhile, in order */
            ngx_queue_add(&h->hold, &queue);
            break;
        }

        ngx_queue_remove(q);
        qf = ngx_queue_data(q, ngx_live_record_held_t, queue);

        if (!qf->marker) {
            h->pending_size -= qf->frame.len;
            done += qf->frame.len;
            ngx_live_record_hls_mux(p, &qf->frame);
            ngx_free(qf);
            continue;
        }

        if (ngx_live_record_hls_holding(h)) {
            ngx_queue_insert_tail(&h->hold, &qf->queue);
            continue;
        }

        ngx_live_record_hls_apply(p, qf);
        ngx_free(qf);
    }

    if (h->dropped) {
        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" hls recording \"%V\": %ui "
                      "frames were dropped while a segment was being opened",
                      &p->st.label, &p->rel, h->dropped);
        h->dropped = 0;
    }
}


static void
ngx_live_record_hls_free_held(ngx_live_record_part_t *p)
{
    ngx_queue_t             *q;
    ngx_live_record_held_t  *qf;

    while (!ngx_queue_empty(&p->hls->hold)) {
        q = ngx_queue_head(&p->hls->hold);
        ngx_queue_remove(q);
        qf = ngx_queue_data(q, ngx_live_record_held_t, queue);
        ngx_free(qf);
    }

    p->hls->pending_size = 0;
}


/*
 * A write failed (a full disk, most often): the writer has said why, the
 * recording stops taking frames and is closed by its stream with what it
 * holds.
 */

static void
ngx_live_record_hls_fail(ngx_live_record_part_t *p)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (h->failed) {
        return;
    }

    h->failed = 1;

    ngx_live_record_hls_free_held(p);

    if (h->cur) {
        /* keeps what it holds; the error is said once */
        if (h->cur->writer) {
            h->cur->failed = 1;
            ngx_live_record_writer_fail(h->cur->writer);
        }
    }

    ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_HLS);
}


void
ngx_live_record_hls_end_segment(ngx_live_record_part_t *p)
{
    ngx_live_record_hls_mark(p, 1, 0);
}


/* listed now, closed by a job, which then writes the playlist */

static void
ngx_live_record_hls_close_segment(ngx_live_record_part_t *p,
    ngx_live_record_ts_t *ts)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (h->failed) {
        /* only what reached the disk before the error is listed */
        ts->failed = 1;
    }

    if (!ts->failed) {
        ngx_live_record_hls_list(p, ts, ts->end - ts->start);
    }

    ts->listed = h->listed;
    ts->longest = h->longest;
    ts->state = NGX_LIVE_RECORD_TS_CLOSING;

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" hls segment %ui ends: %L ms",
                   &p->st.label, ts->n, ts->end - ts->start);

    ngx_queue_insert_tail(&h->jobs, &ts->queue);
    ngx_live_record_hls_run(p);
}


static void
ngx_live_record_hls_list(ngx_live_record_part_t *p, ngx_live_record_ts_t *ts,
    int64_t duration)
{
    ngx_live_record_hls_t      *h;
    ngx_live_record_segment_t  *seg;

    h = p->hls;

    seg = ngx_list_push(&h->segments);
    if (seg == NULL) {
        return;
    }

    seg->duration = duration;
    seg->discont = ts->discont;
    seg->pdt = (h->listed == 0 || ts->discont) ? ts->pdt : 0;
    seg->n = ts->n;
    seg->gone = 0;

    ts->seg = seg;

    h->listed++;
    h->longest = ngx_max(h->longest, duration);
    h->held += duration;
}


/*
 * The recording's jobs run one at a time, in order, in the thread pool
 * (or here without one, or once a worker's exit has stopped the pool).
 */

static void
ngx_live_record_hls_run(ngx_live_record_part_t *p)
{
    ngx_queue_t            *q;
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (h->in_run) {
        return;
    }

    h->in_run = 1;

    while (h->running == NULL && !ngx_queue_empty(&h->jobs)) {
        q = ngx_queue_head(&h->jobs);
        ngx_queue_remove(q);
        h->running = ngx_queue_data(q, ngx_live_record_ts_t, queue);

#if (NGX_THREADS)

        if (h->task && !h->inline_jobs && !ngx_live_record_threads_gone) {
            if (ngx_live_record_post(p->lacf->thread_pool, h->task)
                == NGX_OK)
            {
                if (!h->busy) {
                    /* a worker that exits gracefully waits for it */
                    h->busy = 1;
                    p->lmcf->busy.n++;

                    if (!p->lmcf->busy.ev.timer_set) {
                        ngx_add_timer(&p->lmcf->busy.ev,
                                      NGX_LIVE_RECORD_HLS_BUSY_MS);
                    }
                }

                break;
            }

            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "live record: \"%V\" hls segment %ui: on the event "
                          "loop, the thread pool \"%V\" is full",
                          &p->st.label, h->running->n,
                          &p->lacf->thread_pool_name);
        }

#endif

        ngx_live_record_hls_job(p, p->log);
        ngx_live_record_hls_finish_job(p);
    }

    h->in_run = 0;
}


#if (NGX_THREADS)

static void
ngx_live_record_hls_job_thread(void *data, ngx_log_t *log)
{
#if (NGX_LINUX)
    /*
     * not niced like the finalize's bulk work: frames wait in memory for
     * this job, and a thread niced by a finalize before is put back
     */
    (void) setpriority(PRIO_PROCESS, ngx_thread_tid(), 0);
#endif

    ngx_live_record_hls_job(data, log);
}

#endif


/* in a thread: only the job's segment and the jobs' fields are touched */

static void
ngx_live_record_hls_job(void *data, ngx_log_t *log)
{
    ngx_live_record_part_t *p = data;

    u_char                 *path;
    ngx_file_info_t         fi;
    ngx_live_record_ts_t   *ts;
    ngx_live_record_hls_t  *h;

    h = p->hls;
    ts = h->running;

    if (ts->state == NGX_LIVE_RECORD_TS_OPENING) {
        ts->rc = NGX_ERROR;

        if (!h->made) {
            path = ngx_live_record_hls_file(p, NGX_LIVE_RECORD_PLAYLIST, log);

            if (path == NULL
                || ngx_live_record_create_dirs(path, log) != NGX_OK)
            {
                ngx_free(path);
                goto failed;
            }

            ngx_free(path);
            h->made = 1;

            ngx_live_record_hls_reserve(p, NGX_LIVE_RECORD_RESERVE_MIN, log);
        }

        ts->writer = ngx_live_record_writer_open(ts->pool, p->log,
                                                 &p->st.label,
                                                 NGX_LIVE_RECORD_HLS,
                                                 ts->path, ts->tracks,
                                                 ngx_live_record_threads(
                                                     p->lacf));
        if (ts->writer == NULL) {
            goto failed;
        }

        ts->rc = NGX_OK;

        if (ts->discont) {
            (void) ngx_live_record_hls_discont(p, ts->n,
                                            NGX_LIVE_RECORD_MARK_SET, log);
        }

        ngx_log_debug2(NGX_LOG_DEBUG_RTMP, log, 0,
                       "live record: \"%V\" hls segment %ui opened",
                       &p->st.label, ts->n);
        return;

    failed:

        /* what was made of the writer goes, and the file with it */

        ngx_destroy_pool(ts->pool);
        ts->pool = NULL;
        ts->writer = NULL;
        (void) ngx_delete_file(ts->path);
        return;
    }

    /* CLOSING */

    if (ts->failed) {
        ngx_live_record_writer_fail(ts->writer);
    }

    ts->rc = ngx_live_record_writer_close(ts->writer);

    ngx_destroy_pool(ts->pool);
    ts->pool = NULL;
    ts->writer = NULL;


    if (ts->failed || ts->rc != NGX_OK) {
        /* what reached the disk before the error, if any, is kept */
        ts->failed = 1;
        ts->held = ngx_live_record_hls_salvage(ts->path, &ts->size, log);
        ngx_live_record_hls_unmark(p, ts, log);
        return;
    }

    if (ngx_file_info(ts->path, &fi) != NGX_FILE_ERROR) {
        ts->size = ngx_file_size(&fi);
    }

    if (ngx_live_record_hls_write_playlist(p, 0, ts->listed, ts->longest,
                                           log)
        != NGX_OK)
    {
        ts->playlist_failed = 1;
        ngx_live_record_hls_unmark(p, ts, log);
        return;
    }

    /* listed with its tag: the mark has done its work */
    ngx_live_record_hls_unmark(p, ts, log);

    if (ts->listed * 128 > (ngx_uint_t) p->hls->reserved) {
        ngx_live_record_hls_reserve(p, ts->listed * 256, log);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" hls segment %ui closed, %O bytes",
                   &p->st.label, ts->n, ts->size);
}


static void
ngx_live_record_hls_job_done(ngx_event_t *ev)
{
    ngx_live_record_part_t  *p = ev->data;

    /* what the job leads to is posted once it is taken in */

    p->hls->in_run = 1;
    ngx_live_record_hls_finish_job(p);
    p->hls->in_run = 0;

    ngx_live_record_hls_run(p);
    ngx_live_record_hls_check_closed(p);
}


/* back on the loop: what the job did */

static void
ngx_live_record_hls_finish_job(ngx_live_record_part_t *p)
{
    ngx_live_record_ts_t   *ts;
    ngx_live_record_hls_t  *h;

    h = p->hls;
    ts = h->running;
    h->running = NULL;

    if (h->busy && ngx_queue_empty(&h->jobs)) {
        h->busy = 0;
        p->lmcf->busy.n--;
    }

    if (ts->state == NGX_LIVE_RECORD_TS_OPENING) {

        if (ts->rc != NGX_OK) {
            if (h->cur == ts) {
                h->cur = NULL;
            }

            ngx_free(ts);

            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "live record: \"%V\" hls recording \"%V\" ends: "
                          "a segment could not be opened", &p->st.label,
                          &p->rel);

            ngx_live_record_hls_fail(p);
            return;
        }

        ts->state = NGX_LIVE_RECORD_TS_OPEN;

        ngx_live_record_hls_release(p, NGX_LIVE_RECORD_DRAIN_MAX);

        return;
    }

    /* CLOSING */

    h->bytes += ts->size;

    if (ts->failed) {
        if (ts->seg) {
            /* its close failed: what it holds, if anything */
            h->held += ts->held - ts->seg->duration;
            ts->seg->duration = ts->held;
            ts->seg->gone = (ts->held == 0);

        } else if (ts->held > 0) {
            ngx_live_record_hls_list(p, ts, ts->held);
        }

        ngx_live_record_hls_fail(p);

    } else if (ts->playlist_failed) {
        ngx_live_record_hls_fail(p);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" hls segment %ui closed: %O bytes, "
                   "%O bytes so far", &p->st.label, ts->n, ts->size,
                   h->bytes);

    ngx_free(ts);
}


/* a recording waiting for its jobs to close it: they are done */

static void
ngx_live_record_hls_check_closed(ngx_live_record_part_t *p)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    if (!p->close_pending || h->running || !ngx_queue_empty(&h->jobs)) {
        return;
    }

    p->close_pending = 0;

    if (p->write_failed) {
        /* what the record_done says is what is kept */
        p->duration = h->held;
    }

    ngx_live_record_part_closed(p, p->close_sync);
}


/*
 * The part closes: the last segment ends.  NGX_AGAIN while jobs are left;
 * the last of them finishes the close.  At a worker's exit (sync) the
 * thread pool is gone, having run what was posted, and the rest runs here.
 */

ngx_int_t
ngx_live_record_hls_close(ngx_live_record_part_t *p, ngx_uint_t sync)
{
    ngx_live_record_hls_t  *h;

    h = p->hls;

    ngx_live_record_hls_end_segment(p);

    if (sync) {
        h->inline_jobs = 1;

        if (h->running) {
            ngx_live_record_hls_finish_job(p);
        }

        ngx_live_record_hls_run(p);
    }

    if (h->running || !ngx_queue_empty(&h->jobs)) {
        return NGX_AGAIN;
    }

    if (p->write_failed) {
        p->duration = h->held;
    }

    return NGX_OK;
}


/*
 * Room for the last playlist on a disk that fills up: the reserve is
 * deleted just before the final playlist is written (in a job or the
 * finalize thread).
 */

static void
ngx_live_record_hls_reserve(ngx_live_record_part_t *p, off_t size,
    ngx_log_t *log)
{
    u_char    *path;
    ngx_fd_t   fd;
    ngx_err_t  err;

    path = ngx_live_record_hls_file(p, NGX_LIVE_RECORD_RESERVE, log);
    if (path == NULL) {
        return;
    }

    fd = ngx_open_file(path, NGX_FILE_WRONLY, NGX_FILE_CREATE_OR_OPEN,
                       NGX_FILE_DEFAULT_ACCESS);

    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "live record: " ngx_open_file_n " \"%s\" failed", path);
        ngx_free(path);
        return;
    }

    err = posix_fallocate(fd, 0, size);

    if (err == 0) {
        p->hls->reserved = size;

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_RTMP, log, err,
                       "live record: posix_fallocate(\"%s\", %O) failed",
                       path, size);
    }

    ngx_close_file(fd);
    ngx_free(path);
}


/* a new sequence header: the segment ends, a discontinuity follows */

ngx_int_t
ngx_live_record_hls_param_change(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st)
{
    ngx_live_record_part_flush(p);

    if (ngx_live_record_part_set_tracks(p, st) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_live_record_hls_mark(p, 1, 1);

    return NGX_OK;
}


/*
 * The publisher has gone: the recording waits for it to come back.  The
 * in-progress segment is closed and listed, so the playlist in the work
 * path stays valid whatever happens next.
 */

void
ngx_live_record_hls_pause(ngx_live_record_part_t *p, ngx_uint_t reason)
{
    ngx_live_record_part_flush(p);
    ngx_live_record_hls_mark(p, 1, 1);

    ngx_live_record_part_wait(p, reason, p->tpl->hls_continue);
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

    ngx_live_record_hls_mark(p, 0, 0);

    p->shift = base - p->base - p->duration;

    h->epoch_ms = ngx_live_record_now_ms();
    h->epoch_dts = p->duration;

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" hls recording \"%V\" continues after "
                  "a discontinuity at %.3fs", &p->st.label, &p->rel,
                  (double) p->duration / 1000);

    return NGX_OK;
}


off_t
ngx_live_record_hls_bytes(ngx_live_record_part_t *p)
{
    return p->hls->bytes;
}


/*
 * Once the job has closed its segment the tag is in the playlist kept in
 * memory (and on disk, unless writing it failed); a mark left behind
 * would be handed off with the recording.
 */

static void
ngx_live_record_hls_unmark(ngx_live_record_part_t *p,
    ngx_live_record_ts_t *ts, ngx_log_t *log)
{
    if (ts->discont) {
        (void) ngx_live_record_hls_discont(p, ts->n,
                                           NGX_LIVE_RECORD_MARK_DELETE, log);
    }
}
