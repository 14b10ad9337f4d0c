
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_SHM_H_INCLUDED_
#define _NGX_LIVE_RECORD_SHM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"


/*
 * The shared memory zone "live_record": record tasks, the live recorders
 * of every worker, concat jobs and the counters behind the metrics.  It
 * always exists (1m unless live_record_api_zone sizes it), so that a task
 * created through one worker is seen by the worker that holds the stream.
 * Lock shpool->mutex around any access to the queues.
 */


#define NGX_LIVE_RECORD_SHM_DEFAULT  (1024 * 1024)
#define NGX_LIVE_RECORD_SHM_MIN      (128 * 1024)


/*
 * The counters behind live_record_metrics.  Counters only grow, added to
 * with ngx_atomic_fetch_add and no lock, from the event loop or a thread.
 * Gauges (what is in flight) are kept per process, in the slot of
 * ngx_process_slot, written by that process alone: the slot of a worker
 * that died is skipped, so a crash never leaves a gauge stuck.
 */

#define NGX_LIVE_RECORD_STATS_REASONS   16      /* room to add reasons */

#define NGX_LIVE_RECORD_STAT_HANDOFF_OK        0
#define NGX_LIVE_RECORD_STAT_HANDOFF_FAILED    1
#define NGX_LIVE_RECORD_STAT_NOTIFY_DELIVERED  2
#define NGX_LIVE_RECORD_STAT_NOTIFY_FAILED     3   /* attempts */
#define NGX_LIVE_RECORD_STAT_NOTIFY_DEAD       4
#define NGX_LIVE_RECORD_STAT_RECOVERED         5
#define NGX_LIVE_RECORD_STAT_LAST_ERROR        6   /* unix seconds */
#define NGX_LIVE_RECORD_STAT_OPEN_DROPPED      7   /* frames */
#define NGX_LIVE_RECORD_STAT_DELETED_EXPIRED   8   /* files */
#define NGX_LIVE_RECORD_STAT_DELETED_API       9
#define NGX_LIVE_RECORD_STAT_TAKEN             10  /* parts, other worker */
#define NGX_LIVE_RECORD_STAT_NOT_TAKEN         11
#define NGX_LIVE_RECORD_NSTATS                 12

#define NGX_LIVE_RECORD_GAUGE_FINALIZING       0   /* files */
#define NGX_LIVE_RECORD_GAUGE_UPLOADS          1
#define NGX_LIVE_RECORD_GAUGE_NOTIFY           2   /* events queued */
#define NGX_LIVE_RECORD_GAUGE_SPOOL_NOTIFY     3   /* files in the spool */
#define NGX_LIVE_RECORD_GAUGE_SPOOL_HANDOFF    4
#define NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN       5
#define NGX_LIVE_RECORD_GAUGE_SPOOL_CLUSTER    6   /* rows not yet written */
#define NGX_LIVE_RECORD_NGAUGES                7


/*
 * Histograms of latencies, in milliseconds, counted per bucket (not
 * cumulative; the scrape adds them up); the bounds are
 * ngx_live_record_hist_le[], the last bucket is +Inf.
 */

#define NGX_LIVE_RECORD_HIST_FINALIZE          0   /* close -> finalized */
#define NGX_LIVE_RECORD_HIST_HANDOFF           1   /* finalized -> stored */
#define NGX_LIVE_RECORD_HIST_NOTIFY            2   /* last frame -> 2xx */
#define NGX_LIVE_RECORD_NHISTS                 3

#define NGX_LIVE_RECORD_HIST_BUCKETS           15  /* and +Inf */


typedef struct {
    ngx_atomic_t                buckets[NGX_LIVE_RECORD_HIST_BUCKETS + 1];
    ngx_atomic_t                sum_ms;
} ngx_live_record_hist_t;


typedef struct {
    ngx_atomic_t                pid;            /* 0: free */
    ngx_atomic_t                gauges[NGX_LIVE_RECORD_NGAUGES];
} ngx_live_record_worker_stats_t;


typedef struct {
    /* finished files, by format and NGX_LIVE_RECORD_REASON_* */
    ngx_atomic_t                parts[NGX_LIVE_RECORD_NFORMATS]
                                     [NGX_LIVE_RECORD_STATS_REASONS];
    ngx_atomic_t                bytes[NGX_LIVE_RECORD_NFORMATS];
    ngx_atomic_t                media_ms[NGX_LIVE_RECORD_NFORMATS];
    ngx_atomic_t                counters[NGX_LIVE_RECORD_NSTATS];
    ngx_live_record_hist_t      hists[NGX_LIVE_RECORD_NHISTS];
    ngx_live_record_worker_stats_t  workers[NGX_MAX_PROCESSES];
} ngx_live_record_stats_t;


typedef struct {
    ngx_live_record_stats_t     stats;
    ngx_queue_t                 tasks;          /* ngx_live_record_task_t */
    ngx_queue_t                 recorders;      /* ..._recorder_t */
    ngx_queue_t                 jobs;           /* concat jobs */
    ngx_queue_t                 memos;          /* sessions to join */
    ngx_queue_t                 handovers;      /* parts that wait */
    ngx_rbtree_t                seqs;           /* by session id */
    ngx_rbtree_node_t           seqs_sentinel;
    ngx_queue_t                 seqs_lru;       /* least recent first */
    ngx_uint_t                  generation;     /* of tasks */
    ngx_uint_t                  loaded;
    uint64_t                    seq;            /* for ids */
    uint64_t                    tasks_saved;    /* tasks.json versions */
    uint64_t                    tasks_written;
    uint64_t                    tasks_synced;   /* ms: the cluster's rows */
} ngx_live_record_shm_t;


typedef struct {
    ngx_shm_zone_t             *zone;
    size_t                      size;
} ngx_live_record_core_conf_t;


extern ngx_module_t  ngx_live_record_core_module;

/* the upper bounds of the histograms' buckets, ms and as Prometheus' le */
extern ngx_msec_t  ngx_live_record_hist_le[NGX_LIVE_RECORD_HIST_BUCKETS];
extern char       *ngx_live_record_hist_le_text[NGX_LIVE_RECORD_HIST_BUCKETS];


/* NULL before the zone is mapped */
ngx_live_record_shm_t *ngx_live_record_shm(ngx_cycle_t *cycle,
    ngx_slab_pool_t **shpool);
/* the same, with shpool->mutex held when it is not NULL */
ngx_live_record_shm_t *ngx_live_record_shm_lock(ngx_cycle_t *cycle,
    ngx_slab_pool_t **shpool);
ngx_shm_zone_t *ngx_live_record_shm_add(ngx_conf_t *cf, size_t size);

/*
 * Counting, from the event loop or a thread; each does nothing before the
 * zone is mapped.  stats_init takes the process's slot, before anything
 * is counted in it; stats_exit gives it back.
 */
void ngx_live_record_stats_init(ngx_cycle_t *cycle);
void ngx_live_record_stats_exit(ngx_cycle_t *cycle);
void ngx_live_record_stat_add(ngx_uint_t stat, ngx_uint_t n);
void ngx_live_record_stat_gauge(ngx_uint_t gauge, ngx_int_t n);
void ngx_live_record_stat_part(ngx_uint_t format, ngx_uint_t reason,
    off_t size, int64_t ms);
void ngx_live_record_stat_handoff(ngx_int_t rc);
void ngx_live_record_stat_observe(ngx_uint_t hist, ngx_msec_t ms);
void ngx_live_record_stat_error(void);

ngx_uint_t ngx_live_record_process_alive(ngx_pid_t pid);

/* the next number of a session's events, from 1; 0 if there is none */
uint64_t ngx_live_record_session_seq(ngx_str_t *session);

/* a copy of s in the zone, null-terminated; call with the mutex held */
ngx_int_t ngx_live_record_shm_str(ngx_slab_pool_t *shpool, ngx_str_t *dst,
    ngx_str_t *src);


#endif /* _NGX_LIVE_RECORD_SHM_H_INCLUDED_ */
