
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_session.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_stream.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_cluster_sessions.h"


/*
 * A publish with a cluster asks the database for its stream's session
 * while its first frames are held: at most this long, and at most
 * NGX_LIVE_RECORD_WAIT_FRAMES frames; past that it records with what this
 * node knows.
 */
#define NGX_LIVE_RECORD_SESSION_LOOKUP_MS  2000


static void ngx_live_record_session_found(void *data,
    ngx_live_record_cluster_session_t *row, const char *err);
static void ngx_live_record_session_late(ngx_event_t *ev);
static void ngx_live_record_memo_free(ngx_slab_pool_t *shpool,
    ngx_live_record_memo_t *m);
static void ngx_live_record_memo_str_free(ngx_slab_pool_t *shpool,
    ngx_str_t *s);


ngx_int_t
ngx_live_record_session_join(ngx_str_t *label, ngx_live_record_joined_t *j,
    size_t size)
{
    uint64_t                 now;
    ngx_int_t                rc;
    ngx_queue_t             *q, *next;
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_memo_t  *m;

    now = ngx_live_record_now_ms();
    rc = NGX_DECLINED;

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return NGX_DECLINED;
    }

    for (q = ngx_queue_head(&sh->memos);
         q != ngx_queue_sentinel(&sh->memos);
         q = next)
    {
        next = ngx_queue_next(q);
        m = ngx_queue_data(q, ngx_live_record_memo_t, queue);

        if (m->expire_ms > now && !ngx_live_record_str_eq(&m->key, label)) {
            continue;
        }

        /* expired, or ours: either way it goes */

        if (m->expire_ms > now && rc == NGX_DECLINED
            && m->session.len <= size)
        {
            j->session.len = m->session.len;
            ngx_memcpy(j->session.data, m->session.data, m->session.len);
            j->parts = m->parts;
            j->stopped_ms = m->stopped_ms;
            j->waiting = m->waiting;
            rc = NGX_OK;
        }

        ngx_queue_remove(q);
        ngx_live_record_memo_free(shpool, m);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


void
ngx_live_record_session_keep(ngx_str_t *label, ngx_str_t *session,
    ngx_uint_t parts, ngx_pid_t waiting, ngx_msec_t gap)
{
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_memo_t  *m;

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return;
    }

    m = ngx_slab_calloc_locked(shpool, sizeof(ngx_live_record_memo_t));

    if (m == NULL
        || ngx_live_record_shm_str(shpool, &m->key, label) != NGX_OK
        || ngx_live_record_shm_str(shpool, &m->session, session) != NGX_OK)
    {
        if (m) {
            ngx_live_record_memo_free(shpool, m);
        }

        ngx_shmtx_unlock(&shpool->mutex);

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "live record: \"%V\": the live_record zone is full, "
                      "a reconnect starts a new session: increase "
                      "live_record_api_zone", label);
        return;
    }

    m->stopped_ms = ngx_live_record_now_ms();
    m->expire_ms = m->stopped_ms + gap;
    m->parts = parts;
    m->waiting = waiting;
    ngx_queue_insert_tail(&sh->memos, &m->queue);

    ngx_shmtx_unlock(&shpool->mutex);
}


static void
ngx_live_record_memo_free(ngx_slab_pool_t *shpool, ngx_live_record_memo_t *m)
{
    ngx_live_record_memo_str_free(shpool, &m->key);
    ngx_live_record_memo_str_free(shpool, &m->session);
    ngx_slab_free_locked(shpool, m);
}


static void
ngx_live_record_memo_str_free(ngx_slab_pool_t *shpool, ngx_str_t *s)
{
    if (s->data) {
        ngx_slab_free_locked(shpool, s->data);
        s->data = NULL;
        s->len = 0;
    }
}


/* a publish: its session, from this node's memo or new */

void
ngx_live_record_session_start(ngx_live_record_ctx_t *ctx)
{
    u_char                    *p;
    ngx_live_record_joined_t   j;

    j.session.data = ctx->session_id;

    if (ngx_live_record_session_join(&ctx->st.label, &j,
                                     sizeof(ctx->session_id))
        == NGX_OK)
    {
        ctx->st.session = j.session;
        ctx->parts = j.parts;
        ctx->session_ms = j.stopped_ms;

        ctx->waiting = j.waiting;

        return;
    }

    p = ngx_sprintf(ctx->session_id, "%T%03M-%P-%ui", ngx_time(),
                    ngx_timeofday()->msec, ngx_pid, ++ctx->lmcf->seq);

    ctx->st.session.data = ctx->session_id;
    ctx->st.session.len = p - ctx->session_id;
    ctx->parts = 0;
    ctx->session_ms = 0;
}


/*
 * A part of the stream waits on another worker and is not asked for (an
 * HLS recording, a zone without its offer): it ends there, say so
 */

void
ngx_live_record_session_elsewhere(ngx_live_record_ctx_t *ctx)
{
    if (ctx->waiting == 0 || ctx->waiting == ngx_pid) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->s->connection->log, 0,
                  "live record: \"%V\": its part %ui waits on worker %P, "
                  "which finishes it when its window ends; this worker goes "
                  "on at part %ui of session %V", &ctx->st.label, ctx->parts,
                  ctx->waiting, ctx->parts + 1, &ctx->st.session);
}


/*
 * With a cluster, the database may know a later end of this stream, on
 * another node: the first part waits for its answer (the segmenter holds
 * its frames, for a bounded time) and takes that session and its part
 * numbers.  A part that waits on this worker to continue knows better.
 */

void
ngx_live_record_session_lookup(ngx_live_record_ctx_t *ctx)
{
    ngx_live_record_pg_query_t  *q;

    if (ctx->part_wait || ctx->hls_wait || ctx->take || ctx->formats == 0
        || ctx->tpl->session_gap == 0)
    {
        return;
    }

    q = ngx_live_record_cluster_session_find(ctx->lmcf, &ctx->st.label,
                                             ngx_live_record_session_found,
                                             ctx);
    if (q == NULL) {
        return;
    }

    ctx->lookup = q;
    ctx->seg.hold = 1;

    ctx->lookup_ev.handler = ngx_live_record_session_late;
    ctx->lookup_ev.data = ctx;
    ctx->lookup_ev.log = ctx->s->connection->log;
    ctx->lookup_ev.cancelable = 1;

    ngx_add_timer(&ctx->lookup_ev, NGX_LIVE_RECORD_SESSION_LOOKUP_MS);
}


static void
ngx_live_record_session_found(void *data,
    ngx_live_record_cluster_session_t *row, const char *err)
{
    ngx_live_record_ctx_t  *ctx = data;

    ctx->lookup = NULL;

    if (ctx->lookup_ev.timer_set) {
        ngx_del_timer(&ctx->lookup_ev);
    }

    if (err) {
        ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                      "live record: \"%V\": the cluster database did not "
                      "say which session the stream is in (%s): session "
                      "%V, part %ui", &ctx->st.label, err, &ctx->st.session,
                      ctx->parts + 1);
        goto done;
    }

    if (row == NULL
        || (ctx->session_ms && row->stopped_ms <= ctx->session_ms)
        || (ngx_live_record_str_eq(&row->session, &ctx->st.session)
            && row->parts <= ctx->parts)
        || row->session.len > sizeof(ctx->session_id))
    {
        /* none, or this node's own end, which it knew */
        goto done;
    }

    if (!ctx->seg.hold) {
        /* too many frames came: the segmenter let the first part open */
        ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                      "live record: \"%V\": the cluster database's session "
                      "%V (node \"%V\", part %ui) came after the first part "
                      "opened: session %V goes on", &ctx->st.label,
                      &row->session, &row->node_id, row->parts,
                      &ctx->st.session);
        return;
    }

    ngx_memcpy(ctx->session_id, row->session.data, row->session.len);
    ctx->st.session.data = ctx->session_id;
    ctx->st.session.len = row->session.len;
    ctx->parts = row->parts;

    ngx_log_error(NGX_LOG_INFO, ctx->s->connection->log, 0,
                  "live record: \"%V\" joins session %V of node \"%V\" at "
                  "part %ui (an hls recording does not continue across "
                  "nodes)", &ctx->st.label, &ctx->st.session, &row->node_id,
                  ctx->parts + 1);

    /* GET /streams shows the session joined */

    ngx_live_record_recorder_delete(ctx->recorder);
    ctx->recorder = ngx_live_record_recorder_add(&ctx->st, ctx);
    ngx_live_record_recorder_update(ctx->recorder,
                                    ctx->plan ? &ctx->plan->json : NULL,
                                    NULL, NULL, ctx->formats);

done:

    ngx_live_record_stream_unhold(ctx);
}


static void
ngx_live_record_session_late(ngx_event_t *ev)
{
    ngx_live_record_ctx_t  *ctx = ev->data;

    ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                  "live record: \"%V\": the cluster database did not say "
                  "within %d ms which session the stream is in: session "
                  "%V, part %ui", &ctx->st.label,
                  NGX_LIVE_RECORD_SESSION_LOOKUP_MS, &ctx->st.session,
                  ctx->parts + 1);

    ngx_live_record_cluster_session_cancel(ctx->lmcf, ctx->lookup);
    ctx->lookup = NULL;

    ngx_live_record_stream_unhold(ctx);
}


/* the publish ends before the answer: what was held is recorded now */

void
ngx_live_record_session_unhold(ngx_live_record_ctx_t *ctx)
{
    if (ctx->lookup == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->s->connection->log, 0,
                  "live record: \"%V\" ended before the cluster database "
                  "said which session it is in: session %V, part %ui",
                  &ctx->st.label, &ctx->st.session, ctx->parts + 1);

    ngx_live_record_cluster_session_cancel(ctx->lmcf, ctx->lookup);
    ctx->lookup = NULL;

    if (ctx->lookup_ev.timer_set) {
        ngx_del_timer(&ctx->lookup_ev);
    }

    ngx_live_record_stream_unhold(ctx);
}


/* the publish ends: its session waits for a reconnect, here and there */

void
ngx_live_record_session_stop(ngx_live_record_ctx_t *ctx)
{
    ngx_pid_t  waiting;

    if (ctx->tpl == NULL || ctx->tpl->session_gap == 0 || ngx_exiting
        || ngx_terminate)
    {
        return;
    }

    waiting = (ngx_live_record_part_waiting(ctx->lmcf, &ctx->st.label, 0)
               || ngx_live_record_part_waiting(ctx->lmcf, &ctx->st.label, 1))
              ? ngx_pid : 0;

    ngx_live_record_session_keep(&ctx->st.label, &ctx->st.session,
                                 ctx->parts, waiting, ctx->tpl->session_gap);

    ngx_live_record_cluster_session_save(ctx->lmcf, &ctx->st.label,
                                         &ctx->st.session, ctx->parts,
                                         ngx_live_record_now_ms(),
                                         ctx->tpl->session_gap);
}
