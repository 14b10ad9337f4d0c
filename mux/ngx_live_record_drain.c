
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * One drain task a thread pool, per worker, writes every writer's batches.
 *
 * With one thread task a batch, 256 recordings posted ~2000 tasks a
 * second, and each ngx_thread_task_post() signals the pool's condition
 * variable: glibc's makes a signaller wait for the waiters it woke
 * earlier, the pool's threads, which share the worker's CPU, so the loop
 * sometimes waited milliseconds inside a post.  Here a batch is appended
 * to the drain's queue under its mutex (held for a few instructions by
 * either side), and the pool is posted to only when the drain task is not
 * out already: the batches of one loop iteration, and those that come
 * while the drain runs, share one post and one completion event.
 *
 * The drain task runs jobs in their order until the queue is empty or
 * NGX_LIVE_RECORD_DRAIN_BUDGET_MS have passed, so that done() (the
 * blocks given back, a part's end that waited) is never long in coming;
 * back on the loop, the done() of every job it ran is called, and it is
 * posted again if jobs came meanwhile.  Only the loop posts it and takes
 * it back, so it is never out twice.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <pthread.h>
#include "ngx_live_record_drain.h"

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif


#define NGX_LIVE_RECORD_DRAIN_BUDGET_MS  5

#define NGX_LIVE_RECORD_JOB_QUEUED   1
#define NGX_LIVE_RECORD_JOB_RUNNING  2
#define NGX_LIVE_RECORD_JOB_RAN      3


#if (NGX_THREADS)

struct ngx_live_record_drain_s {
    ngx_live_record_drain_t    *next;      /* the worker's drains */
    void                       *threads;
    pthread_mutex_t             mutex;
    ngx_live_record_job_t      *head;      /* waiting */
    ngx_live_record_job_t      *tail;
    ngx_live_record_job_t      *done;      /* ran, done() not yet called */
    ngx_live_record_job_t      *done_tail;
    ngx_uint_t                  out;       /* the task is posted (loop) */
    ngx_thread_task_t           task;
};


static ngx_live_record_drain_t *ngx_live_record_drain_get(void *threads,
    ngx_log_t *log);
static ngx_int_t ngx_live_record_drain_start(ngx_live_record_drain_t *d);
static void ngx_live_record_drain_thread(void *data, ngx_log_t *log);
static void ngx_live_record_drain_done(ngx_event_t *ev);
static void ngx_live_record_drain_dispatch(ngx_live_record_drain_t *d);
static ngx_uint_t ngx_live_record_drain_waiting(ngx_live_record_drain_t *d);
static ngx_uint_t ngx_live_record_drain_unlink(ngx_live_record_job_t **head,
    ngx_live_record_job_t **tail, ngx_live_record_job_t *job);
static ngx_msec_t ngx_live_record_drain_ms(void);


/* per worker: only the loop looks them up or adds one */
static ngx_live_record_drain_t  *ngx_live_record_drains;


ngx_uint_t  ngx_live_record_threads_gone;


/*
 * nginx destroys its thread pools (ngx_thread_pool_module's exit_process)
 * before this module's exit_process finishes the open parts: a post then
 * locks a destroyed mutex ("[alert] pthread_mutex_lock() failed").  Once
 * the worker exits, posts are refused and the callers do the work in the
 * loop's thread, as when a pool is full, without saying it is full.
 */

ngx_int_t
ngx_live_record_post(ngx_thread_pool_t *tp, ngx_thread_task_t *task)
{
    if (ngx_live_record_threads_gone) {
        return NGX_DECLINED;
    }

    return ngx_thread_task_post(tp, task);
}


ngx_int_t
ngx_live_record_drain_post(void *threads, ngx_live_record_job_t *job)
{
    ngx_live_record_drain_t  *d;

    if (threads == NULL || job->drain) {
        return NGX_ERROR;
    }

    d = ngx_live_record_drain_get(threads, job->log);
    if (d == NULL) {
        return NGX_ERROR;
    }

    job->next = NULL;
    job->drain = d;

    (void) pthread_mutex_lock(&d->mutex);

    job->state = NGX_LIVE_RECORD_JOB_QUEUED;

    if (d->tail) {
        d->tail->next = job;

    } else {
        d->head = job;
    }

    d->tail = job;

    (void) pthread_mutex_unlock(&d->mutex);

    if (d->out || ngx_live_record_drain_start(d) == NGX_OK) {
        return NGX_OK;
    }

    /* the pool refused the task: the job is the caller's again */

    (void) pthread_mutex_lock(&d->mutex);
    (void) ngx_live_record_drain_unlink(&d->head, &d->tail, job);
    (void) pthread_mutex_unlock(&d->mutex);

    job->drain = NULL;

    return NGX_ERROR;
}


ngx_int_t
ngx_live_record_drain_cancel(ngx_live_record_job_t *job)
{
    ngx_int_t                 rc;
    ngx_live_record_drain_t  *d;

    d = job->drain;

    if (d == NULL) {
        return NGX_DONE;
    }

    for ( ;; ) {
        (void) pthread_mutex_lock(&d->mutex);

        if (job->state != NGX_LIVE_RECORD_JOB_RUNNING) {
            break;
        }

        /* a thread is still at it */

        (void) pthread_mutex_unlock(&d->mutex);
        ngx_msleep(1);
    }

    if (job->state == NGX_LIVE_RECORD_JOB_QUEUED) {
        (void) ngx_live_record_drain_unlink(&d->head, &d->tail, job);
        rc = NGX_OK;

    } else {
        (void) ngx_live_record_drain_unlink(&d->done, &d->done_tail, job);
        rc = NGX_DONE;
    }

    (void) pthread_mutex_unlock(&d->mutex);

    job->drain = NULL;

    return rc;
}


static ngx_live_record_drain_t *
ngx_live_record_drain_get(void *threads, ngx_log_t *log)
{
    ngx_live_record_drain_t  *d;

    for (d = ngx_live_record_drains; d; d = d->next) {
        if (d->threads == threads) {
            return d;
        }
    }

    d = ngx_calloc(sizeof(ngx_live_record_drain_t), log);
    if (d == NULL) {
        return NULL;
    }

    if (pthread_mutex_init(&d->mutex, NULL) != 0) {
        ngx_free(d);
        return NULL;
    }

    d->threads = threads;
    d->task.ctx = d;
    d->task.handler = ngx_live_record_drain_thread;
    d->task.event.handler = ngx_live_record_drain_done;
    d->task.event.data = d;
    d->task.event.log = log;

    d->next = ngx_live_record_drains;
    ngx_live_record_drains = d;

    return d;
}


static ngx_int_t
ngx_live_record_drain_start(ngx_live_record_drain_t *d)
{
    if (ngx_live_record_post(d->threads, &d->task) != NGX_OK) {
        return NGX_ERROR;
    }

    d->out = 1;

    return NGX_OK;
}


static void
ngx_live_record_drain_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_drain_t  *d = data;

    ngx_msec_t              start;
    ngx_live_record_job_t  *job;

    start = ngx_live_record_drain_ms();

    for ( ;; ) {
        (void) pthread_mutex_lock(&d->mutex);

        job = d->head;

        if (job) {
            d->head = job->next;

            if (d->head == NULL) {
                d->tail = NULL;
            }

            job->next = NULL;
            job->state = NGX_LIVE_RECORD_JOB_RUNNING;
        }

        (void) pthread_mutex_unlock(&d->mutex);

        if (job == NULL) {
            return;
        }

        job->handler(job->data, job->log);

        (void) pthread_mutex_lock(&d->mutex);

        job->state = NGX_LIVE_RECORD_JOB_RAN;

        if (d->done_tail) {
            d->done_tail->next = job;

        } else {
            d->done = job;
        }

        d->done_tail = job;

        (void) pthread_mutex_unlock(&d->mutex);

        if (ngx_live_record_drain_ms() - start
            >= NGX_LIVE_RECORD_DRAIN_BUDGET_MS)
        {
            /* what is left waits for the next post: done() comes first */
            return;
        }
    }
}


/* on the loop: the jobs it ran are done; those that came go out again */

static void
ngx_live_record_drain_done(ngx_event_t *ev)
{
    ngx_live_record_drain_t  *d = ev->data;

    d->out = 0;

    ngx_live_record_drain_dispatch(d);

    while (ngx_live_record_drain_waiting(d) && !d->out) {

        if (ngx_live_record_drain_start(d) == NGX_OK) {
            return;
        }

        /* the pool refused the task: what waits is written here */

        ngx_log_error(NGX_LOG_ALERT, ev->log, 0,
                      "live record: the write drain task could not be "
                      "posted, writing on the loop");

        ngx_live_record_drain_thread(d, ev->log);
        ngx_live_record_drain_dispatch(d);
    }
}


static void
ngx_live_record_drain_dispatch(ngx_live_record_drain_t *d)
{
    ngx_live_record_job_t  *job, *next;

    (void) pthread_mutex_lock(&d->mutex);

    job = d->done;
    d->done = NULL;
    d->done_tail = NULL;

    (void) pthread_mutex_unlock(&d->mutex);

    /* done() may post again, or free the job: next is read first */

    for ( /* void */ ; job; job = next) {
        next = job->next;
        job->next = NULL;
        job->drain = NULL;
        job->done(job->data);
    }
}


static ngx_uint_t
ngx_live_record_drain_waiting(ngx_live_record_drain_t *d)
{
    ngx_uint_t  more;

    (void) pthread_mutex_lock(&d->mutex);
    more = (d->head != NULL);
    (void) pthread_mutex_unlock(&d->mutex);

    return more;
}


static ngx_uint_t
ngx_live_record_drain_unlink(ngx_live_record_job_t **head,
    ngx_live_record_job_t **tail, ngx_live_record_job_t *job)
{
    ngx_live_record_job_t  **pp, *prev;

    prev = NULL;

    for (pp = head; *pp; prev = *pp, pp = &(*pp)->next) {
        if (*pp != job) {
            continue;
        }

        *pp = job->next;

        if (*tail == job) {
            *tail = prev;
        }

        job->next = NULL;

        return 1;
    }

    return 0;
}


/* the loop's clock does not move in a thread */

static ngx_msec_t
ngx_live_record_drain_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (ngx_msec_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


#else


ngx_uint_t  ngx_live_record_threads_gone;


ngx_int_t
ngx_live_record_drain_post(void *threads, ngx_live_record_job_t *job)
{
    return NGX_ERROR;
}


ngx_int_t
ngx_live_record_drain_cancel(ngx_live_record_job_t *job)
{
    return NGX_DONE;
}


#endif
