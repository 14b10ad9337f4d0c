
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_SEGMENTER_H_INCLUDED_
#define _NGX_LIVE_RECORD_SEGMENTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"


/*
 * The segmenter decides which frame of a publish goes to which part.  It
 * keeps the stream's tracks, extends rtmp's 32-bit time, holds the first
 * frames until a part can open with every track it will hold, and says
 * where a part is cut: at the first video keyframe (audio only: at any
 * frame) at or after the interval, at a new sequence header, or when the
 * plan changed.  It does no I/O, reads no clock and logs nothing:
 * ngx_live_record_segmenter_push() returns a decision that
 * record/ngx_live_record_stream.c carries out (opening, closing, writing,
 * logging) and fuzz/fuzz_tag.c checks.  The caller reports which parts it
 * really opened and closed, since opening may fail.
 */


/* why a part ended */
#define NGX_LIVE_RECORD_REASON_INTERVAL      0
#define NGX_LIVE_RECORD_REASON_UNPUBLISH     1
#define NGX_LIVE_RECORD_REASON_DROP          2
#define NGX_LIVE_RECORD_REASON_PARAM_CHANGE  3
#define NGX_LIVE_RECORD_REASON_SHUTDOWN      4
#define NGX_LIVE_RECORD_REASON_RECOVERED     5
#define NGX_LIVE_RECORD_REASON_WRITE_ERROR   6
#define NGX_LIVE_RECORD_REASON_TASK_START    7
#define NGX_LIVE_RECORD_REASON_TASK_END      8
#define NGX_LIVE_RECORD_NREASONS             9

/*
 * How long media may wait for a track: before the first part opens, for
 * its sequence header; in a part, for the next frame that dates the last.
 */
#define NGX_LIVE_RECORD_WAIT_MS              1000

/* frames held before the first part at most: then it opens anyway */
#define NGX_LIVE_RECORD_WAIT_FRAMES          512

/* a timestamp jump larger than this is a discontinuity, not media */
#define NGX_LIVE_RECORD_MAX_JUMP             10000


/* the two kinds of recording a stream has open at once */
#define NGX_LIVE_RECORD_SEG_PART             0  /* interval formats */
#define NGX_LIVE_RECORD_SEG_HLS              1

/* ngx_live_record_segmenter_out_t.flags: what to do, in this order */
#define NGX_LIVE_RECORD_SEG_JUMP             0x01  /* log: clock jumped */
#define NGX_LIVE_RECORD_SEG_HEADER           0x02  /* new track parameters */
#define NGX_LIVE_RECORD_SEG_HELD             0x04  /* frame held */
#define NGX_LIVE_RECORD_SEG_FLUSH            0x08  /* open at base, release */
#define NGX_LIVE_RECORD_SEG_CUT              0x10  /* close, open at ts */
#define NGX_LIVE_RECORD_SEG_OPEN             0x20  /* none open: may open */
#define NGX_LIVE_RECORD_SEG_WRITE            0x40  /* frame to what is open */

/* ngx_live_record_segmenter_out_t.drop: why a tag was not taken */
#define NGX_LIVE_RECORD_SEG_DROP_NONE        0
#define NGX_LIVE_RECORD_SEG_DROP_SKIP        1  /* end of sequence, info */
#define NGX_LIVE_RECORD_SEG_DROP_CODEC       2  /* a codec not recorded */
#define NGX_LIVE_RECORD_SEG_DROP_BADHEADER   3
#define NGX_LIVE_RECORD_SEG_DROP_BADMP3      4
#define NGX_LIVE_RECORD_SEG_DROP_SAME        5  /* header already in use */
#define NGX_LIVE_RECORD_SEG_DROP_NOHEADER    6
#define NGX_LIVE_RECORD_SEG_DROP_OFF         7  /* nothing records */
#define NGX_LIVE_RECORD_SEG_DROP_PAUSED      8
#define NGX_LIVE_RECORD_SEG_DROP_NOKEY       9  /* parts start at a key */
#define NGX_LIVE_RECORD_SEG_DROP_CHANGED     10 /* waits for the new part */
#define NGX_LIVE_RECORD_SEG_DROP_NOMEM       11
#define NGX_LIVE_RECORD_SEG_NDROPS           12


typedef void *(*ngx_live_record_segmenter_alloc_pt)(size_t size, void *data);
typedef void (*ngx_live_record_segmenter_free_pt)(void *p, void *data);


/* a frame held until the first part opens; its body follows it */
typedef struct {
    ngx_queue_t                 queue;
    ngx_live_record_tag_t       tag;
    int64_t                     ts;
} ngx_live_record_pending_t;


typedef struct {
    ngx_uint_t                  flags;
    ngx_uint_t                  drop;
    ngx_uint_t                  reason;         /* CUT: REASON_* */
    int64_t                     ts;             /* frame time, extended */
    int64_t                     base;           /* FLUSH: the part's 0 */
    int32_t                     jump;           /* JUMP: ms */
} ngx_live_record_segmenter_out_t;


typedef struct {
    /* set by the caller before a push */
    ngx_msec_t                  interval;       /* live_record_interval */
    ngx_uint_t                  announced;      /* 1 << track: onMetaData */
    ngx_uint_t                  replan;         /* REASON_* + 1 */
    unsigned                    recording:1;    /* any format wanted */
    unsigned                    paused:1;       /* no new part may open */
    unsigned                    hold:1;         /* nor the first, yet */

    /* the segmenter's own */
    unsigned                    started:1;
    unsigned                    changed:1;      /* a track, in a part */
    unsigned                    seen_key:1;     /* releasing */

    ngx_live_record_track_t    *tracks;         /* the stream's */
    ngx_live_record_track_t    *open[2];        /* the open parts' */
    int64_t                     base;           /* of the open part */
    int64_t                     ts;             /* extended to 64 bits */
    uint32_t                    last_raw;

    ngx_queue_t                 pending;
    ngx_uint_t                  npending;
    ngx_live_record_pending_t  *released;

    ngx_live_record_segmenter_alloc_pt  alloc;
    ngx_live_record_segmenter_free_pt   free;
    void                       *data;
} ngx_live_record_segmenter_t;


void ngx_live_record_segmenter_init(ngx_live_record_segmenter_t *seg,
    ngx_live_record_track_t *tracks, ngx_live_record_segmenter_alloc_pt alloc,
    ngx_live_record_segmenter_free_pt free, void *data);
ngx_int_t ngx_live_record_segmenter_push(ngx_live_record_segmenter_t *seg,
    ngx_live_record_tag_t *tag, uint32_t timestamp,
    ngx_live_record_segmenter_out_t *out);
ngx_live_record_pending_t *ngx_live_record_segmenter_release(
    ngx_live_record_segmenter_t *seg);
ngx_int_t ngx_live_record_segmenter_unhold(ngx_live_record_segmenter_t *seg,
    int64_t *base);
void ngx_live_record_segmenter_opened(ngx_live_record_segmenter_t *seg,
    ngx_uint_t kind, int64_t base, ngx_live_record_track_t *tracks);
void ngx_live_record_segmenter_closed(ngx_live_record_segmenter_t *seg,
    ngx_uint_t kind);
void ngx_live_record_segmenter_drop(ngx_live_record_segmenter_t *seg);
void ngx_live_record_segmenter_free(ngx_live_record_segmenter_t *seg);
const char *ngx_live_record_segmenter_why(ngx_uint_t drop);


#endif /* _NGX_LIVE_RECORD_SEGMENTER_H_INCLUDED_ */
