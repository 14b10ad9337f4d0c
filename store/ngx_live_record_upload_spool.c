
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_upload.h"
#include "ngx_live_record_json.h"


static ngx_int_t ngx_live_record_upload_readd(ngx_array_t *files,
    ngx_str_t *path, ngx_str_t *key, double size);


/*
 * What a spooled upload (SPOOL/handoff/PID.FILE_ID.json, written by
 * ngx_live_record_upload_spool()) says, read apart from what is done
 * with it, so that fuzz/fuzz_spool.c runs it alone: the index entry,
 * detached from o and the caller's even on failure, and the files,
 * pushed to files.  The store and the receivers are the caller's to
 * look up.
 */

ngx_int_t
ngx_live_record_upload_parse(ngx_pool_t *pool, cJSON *o, ngx_array_t *files,
    ngx_live_record_handoff_t *h)
{
    cJSON      *fs, *f, *size;
    ngx_str_t   s, key, app, name;

    ngx_live_record_json_field_t  job[] = {
        { "event", NGX_LIVE_RECORD_JSON_STR_OPT, &h->event },
        { "local", NGX_LIVE_RECORD_JSON_STR, &h->local },
        { NULL, 0, NULL }
    };

    ngx_live_record_json_field_t  entry[] = {
        { "file_id", NGX_LIVE_RECORD_JSON_STR, &h->file_id },
        { "app", NGX_LIVE_RECORD_JSON_STR, &app },
        { "stream_id", NGX_LIVE_RECORD_JSON_STR, &name },
        { NULL, 0, NULL }
    };

    ngx_live_record_json_field_t  file[] = {
        { "path", NGX_LIVE_RECORD_JSON_STR, &s },
        { "key", NGX_LIVE_RECORD_JSON_STR, &key },
        { NULL, 0, NULL }
    };

    h->entry = cJSON_DetachItemFromObjectCaseSensitive(o, "entry");
    h->keep_local = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o,
                                                                "keep_local"));

    fs = cJSON_GetObjectItemCaseSensitive(o, "files");

    /* a spool file of before "event" was a part's */
    ngx_str_null(&h->event);

    if (h->entry == NULL || !cJSON_IsArray(fs)
        || ngx_live_record_json_read(pool, o, job) != NGX_OK
        || ngx_live_record_json_read(pool, h->entry, entry) != NGX_OK)
    {
        return NGX_ERROR;
    }

    h->label.data = ngx_pnalloc(pool, app.len + 1 + name.len);
    if (h->label.data == NULL) {
        return NGX_ERROR;
    }

    h->label.len = ngx_sprintf(h->label.data, "%V/%V", &app, &name)
                   - h->label.data;

    cJSON_ArrayForEach(f, fs) {
        if (ngx_live_record_json_read(pool, f, file) != NGX_OK) {
            return NGX_ERROR;
        }

        /*
         * as the spool writes it; a size missing, negative, nan or too
         * big for off_t (1e300) was converted to it (undefined) before
         */

        size = cJSON_GetObjectItemCaseSensitive(f, "size");

        if (!cJSON_IsNumber(size) || !(size->valuedouble >= 0)
            || size->valuedouble > (double) NGX_MAX_OFF_T_VALUE / 2)
        {
            return NGX_ERROR;
        }

        if (ngx_live_record_upload_readd(files, &s, &key, size->valuedouble)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_upload_readd(ngx_array_t *files, ngx_str_t *path,
    ngx_str_t *key, double size)
{
    ngx_live_record_upload_file_t  *uf;

    uf = ngx_array_push(files);
    if (uf == NULL) {
        return NGX_ERROR;
    }

    uf->path = path->data;          /* null-terminated */
    uf->key = *key;
    uf->size = (off_t) size;

    return NGX_OK;
}
