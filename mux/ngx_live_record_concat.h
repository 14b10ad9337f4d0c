
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_CONCAT_H_INCLUDED_
#define _NGX_LIVE_RECORD_CONCAT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Recorded parts joined into one MP4 without re-encoding: a probe that
 * says whether the parts can be joined, and the remux itself.  Both read
 * and write files: they run in a thread-pool thread, with a pool of their
 * own, and know nothing of requests, stores or the index.
 */


#define NGX_LIVE_RECORD_CONCAT_PROGRESS  10000   /* progress is per 10000 */


typedef struct {
    ngx_str_t                   id;             /* for messages */
    u_char                     *path;           /* null-terminated */
    off_t                       size;           /* set by the probe */
} ngx_live_record_concat_src_t;


/* one difference from the first source: "video size 640x360 (320x240)" */
typedef struct {
    ngx_uint_t                  src;
    ngx_str_t                   what;
} ngx_live_record_concat_mismatch_t;


typedef struct {
    ngx_uint_t                  packets[2];     /* video, audio */
    int64_t                     duration;       /* ms */
} ngx_live_record_concat_stats_t;


/*
 * NGX_OK: every source has the tracks and codec parameters of the first;
 * NGX_DECLINED: they differ, the differences are pushed onto mismatches
 * (ngx_live_record_concat_mismatch_t); NGX_ERROR: a source could not be
 * read, error says which and why.
 */
ngx_int_t ngx_live_record_concat_probe(ngx_pool_t *pool, ngx_log_t *log,
    ngx_live_record_concat_src_t *src, ngx_uint_t n, ngx_array_t *mismatches,
    ngx_str_t *error);

/*
 * Writes the sources, in order, into dst, one MP4 with its index at the
 * front; every source's timestamps are moved to start where the previous
 * one ended.  progress (if not NULL) goes from 0 to
 * NGX_LIVE_RECORD_CONCAT_PROGRESS.  On NGX_ERROR, dst is removed and
 * error says what failed.
 */
ngx_int_t ngx_live_record_concat_run(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *label, ngx_live_record_concat_src_t *src, ngx_uint_t n,
    u_char *dst, ngx_atomic_t *progress, ngx_live_record_concat_stats_t *stats,
    ngx_str_t *error);


#endif /* _NGX_LIVE_RECORD_CONCAT_H_INCLUDED_ */
