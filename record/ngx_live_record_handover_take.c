
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * The taker's side of handing a waiting part over (see
 * ngx_live_record_handover.h).  A publish finds its stream's part waiting
 * on another worker in the zone and asks for it; its frames are held by
 * the segmenter meanwhile (NGX_LIVE_RECORD_WAIT_FRAMES at most: past that
 * a new part opens, and the part handed over, when it comes, ends).  If
 * the owner has not started within NGX_LIVE_RECORD_HANDOVER_TIMEOUT ms,
 * or cannot, the publish goes on as before: a new part here, the waiting
 * one finished by its worker when its window ends.  Once handed over, the
 * hand-over file is read, the sidecars claimed and the files reopened in
 * the thread pool, and the part goes on here as it would have there.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_handover.h"
#include "ngx_live_record_index.h"


typedef struct {
    ngx_live_record_ctx_t      *ctx;            /* NULL: its publish ended */
    ngx_live_record_main_conf_t *lmcf;
    ngx_live_record_app_conf_t *lacf;
    ngx_str_t                   label;
    ngx_str_t                   session;
    ngx_pid_t                   owner;
    ngx_uint_t                  part;
    ngx_msec_t                  start;
    ngx_event_t                 ev;
    u_char                     *path;           /* the hand-over file */
    ngx_live_record_part_t     *p;              /* read back */
    u_char                     *orphan[NGX_LIVE_RECORD_HLS];
    ngx_str_t                   orphan_text[NGX_LIVE_RECORD_HLS];

    /* the frames of a publish that ended first, and what it was */
    ngx_queue_t                 held;
    ngx_uint_t                  nheld;
    ngx_live_record_stream_t    st;
    u_char                     *st_buf;
    ngx_live_record_template_t *tpl;
    ngx_uint_t                  formats;
    ngx_uint_t                  reason;
    ngx_uint_t                  parts;
    int64_t                     base;
#if (NGX_THREADS)
    ngx_thread_task_t           task;
#endif
} ngx_live_record_take_t;


typedef struct {
    ngx_queue_t                 queue;
    ngx_live_record_tag_t       tag;
    int64_t                     ts;
} ngx_live_record_held_t;


static ngx_live_record_handover_t *ngx_live_record_take_find(
    ngx_slab_pool_t *shpool, ngx_live_record_shm_t *sh, ngx_str_t *label);
static ngx_live_record_take_t *ngx_live_record_take_create(
    ngx_live_record_ctx_t *ctx, ngx_live_record_handover_t *h);
static void ngx_live_record_take_poll(ngx_event_t *ev);
static const char *ngx_live_record_take_state(ngx_live_record_take_t *t);
static void ngx_live_record_take_fallback(ngx_live_record_take_t *t,
    const char *why);
static void ngx_live_record_take_post(ngx_live_record_take_t *t);
static void ngx_live_record_take_thread(void *data, ngx_log_t *log);
static ngx_live_record_part_t *ngx_live_record_take_read(
    ngx_live_record_take_t *t, ngx_log_t *log);
static void ngx_live_record_take_file(ngx_live_record_take_t *t,
    ngx_live_record_part_t *p, ngx_uint_t format, ngx_log_t *log);
static ngx_int_t ngx_live_record_take_reopen(ngx_live_record_part_t *p,
    ngx_uint_t format, ngx_log_t *log);
#if (NGX_THREADS)
static void ngx_live_record_take_done(ngx_event_t *ev);
#endif
static void ngx_live_record_taken(ngx_live_record_take_t *t);
static void ngx_live_record_take_orphans(ngx_live_record_take_t *t);
static void ngx_live_record_take_free(ngx_live_record_take_t *t);
static ngx_int_t ngx_live_record_take_keep(ngx_live_record_take_t *t,
    ngx_live_record_ctx_t *ctx, ngx_uint_t reason);
static ngx_int_t ngx_live_record_take_copy(ngx_live_record_take_t *t,
    ngx_live_record_stream_t *st);
static void ngx_live_record_take_resume(ngx_live_record_take_t *t,
    ngx_live_record_part_t *p);
static void ngx_live_record_take_new_part(ngx_live_record_take_t *t);
static void ngx_live_record_take_write(ngx_live_record_take_t *t,
    ngx_live_record_part_t *p);


/*
 * At a publish with no part of its stream waiting on this worker: one
 * waiting on another is asked for.  NGX_OK: the frames wait for it.
 */

ngx_int_t
ngx_live_record_handover_request(ngx_live_record_ctx_t *ctx,
    ngx_pid_t waiting)
{
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_take_t      *t;
    ngx_live_record_handover_t  *h;

    if (ctx->tpl == NULL || ctx->tpl->continue_window == 0
        || !(ctx->formats & ~(1 << NGX_LIVE_RECORD_HLS)))
    {
        return NGX_DECLINED;
    }

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return NGX_DECLINED;
    }

    t = NULL;
    h = ngx_live_record_take_find(shpool, sh, &ctx->st.label);

    if (h) {
        t = ngx_live_record_take_create(ctx, h);
    }

    if (t) {
        h->state = NGX_LIVE_RECORD_HANDOVER_REQUESTED;
        h->taker = ngx_pid;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (t == NULL) {
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->s->connection->log, 0,
                  "live record: \"%V\": its part %ui waits on worker %P, "
                  "asked to hand it over", &ctx->st.label, t->part, t->owner);

    ctx->take = t;
    ctx->seg.hold = 1;

    ngx_add_timer(&t->ev, NGX_LIVE_RECORD_HANDOVER_POLL);

    return NGX_OK;
}


/*
 * The latest part of the stream offered by a live worker, not this one;
 * the offers of a worker that is gone (killed) go
 */

static ngx_live_record_handover_t *
ngx_live_record_take_find(ngx_slab_pool_t *shpool, ngx_live_record_shm_t *sh,
    ngx_str_t *label)
{
    ngx_queue_t                 *q, *next;
    ngx_live_record_handover_t  *h, *best;

    best = NULL;

    for (q = ngx_queue_head(&sh->handovers);
         q != ngx_queue_sentinel(&sh->handovers);
         q = next)
    {
        next = ngx_queue_next(q);
        h = ngx_queue_data(q, ngx_live_record_handover_t, queue);

        if (h->owner == ngx_pid
            || h->state != NGX_LIVE_RECORD_HANDOVER_WAITING
            || !ngx_live_record_str_eq(&h->key, label))
        {
            continue;
        }

        if (!ngx_live_record_process_alive(h->owner)) {
            ngx_queue_remove(q);
            ngx_live_record_handover_free(shpool, h);
            continue;
        }

        if (best == NULL || h->part > best->part) {
            best = h;
        }
    }

    return best;
}


static ngx_live_record_take_t *
ngx_live_record_take_create(ngx_live_record_ctx_t *ctx,
    ngx_live_record_handover_t *h)
{
    ngx_live_record_take_t  *t;

    t = ngx_calloc(sizeof(ngx_live_record_take_t) + ctx->st.label.len
                   + ctx->st.session.len, ngx_cycle->log);
    if (t == NULL) {
        return NULL;
    }

    t->ctx = ctx;
    t->lmcf = ctx->lmcf;
    t->lacf = ctx->lacf;
    t->owner = h->owner;
    t->part = h->part;
    t->start = ngx_current_msec;

    t->label.data = (u_char *) &t[1];
    t->label.len = ctx->st.label.len;
    ngx_memcpy(t->label.data, ctx->st.label.data, t->label.len);

    t->session.data = t->label.data + t->label.len;
    t->session.len = ctx->st.session.len;
    ngx_memcpy(t->session.data, ctx->st.session.data, t->session.len);

    ngx_queue_init(&t->held);

    t->ev.handler = ngx_live_record_take_poll;
    t->ev.data = t;
    t->ev.log = ngx_cycle->log;
    t->ev.cancelable = 1;

    return t;
}


/*
 * The publish ends first.  Its held frames go with the request (an MP4,
 * FLV, AAC publish that stops or drops): the part goes on with them and
 * waits here once taken over, or they start a new part if it is not.
 * Else they are recorded now, and a request not yet seen is taken back.
 */

void
ngx_live_record_handover_cancel(ngx_live_record_ctx_t *ctx, ngx_uint_t reason,
    ngx_uint_t sync)
{
    ngx_uint_t                   back;
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_take_t      *t;
    ngx_live_record_handover_t  *h;

    t = ctx->take;

    if (t == NULL) {
        return;
    }

    ctx->take = NULL;
    t->ctx = NULL;

    if (!sync && !(ctx->formats & (1 << NGX_LIVE_RECORD_HLS))
        && (reason == NGX_LIVE_RECORD_REASON_UNPUBLISH
            || reason == NGX_LIVE_RECORD_REASON_DROP)
        && ngx_live_record_take_keep(t, ctx, reason) == NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: \"%V\": the publish ended before its "
                      "part %ui was taken over from worker %P: its %ui "
                      "frames wait for it", &t->label, t->part, t->owner,
                      t->nheld);
        return;
    }

    ngx_live_record_stream_unhold(ctx);

    if (t->path) {
        /* being read: the part waits here when it is */
        return;
    }

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return;
    }

    back = 0;
    h = ngx_live_record_handover_find(sh, &t->label, t->owner, t->part);

    if (h && h->taker == ngx_pid
        && h->state == NGX_LIVE_RECORD_HANDOVER_REQUESTED)
    {
        h->state = NGX_LIVE_RECORD_HANDOVER_WAITING;
        h->taker = 0;
        back = 1;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (back) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: \"%V\": the publish ended before worker "
                      "%P answered: its part %ui waits there, which "
                      "finishes it when its window ends", &t->label,
                      t->owner, t->part);

        ngx_live_record_take_free(t);
    }

    /* else the owner hands it over: it waits here when it comes */
}


/* the held frames and what they are of, copied off the publish */

static ngx_int_t
ngx_live_record_take_keep(ngx_live_record_take_t *t,
    ngx_live_record_ctx_t *ctx, ngx_uint_t reason)
{
    int64_t                     base;
    ngx_live_record_held_t     *hf;
    ngx_live_record_pending_t  *pf;

    if (ngx_live_record_take_copy(t, &ctx->st) != NGX_OK
        || ngx_live_record_segmenter_unhold(&ctx->seg, &base) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    t->tpl = ctx->tpl;
    t->formats = ctx->formats;
    t->reason = reason;
    t->parts = ctx->parts;
    t->base = base;

    while ((pf = ngx_live_record_segmenter_release(&ctx->seg)) != NULL) {
        hf = ngx_alloc(sizeof(ngx_live_record_held_t) + pf->tag.len,
                       ngx_cycle->log);
        if (hf == NULL) {
            continue;
        }

        hf->tag = pf->tag;
        hf->tag.data = (u_char *) &hf[1];
        hf->ts = pf->ts;
        ngx_memcpy(hf->tag.data, pf->tag.data, pf->tag.len);

        ngx_queue_insert_tail(&t->held, &hf->queue);
        t->nheld++;
    }

    return NGX_OK;
}


/* the stream's names and tracks, in one buffer */

static ngx_int_t
ngx_live_record_take_copy(ngx_live_record_take_t *t,
    ngx_live_record_stream_t *st)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;
    ngx_str_t   *s, *d;

    ngx_str_t  *strs[] = { &st->label, &st->domain, &st->args,
                           &st->session, &st->sources, &st->task_id,
                           &st->extension };
    ngx_str_t  *dsts[] = { &t->st.label, &t->st.domain, &t->st.args,
                           &t->st.session, &t->st.sources, &t->st.task_id,
                           &t->st.extension };

    len = st->tracks[0].extradata_len + st->tracks[1].extradata_len + 1;

    for (i = 0; i < 7; i++) {
        len += strs[i]->len;
    }

    t->st_buf = ngx_alloc(len, ngx_cycle->log);
    if (t->st_buf == NULL) {
        return NGX_ERROR;
    }

    t->st = *st;
    p = t->st_buf;

    for (i = 0; i < 7; i++) {
        s = strs[i];
        d = dsts[i];

        d->data = p;
        p = s->len ? ngx_cpymem(p, s->data, s->len) : p;
    }

    t->st.app.data = t->st.label.data;
    t->st.name.data = t->st.label.data + st->app.len + 1;

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        t->st.tracks[i].extradata = p;
        p = st->tracks[i].extradata_len
            ? ngx_cpymem(p, st->tracks[i].extradata,
                         st->tracks[i].extradata_len)
            : p;
    }

    return NGX_OK;
}


static void
ngx_live_record_take_poll(ngx_event_t *ev)
{
    const char              *why;
    ngx_live_record_take_t  *t = ev->data;

    why = ngx_live_record_take_state(t);

    if (why == NULL) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_HANDOVER_POLL);
        return;
    }

    if (t->path) {
        ngx_live_record_take_post(t);
        return;
    }

    ngx_live_record_take_fallback(t, why);
}


/*
 * What the owner has done: NULL while it is at it; else why the part is
 * not taken, or "" with t->path once it is handed over
 */

static const char *
ngx_live_record_take_state(ngx_live_record_take_t *t)
{
    ngx_str_t                    s;
    ngx_uint_t                   alive;
    const char                  *why;
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_handover_t  *h;

    /* /proc is read outside the zone's lock */
    alive = ngx_live_record_process_alive(t->owner);

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return "no zone";
    }

    why = NULL;
    h = ngx_live_record_handover_find(sh, &t->label, t->owner, t->part);

    if (h == NULL || h->taker != ngx_pid) {
        why = "it stopped waiting";
        h = NULL;

    } else if (h->state == NGX_LIVE_RECORD_HANDOVER_HANDED) {
        s = h->path;
        t->path = ngx_alloc(s.len + 1, ngx_cycle->log);
        why = t->path ? "" : "no memory";

        if (t->path) {
            ngx_memcpy(t->path, s.data, s.len + 1);
        }

    } else if (h->state == NGX_LIVE_RECORD_HANDOVER_FAILED) {
        why = "its worker could not";

    } else if (!alive) {
        why = "its worker is gone";

    } else if (h->state == NGX_LIVE_RECORD_HANDOVER_REQUESTED
               && ngx_current_msec - t->start
                  >= NGX_LIVE_RECORD_HANDOVER_TIMEOUT)
    {
        /* not seen: it stays offered, to this worker's next publish too */
        why = "no answer within " ngx_value(NGX_LIVE_RECORD_HANDOVER_TIMEOUT)
              " ms";
        h->state = NGX_LIVE_RECORD_HANDOVER_WAITING;
        h->taker = 0;
        h = NULL;
    }

    if (why && h) {
        ngx_queue_remove(&h->queue);
        ngx_live_record_handover_free(shpool, h);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return why;
}


/* as before handing over existed: a new part here */

static void
ngx_live_record_take_fallback(ngx_live_record_take_t *t, const char *why)
{
    ngx_live_record_ctx_t  *ctx = t->ctx;

    ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_NOT_TAKEN, 1);

    if (t->path) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: \"%V\": its part %ui, handed over by "
                      "worker %P, could not be taken over: its files are "
                      "finished as a crash's; this worker goes on at part "
                      "%ui of session %V", &t->label, t->part, t->owner,
                      ctx ? ctx->parts + 1 : t->part + 1, &t->session);

    } else {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: \"%V\": its part %ui waits on worker "
                      "%P, which finishes it when its window ends (not "
                      "handed over: %s); this worker goes on at part %ui "
                      "of session %V", &t->label, t->part, t->owner, why,
                      ctx ? ctx->parts + 1 : t->part + 1, &t->session);
    }

    if (ctx) {
        ctx->take = NULL;
        ngx_live_record_stream_unhold(ctx);

    } else if (t->nheld) {
        ngx_live_record_take_new_part(t);
    }

    ngx_live_record_take_free(t);
}


static void
ngx_live_record_take_post(ngx_live_record_take_t *t)
{
#if (NGX_THREADS)

    if (t->lacf->thread_pool && !ngx_live_record_threads_gone) {
        t->task.ctx = t;
        t->task.handler = ngx_live_record_take_thread;
        t->task.event.handler = ngx_live_record_take_done;
        t->task.event.data = t;
        t->task.event.log = ngx_cycle->log;

        if (ngx_live_record_post(t->lacf->thread_pool, &t->task) == NGX_OK) {
            return;
        }

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "live record: \"%V\" part %ui: taken over on the "
                      "event loop, the thread pool \"%V\" is full",
                      &t->label, t->part, &t->lacf->thread_pool_name);
    }

#endif

    ngx_live_record_take_thread(t, ngx_cycle->log);
    ngx_live_record_taken(t);
}


/* in a thread: the file read, the sidecars claimed, the files reopened */

static void
ngx_live_record_take_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_take_t  *t = data;

    ngx_uint_t               i;
    ngx_live_record_part_t  *p;

    p = ngx_live_record_take_read(t, log);

    if (ngx_delete_file(t->path) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: \"%V\": " ngx_delete_file_n " \"%s\" "
                      "failed", &t->label, t->path);
    }

    if (p == NULL) {
        return;
    }

    for (i = 0; i < NGX_LIVE_RECORD_HLS; i++) {
        if (p->formats & (1 << i)) {
            ngx_live_record_take_file(t, p, i, log);
        }
    }

    t->p = p;
}


static ngx_live_record_part_t *
ngx_live_record_take_read(ngx_live_record_take_t *t, ngx_log_t *log)
{
    ngx_str_t                          text;
    ngx_pool_t                        *pool;
    ngx_pool_cleanup_t                *cln;
    ngx_live_record_part_t            *p;
    ngx_live_record_handover_names_t   names;

    if (ngx_live_record_read_file(t->path, NGX_LIVE_RECORD_HANDOVER_MAX,
                                  &text, log)
        != NGX_OK)
    {
        return NULL;
    }

    p = NULL;
    pool = ngx_create_pool(4096, ngx_cycle->log);

    if (pool) {
        p = ngx_pcalloc(pool, sizeof(ngx_live_record_part_t));
        cln = ngx_pool_cleanup_add(pool, 0);

        if (p == NULL || cln == NULL) {
            goto failed;
        }

        cln->handler = ngx_live_record_part_free_queue;
        cln->data = p;

        p->pool = pool;
        p->log = ngx_cycle->log;
        p->lmcf = t->lmcf;
        ngx_queue_init(&p->out);

        if (ngx_live_record_handover_parse(p, &text, &names) != NGX_OK
            || names.owner != t->owner
            || ngx_live_record_part_place(p, &names.work_root, &names.store,
                                          &names.tpl) != NGX_OK)
        {
            goto failed;
        }
    }

    ngx_free(text.data);

    return p;

failed:

    ngx_log_error(NGX_LOG_CRIT, log, 0,
                  "live record: \"%V\": the hand-over file \"%s\" of part "
                  "%ui cannot be read (its store or template is no longer "
                  "configured?); its files are left to the recovery when "
                  "worker %P exits", &t->label, t->path, t->part, t->owner);

    ngx_free(text.data);
    ngx_destroy_pool(pool);

    return NULL;
}


/*
 * One file: its sidecar claimed by rename (the recovery of a worker that
 * is gone claims the same way: one of the two gets it), then reopened.
 * A file claimed that does not reopen is recovered on the loop.
 */

static void
ngx_live_record_take_file(ngx_live_record_take_t *t,
    ngx_live_record_part_t *p, ngx_uint_t format, ngx_log_t *log)
{
    u_char                  *from, *to;
    size_t                   len;
    ngx_live_record_file_t  *f;

    f = &p->files[format];
    p->formats &= ~(1 << format);

    len = p->lmcf->spool.len + f->file_id.len + NGX_INT_T_LEN
          + sizeof("/" NGX_LIVE_RECORD_SPOOL_OPEN "/..json");

    from = ngx_pnalloc(p->pool, 2 * len);
    if (from == NULL) {
        return;
    }

    to = from + len;

    ngx_sprintf(from, "%V/" NGX_LIVE_RECORD_SPOOL_OPEN "/%P.%V.json%Z",
                &p->lmcf->spool, t->owner, &f->file_id);
    ngx_sprintf(to, "%V/" NGX_LIVE_RECORD_SPOOL_OPEN "/%P.%V.json%Z",
                &p->lmcf->spool, ngx_pid, &f->file_id);

    if (ngx_rename_file(from, to) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ERR, log, ngx_errno,
                      "live record: \"%V\" part %ui: the sidecar \"%s\" "
                      "could not be claimed (recovered meanwhile?), its %s "
                      "file is not taken over", &p->st.label, p->n, from,
                      ngx_live_record_format_ext(format));
        return;
    }

    f->sidecar = to;

    if (ngx_live_record_take_reopen(p, format, log) == NGX_OK) {
        p->formats |= 1 << format;
        return;
    }

    ngx_log_error(NGX_LOG_CRIT, log, 0,
                  "live record: \"%V\" part %ui: its %s file \"%s\" could "
                  "not be reopened, recovering it", &p->st.label, p->n,
                  ngx_live_record_format_ext(format), f->work.data);

    if (ngx_live_record_read_file(to, NGX_LIVE_RECORD_HANDOVER_MAX,
                                  &t->orphan_text[format], log)
        == NGX_OK)
    {
        t->orphan[format] = to;
    }
}


static ngx_int_t
ngx_live_record_take_reopen(ngx_live_record_part_t *p, ngx_uint_t format,
    ngx_log_t *log)
{
    ngx_live_record_file_t  *f;

    f = &p->files[format];

    if (ngx_live_record_local_url(p, format) == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (format != NGX_LIVE_RECORD_MP4) {
        f->writer = ngx_live_record_writer_append(p->pool, log,
                                                  &p->st.label, format,
                                                  f->work.data, p->st.tracks,
                                                  ngx_live_record_threads(
                                                      p->lacf));
        return f->writer ? NGX_OK : NGX_ERROR;
    }

    if (ngx_live_record_part_mp4_paths(p, f) != NGX_OK
        || ngx_live_record_part_mp4_prepare(p) != NGX_OK)
    {
        return NGX_ERROR;
    }

    f->open_rc = ngx_live_record_mp4_reopen(f->mp4, f->work.data, f->samples);

    return f->open_rc;
}


#if (NGX_THREADS)

static void
ngx_live_record_take_done(ngx_event_t *ev)
{
    ngx_live_record_taken(ev->data);
}

#endif


/* back on the loop: the part is the stream's, as if it had waited here */

static void
ngx_live_record_taken(ngx_live_record_take_t *t)
{
    ngx_uint_t               i;
    ngx_live_record_ctx_t   *ctx;
    ngx_live_record_part_t  *p;

    ngx_live_record_take_orphans(t);

    p = t->p;
    ctx = t->ctx;

    if (p && p->formats == 0) {
        ngx_destroy_pool(p->pool);
        p = NULL;
    }

    if (p == NULL) {
        /* the part's files are the recovery's: a new part here */
        ngx_live_record_take_fallback(t, NULL);
        return;
    }

    for (i = 0; i < NGX_LIVE_RECORD_HLS; i++) {
        if (p->formats & (1 << i)) {
            ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN, 1);
        }
    }

    if (p->files[NGX_LIVE_RECORD_MP4].mp4) {
        ngx_live_record_part_mp4_ready(p);
    }

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" part %ui \"%V\" taken over from "
                  "worker %P at %.3fs", &p->st.label, p->n, &p->rel,
                  t->owner, (double) p->duration / 1000);

    ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_TAKEN, 1);

    if (ctx && ctx->part == NULL && ctx->part_wait == NULL) {
        ctx->take = NULL;
        ctx->part_wait = p;
        ngx_live_record_stream_unhold(ctx);

    } else if (ctx) {
        /* too many frames came meanwhile: a new part took them */
        ctx->take = NULL;
        ngx_live_record_part_close(p, p->wait_reason, 0);

    } else if (t->nheld) {
        ngx_live_record_take_resume(t, p);

    } else {
        ngx_live_record_part_wait(p, p->wait_reason,
                                  p->tpl->continue_window);
    }

    ngx_live_record_take_free(t);
}


/* the publish ended meanwhile: its frames go on in the part, which waits */

static void
ngx_live_record_take_resume(ngx_live_record_take_t *t,
    ngx_live_record_part_t *p)
{
    if (ngx_live_record_part_resume(p, t->tpl,
                                    t->formats & ~(1 << NGX_LIVE_RECORD_HLS),
                                    &t->st, t->base)
        != NGX_OK)
    {
        ngx_live_record_part_close(p, p->wait_reason, 0);
        ngx_live_record_take_new_part(t);
        return;
    }

    ngx_live_record_take_write(t, p);
    ngx_live_record_part_pause(p, t->reason);
}


/* the frames of a publish that ended, not taken over: a part of their own */

static void
ngx_live_record_take_new_part(ngx_live_record_take_t *t)
{
    ngx_live_record_part_t  *p;

    p = ngx_live_record_part_open(&t->st, t->tpl, t->lacf, t->lmcf,
                                  t->formats & ~(1 << NGX_LIVE_RECORD_HLS),
                                  t->parts + 1, t->base);
    if (p == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: \"%V\" part %ui could not be opened: "
                      "%ui frames of its publish are not recorded",
                      &t->label, t->parts + 1, t->nheld);
        return;
    }

    ngx_live_record_take_write(t, p);

    if (t->tpl->continue_window
        && ngx_live_record_part_may_wait(p, t->reason, 0))
    {
        ngx_live_record_part_pause(p, t->reason);

    } else {
        ngx_live_record_part_close(p, t->reason, 0);
    }
}


static void
ngx_live_record_take_write(ngx_live_record_take_t *t,
    ngx_live_record_part_t *p)
{
    ngx_queue_t             *q;
    ngx_live_record_held_t  *hf;

    while (!ngx_queue_empty(&t->held)) {
        q = ngx_queue_head(&t->held);
        ngx_queue_remove(q);

        hf = ngx_queue_data(q, ngx_live_record_held_t, queue);
        ngx_live_record_part_write(p, &hf->tag, hf->ts);
        ngx_free(hf);
    }

    t->nheld = 0;
}


/* files claimed and not reopened: finished as a crash's would be */

static void
ngx_live_record_take_orphans(ngx_live_record_take_t *t)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_LIVE_RECORD_HLS; i++) {
        if (t->orphan[i] == NULL) {
            continue;
        }

        (void) ngx_live_record_recover_load(t->lmcf, t->orphan[i],
                                            &t->orphan_text[i]);

        ngx_free(t->orphan_text[i].data);
        t->orphan[i] = NULL;
    }
}


static void
ngx_live_record_take_free(ngx_live_record_take_t *t)
{
    ngx_queue_t  *q;

    if (t->ev.timer_set) {
        ngx_del_timer(&t->ev);
    }

    if (t->path) {
        ngx_free(t->path);
    }

    while (!ngx_queue_empty(&t->held)) {
        q = ngx_queue_head(&t->held);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_live_record_held_t, queue));
    }

    if (t->st_buf) {
        ngx_free(t->st_buf);
    }

    ngx_free(t);
}
