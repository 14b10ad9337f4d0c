
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * A part's MP4 file, written by the module's own write-once writer
 * (mux/ngx_live_record_mp4.c): opened in the thread pool while the first
 * frames wait in the writer's buffer, fed every frame as it arrives (the
 * writer dates samples itself, so MP4 needs no frame queue), flushed every
 * 250 ms, and closed or recovered in the finalize thread.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"


#define NGX_LIVE_RECORD_MP4_FLUSH_MS  250

/*
 * What frames may wait for an open in the thread pool: seconds of a
 * stream pushed in real time, a burst of one pushed faster
 */
#define NGX_LIVE_RECORD_MP4_PENDING   (8 * 1024 * 1024)
#define NGX_LIVE_RECORD_SAMPLES       ".samples"


static void ngx_live_record_mp4_open_file(void *data, ngx_log_t *log);
static void ngx_live_record_mp4_opened(ngx_event_t *ev);
static void ngx_live_record_mp4_flush_handler(ngx_event_t *ev);
static void ngx_live_record_mp4_hold(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f);
static void ngx_live_record_mp4_release(ngx_live_record_part_t *p);
static void ngx_live_record_mp4_free_pending(void *data);


ngx_int_t
ngx_live_record_part_mp4_open(ngx_live_record_part_t *p)
{
    off_t                    reserve;
    ngx_pool_cleanup_t      *cln;
    ngx_live_record_file_t  *f;
#if (NGX_THREADS)
    ngx_thread_task_t       *task;
#endif

    f = &p->files[NGX_LIVE_RECORD_MP4];

    if (ngx_live_record_part_mp4_paths(p, f) != NGX_OK) {
        return NGX_ERROR;
    }

    reserve = ngx_live_record_mp4_reserve(p->st.tracks, p->tpl->interval);

    f->mp4 = ngx_live_record_mp4_create(p->pool, p->log, &p->st.label,
                                        p->st.tracks, reserve);
    if (f->mp4 == NULL) {
        return NGX_ERROR;
    }

    f->open_rc = NGX_AGAIN;

    cln = ngx_pool_cleanup_add(p->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_live_record_mp4_free_pending;
    cln->data = p;

    ngx_queue_init(&p->pending);

    p->flush.handler = ngx_live_record_mp4_flush_handler;
    p->flush.data = p;
    p->flush.log = p->log;
    p->flush.cancelable = 1;

#if (NGX_THREADS)

    if (p->lacf->thread_pool) {
        task = ngx_thread_task_alloc(p->pool, 0);

        if (task) {
            task->ctx = p;
            task->handler = ngx_live_record_mp4_open_file;
            task->event.handler = ngx_live_record_mp4_opened;
            task->event.data = p;
            task->event.log = p->log;

            if (ngx_thread_task_post(p->lacf->thread_pool, task) == NGX_OK) {
                p->opening++;
                return NGX_OK;
            }
        }

        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" part %ui: opening the mp4 on the "
                      "event loop, the thread pool \"%V\" is full",
                      &p->st.label, p->n, &p->lacf->thread_pool_name);
    }

#endif

    ngx_live_record_mp4_open_file(p, p->log);

    if (f->open_rc != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_live_record_mp4_ready(f->mp4, NGX_OK);
    ngx_add_timer(&p->flush, NGX_LIVE_RECORD_MP4_FLUSH_MS);

    return NGX_OK;
}


/* the sample index lives beside the part, and goes when it is finished */

ngx_int_t
ngx_live_record_part_mp4_paths(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f)
{
    f->samples = ngx_pnalloc(p->pool,
                             f->work.len + sizeof(NGX_LIVE_RECORD_SAMPLES));
    if (f->samples == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(f->samples, "%V" NGX_LIVE_RECORD_SAMPLES "%Z", &f->work);

    return NGX_OK;
}


/* in a thread, or on the loop without a pool: nothing else uses the files */

static void
ngx_live_record_mp4_open_file(void *data, ngx_log_t *log)
{
    ngx_live_record_part_t  *p = data;

    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_MP4];

    if (ngx_live_record_create_dirs(f->work.data, log) != NGX_OK) {
        f->open_rc = NGX_ERROR;
        return;
    }

    f->open_rc = ngx_live_record_mp4_open(f->mp4, f->work.data, f->samples);

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" part %ui: mp4 opened: %i",
                   &p->st.label, p->n, f->open_rc);
}


static void
ngx_live_record_mp4_opened(ngx_event_t *ev)
{
    ngx_live_record_part_t  *p = ev->data;

    p->opening--;

    ngx_live_record_part_mp4_ready(p);

    if (p->close_pending) {
        p->close_pending = 0;
        ngx_live_record_part_closed(p, p->close_sync);
    }
}


/*
 * Back on the loop, or at a worker's exit after the pool ran the open:
 * frames buffered meanwhile are written from now on.
 */

void
ngx_live_record_part_mp4_ready(ngx_live_record_part_t *p)
{
    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_MP4];

    ngx_live_record_mp4_ready(f->mp4, f->open_rc);

    if (f->open_rc == NGX_OK) {
        ngx_live_record_mp4_release(p);

        if (!p->close_pending && !p->flush.timer_set) {
            ngx_add_timer(&p->flush, NGX_LIVE_RECORD_MP4_FLUSH_MS);
        }

        return;
    }

    ngx_live_record_mp4_free_pending(p);

    ngx_log_error(NGX_LOG_CRIT, p->log, 0,
                  "live record: \"%V\" part %ui: the mp4 \"%s\" could not "
                  "be opened, the part goes on without it",
                  &p->st.label, p->n, f->work.data);

    p->formats &= ~(1 << NGX_LIVE_RECORD_MP4);
    ngx_live_record_part_file_failed(p, NGX_LIVE_RECORD_MP4, "open");
}


void
ngx_live_record_part_mp4_write(ngx_live_record_part_t *p,
    ngx_live_record_tag_t *tag, int64_t dts, int64_t pts)
{
    ngx_live_record_frame_t   f;
    ngx_live_record_file_t   *file;

    file = &p->files[NGX_LIVE_RECORD_MP4];

    f.track = tag->track;
    f.key = tag->key;
    f.dts = dts;
    f.pts = pts;
    f.duration = -1;
    f.data = tag->data;
    f.len = tag->len;

    /* open_rc is the thread's until its event: p->opening is the loop's */

    if (p->opening) {
        ngx_live_record_mp4_hold(p, &f);
        return;
    }

    if (ngx_live_record_mp4_write(file->mp4, &f) == NGX_ERROR) {
        ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_MP4);
    }
}


/*
 * While the thread pool opens the file, frames wait here in arrival order,
 * up to NGX_LIVE_RECORD_MP4_PENDING bytes; past that they are dropped, and
 * said so once, rather than the event loop waiting for a disk.
 */

static void
ngx_live_record_mp4_hold(ngx_live_record_part_t *p, ngx_live_record_frame_t *f)
{
    ngx_live_record_queued_t  *qf;

    if (p->pending_size + f->len > NGX_LIVE_RECORD_MP4_PENDING
        || (qf = ngx_alloc(sizeof(ngx_live_record_queued_t) + f->len,
                           p->log))
           == NULL)
    {
        if (p->pending_dropped++ == 0) {
            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "live record: \"%V\" part %ui: the mp4 is still "
                          "being opened and %uz bytes of frames wait: "
                          "frames are dropped until it is open (is the "
                          "thread pool \"%V\" busy?)", &p->st.label, p->n,
                          p->pending_size, &p->lacf->thread_pool_name);
        }

        return;
    }

    qf->frame = *f;
    qf->frame.data = (u_char *) &qf[1];
    ngx_memcpy(qf->frame.data, f->data, f->len);

    ngx_queue_insert_tail(&p->pending, &qf->queue);
    p->pending_size += f->len;
}


static void
ngx_live_record_mp4_release(ngx_live_record_part_t *p)
{
    ngx_queue_t               *q;
    ngx_live_record_file_t    *file;
    ngx_live_record_queued_t  *qf;

    file = &p->files[NGX_LIVE_RECORD_MP4];

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" part %ui: mp4 open, %uz bytes of "
                   "frames were waiting", &p->st.label, p->n,
                   p->pending_size);

    while (!ngx_queue_empty(&p->pending)) {
        q = ngx_queue_head(&p->pending);
        qf = ngx_queue_data(q, ngx_live_record_queued_t, queue);

        if (ngx_live_record_mp4_write(file->mp4, &qf->frame) == NGX_ERROR) {
            ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_MP4);
        }

        ngx_queue_remove(q);
        ngx_free(qf);
    }

    p->pending_size = 0;

    if (p->pending_dropped) {
        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" part %ui: %ui frames were "
                      "dropped while the mp4 was being opened",
                      &p->st.label, p->n, p->pending_dropped);
    }
}


static void
ngx_live_record_mp4_free_pending(void *data)
{
    ngx_live_record_part_t  *p = data;

    ngx_queue_t  *q;

    while (!ngx_queue_empty(&p->pending)) {
        q = ngx_queue_head(&p->pending);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_live_record_queued_t, queue));
    }

    p->pending_size = 0;
}


static void
ngx_live_record_mp4_flush_handler(ngx_event_t *ev)
{
    ngx_live_record_part_t  *p = ev->data;

    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_MP4];

    if (ngx_live_record_mp4_flush(f->mp4) != NGX_OK) {
        ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_MP4);
        return;
    }

    /* a worker shutting down closes its parts: no more ticks */

    if (!ngx_exiting && !ngx_terminate) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_MP4_FLUSH_MS);
    }
}


/*
 * In the finalize thread: the writer builds the moov from its sample index
 * and the part is complete on disk; a part left by a crash, or whose close
 * failed, has its moov rebuilt from what the disk holds.
 */

ngx_int_t
ngx_live_record_part_mp4_finalize(ngx_live_record_part_t *p, ngx_log_t *log)
{
    ngx_int_t                rc;
    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_MP4];

    if (f->mp4 && p->reason != NGX_LIVE_RECORD_REASON_RECOVERED) {
        if (p->write_failed) {
            ngx_live_record_mp4_fail(f->mp4);
        }

        rc = ngx_live_record_mp4_close(f->mp4, &f->size);

        if (rc == NGX_OK) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "live record: \"%V\" part %ui: rebuilding the mp4 "
                      "index of \"%s\" from what the disk holds",
                      &p->st.label, p->n, f->work.data);
    }

    rc = ngx_live_record_mp4_recover(p->pool, log, &p->st.label,
                                     f->work.data, f->samples, &f->size);

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "live record: \"%V\" part %ui: the mp4 \"%s\" could "
                      "not be finished, left with \"%s\"",
                      &p->st.label, p->n, f->work.data, f->samples);
    }

    return rc;
}
