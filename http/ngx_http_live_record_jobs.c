
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"
#include "ngx_live_record_concat.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_shm.h"
#include "ngx_http_live_record_jobs.h"


/*
 * The concat jobs of the shared zone (see ngx_http_live_record_jobs.h):
 * every access holds the zone's mutex, except the job's own thread,
 * which writes state and progress, one word each.
 */


#define NGX_HTTP_LIVE_RECORD_JOB_KEEP      100
#define NGX_HTTP_LIVE_RECORD_JOB_KEEP_MS   (24 * 3600 * 1000)


static void ngx_http_live_record_job_purge(ngx_live_record_shm_t *sh,
    ngx_slab_pool_t *shpool, uint64_t now);
static void ngx_http_live_record_job_free(ngx_slab_pool_t *shpool,
    ngx_http_live_record_job_t *job);
static cJSON *ngx_http_live_record_job_json(ngx_http_live_record_job_t *job);
static ngx_uint_t ngx_http_live_record_job_alive(
    ngx_http_live_record_job_t *job);
static ngx_int_t ngx_http_live_record_ids_has(ngx_str_t *ids, ngx_str_t *id);


static const char  *ngx_http_live_record_job_states[] = {
    "queued", "running", "done", "failed"
};


ngx_http_live_record_job_t *
ngx_http_live_record_job_add(ngx_pool_t *pool, ngx_str_t *app,
    ngx_str_t *stream, ngx_str_t *sources, ngx_str_t *file_id, ngx_str_t *id,
    ngx_uint_t *full)
{
    uint64_t                       now;
    ngx_uint_t                     active;
    ngx_queue_t                   *q;
    ngx_slab_pool_t               *shpool;
    ngx_live_record_shm_t         *sh;
    ngx_http_live_record_job_t    *job;
    ngx_live_record_main_conf_t   *lmcf;

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, &shpool);
    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    if (sh == NULL || lmcf == NULL) {
        return NULL;
    }

    id->data = ngx_pnalloc(pool, NGX_INT64_LEN * 2 + lmcf->node_id.len + 2);
    if (id->data == NULL) {
        return NULL;
    }

    now = ngx_live_record_now_ms();

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_live_record_job_purge(sh, shpool, now);

    active = 0;

    for (q = ngx_queue_head(&sh->jobs);
         q != ngx_queue_sentinel(&sh->jobs);
         q = ngx_queue_next(q))
    {
        job = ngx_queue_data(q, ngx_http_live_record_job_t, queue);

        if (job->state <= NGX_HTTP_LIVE_RECORD_JOB_RUNNING
            && ngx_http_live_record_job_alive(job))
        {
            active++;
        }
    }

    if (active >= NGX_HTTP_LIVE_RECORD_JOB_ACTIVE) {
        ngx_shmtx_unlock(&shpool->mutex);
        *full = 1;
        return NULL;
    }

    /* unique in the zone, and across nodes */

    id->len = ngx_sprintf(id->data, "%uL-%V-%uL", now, &lmcf->node_id,
                          ++sh->seq)
              - id->data;

    job = ngx_slab_calloc_locked(shpool, sizeof(ngx_http_live_record_job_t));

    if (job == NULL
        || ngx_live_record_shm_str(shpool, &job->id, id) != NGX_OK
        || ngx_live_record_shm_str(shpool, &job->app, app) != NGX_OK
        || ngx_live_record_shm_str(shpool, &job->stream, stream) != NGX_OK
        || ngx_live_record_shm_str(shpool, &job->sources, sources) != NGX_OK
        || ngx_live_record_shm_str(shpool, &job->file_id, file_id) != NGX_OK)
    {
        if (job) {
            ngx_http_live_record_job_free(shpool, job);
        }

        ngx_shmtx_unlock(&shpool->mutex);
        return NULL;
    }

    job->state = NGX_HTTP_LIVE_RECORD_JOB_QUEUED;
    job->pid = ngx_pid;
    job->created_ms = now;

    ngx_queue_insert_tail(&sh->jobs, &job->queue);

    ngx_shmtx_unlock(&shpool->mutex);

    return job;
}


void
ngx_http_live_record_job_end(ngx_http_live_record_job_t *job, ngx_int_t rc,
    ngx_str_t *error)
{
    ngx_slab_pool_t        *shpool;
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return;
    }

    job->finished_ms = ngx_live_record_now_ms();

    if (rc == NGX_OK) {
        job->progress = NGX_LIVE_RECORD_CONCAT_PROGRESS;
        job->state = NGX_HTTP_LIVE_RECORD_JOB_DONE;

    } else {
        job->state = NGX_HTTP_LIVE_RECORD_JOB_FAILED;

        if (job->file_id.data) {
            ngx_slab_free_locked(shpool, job->file_id.data);
            ngx_str_null(&job->file_id);
        }

        if (job->error.data == NULL
            && ngx_live_record_shm_str(shpool, &job->error, error) != NGX_OK)
        {
            ngx_str_null(&job->error);
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


/* finished jobs are kept a day, and no more than a hundred of them */

static void
ngx_http_live_record_job_purge(ngx_live_record_shm_t *sh,
    ngx_slab_pool_t *shpool, uint64_t now)
{
    ngx_uint_t                   finished;
    ngx_queue_t                 *q, *next;
    ngx_http_live_record_job_t  *job;

    finished = 0;

    for (q = ngx_queue_head(&sh->jobs);
         q != ngx_queue_sentinel(&sh->jobs);
         q = ngx_queue_next(q))
    {
        job = ngx_queue_data(q, ngx_http_live_record_job_t, queue);
        finished += (job->state >= NGX_HTTP_LIVE_RECORD_JOB_DONE);
    }

    for (q = ngx_queue_head(&sh->jobs);
         q != ngx_queue_sentinel(&sh->jobs);
         q = next)
    {
        next = ngx_queue_next(q);
        job = ngx_queue_data(q, ngx_http_live_record_job_t, queue);

        if (job->state < NGX_HTTP_LIVE_RECORD_JOB_DONE) {
            continue;
        }

        if (finished >= NGX_HTTP_LIVE_RECORD_JOB_KEEP
            || now - job->finished_ms > NGX_HTTP_LIVE_RECORD_JOB_KEEP_MS)
        {
            ngx_queue_remove(q);
            ngx_http_live_record_job_free(shpool, job);
            finished--;
        }
    }
}


static void
ngx_http_live_record_job_free(ngx_slab_pool_t *shpool,
    ngx_http_live_record_job_t *job)
{
    ngx_str_t   *s[6];
    ngx_uint_t   i;

    s[0] = &job->id;
    s[1] = &job->app;
    s[2] = &job->stream;
    s[3] = &job->sources;
    s[4] = &job->file_id;
    s[5] = &job->error;

    for (i = 0; i < 6; i++) {
        if (s[i]->data) {
            ngx_slab_free_locked(shpool, s[i]->data);
        }
    }

    ngx_slab_free_locked(shpool, job);
}


/* a worker that died with its jobs running leaves them failed */

cJSON *
ngx_http_live_record_jobs_json(ngx_str_t *id)
{
    cJSON                       *list, *j;
    ngx_str_t                    gone;
    ngx_queue_t                 *q;
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_http_live_record_job_t  *job;

    list = cJSON_CreateArray();
    if (list == NULL) {
        return NULL;
    }

    ngx_str_set(&gone, "the worker process running the job exited");

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return list;
    }

    for (q = ngx_queue_head(&sh->jobs);
         q != ngx_queue_sentinel(&sh->jobs);
         q = ngx_queue_next(q))
    {
        job = ngx_queue_data(q, ngx_http_live_record_job_t, queue);

        if (id && (job->id.len != id->len
                   || ngx_strncmp(job->id.data, id->data, id->len) != 0))
        {
            continue;
        }

        if (job->state <= NGX_HTTP_LIVE_RECORD_JOB_RUNNING
            && !ngx_http_live_record_job_alive(job))
        {
            job->state = NGX_HTTP_LIVE_RECORD_JOB_FAILED;
            job->finished_ms = ngx_live_record_now_ms();

            if (job->error.data == NULL) {
                (void) ngx_live_record_shm_str(shpool, &job->error, &gone);
            }
        }

        j = ngx_http_live_record_job_json(job);

        if (j == NULL || !cJSON_AddItemToArray(list, j)) {
            cJSON_Delete(j);
            cJSON_Delete(list);
            list = NULL;
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return list;
}


/* with the mutex held */

static cJSON *
ngx_http_live_record_job_json(ngx_http_live_record_job_t *job)
{
    u_char     *p, *last, *sp;
    cJSON      *o, *ids;
    ngx_str_t   id;

    o = cJSON_CreateObject();

    if (o == NULL
        || ngx_live_record_json_set(o, "job_id", &job->id) == NULL
        || cJSON_AddStringToObject(o, "state",
               ngx_http_live_record_job_states[job->state & 3]) == NULL
        || cJSON_AddNumberToObject(o, "progress",
               (double) job->progress / NGX_LIVE_RECORD_CONCAT_PROGRESS)
           == NULL
        || ngx_live_record_json_set(o, "app", &job->app) == NULL
        || ngx_live_record_json_set(o, "stream", &job->stream) == NULL
        || (job->state == NGX_HTTP_LIVE_RECORD_JOB_FAILED
            || job->file_id.len == 0
            ? cJSON_AddNullToObject(o, "file_id")
            : ngx_live_record_json_set(o, "file_id", &job->file_id)) == NULL
        || (job->error.len
            ? ngx_live_record_json_set(o, "error", &job->error)
            : cJSON_AddNullToObject(o, "error")) == NULL
        || cJSON_AddNumberToObject(o, "created_ms", (double) job->created_ms)
           == NULL
        || (job->finished_ms
            ? cJSON_AddNumberToObject(o, "finished_ms",
                                      (double) job->finished_ms)
            : cJSON_AddNullToObject(o, "finished_ms")) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    ids = cJSON_AddArrayToObject(o, "file_ids");
    if (ids == NULL) {
        cJSON_Delete(o);
        return NULL;
    }

    p = job->sources.data;
    last = p + job->sources.len;

    while (p < last) {
        sp = ngx_strlchr(p, last, ' ');
        id.data = p;
        id.len = (sp ? sp : last) - p;
        p = sp ? sp + 1 : last;

        if (ngx_http_live_record_json_push(ids, &id) != NGX_OK) {
            cJSON_Delete(o);
            return NULL;
        }
    }

    return o;
}


static ngx_uint_t
ngx_http_live_record_job_alive(ngx_http_live_record_job_t *job)
{
    if (job->pid == ngx_pid) {
        return 1;
    }

    return ngx_live_record_process_alive(job->pid);
}


ngx_uint_t
ngx_http_live_record_concat_uses(ngx_cycle_t *cycle, ngx_str_t *file_id)
{
    ngx_uint_t                   found;
    ngx_queue_t                 *q;
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_http_live_record_job_t  *job;

    found = 0;

    sh = ngx_live_record_shm_lock(cycle, &shpool);
    if (sh == NULL) {
        return 0;
    }

    for (q = ngx_queue_head(&sh->jobs);
         q != ngx_queue_sentinel(&sh->jobs) && !found;
         q = ngx_queue_next(q))
    {
        job = ngx_queue_data(q, ngx_http_live_record_job_t, queue);

        if (job->state <= NGX_HTTP_LIVE_RECORD_JOB_RUNNING
            && ngx_http_live_record_job_alive(job)
            && ngx_http_live_record_ids_has(&job->sources, file_id))
        {
            found = 1;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return found;
}


static ngx_int_t
ngx_http_live_record_ids_has(ngx_str_t *ids, ngx_str_t *id)
{
    u_char  *p, *last, *sp;

    p = ids->data;
    last = p + ids->len;

    while (p < last) {
        sp = ngx_strlchr(p, last, ' ');

        if ((size_t) ((sp ? sp : last) - p) == id->len
            && ngx_strncmp(p, id->data, id->len) == 0)
        {
            return 1;
        }

        p = sp ? sp + 1 : last;
    }

    return 0;
}


ngx_int_t
ngx_http_live_record_json_push(cJSON *a, ngx_str_t *s)
{
    char   *text;
    cJSON  *v;

    text = ngx_alloc(s->len + 1, ngx_cycle->log);
    if (text == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(text, s->data, s->len);
    text[s->len] = '\0';

    v = cJSON_CreateString(text);
    ngx_free(text);

    if (v == NULL || !cJSON_AddItemToArray(a, v)) {
        cJSON_Delete(v);
        return NGX_ERROR;
    }

    return NGX_OK;
}
