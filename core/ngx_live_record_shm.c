
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_shm.h"


/* a session's event counter outlives its last event by a day */
#define NGX_LIVE_RECORD_SEQ_KEEP_MS  (86400 * 1000)


static void *ngx_live_record_core_create_conf(ngx_cycle_t *cycle);
static char *ngx_live_record_core_init_conf(ngx_cycle_t *cycle, void *conf);
static ngx_int_t ngx_live_record_shm_init(ngx_shm_zone_t *zone, void *data);


static ngx_str_t  ngx_live_record_shm_name = ngx_string("live_record");


/*
 * Seconds, from a thread pool's queue wait to an upload's retries over
 * minutes: the same fixed buckets for every histogram, so that they
 * compare and aggregate across nodes.
 */

ngx_msec_t  ngx_live_record_hist_le[NGX_LIVE_RECORD_HIST_BUCKETS] = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
    120000, 300000, 600000
};

char  *ngx_live_record_hist_le_text[NGX_LIVE_RECORD_HIST_BUCKETS] = {
    "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
    "30", "60", "120", "300", "600"
};


static ngx_core_module_t  ngx_live_record_core_module_ctx = {
    ngx_string("live_record_core"),
    ngx_live_record_core_create_conf,
    ngx_live_record_core_init_conf
};


ngx_module_t  ngx_live_record_core_module = {
    NGX_MODULE_V1,
    &ngx_live_record_core_module_ctx,       /* module context */
    NULL,                                   /* module directives */
    NGX_CORE_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    NULL,                                   /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    NULL,                                   /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_live_record_core_create_conf(ngx_cycle_t *cycle)
{
    return ngx_pcalloc(cycle->pool, sizeof(ngx_live_record_core_conf_t));
}


/* runs after the whole configuration is read, before zones are mapped */

static char *
ngx_live_record_core_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_live_record_core_conf_t *lccf = conf;

    if (lccf->zone && lccf->zone->shm.size == 0) {
        lccf->zone->shm.size = NGX_LIVE_RECORD_SHM_DEFAULT;
    }

    return NGX_CONF_OK;
}


/* the rtmp side and the API both ask for the zone; the API may size it */

ngx_shm_zone_t *
ngx_live_record_shm_add(ngx_conf_t *cf, size_t size)
{
    ngx_shm_zone_t               *zone;
    ngx_live_record_core_conf_t  *lccf;

    lccf = (ngx_live_record_core_conf_t *)
               ngx_get_conf(cf->cycle->conf_ctx, ngx_live_record_core_module);

    zone = ngx_shared_memory_add(cf, &ngx_live_record_shm_name, size,
                                 &ngx_live_record_core_module);
    if (zone == NULL) {
        return NULL;
    }

    zone->init = ngx_live_record_shm_init;
    lccf->zone = zone;

    return zone;
}


static ngx_int_t
ngx_live_record_shm_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t        *shpool;
    ngx_live_record_shm_t  *sh;

    if (data) {
        /* a reload keeps the tasks and counters of the old zone */
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_live_record_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_init(&sh->tasks);
    ngx_queue_init(&sh->recorders);
    ngx_queue_init(&sh->jobs);
    ngx_queue_init(&sh->memos);
    ngx_queue_init(&sh->handovers);
    ngx_rbtree_init(&sh->seqs, &sh->seqs_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&sh->seqs_lru);

    shpool->data = sh;
    zone->data = sh;

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in live_record zone \"\"")
                                     + zone->shm.name.len);
    if (shpool->log_ctx != NULL) {
        ngx_sprintf(shpool->log_ctx, " in live_record zone \"%V\"%Z",
                    &zone->shm.name);
    }

    /* tasks come back from the disk in init_module, once paths are known */

    return NGX_OK;
}


ngx_live_record_shm_t *
ngx_live_record_shm(ngx_cycle_t *cycle, ngx_slab_pool_t **shpool)
{
    ngx_live_record_core_conf_t  *lccf;

    lccf = (ngx_live_record_core_conf_t *)
               ngx_get_conf(cycle->conf_ctx, ngx_live_record_core_module);

    if (lccf == NULL || lccf->zone == NULL || lccf->zone->data == NULL) {
        return NULL;
    }

    if (shpool) {
        *shpool = (ngx_slab_pool_t *) lccf->zone->shm.addr;
    }

    return lccf->zone->data;
}


ngx_live_record_shm_t *
ngx_live_record_shm_lock(ngx_cycle_t *cycle, ngx_slab_pool_t **shpool)
{
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm(cycle, shpool);

    if (sh) {
        ngx_shmtx_lock(&(*shpool)->mutex);
    }

    return sh;
}


ngx_int_t
ngx_live_record_shm_str(ngx_slab_pool_t *shpool, ngx_str_t *dst,
    ngx_str_t *src)
{
    dst->data = ngx_slab_alloc_locked(shpool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    if (src->len) {
        ngx_memcpy(dst->data, src->data, src->len);
    }

    dst->data[src->len] = '\0';
    dst->len = src->len;

    return NGX_OK;
}


void
ngx_live_record_stats_init(ngx_cycle_t *cycle)
{
    ngx_uint_t                       i;
    ngx_live_record_shm_t           *sh;
    ngx_live_record_worker_stats_t  *w;

    sh = ngx_live_record_shm(cycle, NULL);

    /* the cache manager and loader run init_process too: not theirs */

    if (sh == NULL
        || (ngx_process != NGX_PROCESS_WORKER
            && ngx_process != NGX_PROCESS_SINGLE)
        || ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES)
    {
        return;
    }

    /* the slot is this process's from now on: what a dead one left goes */

    w = &sh->stats.workers[ngx_process_slot];

    for (i = 0; i < NGX_LIVE_RECORD_NGAUGES; i++) {
        w->gauges[i] = 0;
    }

    ngx_memory_barrier();

    w->pid = ngx_pid;
}


void
ngx_live_record_stats_exit(ngx_cycle_t *cycle)
{
    ngx_live_record_shm_t           *sh;
    ngx_live_record_worker_stats_t  *w;

    sh = ngx_live_record_shm(cycle, NULL);

    if (sh == NULL || ngx_process_slot < 0
        || ngx_process_slot >= NGX_MAX_PROCESSES)
    {
        return;
    }

    w = &sh->stats.workers[ngx_process_slot];

    (void) ngx_atomic_cmp_set(&w->pid, ngx_pid, 0);
}


void
ngx_live_record_stat_add(ngx_uint_t stat, ngx_uint_t n)
{
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL);

    if (sh && stat < NGX_LIVE_RECORD_NSTATS) {
        (void) ngx_atomic_fetch_add(&sh->stats.counters[stat], n);
    }
}


void
ngx_live_record_stat_gauge(ngx_uint_t gauge, ngx_int_t n)
{
    ngx_live_record_shm_t           *sh;
    ngx_live_record_worker_stats_t  *w;

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL);

    if (sh == NULL || gauge >= NGX_LIVE_RECORD_NGAUGES
        || ngx_process_slot < 0 || ngx_process_slot >= NGX_MAX_PROCESSES)
    {
        return;
    }

    w = &sh->stats.workers[ngx_process_slot];

    if (w->pid != (ngx_atomic_uint_t) ngx_pid) {
        /* not a worker that took its slot: the master, a cache loader */
        return;
    }

    (void) ngx_atomic_fetch_add(&w->gauges[gauge], n);
}


void
ngx_live_record_stat_part(ngx_uint_t format, ngx_uint_t reason, off_t size,
    int64_t ms)
{
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL);

    if (sh == NULL || format >= NGX_LIVE_RECORD_NFORMATS
        || reason >= NGX_LIVE_RECORD_STATS_REASONS)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&sh->stats.parts[format][reason], 1);
    (void) ngx_atomic_fetch_add(&sh->stats.bytes[format],
                                size > 0 ? size : 0);
    (void) ngx_atomic_fetch_add(&sh->stats.media_ms[format],
                                ms > 0 ? ms : 0);
}


/* a file reached its store, or will not */

void
ngx_live_record_stat_handoff(ngx_int_t rc)
{
    if (rc == NGX_OK) {
        ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_HANDOFF_OK, 1);
        return;
    }

    ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_HANDOFF_FAILED, 1);
    ngx_live_record_stat_error();
}


void
ngx_live_record_stat_observe(ngx_uint_t hist, ngx_msec_t ms)
{
    ngx_uint_t              i;
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL);

    if (sh == NULL || hist >= NGX_LIVE_RECORD_NHISTS) {
        return;
    }

    for (i = 0; i < NGX_LIVE_RECORD_HIST_BUCKETS; i++) {
        if (ms <= ngx_live_record_hist_le[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&sh->stats.hists[hist].buckets[i], 1);
    (void) ngx_atomic_fetch_add(&sh->stats.hists[hist].sum_ms, ms);
}


/* something was lost or left behind: a write, a handoff, an event */

void
ngx_live_record_stat_error(void)
{
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL);

    if (sh) {
        sh->stats.counters[NGX_LIVE_RECORD_STAT_LAST_ERROR] = ngx_time();
    }
}


/*
 * Whether an nginx process of ours still runs: an exited worker is a
 * zombie until its master reaps it (kill(pid, 0) still succeeds then),
 * and a pid taken over by some other program is not ours.
 */

ngx_uint_t
ngx_live_record_process_alive(ngx_pid_t pid)
{
    u_char    *p, *last, path[64], buf[160];
    ssize_t    n;
    ngx_fd_t   fd;

    if (kill(pid, 0) == -1 && ngx_errno == NGX_ESRCH) {
        return 0;
    }

    ngx_sprintf(path, "/proc/%P/stat%Z", pid);

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        /* no /proc: kill() has the last word */
        return 1;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf));
    ngx_close_file(fd);

    if (n <= 0) {
        return 1;
    }

    /* "PID (COMM) STATE ...", COMM at most 16 bytes */

    last = buf + n;
    p = ngx_strlchr(buf, last, '(');

    if (p == NULL || last - p < 7 || ngx_strncmp(p + 1, "nginx", 5) != 0) {
        return 0;
    }

    for (p = last; p > buf && *(p - 1) != ')'; p--) {
        /* void */
    }

    return !(p > buf && p + 1 < last && p[1] == 'Z');
}


/*
 * Events of one session are numbered in the order they are made, by
 * every worker, so that a receiver can order what arrives out of order
 * (retries, parallel deliveries).  A session's counter is kept a day
 * after its last event; the zone being full, the least recent goes.
 */

typedef struct {
    ngx_str_node_t              sn;
    ngx_queue_t                 queue;          /* in sh->seqs_lru */
    uint64_t                    next;
    uint64_t                    used_ms;
} ngx_live_record_seq_t;


static void ngx_live_record_seq_free(ngx_slab_pool_t *shpool,
    ngx_live_record_shm_t *sh, ngx_live_record_seq_t *c);


uint64_t
ngx_live_record_session_seq(ngx_str_t *session)
{
    uint32_t                hash;
    uint64_t                now, n;
    ngx_queue_t            *q;
    ngx_slab_pool_t        *shpool;
    ngx_live_record_seq_t  *c;
    ngx_live_record_shm_t  *sh;

    if (session->len == 0) {
        return 0;
    }

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return 0;
    }

    now = ngx_live_record_now_ms();

    /* a day without events: the session is over */

    while (!ngx_queue_empty(&sh->seqs_lru)) {
        q = ngx_queue_head(&sh->seqs_lru);
        c = ngx_queue_data(q, ngx_live_record_seq_t, queue);

        if (c->used_ms + NGX_LIVE_RECORD_SEQ_KEEP_MS > now) {
            break;
        }

        ngx_live_record_seq_free(shpool, sh, c);
    }

    hash = ngx_crc32_short(session->data, session->len);

    c = (ngx_live_record_seq_t *) ngx_str_rbtree_lookup(&sh->seqs, session,
                                                        hash);

    if (c == NULL) {
        for ( ;; ) {
            c = ngx_slab_calloc_locked(shpool,
                                       sizeof(ngx_live_record_seq_t)
                                       + session->len);
            if (c || ngx_queue_empty(&sh->seqs_lru)) {
                break;
            }

            q = ngx_queue_head(&sh->seqs_lru);
            c = ngx_queue_data(q, ngx_live_record_seq_t, queue);
            ngx_live_record_seq_free(shpool, sh, c);
            c = NULL;
        }

        if (c == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            return 0;
        }

        c->sn.str.data = (u_char *) c + sizeof(ngx_live_record_seq_t);
        c->sn.str.len = session->len;
        ngx_memcpy(c->sn.str.data, session->data, session->len);
        c->sn.node.key = hash;
        c->next = 1;

        ngx_rbtree_insert(&sh->seqs, &c->sn.node);

    } else {
        ngx_queue_remove(&c->queue);
    }

    c->used_ms = now;
    ngx_queue_insert_tail(&sh->seqs_lru, &c->queue);

    n = c->next++;

    ngx_shmtx_unlock(&shpool->mutex);

    return n;
}


static void
ngx_live_record_seq_free(ngx_slab_pool_t *shpool, ngx_live_record_shm_t *sh,
    ngx_live_record_seq_t *c)
{
    ngx_queue_remove(&c->queue);
    ngx_rbtree_delete(&sh->seqs, &c->sn.node);
    ngx_slab_free_locked(shpool, c);
}
