
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_session.h"


static void ngx_live_record_memo_free(ngx_slab_pool_t *shpool,
    ngx_live_record_memo_t *m);
static void ngx_live_record_memo_str_free(ngx_slab_pool_t *shpool,
    ngx_str_t *s);


ngx_int_t
ngx_live_record_session_join(ngx_str_t *label, ngx_str_t *session,
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
            session->len = m->session.len;
            ngx_memcpy(session->data, m->session.data, m->session.len);
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
    ngx_msec_t gap)
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

    m->expire_ms = ngx_live_record_now_ms() + gap;
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
