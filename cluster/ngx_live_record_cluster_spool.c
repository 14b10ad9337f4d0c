
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_shm.h"


/*
 * A row's spool file is written before the row is sent, and deleted once
 * the database has it; both in the thread pool the notify spool uses,
 * since a create or an unlink can take milliseconds on a busy disk (the
 * loop paid 0.85 ms a part close for them).
 */

typedef struct {
    ngx_live_record_cluster_t  *cl;
    ngx_str_t                   id;
    ngx_str_t                   text;
    u_char                     *path;
    ngx_int_t                   rc;
} ngx_live_record_cluster_row_t;


static ngx_thread_task_t *ngx_live_record_cluster_task(size_t size);
static ngx_int_t ngx_live_record_cluster_post(ngx_thread_task_t *task);
static void ngx_live_record_cluster_write(void *data, ngx_log_t *log);
static void ngx_live_record_cluster_written(ngx_event_t *ev);
static void ngx_live_record_cluster_delete(void *data, ngx_log_t *log);
static void ngx_live_record_cluster_deleted(ngx_event_t *ev);


#if (NGX_THREADS)
static ngx_thread_pool_t  *ngx_live_record_cluster_pool;
#endif


void
ngx_live_record_cluster_spool_init(ngx_live_record_cluster_t *cl)
{
#if (NGX_THREADS)
    ngx_live_record_cluster_pool = cl->lmcf->notify_pool;
#endif
}


/* the row is copied: the caller's may go at once */

ngx_int_t
ngx_live_record_cluster_spool(ngx_live_record_cluster_t *cl, ngx_str_t *id,
    ngx_str_t *text, u_char *path)
{
    u_char                         *p;
    size_t                          len;
    ngx_thread_task_t              *task;
    ngx_live_record_cluster_row_t  *row;

    len = ngx_strlen(path) + 1;

    task = ngx_live_record_cluster_task(sizeof(ngx_live_record_cluster_row_t)
                                        + id->len + text->len + len);
    if (task == NULL) {
        return NGX_ERROR;
    }

    row = task->ctx;
    p = (u_char *) (row + 1);

    row->cl = cl;
    row->id.data = p;
    row->id.len = id->len;
    p = ngx_cpymem(p, id->data, id->len);
    row->text.data = p;
    row->text.len = text->len;
    p = ngx_cpymem(p, text->data, text->len);
    row->path = p;
    ngx_memcpy(p, path, len);

    task->handler = ngx_live_record_cluster_write;
    task->event.handler = ngx_live_record_cluster_written;

    if (ngx_live_record_cluster_post(task) != NGX_OK) {
        ngx_live_record_cluster_write(row, ngx_cycle->log);
        ngx_live_record_cluster_written(&task->event);
    }

    return NGX_OK;
}


static void
ngx_live_record_cluster_write(void *data, ngx_log_t *log)
{
    ngx_live_record_cluster_row_t *row = data;

    row->rc = ngx_live_record_write_atomic(row->path, &row->text, 1, log);
}


static void
ngx_live_record_cluster_written(ngx_event_t *ev)
{
    ngx_thread_task_t *task = ev->data;

    u_char                         *path;
    ngx_live_record_cluster_row_t  *row;

    row = task->ctx;
    path = NULL;

    if (row->rc != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "live record: %V: the cluster row could not be "
                      "spooled, it is sent without", &row->id);

    } else {
        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_CLUSTER, 1);

        path = ngx_alloc(ngx_strlen(row->path) + 1, ngx_cycle->log);
        if (path) {
            ngx_memcpy(path, row->path, ngx_strlen(row->path) + 1);
        }
    }

    if (ngx_live_record_cluster_insert(row->cl, &row->id, &row->text, path)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "live record: %V: no cluster row%s%s%s", &row->id,
                      path ? ", it stays in \"" : "",
                      path ? (char *) path : "", path ? "\"" : "");
        ngx_free(path);
    }

    ngx_free(task);
}


/* the database has the row: its spool file goes; path is freed */

void
ngx_live_record_cluster_unspool(u_char *path)
{
    size_t              len;
    ngx_thread_task_t  *task;

    len = ngx_strlen(path) + 1;

    task = ngx_live_record_cluster_task(len);

    if (task == NULL) {
        ngx_live_record_cluster_delete(path, ngx_cycle->log);
        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_CLUSTER, -1);
        ngx_free(path);
        return;
    }

    ngx_memcpy(task->ctx, path, len);
    ngx_free(path);

    task->handler = ngx_live_record_cluster_delete;
    task->event.handler = ngx_live_record_cluster_deleted;

    if (ngx_live_record_cluster_post(task) != NGX_OK) {
        ngx_live_record_cluster_delete(task->ctx, ngx_cycle->log);
        ngx_live_record_cluster_deleted(&task->event);
    }
}


static void
ngx_live_record_cluster_delete(void *data, ngx_log_t *log)
{
    u_char  *path = data;

    if (ngx_delete_file(path) == NGX_FILE_ERROR && ngx_errno != NGX_ENOENT) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      ngx_delete_file_n " \"%s\" failed", path);
    }
}


static void
ngx_live_record_cluster_deleted(ngx_event_t *ev)
{
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_CLUSTER, -1);
    ngx_free(ev->data);
}


/* one allocation: the task, then its ctx of size bytes */

static ngx_thread_task_t *
ngx_live_record_cluster_task(size_t size)
{
    ngx_thread_task_t  *task;

    task = ngx_calloc(sizeof(ngx_thread_task_t) + size, ngx_cycle->log);
    if (task == NULL) {
        return NULL;
    }

    task->ctx = task + 1;
    task->event.data = task;
    task->event.log = ngx_cycle->log;

    return task;
}


/* NGX_DECLINED: no thread pool, or a full one; the caller does it here */

static ngx_int_t
ngx_live_record_cluster_post(ngx_thread_task_t *task)
{
#if (NGX_THREADS)

    if (ngx_live_record_cluster_pool
        && ngx_live_record_post(ngx_live_record_cluster_pool, task) == NGX_OK)
    {
        return NGX_OK;
    }

#endif

    return NGX_DECLINED;
}
