
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_JSON_H_INCLUDED_
#define _NGX_LIVE_RECORD_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>


#define NGX_LIVE_RECORD_JSON_STR      0   /* ngx_str_t, required */
#define NGX_LIVE_RECORD_JSON_STR_OPT  1   /* ngx_str_t */
#define NGX_LIVE_RECORD_JSON_TEXT     2   /* ngx_str_t: any value as JSON */
#define NGX_LIVE_RECORD_JSON_UINT     3   /* ngx_uint_t */
#define NGX_LIVE_RECORD_JSON_MS       4   /* uint64_t */


typedef struct {
    const char                 *name;
    ngx_uint_t                  type;
    void                       *dst;
} ngx_live_record_json_field_t;


cJSON *ngx_live_record_json_str(ngx_str_t *v);
cJSON *ngx_live_record_json_set(cJSON *o, const char *name,
    ngx_str_t *v);
ngx_int_t ngx_live_record_json_get(ngx_pool_t *pool, cJSON *o,
    const char *name, ngx_str_t *dst);
ngx_int_t ngx_live_record_json_text(ngx_pool_t *pool, cJSON *v,
    ngx_str_t *dst);

ngx_int_t ngx_live_record_json_read(ngx_pool_t *pool, cJSON *o,
    ngx_live_record_json_field_t *fields);


#endif /* _NGX_LIVE_RECORD_JSON_H_INCLUDED_ */
