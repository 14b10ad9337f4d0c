
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_HTTP_LIVE_RECORD_CONCAT_H_INCLUDED_
#define _NGX_HTTP_LIVE_RECORD_CONCAT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"
#include "ngx_live_record_concat.h"
#include "ngx_http_live_record_files.h"


/*
 * POST /concat in two files: ngx_http_live_record_concat.c reads the
 * request and finds, checks and probes the sources (the plan);
 * ngx_http_live_record_concat_job.c runs the job the plan starts.
 */


#define NGX_HTTP_LIVE_RECORD_CONCAT_MAX_SOURCES  256


/* POST /concat: what was asked, then what the thread found */
typedef struct {
    ngx_str_t                   index;
    ngx_array_t                 ids;            /* ngx_str_t */
    ngx_str_t                   session;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_str_t                   format;

    ngx_array_t                 entries;        /* ..._entry_t, by time */
    ngx_live_record_concat_src_t  *srcs;
    ngx_array_t                 mismatches;
    ngx_str_t                   store;
    ngx_str_t                   place;          /* the first's, in it */
    u_char                     *fetched;        /* per source: 1 fetched */
    ngx_uint_t                  nfetched;
    ngx_str_t                   tag;            /* fetched files' names */

    /* in a cluster: the rows */
    ngx_http_live_record_pick_t  pick;
    unsigned                    picked:1;
    unsigned                    taken:1;        /* by a job */

    ngx_uint_t                  status;         /* of an error answer */
    const char                 *code;
    ngx_str_t                   message;
} ngx_http_live_record_plan_t;


/* the job goes into the zone, its remux into the thread pool: 202 */
ngx_int_t ngx_http_live_record_concat_start(ngx_http_request_t *r,
    ngx_http_live_record_plan_t *plan, ngx_live_record_app_conf_t *lacf);

/* a number field of an index entry; 0 when it has none */
double ngx_http_live_record_concat_num(cJSON *o, const char *name);


#endif /* _NGX_HTTP_LIVE_RECORD_CONCAT_H_INCLUDED_ */
