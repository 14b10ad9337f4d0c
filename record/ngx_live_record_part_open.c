
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * Opening a part.  The loop names the part (its path from the template,
 * file ids, sidecar texts) and posts one task to the thread pool, which
 * checks that the name is free, creates the directories, opens every file
 * and writes the sidecars: directory creation, open(2) and small writes
 * that can each take milliseconds on a loaded disk, times every stream
 * that starts at once, stay off the event loop.  Frames that arrive
 * meanwhile wait in the part's queues (bounded); when the task is back,
 * the loop announces the part and lets them through.  A name taken by an
 * earlier part is retried with the next suffix, again in the pool.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_shm.h"


#define NGX_LIVE_RECORD_MAX_PATH       4096

/* NAME_MAX less room for "_999.mp4.samples" */
#define NGX_LIVE_RECORD_MAX_FILE_NAME  236
#define NGX_LIVE_RECORD_MAX_SUFFIX     1000

/* what the first open task grows the descriptor table to, at most */
#define NGX_LIVE_RECORD_FDS_MAX        16384


struct ngx_live_record_open_s {
    ngx_str_t                   text[NGX_LIVE_RECORD_NFORMATS]; /* sidecars */
    ngx_pool_t                 *pool;           /* the thread's allocations */
    size_t                      len;            /* rel without a suffix */
    ngx_uint_t                  suffix;
    ngx_uint_t                  no_sidecar;
    ngx_int_t                   rc;             /* NGX_AGAIN: in the pool */
#if (NGX_THREADS)
    ngx_thread_task_t          *task;
#endif
};


static ngx_int_t ngx_live_record_copy_stream(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st);
static u_char *ngx_live_record_cpy(u_char *dst, u_char *src, size_t len);
static ngx_int_t ngx_live_record_open_job(ngx_live_record_part_t *p);
static ngx_int_t ngx_live_record_open_post(ngx_live_record_part_t *p);
static ngx_int_t ngx_live_record_name(ngx_live_record_part_t *p);
static void ngx_live_record_free_texts(ngx_live_record_open_t *job);
static void ngx_live_record_open_thread(void *data, ngx_log_t *log);
static void ngx_live_record_grow_fds(void);
static ngx_int_t ngx_live_record_name_taken(ngx_live_record_part_t *p);
static ngx_int_t ngx_live_record_open_file(ngx_live_record_part_t *p,
    ngx_uint_t format, ngx_log_t *log);
static void ngx_live_record_open_done(ngx_event_t *ev);
static void ngx_live_record_opened_handler(ngx_event_t *ev);
static void ngx_live_record_opened_files(ngx_live_record_part_t *p);
static void ngx_live_record_destroy_job(void *data);
static ngx_int_t ngx_live_record_expand(ngx_live_record_part_t *p,
    u_char *buf, size_t size);
static u_char *ngx_live_record_file_path(ngx_pool_t *pool, ngx_str_t *dir,
    ngx_str_t *rel, ngx_uint_t format, ngx_str_t *out);


ngx_live_record_part_t *
ngx_live_record_part_open(ngx_live_record_stream_t *st,
    ngx_live_record_template_t *tpl, ngx_live_record_app_conf_t *lacf,
    ngx_live_record_main_conf_t *lmcf, ngx_uint_t formats, ngx_uint_t n,
    int64_t base)
{
    ngx_uint_t               i;
    ngx_pool_t              *pool;
    ngx_pool_cleanup_t      *cln;
    ngx_live_record_part_t  *p;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    p = ngx_pcalloc(pool, sizeof(ngx_live_record_part_t));
    if (p == NULL) {
        goto failed;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        goto failed;
    }

    cln->handler = ngx_live_record_part_free_queue;
    cln->data = p;

    ngx_queue_init(&p->out);

    p->pool = pool;
    p->log = ngx_cycle->log;
    p->n = n;
    p->want = formats;
    p->tpl = tpl;
    p->lacf = lacf;
    p->lmcf = lmcf;
    p->base = base;

    p->start_ms = ngx_live_record_now_ms();

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        p->last[i] = -1;
    }

    if (ngx_live_record_copy_stream(p, st) != NGX_OK
        || ngx_live_record_file_ids(p) != NGX_OK
        || ngx_live_record_open_job(p) != NGX_OK
        || ngx_live_record_open_post(p) != NGX_OK)
    {
        goto failed;
    }

    /* opened on the loop (no thread pool): a part with no file is none */

    if (!p->opening && p->formats == 0) {
        goto failed;
    }

    return p;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


/* the part outlives the connection: it keeps copies of what it names */

static ngx_int_t
ngx_live_record_copy_stream(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st)
{
    u_char      *s;
    size_t       len;
    ngx_uint_t   n;

    len = st->label.len + st->domain.len + st->args.len + st->session.len
          + st->sources.len + st->task_id.len + st->extension.len
          + st->tracks[NGX_LIVE_RECORD_VIDEO].extradata_len
          + st->tracks[NGX_LIVE_RECORD_AUDIO].extradata_len;

    s = ngx_pnalloc(p->pool, len);
    if (s == NULL) {
        return NGX_ERROR;
    }

    p->st = *st;

    p->st.label.data = s;
    s = ngx_live_record_cpy(s, st->label.data, st->label.len);

    p->st.app.data = p->st.label.data;
    p->st.name.data = p->st.label.data + st->app.len + 1;

    p->st.domain.data = s;
    s = ngx_live_record_cpy(s, st->domain.data, st->domain.len);

    p->st.args.data = s;
    s = ngx_live_record_cpy(s, st->args.data, st->args.len);

    p->st.session.data = s;
    s = ngx_live_record_cpy(s, st->session.data, st->session.len);

    p->st.sources.data = s;
    s = ngx_live_record_cpy(s, st->sources.data, st->sources.len);

    p->st.task_id.data = s;
    s = ngx_live_record_cpy(s, st->task_id.data, st->task_id.len);

    p->st.extension.data = s;
    s = ngx_live_record_cpy(s, st->extension.data, st->extension.len);

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        p->st.tracks[n].extradata = s;
        s = ngx_live_record_cpy(s, st->tracks[n].extradata,
                       st->tracks[n].extradata_len);
    }

    return NGX_OK;
}


/* an absent track or an empty domain has no bytes and maybe no pointer */

static u_char *
ngx_live_record_cpy(u_char *dst, u_char *src, size_t len)
{
    return len ? ngx_cpymem(dst, src, len) : dst;
}


/* new codec parameters for a part that goes on (hls) */

ngx_int_t
ngx_live_record_part_set_tracks(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st)
{
    u_char      *s;
    ngx_uint_t   n;

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        s = ngx_pnalloc(p->pool, st->tracks[n].extradata_len + 1);
        if (s == NULL) {
            return NGX_ERROR;
        }

        p->st.tracks[n] = st->tracks[n];
        p->st.tracks[n].extradata = s;
        (void) ngx_live_record_cpy(s, st->tracks[n].extradata,
                                   st->tracks[n].extradata_len);

        p->tail[n] = NULL;
    }

    return NGX_OK;
}


/*
 * What the open task works with: its own pool, destroyed with the part's,
 * so the loop and the thread never allocate from one pool at once.
 */

static ngx_int_t
ngx_live_record_open_job(ngx_live_record_part_t *p)
{
    u_char                  *buf;
    ngx_uint_t               i;
    ngx_pool_cleanup_t      *cln;
    ngx_live_record_open_t  *job;

    job = ngx_pcalloc(p->pool, sizeof(ngx_live_record_open_t));
    if (job == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(p->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    job->pool = ngx_create_pool(1024, p->log);
    if (job->pool == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_live_record_destroy_job;
    cln->data = job;

    p->open = job;

    /* a format the stream has no track for is left out here, once */

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->want & (1 << i))) {
            continue;
        }

        if (i != NGX_LIVE_RECORD_AAC
            && p->st.tracks[NGX_LIVE_RECORD_VIDEO].codec
            && !(ngx_live_record_format_tracks(i, p->st.tracks)
                 & (1 << NGX_LIVE_RECORD_VIDEO)))
        {
            /* not a file without the video passed off as complete */
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "live record: \"%V\" part %ui: %s video cannot "
                          "be recorded as %s, format refused",
                          &p->st.label, p->n,
                          ngx_live_record_codec_name(
                              p->st.tracks[NGX_LIVE_RECORD_VIDEO].codec),
                          ngx_live_record_format_ext(i));
            ngx_live_record_part_file_failed(p, i, "codec");
            p->want &= ~(1 << i);
            continue;
        }

        if (ngx_live_record_format_tracks(i, p->st.tracks) == 0) {
            ngx_log_error(NGX_LOG_WARN, p->log, 0,
                          "live record: \"%V\" part %ui: no track of the "
                          "stream can be recorded as %s, format skipped",
                          &p->st.label, p->n, ngx_live_record_format_ext(i));
            p->want &= ~(1 << i);
        }
    }

    if (p->want == 0) {
        return NGX_ERROR;
    }

    buf = ngx_pnalloc(p->pool, NGX_LIVE_RECORD_MAX_PATH);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    if (ngx_live_record_expand(p, buf, NGX_LIVE_RECORD_MAX_PATH - 16)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    job->len = p->rel.len;
    job->suffix = 1;

    if ((p->want & (1 << NGX_LIVE_RECORD_MP4))
        && ngx_live_record_part_mp4_prepare(p) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_live_record_destroy_job(void *data)
{
    ngx_live_record_open_t  *job = data;

    ngx_live_record_free_texts(job);
    ngx_destroy_pool(job->pool);
}


/* names the part with the job's suffix, and hands it to the pool */

static ngx_int_t
ngx_live_record_open_post(ngx_live_record_part_t *p)
{
    ngx_live_record_open_t  *job = p->open;

    if (ngx_live_record_name(p) != NGX_OK) {
        return NGX_ERROR;
    }

    job->rc = NGX_AGAIN;
    p->opening = 1;

#if (NGX_THREADS)

    if (p->lacf->thread_pool && !ngx_live_record_threads_gone) {
        if (job->task == NULL) {
            job->task = ngx_thread_task_alloc(p->pool, 0);
        }

        if (job->task) {
            job->task->ctx = p;
            job->task->handler = ngx_live_record_open_thread;
            job->task->event.handler = ngx_live_record_open_done;
            job->task->event.data = p;
            job->task->event.log = p->log;

            if (ngx_live_record_post(p->lacf->thread_pool, job->task)
                == NGX_OK)
            {
                return NGX_OK;
            }
        }

        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" part %ui: opening on the event "
                      "loop, the thread pool \"%V\" is full",
                      &p->st.label, p->n, &p->lacf->thread_pool_name);
    }

#endif

    ngx_live_record_open_thread(p, p->log);
    ngx_live_record_part_opened(p);

    return NGX_OK;
}


/*
 * The paths, URLs and sidecar texts of the part's files under the name
 * p->rel with the job's suffix ("_2" and on once a name was taken)
 */

static ngx_int_t
ngx_live_record_name(ngx_live_record_part_t *p)
{
    u_char                      *last;
    ngx_uint_t                   i;
    ngx_live_record_open_t      *job = p->open;
    ngx_live_record_file_t      *f;
    ngx_live_record_app_conf_t  *lacf = p->lacf;

    p->rel.len = job->len;

    if (job->suffix > 1) {
        last = ngx_sprintf(p->rel.data + job->len, "_%ui", job->suffix);
        p->rel.len = last - p->rel.data;
    }

    ngx_live_record_free_texts(job);

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->want & (1 << i))) {
            continue;
        }

        f = &p->files[i];

        if (ngx_live_record_file_path(p->pool, &lacf->work, &p->rel, i,
                                      &f->work) == NULL
            || ngx_live_record_file_path(p->pool, &lacf->store.path,
                                         &p->rel, i, &f->store) == NULL
            || ngx_live_record_local_url(p, i) == NGX_ERROR)
        {
            return NGX_ERROR;
        }

        if (i == NGX_LIVE_RECORD_MP4
            && ngx_live_record_part_mp4_paths(p, f) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_live_record_sidecar_text(p, i, &job->text[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_live_record_free_texts(ngx_live_record_open_t *job)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (job->text[i].data) {
            cJSON_free(job->text[i].data);
            job->text[i].data = NULL;
        }
    }
}


/*
 * In a thread (or on the loop without a pool): the task owns the part's
 * files and its job until the loop hears back; the loop touches neither.
 */

static void
ngx_live_record_open_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_part_t *p = data;

    ngx_uint_t               i;
    ngx_live_record_file_t  *f;
    ngx_live_record_open_t  *job = p->open;

    ngx_live_record_grow_fds();

    if (ngx_live_record_name_taken(p)) {
        job->rc = NGX_DECLINED;
        return;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->want & (1 << i))) {
            continue;
        }

        f = &p->files[i];

        f->open_rc = ngx_live_record_open_file(p, i, log);

        if (f->open_rc != NGX_OK) {
            continue;
        }

        if (ngx_live_record_create_dirs(f->sidecar, log) != NGX_OK
            || ngx_live_record_write_atomic(f->sidecar, &job->text[i], 1, log)
               != NGX_OK)
        {
            job->no_sidecar |= 1 << i;
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" part %ui: opened in the pool, "
                   "no sidecar 0x%Xi", &p->st.label, p->n, job->no_sidecar);

    job->rc = NGX_OK;
}


/* nothing is ever overwritten: a name the work path or store has is taken */

static ngx_int_t
ngx_live_record_name_taken(ngx_live_record_part_t *p)
{
    ngx_uint_t       i;
    ngx_file_info_t  fi;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if ((p->want & (1 << i))
            && (ngx_file_info(p->files[i].work.data, &fi) != NGX_FILE_ERROR
                || ngx_file_info(p->files[i].store.data, &fi)
                   != NGX_FILE_ERROR))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A worker that records holds more descriptors than one that relays (a
 * part's MP4 and its sample index, ...), and the kernel doubles a
 * process's descriptor table when a new one does not fit; with thread
 * pools the table is shared and growing it waits for an RCU grace period:
 * ~11 ms inside accept4() on the loop, measured with 256 streams (perf,
 * sched_switch).  The first open task grows it once, in its thread, to the
 * descriptor limit (at most NGX_LIVE_RECORD_FDS_MAX).
 */

static void
ngx_live_record_grow_fds(void)
{
    int                  fd;
    rlim_t               n;
    struct rlimit        rl;
    static ngx_atomic_t  grown;

    if (!ngx_atomic_cmp_set(&grown, 0, 1)) {
        return;
    }

    if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur < 2) {
        return;
    }

    n = ngx_min(rl.rlim_cur, (rlim_t) NGX_LIVE_RECORD_FDS_MAX);

    fd = open("/dev/null", O_RDONLY);
    if (fd == -1) {
        return;
    }

    /* the lowest free descriptor at n - 1 or above: no open one is hit */

    if (fd < (int) n - 1) {
        (void) close(fcntl(fd, F_DUPFD, (int) n - 1));
    }

    (void) close(fd);
}


static ngx_int_t
ngx_live_record_open_file(ngx_live_record_part_t *p, ngx_uint_t format,
    ngx_log_t *log)
{
    u_char                  *dir;
    ngx_live_record_file_t  *f;

    f = &p->files[format];

    switch (format) {

    case NGX_LIVE_RECORD_MP4:
        return ngx_live_record_part_mp4_open_file(p, log);

    case NGX_LIVE_RECORD_HLS:
        /* a directory of segments: all of its path is created */

        dir = ngx_pnalloc(p->open->pool, f->work.len + sizeof("/."));
        if (dir == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(dir, "%V/.%Z", &f->work);

        return ngx_live_record_create_dirs(dir, log);

    default:
        if (ngx_live_record_create_dirs(f->work.data, log) != NGX_OK) {
            return NGX_ERROR;
        }

        f->writer = ngx_live_record_writer_open(p->open->pool, log,
                                                &p->st.label, format,
                                                f->work.data, p->st.tracks,
                                                ngx_live_record_threads(
                                                    p->lacf));
        if (f->writer == NULL) {
            (void) ngx_delete_file(f->work.data);
            return NGX_ERROR;
        }

        return NGX_OK;
    }
}


/* at a worker's exit the pool has run every task, but sent no events */

ngx_uint_t
ngx_live_record_part_open_ran(ngx_live_record_part_t *p)
{
    return p->open->rc != NGX_AGAIN;
}


/* back from the pool: its turn comes among the others' (core/pace.c) */

static void
ngx_live_record_open_done(ngx_event_t *ev)
{
    ngx_live_record_pace(ev, ngx_live_record_opened_handler);
}


static void
ngx_live_record_opened_handler(ngx_event_t *ev)
{
    ngx_live_record_part_opened(ev->data);
}


/*
 * Back on the loop (or at a worker's exit, after the pool ran the task):
 * the part is announced, the frames that waited go to its files, and a
 * close that came meanwhile is carried out.
 */

void
ngx_live_record_part_opened(ngx_live_record_part_t *p)
{
    ngx_live_record_open_t  *job = p->open;

    p->opening = 0;

    /* at a worker's exit no task can run any more */

    if (job->rc == NGX_DECLINED && !(p->close_pending && p->close_sync)
        && ++job->suffix < NGX_LIVE_RECORD_MAX_SUFFIX)
    {
        if (ngx_live_record_open_post(p) == NGX_OK) {
            return;
        }

        job->rc = NGX_ERROR;
    }

    if (job->rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_CRIT, p->log, 0,
                      "live record: \"%V\" part %ui: no free name for "
                      "\"%*s\"", &p->st.label, p->n, job->len, p->rel.data);
    }

    if (job->rc == NGX_OK) {
        ngx_live_record_opened_files(p);
    }

    ngx_live_record_free_texts(job);

    if (p->formats == 0) {
        /* the stream sees this, says so, and tries again later */
        p->open_failed = 1;
        ngx_live_record_part_free_queue(p);

    } else {
        ngx_live_record_part_announce(p, "record_started", NULL);

        ngx_log_error(NGX_LOG_INFO, p->log, 0,
                      "live record: \"%V\" %s %ui opened: \"%V\" (%s%s)",
                      &p->st.label,
                      p->want == (1 << NGX_LIVE_RECORD_HLS)
                      ? "hls recording of part" : "part",
                      p->n, &p->rel,
                      ngx_live_record_codec_name(
                          p->st.tracks[NGX_LIVE_RECORD_VIDEO].codec),
                      p->st.tracks[NGX_LIVE_RECORD_AUDIO].codec == 0 ? "" :
                      p->st.tracks[NGX_LIVE_RECORD_AUDIO].codec
                          == NGX_LIVE_RECORD_CODEC_AAC ? "+aac" : "+mp3");

        if (p->sidecars_stale) {
            p->sidecars_stale = 0;
            ngx_live_record_sidecars_update(p);
        }

        ngx_live_record_part_release(p);
    }

    if (p->close_pending) {
        p->close_pending = 0;
        ngx_live_record_part_end(p, p->close_sync);
        return;
    }

    if (p->paused) {
        ngx_live_record_part_opened_waiting(p);
    }
}


static void
ngx_live_record_opened_files(ngx_live_record_part_t *p)
{
    ngx_uint_t               i;
    ngx_live_record_file_t  *f;
    ngx_live_record_open_t  *job = p->open;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->want & (1 << i))) {
            continue;
        }

        f = &p->files[i];

        if (f->open_rc == NGX_OK) {
            if (job->no_sidecar & (1 << i)) {
                ngx_log_error(NGX_LOG_CRIT, p->log, 0,
                              "live record: \"%V\" part %ui %s has no "
                              "sidecar in the spool: a crash would leave it "
                              "unrecovered", &p->st.label, p->n,
                              ngx_live_record_format_ext(i));
                f->sidecar = NULL;

            } else {
                ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN,
                                           1);
            }
        }

        if (i == NGX_LIVE_RECORD_HLS && f->open_rc == NGX_OK
            && ngx_live_record_hls_init(p) != NGX_OK)
        {
            f->open_rc = NGX_ERROR;
            ngx_live_record_sidecar_delete(f, p->log);
        }

        if (f->open_rc == NGX_OK) {
            p->formats |= 1 << i;
        }
    }

    /*
     * the MP4 lets in the frames that waited, or says that the part goes
     * on without it; a part with no file at all is the stream's to report
     */

    if (p->files[NGX_LIVE_RECORD_MP4].mp4 && p->formats) {
        ngx_live_record_part_mp4_ready(p);
    }

    ngx_log_debug5(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" part %ui open: formats %ui of %ui, "
                   "base %L ms", &p->st.label, p->n, p->formats, p->want,
                   p->base);
}


/*
 * live_record_path at configuration: the placeholders that
 * ngx_live_record_expand() below knows, and nothing that leaves the store
 */

char *
ngx_live_record_check_path(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *path = data;

    u_char      *p, *last;
    ngx_uint_t   n;

    static ngx_str_t  vars[] = {
        ngx_string("app"), ngx_string("name"), ngx_string("domain"),
        ngx_string("part"), ngx_string("session"), ngx_null_string
    };

    p = path->data;
    last = p + path->len;

    if (path->len == 0 || *p == '/' || ngx_strstr(p, "..") != NULL) {
        return "must be a relative path without \"..\"";
    }

    for ( /* void */ ; p < last; p++) {

        if (*p == '%') {
            if (p + 1 == last || ngx_strchr("YmdHMSz%", p[1]) == NULL) {
                return "has an unknown %-sequence, "
                       "expected %Y, %m, %d, %H, %M, %S, %z or %%";
            }

            p++;
            continue;
        }

        if (*p != '$') {
            continue;
        }

        for (n = 0; vars[n].len; n++) {
            if ((size_t) (last - p - 1) >= vars[n].len
                && ngx_strncmp(p + 1, vars[n].data, vars[n].len) == 0)
            {
                break;
            }
        }

        if (vars[n].len == 0) {
            return "has an unknown variable, expected $app, $name, "
                   "$domain, $part or $session";
        }

        p += vars[n].len;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_live_record_expand(ngx_live_record_part_t *p, u_char *buf, size_t size)
{
    u_char     *s, *last, *d, *end;
    time_t      t;
    ngx_tm_t    tm;
    ngx_int_t   off;
    ngx_str_t  *path, domain;

    path = &p->tpl->path;
    s = path->data;
    last = s + path->len;
    d = buf;
    end = buf + size;

    /* live_record_timezone: %Y...%S in that zone, %z its offset */

    t = (time_t) (p->start_ms / 1000);

    if (p->tpl->tz_local) {
        ngx_libc_localtime(t, &tm);
#if (NGX_HAVE_GMTOFF)
        off = tm.ngx_tm_gmtoff;
#else
        off = 0;
#endif

    } else {
        off = p->tpl->tz_offset;
        ngx_libc_gmtime(t + off, &tm);
    }

    domain = p->st.domain;

    if (domain.len == 0) {
        ngx_str_set(&domain, "_");
    }

    while (s < last && d < end) {

        if (*s == '%' && s + 1 < last) {
            switch (s[1]) {
            case 'Y':
                d = ngx_slprintf(d, end, "%4d", tm.tm_year + 1900);
                break;
            case 'm':
                d = ngx_slprintf(d, end, "%02d", tm.tm_mon + 1);
                break;
            case 'd':
                d = ngx_slprintf(d, end, "%02d", tm.tm_mday);
                break;
            case 'H':
                d = ngx_slprintf(d, end, "%02d", tm.tm_hour);
                break;
            case 'M':
                d = ngx_slprintf(d, end, "%02d", tm.tm_min);
                break;
            case 'S':
                d = ngx_slprintf(d, end, "%02d", tm.tm_sec);
                break;
            case 'z':
                d = ngx_slprintf(d, end, "%c%02i%02i", off < 0 ? '-' : '+',
                                 ngx_abs(off) / 3600, ngx_abs(off) % 3600 / 60);
                break;
            default:
                *d++ = '%';
            }

            s += 2;
            continue;
        }

#define ngx_live_record_var(v, value)                                         \
        if ((size_t) (last - s) > sizeof(v) - 1                               \
            && ngx_strncmp(s + 1, v, sizeof(v) - 1) == 0)                     \
        {                                                                     \
            d = ngx_slprintf(d, end, "%V", value);                            \
            s += sizeof(v);                                                   \
            continue;                                                         \
        }

        if (*s == '$') {
            ngx_live_record_var("app", &p->st.app);
            ngx_live_record_var("name", &p->st.name);
            ngx_live_record_var("domain", &domain);
            ngx_live_record_var("session", &p->st.session);

            if ((size_t) (last - s) > 4 && ngx_strncmp(s + 1, "part", 4) == 0)
            {
                d = ngx_slprintf(d, end, "%ui", p->n);
                s += 5;
                continue;
            }
        }

#undef ngx_live_record_var

        *d++ = *s++;
    }

    if (d >= end) {
        ngx_log_error(NGX_LOG_ERR, p->log, 0,
                      "live record: \"%V\" part %ui: live_record_path "
                      "expands to more than %uz bytes", &p->st.label, p->n,
                      size);
        return NGX_ERROR;
    }

    /* each name in the path must fit the filesystem's, with an extension */

    for (s = buf, last = buf; last <= d; last++) {
        if (last < d && *last != '/') {
            continue;
        }

        if (last - s > NGX_LIVE_RECORD_MAX_FILE_NAME) {
            ngx_log_error(NGX_LOG_ERR, p->log, 0,
                          "live record: \"%V\" part %ui: a file name in "
                          "\"%*s\" is longer than %d bytes, shorten the "
                          "stream name or live_record_path", &p->st.label,
                          p->n, d - buf, buf, NGX_LIVE_RECORD_MAX_FILE_NAME);
            return NGX_ERROR;
        }

        s = last + 1;
    }

    p->rel.data = buf;
    p->rel.len = d - buf;

    return NGX_OK;
}


static u_char *
ngx_live_record_file_path(ngx_pool_t *pool, ngx_str_t *dir, ngx_str_t *rel,
    ngx_uint_t format, ngx_str_t *out)
{
    u_char  *p;

    out->data = ngx_pnalloc(pool, dir->len + rel->len + sizeof("/.mp4"));
    if (out->data == NULL) {
        return NULL;
    }

    if (format == NGX_LIVE_RECORD_HLS) {
        /* a directory of segments */
        p = ngx_sprintf(out->data, "%V/%V", dir, rel);

    } else {
        p = ngx_sprintf(out->data, "%V/%V.%s", dir, rel,
                        ngx_live_record_format_ext(format));
    }

    *p = '\0';
    out->len = p - out->data;

    return out->data;
}
