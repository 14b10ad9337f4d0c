
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_H_INCLUDED_
#define _NGX_LIVE_RECORD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif
#include "ngx_live_record_codec.h"
#include "ngx_live_record_writer.h"
#include "ngx_live_record_drain.h"
#include "ngx_live_record_mp4.h"
#include "ngx_live_record_segmenter.h"


/* the end reasons and NGX_LIVE_RECORD_WAIT_MS: ngx_live_record_segmenter.h */


typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  formats;        /* 1 << NGX_LIVE_RECORD_MP4 */
    ngx_msec_t                  interval;
    ngx_msec_t                  min_duration;
    ngx_msec_t                  session_gap;
    ngx_msec_t                  continue_window;
    ngx_msec_t                  hls_continue;
    ngx_msec_t                  hls_fragment;
    time_t                      keep;           /* s, 0: forever */
    ngx_str_t                   path;
    ngx_int_t                   tz_offset;      /* s east of UTC */
    ngx_uint_t                  tz_local;       /* the server's zone */
} ngx_live_record_template_t;


#define NGX_LIVE_RECORD_STORE_LOCAL  0
#define NGX_LIVE_RECORD_STORE_HTTP   1
#define NGX_LIVE_RECORD_STORE_S3     2


typedef struct {
    ngx_uint_t                  type;
    ngx_str_t                   name;           /* as configured, for logs */
    ngx_str_t                   path;           /* local directory */
    ngx_str_t                   url;            /* public base URL */
    ngx_str_t                   endpoint;       /* http: PUT base; s3 */
    ngx_str_t                   bucket;
    ngx_str_t                   prefix;
    ngx_str_t                   region;
    ngx_str_t                   userpwd;        /* s3 "key:secret" */
    ngx_array_t                *headers;        /* ngx_str_t */
    size_t                      part_size;      /* s3 multipart */
#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;    /* its application's */
#endif
} ngx_live_record_store_t;


/* a notify receiver: live_record_notify */
typedef struct {
    ngx_str_t                   url;
    ngx_str_t                   key;
    ngx_msec_t                  timeout;
} ngx_live_record_receiver_t;


/* what a part is of: copied into each part, which outlives the publish */
typedef struct {
    ngx_str_t                   label;          /* "app/name" */
    ngx_str_t                   app;
    ngx_str_t                   name;
    ngx_str_t                   domain;
    ngx_str_t                   args;
    ngx_str_t                   session;
    ngx_str_t                   sources;        /* JSON array */
    ngx_str_t                   task_id;
    ngx_str_t                   extension;      /* JSON text */
    ngx_live_record_track_t     tracks[NGX_LIVE_RECORD_NTRACKS];
} ngx_live_record_stream_t;


/* finalizing parts keep a gracefully exiting worker alive */
typedef struct {
    ngx_uint_t                  n;
    ngx_event_t                 ev;
} ngx_live_record_busy_t;


typedef struct {
    ngx_array_t                 templates;      /* template * */
    ngx_queue_t                 active;         /* ctx */
    ngx_queue_t                 waiting;        /* parts, for publishers */
    ngx_array_t                 stores;         /* app conf * */
    ngx_uint_t                  seq;
    ngx_live_record_busy_t      busy;

    ngx_str_t                   node_id;
    ngx_str_t                   spool;
    ngx_str_t                   index;
    ngx_msec_t                  notify_retry;
    ngx_array_t                 receivers;      /* receiver * */
    ngx_array_t                 loaders;        /* spool_loader_t */
    ngx_array_t                 remote;         /* store * */
    void                       *notify;         /* per-worker state */
#if (NGX_THREADS)
    ngx_thread_pool_t          *notify_pool;    /* spool files' disk work */
#endif
    void                       *cluster;        /* live_record_cluster */
    void                       *curl;
    ngx_queue_t                 uploads;
    ngx_event_t                 tick;           /* tasks and /streams */
} ngx_live_record_main_conf_t;


typedef struct {
    ngx_str_t                   template_name;
    ngx_live_record_template_t *tpl;
    ngx_array_t                *domains;        /* domain */
    ngx_flag_t                  tasks;
    ngx_uint_t                  tasks_on;
    ngx_uint_t                  inherited;      /* template from server */
    ngx_live_record_store_t     store;
    ngx_flag_t                  keep_local;
    ngx_uint_t                  checksum;       /* 1: sha256 */
    off_t                       min_free;
    ngx_array_t                *notify;         /* receiver * */
    ngx_str_t                   work;
    ngx_str_t                   thread_pool_name;
    u_char                     *file;
    ngx_uint_t                  line;
#if (NGX_THREADS)
    ngx_thread_pool_t          *thread_pool;
#endif
} ngx_live_record_app_conf_t;


/* one file of a part: one format */
typedef struct {
    ngx_live_record_writer_t   *writer;
    ngx_live_record_mp4_t      *mp4;            /* our own: mp4 only */
    ngx_str_t                   work;           /* null-terminated */
    ngx_str_t                   store;          /* null-terminated */
    u_char                     *samples;        /* mp4: the sample index */
    ngx_int_t                   open_rc;        /* NGX_AGAIN: in a thread */
    u_char                     *sidecar;        /* for crash recovery */
    off_t                       size;
    ngx_uint_t                  segments;       /* hls, once finalized */
    ngx_int_t                   status;
    ngx_uint_t                  index_failed;   /* record_done waits */
    ngx_str_t                   file_id;
    ngx_str_t                   url;
    u_char                      sha256[65];
} ngx_live_record_file_t;


/* a frame waiting for the next one of its track to date it */
typedef struct {
    ngx_queue_t                 queue;
    ngx_live_record_frame_t     frame;
} ngx_live_record_queued_t;


typedef struct ngx_live_record_part_s  ngx_live_record_part_t;
typedef struct ngx_live_record_hls_s   ngx_live_record_hls_t;

struct ngx_live_record_part_s {
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_live_record_stream_t    st;
    ngx_str_t                   rel;            /* store-relative, no ext */
    ngx_uint_t                  n;
    ngx_uint_t                  want;           /* formats asked for */
    ngx_uint_t                  formats;        /* formats opened */
    ngx_uint_t                  reason;
    ngx_live_record_template_t *tpl;
    ngx_live_record_app_conf_t *lacf;
    ngx_live_record_main_conf_t *lmcf;
    ngx_live_record_hls_t      *hls;
    ngx_live_record_file_t      files[NGX_LIVE_RECORD_NFORMATS];
    ngx_queue_t                 out;            /* queued frames */
    ngx_live_record_queued_t   *tail[NGX_LIVE_RECORD_NTRACKS];
    int64_t                     last_duration[NGX_LIVE_RECORD_NTRACKS];

    int64_t                     base;           /* stream ms of media 0 */
    int64_t                     shift;          /* stream ms left out */
    int64_t                     last[NGX_LIVE_RECORD_NTRACKS];
    int64_t                     duration;       /* ms */
    ngx_uint_t                  count[NGX_LIVE_RECORD_NTRACKS];
    ngx_uint_t                  write_failed;
    ngx_uint_t                  frames;
    off_t                       bytes;          /* of media written */
    uint64_t                    start_ms;       /* wall clock */
    uint64_t                    last_ms;        /* of the last frame */
    uint64_t                    end_ms;
    ngx_msec_t                  closed;         /* ngx_current_msec */

    ngx_event_t                 wait;           /* for its publisher */
    ngx_queue_t                 waiting;        /* in lmcf->waiting */
    ngx_uint_t                  wait_reason;    /* of the pause */

    ngx_event_t                 flush;          /* mp4 buffers, 250 ms */
    void                       *mp4_task;       /* mp4 write, a thread's */
    size_t                      queued;         /* bytes in out */
    ngx_uint_t                  pending_dropped;
    struct ngx_live_record_open_s *open;        /* the open task's */
    ngx_event_t                 index_retry;    /* entries not written */
    void                       *index_task;
    unsigned                    opening:1;      /* the task is in the pool */
    unsigned                    open_failed:1;  /* no file could be opened */
    unsigned                    sidecars_stale:1;
    unsigned                    close_pending:1;
    unsigned                    close_sync:1;
    unsigned                    paused:1;       /* in lmcf->waiting */
    unsigned                    mp4_wait:1;     /* its end waits for it */
};


/*
 * A finished file in its store with its index entry written: what the
 * part_done chain hears, once per file (a part's format, a concat
 * result).  Notify joins the chain to send the event; the entry is the
 * caller's, a member copies what it keeps.
 */
typedef struct {
    ngx_live_record_main_conf_t *lmcf;
    ngx_array_t                *receivers;      /* receiver *, or NULL */
    ngx_str_t                  *label;          /* "app/name" */
    ngx_str_t                  *file_id;
    const char                 *event;          /* record_done, concat_done */
    struct cJSON               *entry;
    u_char                     *release;        /* to delete once durable */
} ngx_live_record_done_t;


typedef ngx_int_t (*ngx_live_record_part_done_pt)(ngx_live_record_done_t *v);


extern ngx_live_record_part_done_pt  ngx_live_record_part_done;
extern ngx_module_t                  ngx_live_record_module;
extern ngx_module_t                  ngx_rtmp_module;   /* rtmp declares none */


/* core/ngx_live_record_util.c */
uint64_t ngx_live_record_now_ms(void);
ngx_int_t ngx_live_record_str_eq(ngx_str_t *a, ngx_str_t *b);
ngx_int_t ngx_live_record_valid_name(ngx_str_t *name, size_t max);
const char *ngx_live_record_reason_name(ngx_uint_t reason);
ngx_live_record_template_t *ngx_live_record_template(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *name);

/* the rtmp side's configuration; NULL without an rtmp{} block */
ngx_live_record_main_conf_t *ngx_live_record_rtmp_main_conf(
    ngx_cycle_t *cycle);

/* core/ngx_live_record_pace.c: thread pool completions, a few at a time */
void ngx_live_record_pace(ngx_event_t *ev, ngx_event_handler_pt handler);
void ngx_live_record_pace_flush(void);

/* core/ngx_live_record_file.c */
ngx_int_t ngx_live_record_create_dirs(u_char *path, ngx_log_t *log);
ngx_int_t ngx_live_record_delete_tree(u_char *path, ngx_log_t *log);
u_char *ngx_live_record_join(u_char *dir, ngx_str_t *name, ngx_log_t *log);
ngx_int_t ngx_live_record_read_file(u_char *path, size_t max,
    ngx_str_t *text, ngx_log_t *log);
ngx_int_t ngx_live_record_write_atomic(u_char *path, ngx_str_t *data,
    ngx_uint_t n, ngx_log_t *log);
ngx_int_t ngx_live_record_conf_secret(ngx_conf_t *cf, ngx_str_t *file,
    const char *what, ngx_str_t *secret);


#endif /* _NGX_LIVE_RECORD_H_INCLUDED_ */
