
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_MP4_H_INCLUDED_
#define _NGX_LIVE_RECORD_MP4_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"

#include "ngx_live_record_writer.h"


/*
 * The module's own write-once MP4 writer: ftyp, a reserved region, one mdat
 * that every frame's bytes are appended to once, and a moov built at close
 * from a per-sample sidecar file; see docs/mp4.md.
 *
 *   on the loop    create, write, ready, fail, take, done
 *   in a thread    open, put_batch, close, recover, detach, reopen
 *
 * write() only copies: the bytes wait in blocks until take() hands them to
 * put_batch(), one batch at a time; flush() is the three in one, for a
 * caller without threads.  write() never touches a file.
 */


/* the sidecar's entries: one a sample, the same size always */
#define NGX_LIVE_RECORD_MP4_ENTRY        16

/* the moov is built through a scratch buffer of this size */
#define NGX_LIVE_RECORD_MP4_BUFFER       65536

/* frame bytes are copied into blocks of this size */
#define NGX_LIVE_RECORD_MP4_BLOCK        32768

/* sidecar entries wait in blocks of this size */
#define NGX_LIVE_RECORD_MP4_SIDECAR_BUF  4096

/* what may wait for the disk, a writer: past it frames are dropped */
#define NGX_LIVE_RECORD_MP4_LAG_MAX      (8 * 1024 * 1024)

/* the largest codec configuration record a sidecar may hold */
#define NGX_LIVE_RECORD_MP4_MAX_EXTRA    4096

/* where the reserved region starts: right after ftyp */
#define NGX_LIVE_RECORD_MP4_FTYP_SIZE    32

#define NGX_LIVE_RECORD_MP4_MIN_RESERVE  4096

/* the reserved region's blocks are taken this many at a time */
#define NGX_LIVE_RECORD_MP4_ALLOC_STEP   (64 * 1024)
#define NGX_LIVE_RECORD_MP4_MAX_RESERVE  (256 * 1024 * 1024)


typedef struct ngx_live_record_mp4_s  ngx_live_record_mp4_t;


/* what a sidecar's header holds: everything recovery needs */

typedef struct {
    ngx_uint_t                  codec;
    uint32_t                    timescale;
    uint32_t                    width;
    uint32_t                    height;
    uint32_t                    sample_rate;
    uint32_t                    channels;
    u_char                     *extradata;
    size_t                      extradata_len;
} ngx_live_record_mp4_track_info_t;


typedef struct {
    ngx_live_record_mp4_track_info_t
                                tracks[NGX_LIVE_RECORD_NTRACKS];
    uint64_t                    reserve;      /* free box size, header in */
    uint64_t                    mdat;         /* mdat header's offset */
    uint64_t                    created;      /* seconds since 1904 */
    size_t                      header_len;   /* where entries start */
} ngx_live_record_mp4_sidecar_t;


typedef struct {
    uint32_t                    size;
    uint32_t                    dts;          /* track ticks, modulo 2^32 */
    int32_t                     cto;          /* composition offset */
    ngx_uint_t                  track;
    ngx_uint_t                  sync;
} ngx_live_record_mp4_entry_t;


ngx_live_record_mp4_t *ngx_live_record_mp4_create(ngx_pool_t *pool,
    ngx_log_t *log, ngx_str_t *label, ngx_live_record_track_t *tracks,
    off_t reserve);
ngx_int_t ngx_live_record_mp4_config_ok(ngx_uint_t codec, u_char *p,
    size_t len);
off_t ngx_live_record_mp4_reserve(ngx_live_record_track_t *tracks,
    ngx_msec_t interval);

ngx_int_t ngx_live_record_mp4_open(ngx_live_record_mp4_t *w, u_char *path,
    u_char *sidecar);
void ngx_live_record_mp4_ready(ngx_live_record_mp4_t *w, ngx_int_t rc);
ngx_int_t ngx_live_record_mp4_write(ngx_live_record_mp4_t *w,
    ngx_live_record_frame_t *f);
ngx_int_t ngx_live_record_mp4_take(ngx_live_record_mp4_t *w, ngx_uint_t all);
void ngx_live_record_mp4_put_batch(ngx_live_record_mp4_t *w);
ngx_int_t ngx_live_record_mp4_done(ngx_live_record_mp4_t *w);
ngx_int_t ngx_live_record_mp4_flush(ngx_live_record_mp4_t *w);
size_t ngx_live_record_mp4_backlog(ngx_live_record_mp4_t *w);
ngx_uint_t ngx_live_record_mp4_inflight(ngx_live_record_mp4_t *w);
ngx_uint_t ngx_live_record_mp4_ran(ngx_live_record_mp4_t *w);
ngx_int_t ngx_live_record_mp4_close(ngx_live_record_mp4_t *w, off_t *size);
ngx_int_t ngx_live_record_mp4_detach(ngx_live_record_mp4_t *w);
ngx_int_t ngx_live_record_mp4_reopen(ngx_live_record_mp4_t *w, u_char *path,
    u_char *sidecar);
void ngx_live_record_mp4_fail(ngx_live_record_mp4_t *w);
ngx_uint_t ngx_live_record_mp4_dropped(ngx_live_record_mp4_t *w);

ngx_int_t ngx_live_record_mp4_recover(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *label, u_char *path, u_char *sidecar, off_t *size);

/* the untrusted parts of recovery, pure, for the fuzz target */
ngx_int_t ngx_live_record_mp4_sidecar_parse(u_char *p, size_t len,
    ngx_live_record_mp4_sidecar_t *sc);
ngx_int_t ngx_live_record_mp4_entry_parse(u_char *p, uint64_t index,
    ngx_live_record_mp4_sidecar_t *sc, ngx_live_record_mp4_entry_t *e);


#endif /* _NGX_LIVE_RECORD_MP4_H_INCLUDED_ */
