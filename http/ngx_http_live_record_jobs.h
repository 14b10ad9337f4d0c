
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_HTTP_LIVE_RECORD_JOBS_H_INCLUDED_
#define _NGX_HTTP_LIVE_RECORD_JOBS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>


/*
 * Concat jobs in the shared zone, so that any worker answers GET
 * /concat/ID and refuses to delete a file a job is reading.  A job is
 * queued by the worker that runs it, RUNNING is set by its thread, and it
 * ends DONE or FAILED; finished jobs are kept a day, a hundred at most.
 */


#define NGX_HTTP_LIVE_RECORD_JOB_QUEUED   0
#define NGX_HTTP_LIVE_RECORD_JOB_RUNNING  1
#define NGX_HTTP_LIVE_RECORD_JOB_DONE     2
#define NGX_HTTP_LIVE_RECORD_JOB_FAILED   3

#define NGX_HTTP_LIVE_RECORD_JOB_ACTIVE   4     /* queued or running */


typedef struct {
    ngx_queue_t                 queue;
    ngx_str_t                   id;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_str_t                   sources;        /* file ids, " "-separated */
    ngx_str_t                   file_id;
    ngx_str_t                   error;
    ngx_atomic_t                state;
    ngx_atomic_t                progress;       /* per 10000 */
    ngx_pid_t                   pid;
    uint64_t                    created_ms;
    uint64_t                    finished_ms;
} ngx_http_live_record_job_t;


/*
 * A queued job; its id, from pool, in id.  NULL: the zone is full, or
 * (*full set) NGX_HTTP_LIVE_RECORD_JOB_ACTIVE jobs are active already.
 */
ngx_http_live_record_job_t *ngx_http_live_record_job_add(ngx_pool_t *pool,
    ngx_str_t *app, ngx_str_t *stream, ngx_str_t *sources,
    ngx_str_t *file_id, ngx_str_t *id, ngx_uint_t *full);

/* DONE with rc NGX_OK, else FAILED with the error */
void ngx_http_live_record_job_end(ngx_http_live_record_job_t *job,
    ngx_int_t rc, ngx_str_t *error);

/* the job of that id (NULL: every job), as a JSON array */
cJSON *ngx_http_live_record_jobs_json(ngx_str_t *id);

/* a queued or running job reads that file */
ngx_uint_t ngx_http_live_record_concat_uses(ngx_cycle_t *cycle,
    ngx_str_t *file_id);

/* a copy of s, pushed onto the array a */
ngx_int_t ngx_http_live_record_json_push(cJSON *a, ngx_str_t *s);


#endif /* _NGX_HTTP_LIVE_RECORD_JOBS_H_INCLUDED_ */
