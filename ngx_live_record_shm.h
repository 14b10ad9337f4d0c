
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_SHM_H_INCLUDED_
#define _NGX_LIVE_RECORD_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The shared memory zone "live_record": record tasks, the live recorders
 * of every worker, concat jobs and the counters behind the metrics.  It
 * always exists (1m unless live_record_api_zone sizes it), so that a task
 * created through one worker is seen by the worker that holds the stream.
 * Lock shpool->mutex around any access to the queues.
 */


#define NGX_LIVE_RECORD_SHM_DEFAULT  (1024 * 1024)


/* counters: only ever added to, with ngx_atomic_fetch_add, no lock */

typedef struct {
    ngx_atomic_t                parts[8];       /* finished, by reason */
    ngx_atomic_t                bytes;          /* written to parts */
    ngx_atomic_t                media_ms;       /* of finished parts */
    ngx_atomic_t                handoff_ok;
    ngx_atomic_t                handoff_failed;
    ngx_atomic_t                notify_delivered;
    ngx_atomic_t                notify_failed;  /* attempts that failed */
    ngx_atomic_t                notify_dead;
    ngx_atomic_t                recovered;
    ngx_atomic_t                last_error;     /* unix seconds */
} ngx_live_record_stats_t;


typedef struct {
    ngx_live_record_stats_t     stats;
    ngx_queue_t                 tasks;          /* ngx_live_record_task_t */
    ngx_queue_t                 recorders;      /* ..._recorder_t */
    ngx_queue_t                 jobs;           /* concat jobs */
    ngx_uint_t                  generation;     /* of tasks */
    ngx_uint_t                  loaded;
    uint64_t                    seq;            /* for ids */
} ngx_live_record_shm_t;


typedef struct {
    ngx_shm_zone_t             *zone;
    size_t                      size;
} ngx_live_record_core_conf_t;


extern ngx_module_t  ngx_live_record_core_module;


/* NULL before the zone is mapped */
ngx_live_record_shm_t *ngx_live_record_shm(ngx_cycle_t *cycle,
    ngx_slab_pool_t **shpool);
ngx_shm_zone_t *ngx_live_record_shm_add(ngx_conf_t *cf, size_t size);

/* a copy of s in the zone, null-terminated; call with the mutex held */
ngx_int_t ngx_live_record_shm_str(ngx_slab_pool_t *shpool, ngx_str_t *dst,
    ngx_str_t *src);


#endif /* _NGX_LIVE_RECORD_SHM_H_INCLUDED_ */
