
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"
#include "ngx_http_live_record_index.h"
#include "ngx_http_live_record_jobs.h"
#include "ngx_http_live_record_files.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_curl.h"
#include "ngx_live_record_upload.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_shm.h"


/*
 * /files: the index as an API.  GET /files lists entries newest first in
 * a time window, a page at a time; GET /files/ID is one entry; DELETE
 * /files/ID removes the file from its store, then the entry.  Directory
 * walks, entry reads and unlinks run in the thread pool; deletes at
 * remote stores are HTTP requests on the event loop.
 */


#define NGX_HTTP_LIVE_RECORD_PLAYLIST_MAX (8 * 1024 * 1024)


static ngx_int_t ngx_http_live_record_files_list(ngx_http_request_t *r);
static ngx_int_t ngx_http_live_record_files_query(ngx_http_request_t *r,
    ngx_http_live_record_query_t *q, ngx_int_t *rc);
static ngx_int_t ngx_http_live_record_name_arg(ngx_http_request_t *r,
    const char *name, ngx_str_t *value, ngx_int_t *rc);
static void ngx_http_live_record_files_scan(ngx_http_live_record_thread_t *t,
    ngx_log_t *log);
static ngx_int_t ngx_http_live_record_files_match(
    ngx_http_live_record_query_t *q, cJSON *e);
static void ngx_http_live_record_files_listed(
    ngx_http_live_record_thread_t *t);
static ngx_int_t ngx_http_live_record_files_one(ngx_http_request_t *r,
    ngx_str_t *id);
static void ngx_http_live_record_files_find(ngx_http_live_record_thread_t *t,
    ngx_log_t *log);
static void ngx_http_live_record_files_found(
    ngx_http_live_record_thread_t *t);
static void ngx_http_live_record_delete_found(
    ngx_http_live_record_thread_t *t);
static ngx_int_t ngx_http_live_record_delete_remote(
    ngx_http_live_record_one_t *one);
static ngx_int_t ngx_http_live_record_delete_key(
    ngx_http_live_record_one_t *one, ngx_str_t *rel);
static ngx_int_t ngx_http_live_record_delete_step(
    ngx_http_live_record_one_t *one);
static void ngx_http_live_record_delete_done(ngx_live_record_request_t *req);
static ngx_int_t ngx_http_live_record_delete_next(
    ngx_http_live_record_one_t *one, ngx_live_record_request_t *req);
static ngx_int_t ngx_http_live_record_delete_playlist(
    ngx_http_live_record_one_t *one, ngx_str_t *text);
static ngx_int_t ngx_http_live_record_delete_failed(
    ngx_http_live_record_one_t *one, ngx_uint_t status, const char *fmt, ...);
static ngx_int_t ngx_http_live_record_delete_local(
    ngx_http_live_record_one_t *one);
static void ngx_http_live_record_delete_files(
    ngx_http_live_record_thread_t *t, ngx_log_t *log);
static void ngx_http_live_record_delete_deleted(
    ngx_http_live_record_thread_t *t);
static void ngx_http_live_record_delete_cleanup(void *data);
static void ngx_http_live_record_delete_unrowed(ngx_http_request_t *r,
    ngx_http_live_record_one_t *one, ngx_int_t rc);
static ngx_int_t ngx_http_live_record_delete_answer(ngx_http_request_t *r,
    ngx_http_live_record_one_t *one);
static void ngx_http_live_record_delete_event(
    ngx_http_live_record_one_t *one);
static void ngx_http_live_record_delete_end(ngx_http_live_record_one_t *one,
    ngx_int_t rc);


static const char  *ngx_http_live_record_files_args[] = {
    "app", "stream", "session_id", "from", "to", "from_ms", "to_ms",
    "format", "limit", "cursor", NULL
};


static const char  *ngx_http_live_record_formats[] = {
    "mp4", "flv", "aac", "hls", NULL
};


ngx_int_t
ngx_http_live_record_files(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body)
{
    if (rest->len == 0) {
        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return ngx_http_live_record_files_list(r);
        }

        return ngx_http_live_record_not_allowed(r, "GET, HEAD");
    }

    if (ngx_http_live_record_valid_id(rest) != NGX_OK) {
        return ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_id", "invalid file id");
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_DELETE)) {
        return ngx_http_live_record_files_one(r, rest);
    }

    return ngx_http_live_record_not_allowed(r, "GET, HEAD, DELETE");
}


/* GET /files */

static ngx_int_t
ngx_http_live_record_files_list(ngx_http_request_t *r)
{
    ngx_int_t                       rc;
    ngx_pool_cleanup_t             *cln;
    ngx_live_record_pg_t           *pg;
    ngx_live_record_main_conf_t    *lmcf;
    ngx_http_live_record_query_t   *q;
    ngx_http_live_record_thread_t  *t;

    if (ngx_http_live_record_check_args(r, ngx_http_live_record_files_args,
                                        &rc)
        != NGX_OK)
    {
        return rc;
    }

    q = ngx_pcalloc(r->pool, sizeof(ngx_http_live_record_query_t));
    if (q == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_live_record_files_query(r, q, &rc) != NGX_OK) {
        return rc;
    }

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    if (lmcf == NULL || lmcf->stores.nelts == 0) {
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND,
                                          "not_recording",
                                          "no rtmp application records, "
                                          "there is no index");
    }

    q->index = lmcf->index;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the response is the request's until it is sent */

    cln->handler = ngx_http_live_record_json_cleanup;
    cln->data = &q->response;

    /* in a cluster, the rows are the index */

    pg = ngx_live_record_cluster_client(lmcf);

    if (pg) {
        return ngx_http_live_record_rows_list(r, pg, q);
    }

    t = ngx_http_live_record_thread(r, NULL, ngx_http_live_record_files_scan,
                                    ngx_http_live_record_files_listed, q);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_thread_run(t, q->app.len ? &q->app : NULL);
}


static ngx_int_t
ngx_http_live_record_files_query(ngx_http_request_t *r,
    ngx_http_live_record_query_t *q, ngx_int_t *rc)
{
    ngx_int_t     n;
    ngx_str_t     v;
    const char  **f;

    if (ngx_http_live_record_name_arg(r, "app", &q->app, rc) != NGX_OK
        || ngx_http_live_record_name_arg(r, "stream", &q->stream, rc)
           != NGX_OK
        || ngx_http_live_record_name_arg(r, "session_id", &q->session, rc)
           != NGX_OK
        || ngx_http_live_record_name_arg(r, "cursor", &q->cursor, rc)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_live_record_arg(r, "format", &q->format) == NGX_OK) {
        for (f = ngx_http_live_record_formats; *f; f++) {
            if (q->format.len == ngx_strlen(*f)
                && ngx_strncmp(q->format.data, *f, q->format.len) == 0)
            {
                break;
            }
        }

        if (*f == NULL) {
            *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_parameter",
                                             "\"format\" must be mp4, flv, "
                                             "aac or hls");
            return NGX_DECLINED;
        }
    }

    q->limit = NGX_HTTP_LIVE_RECORD_LIMIT;

    if (ngx_http_live_record_arg(r, "limit", &v) == NGX_OK) {
        n = ngx_atoi(v.data, v.len);

        if (n < 1 || n > NGX_HTTP_LIVE_RECORD_MAX_LIMIT) {
            *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                             "invalid_parameter",
                                             "\"limit\" must be 1 to %d",
                                             NGX_HTTP_LIVE_RECORD_MAX_LIMIT);
            return NGX_DECLINED;
        }

        q->limit = n;
    }

    switch (ngx_http_live_record_ms_arg(r, "from", "from_ms", &q->from_ms,
                                        rc))
    {
    case NGX_OK:
        q->from = 1;
        break;

    case NGX_DECLINED:
        break;

    default:
        return NGX_DECLINED;
    }

    switch (ngx_http_live_record_ms_arg(r, "to", "to_ms", &q->to_ms, rc)) {

    case NGX_OK:
        q->to = 1;
        break;

    case NGX_DECLINED:
        break;

    default:
        return NGX_DECLINED;
    }

    if (q->from && q->to && q->to_ms <= q->from_ms) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_parameter",
                                         "\"to\" must be after \"from\"");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_live_record_name_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value, ngx_int_t *rc)
{
    ngx_str_null(value);

    if (ngx_http_live_record_arg(r, name, value) != NGX_OK) {
        return NGX_OK;
    }

    if (ngx_http_live_record_valid_id(value) != NGX_OK) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_parameter",
                                         "\"%s\" must be 1 to 200 of "
                                         "A-Z a-z 0-9 . _ -, not starting "
                                         "with a dot", name);
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * In the thread.  Ids sort by start time, so the candidates are the ids
 * older than the cursor that start before the window ends, newest first;
 * only their entries are read, until the page is full and one more
 * match shows there is a next page.
 */

static void
ngx_http_live_record_files_scan(ngx_http_live_record_thread_t *t,
    ngx_log_t *log)
{
    ngx_http_live_record_query_t *q = t->data;

    u_char                       *path;
    cJSON                        *files, *e, *next;
    ngx_str_t                    *last;
    ngx_uint_t                    i, n;
    ngx_array_t                   dirs, cands;
    ngx_http_live_record_dir_t   *dir;
    ngx_http_live_record_cand_t  *c;

    q->failed = 1;

    if (ngx_array_init(&dirs, t->pool, 16,
                       sizeof(ngx_http_live_record_dir_t)) != NGX_OK
        || ngx_array_init(&cands, t->pool, 256,
                          sizeof(ngx_http_live_record_cand_t)) != NGX_OK)
    {
        return;
    }

    if (ngx_http_live_record_index_dirs(t->pool, &q->index, &q->app,
                                        &q->stream, &dirs, log)
        != NGX_OK)
    {
        return;
    }

    dir = dirs.elts;

    for (i = 0; i < dirs.nelts; i++) {
        if (ngx_http_live_record_index_ids(t->pool, &dir[i], &cands, log)
            != NGX_OK)
        {
            return;
        }
    }

    ngx_http_live_record_index_sort(&cands);

    q->response = cJSON_CreateObject();
    files = cJSON_AddArrayToObject(q->response, "files");

    if (files == NULL) {
        return;
    }

    c = cands.elts;
    last = NULL;
    n = 0;

    for (i = 0; i < cands.nelts; i++) {

        if (q->cursor.len
            && ngx_http_live_record_id_cmp(&c[i].id, &q->cursor) >= 0)
        {
            continue;
        }

        if (q->to && c[i].start_ms >= q->to_ms) {
            continue;
        }

        path = ngx_http_live_record_entry_path(t->pool, c[i].dir, &c[i].id);
        if (path == NULL) {
            return;
        }

        e = ngx_http_live_record_read_entry(path, log);

        if (e == NULL) {
            continue;
        }

        if (!ngx_http_live_record_files_match(q, e)) {
            cJSON_Delete(e);
            continue;
        }

        if (n == q->limit) {
            /* one more match: there is a next page */
            cJSON_Delete(e);
            break;
        }

        cJSON_AddItemToArray(files, e);
        last = &c[i].id;
        n++;
    }

    if (i < cands.nelts && last) {
        next = cJSON_CreateString("");

        if (next == NULL
            || !cJSON_AddItemToObject(q->response, "next_cursor", next))
        {
            cJSON_Delete(next);
            return;
        }

        /* ids are plain: the cursor needs no escaping */

        cJSON_free(next->valuestring);
        next->valuestring = cJSON_malloc(last->len + 1);

        if (next->valuestring == NULL) {
            return;
        }

        ngx_memcpy(next->valuestring, last->data, last->len);
        next->valuestring[last->len] = '\0';

    } else if (cJSON_AddNullToObject(q->response, "next_cursor") == NULL) {
        return;
    }

    q->failed = 0;
}


static ngx_int_t
ngx_http_live_record_files_match(ngx_http_live_record_query_t *q, cJSON *e)
{
    cJSON      *v;
    uint64_t    start, end;
    ngx_str_t   s;

    if (q->session.len
        && (ngx_http_live_record_entry_str(e, "session_id", &s) != NGX_OK
            || s.len != q->session.len
            || ngx_strncmp(s.data, q->session.data, s.len) != 0))
    {
        return 0;
    }

    if (q->format.len
        && (ngx_http_live_record_entry_str(e, "file_format", &s) != NGX_OK
            || s.len != q->format.len
            || ngx_strncmp(s.data, q->format.data, s.len) != 0))
    {
        return 0;
    }

    if (!q->from && !q->to) {
        return 1;
    }

    v = cJSON_GetObjectItemCaseSensitive(e, "start_time_ms");
    start = cJSON_IsNumber(v) ? (uint64_t) v->valuedouble : 0;

    v = cJSON_GetObjectItemCaseSensitive(e, "end_time_ms");
    end = cJSON_IsNumber(v) ? (uint64_t) v->valuedouble : start;

    /* the file overlaps [from, to) */

    if (q->to && start >= q->to_ms) {
        return 0;
    }

    if (q->from && end <= q->from_ms) {
        return 0;
    }

    return 1;
}


static void
ngx_http_live_record_files_listed(ngx_http_live_record_thread_t *t)
{
    ngx_http_live_record_query_t *q = t->data;

    cJSON               *response;
    ngx_http_request_t  *r;

    r = t->r;

    if (q->failed) {
        ngx_http_finalize_request(r,
            ngx_http_live_record_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error",
                                       "the index could not be read, see "
                                       "the error log"));
        return;
    }

    response = q->response;
    q->response = NULL;

    ngx_http_finalize_request(r,
        ngx_http_live_record_send(r, NGX_HTTP_OK, response));
}


/* GET or DELETE /files/ID: the entry is found in the thread first */

static ngx_int_t
ngx_http_live_record_files_one(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_int_t                       rc;
    ngx_pool_cleanup_t             *cln;
    ngx_live_record_pg_t           *pg;
    ngx_live_record_main_conf_t    *lmcf;
    ngx_http_live_record_one_t     *one;
    ngx_http_live_record_thread_t  *t;

    if (r->args.len) {
        static const char  *none[] = { NULL };

        if (ngx_http_live_record_check_args(r, none, &rc) != NGX_OK) {
            return rc;
        }
    }

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    if (lmcf == NULL || lmcf->stores.nelts == 0) {
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND,
                                          "not_found", "no file \"%V\"", id);
    }

    if (r->method == NGX_HTTP_DELETE) {
        if (ngx_live_record_recording((ngx_cycle_t *) ngx_cycle, id)) {
            return ngx_http_live_record_error(r, NGX_HTTP_CONFLICT,
                                              "recording",
                                              "\"%V\" is still being "
                                              "recorded", id);
        }

        if (ngx_http_live_record_concat_uses((ngx_cycle_t *) ngx_cycle, id)) {
            return ngx_http_live_record_error(r, NGX_HTTP_CONFLICT,
                                              "busy",
                                              "a concat job is reading "
                                              "\"%V\"", id);
        }
    }

    one = ngx_pcalloc(r->pool, sizeof(ngx_http_live_record_one_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (one == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_live_record_delete_cleanup;
    cln->data = one;

    one->r = r;
    one->log = r->connection->log;
    one->index = lmcf->index;
    one->id.len = id->len;
    one->id.data = ngx_pstrdup(r->pool, id);

    if (one->id.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    pg = ngx_live_record_cluster_client(lmcf);

    if (pg) {
        return ngx_http_live_record_rows_find(r, pg, one,
                                              r->method == NGX_HTTP_DELETE
                                              ? ngx_http_live_record_delete_found
                                              : ngx_http_live_record_files_found);
    }

    t = ngx_http_live_record_thread(r, NULL, ngx_http_live_record_files_find,
                                    r->method == NGX_HTTP_DELETE
                                    ? ngx_http_live_record_delete_found
                                    : ngx_http_live_record_files_found,
                                    one);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_thread_run(t, NULL);
}


static void
ngx_http_live_record_files_find(ngx_http_live_record_thread_t *t,
    ngx_log_t *log)
{
    ngx_http_live_record_one_t *one = t->data;

    one->found = ngx_http_live_record_index_find(t->pool, &one->index,
                                                 &one->id, &one->entry, log);
}


static void
ngx_http_live_record_files_found(ngx_http_live_record_thread_t *t)
{
    ngx_http_live_record_one_t *one = t->data;

    cJSON               *o;
    ngx_http_request_t  *r;

    r = t->r;

    if (one->found == NGX_DECLINED) {
        ngx_http_finalize_request(r,
            ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                       "no file \"%V\"", &one->id));
        return;
    }

    if (one->found == NGX_BUSY) {
        ngx_http_finalize_request(r,
            ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "cluster_unavailable",
                                       "the cluster database did not "
                                       "answer, see the error log"));
        return;
    }

    o = (one->found == NGX_OK) ? cJSON_Duplicate(one->entry.json, 1) : NULL;

    if (o == NULL) {
        ngx_http_finalize_request(r,
            ngx_http_live_record_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error",
                                       "the index entry of \"%V\" could not "
                                       "be read, see the error log",
                                       &one->id));
        return;
    }

    ngx_http_finalize_request(r, ngx_http_live_record_send(r, NGX_HTTP_OK, o));
}


/* DELETE /files/ID: the store first; the entry only if the store agreed */

static void
ngx_http_live_record_delete_found(ngx_http_live_record_thread_t *t)
{
    ngx_http_live_record_one_t *one = t->data;

    ngx_str_t                    store, format;
    ngx_http_request_t          *r;
    ngx_live_record_app_conf_t  *lacf;

    r = t->r;

    if (one->found == NGX_BUSY) {
        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "cluster_unavailable",
                                       "the cluster database did not "
                                       "answer, see the error log"));
        return;
    }

    if (one->found != NGX_OK) {
        ngx_http_live_record_delete_end(one, one->found == NGX_DECLINED
            ? ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                         "no file \"%V\"", &one->id)
            : ngx_http_live_record_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                         "internal_error",
                                         "the index entry of \"%V\" could "
                                         "not be read, see the error log",
                                         &one->id));
        return;
    }

    /* it may have started being read by a concat job meanwhile */

    if (ngx_http_live_record_concat_uses((ngx_cycle_t *) ngx_cycle, &one->id)) {
        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_CONFLICT, "busy",
                                       "a concat job is reading \"%V\"",
                                       &one->id));
        return;
    }

    if (ngx_http_live_record_entry_str(one->entry.json, "store", &store)
           != NGX_OK
        || ngx_http_live_record_entry_str(one->entry.json, "path",
                                         &one->path) != NGX_OK
        || one->path.len == 0
        || ngx_http_live_record_entry_str(one->entry.json, "file_format",
                                         &format) != NGX_OK)
    {
        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error",
                                       "the index entry of \"%V\" has no "
                                       "store, path or format", &one->id));
        return;
    }

    /* another node's disk is out of reach; a shared store is not */

    if (one->foreign
        && !(one->store_type.len == 2
             && ngx_strncmp(one->store_type.data, "s3", 2) == 0)
        && !(one->store_type.len == 4
             && ngx_strncmp(one->store_type.data, "http", 4) == 0))
    {
        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_CONFLICT, "other_node",
                                       "\"%V\" was recorded by the node "
                                       "\"%V\" into its local store: "
                                       "delete it through that node",
                                       &one->id, &one->node));
        return;
    }

    lacf = ngx_http_live_record_store_app((ngx_cycle_t *) ngx_cycle,
                                          &one->entry.app, &store);

    if (lacf == NULL) {
        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_CONFLICT, "store_unknown",
                                       "\"%V\" is in the store \"%V\", "
                                       "which is no longer configured",
                                       &one->id, &store));
        return;
    }

    one->store = &lacf->store;
    one->lacf = lacf;
    one->hls = (format.len == 3 && ngx_strncmp(format.data, "hls", 3) == 0);

    if (one->store->type == NGX_LIVE_RECORD_STORE_LOCAL) {
        ngx_http_live_record_delete_end(one, ngx_http_live_record_delete_local(one));
        return;
    }

    ngx_http_live_record_delete_end(one, ngx_http_live_record_delete_remote(one));
}


static ngx_int_t
ngx_http_live_record_delete_remote(ngx_http_live_record_one_t *one)
{
    ngx_str_t                    *key;
    ngx_http_request_t           *r;
    ngx_live_record_store_t      *st;
    ngx_live_record_main_conf_t  *lmcf;

    r = one->r;
    st = one->store;
    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    /* the key is the file's path in the store's local directory */

    if (one->path.len <= st->path.len + 1
        || ngx_strncmp(one->path.data, st->path.data, st->path.len) != 0
        || one->path.data[st->path.len] != '/')
    {
        return ngx_http_live_record_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "internal_error",
                                          "the path of \"%V\" is not in the "
                                          "store's directory \"%V\"",
                                          &one->id, &st->path);
    }

    if (lmcf == NULL || lmcf->curl == NULL) {
        return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "unavailable",
                                          "this worker has no HTTP client "
                                          "running, try again");
    }

    one->rel.data = one->path.data + st->path.len + 1;
    one->rel.len = one->path.len - st->path.len - 1;

    one->pool = ngx_create_pool(4096, one->log);
    if (one->pool == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_array_init(&one->keys, one->pool, 4, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!one->hls) {
        if (ngx_http_live_record_delete_key(one, &one->rel) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

    } else {
        /* first the playlist is fetched, for the names of its segments */

        key = ngx_array_push(&one->keys);
        if (key == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        key->data = ngx_pnalloc(one->pool, one->rel.len
                                           + sizeof("/index.m3u8"));
        if (key->data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        key->len = ngx_sprintf(key->data, "%V/index.m3u8", &one->rel)
                   - key->data;
    }

    if (ngx_http_live_record_delete_step(one) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r) {
        r->main->count++;
    }

    return NGX_DONE;
}


/* a store-relative name, as the key or URL path of the upload had it */

static ngx_int_t
ngx_http_live_record_delete_key(ngx_http_live_record_one_t *one,
    ngx_str_t *rel)
{
    ngx_str_t  *key;

    key = ngx_array_push(&one->keys);
    if (key == NULL) {
        return NGX_ERROR;
    }

    *key = *rel;

    return NGX_OK;
}


/*
 * The next request: for an hls recording, the GET of its playlist (keys
 * hold only that, then); then a DELETE per key, the playlist last.
 */

static ngx_int_t
ngx_http_live_record_delete_step(ngx_http_live_record_one_t *one)
{
    ngx_str_t                    *key;
    ngx_live_record_request_t    *req;
    ngx_live_record_main_conf_t  *lmcf;

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);
    key = (ngx_str_t *) one->keys.elts + one->next;

    req = ngx_live_record_store_request(one->pool, one->store, key);
    if (req == NULL) {
        return NGX_ERROR;
    }

    if (one->hls && one->keys.nelts == 1 && one->next == 0) {
        ngx_str_set(&req->method, "GET");
        req->max_response = NGX_HTTP_LIVE_RECORD_PLAYLIST_MAX;

    } else {
        ngx_str_set(&req->method, "DELETE");
        req->max_response = 4096;
    }

    req->timeout = 30000;
    req->connect_timeout = 10000;
    req->handler = ngx_http_live_record_delete_done;
    req->data = one;
    req->log = one->log;

    one->req = req;

    if (ngx_live_record_request_start(lmcf->curl, req) != NGX_OK) {
        one->req = NULL;
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_live_record_delete_done(ngx_live_record_request_t *req)
{
    ngx_http_live_record_one_t *one = req->data;

    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = one->r;
    c = r ? r->connection : NULL;
    one->req = NULL;

    rc = ngx_http_live_record_delete_next(one, req);

    if (rc != NGX_AGAIN) {
        ngx_http_live_record_delete_end(one, rc);
    }

    if (c) {
        ngx_http_run_posted_requests(c);
    }
}


/* NGX_AGAIN: the next request is on its way; else what to finalize with */

static ngx_int_t
ngx_http_live_record_delete_next(ngx_http_live_record_one_t *one,
    ngx_live_record_request_t *req)
{
    ngx_str_t  *key;

    key = (ngx_str_t *) one->keys.elts + one->next;

    if (req->rc != NGX_OK) {
        return ngx_http_live_record_delete_failed(one, 0,
                   "%V %V at the store \"%V\" failed: %s", &req->method,
                   key, &one->store->name, req->error);
    }

    /* gone already is as good as deleted */

    if ((req->status < 200 || req->status >= 300) && req->status != 404
        && req->status != 410)
    {
        return ngx_http_live_record_delete_failed(one, req->status,
                   "%V %V at the store \"%V\" answered %l", &req->method,
                   key, &one->store->name, req->status);
    }

    ngx_log_error(NGX_LOG_INFO, one->log, 0,
                  "live record: %V of \"%V\" at the store \"%V\": %l",
                  &req->method, key, &one->store->name, req->status);

    if (req->method.len == 3 && ngx_strncmp(req->method.data, "GET", 3) == 0)
    {
        one->keys.nelts = 0;
        one->next = 0;

        if (req->status == 200
            && ngx_http_live_record_delete_playlist(one, &req->response)
               != NGX_OK)
        {
            return ngx_http_live_record_delete_failed(one, 0,
                       "the playlist of \"%V\" at the store \"%V\" could "
                       "not be read", &one->id, &one->store->name);
        }

    } else {
        one->next++;
    }

    if (one->next < one->keys.nelts) {
        if (ngx_http_live_record_delete_step(one) != NGX_OK) {
            return ngx_http_live_record_delete_failed(one, 0,
                       "a request to the store \"%V\" could not start",
                       &one->store->name);
        }

        return NGX_AGAIN;
    }

    /* nothing (more) at the store: the local copy and the entry */

    return ngx_http_live_record_delete_local(one);
}


/* segment names from the playlist, then the playlist itself */

static ngx_int_t
ngx_http_live_record_delete_playlist(ngx_http_live_record_one_t *one,
    ngx_str_t *text)
{
    u_char     *p, *last, *eol;
    ngx_str_t   name, rel;

    if (text->len >= NGX_HTTP_LIVE_RECORD_PLAYLIST_MAX) {
        return NGX_ERROR;
    }

    p = text->data;
    last = p + text->len;

    while (p < last) {
        eol = ngx_strlchr(p, last, '\n');
        if (eol == NULL) {
            eol = last;
        }

        name.data = p;
        name.len = eol - p;
        p = eol + 1;

        while (name.len && (name.data[name.len - 1] == '\r'
                            || name.data[name.len - 1] == ' '))
        {
            name.len--;
        }

        if (name.len == 0 || name.data[0] == '#') {
            continue;
        }

        /* only names next to the playlist: nothing else is ours */

        if (ngx_http_live_record_valid_id(&name) != NGX_OK) {
            return NGX_ERROR;
        }

        rel.data = ngx_pnalloc(one->pool, one->rel.len + 1 + name.len);
        if (rel.data == NULL) {
            return NGX_ERROR;
        }

        rel.len = ngx_sprintf(rel.data, "%V/%V", &one->rel, &name)
                  - rel.data;

        if (ngx_http_live_record_delete_key(one, &rel) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    rel.data = ngx_pnalloc(one->pool, one->rel.len + sizeof("/index.m3u8"));
    if (rel.data == NULL) {
        return NGX_ERROR;
    }

    rel.len = ngx_sprintf(rel.data, "%V/index.m3u8", &one->rel) - rel.data;

    return ngx_http_live_record_delete_key(one, &rel);
}


static ngx_int_t
ngx_http_live_record_delete_failed(ngx_http_live_record_one_t *one,
    ngx_uint_t status, const char *fmt, ...)
{
    u_char              *p, text[NGX_MAX_ERROR_STR];
    cJSON               *o;
    va_list              args;
    ngx_http_request_t  *r;

    r = one->r;

    va_start(args, fmt);
    p = ngx_vslprintf(text, text + sizeof(text) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    ngx_log_error(NGX_LOG_ERR, one->log, 0,
                  "live record: delete of \"%V\": %s, the index entry is "
                  "kept", &one->id, text);

    if (r == NULL) {
        return NGX_ERROR;
    }

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddStringToObject(o, "code", "store_error") == NULL
        || cJSON_AddStringToObject(o, "message", (char *) text) == NULL
        || (status ? cJSON_AddNumberToObject(o, "status", status)
                   : cJSON_AddNullToObject(o, "status")) == NULL)
    {
        cJSON_Delete(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_send(r, NGX_HTTP_BAD_GATEWAY, o);
}


/* the local file (or a remote store's kept copy) and the entry */

static ngx_int_t
ngx_http_live_record_delete_local(ngx_http_live_record_one_t *one)
{
    ngx_http_request_t             *r;
    ngx_http_live_record_thread_t  *t;

    r = one->r;

    t = ngx_http_live_record_thread(r, r ? NULL : one->tpool,
                                    ngx_http_live_record_delete_files,
                                    ngx_http_live_record_delete_deleted, one);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_thread_run(t, &one->entry.app);
}


static void
ngx_http_live_record_delete_files(ngx_http_live_record_thread_t *t,
    ngx_log_t *log)
{
    ngx_http_live_record_one_t *one = t->data;

    ngx_file_info_t  fi;

    one->rc = NGX_OK;

    if (one->foreign) {
        /* its local copy and entry are on its node */
        return;
    }

    if (ngx_file_info(one->path.data, &fi) != NGX_FILE_ERROR
        && ngx_live_record_delete_tree(one->path.data, log) != NGX_OK)
    {
        one->err = ngx_errno;
        one->rc = NGX_ERROR;
        return;
    }

    if (one->entry.file
        && ngx_delete_file(one->entry.file) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        one->err = ngx_errno;
        one->rc = NGX_DECLINED;
    }
}


static void
ngx_http_live_record_delete_deleted(ngx_http_live_record_thread_t *t)
{
    ngx_http_live_record_one_t *one = t->data;

    ngx_http_request_t  *r;

    r = t->r;

    if (one->rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, one->log, one->err,
                      "live record: delete of \"%V\": deleting \"%V\" "
                      "failed, the index entry is kept", &one->id,
                      &one->path);

        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "store_error",
                                       "\"%V\" could not be deleted",
                                       &one->path));
        return;
    }

    if (one->rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_CRIT, one->log, one->err,
                      "live record: delete of \"%V\": " ngx_delete_file_n
                      " \"%s\" failed", &one->id, one->entry.file);

        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal_error",
                                       "the file is deleted, its index "
                                       "entry could not be"));
        return;
    }

    ngx_log_error(NGX_LOG_INFO, one->log, 0,
                  "live record: \"%V/%V\" %V deleted from the store \"%V\"",
                  &one->entry.app, &one->entry.stream, &one->id,
                  &one->store->name);

    if (one->row) {
        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_rows_delete(r,
                ngx_live_record_cluster_client(
                    ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle)),
                one, ngx_http_live_record_delete_unrowed));
        return;
    }

    ngx_http_live_record_delete_end(one, ngx_http_live_record_delete_answer(r, one));
}


static void
ngx_http_live_record_delete_unrowed(ngx_http_request_t *r,
    ngx_http_live_record_one_t *one, ngx_int_t rc)
{
    if (rc != NGX_OK) {
        ngx_http_live_record_delete_end(one,
            ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "cluster_unavailable",
                                       "the file is deleted, its cluster "
                                       "row is not: DELETE it again"));
        return;
    }

    ngx_http_live_record_delete_end(one, ngx_http_live_record_delete_answer(r, one));
}


static ngx_int_t
ngx_http_live_record_delete_answer(ngx_http_request_t *r,
    ngx_http_live_record_one_t *one)
{
    cJSON  *o;

    ngx_http_live_record_delete_event(one);

    if (r == NULL) {
        return NGX_OK;
    }

    o = cJSON_CreateObject();

    if (o == NULL
        || ngx_live_record_json_set(o, "deleted", &one->id) == NULL)
    {
        cJSON_Delete(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
}


static void
ngx_http_live_record_delete_cleanup(void *data)
{
    ngx_http_live_record_one_t *one = data;

    if (one->req) {
        ngx_live_record_request_cancel(one->req);
        one->req = NULL;
    }

    if (one->pool) {
        ngx_destroy_pool(one->pool);
        one->pool = NULL;
    }
}


/* record_deleted: the entry as it was, and why it went */

static void
ngx_http_live_record_delete_event(ngx_http_live_record_one_t *one)
{
    cJSON                        *o;
    ngx_live_record_main_conf_t  *lmcf;

    ngx_live_record_stat_add(one->r ? NGX_LIVE_RECORD_STAT_DELETED_API
                                    : NGX_LIVE_RECORD_STAT_DELETED_EXPIRED,
                             1);

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    if (lmcf == NULL || one->lacf == NULL || one->lacf->notify == NULL
        || one->lacf->notify->nelts == 0)
    {
        return;
    }

    o = cJSON_Duplicate(one->entry.json, 1);

    if (o == NULL
        || cJSON_AddStringToObject(o, "reason", one->r ? "api" : "expired")
           == NULL
        || ngx_live_record_notify_event(lmcf, one->lacf->notify,
                                        "record_deleted", o)
           == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_CRIT, one->log, 0,
                      "live record: \"%V/%V\" %V: the record_deleted "
                      "event could not be made", &one->entry.app,
                      &one->entry.stream, &one->id);
    }
}


/* a request is finalized; an expiry hears NGX_OK or NGX_ERROR */

static void
ngx_http_live_record_delete_end(ngx_http_live_record_one_t *one,
    ngx_int_t rc)
{
    if (one->r) {
        ngx_http_finalize_request(one->r, rc);
        return;
    }

    if (rc == NGX_DONE || rc == NGX_AGAIN) {
        return;
    }

    ngx_http_live_record_delete_cleanup(one);

    one->expired(one, rc == NGX_OK ? NGX_OK : NGX_ERROR);
}


/*
 * Retention: an expired entry, found by the caller's scan, is deleted
 * as DELETE /files/ID would, with no request to answer; its store, the
 * remote requests and the thread pool are the same.
 */

ngx_int_t
ngx_http_live_record_files_expire(ngx_http_live_record_one_t *one)
{
    ngx_http_live_record_thread_t  t;

    if (ngx_live_record_recording((ngx_cycle_t *) ngx_cycle, &one->id)
        || ngx_http_live_record_concat_uses((ngx_cycle_t *) ngx_cycle,
                                            &one->id))
    {
        return NGX_DECLINED;
    }

    ngx_memzero(&t, sizeof(ngx_http_live_record_thread_t));
    t.pool = one->tpool;
    t.data = one;

    one->found = NGX_OK;

    ngx_http_live_record_delete_found(&t);

    return NGX_OK;
}
