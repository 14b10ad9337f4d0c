
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"
#include "ngx_http_live_record_index.h"
#include "ngx_http_live_record_concat.h"
#include "ngx_http_live_record_jobs.h"
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_concat.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_shm.h"


/*
 * POST /concat joins recorded parts of one stream into one new MP4.  The
 * sources are found and probed in the thread pool before the answer, so
 * that parts that cannot be joined get a 400 naming the difference; the
 * remux then runs in the thread pool as a job whose state is in the
 * shared zone (GET /concat/ID from any worker).  The result is stored
 * next to the first source, indexed as a file of its own and announced
 * with a concat_done event.  This file reads the request and finds,
 * checks and probes the sources (the plan); the job's run is in
 * ngx_http_live_record_concat_job.c.
 */


static ngx_int_t ngx_http_live_record_concat_create(ngx_http_request_t *r,
    cJSON *body);
static ngx_int_t ngx_http_live_record_concat_body(ngx_http_request_t *r,
    cJSON *body, ngx_http_live_record_plan_t *plan, ngx_int_t *rc);
static ngx_int_t ngx_http_live_record_concat_name(ngx_http_request_t *r,
    cJSON *body, const char *field, ngx_str_t *dst, ngx_int_t *rc);
static void ngx_http_live_record_concat_picked(
    ngx_http_live_record_thread_t *t);
static void ngx_http_live_record_concat_prepare(
    ngx_http_live_record_thread_t *t, ngx_log_t *log);
static ngx_int_t ngx_http_live_record_concat_rows(
    ngx_http_live_record_thread_t *t, ngx_http_live_record_plan_t *plan);
static ngx_int_t ngx_http_live_record_concat_where(
    ngx_http_live_record_thread_t *t, ngx_http_live_record_plan_t *plan,
    ngx_http_live_record_entry_t *e, ngx_str_t *path, ngx_str_t *store,
    ngx_log_t *log);
static ngx_int_t ngx_http_live_record_concat_fetch(
    ngx_http_live_record_thread_t *t, ngx_http_live_record_plan_t *plan,
    ngx_log_t *log);
static void ngx_http_live_record_concat_unfetch(
    ngx_http_live_record_thread_t *t, ngx_log_t *log);
static void ngx_http_live_record_concat_unfetched(
    ngx_http_live_record_thread_t *t);
static void ngx_http_live_record_concat_drop(
    ngx_http_live_record_plan_t *plan);
static ngx_int_t ngx_http_live_record_concat_sources(
    ngx_http_live_record_thread_t *t, ngx_http_live_record_plan_t *plan,
    ngx_log_t *log);
static ngx_int_t ngx_http_live_record_plan_error(
    ngx_http_live_record_thread_t *t, ngx_uint_t status, const char *code,
    const char *fmt, ...);
static ngx_int_t ngx_http_live_record_plan_internal(
    ngx_http_live_record_thread_t *t, const char *fmt, ...);
static ngx_int_t ngx_http_live_record_plan_verror(
    ngx_http_live_record_thread_t *t, ngx_uint_t status, const char *code,
    const char *fmt, va_list args);
static void ngx_http_live_record_concat_prepared(
    ngx_http_live_record_thread_t *t);
static ngx_int_t ngx_http_live_record_concat_incompatible(
    ngx_http_request_t *r, ngx_http_live_record_plan_t *plan);
static ngx_int_t ngx_http_live_record_concat_get(ngx_http_request_t *r,
    ngx_str_t *id);


static const char  *ngx_http_live_record_concat_fields[] = {
    "file_ids", "session_id", "app", "stream", "format", NULL
};


ngx_int_t
ngx_http_live_record_concat(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body)
{
    ngx_int_t  rc;

    static const char  *none[] = { NULL };

    if (r->args.len
        && ngx_http_live_record_check_args(r, none, &rc) != NGX_OK)
    {
        return rc;
    }

    if (rest->len == 0) {
        if (r->method == NGX_HTTP_POST) {
            return ngx_http_live_record_concat_create(r, body);
        }

        if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
            return ngx_http_live_record_concat_get(r, NULL);
        }

        return ngx_http_live_record_not_allowed(r, "GET, HEAD, POST");
    }

    if (ngx_http_live_record_valid_id(rest) != NGX_OK) {
        return ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_id", "invalid job id");
    }

    if (r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) {
        return ngx_http_live_record_concat_get(r, rest);
    }

    return ngx_http_live_record_not_allowed(r, "GET, HEAD");
}


/* POST /concat */

static ngx_int_t
ngx_http_live_record_concat_create(ngx_http_request_t *r, cJSON *body)
{
    ngx_int_t                       rc;
    ngx_live_record_pg_t           *pg;
    ngx_live_record_main_conf_t    *lmcf;
    ngx_http_live_record_plan_t    *plan;
    ngx_http_live_record_pick_t    *pick;
    ngx_http_live_record_thread_t  *t;

    plan = ngx_pcalloc(r->pool, sizeof(ngx_http_live_record_plan_t));
    if (plan == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_live_record_concat_body(r, body, plan, &rc) != NGX_OK) {
        return rc;
    }

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    if (lmcf == NULL || lmcf->stores.nelts == 0) {
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND,
                                          "not_recording",
                                          "no rtmp application records, "
                                          "there is nothing to join");
    }

    if (ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL) == NULL) {
        return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "unavailable",
                                          "the shared zone is not ready");
    }

    plan->index = lmcf->index;

    /* fetched sources' names: unique in this worker's life */

    plan->tag.data = ngx_pnalloc(r->pool, NGX_INT64_LEN * 2 + 2);
    if (plan->tag.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    plan->tag.len = ngx_sprintf(plan->tag.data, "%P-%ui", ngx_pid,
                                ++lmcf->seq)
                    - plan->tag.data;

    pg = ngx_live_record_cluster_client(lmcf);

    if (pg) {
        pick = &plan->pick;
        pick->index = lmcf->index;
        pick->ids = plan->ids;
        pick->session = plan->session;
        pick->app = plan->app;
        pick->stream = plan->stream;
        pick->data = plan;

        return ngx_http_live_record_rows_pick(r, pg, pick,
                                        ngx_http_live_record_concat_picked);
    }

    t = ngx_http_live_record_thread(r, NULL,
                                    ngx_http_live_record_concat_prepare,
                                    ngx_http_live_record_concat_prepared,
                                    plan);
    if (t == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_thread_run(t, plan->app.len ? &plan->app
                                                            : NULL);
}


/* in a cluster: the rows are read first, then the thread goes on */

static void
ngx_http_live_record_concat_picked(ngx_http_live_record_thread_t *pt)
{
    ngx_http_live_record_pick_t *pick = pt->data;

    ngx_int_t                       rc;
    ngx_http_request_t             *r;
    ngx_http_live_record_plan_t    *plan;
    ngx_http_live_record_thread_t  *t;

    r = pt->r;
    plan = pick->data;

    if (pick->found == NGX_BUSY) {
        rc = ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "cluster_unavailable",
                                        "the cluster database did not "
                                        "answer, the parts cannot be "
                                        "found: see the error log");

    } else if (pick->found != NGX_OK) {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;

    } else {
        plan->picked = 1;

        t = ngx_http_live_record_thread(r, NULL,
                                        ngx_http_live_record_concat_prepare,
                                        ngx_http_live_record_concat_prepared,
                                        plan);

        rc = (t == NULL) ? NGX_HTTP_INTERNAL_SERVER_ERROR
                         : ngx_http_live_record_thread_run(t,
                               plan->app.len ? &plan->app : NULL);
    }

    ngx_http_finalize_request(r, rc);
}


/* {"file_ids": [...]} or {"session_id": "..."}, app/stream to narrow */

static ngx_int_t
ngx_http_live_record_concat_body(ngx_http_request_t *r, cJSON *body,
    ngx_http_live_record_plan_t *plan, ngx_int_t *rc)
{
    cJSON        *item, *ids;
    ngx_str_t    *id, *other;
    ngx_uint_t    i, n;
    const char  **f;

    if (body == NULL) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_json",
                                         "the body must be a JSON object");
        return NGX_ERROR;
    }

    cJSON_ArrayForEach(item, body) {
        for (f = ngx_http_live_record_concat_fields; *f; f++) {
            if (item->string && ngx_strcmp(item->string, *f) == 0) {
                break;
            }
        }

        if (*f == NULL) {
            *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                             "unknown_field",
                                             "unknown field \"%*s\"",
                                             ngx_min(ngx_strlen(
                                                 item->string ? item->string
                                                              : ""), 64),
                                             item->string ? item->string
                                                          : "");
            return NGX_ERROR;
        }
    }

    if (ngx_http_live_record_concat_name(r, body, "session_id",
                                         &plan->session, rc) != NGX_OK
        || ngx_http_live_record_concat_name(r, body, "app", &plan->app, rc)
           != NGX_OK
        || ngx_http_live_record_concat_name(r, body, "stream",
                                            &plan->stream, rc) != NGX_OK
        || ngx_http_live_record_concat_name(r, body, "format",
                                            &plan->format, rc) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (plan->format.len
        && !(plan->format.len == 3
             && (ngx_strncmp(plan->format.data, "mp4", 3) == 0
                 || ngx_strncmp(plan->format.data, "flv", 3) == 0)))
    {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "\"format\" must be mp4 or flv");
        return NGX_ERROR;
    }

    ids = cJSON_GetObjectItemCaseSensitive(body, "file_ids");

    if ((ids == NULL) == (plan->session.len == 0)) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_field",
                                         "give \"file_ids\" or "
                                         "\"session_id\", one of them");
        return NGX_ERROR;
    }

    if (ngx_array_init(&plan->ids, r->pool, 8, sizeof(ngx_str_t))
        != NGX_OK)
    {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_ERROR;
    }

    if (ids == NULL) {
        return NGX_OK;
    }

    n = cJSON_GetArraySize(ids);

    if (!cJSON_IsArray(ids) || n < 2
        || n > NGX_HTTP_LIVE_RECORD_CONCAT_MAX_SOURCES)
    {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                   "invalid_field",
                   "\"file_ids\" must be an array of 2 to %d file ids",
                   NGX_HTTP_LIVE_RECORD_CONCAT_MAX_SOURCES);
        return NGX_ERROR;
    }

    cJSON_ArrayForEach(item, ids) {
        id = ngx_array_push(&plan->ids);
        if (id == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_ERROR;
        }

        if (!cJSON_IsString(item)) {
            goto invalid;
        }

        id->data = (u_char *) item->valuestring;
        id->len = ngx_strlen(id->data);

        if (ngx_http_live_record_valid_id(id) != NGX_OK) {
            goto invalid;
        }

        /* the body is freed after the call: the ids are copied */

        id->data = ngx_pstrdup(r->pool, id);
        if (id->data == NULL) {
            *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
            return NGX_ERROR;
        }

        other = plan->ids.elts;

        for (i = 0; i + 1 < plan->ids.nelts; i++) {
            if (other[i].len == id->len
                && ngx_strncmp(other[i].data, id->data, id->len) == 0)
            {
                *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                                 "invalid_field",
                                                 "\"%V\" is given twice in "
                                                 "\"file_ids\"", id);
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;

invalid:

    *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST, "invalid_field",
                                     "\"file_ids\" item %ui is not a valid "
                                     "file id", plan->ids.nelts);
    return NGX_ERROR;
}


static ngx_int_t
ngx_http_live_record_concat_name(ngx_http_request_t *r, cJSON *body,
    const char *field, ngx_str_t *dst, ngx_int_t *rc)
{
    cJSON      *item;
    ngx_str_t   v;

    ngx_str_null(dst);

    item = cJSON_GetObjectItemCaseSensitive(body, field);

    if (item == NULL) {
        return NGX_OK;
    }

    if (cJSON_IsString(item)) {
        v.data = (u_char *) item->valuestring;
        v.len = ngx_strlen(v.data);

        if (ngx_http_live_record_valid_id(&v) == NGX_OK) {
            dst->data = ngx_pstrdup(r->pool, &v);
            dst->len = v.len;

            if (dst->data == NULL) {
                *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
                return NGX_ERROR;
            }

            return NGX_OK;
        }
    }

    *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST, "invalid_field",
                                     "\"%s\" must be a string of 1 to 200 "
                                     "of A-Z a-z 0-9 . _ -, not starting "
                                     "with a dot", field);
    return NGX_ERROR;
}


/* in the thread: the sources, their order, and whether they fit */

static void
ngx_http_live_record_concat_prepare(ngx_http_live_record_thread_t *t,
    ngx_log_t *log)
{
    ngx_http_live_record_plan_t *plan = t->data;

    ngx_int_t   rc;
    ngx_str_t   error;

    if (ngx_http_live_record_concat_sources(t, plan, log) != NGX_OK) {
        ngx_http_live_record_concat_unfetch(t, log);
        return;
    }

    if (ngx_array_init(&plan->mismatches, t->pool, 4,
                       sizeof(ngx_live_record_concat_mismatch_t)) != NGX_OK)
    {
        (void) ngx_http_live_record_plan_internal(t, "out of memory");
        return;
    }

    ngx_str_null(&error);

    rc = ngx_live_record_concat_probe(t->pool, log, plan->srcs,
                                      plan->entries.nelts,
                                      &plan->mismatches, &error);

    if (rc == NGX_ERROR) {
        (void) ngx_http_live_record_plan_error(t, NGX_HTTP_CONFLICT,
                                               "unreadable",
                                               "a source cannot be read: %V",
                                               &error);
        ngx_http_live_record_concat_unfetch(t, log);
        return;
    }

    if (rc == NGX_DECLINED) {
        plan->status = NGX_HTTP_BAD_REQUEST;
        plan->code = "incompatible";
        ngx_http_live_record_concat_unfetch(t, log);
    }
}


static ngx_int_t
ngx_http_live_record_concat_sources(ngx_http_live_record_thread_t *t,
    ngx_http_live_record_plan_t *plan, ngx_log_t *log)
{
    ngx_int_t                      rc;
    ngx_str_t                     *id, s, fmt, store, path, app, stream;
    u_char                         fetch;
    ngx_uint_t                     i, j, mp4, flv;
    ngx_http_live_record_entry_t  *e, *first, tmp;

    if (ngx_array_init(&plan->entries, t->pool, 8,
                       sizeof(ngx_http_live_record_entry_t)) != NGX_OK)
    {
        return ngx_http_live_record_plan_internal(t, "out of memory");
    }

    if (plan->picked) {
        if (ngx_http_live_record_concat_rows(t, plan) != NGX_OK) {
            return NGX_ERROR;
        }

    } else if (plan->session.len == 0) {
        id = plan->ids.elts;

        for (i = 0; i < plan->ids.nelts; i++) {
            e = ngx_array_push(&plan->entries);
            if (e == NULL) {
                return ngx_http_live_record_plan_internal(t, "out of memory");
            }

            rc = ngx_http_live_record_index_find(t->pool, &plan->index,
                                                 &id[i], e, log);

            if (rc == NGX_DECLINED) {
                return ngx_http_live_record_plan_error(t, NGX_HTTP_NOT_FOUND,
                                                       "not_found",
                                                       "no file \"%V\"",
                                                       &id[i]);
            }

            if (rc != NGX_OK) {
                return ngx_http_live_record_plan_internal(t,
                           "the index entry of \"%V\" could not be read",
                           &id[i]);
            }
        }

    } else {
        if (ngx_http_live_record_index_session(t->pool, &plan->index,
                                               &plan->session, &plan->app,
                                               &plan->stream, &plan->entries,
                                               log)
            != NGX_OK)
        {
            return ngx_http_live_record_plan_internal(t,
                       "the index could not be read");
        }
    }

    if (plan->session.len) {

        /* one format: the one asked for, else mp4 if there is any */

        mp4 = 0;
        flv = 0;
        e = plan->entries.elts;

        for (i = 0; i < plan->entries.nelts; i++) {
            if (ngx_http_live_record_entry_str(e[i].json, "file_format", &s)
                == NGX_OK && s.len == 3)
            {
                mp4 += (ngx_strncmp(s.data, "mp4", 3) == 0);
                flv += (ngx_strncmp(s.data, "flv", 3) == 0);
            }
        }

        if (plan->format.len == 0) {
            ngx_str_set(&plan->format, "mp4");

            if (mp4 == 0 && flv) {
                ngx_str_set(&plan->format, "flv");
            }
        }

        for (i = 0, j = 0; i < plan->entries.nelts; i++) {
            if (ngx_http_live_record_entry_str(e[i].json, "file_format", &s)
                == NGX_OK
                && s.len == plan->format.len
                && ngx_strncmp(s.data, plan->format.data, s.len) == 0)
            {
                e[j++] = e[i];
            }
        }

        plan->entries.nelts = j;

        if (j < 2) {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_BAD_REQUEST,
                       "too_few_parts",
                       "the session \"%V\" has %ui %V part%s, concat needs "
                       "2 or more", &plan->session, j, &plan->format,
                       j == 1 ? "" : "s");
        }
    }

    e = plan->entries.elts;
    first = &e[0];

    plan->srcs = ngx_pcalloc(t->pool, plan->entries.nelts
                                      * sizeof(ngx_live_record_concat_src_t));
    if (plan->srcs == NULL) {
        return ngx_http_live_record_plan_internal(t, "out of memory");
    }

    for (i = 0; i < plan->entries.nelts; i++) {

        if (e[i].app.len != first->app.len
            || ngx_strncmp(e[i].app.data, first->app.data, e[i].app.len) != 0
            || e[i].stream.len != first->stream.len
            || ngx_strncmp(e[i].stream.data, first->stream.data,
                           e[i].stream.len) != 0)
        {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_BAD_REQUEST,
                       "different_streams",
                       "\"%V\" is of \"%V/%V\", \"%V\" of \"%V/%V\": the "
                       "parts must be of one stream", &first->id,
                       &first->app, &first->stream, &e[i].id, &e[i].app,
                       &e[i].stream);
        }

        app = plan->app;
        stream = plan->stream;

        if ((app.len && (app.len != e[i].app.len
                         || ngx_strncmp(app.data, e[i].app.data, app.len)
                            != 0))
            || (stream.len && (stream.len != e[i].stream.len
                               || ngx_strncmp(stream.data, e[i].stream.data,
                                              stream.len) != 0)))
        {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_BAD_REQUEST,
                       "different_streams",
                       "\"%V\" is of \"%V/%V\", not of the app and stream "
                       "given", &e[i].id, &e[i].app, &e[i].stream);
        }

        if (ngx_http_live_record_entry_str(e[i].json, "file_format", &fmt)
            != NGX_OK
            || fmt.len != 3
            || (ngx_strncmp(fmt.data, "mp4", 3) != 0
                && ngx_strncmp(fmt.data, "flv", 3) != 0))
        {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_BAD_REQUEST,
                       "invalid_format",
                       "\"%V\" is not an mp4 or flv part", &e[i].id);
        }

        if (i == 0) {
            plan->format = fmt;

        } else if (ngx_strncmp(fmt.data, plan->format.data, 3) != 0) {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_BAD_REQUEST,
                       "invalid_format",
                       "\"%V\" is %V, \"%V\" is %V: the parts must be of one "
                       "format", &first->id, &plan->format, &e[i].id, &fmt);
        }

        if (ngx_http_live_record_entry_str(e[i].json, "store", &store)
            != NGX_OK
            || ngx_http_live_record_entry_str(e[i].json, "path", &path)
               != NGX_OK
            || path.len == 0)
        {
            return ngx_http_live_record_plan_internal(t,
                       "the index entry of \"%V\" has no store or path",
                       &e[i].id);
        }

        if (i == 0) {
            plan->store = store;

        } else if (store.len != plan->store.len
                   || ngx_strncmp(store.data, plan->store.data, store.len)
                      != 0)
        {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_BAD_REQUEST,
                       "different_stores",
                       "\"%V\" is in the store \"%V\", \"%V\" in \"%V\"",
                       &first->id, &plan->store, &e[i].id, &store);
        }

        if (ngx_http_live_record_concat_where(t, plan, &e[i], &path,
                                              &store, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* by start time; file_ids may come in any order */

    if (plan->session.len == 0) {
        for (i = 1; i < plan->entries.nelts; i++) {
            for (j = i; j > 0; j--) {
                if (ngx_http_live_record_concat_num(e[j - 1].json,
                                                  "start_time_ms")
                    <= ngx_http_live_record_concat_num(e[j].json,
                                                     "start_time_ms"))
                {
                    break;
                }

                tmp = e[j - 1];
                e[j - 1] = e[j];
                e[j] = tmp;

                fetch = plan->fetched[j - 1];
                plan->fetched[j - 1] = plan->fetched[j];
                plan->fetched[j] = fetch;
            }
        }
    }

    for (i = 0; i < plan->entries.nelts; i++) {
        plan->srcs[i].id = e[i].id;
        (void) ngx_http_live_record_entry_str(e[i].json, "path", &path);
        plan->srcs[i].path = path.data;

        if (i == 0) {
            plan->place = path;
        }
    }

    return ngx_http_live_record_concat_fetch(t, plan, log);
}


/* the entries from the cluster's rows: every id asked for is there */

static ngx_int_t
ngx_http_live_record_concat_rows(ngx_http_live_record_thread_t *t,
    ngx_http_live_record_plan_t *plan)
{
    ngx_str_t                     *id;
    ngx_uint_t                     i, k;
    ngx_http_live_record_one_t    *row;
    ngx_http_live_record_entry_t  *e;

    row = plan->pick.rows.elts;

    if (plan->session.len) {
        for (k = 0; k < plan->pick.rows.nelts; k++) {
            e = ngx_array_push(&plan->entries);
            if (e == NULL) {
                return ngx_http_live_record_plan_internal(t, "out of memory");
            }

            *e = row[k].entry;
        }

        return NGX_OK;
    }

    id = plan->ids.elts;

    for (i = 0; i < plan->ids.nelts; i++) {
        for (k = 0; k < plan->pick.rows.nelts; k++) {
            if (ngx_live_record_str_eq(&row[k].id, &id[i])) {
                break;
            }
        }

        if (k == plan->pick.rows.nelts) {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_NOT_FOUND,
                                                   "not_found",
                                                   "no file \"%V\"", &id[i]);
        }

        e = ngx_array_push(&plan->entries);
        if (e == NULL) {
            return ngx_http_live_record_plan_internal(t, "out of memory");
        }

        *e = row[k].entry;
    }

    return NGX_OK;
}


/*
 * Where a part is: a local file of this node, read in place; in a shared
 * store (s3, http) and not here (another node's, or not kept), fetched
 * from the store; another node's local store is out of reach.
 */

static ngx_int_t
ngx_http_live_record_concat_where(ngx_http_live_record_thread_t *t,
    ngx_http_live_record_plan_t *plan, ngx_http_live_record_entry_t *e,
    ngx_str_t *path, ngx_str_t *store, ngx_log_t *log)
{
    ngx_uint_t                   i, k;
    ngx_file_info_t              fi;
    ngx_http_live_record_one_t  *row;

    i = e - (ngx_http_live_record_entry_t *) plan->entries.elts;

    if (plan->fetched == NULL) {
        plan->fetched = ngx_pcalloc(t->pool, plan->entries.nelts);
        if (plan->fetched == NULL) {
            return ngx_http_live_record_plan_internal(t, "out of memory");
        }
    }

    row = NULL;

    if (plan->picked) {
        row = plan->pick.rows.elts;

        for (k = 0; k < plan->pick.rows.nelts; k++) {
            if (ngx_live_record_str_eq(&row[k].id, &e->id)) {
                break;
            }
        }

        row = (k < plan->pick.rows.nelts) ? &row[k] : NULL;
    }

    if (row && row->foreign
        && !(row->store_type.len == 2
             && ngx_strncmp(row->store_type.data, "s3", 2) == 0)
        && !(row->store_type.len == 4
             && ngx_strncmp(row->store_type.data, "http", 4) == 0))
    {
        return ngx_http_live_record_plan_error(t, NGX_HTTP_CONFLICT,
                   "other_node",
                   "\"%V\" was recorded by the node \"%V\" into its local "
                   "store: concat it through that node", &e->id, &row->node);
    }

    if ((row == NULL || !row->foreign)
        && ngx_file_info(path->data, &fi) != NGX_FILE_ERROR)
    {
        return NGX_OK;
    }

    /* not here: a shared store has it (another node's was checked above) */

    if (row && !(row->store_type.len == 5
                 && ngx_strncmp(row->store_type.data, "local", 5) == 0))
    {
        plan->fetched[i] = 1;
        return NGX_OK;
    }

    return ngx_http_live_record_plan_error(t, NGX_HTTP_CONFLICT, "not_local",
               "\"%V\" is not a local file (\"%V\"): concat reads local "
               "files only, or fetches them from an s3 or http store in a "
               "cluster; without one, turn on live_record_keep_local",
               &e->id, path);
}


/* in the thread: the parts not here, from their store into the work path */

static ngx_int_t
ngx_http_live_record_concat_fetch(ngx_http_live_record_thread_t *t,
    ngx_http_live_record_plan_t *plan, ngx_log_t *log)
{
    u_char                      *dst, *ext;
    ngx_str_t                    rel, path;
    ngx_uint_t                   i;
    ngx_live_record_store_t     *st;
    ngx_live_record_request_t   *req;
    ngx_live_record_app_conf_t  *lacf;
    ngx_http_live_record_entry_t  *e;

    e = plan->entries.elts;

    for (i = 0; i < plan->entries.nelts; i++) {
        if (!plan->fetched[i]) {
            continue;
        }

        lacf = ngx_http_live_record_store_app((ngx_cycle_t *) ngx_cycle,
                                              &e[i].app, &plan->store);
        if (lacf == NULL) {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_CONFLICT,
                       "store_unknown",
                       "the parts are in the store \"%V\", which is not "
                       "configured here", &plan->store);
        }

        st = &lacf->store;
        (void) ngx_http_live_record_entry_str(e[i].json, "path", &path);

        /* the key is the path in the store's local directory, as uploaded */

        if (path.len <= st->path.len + 1
            || ngx_strncmp(path.data, st->path.data, st->path.len) != 0
            || path.data[st->path.len] != '/')
        {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_CONFLICT,
                       "not_local",
                       "\"%V\" (\"%V\") is not in the store's directory "
                       "\"%V\" here: the nodes must configure the store "
                       "alike", &e[i].id, &path, &st->path);
        }

        rel.data = path.data + st->path.len + 1;
        rel.len = path.len - st->path.len - 1;

        ext = path.data + path.len - 3;

        dst = ngx_pnalloc(t->pool, lacf->work.len + plan->tag.len
                                   + NGX_INT_T_LEN + sizeof("/concat-fetch--.mp4"));
        req = ngx_live_record_store_request(t->pool, st, &rel);

        if (dst == NULL || req == NULL) {
            return ngx_http_live_record_plan_internal(t, "out of memory");
        }

        ngx_sprintf(dst, "%V/concat-fetch-%V-%ui.%s%Z", &lacf->work,
                    &plan->tag, i, ext);

        req->timeout = 0;
        req->connect_timeout = 10000;
        req->log = log;

        if (ngx_live_record_create_dirs(dst, log) != NGX_OK
            || ngx_live_record_request_download(req, dst) != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, log, 0,
                          "live record: \"%V/%V\" concat: GET %V from the "
                          "store \"%V\" failed: %s", &e[i].app,
                          &e[i].stream, &rel, &st->name, req->error);

            return ngx_http_live_record_plan_error(t, NGX_HTTP_BAD_GATEWAY,
                       "store_error",
                       "\"%V\" could not be fetched from the store \"%V\": "
                       "%s", &e[i].id, &st->name, req->error);
        }

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "live record: \"%V/%V\" concat: %V fetched from the "
                      "store \"%V\" into \"%s\"", &e[i].app, &e[i].stream,
                      &e[i].id, &st->name, dst);

        plan->srcs[i].path = dst;
        plan->nfetched++;
    }

    return NGX_OK;
}


/* in a thread: fetched parts no job took */

static void
ngx_http_live_record_concat_unfetch(ngx_http_live_record_thread_t *t,
    ngx_log_t *log)
{
    ngx_http_live_record_plan_t *plan = t->data;

    ngx_uint_t  i;

    for (i = 0; plan->nfetched && i < plan->entries.nelts; i++) {
        if (plan->fetched[i]
            && ngx_delete_file(plan->srcs[i].path) == NGX_FILE_ERROR
            && ngx_errno != NGX_ENOENT)
        {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          "live record: " ngx_delete_file_n " \"%s\" failed",
                          plan->srcs[i].path);
        }
    }

    plan->nfetched = 0;
}


static void
ngx_http_live_record_concat_unfetched(ngx_http_live_record_thread_t *t)
{
    ngx_destroy_pool(t->pool);
}


static ngx_int_t
ngx_http_live_record_plan_error(ngx_http_live_record_thread_t *t,
    ngx_uint_t status, const char *code, const char *fmt, ...)
{
    ngx_int_t  rc;
    va_list    args;

    va_start(args, fmt);
    rc = ngx_http_live_record_plan_verror(t, status, code, fmt, args);
    va_end(args);

    return rc;
}


static ngx_int_t
ngx_http_live_record_plan_internal(ngx_http_live_record_thread_t *t,
    const char *fmt, ...)
{
    ngx_int_t  rc;
    va_list    args;

    va_start(args, fmt);
    rc = ngx_http_live_record_plan_verror(t, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                          "internal_error", fmt, args);
    va_end(args);

    return rc;
}


static ngx_int_t
ngx_http_live_record_plan_verror(ngx_http_live_record_thread_t *t,
    ngx_uint_t status, const char *code, const char *fmt, va_list args)
{
    ngx_http_live_record_plan_t *plan = t->data;

    u_char  *p, text[NGX_MAX_ERROR_STR];

    p = ngx_vslprintf(text, text + sizeof(text), fmt, args);

    plan->status = status;
    plan->code = code;
    plan->message.len = p - text;
    plan->message.data = ngx_pnalloc(t->pool, plan->message.len);

    if (plan->message.data == NULL) {
        ngx_str_set(&plan->message, "out of memory");

    } else {
        ngx_memcpy(plan->message.data, text, plan->message.len);
    }

    return NGX_ERROR;
}


static void
ngx_http_live_record_concat_prepared(ngx_http_live_record_thread_t *t)
{
    ngx_http_live_record_plan_t *plan = t->data;

    ngx_int_t                      rc;
    ngx_http_request_t            *r;
    ngx_live_record_app_conf_t    *lacf;
    ngx_http_live_record_entry_t  *first;

    r = t->r;

    if (plan->code && ngx_strcmp(plan->code, "incompatible") == 0) {
        rc = ngx_http_live_record_concat_incompatible(r, plan);

    } else if (plan->status) {
        rc = ngx_http_live_record_error(r, plan->status, plan->code, "%V",
                                        &plan->message);

    } else {
        first = plan->entries.elts;
        lacf = ngx_http_live_record_store_app((ngx_cycle_t *) ngx_cycle,
                                              &first->app, &plan->store);

        if (lacf == NULL) {
            rc = ngx_http_live_record_error(r, NGX_HTTP_CONFLICT,
                                            "store_unknown",
                                            "the parts are in the store "
                                            "\"%V\", which is no longer "
                                            "configured", &plan->store);

        } else {
            rc = ngx_http_live_record_concat_start(r, plan, lacf);
        }
    }

    if (plan->nfetched && !plan->taken) {
        ngx_http_live_record_concat_drop(plan);
    }

    ngx_http_finalize_request(r, rc);
}


/* the fetched parts go, in a thread: the plan's pool goes with r */

static void
ngx_http_live_record_concat_drop(ngx_http_live_record_plan_t *plan)
{
    ngx_str_t                       path;
    ngx_uint_t                      i;
    ngx_pool_t                     *pool;
    ngx_http_live_record_plan_t    *copy;
    ngx_http_live_record_thread_t  *t;

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    copy = ngx_pcalloc(pool, sizeof(ngx_http_live_record_plan_t));
    if (copy == NULL) {
        goto failed;
    }

    copy->entries = plan->entries;
    copy->nfetched = plan->nfetched;
    copy->fetched = ngx_pnalloc(pool, plan->entries.nelts);
    copy->srcs = ngx_pcalloc(pool, plan->entries.nelts
                                   * sizeof(ngx_live_record_concat_src_t));

    if (copy->fetched == NULL || copy->srcs == NULL) {
        goto failed;
    }

    for (i = 0; i < plan->entries.nelts; i++) {
        copy->fetched[i] = plan->fetched[i];

        if (plan->fetched[i]) {
            path.data = plan->srcs[i].path;
            path.len = ngx_strlen(path.data) + 1;

            copy->srcs[i].path = ngx_pstrdup(pool, &path);
            if (copy->srcs[i].path == NULL) {
                goto failed;
            }
        }
    }

    t = ngx_http_live_record_thread(NULL, pool,
                                    ngx_http_live_record_concat_unfetch,
                                    ngx_http_live_record_concat_unfetched,
                                    copy);

    if (t != NULL && ngx_http_live_record_thread_post(t, NULL) == NGX_OK) {
        return;
    }

failed:

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "live record: concat: the parts fetched for a refused "
                  "job stay in the work path");
    ngx_destroy_pool(pool);
}


/* 400 with every difference found, as a list and in the message */

static ngx_int_t
ngx_http_live_record_concat_incompatible(ngx_http_request_t *r,
    ngx_http_live_record_plan_t *plan)
{
    u_char                             *p, *last, text[NGX_MAX_ERROR_STR];
    cJSON                              *o, *list, *m;
    ngx_uint_t                          i;
    ngx_live_record_concat_src_t       *src;
    ngx_live_record_concat_mismatch_t  *mm;

    mm = plan->mismatches.elts;
    src = plan->srcs;

    p = text;
    last = text + sizeof(text) - 1;

    p = ngx_slprintf(p, last, "the parts cannot be joined without "
                     "re-encoding:");

    for (i = 0; i < plan->mismatches.nelts; i++) {
        p = ngx_slprintf(p, last, "%s \"%V\": %V", i ? ";" : "",
                         &src[mm[i].src].id, &mm[i].what);
    }

    *p = '\0';

    o = cJSON_CreateObject();
    list = cJSON_CreateArray();

    if (o == NULL || list == NULL
        || cJSON_AddStringToObject(o, "code", "incompatible") == NULL
        || cJSON_AddStringToObject(o, "message", (char *) text) == NULL
        || !cJSON_AddItemToObject(o, "mismatches", list))
    {
        cJSON_Delete(o);
        cJSON_Delete(list);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < plan->mismatches.nelts; i++) {
        m = cJSON_CreateObject();

        if (m == NULL || !cJSON_AddItemToArray(list, m)
            || ngx_live_record_json_set(m, "file_id", &src[mm[i].src].id)
               == NULL
            || ngx_live_record_json_set(m, "mismatch", &mm[i].what) == NULL)
        {
            cJSON_Delete(o);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_live_record_send(r, NGX_HTTP_BAD_REQUEST, o);
}


/* GET /concat and GET /concat/ID */

static ngx_int_t
ngx_http_live_record_concat_get(ngx_http_request_t *r, ngx_str_t *id)
{
    cJSON  *o, *list;

    list = ngx_http_live_record_jobs_json(id);
    if (list == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (id == NULL) {
        o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToObject(o, "jobs", list)) {
            cJSON_Delete(o);
            cJSON_Delete(list);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
    }

    if (cJSON_GetArraySize(list) == 0) {
        cJSON_Delete(list);
        return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                          "no concat job \"%V\"", id);
    }

    o = cJSON_DetachItemFromArray(list, 0);
    cJSON_Delete(list);

    return ngx_http_live_record_send(r, NGX_HTTP_OK, o);
}

double
ngx_http_live_record_concat_num(cJSON *o, const char *name)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(item) ? item->valuedouble : 0;
}
