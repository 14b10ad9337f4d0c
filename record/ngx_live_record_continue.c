
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * A part whose publisher has gone may wait for it to come back: for
 * live_record_continue (MP4, FLV, AAC) or live_record_hls_continue (an HLS
 * recording).  It waits in lmcf->waiting, on the worker that recorded it,
 * with its files open; a publish of the same stream on that worker takes it
 * and goes on writing it, media time continuing from where it stopped (the
 * gap is left out, not filled); else the window's timer closes it with the
 * reason it paused for.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_handover.h"


static void ngx_live_record_wait_handler(ngx_event_t *ev);
static ngx_uint_t ngx_live_record_same_tracks(ngx_live_record_track_t *a,
    ngx_live_record_track_t *b);


static const char *
ngx_live_record_what(ngx_live_record_part_t *p)
{
    return (p->want & (1 << NGX_LIVE_RECORD_HLS)) ? "hls recording"
                                                       : "part";
}


/*
 * A part whose files are still being opened may wait too (a short push
 * ends before the thread pool is back): its frames wait with it.
 */

ngx_uint_t
ngx_live_record_part_may_wait(ngx_live_record_part_t *p, ngx_uint_t reason,
    ngx_uint_t sync)
{
    return !sync && (p->opening || p->formats) && !p->write_failed
           && (reason == NGX_LIVE_RECORD_REASON_UNPUBLISH
               || reason == NGX_LIVE_RECORD_REASON_DROP);
}


/*
 * MP4, FLV, AAC: what the muxers were waiting with goes out now (each
 * track's last frame as long as the one before it), so the part on disk is
 * whole whatever happens next.
 */

void
ngx_live_record_part_pause(ngx_live_record_part_t *p, ngx_uint_t reason)
{
    ngx_live_record_part_flush(p);
    ngx_live_record_part_wait(p, reason, p->tpl->continue_window);
}


void
ngx_live_record_part_wait(ngx_live_record_part_t *p, ngx_uint_t reason,
    ngx_msec_t window)
{
    p->wait_reason = reason;
    p->paused = 1;

    p->wait.handler = ngx_live_record_wait_handler;
    p->wait.data = p;
    p->wait.log = p->log;
    p->wait.cancelable = 1;

    ngx_queue_insert_tail(&p->lmcf->waiting, &p->waiting);
    ngx_add_timer(&p->wait, window);

    /* a reconnect on another worker may take it over */
    ngx_live_record_handover_offer(p);

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" %s \"%V\" waits %M ms for the "
                  "publisher to return", &p->st.label,
                  ngx_live_record_what(p), &p->rel, window);
}


/* the waiting part (hls: recording) of a stream on this worker, or NULL */

ngx_live_record_part_t *
ngx_live_record_part_waiting(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *label, ngx_uint_t hls)
{
    ngx_queue_t             *q;
    ngx_live_record_part_t  *p;

    for (q = ngx_queue_head(&lmcf->waiting);
         q != ngx_queue_sentinel(&lmcf->waiting);
         q = ngx_queue_next(q))
    {
        p = ngx_queue_data(q, ngx_live_record_part_t, waiting);

        if (!(p->want & (1 << NGX_LIVE_RECORD_HLS)) == !hls
            && p->st.label.len == label->len
            && ngx_strncmp(p->st.label.data, label->data, label->len) == 0)
        {
            return p;
        }
    }

    return NULL;
}


/* the same, taken off the list */

ngx_live_record_part_t *
ngx_live_record_part_take(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *label, ngx_uint_t hls)
{
    ngx_live_record_part_t  *p;

    p = ngx_live_record_part_waiting(lmcf, label, hls);

    if (p == NULL) {
        return NULL;
    }

    ngx_live_record_part_unlist(p);

    return p;
}


/* off the waiting list, and no longer offered to other workers */

void
ngx_live_record_part_unlist(ngx_live_record_part_t *p)
{
    ngx_queue_remove(&p->waiting);
    p->paused = 0;

    if (p->wait.timer_set) {
        ngx_del_timer(&p->wait);
    }

    ngx_live_record_handover_withdraw(p);
}


/*
 * The files of a waiting part are open now: what waited goes to them at
 * once, as at the pause.  One none of whose files opened is let go.
 */

void
ngx_live_record_part_opened_waiting(ngx_live_record_part_t *p)
{
    if (p->formats) {
        ngx_live_record_part_flush(p);
        return;
    }

    ngx_live_record_part_unlist(p);

    ngx_log_error(NGX_LOG_ERR, p->log, 0,
                  "live record: \"%V\" part %ui could not be opened, "
                  "nothing to continue", &p->st.label, p->n);

    ngx_live_record_part_end(p, 0);
}


/* a part taken and not resumed (its publisher left before any frame) */

void
ngx_live_record_part_unwait(ngx_live_record_part_t *p, ngx_uint_t reason,
    ngx_uint_t sync)
{
    if (ngx_live_record_part_may_wait(p, reason, sync)) {
        ngx_live_record_part_wait(p, p->wait_reason,
                                  (p->want & (1 << NGX_LIVE_RECORD_HLS))
                                  ? p->tpl->hls_continue
                                  : p->tpl->continue_window);
        return;
    }

    ngx_live_record_part_close(p, reason, sync);
}


/*
 * MP4, FLV, AAC go on only with the same settings and the same tracks:
 * one sample entry per track, one FLV header, one ADTS configuration.
 * Media time goes on from the part's end: the next frame follows the last
 * one as if the publisher had never left.
 */

ngx_int_t
ngx_live_record_part_resume(ngx_live_record_part_t *p,
    ngx_live_record_template_t *tpl, ngx_uint_t formats,
    ngx_live_record_stream_t *st, int64_t base)
{
    ngx_uint_t  i;

    if (p->tpl != tpl || p->want != formats) {
        ngx_log_error(NGX_LOG_INFO, p->log, 0,
                      "live record: \"%V\" part \"%V\" does not go on: the "
                      "stream is recorded with other settings now",
                      &p->st.label, &p->rel);
        return NGX_DECLINED;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        if (!ngx_live_record_same_tracks(&p->st.tracks[i], &st->tracks[i])) {
            ngx_log_error(NGX_LOG_INFO, p->log, 0,
                          "live record: \"%V\" part \"%V\" does not go on: "
                          "the %s track's codec or parameters changed",
                          &p->st.label, &p->rel,
                          i == NGX_LIVE_RECORD_VIDEO ? "video" : "audio");
            return NGX_DECLINED;
        }
    }

    /* base stays the first frame's time (media_start_time) */
    p->shift = base - p->base - p->duration;

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" part \"%V\" goes on at %.3fs, "
                  "the gap left out", &p->st.label, &p->rel,
                  (double) p->duration / 1000);

    return NGX_OK;
}


static ngx_uint_t
ngx_live_record_same_tracks(ngx_live_record_track_t *a,
    ngx_live_record_track_t *b)
{
    return a->codec == b->codec
           && a->fourcc == b->fourcc
           && a->sample_rate == b->sample_rate
           && a->channels == b->channels
           && a->extradata_len == b->extradata_len
           && (a->extradata_len == 0
               || ngx_memcmp(a->extradata, b->extradata, a->extradata_len)
                  == 0);
}


static void
ngx_live_record_wait_handler(ngx_event_t *ev)
{
    ngx_live_record_part_t  *p = ev->data;

    ngx_uint_t  hls;

    ngx_queue_remove(&p->waiting);
    p->paused = 0;
    ngx_live_record_handover_withdraw(p);

    hls = (p->want & (1 << NGX_LIVE_RECORD_HLS)) != 0;

    ngx_log_error(NGX_LOG_INFO, p->log, 0,
                  "live record: \"%V\" %s \"%V\" ends: no publisher within "
                  "%s on this worker", &p->st.label, ngx_live_record_what(p),
                  &p->rel,
                  hls ? "live_record_hls_continue" : "live_record_continue");

    ngx_live_record_part_close(p, p->wait_reason, 0);
}


/* the worker is going: every waiting part is finished now */

void
ngx_live_record_finish_waiting(ngx_live_record_main_conf_t *lmcf)
{
    ngx_queue_t             *q;
    ngx_live_record_part_t  *p;

    while (!ngx_queue_empty(&lmcf->waiting)) {
        q = ngx_queue_head(&lmcf->waiting);
        ngx_queue_remove(q);

        p = ngx_queue_data(q, ngx_live_record_part_t, waiting);
        p->paused = 0;

        if (p->wait.timer_set) {
            ngx_del_timer(&p->wait);
        }

        ngx_live_record_handover_withdraw(p);
        ngx_live_record_part_close(p, NGX_LIVE_RECORD_REASON_SHUTDOWN, 1);
    }
}
