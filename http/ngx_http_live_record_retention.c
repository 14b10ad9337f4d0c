
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"
#include "ngx_http_live_record_index.h"
#include "ngx_http_live_record_files.h"
#include "ngx_http_live_record_jobs.h"
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_tasks.h"


/*
 * live_record_keep: files expire keep seconds after their end, by the
 * template their index entry names.  Worker 0 alone scans the index, so
 * no two workers delete the same file; the scan and the local deletes
 * run in the thread pool, and each expired file goes the way of
 * DELETE /files/ID (ngx_http_live_record_files_expire), one at a time.
 * A round starts a tick after the last one ended.
 *
 * In a cluster the rows are the index: worker 0 of every node selects
 * the expired rows it may delete (its own node's, and any node's in a
 * shared store), and claims each with DELETE ... RETURNING before it
 * deletes the file, so that of two nodes only one deletes it and sends
 * record_deleted.  A file that cannot be deleted gets its row back.
 * Without the database a round is tried again next tick.
 */


#define NGX_HTTP_LIVE_RECORD_KEEP_TICK_MIN   1000
#define NGX_HTTP_LIVE_RECORD_KEEP_TICK_MAX   60000
#define NGX_HTTP_LIVE_RECORD_KEEP_ROUND      256     /* files at most */
#define NGX_HTTP_LIVE_RECORD_KEEP_ROUND_S    "256"


typedef struct {
    ngx_event_t                    timer;
    ngx_event_t                    step;
    ngx_pool_t                    *pool;            /* of a round */
    ngx_array_t                    expired;         /* one */
    ngx_uint_t                     next;
    ngx_uint_t                     deleted;
    ngx_msec_t                     tick;
    uint64_t                       now_ms;
    uint64_t                       min_keep_ms;
    ngx_live_record_main_conf_t   *lmcf;

    /* a cluster's */
    ngx_live_record_pg_t          *pg;
    ngx_live_record_pg_query_t    *query;
    ngx_str_t                      back[11];        /* a claimed row */
} ngx_http_live_record_retention_t;


/* expired when end + keep < now: the shortest keep picks, C decides */

static const char  ngx_http_live_record_retention_sql[] =
    "SELECT file_id, entry, node_id, store_type, app, stream_id"
    " FROM live_record_files"
    " WHERE end_time_ms < $1::bigint"
    " AND (node_id = $2 OR store_type <> 'local')"
    " ORDER BY end_time_ms, file_id LIMIT "
    NGX_HTTP_LIVE_RECORD_KEEP_ROUND_S;

static const char  ngx_http_live_record_retention_claim_sql[] =
    "DELETE FROM live_record_files WHERE file_id = $1"
    " RETURNING file_id, node_id, app, stream_id, session_id, file_format,"
    " start_time_ms, end_time_ms, store, store_type, entry";

static const char  ngx_http_live_record_retention_back_sql[] =
    "INSERT INTO live_record_files (file_id, node_id, app, stream_id,"
    " session_id, file_format, start_time_ms, end_time_ms, store,"
    " store_type, entry)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, $8::bigint, $9, $10, $11)"
    " ON CONFLICT (file_id) DO NOTHING";


static void ngx_http_live_record_retention_round(ngx_event_t *ev);
static void ngx_http_live_record_retention_scan(
    ngx_http_live_record_thread_t *t, ngx_log_t *log);
static ngx_int_t ngx_http_live_record_retention_entry(
    ngx_http_live_record_retention_t *rt, ngx_pool_t *pool,
    ngx_http_live_record_dir_t *dir, ngx_http_live_record_cand_t *c,
    ngx_log_t *log);
static void ngx_http_live_record_retention_scanned(
    ngx_http_live_record_thread_t *t);
static void ngx_http_live_record_retention_step(ngx_event_t *ev);
static void ngx_http_live_record_retention_expired(
    ngx_http_live_record_one_t *one, ngx_int_t rc);
static void ngx_http_live_record_retention_end(
    ngx_http_live_record_retention_t *rt);
static void ngx_http_live_record_retention_json_free(void *data);
static ngx_uint_t ngx_http_live_record_retention_due(
    ngx_http_live_record_retention_t *rt, cJSON *json);
static void ngx_http_live_record_retention_rows(
    ngx_http_live_record_retention_t *rt);
static void ngx_http_live_record_retention_selected(
    ngx_live_record_pg_query_t *pq, PGresult *res, const char *err);
static void ngx_http_live_record_retention_claimed(
    ngx_live_record_pg_query_t *pq, PGresult *res, const char *err);
static void ngx_http_live_record_retention_back(
    ngx_http_live_record_retention_t *rt, ngx_http_live_record_one_t *one);
static void ngx_http_live_record_retention_put(
    ngx_live_record_pg_query_t *pq, PGresult *res, const char *err);


static ngx_http_live_record_retention_t  ngx_http_live_record_retention;


ngx_int_t
ngx_http_live_record_retention_init(ngx_cycle_t *cycle)
{
    time_t                            keep;
    ngx_uint_t                        i;
    ngx_live_record_template_t      **tpl;
    ngx_live_record_main_conf_t      *lmcf;
    ngx_http_live_record_retention_t *rt;

    if (!(ngx_process == NGX_PROCESS_SINGLE
          || (ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0)))
    {
        return NGX_OK;
    }

    lmcf = ngx_live_record_rtmp_main_conf(cycle);

    if (lmcf == NULL || lmcf->stores.nelts == 0) {
        return NGX_OK;
    }

    keep = 0;
    tpl = lmcf->templates.elts;

    for (i = 0; i < lmcf->templates.nelts; i++) {
        if (tpl[i]->keep && (keep == 0 || tpl[i]->keep < keep)) {
            keep = tpl[i]->keep;
        }
    }

    if (keep == 0) {
        return NGX_OK;
    }

    rt = &ngx_http_live_record_retention;
    ngx_memzero(rt, sizeof(ngx_http_live_record_retention_t));

    rt->pg = ngx_live_record_cluster_client(lmcf);

    rt->lmcf = lmcf;
    rt->min_keep_ms = (uint64_t) keep * 1000;

    /* a quarter of the shortest keep: a file outlives it by that at most */

    rt->tick = (ngx_msec_t) ngx_min(rt->min_keep_ms / 4,
                                    NGX_HTTP_LIVE_RECORD_KEEP_TICK_MAX);
    rt->tick = ngx_max(rt->tick, NGX_HTTP_LIVE_RECORD_KEEP_TICK_MIN);

    rt->timer.handler = ngx_http_live_record_retention_round;
    rt->timer.data = rt;
    rt->timer.log = cycle->log;
    rt->timer.cancelable = 1;

    rt->step.handler = ngx_http_live_record_retention_step;
    rt->step.data = rt;
    rt->step.log = cycle->log;

    ngx_add_timer(&rt->timer, rt->tick);

    return NGX_OK;
}


static void
ngx_http_live_record_retention_round(ngx_event_t *ev)
{
    ngx_http_live_record_retention_t *rt = ev->data;

    ngx_http_live_record_thread_t  *t;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    rt->pool = ngx_create_pool(4096, ev->log);
    if (rt->pool == NULL) {
        ngx_add_timer(&rt->timer, rt->tick);
        return;
    }

    if (ngx_array_init(&rt->expired, rt->pool, 16,
                       sizeof(ngx_http_live_record_one_t))
        != NGX_OK)
    {
        ngx_http_live_record_retention_end(rt);
        return;
    }

    ngx_time_update();
    rt->now_ms = (uint64_t) ngx_time() * 1000;
    rt->next = 0;
    rt->deleted = 0;

    if (rt->pg) {
        ngx_http_live_record_retention_rows(rt);
        return;
    }

    t = ngx_http_live_record_thread(NULL, rt->pool,
                                    ngx_http_live_record_retention_scan,
                                    ngx_http_live_record_retention_scanned,
                                    rt);

    if (t == NULL || ngx_http_live_record_thread_post(t, NULL) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "live record: no thread pool took the index scan "
                      "for live_record_keep, trying again in %Mms",
                      rt->tick);
        ngx_http_live_record_retention_end(rt);
    }
}


/* in a thread: the entries whose end + keep has passed */

static void
ngx_http_live_record_retention_scan(ngx_http_live_record_thread_t *t,
    ngx_log_t *log)
{
    ngx_http_live_record_retention_t *rt = t->data;

    ngx_str_t                     none;
    ngx_uint_t                    i, j;
    ngx_array_t                   dirs, cands;
    ngx_http_live_record_dir_t   *d;
    ngx_http_live_record_cand_t  *c;

    ngx_str_null(&none);

    if (ngx_array_init(&dirs, t->pool, 16, sizeof(ngx_http_live_record_dir_t))
        != NGX_OK
        || ngx_http_live_record_index_dirs(t->pool, &rt->lmcf->index, &none,
                                           &none, &dirs, log)
           != NGX_OK)
    {
        return;
    }

    d = dirs.elts;

    for (i = 0; i < dirs.nelts; i++) {

        if (ngx_array_init(&cands, t->pool, 64,
                           sizeof(ngx_http_live_record_cand_t))
            != NGX_OK
            || ngx_http_live_record_index_ids(t->pool, &d[i], &cands, log)
               != NGX_OK)
        {
            return;
        }

        c = cands.elts;

        for (j = 0; j < cands.nelts; j++) {

            /* a file ends after it starts: younger ids cannot be due */

            if (c[j].start_ms + rt->min_keep_ms > rt->now_ms) {
                continue;
            }

            if (ngx_http_live_record_retention_entry(rt, t->pool, &d[i],
                                                     &c[j], log)
                != NGX_OK)
            {
                return;
            }

            if (rt->expired.nelts == NGX_HTTP_LIVE_RECORD_KEEP_ROUND) {
                return;
            }
        }
    }
}


/* in a thread: NGX_ERROR stops the scan */

static ngx_int_t
ngx_http_live_record_retention_entry(ngx_http_live_record_retention_t *rt,
    ngx_pool_t *pool, ngx_http_live_record_dir_t *dir,
    ngx_http_live_record_cand_t *c, ngx_log_t *log)
{
    u_char                       *path;
    cJSON                        *json;
    ngx_pool_cleanup_t           *cln;
    ngx_http_live_record_one_t   *one;

    path = ngx_http_live_record_entry_path(pool, dir, &c->id);
    cln = ngx_pool_cleanup_add(pool, 0);

    if (path == NULL || cln == NULL) {
        return NGX_ERROR;
    }

    json = ngx_http_live_record_read_entry(path, log);

    if (json == NULL) {
        /* logged; an entry being rewritten is read next round */
        return NGX_OK;
    }

    cln->handler = ngx_http_live_record_retention_json_free;
    cln->data = json;

    if (!ngx_http_live_record_retention_due(rt, json)) {
        return NGX_OK;
    }

    one = ngx_array_push(&rt->expired);
    if (one == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(one, sizeof(ngx_http_live_record_one_t));

    one->index = rt->lmcf->index;
    one->id = c->id;
    one->entry.id = c->id;
    one->entry.app = dir->app;
    one->entry.stream = dir->stream;
    one->entry.file = path;
    one->entry.start_ms = c->start_ms;
    one->entry.json = json;

    return NGX_OK;
}


/* its template's keep has passed since its end */

static ngx_uint_t
ngx_http_live_record_retention_due(ngx_http_live_record_retention_t *rt,
    cJSON *json)
{
    cJSON                        *end;
    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_live_record_template_t  **tpl, *keep;

    end = cJSON_GetObjectItemCaseSensitive(json, "end_time_ms");

    if (ngx_http_live_record_entry_str(json, "template", &name) != NGX_OK
        || !cJSON_IsNumber(end))
    {
        return 0;
    }

    /* a template no longer configured keeps its files */

    keep = NULL;
    tpl = rt->lmcf->templates.elts;

    for (i = 0; i < rt->lmcf->templates.nelts; i++) {
        if (tpl[i]->name.len == name.len
            && ngx_strncmp(tpl[i]->name.data, name.data, name.len) == 0)
        {
            keep = tpl[i];
            break;
        }
    }

    if (keep == NULL || keep->keep == 0
        || end->valuedouble < 0
        || (uint64_t) end->valuedouble + (uint64_t) keep->keep * 1000
           > rt->now_ms)
    {
        return 0;
    }

    return 1;
}


static void
ngx_http_live_record_retention_scanned(ngx_http_live_record_thread_t *t)
{
    ngx_http_live_record_retention_step(&ngx_http_live_record_retention.step);
}


/* the next expired file, once the one before is done */

static void
ngx_http_live_record_retention_step(ngx_event_t *ev)
{
    ngx_http_live_record_retention_t *rt = ev->data;

    ngx_http_live_record_one_t  *one;

    while (rt->next < rt->expired.nelts) {
        one = (ngx_http_live_record_one_t *) rt->expired.elts + rt->next++;

        one->log = ev->log;
        one->tpool = rt->pool;
        one->expired = ngx_http_live_record_retention_expired;
        one->data = rt;

        if (rt->pg) {
            if (ngx_live_record_recording((ngx_cycle_t *) ngx_cycle,
                                          &one->id)
                || ngx_http_live_record_concat_uses((ngx_cycle_t *) ngx_cycle,
                                                    &one->id))
            {
                continue;
            }

            /* the row first: whoever deletes it deletes the file */

            rt->query = ngx_live_record_pg_query(rt->pg,
                            ngx_http_live_record_retention_claim_sql, 1,
                            &one->id, ngx_http_live_record_retention_claimed,
                            one, 0);
            if (rt->query) {
                return;
            }

            /* the database is away: next round */
            break;
        }

        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "live record: \"%V/%V\" %V expired, deleting it",
                      &one->entry.app, &one->entry.stream, &one->id);

        if (ngx_http_live_record_files_expire(one) == NGX_OK) {
            return;
        }

        /* being recorded or read: the next round sees it again */
    }

    if (rt->deleted) {
        ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                      "live record: live_record_keep: %ui of %ui expired "
                      "files deleted", rt->deleted, rt->expired.nelts);
    }

    ngx_http_live_record_retention_end(rt);
}


static void
ngx_http_live_record_retention_expired(ngx_http_live_record_one_t *one,
    ngx_int_t rc)
{
    ngx_http_live_record_retention_t *rt = one->data;

    if (rc == NGX_OK) {
        rt->deleted++;

    } else if (rt->pg) {
        ngx_http_live_record_retention_back(rt, one);
    }

    /* not from inside the delete that called us: it may still unwind */

    ngx_post_event(&rt->step, &ngx_posted_events);
}


static void
ngx_http_live_record_retention_end(ngx_http_live_record_retention_t *rt)
{
    if (rt->pool) {
        ngx_destroy_pool(rt->pool);
        rt->pool = NULL;
    }

    if (!ngx_exiting && !ngx_terminate && !ngx_quit) {
        ngx_add_timer(&rt->timer, rt->tick);
    }
}


static void
ngx_http_live_record_retention_json_free(void *data)
{
    cJSON_Delete(data);
}


/* a cluster's round: the expired rows this node may delete */

static void
ngx_http_live_record_retention_rows(ngx_http_live_record_retention_t *rt)
{
    u_char     before[NGX_INT64_LEN];
    ngx_str_t  v[2];

    v[0].data = before;
    v[0].len = ngx_sprintf(before, "%uL", rt->now_ms - rt->min_keep_ms)
               - before;
    v[1] = rt->lmcf->node_id;

    rt->query = ngx_live_record_pg_query(rt->pg,
                                         ngx_http_live_record_retention_sql,
                                         2, v,
                                         ngx_http_live_record_retention_selected,
                                         rt, 0);
    if (rt->query == NULL) {
        /* the database is away, said once by the client: next tick */
        ngx_http_live_record_retention_end(rt);
    }
}


static void
ngx_http_live_record_retention_selected(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_retention_t *rt = pq->data;

    int                          i, n;
    ngx_pool_cleanup_t          *cln;
    ngx_http_live_record_one_t  *one;

    rt->query = NULL;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_INFO, rt->timer.log, 0,
                      "live record: live_record_keep: the expired rows "
                      "could not be read (%s), trying again in %Mms", err,
                      rt->tick);
        ngx_http_live_record_retention_end(rt);
        return;
    }

    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        one = ngx_array_push(&rt->expired);
        cln = ngx_pool_cleanup_add(rt->pool, 0);

        if (one == NULL || cln == NULL) {
            break;
        }

        ngx_memzero(one, sizeof(ngx_http_live_record_one_t));
        one->index = rt->lmcf->index;

        if (ngx_http_live_record_rows_one(rt->pool, rt->timer.log, res, i,
                                          one)
            != NGX_OK
            || !ngx_http_live_record_retention_due(rt, one->entry.json))
        {
            cJSON_Delete(one->entry.json);
            rt->expired.nelts--;
            continue;
        }

        cln->handler = ngx_http_live_record_retention_json_free;
        cln->data = one->entry.json;
    }

    ngx_http_live_record_retention_step(&rt->step);
}


static void
ngx_http_live_record_retention_claimed(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_one_t *one = pq->data;

    int                                i;
    ngx_http_live_record_retention_t  *rt;

    rt = &ngx_http_live_record_retention;
    rt->query = NULL;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_INFO, rt->timer.log, 0,
                      "live record: live_record_keep: %V could not be "
                      "claimed (%s), trying again in %Mms", &one->id, err,
                      rt->tick);
        rt->next = rt->expired.nelts;
        ngx_http_live_record_retention_step(&rt->step);
        return;
    }

    if (PQntuples(res) != 1 || PQnfields(res) != 11) {
        /* another node claimed it first */
        ngx_log_error(NGX_LOG_INFO, rt->timer.log, 0,
                      "live record: live_record_keep: %V is deleted by "
                      "another node", &one->id);
        ngx_post_event(&rt->step, &ngx_posted_events);
        return;
    }

    /* the row as it was, to put back if the file stays */

    for (i = 0; i < 11; i++) {
        rt->back[i].len = PQgetlength(res, 0, i);
        rt->back[i].data = ngx_pnalloc(rt->pool, rt->back[i].len + 1);

        if (rt->back[i].data == NULL) {
            rt->back[0].data = NULL;
            break;
        }

        ngx_memcpy(rt->back[i].data, PQgetvalue(res, 0, i), rt->back[i].len);
    }

    one->row = 0;
    one->log = rt->timer.log;
    one->tpool = rt->pool;
    one->expired = ngx_http_live_record_retention_expired;
    one->data = rt;

    ngx_log_error(NGX_LOG_INFO, one->log, 0,
                  "live record: \"%V/%V\" %V expired, deleting it (its row "
                  "is claimed)", &one->entry.app, &one->entry.stream,
                  &one->id);

    if (ngx_http_live_record_files_expire(one) != NGX_OK) {
        ngx_http_live_record_retention_back(rt, one);
        ngx_post_event(&rt->step, &ngx_posted_events);
    }
}


/* the file stays: so does its row, written when the database takes it */

static void
ngx_http_live_record_retention_back(ngx_http_live_record_retention_t *rt,
    ngx_http_live_record_one_t *one)
{
    if (rt->back[0].data == NULL
        || ngx_live_record_pg_query(rt->pg,
                                    ngx_http_live_record_retention_back_sql,
                                    11, rt->back,
                                    ngx_http_live_record_retention_put,
                                    NULL, 1)
           == NULL)
    {
        ngx_log_error(NGX_LOG_ALERT, one->log, 0,
                      "live record: live_record_keep: the row of %V, whose "
                      "file was not deleted, could not be put back",
                      &one->id);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, one->log, 0,
                  "live record: live_record_keep: %V was not deleted, its "
                  "row goes back", &one->id);
}


static void
ngx_http_live_record_retention_put(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    if (res == NULL) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "live record: live_record_keep: a row could not be "
                      "put back: %s", err);
    }
}
