
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_deliver.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_shm.h"


#define NGX_LIVE_RECORD_BUSY_MS         1000
#define NGX_LIVE_RECORD_INDEX_RETRY_MS  5000
#define NGX_LIVE_RECORD_THREAD_NICE     10


static void ngx_live_record_queue_frame(ngx_live_record_part_t *p,
    ngx_live_record_tag_t *tag, int64_t dts, int64_t pts);
static void ngx_live_record_drain(ngx_live_record_part_t *p, int64_t stale,
    size_t budget);
static void ngx_live_record_close_writers(ngx_live_record_part_t *p);
static void ngx_live_record_discard(ngx_live_record_part_t *p);
static void ngx_live_record_finish(ngx_live_record_part_t *p,
    ngx_uint_t sync);
static void ngx_live_record_finalize(void *data, ngx_log_t *log);
static void ngx_live_record_finalized(ngx_event_t *ev);
static void ngx_live_record_finalize_done(ngx_event_t *ev);
static ngx_uint_t ngx_live_record_finalize_needed(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f);
static void ngx_live_record_finalize_hls(ngx_live_record_part_t *p,
    ngx_log_t *log);
static ngx_int_t ngx_live_record_sync(u_char *path, ngx_log_t *log);
static void ngx_live_record_recover_duration(ngx_live_record_part_t *p,
    ngx_log_t *log);
static void ngx_live_record_finish_file(ngx_live_record_part_t *p,
    ngx_uint_t format, ngx_log_t *log);
static void ngx_live_record_delivery(ngx_live_record_part_t *p,
    ngx_uint_t format, ngx_live_record_delivery_t *d);
static void ngx_live_record_deliver_file(ngx_live_record_part_t *p,
    ngx_uint_t format);
static void ngx_live_record_index_later(ngx_live_record_part_t *p);
static void ngx_live_record_index_retry(ngx_event_t *ev);
static void ngx_live_record_index_write(void *data, ngx_log_t *log);
static void ngx_live_record_index_written(ngx_event_t *ev);
static void ngx_live_record_announce_file(ngx_live_record_part_t *p,
    ngx_uint_t format, const char *type, const char *reason);


void
ngx_live_record_part_write(ngx_live_record_part_t *p,
    ngx_live_record_tag_t *tag, int64_t ts)
{
    int64_t      dts, pts;

    if (p->st.tracks[tag->track].codec != tag->codec) {
        return;
    }

    if (tag->track == NGX_LIVE_RECORD_VIDEO && !tag->key
        && p->last[NGX_LIVE_RECORD_VIDEO] < 0)
    {
        /* video in a part starts at a keyframe */
        return;
    }

    /* each track's time strictly increases, as mp4 requires */

    dts = ngx_max(ts - p->base - p->shift, 0);

    if (p->last[tag->track] >= 0 && dts <= p->last[tag->track]) {
        dts = p->last[tag->track] + 1;
    }

    pts = ngx_max(ts - p->base - p->shift + tag->cts, dts);

    if (p->last[tag->track] >= 0) {
        p->last_duration[tag->track] = dts - p->last[tag->track];
    }

    /* a frame lasts until the next of its track; the last, as long */

    p->duration = ngx_max(p->duration,
                          dts + ngx_max(p->last_duration[tag->track], 1));
    p->frames++;
    p->count[tag->track]++;

    p->last[tag->track] = dts;
    p->bytes += tag->len;
    p->last_ms = ngx_live_record_now_ms();

    if (p->files[NGX_LIVE_RECORD_MP4].mp4) {
        ngx_live_record_part_mp4_write(p, tag, dts, pts);
    }

    /* while the files are opened, frames wait for all that may open */

    if ((p->opening ? p->want : p->formats) & ~(1 << NGX_LIVE_RECORD_MP4)) {
        ngx_live_record_queue_frame(p, tag, dts, pts);
    }
}


/*
 * Frames wait in arrival order until the next frame of their track dates
 * them, so every packet reaches the muxers with its real duration and none
 * overtakes another; a track that falls silent is not waited for longer
 * than NGX_LIVE_RECORD_WAIT_MS.
 */

static void
ngx_live_record_queue_frame(ngx_live_record_part_t *p,
    ngx_live_record_tag_t *tag, int64_t dts, int64_t pts)
{
    ngx_live_record_queued_t  *qf, *prev;

    if (p->opening && p->queued + tag->len > NGX_LIVE_RECORD_PENDING_MAX) {
        ngx_live_record_part_drop(p, p->queued);
        return;
    }

    qf = ngx_alloc(sizeof(ngx_live_record_queued_t) + tag->len, p->log);
    if (qf == NULL) {
        return;
    }

    prev = p->tail[tag->track];

    if (prev) {
        prev->frame.duration = dts - prev->frame.dts;
    }

    qf->frame.track = tag->track;
    qf->frame.key = tag->key;
    qf->frame.dts = dts;
    qf->frame.pts = pts;
    qf->frame.duration = -1;
    qf->frame.data = (u_char *) &qf[1];
    qf->frame.len = tag->len;
    ngx_memcpy(qf->frame.data, tag->data, tag->len);

    ngx_queue_insert_tail(&p->out, &qf->queue);
    p->tail[tag->track] = qf;
    p->queued += tag->len;

    ngx_live_record_drain(p, dts - NGX_LIVE_RECORD_WAIT_MS,
                          NGX_LIVE_RECORD_DRAIN_MAX);
}


/* the part's files are open: what waited meanwhile goes to them */

void
ngx_live_record_part_release(ngx_live_record_part_t *p)
{
    int64_t     last;
    ngx_uint_t  i;

    last = -1;

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        last = ngx_max(last, p->last[i]);
    }

    ngx_live_record_drain(p, last - NGX_LIVE_RECORD_WAIT_MS,
                          NGX_LIVE_RECORD_DRAIN_MAX);

    if (p->pending_dropped) {
        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" part %ui: %ui frames were "
                      "dropped while its files were being opened",
                      &p->st.label, p->n, p->pending_dropped);
    }
}


/*
 * While the thread pool opens the files, frames wait, up to
 * NGX_LIVE_RECORD_PENDING_MAX bytes; past that they are dropped, and said
 * so once, rather than the event loop waiting for a disk.
 */

void
ngx_live_record_part_drop(ngx_live_record_part_t *p, size_t waiting)
{
    ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_OPEN_DROPPED, 1);

    if (p->pending_dropped++ == 0) {
        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" part %ui: its files are still "
                      "being opened and %uz bytes of frames wait: frames are "
                      "dropped until they are open (is the thread pool "
                      "\"%V\" busy?)", &p->st.label, p->n, waiting,
                      &p->lacf->thread_pool_name);
    }
}


/*
 * budget: at most about this many bytes go to the muxers in one call (0:
 * all), so that the frames that waited while a part was opened (seconds
 * of them) are muxed over the next frames' arrivals, not in one loop
 * iteration; what is left goes first the next time.
 */

static void
ngx_live_record_drain(ngx_live_record_part_t *p, int64_t stale, size_t budget)
{
    size_t                     done;
    ngx_uint_t                 i;
    ngx_queue_t               *q;
    ngx_live_record_frame_t   *f;
    ngx_live_record_queued_t  *qf;

    /* until the open task is back its files are the thread's */

    if (p->opening) {
        return;
    }

    done = 0;

    while (!ngx_queue_empty(&p->out)) {
        if (budget && done >= budget) {
            return;
        }

        q = ngx_queue_head(&p->out);
        qf = ngx_queue_data(q, ngx_live_record_queued_t, queue);
        f = &qf->frame;

        if (f->duration < 0) {
            if (f->dts > stale) {
                return;
            }

            ngx_log_debug3(NGX_LOG_DEBUG_RTMP, p->log, 0,
                           "live record: \"%V\" part %ui: track %ui "
                           "not waited for", &p->st.label, p->n, f->track);

            f->duration = p->last_duration[f->track]
                          ? p->last_duration[f->track] : 1;
        }

        for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
            if (p->files[i].writer
                && ngx_live_record_writer_write(p->files[i].writer, f)
                   == NGX_ERROR)
            {
                ngx_live_record_part_write_failed(p, i);
            }
        }

        if (p->hls) {
            ngx_live_record_hls_write(p, f);
        }

        ngx_log_debug6(NGX_LOG_DEBUG_RTMP, p->log, 0,
                       "live record: \"%V\" part %ui: frame flushed: "
                       "track %ui key %ui dts %L duration %L",
                       &p->st.label, p->n, f->track, f->key, f->dts,
                       f->duration);

        if (p->tail[f->track] == qf) {
            p->tail[f->track] = NULL;
        }

        done += f->len;
        p->queued -= f->len;
        ngx_queue_remove(q);
        ngx_free(qf);
    }
}


/* a disk that is full fails every file of the part: said once */

void
ngx_live_record_part_write_failed(ngx_live_record_part_t *p,
    ngx_uint_t format)
{
    if (p->write_failed) {
        return;
    }

    p->write_failed = 1;
    ngx_live_record_stat_error();
    ngx_live_record_part_file_failed(p, format, "write");
}


void
ngx_live_record_part_file_failed(ngx_live_record_part_t *p,
    ngx_uint_t format, const char *reason)
{
    ngx_live_record_announce_file(p, format, "record_failed", reason);
}


void
ngx_live_record_part_free_queue(void *data)
{
    ngx_live_record_part_t  *p = data;

    ngx_queue_t  *q;

    while (!ngx_queue_empty(&p->out)) {
        q = ngx_queue_head(&p->out);
        ngx_queue_remove(q);
        ngx_free(ngx_queue_data(q, ngx_live_record_queued_t, queue));
    }

    p->queued = 0;
}


void
ngx_live_record_part_flush(ngx_live_record_part_t *p)
{
    ngx_live_record_drain(p, INT64_MAX, 0);
}


void
ngx_live_record_part_close(ngx_live_record_part_t *p, ngx_uint_t reason,
    ngx_uint_t sync)
{
    p->end_ms = ngx_live_record_now_ms();
    p->reason = reason;

    ngx_log_debug6(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" part %ui close: reason %s, "
                   "%ui frames, %L ms, sync %ui", &p->st.label, p->n,
                   ngx_live_record_reason_name(reason), p->frames,
                   p->duration, sync);

    if (p->flush.timer_set) {
        ngx_del_timer(&p->flush);
    }

    if (p->opening) {
        p->close_pending = 1;
        p->close_sync = sync;

        if (sync && ngx_live_record_part_open_ran(p)) {
            /* a worker's exit: the pool ran the open, its event won't come */
            ngx_live_record_part_opened(p);
        }

        /* else the open task's return finishes the close */
        return;
    }

    ngx_live_record_part_end(p, sync);
}


/* the writers are closed where the part is finalized, off the loop */

void
ngx_live_record_part_end(ngx_live_record_part_t *p, ngx_uint_t sync)
{
    if (ngx_live_record_part_mp4_busy(p, sync)) {
        /* its mp4 write job's done() ends it */
        return;
    }

    ngx_live_record_drain(p, INT64_MAX, 0);

    if (p->hls && ngx_live_record_hls_close(p, sync) == NGX_AGAIN) {
        /* the hls recording's last job finishes the close */
        p->close_pending = 1;
        p->close_sync = sync;
        return;
    }

    if (p->formats == 0) {
        /* none of its files could be opened: nothing to finish */
        ngx_destroy_pool(p->pool);
        return;
    }

    ngx_live_record_part_closed(p, sync);
}


void
ngx_live_record_part_closed(ngx_live_record_part_t *p, ngx_uint_t sync)
{
    if (p->duration < (int64_t) p->tpl->min_duration) {
        ngx_log_error(NGX_LOG_INFO, p->log, 0,
                      "live record: \"%V\" part %ui is %.3fs, shorter than "
                      "live_record_min_duration %.3fs: deleted",
                      &p->st.label, p->n, (double) p->duration / 1000,
                      (double) p->tpl->min_duration / 1000);

        if (!p->write_failed) {
            /* else its record_failed has said why */
            ngx_live_record_part_announce(p, "record_skipped",
                                          "min_duration");
        }

        ngx_live_record_discard(p);
        return;
    }

    ngx_live_record_finish(p, sync);
}


/*
 * The libavformat writers' trailers and closes: in the finalize thread,
 * or on the loop for a part deleted as too short
 */

static void
ngx_live_record_close_writers(ngx_live_record_part_t *p)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (p->files[i].writer == NULL) {
            continue;
        }

        if (p->write_failed) {
            ngx_live_record_writer_fail(p->files[i].writer);
        }

        (void) ngx_live_record_writer_close(p->files[i].writer);
    }
}


static void
ngx_live_record_discard(ngx_live_record_part_t *p)
{
    ngx_uint_t  i;

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" part %ui: files deleted",
                   &p->st.label, p->n);

    ngx_live_record_close_writers(p);

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->formats & (1 << i))) {
            continue;
        }

        ngx_live_record_sidecar_delete(&p->files[i], p->log);

        if (i == NGX_LIVE_RECORD_HLS) {
            (void) ngx_live_record_delete_tree(p->files[i].work.data, p->log);
            continue;
        }

        if (p->files[i].samples) {
            (void) ngx_delete_file(p->files[i].samples);
        }

        if (ngx_delete_file(p->files[i].work.data) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, p->log, ngx_errno,
                          "live record: \"%V\" part %ui: "
                          ngx_delete_file_n " \"%s\" failed",
                          &p->st.label, p->n, p->files[i].work.data);
        }
    }

    ngx_destroy_pool(p->pool);
}


static void
ngx_live_record_finish(ngx_live_record_part_t *p, ngx_uint_t sync)
{
    ngx_uint_t                   i;
    ngx_event_t                  ev;
    ngx_live_record_busy_t      *busy;
#if (NGX_THREADS)
    ngx_thread_task_t           *task;
    ngx_live_record_app_conf_t  *lacf = p->lacf;
#endif

    busy = &p->lmcf->busy;
    busy->n++;

    p->closed = ngx_current_msec;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (p->formats & (1 << i)) {
            ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_FINALIZING, 1);
        }
    }

    if (!busy->ev.timer_set) {
        ngx_add_timer(&busy->ev, NGX_LIVE_RECORD_BUSY_MS);
    }

#if (NGX_THREADS)

    if (!sync && lacf->thread_pool && !ngx_live_record_threads_gone) {
        task = ngx_thread_task_alloc(p->pool, 0);

        if (task) {
            task->ctx = p;
            task->handler = ngx_live_record_finalize;
            task->event.handler = ngx_live_record_finalized;
            task->event.data = p;
            task->event.log = p->log;

            if (ngx_live_record_post(lacf->thread_pool, task) == NGX_OK) {
                ngx_log_debug3(NGX_LOG_DEBUG_RTMP, p->log, 0,
                               "live record: \"%V\" part %ui: finalize "
                               "posted to \"%V\"", &p->st.label, p->n,
                               &lacf->thread_pool_name);
                return;
            }
        }

        ngx_log_error(NGX_LOG_WARN, p->log, 0,
                      "live record: \"%V\" part %ui: finalizing on the event "
                      "loop, the thread pool \"%V\" is full",
                      &p->st.label, p->n, &lacf->thread_pool_name);
    }

#endif

    ngx_live_record_finalize(p, p->log);

    ngx_memzero(&ev, sizeof(ngx_event_t));
    ev.data = p;

    ngx_live_record_finalize_done(&ev);
}


/* runs in a thread: only the part's own memory is touched */

static void
ngx_live_record_finalize(void *data, ngx_log_t *log)
{
    ngx_live_record_part_t *p = data;

    ngx_int_t                mp4;
    ngx_uint_t               i;
    ngx_live_record_file_t  *f;

#if (NGX_THREADS && NGX_LINUX)
    /*
     * remuxing and hashing are bulk work: where the pool shares a CPU with
     * the worker, the event loop must win it
     */
    (void) setpriority(PRIO_PROCESS, ngx_thread_tid(),
                       NGX_LIVE_RECORD_THREAD_NICE);
#endif

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" part %ui: finalize start, "
                   "formats %ui", &p->st.label, p->n, p->formats);

    ngx_live_record_close_writers(p);

    f = &p->files[NGX_LIVE_RECORD_MP4];

    mp4 = NGX_OK;

    if ((p->formats & (1 << NGX_LIVE_RECORD_MP4))
        && ngx_live_record_finalize_needed(p, f))
    {
        mp4 = ngx_live_record_part_mp4_finalize(p, log);
    }

    if (p->reason == NGX_LIVE_RECORD_REASON_RECOVERED) {
        ngx_live_record_recover_duration(p, log);
    }

    if (p->formats & (1 << NGX_LIVE_RECORD_HLS)) {
        ngx_live_record_finalize_hls(p, log);
    }

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->formats & (1 << i))) {
            continue;
        }

        if ((i == NGX_LIVE_RECORD_FLV || i == NGX_LIVE_RECORD_AAC)
            && ngx_live_record_finalize_needed(p, &p->files[i]))
        {
            (void) ngx_live_record_sync(p->files[i].work.data, log);
        }

        p->files[i].status = (i == NGX_LIVE_RECORD_MP4 && mp4 != NGX_OK)
                             ? NGX_ERROR
                             : ngx_live_record_handoff(p, &p->files[i]);

        ngx_log_debug5(NGX_LOG_DEBUG_RTMP, log, 0,
                       "live record: \"%V\" part %ui %s: handoff %i, "
                       "\"%s\"", &p->st.label, p->n,
                       ngx_live_record_format_ext(i), p->files[i].status,
                       p->files[i].store.data);

        ngx_live_record_finish_file(p, i, log);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" part %ui: finalize end",
                   &p->st.label, p->n);
}


/*
 * The finished file reaches the disk in this thread: its writeback is not
 * left for the event loop's next small write to be throttled behind.
 */

static ngx_int_t
ngx_live_record_sync(u_char *path, ngx_log_t *log)
{
    ngx_fd_t   fd;
    ngx_int_t  rc;

    fd = ngx_open_file(path, NGX_FILE_RDWR, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_open_file_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    rc = NGX_OK;

    if (fdatasync(fd) == -1) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: fdatasync(\"%s\") failed", path);
        rc = NGX_ERROR;
    }

    ngx_close_file(fd);

    return rc;
}


/* the playlist becomes VOD: the one kept in memory, or a recovered one */

static void
ngx_live_record_finalize_hls(ngx_live_record_part_t *p, ngx_log_t *log)
{
    ngx_int_t  rc;

    if (p->hls) {
        rc = ngx_live_record_hls_finalize(p, log);

    } else if (ngx_live_record_finalize_needed(p,
                   &p->files[NGX_LIVE_RECORD_HLS]))
    {
        rc = ngx_live_record_hls_recover(p, log);

    } else {
        return;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "live record: \"%V\" part %ui: the hls playlist of "
                      "\"%V\" stays an EVENT playlist", &p->st.label, p->n,
                      &p->rel);
    }
}


/*
 * A recovered part may have been handed off before the crash: then its
 * work file is gone and only the announcement is left to do.
 */

static ngx_uint_t
ngx_live_record_finalize_needed(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f)
{
    ngx_file_info_t  fi;

    return p->reason != NGX_LIVE_RECORD_REASON_RECOVERED
           || ngx_file_info(f->work.data, &fi) != NGX_FILE_ERROR;
}


/* a recovered part's duration is what its file holds */

static void
ngx_live_record_recover_duration(ngx_live_record_part_t *p, ngx_log_t *log)
{
    ngx_uint_t               i;
    ngx_file_info_t          fi;
    ngx_live_record_file_t  *f;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        f = &p->files[i];

        if (!(p->formats & (1 << i)) || i == NGX_LIVE_RECORD_HLS) {
            continue;
        }

        p->duration = ngx_live_record_media_duration(
                          ngx_file_info(f->work.data, &fi) != NGX_FILE_ERROR
                          ? f->work.data : f->store.data, log);
        p->last_ms = p->start_ms + p->duration;
    }
}


void
ngx_live_record_part_recover(ngx_live_record_part_t *p)
{
    ngx_live_record_finish(p, 0);
}


/* in the thread, after the handoff: checksum, size, index entry */

static void
ngx_live_record_finish_file(ngx_live_record_part_t *p, ngx_uint_t format,
    ngx_log_t *log)
{
    u_char                      *path;
    ngx_int_t                    rc;
    ngx_live_record_file_t      *f;
    ngx_live_record_delivery_t   d;

    f = &p->files[format];

    if (f->status != NGX_OK) {
        return;
    }

    path = f->store.data;

    if (format == NGX_LIVE_RECORD_HLS) {
        path = ngx_alloc(f->store.len + sizeof("/index.m3u8"), log);
        if (path == NULL) {
            f->status = NGX_ERROR;
            return;
        }

        ngx_sprintf(path, "%V/index.m3u8%Z", &f->store);

        if (p->hls) {
            f->size = ngx_live_record_hls_bytes(p);
        }
    }

    if (!p->lacf->checksum
        || ngx_live_record_sha256(path, f->sha256, log) != NGX_OK)
    {
        f->sha256[0] = '\0';
    }

    if (path != f->store.data) {
        ngx_free(path);
    }

    ngx_live_record_delivery(p, format, &d);

    rc = ngx_live_record_deliver_index(&d, log);

    cJSON_Delete(d.entry);

    /* its record_done waits on the loop until the entry is written */
    f->index_failed = (rc == NGX_ERROR);

    /*
     * The sidecar stays until the event is in the spool (on the loop) or
     * the upload's spool file takes over: killed before that, the part is
     * recovered and announced again, under the same event id.
     */
}


/* what store/ needs of a part's file; in the thread too: no pool */

static void
ngx_live_record_delivery(ngx_live_record_part_t *p, ngx_uint_t format,
    ngx_live_record_delivery_t *d)
{
    ngx_live_record_file_t  *f;

    f = &p->files[format];

    d->lmcf = p->lmcf;
    d->lacf = p->lacf;
    d->label = &p->st.label;
    d->file_id = &f->file_id;
    d->local = f->store.data;
    d->rel = p->rel;
    d->size = f->size;
    d->segments = f->segments;
    d->hls = (format == NGX_LIVE_RECORD_HLS);
    d->entry = ngx_live_record_entry_json(p, format);
    d->event = "record_done";
    d->release = NULL;
}


/* on the event loop, once the file is in the store's local directory */

static void
ngx_live_record_deliver_file(ngx_live_record_part_t *p, ngx_uint_t format)
{
    u_char                      *s;
    ngx_int_t                    rc;
    const char                  *ext;
    ngx_live_record_delivery_t   d;

    ngx_live_record_delivery(p, format, &d);

    if (!d.hls) {
        /* a file's name in the store has its extension */

        ext = ngx_live_record_format_ext(format);
        s = ngx_pnalloc(p->pool, p->rel.len + 1 + ngx_strlen(ext));

        if (s == NULL) {
            cJSON_Delete(d.entry);
            d.entry = NULL;

        } else {
            d.rel.data = s;
            d.rel.len = ngx_sprintf(s, "%V.%s", &p->rel, ext) - s;
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" part %ui %s: delivering",
                   &p->st.label, p->n, ngx_live_record_format_ext(format));

    d.release = p->files[format].sidecar;

    rc = ngx_live_record_deliver(&d);

    cJSON_Delete(d.entry);

    if (rc == NGX_ERROR) {
        ngx_live_record_announce_file(p, format, "record_failed", "handoff");
        return;
    }

    /*
     * NGX_AGAIN: the upload's own spool file takes over (d.release taken:
     * the upload deletes the sidecar once that is written).  NGX_OK:
     * record_done is being spooled, and notify deletes the sidecar once
     * it is (d.release taken), or nothing announces the file.  Only then
     * may the part stop looking open.
     */

    if (d.release == NULL) {
        p->files[format].sidecar = NULL;
        return;
    }

    ngx_live_record_sidecar_release(p, &p->files[format]);
}


void
ngx_live_record_part_announce(ngx_live_record_part_t *p, const char *type,
    const char *reason)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (p->formats & (1 << i)) {
            ngx_live_record_announce_file(p, i, type, reason);
        }
    }
}


static void
ngx_live_record_announce_file(ngx_live_record_part_t *p, ngx_uint_t format,
    const char *type, const char *reason)
{
    cJSON  *o;

    if (p->lacf->notify == NULL) {
        return;
    }

    o = ngx_live_record_part_json(p, format);

    if (o && reason
        && (cJSON_AddNumberToObject(o, "duration",
                                    (double) p->duration / 1000) == NULL
            || cJSON_AddStringToObject(o, "reason", reason) == NULL))
    {
        cJSON_Delete(o);
        o = NULL;
    }

    if (o == NULL
        || ngx_live_record_notify_event(p->lmcf, p->lacf->notify, type, o)
           == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_CRIT, p->log, 0,
                      "live record: \"%V\" part %ui %s: the %s event "
                      "could not be made", &p->st.label, p->n,
                      ngx_live_record_format_ext(format), type);
    }
}


/* back from the pool: its turn comes among the others' (core/pace.c) */

static void
ngx_live_record_finalized(ngx_event_t *ev)
{
    ngx_live_record_pace(ev, ngx_live_record_finalize_done);
}


static void
ngx_live_record_finalize_done(ngx_event_t *ev)
{
    ngx_live_record_part_t *p = ev->data;

    ngx_uint_t               i, waiting;
    ngx_live_record_file_t  *f;

    waiting = 0;

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" part %ui: finalized, back on "
                   "the event loop", &p->st.label, p->n);

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        f = &p->files[i];

        if (!(p->formats & (1 << i))) {
            continue;
        }

        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_FINALIZING, -1);
        ngx_live_record_stat_observe(NGX_LIVE_RECORD_HIST_FINALIZE,
                                     ngx_current_msec - p->closed);

        if (f->status != NGX_OK) {
            ngx_log_error(NGX_LOG_CRIT, p->log, 0,
                          "live record: \"%V\" part %ui %s failed, "
                          "left in \"%s\"", &p->st.label, p->n,
                          ngx_live_record_format_ext(i), f->work.data);
            ngx_live_record_stat_handoff(NGX_ERROR);

            ngx_live_record_announce_file(p, i, "record_failed", "handoff");
            continue;
        }

        if (i == NGX_LIVE_RECORD_HLS && p->hls) {
            f->size = ngx_live_record_hls_bytes(p);
        }

        ngx_live_record_stat_part(i, p->reason, f->size, p->duration);

        ngx_log_error(NGX_LOG_INFO, p->log, 0,
                      "live record: \"%V\" part %ui %s done: \"%s%s\" "
                      "duration=%.3fs size=%O reason=%s",
                      &p->st.label, p->n, ngx_live_record_format_ext(i),
                      f->store.data,
                      i == NGX_LIVE_RECORD_HLS ? "/index.m3u8" : "",
                      (double) p->duration / 1000, f->size,
                      ngx_live_record_reason_name(p->reason));

        if (f->index_failed) {
            ngx_log_error(NGX_LOG_CRIT, p->log, 0,
                          "live record: \"%V\" part %ui %s: no index entry "
                          "in \"%V\", its record_done waits until one is "
                          "written, tried again every %d s", &p->st.label,
                          p->n, ngx_live_record_format_ext(i),
                          &p->lmcf->index,
                          NGX_LIVE_RECORD_INDEX_RETRY_MS / 1000);
            waiting = 1;
            continue;
        }

        ngx_live_record_deliver_file(p, i);
    }

    p->lmcf->busy.n--;

    if (waiting) {
        ngx_live_record_index_later(p);
        return;
    }

    ngx_destroy_pool(p->pool);
}


/*
 * A file whose index entry could not be written (a full disk under the
 * index) is in its store; it is announced once the entry is there, so
 * that a receiver finds it listed.  Its sidecar stays meanwhile: a worker
 * that stops first leaves both to the recovery of the next start.
 */

static void
ngx_live_record_index_later(ngx_live_record_part_t *p)
{
    ngx_event_t  *ev;

    ev = &p->index_retry;

    ev->handler = ngx_live_record_index_retry;
    ev->data = p;
    ev->log = p->log;
    ev->cancelable = 1;

    ngx_add_timer(ev, NGX_LIVE_RECORD_INDEX_RETRY_MS);
}


static void
ngx_live_record_index_retry(ngx_event_t *ev)
{
    ngx_live_record_part_t *p = ev->data;

#if (NGX_THREADS)
    ngx_thread_task_t  *task;
#endif

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_log_error(NGX_LOG_NOTICE, p->log, 0,
                      "live record: \"%V\" part %ui: left to the next "
                      "start, which writes its index entries and announces "
                      "it", &p->st.label, p->n);
        ngx_destroy_pool(p->pool);
        return;
    }

#if (NGX_THREADS)

    if (p->lacf->thread_pool) {
        task = p->index_task;

        if (task == NULL) {
            task = ngx_thread_task_alloc(p->pool, 0);
            if (task == NULL) {
                ngx_live_record_index_later(p);
                return;
            }

            task->ctx = p;
            task->handler = ngx_live_record_index_write;
            task->event.handler = ngx_live_record_index_written;
            task->event.data = p;
            task->event.log = p->log;
            p->index_task = task;
        }

        if (ngx_live_record_post(p->lacf->thread_pool, task) == NGX_OK) {
            return;
        }
    }

#endif

    ngx_live_record_index_write(p, p->log);
    ngx_live_record_index_written(ev);
}


/* in a thread: 2 marks an entry written this time */

static void
ngx_live_record_index_write(void *data, ngx_log_t *log)
{
    ngx_live_record_part_t *p = data;

    ngx_int_t                    rc;
    ngx_log_t                    quiet;
    ngx_uint_t                   i;
    ngx_live_record_delivery_t   d;

    /* the first failure was logged with its cause: not each retry */
    quiet = *log;
    quiet.log_level = NGX_LOG_ALERT;
    quiet.next = NULL;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (p->files[i].index_failed != 1) {
            continue;
        }

        ngx_live_record_delivery(p, i, &d);
        rc = ngx_live_record_deliver_index(&d, &quiet);
        cJSON_Delete(d.entry);

        if (rc == NGX_OK) {
            p->files[i].index_failed = 2;
        }
    }
}


static void
ngx_live_record_index_written(ngx_event_t *ev)
{
    ngx_live_record_part_t *p = ev->data;

    ngx_uint_t               i, waiting;
    ngx_live_record_file_t  *f;

    waiting = 0;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        f = &p->files[i];

        if (f->index_failed == 1) {
            waiting = 1;

        } else if (f->index_failed == 2) {
            f->index_failed = 0;

            ngx_log_error(NGX_LOG_NOTICE, p->log, 0,
                          "live record: \"%V\" part %ui %s: index entry "
                          "written, announcing it", &p->st.label, p->n,
                          ngx_live_record_format_ext(i));

            ngx_live_record_deliver_file(p, i);
        }
    }

    if (waiting) {
        ngx_live_record_index_later(p);
        return;
    }

    ngx_destroy_pool(p->pool);
}


/* a pending finalize keeps a gracefully exiting worker alive */

void
ngx_live_record_busy_handler(ngx_event_t *ev)
{
    ngx_live_record_busy_t  *busy = ev->data;

    if (busy->n) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_BUSY_MS);
    }
}

