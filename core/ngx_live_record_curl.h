
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_CURL_H_INCLUDED_
#define _NGX_LIVE_RECORD_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <curl/curl.h>


/*
 * HTTP transfers run by the nginx event loop: the libcurl multi socket
 * interface, its sockets watched by nginx connections, its timer an nginx
 * timer.  One ngx_live_record_curl_t per worker, created in init_process
 * and freed with the cycle pool, which drops transfers still in flight
 * without calling their handlers.
 *
 * A request is created from a pool that owns it: destroying the pool
 * cancels the transfer.  Once start returns NGX_OK, the handler is called
 * exactly once, never from inside start, unless the request is cancelled
 * first.  The handler may start the request again (a retry) or destroy
 * its pool.  response and response_headers stay valid until the next
 * start or the pool's end; body and file until the handler or cancel.
 *
 * The driver logs no transfer failures: the handler sees rc, status and
 * error and says what failed in its own terms.
 */


typedef struct ngx_live_record_curl_s      ngx_live_record_curl_t;
typedef struct ngx_live_record_request_s   ngx_live_record_request_t;

typedef void (*ngx_live_record_request_done_pt)(ngx_live_record_request_t *r);


struct ngx_live_record_request_s {

    /*
     * Set by the caller before start.
     *
     * method: GET (or empty), HEAD, POST, PUT, DELETE or any other name.
     * POST sends body from memory, or the file; PUT reads either in
     * 64k chunks.  headers: an array of ngx_str_t "Name: value", or NULL.
     * file: a null-terminated path whose [file_offset, file_offset +
     * file_length) is the body; file_length <= 0 means to the end.
     * timeout: the whole transfer, 0 for none; connect_timeout 0 is
     * libcurl's 300s.  aws_sigv4 ("aws:amz:REGION:s3") turns on SigV4
     * with userpwd "KEY:SECRET"; for s3 an x-amz-content-sha256 header is
     * added unless the caller gives one: the body's hash, or
     * UNSIGNED-PAYLOAD for a file, and headers
     * with an empty value must not be given.  max_response: 0 is 64k.
     * log: NULL is the pool's log.
     */

    ngx_str_t                         method;
    ngx_str_t                         url;
    ngx_array_t                      *headers;
    ngx_str_t                         body;
    u_char                           *file;
    off_t                             file_offset;
    off_t                             file_length;
    ngx_msec_t                        timeout;
    ngx_msec_t                        connect_timeout;
    ngx_str_t                         aws_sigv4;
    ngx_str_t                         userpwd;
    size_t                            max_response;
    ngx_live_record_request_done_pt   handler;
    void                             *data;
    ngx_log_t                        *log;

    /*
     * Set when the handler is called.  rc: NGX_OK if an HTTP response
     * arrived, whatever its status; NGX_ERROR on a transport failure or
     * a timeout, with error saying which.  response: the body, cut at
     * max_response.  response_headers: the status line and headers of
     * the final response, cut at 16k.
     */

    ngx_int_t                         rc;
    long                              status;
    ngx_str_t                         response;
    ngx_str_t                         response_headers;
    u_char                            error[CURL_ERROR_SIZE];
    curl_off_t                        upload_bytes;

    /* private */

    ngx_pool_t                       *pool;
    ngx_live_record_curl_t           *curl;
    CURL                             *easy;
    struct curl_slist                *slist;
    ngx_queue_t                       queue;
    ngx_fd_t                          fd;
    off_t                             body_size;
    off_t                             body_sent;
    ngx_err_t                         file_err;
    size_t                            response_size;
    size_t                            headers_size;
    u_char                           *tmp;
    size_t                            tmp_size;

    unsigned                          active:1;
    unsigned                          failed:1;
    unsigned                          file_short:1;
};


ngx_live_record_curl_t *ngx_live_record_curl_create(ngx_cycle_t *cycle);
ngx_uint_t ngx_live_record_curl_active(ngx_live_record_curl_t *curl);

ngx_live_record_request_t *ngx_live_record_request_create(ngx_pool_t *pool);
ngx_int_t ngx_live_record_request_start(ngx_live_record_curl_t *curl,
    ngx_live_record_request_t *r);
void ngx_live_record_request_cancel(ngx_live_record_request_t *r);

/*
 * Without the driver, for a thread of the pool: r->easy set up as start
 * would (no file body), for the caller to run with curl_easy_perform;
 * release frees it.  See ngx_live_record_curl_get.c.
 */
ngx_int_t ngx_live_record_request_easy(ngx_live_record_request_t *r);
void ngx_live_record_request_release(ngx_live_record_request_t *r);

/*
 * In a thread of the pool, never on the event loop: r's GET (blocking),
 * the body of a 2xx answer written to path (created or truncated; removed
 * otherwise).  NGX_OK: written; else r->status and r->error say why.
 */
ngx_int_t ngx_live_record_request_download(ngx_live_record_request_t *r,
    u_char *path);


#endif /* _NGX_LIVE_RECORD_CURL_H_INCLUDED_ */
