
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_INDEX_H_INCLUDED_
#define _NGX_LIVE_RECORD_INDEX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"
#include "ngx_live_record_json.h"


ngx_int_t ngx_live_record_file_ids(ngx_live_record_part_t *p);
ngx_int_t ngx_live_record_local_url(ngx_live_record_part_t *p,
    ngx_uint_t format);
cJSON *ngx_live_record_part_json(ngx_live_record_part_t *p,
    ngx_uint_t format);
cJSON *ngx_live_record_entry_json(ngx_live_record_part_t *p,
    ngx_uint_t format);
ngx_int_t ngx_live_record_index_put(ngx_str_t *index, ngx_str_t *label,
    ngx_str_t *file_id, cJSON *entry, ngx_log_t *log);
ngx_int_t ngx_live_record_sha256(u_char *path, u_char *hex, ngx_log_t *log);


#endif /* _NGX_LIVE_RECORD_INDEX_H_INCLUDED_ */
