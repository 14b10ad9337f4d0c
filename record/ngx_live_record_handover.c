
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * The owner's side of handing a waiting part over to another worker (see
 * ngx_live_record_handover.h).  A waiting MP4/FLV/AAC part is offered in
 * the live_record zone; while this worker has offers, a timer looks every
 * NGX_LIVE_RECORD_HANDOVER_POLL ms for a request.  A part asked for leaves
 * the waiting list; its writers are detached (what is buffered written,
 * the files closed as they are, no trailer, no moov) and the hand-over
 * file written, in the thread pool; then the zone says so, and the part is
 * the taker's: its sidecars stay in SPOOL/open/ under this worker's pid
 * until the taker claims them by rename, so that a crash of either worker
 * leaves the part to the recovery.  If the detach fails the part is
 * finished here, as at its window's end.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_handover.h"
#include "ngx_live_record_json.h"


typedef struct {
    ngx_live_record_part_t     *part;
    ngx_str_t                   text;
    u_char                     *path;
    ngx_int_t                   rc;
#if (NGX_THREADS)
    ngx_thread_task_t          *task;
#endif
} ngx_live_record_detach_t;


static void ngx_live_record_handover_poll(ngx_event_t *ev);
static ngx_uint_t ngx_live_record_handover_asked(ngx_live_record_part_t **ask,
    ngx_uint_t max);
static ngx_uint_t ngx_live_record_handover_ready(ngx_live_record_part_t *p);
static void ngx_live_record_handover_detach(ngx_live_record_part_t *p);
static ngx_live_record_detach_t *ngx_live_record_detach_create(
    ngx_live_record_part_t *p);
static void ngx_live_record_detach_thread(void *data, ngx_log_t *log);
#if (NGX_THREADS)
static void ngx_live_record_detach_done(ngx_event_t *ev);
#endif
static void ngx_live_record_detached(ngx_live_record_detach_t *d);
static ngx_int_t ngx_live_record_handover_set(ngx_live_record_part_t *p,
    ngx_uint_t state, u_char *path);


static ngx_event_t  ngx_live_record_handover_ev;


/* a part starts waiting: other workers may ask for it */

void
ngx_live_record_handover_offer(ngx_live_record_part_t *p)
{
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_handover_t  *h;

    if (p->want & (1 << NGX_LIVE_RECORD_HLS)) {
        return;
    }

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return;
    }

    h = ngx_slab_calloc_locked(shpool, sizeof(ngx_live_record_handover_t));

    if (h == NULL
        || ngx_live_record_shm_str(shpool, &h->key, &p->st.label) != NGX_OK)
    {
        if (h) {
            ngx_slab_free_locked(shpool, h);
        }

        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\": the live_record zone is full, "
                      "part %ui continues on this worker only: increase "
                      "live_record_api_zone", &p->st.label, p->n);
        return;
    }

    h->owner = ngx_pid;
    h->part = p->n;
    h->state = NGX_LIVE_RECORD_HANDOVER_WAITING;
    ngx_queue_insert_tail(&sh->handovers, &h->queue);

    ngx_shmtx_unlock(&shpool->mutex);

    if (!ngx_live_record_handover_ev.timer_set) {
        ngx_live_record_handover_ev.handler = ngx_live_record_handover_poll;
        ngx_live_record_handover_ev.log = ngx_cycle->log;
        ngx_live_record_handover_ev.cancelable = 1;
        ngx_add_timer(&ngx_live_record_handover_ev,
                      NGX_LIVE_RECORD_HANDOVER_POLL);
    }
}


/* it stops waiting here (taken on this worker, its window passed) */

void
ngx_live_record_handover_withdraw(ngx_live_record_part_t *p)
{
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_handover_t  *h;

    if (p->want & (1 << NGX_LIVE_RECORD_HLS)) {
        return;
    }

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return;
    }

    h = ngx_live_record_handover_find(sh, &p->st.label, ngx_pid, p->n);

    if (h) {
        /* a taker that asked finds nothing, and starts a new part */
        ngx_queue_remove(&h->queue);
        ngx_live_record_handover_free(shpool, h);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* the mutex held */

ngx_live_record_handover_t *
ngx_live_record_handover_find(ngx_live_record_shm_t *sh, ngx_str_t *label,
    ngx_pid_t owner, ngx_uint_t part)
{
    ngx_queue_t                 *q;
    ngx_live_record_handover_t  *h;

    for (q = ngx_queue_head(&sh->handovers);
         q != ngx_queue_sentinel(&sh->handovers);
         q = ngx_queue_next(q))
    {
        h = ngx_queue_data(q, ngx_live_record_handover_t, queue);

        if (h->owner == owner && h->part == part
            && ngx_live_record_str_eq(&h->key, label))
        {
            return h;
        }
    }

    return NULL;
}


void
ngx_live_record_handover_free(ngx_slab_pool_t *shpool,
    ngx_live_record_handover_t *h)
{
    if (h->key.data) {
        ngx_slab_free_locked(shpool, h->key.data);
    }

    if (h->path.data) {
        ngx_slab_free_locked(shpool, h->path.data);
    }

    ngx_slab_free_locked(shpool, h);
}


static void
ngx_live_record_handover_poll(ngx_event_t *ev)
{
    ngx_uint_t               i, n;
    ngx_live_record_part_t  *ask[16];

    n = ngx_live_record_handover_asked(ask, 16);

    for (i = 0; i < n; i++) {
        ngx_live_record_handover_detach(ask[i]);
    }

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    /* while this worker has parts offered, or being handed over */

    if (ngx_live_record_handover_asked(NULL, 0)) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_HANDOVER_POLL);
    }
}


/*
 * The parts of this worker asked for and ready to go (their files open,
 * no MP4 write out), marked DETACHING; with no room (max 0): 1 if this
 * worker has any offer left.
 */

static ngx_uint_t
ngx_live_record_handover_asked(ngx_live_record_part_t **ask, ngx_uint_t max)
{
    ngx_uint_t                    n, any;
    ngx_queue_t                  *q;
    ngx_slab_pool_t              *shpool;
    ngx_live_record_shm_t        *sh;
    ngx_live_record_part_t       *p;
    ngx_live_record_handover_t   *h;
    ngx_live_record_main_conf_t  *lmcf;

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL || lmcf == NULL) {
        if (sh) {
            ngx_shmtx_unlock(&shpool->mutex);
        }

        return 0;
    }

    n = 0;
    any = 0;

    for (q = ngx_queue_head(&sh->handovers);
         q != ngx_queue_sentinel(&sh->handovers);
         q = ngx_queue_next(q))
    {
        h = ngx_queue_data(q, ngx_live_record_handover_t, queue);

        if (h->owner != ngx_pid) {
            continue;
        }

        any = 1;

        if (n == max || h->state != NGX_LIVE_RECORD_HANDOVER_REQUESTED) {
            continue;
        }

        if (!ngx_live_record_process_alive(h->taker)) {
            /* the worker that asked was killed: offered again */
            h->state = NGX_LIVE_RECORD_HANDOVER_WAITING;
            h->taker = 0;
            continue;
        }

        p = ngx_live_record_part_waiting(lmcf, &h->key, 0);

        if (p == NULL || p->n != h->part
            || !ngx_live_record_handover_ready(p))
        {
            continue;
        }

        h->state = NGX_LIVE_RECORD_HANDOVER_DETACHING;
        ask[n++] = p;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return max ? n : any;
}


static ngx_uint_t
ngx_live_record_handover_ready(ngx_live_record_part_t *p)
{
    ngx_live_record_mp4_t  *w;

    w = p->files[NGX_LIVE_RECORD_MP4].mp4;

    return !p->opening && !p->close_pending && !p->write_failed
           && p->formats && !p->hls
           && (w == NULL || !ngx_live_record_mp4_inflight(w));
}


/* off the waiting list, and to the pool: the writers let go */

static void
ngx_live_record_handover_detach(ngx_live_record_part_t *p)
{
    ngx_live_record_detach_t  *d;

    ngx_queue_remove(&p->waiting);
    p->paused = 0;

    if (p->wait.timer_set) {
        ngx_del_timer(&p->wait);
    }

    if (p->flush.timer_set) {
        ngx_del_timer(&p->flush);
    }

    ngx_live_record_part_flush(p);

    d = ngx_live_record_detach_create(p);

    if (d == NULL) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "live record: \"%V\" part %ui could not be handed "
                      "over (no memory), it ends here", &p->st.label, p->n);

        (void) ngx_live_record_handover_set(p,
                                            NGX_LIVE_RECORD_HANDOVER_FAILED,
                                            NULL);
        ngx_live_record_part_close(p, p->wait_reason, 0);
        return;
    }

#if (NGX_THREADS)

    if (p->lacf->thread_pool && !ngx_live_record_threads_gone) {
        if (ngx_live_record_post(p->lacf->thread_pool, d->task) == NGX_OK) {
            return;
        }

        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" part %ui: handed over on the "
                      "event loop, the thread pool \"%V\" is full",
                      &p->st.label, p->n, &p->lacf->thread_pool_name);
    }

#endif

    ngx_live_record_detach_thread(d, p->log);
    ngx_live_record_detached(d);
}


/*
 * The detach task, the text of the hand-over file and its name: after
 * the part's first file, in the open parts' directory
 */

static ngx_live_record_detach_t *
ngx_live_record_detach_create(ngx_live_record_part_t *p)
{
    ngx_uint_t                 i;
    ngx_live_record_detach_t  *d;
#if (NGX_THREADS)
    ngx_thread_task_t         *task;

    task = ngx_thread_task_alloc(p->pool, sizeof(ngx_live_record_detach_t));
    if (task == NULL) {
        return NULL;
    }

    d = task->ctx;
    d->task = task;

    task->handler = ngx_live_record_detach_thread;
    task->event.handler = ngx_live_record_detach_done;
    task->event.data = d;
    task->event.log = p->log;
#else

    d = ngx_pcalloc(p->pool, sizeof(ngx_live_record_detach_t));
    if (d == NULL) {
        return NULL;
    }
#endif

    d->part = p;

    for (i = 0; !(p->formats & (1 << i)); i++) { /* void */ }

    d->path = ngx_pnalloc(p->pool, p->lmcf->spool.len + NGX_INT_T_LEN
                          + p->files[i].file_id.len
                          + sizeof("/" NGX_LIVE_RECORD_SPOOL_OPEN "/.."
                                   NGX_LIVE_RECORD_HANDOVER_EXT));

    if (d->path == NULL
        || ngx_live_record_handover_text(p, &d->text) != NGX_OK)
    {
        return NULL;
    }

    ngx_sprintf(d->path, "%V/" NGX_LIVE_RECORD_SPOOL_OPEN "/%P.%V"
                NGX_LIVE_RECORD_HANDOVER_EXT "%Z", &p->lmcf->spool, ngx_pid,
                &p->files[i].file_id);

    return d;
}


/* in a thread: every file let go as it is, then the hand-over file */

static void
ngx_live_record_detach_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_detach_t  *d = data;

    ngx_uint_t               i;
    ngx_live_record_part_t  *p;
    ngx_live_record_file_t  *f;

    p = d->part;
    d->rc = NGX_OK;

    for (i = 0; i < NGX_LIVE_RECORD_HLS; i++) {
        f = &p->files[i];

        if (!(p->formats & (1 << i))) {
            continue;
        }

        if ((f->mp4 && ngx_live_record_mp4_detach(f->mp4) != NGX_OK)
            || (f->writer && ngx_live_record_writer_detach(f->writer)
                             != NGX_OK))
        {
            ngx_log_error(NGX_LOG_CRIT, log, 0,
                          "live record: \"%V\" part %ui: the %s file "
                          "\"%s\" could not be detached", &p->st.label,
                          p->n, ngx_live_record_format_ext(i), f->work.data);
            d->rc = NGX_ERROR;
        }
    }

    if (d->rc == NGX_OK) {
        d->rc = ngx_live_record_write_atomic(d->path, &d->text, 1, log);
    }
}


#if (NGX_THREADS)

static void
ngx_live_record_detach_done(ngx_event_t *ev)
{
    ngx_live_record_detached(ev->data);
}

#endif


static void
ngx_live_record_detached(ngx_live_record_detach_t *d)
{
    ngx_uint_t               i;
    ngx_live_record_part_t  *p;

    p = d->part;

    cJSON_free(d->text.data);
    d->text.data = NULL;

    if (d->rc == NGX_OK
        && ngx_live_record_handover_set(p, NGX_LIVE_RECORD_HANDOVER_HANDED,
                                        d->path)
           != NGX_OK)
    {
        /* the taker will not read it */
        (void) ngx_delete_file(d->path);
        d->rc = NGX_ERROR;
    }

    if (d->rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "live record: \"%V\" part %ui could not be handed "
                      "over, it ends here", &p->st.label, p->n);

        (void) ngx_live_record_handover_set(p,
                                            NGX_LIVE_RECORD_HANDOVER_FAILED,
                                            NULL);

        /* its files were let go: finished from what the disk holds */
        ngx_live_record_part_close(p, p->wait_reason, 0);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" part %ui \"%V\" handed over at "
                  "%.3fs: \"%s\"", &p->st.label, p->n, &p->rel,
                  (double) p->duration / 1000, d->path);

    /* its sidecars are the taker's now */

    for (i = 0; i < NGX_LIVE_RECORD_HLS; i++) {
        if ((p->formats & (1 << i)) && p->files[i].sidecar) {
            ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN, -1);
        }
    }

    ngx_destroy_pool(p->pool);
}


/* NGX_OK: the zone says state (HANDED: and where the file is) */

static ngx_int_t
ngx_live_record_handover_set(ngx_live_record_part_t *p, ngx_uint_t state,
    u_char *path)
{
    ngx_int_t                    rc;
    ngx_str_t                    s;
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_handover_t  *h;

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    h = ngx_live_record_handover_find(sh, &p->st.label, ngx_pid, p->n);

    if (h && path) {
        s.data = path;
        s.len = ngx_strlen(path);

        if (ngx_live_record_shm_str(shpool, &h->path, &s) != NGX_OK) {
            state = NGX_LIVE_RECORD_HANDOVER_FAILED;
            path = NULL;
        }
    }

    if (h) {
        h->state = state;
        rc = (state == NGX_LIVE_RECORD_HANDOVER_HANDED && path == NULL)
             ? NGX_ERROR : NGX_OK;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}
