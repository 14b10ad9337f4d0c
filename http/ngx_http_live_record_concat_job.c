
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
#include "ngx_live_record_concat.h"
#include "ngx_live_record_deliver.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_shm.h"


/*
 * A concat job's run: the sources the plan found go into a job in the
 * shared zone (GET /concat/ID from any worker), the remux runs in the
 * thread pool, the result is stored next to the first source, indexed
 * as a file of its own, handed to the store and announced with a
 * concat_done event (concat_failed when it fails).
 */


#define NGX_HTTP_LIVE_RECORD_CONCAT_BUSY_MS      1000
#define NGX_HTTP_LIVE_RECORD_CONCAT_NICE         10
#define NGX_HTTP_LIVE_RECORD_CONCAT_COPY_BUF     (256 * 1024)


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
    u_char                     *place;          /* the first's path */
    u_char                     *fetched;        /* per source */
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
static void ngx_http_live_record_cjob_cleanup(void *data);


/* the job goes into the zone and its remux into the thread pool: 202 */

ngx_int_t
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

    plan->taken = 1;

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

    cj->start_ms = (uint64_t) ngx_http_live_record_concat_num(e[0].json,
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
                             (uint64_t) ngx_http_live_record_concat_num(
                                 e[i].json, "end_time_ms"));
        cj->duration += ngx_http_live_record_concat_num(e[i].json,
                                                      "duration");
    }

    /* in ms, as the parts' */
    cj->duration = (double) (int64_t) (cj->duration * 1000 + 0.5) / 1000;

    /* the result goes next to the first source: DIR/STEM-concat.mp4 */

    path = plan->place;
    path.len++;
    cj->place = ngx_pstrdup(pool, &path);
    cj->fetched = ngx_pnalloc(pool, n);

    if (cj->place == NULL || cj->fetched == NULL) {
        goto failed;
    }

    for (i = 0; i < n; i++) {
        cj->fetched[i] = plan->fetched ? plan->fetched[i] : 0;
    }

    p = cj->place;
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
    ngx_int_t                    rc;
    ngx_uint_t                   i;
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

    rc = ngx_live_record_concat_run(cj->pool, log, &cj->label, cj->srcs,
                                    cj->n, cj->work, &cj->job->progress,
                                    &cj->stats, &cj->error);

    /* parts fetched from the store were for this run only */

    for (i = 0; i < cj->n; i++) {
        if (cj->fetched[i]) {
            (void) ngx_delete_file(cj->srcs[i].path);
        }
    }

    if (rc != NGX_OK) {
        return;
    }

    /* another node's directory may be new here */

    if (ngx_live_record_create_dirs(cj->place, log) != NGX_OK) {
        ngx_str_set(&cj->error, "the store's directory could not be "
                                "created");
        (void) ngx_delete_file(cj->work);
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
