
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_HTTP_LIVE_RECORD_FILES_H_INCLUDED_
#define _NGX_HTTP_LIVE_RECORD_FILES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"
#include "ngx_live_record_curl.h"
#include "ngx_live_record_pg.h"
#include "ngx_http_live_record_index.h"


/*
 * /files: a listing's query and one file's lookup and delete, shared by
 * the local index (ngx_http_live_record_files.c) and a cluster's rows
 * (ngx_http_live_record_rows.c).
 */


#define NGX_HTTP_LIVE_RECORD_LIMIT        100
#define NGX_HTTP_LIVE_RECORD_MAX_LIMIT    1000


typedef struct {
    ngx_str_t                   index;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_str_t                   session;
    ngx_str_t                   format;
    ngx_str_t                   cursor;
    uint64_t                    from_ms;
    uint64_t                    to_ms;
    ngx_uint_t                  limit;
    unsigned                    from:1;
    unsigned                    to:1;

    cJSON                      *response;
    ngx_uint_t                  failed;
} ngx_http_live_record_query_t;


typedef struct ngx_http_live_record_one_s  ngx_http_live_record_one_t;

/* an expiry's end: NGX_OK deleted, NGX_ERROR not (logged) */
typedef void (*ngx_http_live_record_expired_pt)(
    ngx_http_live_record_one_t *one, ngx_int_t rc);

struct ngx_http_live_record_one_s {
    ngx_str_t                   index;
    ngx_str_t                   id;
    ngx_http_live_record_entry_t  entry;
    ngx_int_t                   found;
    cJSON                      *response;

    /* DELETE */
    ngx_http_request_t         *r;              /* NULL: expired */
    ngx_log_t                  *log;
    ngx_live_record_app_conf_t *lacf;           /* of the store */
    ngx_live_record_store_t    *store;
    ngx_str_t                   path;           /* null-terminated */
    ngx_str_t                   rel;            /* store-relative */
    ngx_uint_t                  hls;
    ngx_array_t                 keys;           /* ngx_str_t, encoded */
    ngx_uint_t                  next;
    ngx_pool_t                 *pool;           /* of the requests */
    ngx_live_record_request_t  *req;
    ngx_int_t                   rc;
    ngx_err_t                   err;

    /* a cluster's row */
    ngx_str_t                   node;
    ngx_str_t                   store_type;
    unsigned                    row:1;
    unsigned                    foreign:1;      /* another node's */

    /* an expiry (r is NULL) */
    ngx_pool_t                 *tpool;          /* lives until expired */
    ngx_http_live_record_expired_pt  expired;
    void                       *data;
};


/*
 * Retention: one->id, index, entry, log, tpool, expired set; deletes
 * the file from its store and the index, then calls expired.
 * NGX_DECLINED: it is being recorded or read, and stays for now.
 */
ngx_int_t ngx_http_live_record_files_expire(ngx_http_live_record_one_t *one);


/* NGX_DONE with the query sent, else the answer (503 without a link) */
ngx_int_t ngx_http_live_record_rows_list(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_query_t *q);

/*
 * The row of one->id fills one->entry, found, node and store_type, then
 * done runs as after the local index's lookup (NGX_BUSY in found: the
 * database did not answer).
 */
ngx_int_t ngx_http_live_record_rows_find(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_one_t *one,
    ngx_http_live_record_thread_done_pt done);

/*
 * /concat's sources in a cluster: the rows of ids (if any) or of a
 * session (of app and stream, if given), oldest first, as ones (each
 * with its entry, node and store type; unsound rows are left out,
 * logged).  done runs with t->data the pick; found is NGX_OK, or
 * NGX_BUSY when the database did not answer.
 */
typedef struct {
    ngx_str_t                   index;
    ngx_array_t                 ids;            /* ngx_str_t */
    ngx_str_t                   session;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    ngx_array_t                 rows;           /* ..._one_t */
    ngx_int_t                   found;
    void                       *data;
} ngx_http_live_record_pick_t;

ngx_int_t ngx_http_live_record_rows_pick(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_pick_t *pick,
    ngx_http_live_record_thread_done_pt done);

/*
 * A row of SELECT file_id, entry, node_id, store_type, app, stream_id
 * into one, checked as hostile (NGX_ERROR, logged: left out); the entry
 * is the caller's to free, whatever is returned.
 */
ngx_int_t ngx_http_live_record_rows_one(ngx_pool_t *pool, ngx_log_t *log,
    PGresult *res, int row, ngx_http_live_record_one_t *one);

/* the row goes after its file: done hears NGX_OK or NGX_ERROR */
typedef void (*ngx_http_live_record_rows_done_pt)(ngx_http_request_t *r,
    ngx_http_live_record_one_t *one, ngx_int_t rc);

ngx_int_t ngx_http_live_record_rows_delete(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_http_live_record_one_t *one,
    ngx_http_live_record_rows_done_pt done);

/*
 * GET /streams (app and stream NULL) or /streams/APP/STREAM in a cluster:
 * this node's live view and the other nodes' current ones, each stream
 * with its "node".
 */
ngx_int_t ngx_http_live_record_rows_streams(ngx_http_request_t *r,
    ngx_live_record_pg_t *pg, ngx_str_t *app, ngx_str_t *stream);


#endif /* _NGX_HTTP_LIVE_RECORD_FILES_H_INCLUDED_ */
