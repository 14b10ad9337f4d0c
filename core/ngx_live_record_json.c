
/*
 * Copyright (C) ngx_live_record authors
 */


/* cJSON with ngx_str_t: the index entries, sidecars, spool and tasks */


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"


/* a JSON string of an ngx_str_t, which need not be null-terminated */

cJSON *
ngx_live_record_json_str(ngx_str_t *v)
{
    char   *s;
    cJSON  *item;

    s = ngx_alloc(v->len + 1, ngx_cycle->log);
    if (s == NULL) {
        return NULL;
    }

    if (v->len) {
        ngx_memcpy(s, v->data, v->len);
    }

    s[v->len] = '\0';

    item = cJSON_CreateString(s);

    ngx_free(s);

    return item;
}


cJSON *
ngx_live_record_json_set(cJSON *o, const char *name, ngx_str_t *v)
{
    cJSON  *item;

    item = ngx_live_record_json_str(v);

    if (item == NULL || !cJSON_AddItemToObject(o, name, item)) {
        cJSON_Delete(item);
        return NULL;
    }

    return item;
}


/* the copy is null-terminated: paths go to system calls as they are */

ngx_int_t
ngx_live_record_json_get(ngx_pool_t *pool, cJSON *o, const char *name,
    ngx_str_t *dst)
{
    cJSON  *item;

    item = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsString(item)) {
        return NGX_DECLINED;
    }

    dst->len = ngx_strlen(item->valuestring);
    dst->data = ngx_pnalloc(pool, dst->len + 1);

    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, item->valuestring, dst->len + 1);

    return NGX_OK;
}


ngx_int_t
ngx_live_record_json_text(ngx_pool_t *pool, cJSON *v, ngx_str_t *dst)
{
    char  *text;

    ngx_str_null(dst);

    if (v == NULL || cJSON_IsNull(v)) {
        return NGX_OK;
    }

    text = cJSON_PrintUnformatted(v);
    if (text == NULL) {
        return NGX_ERROR;
    }

    dst->len = ngx_strlen(text);
    dst->data = ngx_pnalloc(pool, dst->len);

    if (dst->data) {
        ngx_memcpy(dst->data, text, dst->len);
    }

    cJSON_free(text);

    return dst->data ? NGX_OK : NGX_ERROR;
}
