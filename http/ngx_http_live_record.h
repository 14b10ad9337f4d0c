
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_HTTP_LIVE_RECORD_H_INCLUDED_
#define _NGX_HTTP_LIVE_RECORD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"


/*
 * The HTTP JSON API (ngx_http_live_record_module.c routes, authenticates
 * and reads bodies; each resource has its own file).
 *
 * A resource handler gets the path after its prefix ("" for "/files",
 * "ID" for "/files/ID", "ID/stop" for "/tasks/ID/stop") and, for POST,
 * the parsed JSON body (else NULL; the caller frees it after the call).
 * It answers with ngx_http_live_record_send() or _error() and returns
 * what they return, which the router passes to ngx_http_finalize_request.
 * To answer later, it does r->main->count++, returns NGX_DONE, and when
 * done calls ngx_http_finalize_request(r, ngx_http_live_record_send(...)).
 */


typedef ngx_int_t (*ngx_http_live_record_handler_pt)(ngx_http_request_t *r,
    ngx_str_t *rest, cJSON *body);


/* sends json (and frees it) with the status; NGX_ERROR on no memory */
ngx_int_t ngx_http_live_record_send(ngx_http_request_t *r,
    ngx_uint_t status, cJSON *json);

/* 405 naming the methods allowed, e.g. "GET, HEAD, DELETE" */
ngx_int_t ngx_http_live_record_not_allowed(ngx_http_request_t *r,
    const char *allow);

/* {"code": code, "message": printf-style message} */
ngx_int_t ngx_http_live_record_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *fmt, ...);

/* NGX_OK, or an error sent for the first argument not in the list */
ngx_int_t ngx_http_live_record_check_args(ngx_http_request_t *r,
    const char **allowed, ngx_int_t *rc);

/* the first rtmp application of that name that records; else NULL */
ngx_live_record_app_conf_t *ngx_live_record_rtmp_app_conf(ngx_cycle_t *cycle,
    ngx_str_t *app);

/* a query argument, unescaped into the request pool; NGX_DECLINED: none */
ngx_int_t ngx_http_live_record_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value);

ngx_int_t ngx_http_live_record_ms_arg(ngx_http_request_t *r, const char *sec,
    const char *ms, uint64_t *value, ngx_int_t *rc);

/* ids and names in paths: [A-Za-z0-9._-], not starting with '.' */
ngx_int_t ngx_http_live_record_valid_id(ngx_str_t *id);


ngx_int_t ngx_http_live_record_tasks(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body);
ngx_int_t ngx_http_live_record_streams(ngx_http_request_t *r,
    ngx_str_t *rest, cJSON *body);
ngx_int_t ngx_http_live_record_files(ngx_http_request_t *r, ngx_str_t *rest,
    cJSON *body);
ngx_int_t ngx_http_live_record_concat(ngx_http_request_t *r,
    ngx_str_t *rest, cJSON *body);

/* live_record_keep: worker 0 deletes expired files, by a timer */
ngx_int_t ngx_http_live_record_retention_init(ngx_cycle_t *cycle);


#endif /* _NGX_HTTP_LIVE_RECORD_H_INCLUDED_ */
