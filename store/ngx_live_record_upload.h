
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_UPLOAD_H_INCLUDED_
#define _NGX_LIVE_RECORD_UPLOAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"
#include "ngx_live_record_deliver.h"
#include "ngx_live_record_curl.h"


/* where waiting uploads are spooled, under live_record_spool */
#define NGX_LIVE_RECORD_SPOOL_HANDOFF  "handoff"


/* an S3 multipart upload of one file: see ngx_live_record_multipart.c */
typedef struct {
    ngx_str_t                   upload_id;      /* percent-encoded */
    ngx_uint_t                  nparts;
    u_char                     *md5s;           /* 16 bytes a part */
    ngx_str_t                  *etags;          /* confirmed; len 0: not */
    ngx_array_t                 stale;          /* ids to abort: ngx_str_t */
    ngx_uint_t                  op;             /* the request in flight */
    ngx_uint_t                  op_part;
    ngx_uint_t                  marker;         /* ListParts paging */
    ngx_str_t                   key_marker;     /* ListMultipartUploads */
    ngx_str_t                   upload_marker;
    ngx_uint_t                  sent;           /* UploadParts confirmed */
    ngx_uint_t                  found;          /* parts already there */
    u_char                     *why;            /* giving up: the reason */
    ngx_err_t                   err;            /* hashing */
    ngx_int_t                   hash_rc;
    unsigned                    hashing:1;
    unsigned                    listed:1;       /* its uploads looked for */
    unsigned                    synced:1;       /* its parts known */
    unsigned                    giving_up:1;
} ngx_live_record_multipart_t;


typedef struct {
    u_char                     *path;
    ngx_str_t                   key;            /* percent-encoded */
    off_t                       size;
} ngx_live_record_upload_file_t;


typedef struct {
    ngx_queue_t                 queue;
    ngx_pool_t                 *pool;
    ngx_live_record_main_conf_t *lmcf;
    ngx_live_record_store_t    *store;
    ngx_array_t                 files;
    ngx_array_t                 receivers;      /* receiver * */
    ngx_str_t                   label;
    ngx_str_t                   file_id;
    u_char                     *local;          /* file or directory */
    u_char                     *spool;
    cJSON                      *entry;
    char                       *event;          /* record_done, or other */
    ngx_flag_t                  keep_local;
    time_t                      t;
    ngx_msec_t                  started;        /* in this process */
    ngx_uint_t                  next;

    ngx_live_record_multipart_t mp;

    ngx_str_t                   reply_id;
    ngx_str_t                   reply_url;
    ngx_uint_t                  attempts;       /* of the file, next */
    ngx_msec_t                  backoff;        /* of the file, next */
    ngx_event_t                 retry;
    ngx_live_record_request_t  *req;
#if (NGX_THREADS)
    ngx_thread_task_t          *task;           /* the end's disk work */
#endif
    ngx_str_t                   spool_text;     /* to write, or empty */
    u_char                     *release;        /* a sidecar, once spooled */
    ngx_int_t                   spool_rc;
    ngx_int_t                   index_rc;       /* the entry written */
    ngx_uint_t                  index_tries;
    unsigned                    spooled:1;
    unsigned                    released:1;
    unsigned                    loaded:1;       /* from the spool */
    unsigned                    fresh:1;        /* next request: attempt */
} ngx_live_record_upload_t;


/* what a spooled upload says; ngx_live_record_upload_spool.c */
typedef struct {
    cJSON                      *entry;
    ngx_str_t                   event;          /* data NULL: record_done */
    ngx_str_t                   local;
    ngx_str_t                   file_id;
    ngx_str_t                   label;          /* app/stream_id */
    ngx_flag_t                  keep_local;
} ngx_live_record_handoff_t;


ngx_int_t ngx_live_record_upload(ngx_live_record_delivery_t *d);
ngx_int_t ngx_live_record_upload_parse(ngx_pool_t *pool, cJSON *o,
    ngx_array_t *files, ngx_live_record_handoff_t *h);
ngx_int_t ngx_live_record_upload_load(ngx_live_record_main_conf_t *lmcf,
    u_char *path, ngx_str_t *text);

/* for the multipart upload: the job's requests and their ends */
ngx_live_record_request_t *ngx_live_record_upload_request(
    ngx_live_record_upload_t *u, const char *method, ngx_str_t *query,
    ngx_str_t *body);
void ngx_live_record_upload_start(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r);
void ngx_live_record_upload_step(ngx_live_record_upload_t *u);
void ngx_live_record_upload_next(ngx_live_record_upload_t *u);
void ngx_live_record_upload_failed(ngx_live_record_upload_t *u, u_char *why);
void ngx_live_record_upload_give_up(ngx_live_record_upload_t *u,
    u_char *why);
void ngx_live_record_upload_why(u_char *why, size_t size,
    ngx_live_record_request_t *r);

void ngx_live_record_multipart_step(ngx_live_record_upload_t *u);
ngx_int_t ngx_live_record_multipart_done(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r);
ngx_int_t ngx_live_record_multipart_give_up(ngx_live_record_upload_t *u,
    u_char *why);

/* AWS's encoding, null-terminated; with keep_slash, '/' stays as it is */
u_char *ngx_live_record_uri_encode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_uint_t keep_slash, ngx_str_t *dst);


#endif /* _NGX_LIVE_RECORD_UPLOAD_H_INCLUDED_ */
