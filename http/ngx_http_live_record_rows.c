
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"
#include "ngx_http_live_record_files.h"
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_json.h"


/*
 * /files in a cluster: the rows of live_record_files are the index of
 * every node.  A row is read as if hostile (the database is shared): its
 * id and names must be plain, its entry a JSON object naming the same
 * file; a row that is not is left out with a log line.  Without the
 * database these answer 503.
 */


#define NGX_HTTP_LIVE_RECORD_ROW_ID_MAX  200
#define NGX_HTTP_LIVE_RECORD_ROWS_PICK_MAX  "1000"


typedef struct {
    ngx_http_request_t             *r;
    ngx_live_record_pg_t           *pg;
    ngx_live_record_pg_query_t     *query;
    void                           *data;
    ngx_http_live_record_thread_done_pt  found;
    ngx_http_live_record_rows_done_pt    deleted;
} ngx_http_live_record_rows_ctx_t;


static ngx_http_live_record_rows_ctx_t *ngx_http_live_record_rows_ctx(
    ngx_http_request_t *r, ngx_live_record_pg_t *pg, void *data);
static void ngx_http_live_record_rows_cleanup(void *data);
static ngx_int_t ngx_http_live_record_rows_unavailable(ngx_http_request_t *r,
    const char *err);
static void ngx_http_live_record_rows_answer(
    ngx_http_live_record_rows_ctx_t *ctx, void *data);
static void ngx_http_live_record_rows_listed(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err);
static cJSON *ngx_http_live_record_rows_entry(ngx_log_t *log, PGresult *res,
    int row, ngx_str_t *id);
static ngx_int_t ngx_http_live_record_rows_query(ngx_http_request_t *r,
    ngx_http_live_record_rows_ctx_t *ctx, ngx_array_t *ids,
    ngx_str_t *session, ngx_str_t *app, ngx_str_t *stream,
    ngx_live_record_pg_done_pt done);
static void ngx_http_live_record_rows_found(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err);
static void ngx_http_live_record_rows_pick_cleanup(void *data);
static void ngx_http_live_record_rows_picked(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err);
static void ngx_http_live_record_rows_unrowed(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err);
static void ngx_http_live_record_rows_live(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err);
static ngx_int_t ngx_http_live_record_rows_node(cJSON *a, ngx_str_t *node);
static ngx_int_t ngx_http_live_record_rows_is(cJSON *o, const char *name,
    ngx_str_t *value);


/* NULL is SQL NULL: a filter not given matches every row */

static const char  ngx_http_live_record_rows_list_sql[] =
    "SELECT file_id, entry FROM live_record_files"
    " WHERE ($1::text IS NULL OR app = $1)"
    " AND ($2::text IS NULL OR stream_id = $2)"
    " AND ($3::text IS NULL OR session_id = $3)"
    " AND ($4::text IS NULL OR file_format = $4)"
    " AND ($5::text IS NULL OR file_id < $5)"
    " AND ($6::bigint IS NULL OR start_time_ms < $6)"
    " AND ($7::bigint IS NULL OR end_time_ms > $7)"
    " ORDER BY file_id DESC LIMIT $8::integer";

/* files by id ($1, an array), or a session's, oldest first */

static const char  ngx_http_live_record_rows_find_sql[] =
    "SELECT file_id, entry, node_id, store_type, app, stream_id"
    " FROM live_record_files"
    " WHERE ($1::text[] IS NULL OR file_id = ANY($1::text[]))"
    " AND ($2::text IS NULL OR session_id = $2)"
    " AND ($3::text IS NULL OR app = $3)"
    " AND ($4::text IS NULL OR stream_id = $4)"
    " ORDER BY start_time_ms, file_id LIMIT "
    NGX_HTTP_LIVE_RECORD_ROWS_PICK_MAX;

static const char  ngx_http_live_record_rows_live_sql[] =
    "SELECT node_id, streams FROM live_record_live"
    " WHERE node_id <> $1"
    " AND updated_at > now() - interval '"
    NGX_LIVE_RECORD_CLUSTER_LIVE_TTL "'"
    " ORDER BY node_id";

static const char  ngx_http_live_record_rows_delete_sql[] =
    "DELETE FROM live_record_files WHERE file_id = $1";


ngx_int_t
ngx_http_live_record_rows_list(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_query_t *q)
{
    u_char                           to[NGX_INT64_LEN], from[NGX_INT64_LEN];
    u_char                           limit[NGX_INT_T_LEN];
    ngx_str_t                        v[8];
    ngx_uint_t                       i;
    ngx_http_live_record_rows_ctx_t *ctx;

    v[0] = q->app;
    v[1] = q->stream;
    v[2] = q->session;
    v[3] = q->format;
    v[4] = q->cursor;

    for (i = 0; i < 5; i++) {
        if (v[i].len == 0) {
            v[i].data = NULL;
        }
    }

    ngx_str_null(&v[5]);
    ngx_str_null(&v[6]);

    if (q->to) {
        v[5].data = to;
        v[5].len = ngx_sprintf(to, "%uL", q->to_ms) - to;
    }

    if (q->from) {
        v[6].data = from;
        v[6].len = ngx_sprintf(from, "%uL", q->from_ms) - from;
    }

    /* one more: is there a next page */

    v[7].data = limit;
    v[7].len = ngx_sprintf(limit, "%ui", q->limit + 1) - limit;

    ctx = ngx_http_live_record_rows_ctx(r, pg, q);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->query = ngx_live_record_pg_query(pg,
                                          ngx_http_live_record_rows_list_sql,
                                          8, v,
                                          ngx_http_live_record_rows_listed,
                                          ctx, 0);
    if (ctx->query == NULL) {
        return ngx_http_live_record_rows_unavailable(r, NULL);
    }

    r->main->count++;

    return NGX_DONE;
}


static ngx_http_live_record_rows_ctx_t *
ngx_http_live_record_rows_ctx(ngx_http_request_t *r, ngx_live_record_pg_t *pg,
    void *data)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_live_record_rows_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_live_record_rows_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ctx == NULL || cln == NULL) {
        return NULL;
    }

    ctx->r = r;
    ctx->pg = pg;
    ctx->data = data;

    /* a request that ends first takes its query back */

    cln->handler = ngx_http_live_record_rows_cleanup;
    cln->data = ctx;

    return ctx;
}


static void
ngx_http_live_record_rows_cleanup(void *data)
{
    ngx_http_live_record_rows_ctx_t *ctx = data;

    if (ctx->query) {
        ngx_live_record_pg_cancel(ctx->pg, ctx->query);
        ctx->query = NULL;
    }
}


static ngx_int_t
ngx_http_live_record_rows_unavailable(ngx_http_request_t *r, const char *err)
{
    if (err) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "live record: cluster query failed: %s", err);
    }

    return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "cluster_unavailable",
                                      "the cluster database %s, see the "
                                      "error log",
                                      err ? "did not answer"
                                          : "is unreachable");
}


static void
ngx_http_live_record_rows_listed(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_rows_ctx_t *ctx = pq->data;

    int                            i, n;
    cJSON                         *files, *e, *response;
    ngx_str_t                      id, last;
    ngx_int_t                      rc;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_live_record_query_t  *q;

    r = ctx->r;
    q = ctx->data;
    c = r->connection;
    ctx->query = NULL;

    ngx_http_set_log_request(c->log, r);

    if (res == NULL) {
        rc = ngx_http_live_record_rows_unavailable(r, err);
        goto done;
    }

    q->response = cJSON_CreateObject();
    files = cJSON_AddArrayToObject(q->response, "files");

    if (files == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    n = PQntuples(res);
    ngx_str_null(&last);

    for (i = 0; i < n && (ngx_uint_t) i < q->limit; i++) {
        e = ngx_http_live_record_rows_entry(c->log, res, i, &id);

        if (e == NULL) {
            continue;
        }

        cJSON_AddItemToArray(files, e);
        last = id;
    }

    if ((ngx_uint_t) n > q->limit && last.len) {
        e = cJSON_CreateString((char *) last.data);

        if (e == NULL || !cJSON_AddItemToObject(q->response, "next_cursor", e))
        {
            cJSON_Delete(e);
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

    } else if (cJSON_AddNullToObject(q->response, "next_cursor") == NULL) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    response = q->response;
    q->response = NULL;

    rc = ngx_http_live_record_send(r, NGX_HTTP_OK, response);

done:

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* a row's entry, checked: NULL (logged) when the row is not sound */

static cJSON *
ngx_http_live_record_rows_entry(ngx_log_t *log, PGresult *res, int row,
    ngx_str_t *id)
{
    char       *text;
    cJSON      *e, *f;
    ngx_str_t   name;

    id->data = (u_char *) PQgetvalue(res, row, 0);
    id->len = PQgetlength(res, row, 0);

    if (ngx_live_record_valid_name(id, NGX_HTTP_LIVE_RECORD_ROW_ID_MAX)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "live record: a cluster row with an invalid file_id "
                      "is left out");
        return NULL;
    }

    text = PQgetvalue(res, row, 1);
    e = cJSON_ParseWithLength(text, PQgetlength(res, row, 1));

    /* its index id, or its file id when there is no other */

    f = cJSON_GetObjectItemCaseSensitive(e, "index_id");

    if (f == NULL) {
        f = cJSON_GetObjectItemCaseSensitive(e, "file_id");
    }

    if (!cJSON_IsObject(e) || !cJSON_IsString(f)) {
        goto invalid;
    }

    name.data = (u_char *) f->valuestring;
    name.len = ngx_strlen(f->valuestring);

    if (!ngx_live_record_str_eq(&name, id)) {
        goto invalid;
    }

    return e;

invalid:

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "live record: the cluster row %V is not an index entry "
                  "of that file, left out", id);
    cJSON_Delete(e);

    return NULL;
}


ngx_int_t
ngx_http_live_record_rows_find(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_one_t *one,
    ngx_http_live_record_thread_done_pt done)
{
    ngx_array_t                       ids;
    ngx_pool_cleanup_t               *cln;
    ngx_http_live_record_rows_ctx_t  *ctx;

    ctx = ngx_http_live_record_rows_ctx(r, pg, one);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_live_record_json_cleanup;
    cln->data = &one->entry.json;

    ctx->found = done;

    ids.elts = &one->id;
    ids.nelts = 1;

    return ngx_http_live_record_rows_query(r, ctx, &ids, NULL, NULL, NULL,
                                           ngx_http_live_record_rows_found);
}


/* ids as an array literal: they are plain names, quoted all the same */

static ngx_int_t
ngx_http_live_record_rows_query(ngx_http_request_t *r,
    ngx_http_live_record_rows_ctx_t *ctx, ngx_array_t *ids,
    ngx_str_t *session, ngx_str_t *app, ngx_str_t *stream,
    ngx_live_record_pg_done_pt done)
{
    u_char      *p;
    size_t       len;
    ngx_str_t    v[4], *id;
    ngx_uint_t   i;

    ngx_memzero(v, sizeof(v));

    if (ids) {
        id = ids->elts;
        len = 2;

        for (i = 0; i < ids->nelts; i++) {
            len += id[i].len + 3;
        }

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        v[0].data = p;
        *p++ = '{';

        for (i = 0; i < ids->nelts; i++) {
            p = ngx_sprintf(p, "%s\"%V\"", i ? "," : "", &id[i]);
        }

        *p++ = '}';
        v[0].len = p - v[0].data;
    }

    if (session && session->len) {
        v[1] = *session;
    }

    if (app && app->len) {
        v[2] = *app;
    }

    if (stream && stream->len) {
        v[3] = *stream;
    }

    ctx->query = ngx_live_record_pg_query(ctx->pg,
                                          ngx_http_live_record_rows_find_sql,
                                          4, v, done, ctx, 0);
    if (ctx->query == NULL) {
        return ngx_http_live_record_rows_unavailable(r, NULL);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_live_record_rows_found(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_rows_ctx_t *ctx = pq->data;

    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_live_record_one_t    *one;

    r = ctx->r;
    one = ctx->data;
    c = r->connection;
    ctx->query = NULL;

    ngx_http_set_log_request(c->log, r);

    if (res == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "live record: cluster query failed: %s", err);
        one->found = NGX_BUSY;

    } else if (PQntuples(res) != 1) {
        one->found = NGX_DECLINED;

    } else {
        one->found = ngx_http_live_record_rows_one(r->pool, c->log, res, 0,
                                                    one);
    }

    ngx_http_live_record_rows_answer(ctx, one);
}


/* what was found goes to the caller's handler, as a thread's result would */

static void
ngx_http_live_record_rows_answer(ngx_http_live_record_rows_ctx_t *ctx,
    void *data)
{
    ngx_connection_t               *c;
    ngx_http_live_record_thread_t   t;

    c = ctx->r->connection;

    t.r = ctx->r;
    t.pool = NULL;
    t.handler = NULL;
    t.done = ctx->found;
    t.data = data;

    ctx->found(&t);

    ngx_http_run_posted_requests(c);
}


/* a row into one: its entry, node, store type, names; NGX_ERROR: unsound */

ngx_int_t
ngx_http_live_record_rows_one(ngx_pool_t *pool, ngx_log_t *log,
    PGresult *res, int row, ngx_http_live_record_one_t *one)
{
    u_char                       *p;
    cJSON                        *e;
    ngx_str_t                     id, s[4];
    ngx_uint_t                    i;
    ngx_live_record_main_conf_t  *lmcf;

    e = ngx_http_live_record_rows_entry(log, res, row, &id);

    if (e == NULL) {
        return NGX_ERROR;
    }

    /* the caller frees it, whatever is returned */
    one->entry.json = e;

    one->id.len = id.len;
    one->id.data = ngx_pstrdup(pool, &id);

    if (one->id.data == NULL) {
        return NGX_ERROR;
    }

    /* node_id, store_type, app, stream_id: plain names, copied */

    for (i = 0; i < 4; i++) {
        s[i].len = PQgetlength(res, row, 2 + i);
        s[i].data = ngx_pnalloc(pool, s[i].len + 1);

        if (s[i].data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(s[i].data, PQgetvalue(res, row, 2 + i), s[i].len);
        s[i].data[s[i].len] = '\0';

        if (ngx_live_record_valid_name(&s[i], NGX_HTTP_LIVE_RECORD_ROW_ID_MAX)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "live record: the cluster row %V has an invalid "
                          "node, store type, app or stream", &one->id);
            return NGX_ERROR;
        }
    }

    one->node = s[0];
    one->store_type = s[1];
    one->entry.id = one->id;
    one->entry.app = s[2];
    one->entry.stream = s[3];
    one->row = 1;

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);
    one->foreign = !ngx_live_record_str_eq(&one->node, &lmcf->node_id);

    if (!one->foreign) {
        /* this node's own entry file goes with it */
        p = ngx_pnalloc(pool, one->index.len + s[2].len + s[3].len
                                 + one->id.len + sizeof("///.json"));
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(p, "%V/%V/%V/%V.json%Z", &one->index, &s[2], &s[3],
                    &one->id);
        one->entry.file = p;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_live_record_rows_pick(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_pick_t *pick,
    ngx_http_live_record_thread_done_pt done)
{
    ngx_pool_cleanup_t               *cln;
    ngx_http_live_record_rows_ctx_t  *ctx;

    ctx = ngx_http_live_record_rows_ctx(r, pg, pick);
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (ctx == NULL || cln == NULL
        || ngx_array_init(&pick->rows, r->pool, 8,
                          sizeof(ngx_http_live_record_one_t))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_live_record_rows_pick_cleanup;
    cln->data = pick;

    ctx->found = done;

    return ngx_http_live_record_rows_query(r, ctx,
                                           pick->ids.nelts ? &pick->ids
                                                           : NULL,
                                           &pick->session, &pick->app,
                                           &pick->stream,
                                           ngx_http_live_record_rows_picked);
}


static void
ngx_http_live_record_rows_pick_cleanup(void *data)
{
    ngx_http_live_record_pick_t *pick = data;

    ngx_uint_t                   i;
    ngx_http_live_record_one_t  *one;

    one = pick->rows.elts;

    for (i = 0; i < pick->rows.nelts; i++) {
        cJSON_Delete(one[i].entry.json);
    }

    pick->rows.nelts = 0;
}


static void
ngx_http_live_record_rows_picked(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_rows_ctx_t *ctx = pq->data;

    int                             i, n;
    ngx_connection_t               *c;
    ngx_http_request_t             *r;
    ngx_http_live_record_one_t     *one;
    ngx_http_live_record_pick_t    *pick;

    r = ctx->r;
    pick = ctx->data;
    c = r->connection;
    ctx->query = NULL;

    ngx_http_set_log_request(c->log, r);

    pick->found = NGX_OK;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "live record: cluster query failed: %s", err);
        pick->found = NGX_BUSY;
        goto done;
    }

    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        one = ngx_array_push(&pick->rows);
        if (one == NULL) {
            pick->found = NGX_ERROR;
            goto done;
        }

        ngx_memzero(one, sizeof(ngx_http_live_record_one_t));
        one->index = pick->index;

        /* an unsound row is left out (logged), as /files leaves it */

        if (ngx_http_live_record_rows_one(r->pool, c->log, res, i, one)
            != NGX_OK)
        {
            cJSON_Delete(one->entry.json);
            pick->rows.nelts--;
        }
    }

done:

    ngx_http_live_record_rows_answer(ctx, pick);
}


ngx_int_t
ngx_http_live_record_rows_delete(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_one_t *one,
    ngx_http_live_record_rows_done_pt done)
{
    ngx_http_live_record_rows_ctx_t  *ctx;

    if (pg == NULL) {
        return ngx_http_live_record_rows_unavailable(r, NULL);
    }

    ctx = ngx_http_live_record_rows_ctx(r, pg, one);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->deleted = done;

    ctx->query = ngx_live_record_pg_query(pg,
                                          ngx_http_live_record_rows_delete_sql,
                                          1, &one->id,
                                          ngx_http_live_record_rows_unrowed,
                                          ctx, 0);
    if (ctx->query == NULL) {
        return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "cluster_unavailable",
                                          "the file is deleted, its cluster "
                                          "row is not: DELETE it again");
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_live_record_rows_unrowed(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_rows_ctx_t *ctx = pq->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->r;
    c = r->connection;
    ctx->query = NULL;

    ngx_http_set_log_request(c->log, r);

    if (res == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "live record: the cluster row %V could not be "
                      "deleted: %s",
                      &((ngx_http_live_record_one_t *) ctx->data)->id, err);
    }

    ctx->deleted(r, ctx->data, res ? NGX_OK : NGX_ERROR);

    ngx_http_run_posted_requests(c);
}


/*
 * The other nodes' live views, each one a JSON array that node made of
 * its streams; read as hostile: an array of objects with a plain "app"
 * and "stream", or the node is left out with a log line.
 */

ngx_int_t
ngx_http_live_record_rows_streams(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_str_t *app, ngx_str_t *stream)
{
    ngx_str_t                         v;
    ngx_str_t                        *names;
    ngx_live_record_main_conf_t      *lmcf;
    ngx_http_live_record_rows_ctx_t  *ctx;

    names = NULL;

    if (app) {
        names = ngx_palloc(r->pool, 2 * sizeof(ngx_str_t));
        if (names == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        names[0] = *app;
        names[1] = *stream;
    }

    ctx = ngx_http_live_record_rows_ctx(r, pg, names);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);
    v = lmcf->node_id;

    ctx->query = ngx_live_record_pg_query(pg,
                                          ngx_http_live_record_rows_live_sql,
                                          1, &v,
                                          ngx_http_live_record_rows_live,
                                          ctx, 0);
    if (ctx->query == NULL) {
        return ngx_http_live_record_rows_unavailable(r, NULL);
    }

    r->main->count++;

    return NGX_DONE;
}


static void
ngx_http_live_record_rows_live(ngx_live_record_pg_query_t *pq,
    PGresult *res, const char *err)
{
    ngx_http_live_record_rows_ctx_t *ctx = pq->data;

    int                           i, n;
    cJSON                        *all, *a, *s, *next, *o;
    ngx_str_t                    *names, node;
    ngx_int_t                     rc;
    ngx_connection_t             *c;
    ngx_http_request_t           *r;
    ngx_live_record_main_conf_t  *lmcf;

    r = ctx->r;
    names = ctx->data;
    c = r->connection;
    ctx->query = NULL;
    all = NULL;

    ngx_http_set_log_request(c->log, r);

    if (res == NULL) {
        rc = ngx_http_live_record_rows_unavailable(r, err);
        goto done;
    }

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    /* this node's own, fresh from the zone */

    all = ngx_live_record_recorders((ngx_cycle_t *) ngx_cycle,
                                    names ? &names[0] : NULL,
                                    names ? &names[1] : NULL);
    if (all == NULL
        || ngx_http_live_record_rows_node(all, &lmcf->node_id) != NGX_OK)
    {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        goto done;
    }

    n = PQntuples(res);

    for (i = 0; i < n; i++) {
        node.data = (u_char *) PQgetvalue(res, i, 0);
        node.len = PQgetlength(res, i, 0);

        a = cJSON_ParseWithLength(PQgetvalue(res, i, 1),
                                  PQgetlength(res, i, 1));

        if (ngx_live_record_valid_name(&node, NGX_HTTP_LIVE_RECORD_ROW_ID_MAX)
               != NGX_OK
            || !cJSON_IsArray(a)
            || ngx_http_live_record_rows_node(a, &node) != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, c->log, 0,
                          "live record: a cluster node's live view is not "
                          "an array of streams, left out");
            cJSON_Delete(a);
            continue;
        }

        for (s = a->child; s; s = next) {
            next = s->next;

            if (names
                && (!ngx_http_live_record_rows_is(s, "app", &names[0])
                    || !ngx_http_live_record_rows_is(s, "stream", &names[1])))
            {
                continue;
            }

            cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(a, s));
        }

        cJSON_Delete(a);
    }

    if (names == NULL) {
        o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToObject(o, "streams", all)) {
            cJSON_Delete(o);
            rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            goto done;
        }

        all = NULL;
        rc = ngx_http_live_record_send(r, NGX_HTTP_OK, o);
        goto done;
    }

    o = cJSON_DetachItemFromArray(all, 0);

    if (o == NULL) {
        rc = ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                        "\"%V/%V\" is not live in the "
                                        "cluster", &names[0], &names[1]);
        goto done;
    }

    rc = ngx_http_live_record_send(r, NGX_HTTP_OK, o);

done:

    cJSON_Delete(all);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


/* every element an object with a plain app and stream; each gets "node" */

static ngx_int_t
ngx_http_live_record_rows_node(cJSON *a, ngx_str_t *node)
{
    cJSON      *s, *f;
    ngx_str_t   v;

    for (s = a->child; s; s = s->next) {
        if (!cJSON_IsObject(s)) {
            return NGX_ERROR;
        }

        f = cJSON_GetObjectItemCaseSensitive(s, "app");
        v.data = cJSON_IsString(f) ? (u_char *) f->valuestring : NULL;
        v.len = v.data ? ngx_strlen(v.data) : 0;

        if (ngx_live_record_valid_name(&v, NGX_HTTP_LIVE_RECORD_ROW_ID_MAX)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        f = cJSON_GetObjectItemCaseSensitive(s, "stream");
        v.data = cJSON_IsString(f) ? (u_char *) f->valuestring : NULL;
        v.len = v.data ? ngx_strlen(v.data) : 0;

        if (ngx_live_record_valid_name(&v, NGX_HTTP_LIVE_RECORD_ROW_ID_MAX)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        cJSON_DeleteItemFromObjectCaseSensitive(s, "node");

        if (ngx_live_record_json_set(s, "node", node) == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_live_record_rows_is(cJSON *o, const char *name, ngx_str_t *value)
{
    cJSON      *f;
    ngx_str_t   v;

    f = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsString(f)) {
        return 0;
    }

    v.data = (u_char *) f->valuestring;
    v.len = ngx_strlen(f->valuestring);

    return ngx_live_record_str_eq(&v, value);
}
