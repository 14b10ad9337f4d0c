
/*
 * Copyright (C) ngx_live_record authors
 */


/* cJSON with ngx_str_t: the index entries, sidecars, spool and tasks */


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"
#include "ngx_live_record_json.h"
#include "ngx_live_record_utf8.h"


/* 2^63: the times are int64_t once read */
#define NGX_LIVE_RECORD_JSON_MS_MAX  9223372036854775808.0


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

    /*
     * what comes in is checked where it comes in; this only keeps a slip
     * from making JSON that strict parsers refuse
     */

    ngx_live_record_utf8_fix((u_char *) s, v->len);

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


/*
 * The members of an object read into C variables by a table: the fields
 * of the sidecars, the spool and tasks.json.  A required string that is
 * missing or not a string fails (NGX_DECLINED); an optional one, and a
 * number, that is missing leaves its variable as it was; so does a number
 * out of range (a negative count, a time from 2^63 ms on).
 */

ngx_int_t
ngx_live_record_json_read(ngx_pool_t *pool, cJSON *o,
    ngx_live_record_json_field_t *fields)
{
    cJSON                         *v;
    ngx_int_t                      rc;
    ngx_live_record_json_field_t  *f;

    for (f = fields; f->name; f++) {
        v = cJSON_GetObjectItemCaseSensitive(o, f->name);

        switch (f->type) {

        case NGX_LIVE_RECORD_JSON_STR:
        case NGX_LIVE_RECORD_JSON_STR_OPT:

            if (!cJSON_IsString(v)) {
                if (f->type == NGX_LIVE_RECORD_JSON_STR) {
                    return NGX_DECLINED;
                }

                break;
            }

            rc = ngx_live_record_json_get(pool, o, f->name, f->dst);
            if (rc != NGX_OK) {
                return rc;
            }

            break;

        case NGX_LIVE_RECORD_JSON_TEXT:

            if (ngx_live_record_json_text(pool, v, f->dst) != NGX_OK) {
                return NGX_ERROR;
            }

            break;

        case NGX_LIVE_RECORD_JSON_UINT:

            /* cJSON's valueint is clamped to int: a negative one is not */

            if (cJSON_IsNumber(v) && v->valueint >= 0) {
                *(ngx_uint_t *) f->dst = (ngx_uint_t) v->valueint;
            }

            break;

        default: /* NGX_LIVE_RECORD_JSON_MS */

            /*
             * a double past 2^63 (or NaN) converted to an integer is
             * undefined; such a time is no time, as if missing
             */

            if (cJSON_IsNumber(v) && v->valuedouble >= 0
                && v->valuedouble < NGX_LIVE_RECORD_JSON_MS_MAX)
            {
                *(uint64_t *) f->dst = (uint64_t) v->valuedouble;
            }
        }
    }

    return NGX_OK;
}
