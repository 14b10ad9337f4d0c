
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_DELIVER_H_INCLUDED_
#define _NGX_LIVE_RECORD_DELIVER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"


/*
 * A finished file's way out, the same for a part's file and a concat
 * result: a local store's file gets its index entry in the thread pool
 * and is announced on the event loop; a remote store's is uploaded, and
 * indexed and announced once the upload is confirmed.  Announcing is the
 * part_done chain, which notify joins.
 */


typedef struct {
    ngx_live_record_main_conf_t *lmcf;
    ngx_live_record_app_conf_t *lacf;
    ngx_str_t                  *label;          /* "app/name" */
    ngx_str_t                  *file_id;
    u_char                     *local;          /* in the store's directory */
    ngx_str_t                   rel;            /* its name in the store */
    off_t                       size;
    ngx_uint_t                  segments;       /* hls: N.ts, index.m3u8 */
    ngx_uint_t                  hls;            /* local, rel: directories */
    cJSON                      *entry;          /* the caller's */
    const char                 *event;          /* record_done, concat_done */
    u_char                     *release;        /* see deliver.c */
} ngx_live_record_delivery_t;


/*
 * In the thread pool, with the file in place: NGX_OK indexed, NGX_DECLINED
 * the entry waits for the upload, NGX_ERROR none was written.
 */
ngx_int_t ngx_live_record_deliver_index(ngx_live_record_delivery_t *d,
    ngx_log_t *log);

/*
 * On the event loop, after deliver_index: NGX_OK announced, NGX_AGAIN
 * uploading (the upload announces it), NGX_ERROR the upload could not
 * start and the file stays in the local directory.
 */
ngx_int_t ngx_live_record_deliver(ngx_live_record_delivery_t *d);


#endif /* _NGX_LIVE_RECORD_DELIVER_H_INCLUDED_ */
