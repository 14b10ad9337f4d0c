
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_JSON_H_INCLUDED_
#define _NGX_LIVE_RECORD_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>


cJSON *ngx_live_record_json_str(ngx_str_t *v);
cJSON *ngx_live_record_json_set(cJSON *o, const char *name,
    ngx_str_t *v);
ngx_int_t ngx_live_record_json_get(ngx_pool_t *pool, cJSON *o,
    const char *name, ngx_str_t *dst);
ngx_int_t ngx_live_record_json_text(ngx_pool_t *pool, cJSON *v,
    ngx_str_t *dst);


#endif /* _NGX_LIVE_RECORD_JSON_H_INCLUDED_ */
