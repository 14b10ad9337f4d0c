
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_HTTP_LIVE_RECORD_INDEX_H_INCLUDED_
#define _NGX_HTTP_LIVE_RECORD_INDEX_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"


/*
 * What /files and /concat share: reading the index, in a thread of the
 * pool, and the glue that runs work there on behalf of a request (or of
 * nothing, for a concat job).
 */


typedef struct ngx_http_live_record_thread_s  ngx_http_live_record_thread_t;

/* in the thread: only t->pool and t->data are touched */
typedef void (*ngx_http_live_record_thread_pt)(
    ngx_http_live_record_thread_t *t, ngx_log_t *log);

/* on the event loop, when the thread is done */
typedef void (*ngx_http_live_record_thread_done_pt)(
    ngx_http_live_record_thread_t *t);


struct ngx_http_live_record_thread_s {
    ngx_http_request_t                   *r;
    ngx_pool_t                           *pool;
    ngx_http_live_record_thread_pt        handler;
    ngx_http_live_record_thread_done_pt   done;
    void                                 *data;
};


/* a stream's directory of the index: INDEX/APP/STREAM */
typedef struct {
    ngx_str_t                   path;           /* null-terminated */
    ngx_str_t                   app;
    ngx_str_t                   stream;
} ngx_http_live_record_dir_t;


/* an id found in a directory, its entry not read yet */
typedef struct {
    ngx_str_t                   id;
    ngx_http_live_record_dir_t *dir;
    uint64_t                    start_ms;       /* from the id */
} ngx_http_live_record_cand_t;


/* one index entry: INDEX/APP/STREAM/ID.json */
typedef struct {
    ngx_str_t                   id;
    ngx_str_t                   app;
    ngx_str_t                   stream;
    u_char                     *file;           /* null-terminated */
    uint64_t                    start_ms;
    cJSON                      *json;           /* freed with the pool */
} ngx_http_live_record_entry_t;


/*
 * With a request, pool is NULL: the thread gets a pool of its own that
 * lives as long as the request.  Without, the caller's pool is the
 * thread's until done is called.
 */
ngx_http_live_record_thread_t *ngx_http_live_record_thread(
    ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_http_live_record_thread_pt handler,
    ngx_http_live_record_thread_done_pt done, void *data);

/* NGX_OK: posted */
ngx_int_t ngx_http_live_record_thread_post(ngx_http_live_record_thread_t *t,
    ngx_str_t *app);

/* for a request: NGX_DONE with the task posted, else the error sent */
ngx_int_t ngx_http_live_record_thread_run(ngx_http_live_record_thread_t *t,
    ngx_str_t *app);

/*
 * In a thread.  The stream directories (of APP, of STREAM, if given:
 * empty strings for all), pushed onto dirs; their ids onto cands.
 */
ngx_int_t ngx_http_live_record_index_dirs(ngx_pool_t *pool,
    ngx_str_t *index, ngx_str_t *app, ngx_str_t *stream, ngx_array_t *dirs,
    ngx_log_t *log);
ngx_int_t ngx_http_live_record_index_ids(ngx_pool_t *pool,
    ngx_http_live_record_dir_t *dir, ngx_array_t *cands, ngx_log_t *log);
void ngx_http_live_record_index_sort(ngx_array_t *cands);
u_char *ngx_http_live_record_entry_path(ngx_pool_t *pool,
    ngx_http_live_record_dir_t *dir, ngx_str_t *id);

/* in a thread: an entry, read whole; NULL (logged) if it is not JSON */
cJSON *ngx_http_live_record_read_entry(u_char *path, ngx_log_t *log);

/* in a thread: NGX_OK, NGX_DECLINED when there is no such entry */
ngx_int_t ngx_http_live_record_index_find(ngx_pool_t *pool,
    ngx_str_t *index, ngx_str_t *id, ngx_http_live_record_entry_t *e,
    ngx_log_t *log);

/* in a thread: a session's entries (of APP/STREAM if given), by time */
ngx_int_t ngx_http_live_record_index_session(ngx_pool_t *pool,
    ngx_str_t *index, ngx_str_t *session, ngx_str_t *app, ngx_str_t *stream,
    ngx_array_t *entries, ngx_log_t *log);

/* -1, 0, 1 as the ids sort: by start time, then by the rest */
ngx_int_t ngx_http_live_record_id_cmp(ngx_str_t *a, ngx_str_t *b);

/* a string member of an entry, not copied */
ngx_int_t ngx_http_live_record_entry_str(cJSON *o, const char *name,
    ngx_str_t *value);

/* a pool cleanup: data is the address of a cJSON * to free if set */
void ngx_http_live_record_json_cleanup(void *data);

/* the recording application whose store has that name */
ngx_live_record_app_conf_t *ngx_http_live_record_store_app(
    ngx_cycle_t *cycle, ngx_str_t *app, ngx_str_t *store);


#endif /* _NGX_HTTP_LIVE_RECORD_INDEX_H_INCLUDED_ */
