
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * A part's MP4 file, written by the module's own write-once writer
 * (mux/ngx_live_record_mp4.c): opened by the part's open task in the
 * thread pool, fed every frame as it arrives (the writer dates samples
 * itself, so MP4 needs no frame queue; while the file is opened the
 * writer's blocks hold them), written by a write job on the worker's drain
 * task in the thread pool (mux/ngx_live_record_drain.c) whenever 64 KiB are
 * ready and every 250 ms, and closed or recovered in the finalize thread
 * once no write job is out.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_shm.h"
#include "ngx_live_record_drain.h"


#define NGX_LIVE_RECORD_MP4_FLUSH_MS  250

/* full blocks worth a write task before the tick */
#define NGX_LIVE_RECORD_MP4_POST      65536

#define NGX_LIVE_RECORD_SAMPLES       ".samples"


#if (NGX_THREADS)

/*
 * The write job, and the event that ends the part once its last batch is
 * written: the drain hands back many jobs in one loop iteration when many
 * parts close at once, and their ends (writers drained, HLS closed, the
 * finalize posted) go through the pace queue, a few an iteration
 */

typedef struct {
    ngx_live_record_job_t        job;
    ngx_event_t                  end;
} ngx_live_record_mp4_job_t;

#endif


static void ngx_live_record_mp4_flush_handler(ngx_event_t *ev);
static void ngx_live_record_mp4_post(ngx_live_record_part_t *p,
    ngx_uint_t all);
#if (NGX_THREADS)
static void ngx_live_record_mp4_put_handler(void *data, ngx_log_t *log);
static void ngx_live_record_mp4_put_done(void *data);
static void ngx_live_record_mp4_end_handler(ngx_event_t *ev);
#endif


ngx_int_t
ngx_live_record_part_mp4_prepare(ngx_live_record_part_t *p)
{
    off_t                        reserve;
    ngx_live_record_file_t      *f;
#if (NGX_THREADS)
    ngx_live_record_mp4_job_t   *mj;
#endif

    f = &p->files[NGX_LIVE_RECORD_MP4];

    reserve = ngx_live_record_mp4_reserve(p->st.tracks, p->tpl->interval);

    f->mp4 = ngx_live_record_mp4_create(p->pool, p->log, &p->st.label,
                                        p->st.tracks, reserve);
    if (f->mp4 == NULL) {
        return NGX_ERROR;
    }

    f->open_rc = NGX_AGAIN;

#if (NGX_THREADS)

    if (p->lacf->thread_pool) {
        mj = ngx_pcalloc(p->pool, sizeof(ngx_live_record_mp4_job_t));
        if (mj == NULL) {
            return NGX_ERROR;
        }

        mj->job.handler = ngx_live_record_mp4_put_handler;
        mj->job.done = ngx_live_record_mp4_put_done;
        mj->job.data = p;
        mj->job.log = p->log;

        mj->end.data = p;
        mj->end.log = p->log;

        p->mp4_task = mj;
    }

#endif

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
        if (p->close_pending) {
            /* the finalize thread writes what waited */
            return;
        }

        ngx_live_record_mp4_post(p, 1);

        if (!p->flush.timer_set) {
            ngx_add_timer(&p->flush, NGX_LIVE_RECORD_MP4_FLUSH_MS);
        }

        return;
    }

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
    ngx_int_t                 rc;
    ngx_uint_t                dropped;
    ngx_live_record_frame_t   f;
    ngx_live_record_mp4_t    *w;

    w = p->files[NGX_LIVE_RECORD_MP4].mp4;

    f.track = tag->track;
    f.key = tag->key;
    f.dts = dts;
    f.pts = pts;
    f.duration = -1;
    f.data = tag->data;
    f.len = tag->len;

    /*
     * While the open task runs the frame only goes into the writer's
     * blocks: no file is touched on the loop, so nothing waits for it
     */

    dropped = ngx_live_record_mp4_dropped(w);

    rc = ngx_live_record_mp4_write(w, &f);

    if (rc == NGX_ERROR) {
        ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_MP4);
        return;
    }

    if (rc == NGX_DECLINED && ngx_live_record_mp4_dropped(w) != dropped) {
        ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_OPEN_DROPPED,
                                 ngx_live_record_mp4_dropped(w) - dropped);
    }

    if (!p->opening && !p->close_pending
        && ngx_live_record_mp4_backlog(w) >= NGX_LIVE_RECORD_MP4_POST)
    {
        ngx_live_record_mp4_post(p, 0);
    }
}


/*
 * What is ready goes to a write job on the drain; without a thread pool it
 * is written here.  One job at a time: the next is posted when it is back.
 */

static void
ngx_live_record_mp4_post(ngx_live_record_part_t *p, ngx_uint_t all)
{
    ngx_live_record_mp4_t  *w;

    w = p->files[NGX_LIVE_RECORD_MP4].mp4;

    if (ngx_live_record_mp4_take(w, all) != NGX_OK) {
        return;
    }

#if (NGX_THREADS)

    if (p->mp4_task
        && ngx_live_record_drain_post(p->lacf->thread_pool, p->mp4_task)
           == NGX_OK)
    {
        return;
    }

#endif

    ngx_live_record_mp4_put_batch(w);

    if (ngx_live_record_mp4_done(w) != NGX_OK) {
        ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_MP4);
    }
}


#if (NGX_THREADS)

static void
ngx_live_record_mp4_put_handler(void *data, ngx_log_t *log)
{
    ngx_live_record_part_t  *p = data;

    ngx_live_record_mp4_put_batch(p->files[NGX_LIVE_RECORD_MP4].mp4);
}


static void
ngx_live_record_mp4_put_done(void *data)
{
    ngx_live_record_part_t  *p = data;

    ngx_live_record_mp4_t      *w;
    ngx_live_record_mp4_job_t  *mj;

    w = p->files[NGX_LIVE_RECORD_MP4].mp4;

    if (ngx_live_record_mp4_done(w) != NGX_OK) {
        ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_MP4);
    }

    if (p->mp4_wait) {
        /* the part's end waited for this job */
        p->mp4_wait = 0;
        mj = p->mp4_task;
        ngx_live_record_pace(&mj->end, ngx_live_record_mp4_end_handler);
        return;
    }

    if (ngx_live_record_mp4_backlog(w) >= NGX_LIVE_RECORD_MP4_POST) {
        ngx_live_record_mp4_post(p, 0);
    }
}


static void
ngx_live_record_mp4_end_handler(ngx_event_t *ev)
{
    ngx_live_record_part_end(ev->data, 0);
}

#endif


/*
 * Before the part is finalized no write job may be out: its end waits
 * for the job's done() (1), or, at a worker's exit, when the pool's
 * threads are gone and no done() comes, settles it here (0).
 */

ngx_uint_t
ngx_live_record_part_mp4_busy(ngx_live_record_part_t *p, ngx_uint_t sync)
{
    ngx_live_record_mp4_t  *w;

    w = p->files[NGX_LIVE_RECORD_MP4].mp4;

    if (w == NULL || !ngx_live_record_mp4_inflight(w)) {
        return 0;
    }

    if (!sync) {
        p->mp4_wait = 1;
        return 1;
    }

    if (p->mp4_task) {
        /* off the drain's lists, run or not: the part goes next */
        (void) ngx_live_record_drain_cancel(p->mp4_task);
    }

    if (!ngx_live_record_mp4_ran(w)) {
        /* no thread is left to run it */
        ngx_live_record_mp4_put_batch(w);
    }

    if (ngx_live_record_mp4_done(w) != NGX_OK) {
        ngx_live_record_part_write_failed(p, NGX_LIVE_RECORD_MP4);
    }

    return 0;
}


static void
ngx_live_record_mp4_flush_handler(ngx_event_t *ev)
{
    ngx_live_record_part_t  *p = ev->data;

    ngx_live_record_mp4_post(p, 1);

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
