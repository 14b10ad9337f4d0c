
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_cluster.h"
#include "ngx_http_live_record_files.h"


/* /tasks and /streams of the API */


static ngx_int_t ngx_http_live_record_task_create(ngx_http_request_t *r,
    cJSON *body);
static ngx_int_t ngx_http_live_record_task_parse(ngx_http_request_t *r,
    cJSON *body, ngx_live_record_task_t *t, ngx_int_t *rc);
static ngx_int_t ngx_http_live_record_task_name(ngx_http_request_t *r,
    cJSON *body, const char *field, ngx_uint_t required, ngx_str_t *dst,
    ngx_int_t *rc);
static ngx_int_t ngx_http_live_record_task_time(ngx_http_request_t *r,
    cJSON *body, const char *field, uint64_t *ms, ngx_int_t *rc);
static ngx_int_t ngx_http_live_record_task_list(ngx_http_request_t *r);
static ngx_int_t ngx_http_live_record_task_one(ngx_http_request_t *r,
    ngx_str_t *id, ngx_str_t *action);


/* a task API write in a cluster: the row first, then this node's zone */

typedef struct {
    ngx_http_request_t          *r;
    ngx_live_record_pg_t        *pg;
    ngx_live_record_pg_query_t  *query;
    cJSON                       *task;          /* a new one, saved form */
    ngx_str_t                    id;
    ngx_uint_t                   op;
} ngx_http_live_record_task_ctx_t;


static ngx_int_t ngx_http_live_record_task_write(ngx_http_request_t *r,
    ngx_str_t *id, ngx_live_record_task_t *t, ngx_uint_t op);
static void ngx_http_live_record_task_cleanup(void *data);
static ngx_int_t ngx_http_live_record_task_unavailable(ngx_http_request_t *r,
    const char *err);
static void ngx_http_live_record_task_replied(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err);
static ngx_int_t ngx_http_live_record_task_written(
    ngx_http_live_record_task_ctx_t *ctx, PGresult *res);
static ngx_int_t ngx_http_live_record_task_stopped(
    ngx_http_live_record_task_ctx_t *ctx, PGresult *res);
static ngx_int_t ngx_http_live_record_task_deleted(
    ngx_http_live_record_task_ctx_t *ctx, PGresult *res);
static ngx_int_t ngx_http_live_record_task_answer(ngx_http_request_t *r,
    ngx_str_t *id, ngx_uint_t status);
static ngx_int_t ngx_http_live_record_task_cluster(cJSON *o);


#define NGX_HTTP_LIVE_RECORD_TASK_CREATE  0
#define NGX_HTTP_LIVE_RECORD_TASK_STOP    1
#define NGX_HTTP_LIVE_RECORD_TASK_DELETE  2


static ngx_str_t  ngx_http_live_record_own = ngx_string("of the stream");


static const char  *ngx_http_live_record_task_fields[] = {
    "app", "stream", "domain", "start_time", "end_time", "template",
    "extension", NULL
};


static const char  *ngx_http_live_record_task_args[] = {
    "app", "stream", "from", "to", NULL
};


ngx_int_t
ngx_http_live_record_tasks(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body)
{
    u_char     *slash;
    ngx_str_t   id, action;

    if (rest->len == 0) {
        if (r->method == NGX_HTTP_POST) {
            return ngx_http_live_record_task_create(r, body);
        }

        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return ngx_http_live_record_task_list(r);
        }

        return ngx_http_live_record_not_allowed(r, "GET, HEAD, POST");
    }

    id = *rest;
    ngx_str_null(&action);

    slash = ngx_strlchr(rest->data, rest->data + rest->len, '/');

    if (slash) {
        id.len = slash - rest->data;
        action.data = slash + 1;
        action.len = rest->data + rest->len - action.data;
    }

    if (ngx_http_live_record_valid_id(&id) != NGX_OK) {
        return ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_id",
                                          "invalid task id");
    }

    /* null-terminated, for JSON */

    slash = ngx_pnalloc(r->pool, id.len + 1);
    if (slash == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cpystrn(slash, id.data, id.len + 1);
    id.data = slash;

    return ngx_http_live_record_task_one(r, &id, &action);
}


static ngx_int_t
ngx_http_live_record_task_create(ngx_http_request_t *r, cJSON *body)
{
    cJSON                        *o;
    ngx_int_t                     rc;
    ngx_str_t                     id;
    ngx_live_record_task_t        t;

    if (ngx_http_live_record_task_parse(r, body, &t, &rc) != NGX_OK) {
        return rc;
    }

    if (ngx_live_record_cluster_client(
            ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle)))
    {
        return ngx_http_live_record_task_write(r, NULL, &t,
                   NGX_HTTP_LIVE_RECORD_TASK_CREATE);
    }

    if (ngx_live_record_task_add((ngx_cycle_t *) ngx_cycle, &t, &id, r->pool)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "live record: task for \"%V/%V\" not created: the "
                      "live_record zone is full, increase "
                      "live_record_api_zone", &t.app, &t.stream);
        return ngx_http_live_record_error(r, NGX_HTTP_INSUFFICIENT_STORAGE,
                                          "zone_full",
                                          "no room for another task: "
                                          "increase live_record_api_zone");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "live record: task \"%V\" created for \"%V/%V\" from "
                  "%uL to %uL, template \"%V\"", &id, &t.app, &t.stream,
                  t.start_ms / 1000, t.end_ms / 1000,
                  t.tpl.len ? &t.tpl : &ngx_http_live_record_own);

    o = ngx_live_record_task_get((ngx_cycle_t *) ngx_cycle, &id);
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_send(r, NGX_HTTP_CREATED, o);
}


static ngx_int_t
ngx_http_live_record_task_parse(ngx_http_request_t *r, cJSON *body,
    ngx_live_record_task_t *t, ngx_int_t *rc)
{
    cJSON                        *item;
    const char                  **f;
    ngx_live_record_app_conf_t   *lacf;
    ngx_live_record_main_conf_t  *lmcf;

    ngx_memzero(t, sizeof(ngx_live_record_task_t));

    if (body == NULL) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_json",
                                         "the body must be a JSON object");
        return NGX_DECLINED;
    }

    cJSON_ArrayForEach(item, body) {
        for (f = ngx_http_live_record_task_fields; *f; f++) {
            if (ngx_strcmp(*f, item->string) == 0) {
                break;
            }
        }

        if (*f == NULL) {
            *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                             "unknown_field",
                                             "unknown field \"%*s\"",
                                             ngx_min(ngx_strlen(item->string),
                                                     64),
                                             item->string);
            return NGX_DECLINED;
        }
    }

    if (ngx_http_live_record_task_name(r, body, "app", 1, &t->app, rc)
           != NGX_OK
        || ngx_http_live_record_task_name(r, body, "stream", 1, &t->stream,
                                          rc) != NGX_OK
        || ngx_http_live_record_task_name(r, body, "domain", 0, &t->domain,
                                          rc) != NGX_OK
        || ngx_http_live_record_task_name(r, body, "template", 0, &t->tpl,
                                          rc) != NGX_OK
        || ngx_http_live_record_task_time(r, body, "start_time",
                                          &t->start_ms, rc) != NGX_OK
        || ngx_http_live_record_task_time(r, body, "end_time", &t->end_ms,
                                          rc) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_strlow(t->domain.data, t->domain.data, t->domain.len);

    t->created_ms = ngx_live_record_now_ms();

    if (t->start_ms == 0) {
        t->start_ms = t->created_ms;
    }

    if (t->end_ms == 0) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "\"end_time\" is required");
        return NGX_DECLINED;
    }

    if (t->end_ms <= t->start_ms
        || t->end_ms - t->start_ms > NGX_LIVE_RECORD_TASK_MAX_MS)
    {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_window",
                                         "\"end_time\" must be after "
                                         "\"start_time\" and at most 24 h "
                                         "later");
        return NGX_DECLINED;
    }

    if (t->end_ms <= t->created_ms) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_window",
                                         "\"end_time\" is in the past");
        return NGX_DECLINED;
    }

    if (t->start_ms > t->created_ms + NGX_LIVE_RECORD_TASK_AHEAD_MS) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_window",
                                         "\"start_time\" is more than 7 "
                                         "days ahead");
        return NGX_DECLINED;
    }

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    if (lmcf == NULL || lmcf->templates.nelts == 0) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "no_template",
                                         "no live_record_template is "
                                         "configured");
        return NGX_DECLINED;
    }

    lacf = ngx_live_record_rtmp_app_conf((ngx_cycle_t *) ngx_cycle, &t->app);

    if (lacf == NULL || !lacf->tasks_on) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "unknown_app",
                                         "no rtmp application \"%V\" where "
                                         "tasks record: see "
                                         "live_record_tasks", &t->app);
        return NGX_DECLINED;
    }

    if (t->tpl.len && ngx_live_record_template(lmcf, &t->tpl) == NULL) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "unknown_template",
                                         "no live_record_template \"%V\"",
                                         &t->tpl);
        return NGX_DECLINED;
    }

    item = cJSON_GetObjectItem(body, "extension");

    if (ngx_live_record_json_text(r->pool, item, &t->extension) != NGX_OK) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    if (t->extension.len > NGX_LIVE_RECORD_MAX_EXTENSION) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "\"extension\" is longer than %d "
                                         "bytes as JSON",
                                         NGX_LIVE_RECORD_MAX_EXTENSION);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_live_record_task_name(ngx_http_request_t *r, cJSON *body,
    const char *field, ngx_uint_t required, ngx_str_t *dst, ngx_int_t *rc)
{
    cJSON  *item;

    item = cJSON_GetObjectItem(body, field);

    if (item == NULL || cJSON_IsNull(item)) {
        if (!required) {
            return NGX_OK;
        }

        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "\"%s\" is required", field);
        return NGX_DECLINED;
    }

    if (!cJSON_IsString(item)) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "\"%s\" must be a string", field);
        return NGX_DECLINED;
    }

    dst->len = ngx_strlen(item->valuestring);
    dst->data = ngx_pnalloc(r->pool, dst->len + 1);

    if (dst->data == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    ngx_cpystrn(dst->data, (u_char *) item->valuestring, dst->len + 1);

    if (dst->len > 255 || ngx_http_live_record_valid_id(dst) != NGX_OK) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "\"%s\" must be 1 to 255 of "
                                         "A-Z a-z 0-9 . _ - and not start "
                                         "with a dot", field);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* unix seconds, fractions allowed; 0 when absent */

static ngx_int_t
ngx_http_live_record_task_time(ngx_http_request_t *r, cJSON *body,
    const char *field, uint64_t *ms, ngx_int_t *rc)
{
    cJSON   *item;
    double   v;

    *ms = 0;

    item = cJSON_GetObjectItem(body, field);

    if (item == NULL || cJSON_IsNull(item)) {
        return NGX_OK;
    }

    v = cJSON_GetNumberValue(item);

    if (!cJSON_IsNumber(item) || v < 1 || v > 1e11) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "\"%s\" must be unix seconds",
                                         field);
        return NGX_DECLINED;
    }

    *ms = (uint64_t) (v * 1000);

    return NGX_OK;
}


static ngx_int_t
ngx_http_live_record_task_list(ngx_http_request_t *r)
{
    cJSON                   *a, *o;
    uint64_t                 from, to;
    ngx_int_t                rc;
    ngx_live_record_task_t   filter;

    if (ngx_http_live_record_check_args(r, ngx_http_live_record_task_args,
                                        &rc)
        != NGX_OK)
    {
        return rc;
    }

    ngx_memzero(&filter, sizeof(ngx_live_record_task_t));

    if (ngx_http_live_record_arg(r, "app", &filter.app) == NGX_ERROR
        || ngx_http_live_record_arg(r, "stream", &filter.stream) == NGX_ERROR)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    from = 0;
    to = (uint64_t) -1;

    if (ngx_http_live_record_ms_arg(r, "from", NULL, &from, &rc) == NGX_ERROR
        || ngx_http_live_record_ms_arg(r, "to", NULL, &to, &rc) == NGX_ERROR)
    {
        return rc;
    }

    a = ngx_live_record_task_list((ngx_cycle_t *) ngx_cycle, &filter, from,
                                  to);
    o = cJSON_CreateObject();

    if (a == NULL || o == NULL) {
        cJSON_Delete(a);
        cJSON_Delete(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddItemToObject(o, "tasks", a);

    if (ngx_http_live_record_task_cluster(o) != NGX_OK) {
        cJSON_Delete(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
}


/*
 * In a cluster the tasks are read from this node's copy, which follows
 * the rows within about a second (NOTIFY) or 10 s (the periodic read):
 * the answer says whether the database is there and when the copy last
 * matched it.
 */

static ngx_int_t
ngx_http_live_record_task_cluster(cJSON *o)
{
    cJSON                        *c;
    uint64_t                      synced;
    ngx_live_record_pg_t         *pg;
    ngx_live_record_main_conf_t  *lmcf;

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);
    pg = ngx_live_record_cluster_client(lmcf);

    if (pg == NULL) {
        return NGX_OK;
    }

    synced = ngx_live_record_tasks_synced((ngx_cycle_t *) ngx_cycle);

    c = cJSON_AddObjectToObject(o, "cluster");

    if (c == NULL
        || ngx_live_record_json_set(c, "node", &lmcf->node_id) == NULL
        || cJSON_AddStringToObject(c, "database",
                                   ngx_live_record_pg_up(pg)
                                   ? "connected" : "unreachable")
           == NULL
        || (synced ? cJSON_AddNumberToObject(c, "synced_time", synced / 1000)
                   : cJSON_AddNullToObject(c, "synced_time"))
           == NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Create, stop or delete in a cluster: the row (and its NOTIFY to every
 * node) first; once the database has it, this node's zone at once, so
 * that the answer and this node's recorders see it.  Without the
 * database: 503, nothing changes anywhere.
 */

static ngx_int_t
ngx_http_live_record_task_write(ngx_http_request_t *r, ngx_str_t *id,
    ngx_live_record_task_t *t, ngx_uint_t op)
{
    ngx_pool_cleanup_t               *cln;
    ngx_live_record_main_conf_t      *lmcf;
    ngx_http_live_record_task_ctx_t  *ctx;

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_live_record_task_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->r = r;
    ctx->pg = ngx_live_record_cluster_client(lmcf);
    ctx->op = op;

    cln->handler = ngx_http_live_record_task_cleanup;
    cln->data = ctx;

    switch (op) {

    case NGX_HTTP_LIVE_RECORD_TASK_CREATE:
        if (ngx_live_record_task_new_id((ngx_cycle_t *) ngx_cycle,
                                        t->created_ms, &t->id, r->pool)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->id = t->id;
        ctx->task = ngx_live_record_task_saved(t);

        if (ctx->task == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->query = ngx_live_record_cluster_task_insert(lmcf, ctx->task,
                                  ngx_http_live_record_task_replied, ctx);
        break;

    case NGX_HTTP_LIVE_RECORD_TASK_STOP:
        ctx->id = *id;
        ctx->query = ngx_live_record_cluster_task_stop(lmcf, id,
                                  ngx_live_record_now_ms(),
                                  ngx_http_live_record_task_replied, ctx);
        break;

    default: /* NGX_HTTP_LIVE_RECORD_TASK_DELETE */
        ctx->id = *id;
        ctx->query = ngx_live_record_cluster_task_delete(lmcf, id,
                                  ngx_http_live_record_task_replied, ctx);
    }

    if (ctx->query == NULL) {
        return ngx_http_live_record_task_unavailable(r, NULL);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_live_record_task_cleanup(void *data)
{
    ngx_http_live_record_task_ctx_t *ctx = data;

    if (ctx->query) {
        ngx_live_record_pg_cancel(ctx->pg, ctx->query);
        ctx->query = NULL;
    }

    cJSON_Delete(ctx->task);
    ctx->task = NULL;
}


static ngx_int_t
ngx_http_live_record_task_unavailable(ngx_http_request_t *r, const char *err)
{
    if (err) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "live record: cluster task write failed: %s", err);
    }

    return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "cluster_unavailable",
                                      "the cluster database %s: tasks "
                                      "cannot be created, stopped or "
                                      "deleted until it is back; GET "
                                      "/tasks answers from this node's "
                                      "copy and known tasks go on "
                                      "recording",
                                      err ? "did not answer"
                                          : "is unreachable");
}


/* the query's end, for the three writes: the request is finished here */

static void
ngx_http_live_record_task_replied(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_task_ctx_t *ctx = pq->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->r;
    c = r->connection;
    ctx->query = NULL;

    ngx_http_set_log_request(c->log, r);

    if (res == NULL) {
        rc = ngx_http_live_record_task_unavailable(r, err);

    } else if (ctx->op == NGX_HTTP_LIVE_RECORD_TASK_CREATE) {
        rc = ngx_http_live_record_task_written(ctx, res);

    } else if (ctx->op == NGX_HTTP_LIVE_RECORD_TASK_STOP) {
        rc = ngx_http_live_record_task_stopped(ctx, res);

    } else {
        rc = ngx_http_live_record_task_deleted(ctx, res);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static ngx_int_t
ngx_http_live_record_task_written(ngx_http_live_record_task_ctx_t *ctx,
    PGresult *res)
{
    cJSON      *a;
    ngx_int_t   rc;

    if (PQntuples(res) != 1) {
        return ngx_http_live_record_task_unavailable(ctx->r,
                                                     "no row inserted");
    }

    a = cJSON_CreateArray();

    if (a == NULL || !cJSON_AddItemReferenceToArray(a, ctx->task)) {
        cJSON_Delete(a);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_live_record_tasks_mirror(a, 0, 0);
    cJSON_Delete(a);

    if (rc != NGX_OK) {
        /* the row is there: the other nodes have it, this one has not */
        return ngx_http_live_record_error(ctx->r,
                                          NGX_HTTP_INSUFFICIENT_STORAGE,
                                          "zone_full",
                                          "task \"%V\" is in the cluster "
                                          "but not on this node: increase "
                                          "live_record_api_zone", &ctx->id);
    }

    ngx_log_error(NGX_LOG_INFO, ctx->r->connection->log, 0,
                  "live record: task \"%V\" created in the cluster",
                  &ctx->id);

    return ngx_http_live_record_task_answer(ctx->r, &ctx->id,
                                            NGX_HTTP_CREATED);
}


static ngx_int_t
ngx_http_live_record_task_stopped(ngx_http_live_record_task_ctx_t *ctx,
    PGresult *res)
{
    cJSON  *a, *o;

    if (PQntuples(res) == 0) {
        /* gone from the cluster: from here too */
        (void) ngx_live_record_task_delete((ngx_cycle_t *) ngx_cycle,
                                           &ctx->id);
        return ngx_http_live_record_error(ctx->r, NGX_HTTP_NOT_FOUND,
                                          "not_found", "no task \"%V\"",
                                          &ctx->id);
    }

    o = ngx_live_record_cluster_task_row(res, 0);
    a = cJSON_CreateArray();

    if (o == NULL || a == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(a);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cJSON_AddItemToArray(a, o);
    (void) ngx_live_record_tasks_mirror(a, 0, 0);
    cJSON_Delete(a);

    ngx_log_error(NGX_LOG_INFO, ctx->r->connection->log, 0,
                  "live record: task \"%V\" stopped in the cluster",
                  &ctx->id);

    return ngx_http_live_record_task_answer(ctx->r, &ctx->id, NGX_HTTP_OK);
}


static ngx_int_t
ngx_http_live_record_task_deleted(ngx_http_live_record_task_ctx_t *ctx,
    PGresult *res)
{
    cJSON  *o;

    (void) ngx_live_record_task_delete((ngx_cycle_t *) ngx_cycle, &ctx->id);

    if (PQntuples(res) == 0) {
        return ngx_http_live_record_error(ctx->r, NGX_HTTP_NOT_FOUND,
                                          "not_found", "no task \"%V\"",
                                          &ctx->id);
    }

    ngx_log_error(NGX_LOG_INFO, ctx->r->connection->log, 0,
                  "live record: task \"%V\" deleted in the cluster",
                  &ctx->id);

    o = cJSON_CreateObject();

    if (o == NULL
        || ngx_live_record_json_set(o, "deleted", &ctx->id) == NULL)
    {
        cJSON_Delete(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_send(ctx->r, NGX_HTTP_OK, o);
}


static ngx_int_t
ngx_http_live_record_task_answer(ngx_http_request_t *r, ngx_str_t *id,
    ngx_uint_t status)
{
    cJSON  *o;

    o = ngx_live_record_task_get((ngx_cycle_t *) ngx_cycle, id);

    if (o == NULL) {
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "no task \"%V\"", id);
    }

    return ngx_http_live_record_send(r, status, o);
}


static ngx_int_t
ngx_http_live_record_task_one(ngx_http_request_t *r, ngx_str_t *id,
    ngx_str_t *action)
{
    cJSON       *o;
    ngx_int_t    rc;
    ngx_uint_t   cluster;

    cluster = ngx_live_record_cluster_client(
                  ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle))
              != NULL;

    if (action->len) {
        if (action->len != sizeof("stop") - 1
            || ngx_strncmp(action->data, "stop", action->len) != 0)
        {
            return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND,
                                              "not_found",
                                              "tasks have no \"%V\"",
                                              action);
        }

        if (r->method != NGX_HTTP_POST) {
            return ngx_http_live_record_not_allowed(r, "POST");
        }

        if (cluster) {
            return ngx_http_live_record_task_write(r, id, NULL,
                       NGX_HTTP_LIVE_RECORD_TASK_STOP);
        }

        rc = ngx_live_record_task_stop((ngx_cycle_t *) ngx_cycle, id);

        if (rc == NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "live record: task \"%V\" stopped", id);
        }

    } else if (r->method == NGX_HTTP_DELETE) {
        if (cluster) {
            return ngx_http_live_record_task_write(r, id, NULL,
                       NGX_HTTP_LIVE_RECORD_TASK_DELETE);
        }

        rc = ngx_live_record_task_delete((ngx_cycle_t *) ngx_cycle, id);

        if (rc == NGX_OK) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "live record: task \"%V\" deleted", id);

            o = cJSON_CreateObject();

            if (o == NULL
                || cJSON_AddStringToObject(o, "deleted", (char *) id->data)
                   == NULL)
            {
                cJSON_Delete(o);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
        }

    } else if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        rc = NGX_OK;

    } else {
        return ngx_http_live_record_not_allowed(r, "GET, HEAD, DELETE");
    }

    o = (rc == NGX_OK) ? ngx_live_record_task_get((ngx_cycle_t *) ngx_cycle,
                                                  id)
                       : NULL;

    if (o == NULL) {
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "no task \"%V\"", id);
    }

    return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
}


ngx_int_t
ngx_http_live_record_streams(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body)
{
    cJSON                 *a, *o;
    u_char                *slash;
    ngx_int_t              rc;
    ngx_str_t              app, stream;
    ngx_live_record_pg_t  *pg;

    static const char  *none[] = { NULL };

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_live_record_not_allowed(r, "GET, HEAD");
    }

    if (ngx_http_live_record_check_args(r, none, &rc) != NGX_OK) {
        return rc;
    }

    /* in a cluster, every node's */

    pg = ngx_live_record_cluster_client(
             ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle));

    if (rest->len == 0 && pg) {
        return ngx_http_live_record_rows_streams(r, pg, NULL, NULL);
    }

    if (rest->len == 0) {
        a = ngx_live_record_recorders((ngx_cycle_t *) ngx_cycle, NULL, NULL);
        o = cJSON_CreateObject();

        if (a == NULL || o == NULL) {
            cJSON_Delete(a);
            cJSON_Delete(o);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cJSON_AddItemToObject(o, "streams", a);

        return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
    }

    slash = ngx_strlchr(rest->data, rest->data + rest->len, '/');

    if (slash == NULL) {
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "use /streams/APP/STREAM");
    }

    app.data = rest->data;
    app.len = slash - rest->data;
    stream.data = slash + 1;
    stream.len = rest->data + rest->len - stream.data;

    if (ngx_http_live_record_valid_id(&app) != NGX_OK
        || ngx_http_live_record_valid_id(&stream) != NGX_OK)
    {
        return ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_id",
                                          "invalid application or stream "
                                          "name");
    }

    if (pg) {
        return ngx_http_live_record_rows_streams(r, pg, &app, &stream);
    }

    a = ngx_live_record_recorders((ngx_cycle_t *) ngx_cycle, &app, &stream);
    if (a == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    o = cJSON_DetachItemFromArray(a, 0);
    cJSON_Delete(a);

    if (o == NULL) {
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "\"%V/%V\" is not live here",
                                          &app, &stream);
    }

    return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
}


