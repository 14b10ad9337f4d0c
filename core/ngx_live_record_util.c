
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * core/: what every other folder may use and nothing here depends on
 * them.  This file: the wall clock, names, reasons, the template lookup
 * and the way to the rtmp side's configuration.  Beside it: the shared
 * zone (ngx_live_record_shm.c), small files (ngx_live_record_file.c), JSON
 * (ngx_live_record_json.c) and libcurl on the event loop
 * (ngx_live_record_curl.c).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record.h"


/* wall clock, as the index and the events carry it */

uint64_t
ngx_live_record_now_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (uint64_t) tp->sec * 1000 + tp->msec;
}


ngx_int_t
ngx_live_record_str_eq(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len
           && (a->len == 0 || ngx_memcmp(a->data, b->data, a->len) == 0);
}


ngx_live_record_main_conf_t *
ngx_live_record_rtmp_main_conf(ngx_cycle_t *cycle)
{
    ngx_rtmp_conf_ctx_t  *ctx;

    ctx = (ngx_rtmp_conf_ctx_t *) cycle->conf_ctx[ngx_rtmp_module.index];

    if (ctx == NULL) {
        return NULL;
    }

    return ctx->main_conf[ngx_live_record_module.ctx_index];
}


/*
 * Ids and names the API takes, and tasks read back from tasks.json:
 * [A-Za-z0-9._-], not starting with a dot.
 */

ngx_int_t
ngx_live_record_valid_name(ngx_str_t *name, size_t max)
{
    u_char      c;
    ngx_uint_t  i;

    if (name->len == 0 || name->len > max || name->data[0] == '.') {
        return NGX_ERROR;
    }

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
              || (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-'))
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


const char *
ngx_live_record_reason_name(ngx_uint_t reason)
{
    static const char  *names[] = {
        "interval", "unpublish", "drop", "param_change", "shutdown",
        "recovered", "write_error", "task_start", "task_end"
    };

    return names[reason];
}


ngx_live_record_template_t *
ngx_live_record_template(ngx_live_record_main_conf_t *lmcf, ngx_str_t *name)
{
    ngx_uint_t                     i;
    ngx_live_record_template_t   **tpl;

    tpl = lmcf->templates.elts;

    for (i = 0; i < lmcf->templates.nelts; i++) {
        if (tpl[i]->name.len == name->len
            && ngx_strncmp(tpl[i]->name.data, name->data, name->len) == 0)
        {
            return tpl[i];
        }
    }

    return NULL;
}
