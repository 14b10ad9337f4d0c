
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"


/* /files and /concat land on their branch; until then they say so */


ngx_int_t
ngx_http_live_record_files(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body)
{
    return ngx_http_live_record_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                                      "not_implemented",
                                      "/files is not built yet");
}


ngx_int_t
ngx_http_live_record_concat(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body)
{
    return ngx_http_live_record_error(r, NGX_HTTP_NOT_IMPLEMENTED,
                                      "not_implemented",
                                      "/concat is not built yet");
}
