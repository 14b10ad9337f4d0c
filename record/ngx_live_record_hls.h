
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_HLS_H_INCLUDED_
#define _NGX_LIVE_RECORD_HLS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_part.h"


/*
 * record/: an HLS recording's state, shared by its segments and jobs
 * (hls.c) and its playlist and recovery (hls_playlist.c).
 */


#define NGX_LIVE_RECORD_PLAYLIST      "index.m3u8"
#define NGX_LIVE_RECORD_RESERVE       ".reserve"
/* a day of 2 s segments with long names is about 2 MB */
#define NGX_LIVE_RECORD_PLAYLIST_MAX  (16 * 1024 * 1024)
#define NGX_LIVE_RECORD_RESERVE_MIN   65536
/* like a part's while it opens */
#define NGX_LIVE_RECORD_HLS_PENDING   NGX_LIVE_RECORD_PENDING_MAX
#define NGX_LIVE_RECORD_HLS_BUSY_MS   1000

#define NGX_LIVE_RECORD_TS_OPENING    0
#define NGX_LIVE_RECORD_TS_OPEN       1
#define NGX_LIVE_RECORD_TS_CLOSING    2


/* a segment listed in the playlist */
typedef struct {
    int64_t                     duration;       /* ms */
    uint64_t                    pdt;            /* wall clock ms, or 0 */
    ngx_uint_t                  n;              /* its file: n.ts */
    ngx_uint_t                  discont;
    ngx_uint_t                  gone;           /* lost to a write error */
} ngx_live_record_segment_t;


/*
 * What waits while a segment opens, in order: frames, and the ends of
 * segments (a pause, a new sequence header, the close) with what the
 * next segment is to be
 */
typedef struct {
    ngx_queue_t                 queue;
    ngx_uint_t                  marker;         /* not a frame */
    ngx_uint_t                  end;            /* the segment ends */
    ngx_uint_t                  discont;        /* the next follows one */
    ngx_live_record_track_t     tracks[NGX_LIVE_RECORD_NTRACKS];
    ngx_live_record_frame_t     frame;
} ngx_live_record_held_t;


/* a segment file and its writer, on the loop or in a job */
typedef struct {
    ngx_queue_t                 queue;          /* in h->jobs */
    ngx_uint_t                  state;          /* the job it waits for */
    ngx_uint_t                  n;
    ngx_pool_t                 *pool;           /* the writer's */
    ngx_live_record_writer_t   *writer;
    ngx_live_record_track_t     tracks[NGX_LIVE_RECORD_NTRACKS];
    int64_t                     start;          /* its first dts */
    int64_t                     end;            /* dts + duration so far */
    uint64_t                    pdt;            /* its wall clock start */
    ngx_uint_t                  discont;
    ngx_live_record_segment_t  *seg;            /* listed as */
    ngx_uint_t                  listed;         /* the playlist after it */
    int64_t                     longest;
    ngx_int_t                   rc;             /* the job's */
    off_t                       size;
    int64_t                     held;           /* ms kept of a failed one */
    unsigned                    failed:1;
    unsigned                    playlist_failed:1;
    u_char                      path[1];
} ngx_live_record_ts_t;


struct ngx_live_record_hls_s {
    ngx_list_t                  segments;       /* segment_t, listed */
    ngx_uint_t                  listed;
    int64_t                     longest;
    int64_t                     held;           /* ms listed */
    ngx_uint_t                  files;          /* segment files begun */
    ngx_live_record_ts_t       *cur;            /* frames go here */
    ngx_live_record_ts_t       *running;        /* its job is in a thread */
    ngx_queue_t                 jobs;           /* ts, in order */
#if (NGX_THREADS)
    ngx_thread_task_t          *task;
#endif
    ngx_queue_t                 hold;           /* held_t, in order */
    ngx_live_record_track_t     tracks[NGX_LIVE_RECORD_NTRACKS]; /* next */
    size_t                      pending_size;
    ngx_uint_t                  dropped;
    off_t                       reserved;       /* the jobs' */
    int64_t                     epoch_dts;      /* wall clock anchor */
    uint64_t                    epoch_ms;
    off_t                       bytes;
    ngx_uint_t                  discont;        /* next segment follows one */
    unsigned                    made:1;         /* the directory: jobs' */
    unsigned                    failed:1;
    unsigned                    inline_jobs:1;  /* the pool is gone */
    unsigned                    in_run:1;
    unsigned                    busy:1;         /* counted in lmcf->busy */
};


ngx_int_t ngx_live_record_hls_write_playlist(ngx_live_record_part_t *p,
    ngx_uint_t final, ngx_uint_t n, int64_t longest, ngx_log_t *log);
int64_t ngx_live_record_hls_salvage(u_char *path, off_t *size,
    ngx_log_t *log);
u_char *ngx_live_record_hls_file(ngx_live_record_part_t *p,
    const char *name, ngx_log_t *log);
ngx_int_t ngx_live_record_hls_discont(ngx_live_record_part_t *p,
    ngx_uint_t n, ngx_uint_t op, ngx_log_t *log);

#define NGX_LIVE_RECORD_MARK_SET     0
#define NGX_LIVE_RECORD_MARK_DELETE  1
#define NGX_LIVE_RECORD_MARK_TEST    2


#endif /* _NGX_LIVE_RECORD_HLS_H_INCLUDED_ */
