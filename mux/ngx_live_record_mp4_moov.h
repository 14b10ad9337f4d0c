
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_MP4_MOOV_H_INCLUDED_
#define _NGX_LIVE_RECORD_MP4_MOOV_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_mp4.h"


/*
 * Private to ngx_live_record_mp4.c (the writer, the sidecar, recovery)
 * and ngx_live_record_mp4_moov.c (the boxes).
 */


#define NGX_LIVE_RECORD_MP4_MAGIC        "LRMP4SC1"
#define NGX_LIVE_RECORD_MP4_VERSION      1
#define NGX_LIVE_RECORD_MP4_FIXED        40
#define NGX_LIVE_RECORD_MP4_TRACK_REC    28
#define NGX_LIVE_RECORD_MP4_MAX_HEADER   \
    (NGX_LIVE_RECORD_MP4_FIXED + 4                                           \
     + NGX_LIVE_RECORD_NTRACKS                                               \
       * (NGX_LIVE_RECORD_MP4_TRACK_REC + NGX_LIVE_RECORD_MP4_MAX_EXTRA))

#define NGX_LIVE_RECORD_MP4_MAX_SAMPLE   (64 * 1024 * 1024)
#define NGX_LIVE_RECORD_MP4_MAX_DELTA    0x7fffffff
#define NGX_LIVE_RECORD_MP4_MAX_CTO      (1 << 30)
#define NGX_LIVE_RECORD_MP4_MAX_SAMPLES  0x7fffffff

#define NGX_LIVE_RECORD_MP4_VIDEO_SCALE  90000
#define NGX_LIVE_RECORD_MP4_MOVIE_SCALE  1000

/* seconds from 1904 (mp4) to 1970 (unix) */
#define NGX_LIVE_RECORD_MP4_EPOCH        2082844800

#define NGX_LIVE_RECORD_MP4_STTS         0
#define NGX_LIVE_RECORD_MP4_CTTS         1
#define NGX_LIVE_RECORD_MP4_STSS         2
#define NGX_LIVE_RECORD_MP4_STSZ         3
#define NGX_LIVE_RECORD_MP4_STSC         4
#define NGX_LIVE_RECORD_MP4_STCO         5
#define NGX_LIVE_RECORD_MP4_NTABLES      6

/* close and recovery share one 64 KiB scratch area this way */
#define NGX_LIVE_RECORD_MP4_STAGE        4096
#define NGX_LIVE_RECORD_MP4_READ         12288
#define NGX_LIVE_RECORD_MP4_TABLE_BUF    4096

#define NGX_LIVE_RECORD_MP4_MAX_BOXES    64
#define NGX_LIVE_RECORD_MP4_MAX_DEPTH    12


/* one track's index as counters: O(1) however long the part */

typedef struct {
    uint64_t                    samples;
    uint64_t                    stts_runs;
    uint64_t                    ctts_runs;
    uint64_t                    syncs;
    uint64_t                    chunks;
    uint64_t                    stsc_runs;
    uint64_t                    bytes;
    uint64_t                    first_dts;
    uint64_t                    last_dts;
    uint64_t                    duration;
    uint64_t                    last_chunk;
    uint32_t                    stts_dur;
    uint32_t                    stts_count;
    uint32_t                    ctts_val;
    uint32_t                    ctts_count;
    uint32_t                    chunk_samples;
    uint32_t                    stsc_prev;
    uint32_t                    max_size;
    uint32_t                    first_cto;
    uint32_t                    default_dur;
    unsigned                    video:1;
    unsigned                    ctts_need:1;
    unsigned                    finished:1;
} ngx_live_record_mp4_index_t;


typedef struct {
    ngx_live_record_mp4_index_t ix[NGX_LIVE_RECORD_NTRACKS];
    ngx_uint_t                  last_track;
    uint64_t                    offset;       /* the next sample's bytes */
    uint64_t                    entries;
} ngx_live_record_mp4_walk_t;


/* a table's entries, buffered and written where the layout put them */

typedef struct {
    ngx_fd_t                    fd;
    u_char                     *buf;          /* NULL: the box is left out */
    size_t                      len;
    off_t                       offset;
    unsigned                    wide:1;       /* co64 */
    unsigned                    error:1;
} ngx_live_record_mp4_out_t;


/* the moov, laid out twice: once to measure, once to write */

typedef struct {
    ngx_fd_t                    fd;
    u_char                     *buf;
    size_t                      len;
    off_t                       start;
    off_t                       pos;
    uint32_t                    sizes[NGX_LIVE_RECORD_MP4_MAX_BOXES];
    off_t                       stack[NGX_LIVE_RECORD_MP4_MAX_DEPTH];
    ngx_uint_t                  index[NGX_LIVE_RECORD_MP4_MAX_DEPTH];
    ngx_uint_t                  depth;
    ngx_uint_t                  nboxes;
    ngx_err_t                   err;
    unsigned                    measure:1;
    unsigned                    error:1;
} ngx_live_record_mp4_emit_t;


typedef struct {
    ngx_log_t                  *log;
    ngx_str_t                  *label;
    u_char                     *path;
    ngx_fd_t                    fd;
    ngx_fd_t                    sfd;
    ngx_live_record_mp4_sidecar_t
                               *sc;
    ngx_live_record_mp4_walk_t *walk;
    u_char                     *scratch;
    ngx_live_record_mp4_out_t   out[NGX_LIVE_RECORD_NTRACKS]
                                   [NGX_LIVE_RECORD_MP4_NTABLES];
    ngx_uint_t                  ids[NGX_LIVE_RECORD_NTRACKS];
    ngx_uint_t                  ntracks;
    off_t                       moov;
    off_t                       size;
} ngx_live_record_mp4_build_t;


ngx_int_t ngx_live_record_mp4_build(ngx_live_record_mp4_build_t *b,
    uint64_t entries);
/* ngx_live_record_mp4_resume.c */
ngx_int_t ngx_live_record_mp4_resume(ngx_live_record_mp4_build_t *b,
    u_char *sidecar);
void ngx_live_record_mp4_walk_init(ngx_live_record_mp4_walk_t *walk,
    ngx_live_record_mp4_sidecar_t *sc);
ngx_int_t ngx_live_record_mp4_walk_add(ngx_live_record_mp4_walk_t *walk,
    ngx_live_record_mp4_entry_t *e,
    ngx_live_record_mp4_out_t (*out)[NGX_LIVE_RECORD_MP4_NTABLES]);
void ngx_live_record_mp4_walk_finish(ngx_live_record_mp4_walk_t *walk,
    ngx_live_record_mp4_out_t (*out)[NGX_LIVE_RECORD_MP4_NTABLES]);
uint32_t ngx_live_record_mp4_nominal(ngx_live_record_mp4_track_info_t *t);
void ngx_live_record_mp4_ftyp(u_char *p);
ngx_int_t ngx_live_record_mp4_pwrite(ngx_fd_t fd, u_char *p, size_t len,
    off_t offset);
ngx_int_t ngx_live_record_mp4_pread(ngx_fd_t fd, u_char *p, size_t len,
    off_t offset, size_t *n);
u_char *ngx_live_record_mp4_w32(u_char *p, uint32_t v);
u_char *ngx_live_record_mp4_w64(u_char *p, uint64_t v);
uint32_t ngx_live_record_mp4_r32(u_char *p);
uint64_t ngx_live_record_mp4_r64(u_char *p);


/*
 * Frame bytes and sidecar entries wait in chains of blocks until a write
 * task takes them: the loop fills a chain, a thread writes what was taken
 * with one writev() a file, in order (one task at a time a writer), so
 * the sample index's chunk offsets, counted from the sizes, stay exact.
 */

typedef struct ngx_live_record_mp4_block_s  ngx_live_record_mp4_block_t;

struct ngx_live_record_mp4_block_s {
    ngx_live_record_mp4_block_t  *next;
    size_t                        len;
    size_t                        size;
};

#define ngx_live_record_mp4_block_data(b)  ((u_char *) &(b)[1])


typedef struct {
    ngx_live_record_mp4_block_t  *head;
    ngx_live_record_mp4_block_t  *fill;       /* the first not full */
    ngx_live_record_mp4_block_t  *tail;
    size_t                        full;       /* bytes before fill */
} ngx_live_record_mp4_chain_t;


/* ngx_live_record_mp4_chain.c */
ngx_int_t ngx_live_record_mp4_room(ngx_live_record_mp4_chain_t *c,
    size_t len, size_t size, ngx_live_record_mp4_block_t **spare,
    ngx_log_t *log);
void ngx_live_record_mp4_copy(ngx_live_record_mp4_chain_t *c, u_char *p,
    size_t len);
ngx_live_record_mp4_block_t *ngx_live_record_mp4_cut(
    ngx_live_record_mp4_chain_t *c, ngx_uint_t all, size_t *bytes);
ngx_int_t ngx_live_record_mp4_writev(ngx_fd_t fd,
    ngx_live_record_mp4_block_t *b);
void ngx_live_record_mp4_recycle(ngx_live_record_mp4_block_t **spare,
    ngx_live_record_mp4_block_t *b);
void ngx_live_record_mp4_free_blocks(ngx_live_record_mp4_block_t *b);


#endif /* _NGX_LIVE_RECORD_MP4_MOOV_H_INCLUDED_ */
