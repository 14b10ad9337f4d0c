
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_TASKS_H_INCLUDED_
#define _NGX_LIVE_RECORD_TASKS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"
#include "ngx_live_record_json.h"
#include "ngx_live_record_shm.h"


/*
 * Record tasks live in the shared zone, so that the worker holding a
 * stream sees a task created through any other, and in SPOOL/tasks.json,
 * rewritten on every change, so that they survive a restart.  Live
 * recorders are published to the zone for GET /streams.
 */


#define NGX_LIVE_RECORD_TASK_MAX_MS    (24 * 3600 * 1000)
#define NGX_LIVE_RECORD_TASK_AHEAD_MS  (7 * 24 * 3600 * 1000LL)
#define NGX_LIVE_RECORD_TASK_KEEP_MS   (7 * 24 * 3600 * 1000LL)
#define NGX_LIVE_RECORD_MAX_EXTENSION  4096


typedef struct {
    ngx_queue_t                 queue;
    ngx_str_t                   id;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_str_t                   domain;
    ngx_str_t                   tpl;
    ngx_str_t                   extension;      /* JSON text, or empty */
    uint64_t                    start_ms;
    uint64_t                    end_ms;
    uint64_t                    created_ms;
    uint64_t                    stopped_ms;     /* 0: not stopped */
} ngx_live_record_task_t;


/* a live stream as GET /streams shows it */
typedef struct {
    ngx_queue_t                 queue;
    ngx_pid_t                   pid;
    void                       *owner;          /* the worker's ctx */
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_str_t                   domain;
    ngx_str_t                   session;
    ngx_str_t                   plan;           /* JSON text */
    ngx_str_t                   files;          /* file ids, " "-separated */
    ngx_uint_t                  formats;
    ngx_uint_t                  part;
    off_t                       bytes;
    int64_t                     duration;       /* ms, of the part */
    uint64_t                    publish_ms;
    uint64_t                    part_ms;
} ngx_live_record_recorder_t;


/* for the API; all return NGX_ERROR only when the zone is full */

ngx_int_t ngx_live_record_task_add(ngx_cycle_t *cycle,
    ngx_live_record_task_t *t, ngx_str_t *id, ngx_pool_t *pool);
cJSON *ngx_live_record_task_get(ngx_cycle_t *cycle, ngx_str_t *id);
cJSON *ngx_live_record_task_list(ngx_cycle_t *cycle,
    ngx_live_record_task_t *filter, uint64_t from_ms, uint64_t to_ms);
ngx_int_t ngx_live_record_task_stop(ngx_cycle_t *cycle, ngx_str_t *id);
ngx_int_t ngx_live_record_task_delete(ngx_cycle_t *cycle, ngx_str_t *id);
cJSON *ngx_live_record_task_saved(ngx_live_record_task_t *t);

/* the zone's tasks, called with the mutex held */
ngx_live_record_task_t *ngx_live_record_task_find(ngx_live_record_shm_t *sh,
    ngx_str_t *id);
ngx_int_t ngx_live_record_task_copy(ngx_slab_pool_t *shpool,
    ngx_live_record_task_t *dst, ngx_live_record_task_t *src);
void ngx_live_record_task_free(ngx_slab_pool_t *shpool,
    ngx_live_record_task_t *t);

/* tasks.json (ngx_live_record_tasks_file.c) */
char *ngx_live_record_tasks_text(ngx_live_record_shm_t *sh, uint64_t *seq);
void ngx_live_record_tasks_write(ngx_cycle_t *cycle,
    ngx_live_record_shm_t *sh, ngx_slab_pool_t *shpool, char *text,
    uint64_t seq);
ngx_int_t ngx_live_record_task_from_json(cJSON *o, ngx_live_record_task_t *t,
    ngx_pool_t *pool);

/* in a cluster (cluster/ngx_live_record_cluster_tasks.c) */
ngx_int_t ngx_live_record_task_new_id(ngx_cycle_t *cycle,
    uint64_t created_ms, ngx_str_t *id, ngx_pool_t *pool);
ngx_int_t ngx_live_record_tasks_mirror(cJSON *a, ngx_uint_t full,
    ngx_uint_t generation);
uint64_t ngx_live_record_tasks_synced(ngx_cycle_t *cycle);

cJSON *ngx_live_record_recorders(ngx_cycle_t *cycle, ngx_str_t *app,
    ngx_str_t *stream);
ngx_uint_t ngx_live_record_recording(ngx_cycle_t *cycle,
    ngx_str_t *file_id);


/* the master loads the tasks the zone does not already hold */
ngx_int_t ngx_live_record_tasks_load(ngx_cycle_t *cycle, ngx_str_t *spool);

/* for the recorder: the tasks that apply to a stream now */
/*
 * The tasks active now for a stream; *next is when that may change by
 * the clock alone: the next start or end of one of its tasks.
 */
ngx_int_t ngx_live_record_tasks_match(ngx_str_t *app, ngx_str_t *stream,
    ngx_str_t *domain, uint64_t now, ngx_array_t *out, ngx_pool_t *pool,
    uint64_t *next);

/* changes whenever a task is added, stopped or deleted */
ngx_uint_t ngx_live_record_tasks_generation(void);

ngx_live_record_recorder_t *ngx_live_record_recorder_add(
    ngx_live_record_stream_t *st, void *owner);
void ngx_live_record_recorder_update(ngx_live_record_recorder_t *rec,
    ngx_str_t *plan, ngx_live_record_part_t *part,
    ngx_live_record_part_t *hls, ngx_uint_t formats);
void ngx_live_record_recorder_delete(ngx_live_record_recorder_t *rec);


#endif /* _NGX_LIVE_RECORD_TASKS_H_INCLUDED_ */
