
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_HANDOVER_H_INCLUDED_
#define _NGX_LIVE_RECORD_HANDOVER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_part.h"
#include "ngx_live_record_stream.h"
#include "ngx_live_record_shm.h"


/*
 * A part (MP4, FLV, AAC) that waits for its publisher on one worker, taken
 * over by another worker that the publisher reconnects to.  The part is
 * offered in the live_record zone; a publish of the same stream on another
 * worker asks for it; the owner detaches its files in the thread pool and
 * writes a hand-over file to SPOOL/open/OWNER.FILE_ID.handover; the taker
 * reads it in the thread pool, claims the part's sidecars by rename (as the
 * recovery does) and reopens its files, which go on as if the publisher had
 * come back to the owner.
 */


#define NGX_LIVE_RECORD_HANDOVER_WAITING    0   /* offered */
#define NGX_LIVE_RECORD_HANDOVER_REQUESTED  1   /* a taker asks */
#define NGX_LIVE_RECORD_HANDOVER_DETACHING  2   /* the owner hands it over */
#define NGX_LIVE_RECORD_HANDOVER_HANDED     3   /* the file is written */
#define NGX_LIVE_RECORD_HANDOVER_FAILED     4   /* the owner could not */

/* how long a taker waits for the owner to start handing it over */
#define NGX_LIVE_RECORD_HANDOVER_TIMEOUT    1000
#define NGX_LIVE_RECORD_HANDOVER_POLL       100

/* the hand-over file is at most this long */
#define NGX_LIVE_RECORD_HANDOVER_MAX        (1024 * 1024)

#define NGX_LIVE_RECORD_HANDOVER_EXT        ".handover"


/* in the zone, the mutex held: one a waiting part */
typedef struct {
    ngx_queue_t                 queue;
    ngx_str_t                   key;            /* "app/name" */
    ngx_str_t                   path;           /* once handed over */
    ngx_pid_t                   owner;
    ngx_pid_t                   taker;
    ngx_uint_t                  part;
    ngx_uint_t                  state;
} ngx_live_record_handover_t;


/* what the hand-over file names besides the part's own fields */
typedef struct {
    ngx_str_t                   work_root;
    ngx_str_t                   store;
    ngx_str_t                   tpl;
    ngx_pid_t                   owner;
} ngx_live_record_handover_names_t;


/* ngx_live_record_handover.c: the zone's record and the owner's side */
void ngx_live_record_handover_offer(ngx_live_record_part_t *p);
void ngx_live_record_handover_withdraw(ngx_live_record_part_t *p);
ngx_live_record_handover_t *ngx_live_record_handover_find(
    ngx_live_record_shm_t *sh, ngx_str_t *label, ngx_pid_t owner,
    ngx_uint_t part);
void ngx_live_record_handover_free(ngx_slab_pool_t *shpool,
    ngx_live_record_handover_t *h);

/* ngx_live_record_handover_take.c: the taker's side */
ngx_int_t ngx_live_record_handover_request(ngx_live_record_ctx_t *ctx,
    ngx_pid_t waiting);
void ngx_live_record_handover_cancel(ngx_live_record_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t sync);

/* ngx_live_record_handover_file.c: the hand-over file */
ngx_int_t ngx_live_record_handover_text(ngx_live_record_part_t *p,
    ngx_str_t *text);
ngx_int_t ngx_live_record_handover_parse(ngx_live_record_part_t *p,
    ngx_str_t *text, ngx_live_record_handover_names_t *names);


#endif /* _NGX_LIVE_RECORD_HANDOVER_H_INCLUDED_ */
