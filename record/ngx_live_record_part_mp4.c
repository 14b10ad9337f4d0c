
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * A part's MP4 file, written by the module's own write-once writer
 * (mux/ngx_live_record_mp4.c): opened by the part's open task in the
 * thread pool while the first frames wait here, fed every frame as it
 * arrives (the writer dates samples itself, so MP4 needs no frame queue),
 * flushed every 250 ms, and closed or recovered in the finalize thread.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_shm.h"


#define NGX_LIVE_RECORD_MP4_FLUSH_MS  250

#define NGX_LIVE_RECORD_SAMPLES       ".samples"


static void ngx_live_record_mp4_flush_handler(ngx_event_t *ev);
static void ngx_live_record_mp4_hold(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f);
static void ngx_live_record_mp4_release(ngx_live_record_part_t *p);
static void ngx_live_record_mp4_free_pending(void *data);


ngx_int_t
ngx_live_record_part_mp4_prepare(ngx_live_record_part_t *p)
{
    off_t                    reserve;
    ngx_pool_cleanup_t      *cln;
    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_MP4];

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

    p->flush.handler = ngx_live_record_mp4_flush_handler;
    p->flush.data = p;
    p->flush.log = p->log;
    p->flush.cancelable = 1;

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


/* in the part's open task: nothing else uses the file meanwhile */

ngx_int_t
ngx_live_record_part_mp4_open_file(ngx_live_record_part_t *p, ngx_log_t *log)
{
    ngx_int_t                rc;
    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_MP4];

    if (ngx_live_record_create_dirs(f->work.data, log) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_live_record_mp4_open(f->mp4, f->work.data, f->samples);

    if (rc != NGX_OK) {
        (void) ngx_delete_file(f->samples);
        (void) ngx_delete_file(f->work.data);
    }

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" part %ui: mp4 opened: %i",
                   &p->st.label, p->n, rc);

    return rc;
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


/* frames wait here in arrival order while the part's files are opened */

static void
ngx_live_record_mp4_hold(ngx_live_record_part_t *p, ngx_live_record_frame_t *f)
{
    ngx_live_record_queued_t  *qf;

    if (p->pending_size + f->len > NGX_LIVE_RECORD_PENDING_MAX
        || (qf = ngx_alloc(sizeof(ngx_live_record_queued_t) + f->len,
                           p->log))
           == NULL)
    {
        ngx_live_record_part_drop(p, p->pending_size);
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
