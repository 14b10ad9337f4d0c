
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif
#include "ngx_live_record_tasks.h"


/*
 * SPOOL/tasks.json: the zone's tasks on disk, rewritten on every change
 * (in the thread pool), loaded by the master at start.
 */


#define NGX_LIVE_RECORD_TASKS_FILE   "tasks.json"
#define NGX_LIVE_RECORD_TASKS_MAX    (1024 * 1024)


/* the tasks as JSON, numbered; called with the mutex held */

char *
ngx_live_record_tasks_text(ngx_live_record_shm_t *sh, uint64_t *seq)
{
    char                    *text;
    cJSON                   *a, *o;
    ngx_queue_t             *q;
    ngx_live_record_task_t  *t;

    a = cJSON_CreateArray();
    if (a == NULL) {
        return NULL;
    }

    for (q = ngx_queue_head(&sh->tasks);
         q != ngx_queue_sentinel(&sh->tasks);
         q = ngx_queue_next(q))
    {
        t = ngx_queue_data(q, ngx_live_record_task_t, queue);

        o = ngx_live_record_task_saved(t);
        if (o == NULL) {
            cJSON_Delete(a);
            return NULL;
        }

        cJSON_AddItemToArray(a, o);
    }

    text = cJSON_Print(a);
    cJSON_Delete(a);

    *seq = ++sh->tasks_saved;

    return text;
}


/*
 * Written outside the lock into a file of this process, then renamed
 * over tasks.json only if no later change got there first: the file
 * always holds the newest state.  In a worker the disk work (write,
 * fsync, rename) runs in the notify spool's thread pool, off the loop.
 */

typedef struct {
    ngx_pool_t                 *pool;
    ngx_slab_pool_t            *shpool;
    ngx_live_record_shm_t      *sh;
    char                       *text;
    uint64_t                    seq;
    u_char                      path[NGX_MAX_PATH];
    u_char                      tmp[NGX_MAX_PATH];
} ngx_live_record_tasks_save_t;


static void ngx_live_record_tasks_save(void *data, ngx_log_t *log);
static void ngx_live_record_tasks_saved(ngx_event_t *ev);


void
ngx_live_record_tasks_write(ngx_cycle_t *cycle, ngx_live_record_shm_t *sh,
    ngx_slab_pool_t *shpool, char *text, uint64_t seq)
{
    ngx_pool_t                    *pool;
    ngx_live_record_tasks_save_t  *save;
    ngx_live_record_main_conf_t   *lmcf;
#if (NGX_THREADS)
    ngx_thread_task_t             *task;
#endif

    lmcf = ngx_live_record_rtmp_main_conf(cycle);
    pool = NULL;
    save = NULL;

    if (text != NULL && lmcf != NULL
        && lmcf->spool.len + sizeof("/" NGX_LIVE_RECORD_TASKS_FILE)
           + NGX_INT64_LEN + 1 <= NGX_MAX_PATH)
    {
        pool = ngx_create_pool(1024, cycle->log);
        save = pool ? ngx_pcalloc(pool, sizeof(ngx_live_record_tasks_save_t))
                    : NULL;
    }

    if (save == NULL) {
        ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                      "live record: tasks could not be saved: they are "
                      "lost on restart");
        cJSON_free(text);

        if (pool) {
            ngx_destroy_pool(pool);
        }

        return;
    }

    save->pool = pool;
    save->shpool = shpool;
    save->sh = sh;
    save->text = text;
    save->seq = seq;

    ngx_sprintf(save->path, "%V/" NGX_LIVE_RECORD_TASKS_FILE "%Z",
                &lmcf->spool);
    ngx_sprintf(save->tmp, "%s.%P%Z", save->path, ngx_pid);

#if (NGX_THREADS)

    if (ngx_process == NGX_PROCESS_WORKER && lmcf->notify_pool) {
        task = ngx_thread_task_alloc(pool, 0);

        if (task) {
            task->ctx = save;
            task->handler = ngx_live_record_tasks_save;
            task->event.handler = ngx_live_record_tasks_saved;
            task->event.data = save;
            task->event.log = cycle->log;

            if (ngx_live_record_post(lmcf->notify_pool, task) == NGX_OK) {
                return;
            }
        }
    }

#endif

    ngx_live_record_tasks_save(save, cycle->log);
    ngx_destroy_pool(pool);
}


static void
ngx_live_record_tasks_save(void *data, ngx_log_t *log)
{
    ngx_live_record_tasks_save_t *save = data;

    ngx_str_t   text;
    ngx_uint_t  newest;

    text.data = (u_char *) save->text;
    text.len = ngx_strlen(save->text);

    if (ngx_live_record_write_atomic(save->tmp, &text, 1, log) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "live record: tasks could not be saved to \"%s\": "
                      "they are lost on restart", save->path);
        cJSON_free(save->text);
        save->text = NULL;
        return;
    }

    cJSON_free(save->text);
    save->text = NULL;

    ngx_shmtx_lock(&save->shpool->mutex);

    newest = (save->seq > save->sh->tasks_written);

    if (newest) {
        save->sh->tasks_written = save->seq;

        if (ngx_rename_file(save->tmp, save->path) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          ngx_rename_file_n " \"%s\" to \"%s\" failed: "
                          "tasks are lost on restart", save->tmp,
                          save->path);
        }
    }

    ngx_shmtx_unlock(&save->shpool->mutex);

    if (!newest) {
        (void) ngx_delete_file(save->tmp);
    }
}


static void
ngx_live_record_tasks_saved(ngx_event_t *ev)
{
    ngx_live_record_tasks_save_t *save = ev->data;

    ngx_destroy_pool(save->pool);
}


/* in the master, once the zone is mapped; a reload keeps the zone's tasks */

ngx_int_t
ngx_live_record_tasks_load(ngx_cycle_t *cycle, ngx_str_t *spool)
{
    cJSON                   *a, *o;
    uint64_t                 now;
    ngx_int_t                rc;
    ngx_str_t                text;
    ngx_uint_t               loaded;
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_task_t   t, *nt;
    u_char                   path[NGX_MAX_PATH];

    sh = ngx_live_record_shm(cycle, &shpool);
    if (sh == NULL || sh->loaded) {
        return NGX_OK;
    }

    sh->loaded = 1;

    if (spool->len + sizeof("/" NGX_LIVE_RECORD_TASKS_FILE) > NGX_MAX_PATH) {
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/" NGX_LIVE_RECORD_TASKS_FILE "%Z", spool);

    rc = ngx_live_record_read_file(path, NGX_LIVE_RECORD_TASKS_MAX - 1,
                                   &text, cycle->log);
    if (rc == NGX_DECLINED) {
        return NGX_OK;
    }

    a = (rc == NGX_OK) ? cJSON_ParseWithLength((char *) text.data, text.len)
                       : NULL;

    ngx_free(text.data);

    if (!cJSON_IsArray(a)) {
        ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                      "live record: \"%s\" is unreadable, its tasks are "
                      "not restored", path);
        cJSON_Delete(a);
        return NGX_ERROR;
    }

    now = ngx_live_record_now_ms();
    loaded = 0;

    ngx_shmtx_lock(&shpool->mutex);

    cJSON_ArrayForEach(o, a) {
        if (ngx_live_record_task_from_json(o, &t, cycle->pool) != NGX_OK) {
            ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                          "live record: a task in \"%s\" is invalid and "
                          "skipped", path);
            continue;
        }

        if (ngx_live_record_task_find(sh, &t.id) != NULL
            || t.end_ms + NGX_LIVE_RECORD_TASK_KEEP_MS < now)
        {
            continue;
        }

        nt = ngx_slab_calloc_locked(shpool, sizeof(ngx_live_record_task_t));

        if (nt == NULL || ngx_live_record_task_copy(shpool, nt, &t) != NGX_OK)
        {
            if (nt) {
                ngx_live_record_task_free(shpool, nt);
            }

            ngx_log_error(NGX_LOG_CRIT, cycle->log, 0,
                          "live record: the live_record zone is full, tasks "
                          "in \"%s\" are not all restored: increase "
                          "live_record_api_zone", path);
            break;
        }

        ngx_queue_insert_tail(&sh->tasks, &nt->queue);
        loaded++;
    }

    sh->generation++;

    ngx_shmtx_unlock(&shpool->mutex);

    cJSON_Delete(a);

    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                  "live record: %ui record tasks restored from \"%s\"",
                  loaded, path);

    return NGX_OK;
}


ngx_int_t
ngx_live_record_task_from_json(cJSON *o, ngx_live_record_task_t *t,
    ngx_pool_t *pool)
{
    ngx_live_record_json_field_t  fields[] = {
        { "task_id", NGX_LIVE_RECORD_JSON_STR, &t->id },
        { "app", NGX_LIVE_RECORD_JSON_STR, &t->app },
        { "stream", NGX_LIVE_RECORD_JSON_STR, &t->stream },
        { "domain", NGX_LIVE_RECORD_JSON_STR, &t->domain },
        { "template", NGX_LIVE_RECORD_JSON_STR_OPT, &t->tpl },
        { "start_time_ms", NGX_LIVE_RECORD_JSON_MS, &t->start_ms },
        { "end_time_ms", NGX_LIVE_RECORD_JSON_MS, &t->end_ms },
        { "created_time_ms", NGX_LIVE_RECORD_JSON_MS, &t->created_ms },
        { "stopped_time_ms", NGX_LIVE_RECORD_JSON_MS, &t->stopped_ms },
        { "extension", NGX_LIVE_RECORD_JSON_TEXT, &t->extension },
        { NULL, 0, NULL }
    };

    ngx_memzero(t, sizeof(ngx_live_record_task_t));

    if (ngx_live_record_json_read(pool, o, fields) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_live_record_valid_name(&t->id, 64) != NGX_OK
        || ngx_live_record_valid_name(&t->app, 255) != NGX_OK
        || ngx_live_record_valid_name(&t->stream, 255) != NGX_OK
        || (t->domain.len
            && ngx_live_record_valid_name(&t->domain, 255) != NGX_OK)
        || (t->tpl.len && ngx_live_record_valid_name(&t->tpl, 255) != NGX_OK)
        || t->end_ms <= t->start_ms)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
