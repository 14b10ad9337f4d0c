
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_PART_H_INCLUDED_
#define _NGX_LIVE_RECORD_PART_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"


/* where the sidecars of open files are, under live_record_spool */
#define NGX_LIVE_RECORD_SPOOL_OPEN     "open"


/*
 * record/: one publish (stream.c) and what records it (plan.c, tasks.c),
 * its parts (part.c) and HLS recordings (hls.c), and crash recovery
 * (recover.c).  This header: the parts, HLS recordings and sidecars, for
 * the files of this folder.
 */


/*
 * What frames may wait while a part's files are opened in the thread pool:
 * seconds of a stream pushed in real time, a burst of one pushed faster
 */
#define NGX_LIVE_RECORD_PENDING_MAX    (8 * 1024 * 1024)

/* the pool that writes the libav writers' files (mux/..._writer.c) */
#if (NGX_THREADS)
#define ngx_live_record_threads(lacf)  ((void *) (lacf)->thread_pool)
#else
#define ngx_live_record_threads(lacf)  NULL
#endif

/* what one arriving frame lets out of the queue to the libav muxers */
#define NGX_LIVE_RECORD_DRAIN_MAX      (256 * 1024)


typedef struct ngx_live_record_open_s  ngx_live_record_open_t;


/* record/ngx_live_record_part_open.c: naming and opening a part */
ngx_live_record_part_t *ngx_live_record_part_open(
    ngx_live_record_stream_t *st, ngx_live_record_template_t *tpl,
    ngx_live_record_app_conf_t *lacf, ngx_live_record_main_conf_t *lmcf,
    ngx_uint_t formats, ngx_uint_t n, int64_t base);
ngx_int_t ngx_live_record_part_set_tracks(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st);
void ngx_live_record_part_opened(ngx_live_record_part_t *p);
char *ngx_live_record_check_path(ngx_conf_t *cf, void *post, void *data);
ngx_uint_t ngx_live_record_part_open_ran(ngx_live_record_part_t *p);

void ngx_live_record_part_write(ngx_live_record_part_t *p,
    ngx_live_record_tag_t *tag, int64_t ts);
void ngx_live_record_part_flush(ngx_live_record_part_t *p);
void ngx_live_record_part_close(ngx_live_record_part_t *p, ngx_uint_t reason,
    ngx_uint_t sync);

ngx_int_t ngx_live_record_hls_init(ngx_live_record_part_t *p);
void ngx_live_record_hls_write(ngx_live_record_part_t *p,
    ngx_live_record_frame_t *f);
void ngx_live_record_hls_end_segment(ngx_live_record_part_t *p);
ngx_int_t ngx_live_record_hls_close(ngx_live_record_part_t *p,
    ngx_uint_t sync);
ngx_int_t ngx_live_record_hls_param_change(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st);
void ngx_live_record_hls_pause(ngx_live_record_part_t *p, ngx_uint_t reason);
ngx_int_t ngx_live_record_hls_resume(ngx_live_record_part_t *p,
    ngx_live_record_stream_t *st, int64_t base);
off_t ngx_live_record_hls_bytes(ngx_live_record_part_t *p);
ngx_int_t ngx_live_record_hls_finalize(ngx_live_record_part_t *p,
    ngx_log_t *log);
void ngx_live_record_part_recover(ngx_live_record_part_t *p);
void ngx_live_record_part_end(ngx_live_record_part_t *p, ngx_uint_t sync);
void ngx_live_record_part_closed(ngx_live_record_part_t *p, ngx_uint_t sync);
void ngx_live_record_part_free_queue(void *data);
void ngx_live_record_part_release(ngx_live_record_part_t *p);
void ngx_live_record_part_drop(ngx_live_record_part_t *p, size_t waiting);
void ngx_live_record_part_announce(ngx_live_record_part_t *p,
    const char *type, const char *reason);
void ngx_live_record_part_write_failed(ngx_live_record_part_t *p,
    ngx_uint_t format);
void ngx_live_record_part_file_failed(ngx_live_record_part_t *p,
    ngx_uint_t format, const char *reason);

/* record/ngx_live_record_continue.c: a part waiting for its publisher */
ngx_uint_t ngx_live_record_part_may_wait(ngx_live_record_part_t *p,
    ngx_uint_t reason, ngx_uint_t sync);
void ngx_live_record_part_pause(ngx_live_record_part_t *p, ngx_uint_t reason);
void ngx_live_record_part_wait(ngx_live_record_part_t *p, ngx_uint_t reason,
    ngx_msec_t window);
ngx_live_record_part_t *ngx_live_record_part_waiting(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *label, ngx_uint_t hls);
ngx_live_record_part_t *ngx_live_record_part_take(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *label, ngx_uint_t hls);
void ngx_live_record_part_unlist(ngx_live_record_part_t *p);
void ngx_live_record_part_opened_waiting(ngx_live_record_part_t *p);
void ngx_live_record_part_unwait(ngx_live_record_part_t *p, ngx_uint_t reason,
    ngx_uint_t sync);
ngx_int_t ngx_live_record_part_resume(ngx_live_record_part_t *p,
    ngx_live_record_template_t *tpl, ngx_uint_t formats,
    ngx_live_record_stream_t *st, int64_t base);
void ngx_live_record_finish_waiting(ngx_live_record_main_conf_t *lmcf);

/* record/ngx_live_record_part_mp4.c: a part's file of our own mp4 writer */
ngx_int_t ngx_live_record_part_mp4_prepare(ngx_live_record_part_t *p);
ngx_int_t ngx_live_record_part_mp4_open_file(ngx_live_record_part_t *p,
    ngx_log_t *log);
ngx_int_t ngx_live_record_part_mp4_paths(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f);
void ngx_live_record_part_mp4_ready(ngx_live_record_part_t *p);
void ngx_live_record_part_mp4_write(ngx_live_record_part_t *p,
    ngx_live_record_tag_t *tag, int64_t dts, int64_t pts);
ngx_int_t ngx_live_record_part_mp4_finalize(ngx_live_record_part_t *p,
    ngx_log_t *log);
ngx_uint_t ngx_live_record_part_mp4_busy(ngx_live_record_part_t *p,
    ngx_uint_t sync);
void ngx_live_record_busy_handler(ngx_event_t *ev);

ngx_int_t ngx_live_record_sidecar_text(ngx_live_record_part_t *p,
    ngx_uint_t format, ngx_str_t *text);
void ngx_live_record_sidecars_update(ngx_live_record_part_t *p);
void ngx_live_record_sidecar_delete(ngx_live_record_file_t *f,
    ngx_log_t *log);
void ngx_live_record_sidecar_release(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f);
ngx_int_t ngx_live_record_recover_load(ngx_live_record_main_conf_t *lmcf,
    u_char *path, ngx_str_t *text);
ngx_int_t ngx_live_record_part_place(ngx_live_record_part_t *p,
    ngx_str_t *work, ngx_str_t *store, ngx_str_t *tpl);
ngx_live_record_app_conf_t *ngx_live_record_find_app(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *work, ngx_str_t *store);
ngx_int_t ngx_live_record_hls_recover(ngx_live_record_part_t *p,
    ngx_log_t *log);


#endif /* _NGX_LIVE_RECORD_PART_H_INCLUDED_ */
