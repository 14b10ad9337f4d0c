
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <cjson/cJSON.h>
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_shm.h"


/*
 * Record tasks in a cluster: rows of live_record_tasks, which every node
 * mirrors into its shared zone, where the recorders and the API find
 * them as without a cluster.  A write (the API's, on any node) changes
 * the row and sends a NOTIFY in the same statement; worker 0 of every
 * node LISTENs (on its client's connections, in their setup) and reads
 * all the rows again when one comes, when a connection is made (what
 * was sent while it was away is lost) and every 10 s, the safety net.
 */


#define NGX_LIVE_RECORD_CLUSTER_TASKS_SOON    20        /* ms, coalesced */
#define NGX_LIVE_RECORD_CLUSTER_TASKS_PERIOD  10000
#define NGX_LIVE_RECORD_CLUSTER_TASKS_KEEP    (7 * 24 * 3600 * 1000LL)
#define NGX_LIVE_RECORD_CLUSTER_TASKS_LISTEN  "LISTEN live_record_tasks;"


#define NGX_LIVE_RECORD_CLUSTER_TASK_COLUMNS                                  \
    "task_id, app, stream, domain, template, extension, start_time_ms,"      \
    " end_time_ms, created_time_ms, stopped_time_ms"


static const char  ngx_live_record_cluster_tasks_read_sql[] =
    "WITH gone AS (DELETE FROM live_record_tasks"
    " WHERE least(stopped_time_ms, end_time_ms) < $1::bigint)"
    " SELECT " NGX_LIVE_RECORD_CLUSTER_TASK_COLUMNS
    " FROM live_record_tasks"
    " WHERE least(stopped_time_ms, end_time_ms) >= $1::bigint"
    " ORDER BY created_time_ms, task_id";

static const char  ngx_live_record_cluster_tasks_insert_sql[] =
    "WITH t AS (INSERT INTO live_record_tasks (task_id, node_id, app,"
    " stream, domain, template, extension, start_time_ms, end_time_ms,"
    " created_time_ms)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::bigint, $9::bigint,"
    " $10::bigint) RETURNING task_id)"
    " SELECT task_id, pg_notify('live_record_tasks', task_id) FROM t";

static const char  ngx_live_record_cluster_tasks_stop_sql[] =
    "WITH t AS (UPDATE live_record_tasks"
    " SET stopped_time_ms = coalesce(stopped_time_ms, $2::bigint)"
    " WHERE task_id = $1 RETURNING " NGX_LIVE_RECORD_CLUSTER_TASK_COLUMNS ")"
    " SELECT " NGX_LIVE_RECORD_CLUSTER_TASK_COLUMNS ","
    " pg_notify('live_record_tasks', task_id) FROM t";

static const char  ngx_live_record_cluster_tasks_delete_sql[] =
    "WITH t AS (DELETE FROM live_record_tasks WHERE task_id = $1"
    " RETURNING task_id)"
    " SELECT task_id, pg_notify('live_record_tasks', task_id) FROM t";


static void ngx_live_record_cluster_tasks_notified(void *data,
    const char *channel, const char *extra);
static void ngx_live_record_cluster_tasks_soon(ngx_live_record_cluster_t *cl);
static void ngx_live_record_cluster_tasks_sync(ngx_event_t *ev);
static void ngx_live_record_cluster_tasks_read(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err);
static ngx_int_t ngx_live_record_cluster_tasks_ms(cJSON *o, const char *name,
    PGresult *res, int row, int col);


void
ngx_live_record_cluster_tasks(ngx_live_record_main_conf_t *lmcf,
    ngx_live_record_cluster_tasks_pt mirror)
{
    ngx_live_record_cluster_t  *cl;

    cl = lmcf->cluster;

    if (cl) {
        cl->tasks_mirror = mirror;
    }
}


/*
 * Worker 0, before its client connects: its connections LISTEN (before
 * the schema, whose version stays the setup's last result).
 */

ngx_int_t
ngx_live_record_cluster_tasks_init(ngx_cycle_t *cycle,
    ngx_live_record_cluster_t *cl)
{
    u_char  *p;
    size_t   len;

    if (cl->tasks_mirror == NULL || ngx_worker != 0) {
        return NGX_OK;
    }

    len = sizeof(NGX_LIVE_RECORD_CLUSTER_TASKS_LISTEN) - 1
          + ngx_strlen(cl->pg.setup_sql) + 1;

    p = ngx_pnalloc(cycle->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, NGX_LIVE_RECORD_CLUSTER_TASKS_LISTEN "%s%Z",
                cl->pg.setup_sql);

    cl->pg.setup_sql = (const char *) p;
    cl->pg.notify = ngx_live_record_cluster_tasks_notified;

    cl->tasks_sync.handler = ngx_live_record_cluster_tasks_sync;
    cl->tasks_sync.data = cl;
    cl->tasks_sync.log = cycle->log;
    cl->tasks_sync.cancelable = 1;

    cl->tasks_on = 1;

    return NGX_OK;
}


void
ngx_live_record_cluster_tasks_exit(ngx_live_record_cluster_t *cl)
{
    if (cl->tasks_sync.timer_set) {
        ngx_del_timer(&cl->tasks_sync);
    }

    if (cl->tasks_query && cl->client) {
        ngx_live_record_pg_cancel(cl->client, cl->tasks_query);
    }

    cl->tasks_query = NULL;
    cl->tasks_on = 0;
}


/* a new connection: notifications sent while none listened are lost */

void
ngx_live_record_cluster_tasks_connected(ngx_live_record_cluster_t *cl)
{
    if (cl->tasks_on) {
        ngx_live_record_cluster_tasks_soon(cl);
    }
}


static void
ngx_live_record_cluster_tasks_notified(void *data, const char *channel,
    const char *extra)
{
    ngx_live_record_cluster_t *cl = data;

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "live record: cluster notification on \"%s\": \"%s\"",
                   channel, extra);

    if (cl->tasks_on && ngx_strcmp(channel, "live_record_tasks") == 0) {
        ngx_live_record_cluster_tasks_soon(cl);
    }
}


/* a few changes at once are one read */

static void
ngx_live_record_cluster_tasks_soon(ngx_live_record_cluster_t *cl)
{
    ngx_event_t  *ev;

    if (cl->tasks_query) {
        cl->tasks_again = 1;
        return;
    }

    ev = &cl->tasks_sync;

    if (ev->timer_set
        && (ngx_msec_int_t) (ev->timer.key - ngx_current_msec)
           <= NGX_LIVE_RECORD_CLUSTER_TASKS_SOON)
    {
        return;
    }

    if (ev->timer_set) {
        ngx_del_timer(ev);
    }

    ngx_add_timer(ev, NGX_LIVE_RECORD_CLUSTER_TASKS_SOON);
}


static void
ngx_live_record_cluster_tasks_sync(ngx_event_t *ev)
{
    ngx_live_record_cluster_t *cl = ev->data;

    u_char                  keep[NGX_INT64_LEN];
    uint64_t                now;
    ngx_str_t               v;
    ngx_live_record_shm_t  *sh;

    if (cl->tasks_query || ngx_exiting || ngx_terminate) {
        return;
    }

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL);
    if (sh == NULL) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_CLUSTER_TASKS_PERIOD);
        return;
    }

    /* a write this node applies meanwhile makes the rows read stale */

    cl->tasks_gen = sh->generation;
    cl->tasks_again = 0;

    now = ngx_live_record_now_ms();

    v.data = keep;
    v.len = ngx_sprintf(keep, "%uL",
                        now > (uint64_t) NGX_LIVE_RECORD_CLUSTER_TASKS_KEEP
                        ? now - NGX_LIVE_RECORD_CLUSTER_TASKS_KEEP : 0)
            - keep;

    cl->tasks_query = ngx_live_record_pg_query(cl->client,
                                     ngx_live_record_cluster_tasks_read_sql,
                                     1, &v,
                                     ngx_live_record_cluster_tasks_read, cl,
                                     0);

    if (cl->tasks_query == NULL) {
        /* the database is away: what this node knows records meanwhile */
        ngx_add_timer(ev, NGX_LIVE_RECORD_CLUSTER_TASKS_PERIOD);
    }
}


static void
ngx_live_record_cluster_tasks_read(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err)
{
    ngx_live_record_cluster_t *cl = q->data;

    int         i, n;
    cJSON      *a, *o;
    ngx_int_t   rc;
    ngx_uint_t  bad;

    cl->tasks_query = NULL;
    rc = NGX_ERROR;
    a = NULL;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: cluster tasks not read: %s", err);
        goto next;
    }

    a = cJSON_CreateArray();
    if (a == NULL) {
        goto next;
    }

    n = PQntuples(res);
    bad = 0;

    for (i = 0; i < n; i++) {
        o = ngx_live_record_cluster_task_row(res, i);

        if (o == NULL) {
            bad++;
            continue;
        }

        cJSON_AddItemToArray(a, o);
    }

    if (bad) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: %ui row(s) of live_record_tasks are "
                      "not valid tasks, left out", bad);
    }

    rc = cl->tasks_mirror(a, 1, cl->tasks_gen);

next:

    cJSON_Delete(a);

    if (cl->tasks_sync.timer_set) {
        ngx_del_timer(&cl->tasks_sync);
    }

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    if (rc == NGX_AGAIN || cl->tasks_again) {
        ngx_add_timer(&cl->tasks_sync, NGX_LIVE_RECORD_CLUSTER_TASKS_SOON);
        return;
    }

    ngx_add_timer(&cl->tasks_sync, NGX_LIVE_RECORD_CLUSTER_TASKS_PERIOD);
}


/*
 * A row of NGX_LIVE_RECORD_CLUSTER_TASK_COLUMNS as tasks.json holds a
 * task; read as hostile (the database is shared): the names are checked
 * by the mirror, here the types; NULL for a row that is not a task.
 */

cJSON *
ngx_live_record_cluster_task_row(PGresult *res, int row)
{
    int          i;
    cJSON       *o, *ext;
    const char  *names[4] = { "task_id", "app", "stream", "domain" };

    if (PQnfields(res) < 10) {
        return NULL;
    }

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    for (i = 0; i < 4; i++) {
        if (PQgetisnull(res, row, i)
            || cJSON_AddStringToObject(o, names[i], PQgetvalue(res, row, i))
               == NULL)
        {
            goto invalid;
        }
    }

    if ((PQgetisnull(res, row, 4)
         ? cJSON_AddNullToObject(o, "template")
         : cJSON_AddStringToObject(o, "template", PQgetvalue(res, row, 4)))
        == NULL)
    {
        goto invalid;
    }

    if (PQgetisnull(res, row, 5)) {
        ext = cJSON_CreateNull();

    } else {
        ext = cJSON_ParseWithLength(PQgetvalue(res, row, 5),
                                    PQgetlength(res, row, 5));
    }

    if (ext == NULL || !cJSON_AddItemToObject(o, "extension", ext)) {
        cJSON_Delete(ext);
        goto invalid;
    }

    if (ngx_live_record_cluster_tasks_ms(o, "start_time_ms", res, row, 6)
           != NGX_OK
        || ngx_live_record_cluster_tasks_ms(o, "end_time_ms", res, row, 7)
           != NGX_OK
        || ngx_live_record_cluster_tasks_ms(o, "created_time_ms", res, row, 8)
           != NGX_OK
        || ngx_live_record_cluster_tasks_ms(o, "stopped_time_ms", res, row, 9)
           != NGX_OK)
    {
        goto invalid;
    }

    return o;

invalid:

    cJSON_Delete(o);

    return NULL;
}


/* SQL NULL is 0, as tasks.json says "not stopped" */

static ngx_int_t
ngx_live_record_cluster_tasks_ms(cJSON *o, const char *name, PGresult *res,
    int row, int col)
{
    char       *v;
    ngx_int_t   n;

    n = 0;

    if (!PQgetisnull(res, row, col)) {
        v = PQgetvalue(res, row, col);
        n = ngx_atoi((u_char *) v, ngx_strlen(v));

        if (n < 0 || n > 100000000000000LL) {
            return NGX_ERROR;
        }
    }

    return cJSON_AddNumberToObject(o, name, (double) n) ? NGX_OK : NGX_ERROR;
}


/* the API's writes, on any node: the row, then its NOTIFY, in one */

ngx_live_record_pg_query_t *
ngx_live_record_cluster_task_insert(ngx_live_record_main_conf_t *lmcf,
    cJSON *task, ngx_live_record_pg_done_pt done, void *data)
{
    u_char                       ms[3][NGX_INT64_LEN];
    char                        *ext;
    cJSON                       *f;
    ngx_str_t                    v[10];
    ngx_uint_t                   i;
    ngx_live_record_pg_t        *pg;
    ngx_live_record_pg_query_t  *q;
    const char                  *strs[4] = { "task_id", "app", "stream",
                                             "domain" };
    static const ngx_uint_t      to[4] = { 0, 2, 3, 4 };
    const char                  *times[3] = { "start_time_ms",
                                              "end_time_ms",
                                              "created_time_ms" };

    pg = ngx_live_record_cluster_client(lmcf);
    if (pg == NULL) {
        return NULL;
    }

    for (i = 0; i < 4; i++) {
        f = cJSON_GetObjectItemCaseSensitive(task, strs[i]);

        if (!cJSON_IsString(f)) {
            return NULL;
        }

        v[to[i]].data = (u_char *) f->valuestring;
        v[to[i]].len = ngx_strlen(f->valuestring);
    }

    v[1] = lmcf->node_id;

    f = cJSON_GetObjectItemCaseSensitive(task, "template");
    v[5].data = cJSON_IsString(f) ? (u_char *) f->valuestring : NULL;
    v[5].len = v[5].data ? ngx_strlen(v[5].data) : 0;

    f = cJSON_GetObjectItemCaseSensitive(task, "extension");
    ext = (f && !cJSON_IsNull(f)) ? cJSON_PrintUnformatted(f) : NULL;
    v[6].data = (u_char *) ext;
    v[6].len = ext ? ngx_strlen(ext) : 0;

    for (i = 0; i < 3; i++) {
        f = cJSON_GetObjectItemCaseSensitive(task, times[i]);

        if (!cJSON_IsNumber(f) || f->valuedouble < 0) {
            cJSON_free(ext);
            return NULL;
        }

        v[7 + i].data = ms[i];
        v[7 + i].len = ngx_sprintf(ms[i], "%uL", (uint64_t) f->valuedouble)
                       - ms[i];
    }

    /* the values are copied: ext may go */

    q = ngx_live_record_pg_query(pg, ngx_live_record_cluster_tasks_insert_sql,
                                 10, v, done, data, 0);
    cJSON_free(ext);

    return q;
}


ngx_live_record_pg_query_t *
ngx_live_record_cluster_task_stop(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *id, uint64_t now_ms, ngx_live_record_pg_done_pt done,
    void *data)
{
    u_char                 ms[NGX_INT64_LEN];
    ngx_str_t              v[2];
    ngx_live_record_pg_t  *pg;

    pg = ngx_live_record_cluster_client(lmcf);
    if (pg == NULL) {
        return NULL;
    }

    v[0] = *id;
    v[1].data = ms;
    v[1].len = ngx_sprintf(ms, "%uL", now_ms) - ms;

    return ngx_live_record_pg_query(pg,
                                    ngx_live_record_cluster_tasks_stop_sql,
                                    2, v, done, data, 0);
}


ngx_live_record_pg_query_t *
ngx_live_record_cluster_task_delete(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *id, ngx_live_record_pg_done_pt done, void *data)
{
    ngx_live_record_pg_t  *pg;

    pg = ngx_live_record_cluster_client(lmcf);
    if (pg == NULL) {
        return NULL;
    }

    return ngx_live_record_pg_query(pg,
                                    ngx_live_record_cluster_tasks_delete_sql,
                                    1, id, done, data, 0);
}
