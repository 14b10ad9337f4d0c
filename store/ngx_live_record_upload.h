
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_UPLOAD_H_INCLUDED_
#define _NGX_LIVE_RECORD_UPLOAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"
#include "ngx_live_record_deliver.h"


/* where waiting uploads are spooled, under live_record_spool */
#define NGX_LIVE_RECORD_SPOOL_HANDOFF  "handoff"


ngx_int_t ngx_live_record_upload(ngx_live_record_delivery_t *d);
ngx_int_t ngx_live_record_upload_load(ngx_live_record_main_conf_t *lmcf,
    u_char *path, ngx_str_t *text);

/* AWS's encoding, null-terminated; with keep_slash, '/' stays as it is */
u_char *ngx_live_record_uri_encode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_uint_t keep_slash, ngx_str_t *dst);


#endif /* _NGX_LIVE_RECORD_UPLOAD_H_INCLUDED_ */
