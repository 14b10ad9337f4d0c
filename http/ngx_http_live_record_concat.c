
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"
#include "ngx_http_live_record_index.h"
#include "ngx_http_live_record_jobs.h"
#include "ngx_live_record_concat.h"
#include "ngx_live_record_deliver.h"
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
 * with a concat_done event.
 */


#define NGX_HTTP_LIVE_RECORD_CONCAT_MAX_SOURCES  256
#define NGX_HTTP_LIVE_RECORD_CONCAT_BUSY_MS      1000
#define NGX_HTTP_LIVE_RECORD_CONCAT_NICE         10
#define NGX_HTTP_LIVE_RECORD_CONCAT_COPY_BUF     (256 * 1024)


/* POST /concat: what was asked, then what the thread found */
typedef struct {
    ngx_str_t                   index;
    ngx_array_t                 ids;            /* ngx_str_t */
    ngx_str_t                   session;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_str_t                   format;

    ngx_array_t                 entries;        /* ..._entry_t, by time */
    ngx_live_record_concat_src_t  *srcs;
    ngx_array_t                 mismatches;
    ngx_str_t                   store;
    ngx_uint_t                  status;         /* of an error answer */
    const char                 *code;
    ngx_str_t                   message;
} ngx_http_live_record_plan_t;


/* a job in this worker, from its start to its end */
typedef struct {
    ngx_pool_t                 *pool;
    ngx_live_record_main_conf_t *lmcf;
    ngx_live_record_app_conf_t *lacf;
    ngx_http_live_record_job_t *job;            /* in the zone */
    ngx_str_t                   job_id;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_str_t                   label;          /* "app/stream" */
    ngx_str_t                   file_id;
    ngx_live_record_concat_src_t  *srcs;
    ngx_uint_t                  n;
    u_char                     *work;           /* null-terminated */
    ngx_str_t                   dir;            /* of the first source */
    ngx_str_t                   stem;           /* its name, no extension */
    cJSON                      *entry;
    uint64_t                    start_ms;
    uint64_t                    end_ms;
    double                      duration;       /* s, of the sources */

    ngx_int_t                   rc;
    ngx_str_t                   error;
    ngx_str_t                   path;           /* the result */
    ngx_str_t                   rel;            /* in the store */
    off_t                       size;
    ngx_live_record_concat_stats_t  stats;
    ngx_live_record_delivery_t  delivery;       /* of the result */
} ngx_http_live_record_cjob_t;


static ngx_int_t ngx_http_live_record_concat_create(ngx_http_request_t *r,
    cJSON *body);
static ngx_int_t ngx_http_live_record_concat_body(ngx_http_request_t *r,
    cJSON *body, ngx_http_live_record_plan_t *plan, ngx_int_t *rc);
static ngx_int_t ngx_http_live_record_concat_name(ngx_http_request_t *r,
    cJSON *body, const char *field, ngx_str_t *dst, ngx_int_t *rc);
static void ngx_http_live_record_concat_prepare(
    ngx_http_live_record_thread_t *t, ngx_log_t *log);
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
static ngx_int_t ngx_http_live_record_concat_start(ngx_http_request_t *r,
    ngx_http_live_record_plan_t *plan, ngx_live_record_app_conf_t *lacf);
static ngx_http_live_record_cjob_t *ngx_http_live_record_cjob(
    ngx_http_request_t *r, ngx_http_live_record_plan_t *plan,
    ngx_live_record_app_conf_t *lacf);
static void ngx_http_live_record_concat_remux(
    ngx_http_live_record_thread_t *t, ngx_log_t *log);
static ngx_int_t ngx_http_live_record_concat_place(
    ngx_http_live_record_cjob_t *cj, ngx_log_t *log);
static ngx_int_t ngx_http_live_record_concat_entry(
    ngx_http_live_record_cjob_t *cj, u_char *sha256);
static void ngx_http_live_record_concat_remuxed(
    ngx_http_live_record_thread_t *t);
static void ngx_http_live_record_concat_finish(
    ngx_http_live_record_cjob_t *cj);
static ngx_int_t ngx_http_live_record_concat_get(ngx_http_request_t *r,
    ngx_str_t *id);
static double ngx_http_live_record_json_num(cJSON *o, const char *name);
static void ngx_http_live_record_cjob_cleanup(void *data);


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
    ngx_live_record_main_conf_t    *lmcf;
    ngx_http_live_record_plan_t    *plan;
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
        return;
    }

    if (rc == NGX_DECLINED) {
        plan->status = NGX_HTTP_BAD_REQUEST;
        plan->code = "incompatible";
    }
}


static ngx_int_t
ngx_http_live_record_concat_sources(ngx_http_live_record_thread_t *t,
    ngx_http_live_record_plan_t *plan, ngx_log_t *log)
{
    ngx_int_t                      rc;
    ngx_str_t                     *id, s, fmt, store, path, app, stream;
    ngx_uint_t                     i, j, mp4, flv;
    ngx_file_info_t                fi;
    ngx_http_live_record_entry_t  *e, *first, tmp;

    if (ngx_array_init(&plan->entries, t->pool, 8,
                       sizeof(ngx_http_live_record_entry_t)) != NGX_OK)
    {
        return ngx_http_live_record_plan_internal(t, "out of memory");
    }

    if (plan->session.len == 0) {
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

        /* a remote store's file is here only if it was kept */

        if (ngx_file_info(path.data, &fi) == NGX_FILE_ERROR) {
            return ngx_http_live_record_plan_error(t, NGX_HTTP_CONFLICT,
                       "not_local",
                       "\"%V\" is not a local file (\"%V\"): concat reads "
                       "local files only; for a remote store, turn on "
                       "live_record_keep_local", &e[i].id, &path);
        }
    }

    /* by start time; file_ids may come in any order */

    if (plan->session.len == 0) {
        for (i = 1; i < plan->entries.nelts; i++) {
            for (j = i; j > 0; j--) {
                if (ngx_http_live_record_json_num(e[j - 1].json,
                                                  "start_time_ms")
                    <= ngx_http_live_record_json_num(e[j].json,
                                                     "start_time_ms"))
                {
                    break;
                }

                tmp = e[j - 1];
                e[j - 1] = e[j];
                e[j] = tmp;
            }
        }
    }

    for (i = 0; i < plan->entries.nelts; i++) {
        plan->srcs[i].id = e[i].id;
        (void) ngx_http_live_record_entry_str(e[i].json, "path", &path);
        plan->srcs[i].path = path.data;
    }

    return NGX_OK;
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

    ngx_http_finalize_request(r, rc);
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


/* the job goes into the zone and its remux into the thread pool: 202 */

static ngx_int_t
ngx_http_live_record_concat_start(ngx_http_request_t *r,
    ngx_http_live_record_plan_t *plan, ngx_live_record_app_conf_t *lacf)
{
    u_char                          *p;
    cJSON                           *o, *ids;
    ngx_str_t                        error, sources;
    ngx_uint_t                       i, full;
    ngx_live_record_busy_t          *busy;
    ngx_http_live_record_job_t      *job;
    ngx_http_live_record_cjob_t     *cj;
    ngx_http_live_record_thread_t   *t;

    cj = ngx_http_live_record_cjob(r, plan, lacf);
    if (cj == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sources.len = 0;

    for (i = 0; i < cj->n; i++) {
        sources.len += cj->srcs[i].id.len + 1;
    }

    sources.data = ngx_pnalloc(cj->pool, sources.len);
    if (sources.data == NULL) {
        ngx_destroy_pool(cj->pool);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = sources.data;

    for (i = 0; i < cj->n; i++) {
        p = ngx_sprintf(p, "%s%V", i ? " " : "", &cj->srcs[i].id);
    }

    sources.len = p - sources.data;
    full = 0;

    job = ngx_http_live_record_job_add(cj->pool, &cj->app, &cj->stream,
                                       &sources, &cj->file_id, &cj->job_id,
                                       &full);

    if (job == NULL) {
        ngx_destroy_pool(cj->pool);

        if (full) {
            return ngx_http_live_record_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                       "too_many_jobs",
                       "%d concat jobs are queued or running, try again "
                       "later", NGX_HTTP_LIVE_RECORD_JOB_ACTIVE);
        }

        return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "zone_full",
                                          "the shared zone is full, "
                                          "increase live_record_api_zone");
    }

    cj->job = job;

    cj->work = ngx_pnalloc(cj->pool, lacf->work.len + cj->job_id.len
                                     + sizeof("/concat-.mp4"));
    if (cj->work == NULL) {
        goto failed;
    }

    ngx_sprintf(cj->work, "%V/concat-%V.mp4%Z", &lacf->work, &cj->job_id);

    t = ngx_http_live_record_thread(NULL, cj->pool,
                                    ngx_http_live_record_concat_remux,
                                    ngx_http_live_record_concat_remuxed, cj);

    if (t == NULL || ngx_http_live_record_thread_post(t, &cj->app) != NGX_OK)
    {
        goto failed;
    }

    busy = &cj->lmcf->busy;
    busy->n++;

    if (!busy->ev.timer_set) {
        ngx_add_timer(&busy->ev, NGX_HTTP_LIVE_RECORD_CONCAT_BUSY_MS);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "live record: \"%V\" concat %V of %ui parts queued, "
                  "file %V", &cj->label, &cj->job_id, cj->n, &cj->file_id);

    o = cJSON_CreateObject();
    ids = cJSON_CreateArray();

    if (o == NULL || ids == NULL
        || ngx_live_record_json_set(o, "job_id", &cj->job_id) == NULL
        || cJSON_AddStringToObject(o, "state", "queued") == NULL
        || !cJSON_AddItemToObject(o, "file_ids", ids))
    {
        cJSON_Delete(o);
        cJSON_Delete(ids);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (i = 0; i < cj->n; i++) {
        if (ngx_http_live_record_json_push(ids, &cj->srcs[i].id) != NGX_OK) {
            cJSON_Delete(o);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_live_record_send(r, NGX_HTTP_ACCEPTED, o);

failed:

    ngx_str_set(&error, "the thread pool did not take the job");
    ngx_http_live_record_job_end(job, NGX_ERROR, &error);

    ngx_destroy_pool(cj->pool);

    return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "unavailable",
                                      "no thread pool took the job, try "
                                      "again later");
}


/* what the job needs, copied into a pool of its own: it outlives r */

static ngx_http_live_record_cjob_t *
ngx_http_live_record_cjob(ngx_http_request_t *r,
    ngx_http_live_record_plan_t *plan, ngx_live_record_app_conf_t *lacf)
{
    u_char                        *p, *last, *slash, *dot;
    ngx_str_t                      path;
    ngx_uint_t                     i, n;
    ngx_pool_t                    *pool;
    ngx_pool_cleanup_t            *cln;
    ngx_http_live_record_cjob_t   *cj;
    ngx_http_live_record_entry_t  *e;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    cj = ngx_pcalloc(pool, sizeof(ngx_http_live_record_cjob_t));
    cln = ngx_pool_cleanup_add(pool, 0);

    if (cj == NULL || cln == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    cln->handler = ngx_http_live_record_cjob_cleanup;
    cln->data = cj;

    e = plan->entries.elts;
    n = plan->entries.nelts;

    cj->pool = pool;
    cj->lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);
    cj->lacf = lacf;
    cj->n = n;

    cj->app.len = e[0].app.len;
    cj->app.data = ngx_pstrdup(pool, &e[0].app);
    cj->label.data = ngx_pnalloc(pool, e[0].app.len + 1 + e[0].stream.len);
    cj->srcs = ngx_pcalloc(pool, n * sizeof(ngx_live_record_concat_src_t));
    cj->entry = cJSON_Duplicate(e[0].json, 1);

    if (cj->app.data == NULL || cj->label.data == NULL || cj->srcs == NULL
        || cj->entry == NULL)
    {
        goto failed;
    }

    cj->label.len = ngx_sprintf(cj->label.data, "%V/%V", &e[0].app,
                                &e[0].stream)
                    - cj->label.data;

    cj->stream.data = cj->label.data + e[0].app.len + 1;
    cj->stream.len = e[0].stream.len;

    cj->start_ms = (uint64_t) ngx_http_live_record_json_num(e[0].json,
                                                            "start_time_ms");

    for (i = 0; i < n; i++) {
        cj->srcs[i].id.len = plan->srcs[i].id.len;
        cj->srcs[i].id.data = ngx_pstrdup(pool, &plan->srcs[i].id);

        path.data = plan->srcs[i].path;
        path.len = ngx_strlen(path.data) + 1;
        cj->srcs[i].path = ngx_pstrdup(pool, &path);

        if (cj->srcs[i].id.data == NULL || cj->srcs[i].path == NULL) {
            goto failed;
        }

        cj->end_ms = ngx_max(cj->end_ms,
                             (uint64_t) ngx_http_live_record_json_num(
                                 e[i].json, "end_time_ms"));
        cj->duration += ngx_http_live_record_json_num(e[i].json,
                                                      "duration");
    }

    /* in ms, as the parts' */
    cj->duration = (double) (int64_t) (cj->duration * 1000 + 0.5) / 1000;

    /* the result goes next to the first source: DIR/STEM-concat.mp4 */

    p = cj->srcs[0].path;
    last = p + ngx_strlen(p);

    for (slash = last; slash > p && slash[-1] != '/'; slash--) { /* void */ }
    for (dot = last; dot > slash && dot[-1] != '.'; dot--) { /* void */ }

    if (slash == p) {
        goto failed;
    }

    cj->dir.data = p;
    cj->dir.len = slash - 1 - p;

    /* the name without its extension */

    cj->stem.data = slash;
    cj->stem.len = ((dot > slash) ? dot - 1 : last) - slash;

    /* a file id like the recorder's: time-sortable and unique */

    cj->file_id.data = ngx_pnalloc(pool, NGX_INT64_LEN * 3
                                         + cj->lmcf->node_id.len + 16);
    if (cj->file_id.data == NULL) {
        goto failed;
    }

    cj->file_id.len = ngx_sprintf(cj->file_id.data, "%013uL-%V-%P-%ui-mp4",
                                  cj->start_ms, &cj->lmcf->node_id, ngx_pid,
                                  ++cj->lmcf->seq)
                      - cj->file_id.data;

    return cj;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


static void
ngx_http_live_record_cjob_cleanup(void *data)
{
    ngx_http_live_record_cjob_t *cj = data;

    if (cj->entry) {
        cJSON_Delete(cj->entry);
        cj->entry = NULL;
    }
}


/* in the thread: remux, then into the store, then the index entry */

static void
ngx_http_live_record_concat_remux(ngx_http_live_record_thread_t *t,
    ngx_log_t *log)
{
    ngx_http_live_record_cjob_t *cj = t->data;

    u_char                       sha256[65];
    ngx_file_info_t              fi;
    ngx_live_record_delivery_t  *d;

#if (NGX_LINUX)
    /* bulk work: where the pool shares a CPU with the worker, the loop wins */
    (void) setpriority(PRIO_PROCESS, ngx_thread_tid(),
                       NGX_HTTP_LIVE_RECORD_CONCAT_NICE);
#endif

    cj->job->state = NGX_HTTP_LIVE_RECORD_JOB_RUNNING;
    cj->rc = NGX_ERROR;

    if (ngx_live_record_create_dirs(cj->work, log) != NGX_OK) {
        ngx_str_set(&cj->error, "the work directory could not be created");
        return;
    }

    if (ngx_live_record_concat_run(cj->pool, log, &cj->label, cj->srcs,
                                   cj->n, cj->work, &cj->job->progress,
                                   &cj->stats, &cj->error)
        != NGX_OK)
    {
        return;
    }

    if (ngx_live_record_sha256(cj->work, sha256, log) != NGX_OK
        || ngx_file_info(cj->work, &fi) == NGX_FILE_ERROR)
    {
        ngx_str_set(&cj->error, "the result could not be read back");
        (void) ngx_delete_file(cj->work);
        return;
    }

    if (ngx_http_live_record_concat_place(cj, log) != NGX_OK) {
        (void) ngx_delete_file(cj->work);
        return;
    }

    cj->size = ngx_file_size(&fi);

    if (ngx_http_live_record_concat_entry(cj, sha256) != NGX_OK) {
        ngx_str_set(&cj->error, "the index entry could not be made");
        (void) ngx_delete_file(cj->path.data);
        return;
    }

    d = &cj->delivery;

    d->lmcf = cj->lmcf;
    d->lacf = cj->lacf;
    d->label = &cj->label;
    d->file_id = &cj->file_id;
    d->local = cj->path.data;
    d->rel = cj->rel;
    d->size = cj->size;
    d->entry = cj->entry;
    d->event = "concat_done";

    if (ngx_live_record_deliver_index(d, log) == NGX_ERROR) {
        ngx_str_set(&cj->error, "the index entry could not be written");
        (void) ngx_delete_file(cj->path.data);
        return;
    }

    cj->rc = NGX_OK;
}


/*
 * The result gets a name no file in the store has: a hard link fails
 * rather than replace one, so two jobs never take the same name.
 */

static ngx_int_t
ngx_http_live_record_concat_place(ngx_http_live_record_cjob_t *cj,
    ngx_log_t *log)
{
    u_char          *src, *tmp;
    ngx_err_t        err;
    ngx_uint_t       k;
    ngx_copy_file_t  cf;

    cj->path.data = ngx_pnalloc(cj->pool, cj->dir.len + cj->stem.len
                                          + NGX_INT_T_LEN
                                          + sizeof("/-concat_.mp4"));
    tmp = ngx_pnalloc(cj->pool, cj->dir.len + cj->job_id.len
                                + sizeof("/.concat-.tmp"));

    if (cj->path.data == NULL || tmp == NULL) {
        ngx_str_set(&cj->error, "out of memory");
        return NGX_ERROR;
    }

    src = cj->work;

    for (k = 1; k < 1000; k++) {
        if (k == 1) {
            cj->path.len = ngx_sprintf(cj->path.data, "%V/%V-concat.mp4%Z",
                                       &cj->dir, &cj->stem)
                           - cj->path.data - 1;

        } else {
            cj->path.len = ngx_sprintf(cj->path.data,
                                       "%V/%V-concat_%ui.mp4%Z",
                                       &cj->dir, &cj->stem, k)
                           - cj->path.data - 1;
        }

        if (link((char *) src, (char *) cj->path.data) == 0) {
            (void) ngx_delete_file(src);
            return NGX_OK;
        }

        err = ngx_errno;

        if (err == NGX_EEXIST) {
            continue;
        }

        if (err != NGX_EXDEV || src != cj->work) {
            ngx_log_error(NGX_LOG_CRIT, log, err,
                          "live record: \"%V\" concat %V: link(\"%s\", "
                          "\"%V\") failed", &cj->label, &cj->job_id, src,
                          &cj->path);
            ngx_str_set(&cj->error, "the result could not be moved into "
                                    "the store");
            break;
        }

        /* the work path is on another filesystem: a copy there first */

        ngx_sprintf(tmp, "%V/.concat-%V.tmp%Z", &cj->dir, &cj->job_id);

        cf.size = -1;
        cf.buf_size = NGX_HTTP_LIVE_RECORD_CONCAT_COPY_BUF;
        cf.access = NGX_FILE_DEFAULT_ACCESS;
        cf.time = -1;
        cf.log = log;

        if (ngx_copy_file(cj->work, tmp, &cf) != NGX_OK) {
            ngx_str_set(&cj->error, "the result could not be copied into "
                                    "the store");
            (void) ngx_delete_file(tmp);
            return NGX_ERROR;
        }

        (void) ngx_delete_file(cj->work);
        src = tmp;
        k--;
    }

    if (src != cj->work) {
        (void) ngx_delete_file(src);
    }

    if (k == 1000) {
        ngx_str_set(&cj->error, "no free name for the result");
    }

    return NGX_ERROR;
}


/* the first source's entry, made the result's */

static ngx_int_t
ngx_http_live_record_concat_entry(ngx_http_live_record_cjob_t *cj,
    u_char *sha256)
{
    cJSON                    *o, *ids, *src;
    ngx_str_t                 s, url;
    ngx_uint_t                i;
    ngx_live_record_store_t  *st;

    static const char  *replaced[] = {
        "file_id", "file_format", "end_time", "end_time_ms", "duration",
        "file_size", "sha256", "end_reason", "path", "video_url", "sources",
        "job_id", "index_id", NULL
    };

    const char  **f;

    o = cj->entry;
    st = &cj->lacf->store;

    for (f = replaced; *f; f++) {
        cJSON_DeleteItemFromObjectCaseSensitive(o, *f);
    }

    /* the name in the store: the url's path, a remote store's key */

    if (cj->path.len > st->path.len + 1
        && ngx_strncmp(cj->path.data, st->path.data, st->path.len) == 0
        && cj->path.data[st->path.len] == '/')
    {
        cj->rel.data = cj->path.data + st->path.len + 1;
        cj->rel.len = cj->path.len - st->path.len - 1;

    } else if (st->type != NGX_LIVE_RECORD_STORE_LOCAL) {
        return NGX_ERROR;
    }

    ngx_str_null(&url);

    /* a remote store's url comes with the upload */

    if (st->type == NGX_LIVE_RECORD_STORE_LOCAL && st->url.len
        && cj->rel.len)
    {
        url.data = ngx_pnalloc(cj->pool, st->url.len + 1 + cj->rel.len);
        if (url.data == NULL) {
            return NGX_ERROR;
        }

        url.len = ngx_sprintf(url.data, "%V/%V", &st->url, &cj->rel)
                  - url.data;
    }

    s.data = sha256;
    s.len = ngx_strlen(sha256);

    if (ngx_live_record_json_set(o, "file_id", &cj->file_id) == NULL
        || cJSON_AddStringToObject(o, "file_format", "mp4") == NULL
        || cJSON_AddNumberToObject(o, "end_time", (double) (cj->end_ms / 1000))
           == NULL
        || cJSON_AddNumberToObject(o, "end_time_ms", (double) cj->end_ms)
           == NULL
        || cJSON_AddNumberToObject(o, "duration", cj->duration) == NULL
        || cJSON_AddNumberToObject(o, "file_size", (double) cj->size)
           == NULL
        || ngx_live_record_json_set(o, "sha256", &s) == NULL
        || cJSON_AddStringToObject(o, "end_reason", "concat") == NULL
        || ngx_live_record_json_set(o, "path", &cj->path) == NULL
        || (url.len ? ngx_live_record_json_set(o, "video_url", &url)
                    : cJSON_AddNullToObject(o, "video_url")) == NULL
        || ngx_live_record_json_set(o, "job_id", &cj->job_id) == NULL)
    {
        return NGX_ERROR;
    }

    ids = cJSON_AddArrayToObject(o, "sources");
    if (ids == NULL) {
        return NGX_ERROR;
    }

    /* like a recording's sources: what it was made from */

    for (i = 0; i < cj->n; i++) {
        src = cJSON_CreateObject();

        if (src == NULL || !cJSON_AddItemToArray(ids, src)) {
            cJSON_Delete(src);
            return NGX_ERROR;
        }

        if (cJSON_AddStringToObject(src, "type", "file") == NULL
            || ngx_live_record_json_set(src, "file_id", &cj->srcs[i].id)
               == NULL)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_http_live_record_concat_remuxed(ngx_http_live_record_thread_t *t)
{
    ngx_http_live_record_cjob_t *cj = t->data;

    ngx_http_live_record_concat_finish(cj);

    cj->lmcf->busy.n--;

    ngx_destroy_pool(cj->pool);
}


/* the job's end in the zone, the log and the receivers */

static void
ngx_http_live_record_concat_finish(ngx_http_live_record_cjob_t *cj)
{
    cJSON      *o;
    ngx_int_t   rc;

    rc = NGX_OK;

    if (cj->rc == NGX_OK) {
        rc = ngx_live_record_deliver(&cj->delivery);

        if (rc == NGX_ERROR) {
            ngx_str_set(&cj->error, "the upload could not start");
            cj->rc = NGX_ERROR;
        }
    }

    ngx_http_live_record_job_end(cj->job, cj->rc, &cj->error);

    if (cj->rc != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: \"%V\" concat %V failed: %V",
                      &cj->label, &cj->job_id, &cj->error);

        o = cJSON_CreateObject();

        if (o == NULL
            || ngx_live_record_json_set(o, "job_id", &cj->job_id) == NULL
            || ngx_live_record_json_set(o, "app", &cj->app) == NULL
            || ngx_live_record_json_set(o, "stream_id", &cj->stream) == NULL
            || ngx_live_record_json_set(o, "message", &cj->error) == NULL)
        {
            cJSON_Delete(o);
            return;
        }

        (void) ngx_live_record_notify_event(cj->lmcf, cj->lacf->notify,
                                            "concat_failed", o);
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "live record: \"%V\" concat %V done: \"%V\" %ui parts, "
                  "%ui video and %ui audio frames, duration=%.3fs",
                  &cj->label, &cj->job_id, &cj->path, cj->n,
                  cj->stats.packets[0], cj->stats.packets[1],
                  (double) cj->stats.duration / 1000);

    if (rc == NGX_AGAIN) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: \"%V\" concat %V: uploading %V to "
                      "\"%V\"", &cj->label, &cj->job_id, &cj->file_id,
                      &cj->lacf->store.name);
    }
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


static double
ngx_http_live_record_json_num(cJSON *o, const char *name)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, name);

    return cJSON_IsNumber(item) ? item->valuedouble : 0;
}
