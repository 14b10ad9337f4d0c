
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_DRAIN_H_INCLUDED_
#define _NGX_LIVE_RECORD_DRAIN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif


/*
 * The writers' write jobs (an MP4 part's batch, an ADTS or MPEG-TS sink's
 * batch) go to one drain task a thread pool, per worker, instead of one
 * thread task each: posting is appending to the drain's queue, and the
 * pool is only posted to when the drain task is not already out.
 *
 *   on the loop    post, cancel; the job's done()
 *   in a thread    the job's handler()
 */


typedef struct ngx_live_record_drain_s  ngx_live_record_drain_t;
typedef struct ngx_live_record_job_s    ngx_live_record_job_t;

struct ngx_live_record_job_s {
    ngx_live_record_job_t      *next;
    void                      (*handler)(void *data, ngx_log_t *log);
    void                      (*done)(void *data);
    void                       *data;
    ngx_log_t                  *log;
    ngx_live_record_drain_t    *drain;    /* queued there, until done() */
    ngx_uint_t                  state;    /* under the drain's lock */
};


/* NGX_ERROR: not queued (no pool, no memory, the pool refused): run it */
ngx_int_t ngx_live_record_drain_post(void *threads, ngx_live_record_job_t *job);

/*
 * At a worker's exit, the pool's threads gone: NGX_OK if the job never
 * ran (the caller runs it), NGX_DONE if it ran (done() will not come)
 */
ngx_int_t ngx_live_record_drain_cancel(ngx_live_record_job_t *job);


/*
 * Every post to a thread pool of this module: refused (NGX_DECLINED) once
 * the worker exits, when nginx has destroyed its thread pools
 */
#if (NGX_THREADS)
ngx_int_t ngx_live_record_post(ngx_thread_pool_t *tp,
    ngx_thread_task_t *task);
#endif

/* set at the worker's exit, before the module finishes its parts */
extern ngx_uint_t  ngx_live_record_threads_gone;


#endif /* _NGX_LIVE_RECORD_DRAIN_H_INCLUDED_ */
