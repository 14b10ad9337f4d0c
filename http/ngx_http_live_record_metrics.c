
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_live_record.h"
#include "ngx_live_record_shm.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_writer.h"


/*
 * live_record_metrics in a location: the counters of the shared zone
 * "live_record" in Prometheus' text format 0.0.4, the same whichever
 * worker answers.  No token is asked for (scrapers send none): the
 * location is restricted with allow/deny.
 */


/* the fixed families take about 8k; each work path adds its own line */
#define NGX_HTTP_LIVE_RECORD_METRICS_SIZE  16384
#define NGX_HTTP_LIVE_RECORD_METRICS_LINE  128


typedef struct {
    ngx_atomic_uint_t           recorders[NGX_LIVE_RECORD_NFORMATS];
    ngx_atomic_uint_t           gauges[NGX_LIVE_RECORD_NGAUGES];
    ngx_uint_t                  workers;
} ngx_http_live_record_metrics_t;


static ngx_int_t ngx_http_live_record_metrics_handler(ngx_http_request_t *r);
static void ngx_http_live_record_metrics_collect(ngx_live_record_shm_t *sh,
    ngx_slab_pool_t *shpool, ngx_http_live_record_metrics_t *m);
static u_char *ngx_http_live_record_metrics_write(u_char *p, u_char *last,
    ngx_live_record_shm_t *sh, ngx_http_live_record_metrics_t *m);
static u_char *ngx_http_live_record_metrics_hist(u_char *p, u_char *last,
    ngx_live_record_hist_t *h, const char *name, const char *help);
static u_char *ngx_http_live_record_metrics_disk(u_char *p, u_char *last,
    ngx_live_record_main_conf_t *lmcf, ngx_log_t *log);
static u_char *ngx_http_live_record_metrics_head(u_char *p, u_char *last,
    const char *name, const char *type, const char *help);
static u_char *ngx_http_live_record_metrics_escape(u_char *p, u_char *last,
    ngx_str_t *value);
static char *ngx_http_live_record_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_live_record_metrics_commands[] = {

    { ngx_string("live_record_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_live_record_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_live_record_metrics_module_ctx = {
    NULL,                                   /* preconfiguration */
    NULL,                                   /* postconfiguration */
    NULL,                                   /* create main configuration */
    NULL,                                   /* init main configuration */
    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */
    NULL,                                   /* create location configuration */
    NULL                                    /* merge location configuration */
};


ngx_module_t  ngx_http_live_record_metrics_module = {
    NGX_MODULE_V1,
    &ngx_http_live_record_metrics_module_ctx, /* module context */
    ngx_http_live_record_metrics_commands,  /* module directives */
    NGX_HTTP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    NULL,                                   /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    NULL,                                   /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_live_record_metrics_handler(ngx_http_request_t *r)
{
    size_t                           size;
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_uint_t                       i;
    ngx_chain_t                      out;
    ngx_slab_pool_t                 *shpool;
    ngx_live_record_shm_t           *sh;
    ngx_live_record_app_conf_t     **lacf;
    ngx_live_record_main_conf_t     *lmcf;
    ngx_http_live_record_metrics_t   m;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "live record: metrics: the live_record zone is not "
                      "mapped");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lmcf = ngx_live_record_rtmp_main_conf((ngx_cycle_t *) ngx_cycle);

    size = NGX_HTTP_LIVE_RECORD_METRICS_SIZE;

    if (lmcf) {
        lacf = lmcf->stores.elts;

        for (i = 0; i < lmcf->stores.nelts; i++) {
            size += 2 * lacf[i]->work.len + NGX_HTTP_LIVE_RECORD_METRICS_LINE;
        }
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_live_record_metrics_collect(sh, shpool, &m);

    b->last = ngx_http_live_record_metrics_write(b->pos, b->end, sh, &m);

    if (lmcf) {
        b->last = ngx_http_live_record_metrics_disk(b->last, b->end, lmcf,
                                                    r->connection->log);
    }

    if (b->last == b->end) {
        /* a truncated scrape would read as counters going down */
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "live record: metrics do not fit in %uz bytes", size);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Gauges: the slots of the processes still alive, and the recorders they
 * list in the zone.  What a dead worker left is not counted; its slot is
 * freed here (its recorders, by the next GET /streams).
 */

static void
ngx_http_live_record_metrics_collect(ngx_live_record_shm_t *sh,
    ngx_slab_pool_t *shpool, ngx_http_live_record_metrics_t *m)
{
    ngx_pid_t                        pid, live[NGX_MAX_PROCESSES];
    ngx_uint_t                       i, k;
    ngx_queue_t                     *q;
    ngx_live_record_recorder_t      *rec;
    ngx_live_record_worker_stats_t  *w;

    ngx_memzero(m, sizeof(ngx_http_live_record_metrics_t));

    for (i = 0; i < NGX_MAX_PROCESSES; i++) {
        w = &sh->stats.workers[i];
        pid = (ngx_pid_t) w->pid;

        if (pid == 0) {
            continue;
        }

        if (!ngx_live_record_process_alive(pid)) {
            (void) ngx_atomic_cmp_set(&w->pid, (ngx_atomic_uint_t) pid, 0);
            continue;
        }

        live[m->workers++] = pid;

        for (k = 0; k < NGX_LIVE_RECORD_NGAUGES; k++) {
            m->gauges[k] += w->gauges[k];
        }
    }

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->recorders);
         q != ngx_queue_sentinel(&sh->recorders);
         q = ngx_queue_next(q))
    {
        rec = ngx_queue_data(q, ngx_live_record_recorder_t, queue);

        for (i = 0; i < m->workers; i++) {
            if (live[i] == rec->pid) {
                break;
            }
        }

        if (i == m->workers) {
            continue;
        }

        for (k = 0; k < NGX_LIVE_RECORD_NFORMATS; k++) {
            if (rec->formats & (1 << k)) {
                m->recorders[k]++;
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


static u_char *
ngx_http_live_record_metrics_write(u_char *p, u_char *last,
    ngx_live_record_shm_t *sh, ngx_http_live_record_metrics_t *m)
{
    ngx_uint_t                f, k;
    ngx_atomic_uint_t         ms;
    ngx_live_record_stats_t  *st;

    st = &sh->stats;

    p = ngx_http_live_record_metrics_head(p, last, "live_record_build_info",
            "gauge", "Always 1; the labels name the module's version and "
                     "the nginx and libavformat it runs with.");

    p = ngx_slprintf(p, last, "live_record_build_info{version=\"%s\","
                     "nginx=\"%s\",libavformat=\"", NGX_LIVE_RECORD_VERSION,
                     NGINX_VERSION);
    p = ngx_live_record_avformat_version(p, last);
    p = ngx_slprintf(p, last, "\"} 1\n");

    p = ngx_http_live_record_metrics_head(p, last, "live_record_recorders",
            "gauge", "Streams recording now, by format, in all workers.");

    for (f = 0; f < NGX_LIVE_RECORD_NFORMATS; f++) {
        p = ngx_slprintf(p, last, "live_record_recorders{format=\"%s\"} %uA\n",
                         ngx_live_record_format_ext(f), m->recorders[f]);
    }

    p = ngx_http_live_record_metrics_head(p, last, "live_record_parts_total",
            "counter", "Files finished (one format of a part), by format "
                       "and end reason.");

    for (f = 0; f < NGX_LIVE_RECORD_NFORMATS; f++) {
        for (k = 0; k < NGX_LIVE_RECORD_NREASONS; k++) {
            p = ngx_slprintf(p, last, "live_record_parts_total{format=\"%s\","
                             "reason=\"%s\"} %uA\n",
                             ngx_live_record_format_ext(f),
                             ngx_live_record_reason_name(k),
                             st->parts[f][k]);
        }
    }

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_written_bytes_total", "counter",
            "Bytes of the finished files, by format, counted when a file "
            "is finished.");

    for (f = 0; f < NGX_LIVE_RECORD_NFORMATS; f++) {
        p = ngx_slprintf(p, last,
                         "live_record_written_bytes_total{format=\"%s\"} "
                         "%uA\n",
                         ngx_live_record_format_ext(f), st->bytes[f]);
    }

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_recorded_seconds_total", "counter",
            "Seconds of media in the finished files, by format.");

    for (f = 0; f < NGX_LIVE_RECORD_NFORMATS; f++) {
        ms = st->media_ms[f];
        p = ngx_slprintf(p, last,
                         "live_record_recorded_seconds_total{format=\"%s\"} "
                         "%uA.%03uA\n",
                         ngx_live_record_format_ext(f), ms / 1000, ms % 1000);
    }

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_handoffs_total", "counter",
            "Finished files that reached their store (ok) or were left "
            "behind (failed).");

    p = ngx_slprintf(p, last,
                     "live_record_handoffs_total{result=\"ok\"} %uA\n"
                     "live_record_handoffs_total{result=\"failed\"} %uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_HANDOFF_OK],
                     st->counters[NGX_LIVE_RECORD_STAT_HANDOFF_FAILED]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_handoffs_pending", "gauge",
            "Files being finalized and moved, or uploaded to a remote "
            "store, retries included.");

    p = ngx_slprintf(p, last, "live_record_handoffs_pending %uA\n",
                     m->gauges[NGX_LIVE_RECORD_GAUGE_FINALIZING]
                     + m->gauges[NGX_LIVE_RECORD_GAUGE_UPLOADS]);

    p = ngx_http_live_record_metrics_head(p, last, "live_record_notify_total",
            "counter", "Notify attempts: delivered (a 2xx answer) or failed "
                       "(each failed attempt).");

    p = ngx_slprintf(p, last,
                     "live_record_notify_total{result=\"delivered\"} %uA\n"
                     "live_record_notify_total{result=\"failed\"} %uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_NOTIFY_DELIVERED],
                     st->counters[NGX_LIVE_RECORD_STAT_NOTIFY_FAILED]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_notify_dead_total", "counter",
            "Notify events given up after live_record_notify_retry, moved "
            "to the dead-letter directory.");

    p = ngx_slprintf(p, last, "live_record_notify_dead_total %uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_NOTIFY_DEAD]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_notify_pending", "gauge",
            "Notify events (one per receiver) waiting for an answer or a "
            "retry.");

    p = ngx_slprintf(p, last, "live_record_notify_pending %uA\n",
                     m->gauges[NGX_LIVE_RECORD_GAUGE_NOTIFY]);

    p = ngx_http_live_record_metrics_head(p, last, "live_record_spool_files",
            "gauge", "Files in the spool held by running workers: events "
                     "(notify), uploads (handoff), open parts (open), "
                     "cluster rows not yet written (cluster).");

    p = ngx_slprintf(p, last,
                     "live_record_spool_files{dir=\"notify\"} %uA\n"
                     "live_record_spool_files{dir=\"handoff\"} %uA\n"
                     "live_record_spool_files{dir=\"open\"} %uA\n"
                     "live_record_spool_files{dir=\"cluster\"} %uA\n",
                     m->gauges[NGX_LIVE_RECORD_GAUGE_SPOOL_NOTIFY],
                     m->gauges[NGX_LIVE_RECORD_GAUGE_SPOOL_HANDOFF],
                     m->gauges[NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN],
                     m->gauges[NGX_LIVE_RECORD_GAUGE_SPOOL_CLUSTER]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_recovered_parts_total", "counter",
            "Files of parts left open by a worker that died, taken over "
            "and finished.");

    p = ngx_slprintf(p, last, "live_record_recovered_parts_total %uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_RECOVERED]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_open_dropped_frames_total", "counter",
            "Frames a part lost because its files were still being "
            "opened in the thread pool and too many waited.");

    p = ngx_slprintf(p, last, "live_record_open_dropped_frames_total %uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_OPEN_DROPPED]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_deleted_files_total", "counter",
            "Files deleted from their store and the index: expired "
            "(live_record_keep) or by DELETE /files/ID.");

    p = ngx_slprintf(p, last,
                     "live_record_deleted_files_total{reason=\"expired\"} "
                     "%uA\n"
                     "live_record_deleted_files_total{reason=\"api\"} %uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_DELETED_EXPIRED],
                     st->counters[NGX_LIVE_RECORD_STAT_DELETED_API]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_handovers_total", "counter",
            "Reconnects within live_record_continue that landed on another "
            "worker than their waiting part's: the part taken over, or "
            "not (a new part started).");

    p = ngx_slprintf(p, last,
                     "live_record_handovers_total{result=\"taken\"} %uA\n"
                     "live_record_handovers_total{result=\"not_taken\"} "
                     "%uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_TAKEN],
                     st->counters[NGX_LIVE_RECORD_STAT_NOT_TAKEN]);

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_last_error_timestamp_seconds", "gauge",
            "Unix time of the last write error, failed handoff or "
            "dead-lettered event; 0 if none.");

    p = ngx_slprintf(p, last,
                     "live_record_last_error_timestamp_seconds %uA\n",
                     st->counters[NGX_LIVE_RECORD_STAT_LAST_ERROR]);

    p = ngx_http_live_record_metrics_hist(p, last,
            &st->hists[NGX_LIVE_RECORD_HIST_FINALIZE],
            "live_record_finalize_seconds",
            "From a file's close to its finalize's end (thread pool wait, "
            "writer close, index, checksum, move into the store's "
            "directory), per file.");

    p = ngx_http_live_record_metrics_hist(p, last,
            &st->hists[NGX_LIVE_RECORD_HIST_HANDOFF],
            "live_record_handoff_seconds",
            "From a finalized file to its store having it: 0 for a local "
            "store, the upload with its retries for http and s3.");

    p = ngx_http_live_record_metrics_hist(p, last,
            &st->hists[NGX_LIVE_RECORD_HIST_NOTIFY],
            "live_record_notify_delay_seconds",
            "From a file's last frame to its record_done event's 2xx "
            "answer, per receiver.");

    p = ngx_http_live_record_metrics_head(p, last, "live_record_workers",
            "gauge", "Worker processes counting into the zone.");

    p = ngx_slprintf(p, last, "live_record_workers %ui\n", m->workers);

    return p;
}


/*
 * The buckets as Prometheus wants them, cumulative; _count is the +Inf
 * bucket, so the two agree even when a scrape races an observation.
 */

static u_char *
ngx_http_live_record_metrics_hist(u_char *p, u_char *last,
    ngx_live_record_hist_t *h, const char *name, const char *help)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  n, ms;

    p = ngx_http_live_record_metrics_head(p, last, name, "histogram", help);

    n = 0;

    for (i = 0; i < NGX_LIVE_RECORD_HIST_BUCKETS; i++) {
        n += h->buckets[i];
        p = ngx_slprintf(p, last, "%s_bucket{le=\"%s\"} %uA\n", name,
                         ngx_live_record_hist_le_text[i], n);
    }

    n += h->buckets[NGX_LIVE_RECORD_HIST_BUCKETS];
    ms = h->sum_ms;

    return ngx_slprintf(p, last, "%s_bucket{le=\"+Inf\"} %uA\n"
                        "%s_sum %uA.%03uA\n"
                        "%s_count %uA\n",
                        name, n, name, ms / 1000, ms % 1000, name, n);
}


/* free space where parts are written, once per distinct work path */

static u_char *
ngx_http_live_record_metrics_disk(u_char *p, u_char *last,
    ngx_live_record_main_conf_t *lmcf, ngx_log_t *log)
{
    off_t                         avail;
    ngx_uint_t                    i, j;
    struct statfs                 fs;
    ngx_live_record_app_conf_t  **lacf;

    if (lmcf->stores.nelts == 0) {
        /* nothing records: no family without samples */
        return p;
    }

    p = ngx_http_live_record_metrics_head(p, last,
            "live_record_work_free_bytes", "gauge",
            "Bytes available in the filesystem of each "
            "live_record_work_path.");

    lacf = lmcf->stores.elts;

    for (i = 0; i < lmcf->stores.nelts; i++) {

        for (j = 0; j < i; j++) {
            if (lacf[j]->work.len == lacf[i]->work.len
                && ngx_strncmp(lacf[j]->work.data, lacf[i]->work.data,
                               lacf[i]->work.len) == 0)
            {
                break;
            }
        }

        if (j < i) {
            continue;
        }

        if (statfs((char *) lacf[i]->work.data, &fs) == -1) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, ngx_errno,
                           "live record: metrics: statfs(\"%V\") failed",
                           &lacf[i]->work);
            continue;
        }

        avail = (off_t) fs.f_bavail * fs.f_bsize;

        p = ngx_slprintf(p, last, "live_record_work_free_bytes{path=\"");
        p = ngx_http_live_record_metrics_escape(p, last, &lacf[i]->work);
        p = ngx_slprintf(p, last, "\"} %O\n", avail);
    }

    return p;
}


static u_char *
ngx_http_live_record_metrics_head(u_char *p, u_char *last, const char *name,
    const char *type, const char *help)
{
    return ngx_slprintf(p, last, "# HELP %s %s\n# TYPE %s %s\n",
                        name, help, name, type);
}


/* a label value: backslash, double quote and newline escaped */

static u_char *
ngx_http_live_record_metrics_escape(u_char *p, u_char *last,
    ngx_str_t *value)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < value->len && last - p > 2; i++) {
        c = value->data[i];

        if (c == '\\' || c == '"') {
            *p++ = '\\';
            *p++ = c;
            continue;
        }

        if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';
            continue;
        }

        *p++ = c;
    }

    return p;
}


static char *
ngx_http_live_record_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_live_record_metrics_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_live_record_metrics_handler;

    /* the counters live in the zone, which exists even without rtmp{} */

    if (ngx_live_record_shm_add(cf, 0) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
