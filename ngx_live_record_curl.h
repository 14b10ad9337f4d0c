
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_CURL_H_INCLUDED_
#define _NGX_LIVE_RECORD_CURL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <curl/curl.h>


/*
 * HTTP transfers run by the nginx event loop: the libcurl multi socket
 * interface, its sockets watched by nginx connections, its timer an nginx
 * timer.  One ngx_live_record_curl_t per worker, created in init_process
 * and freed by the cycle pool.  One ngx_live_record_request_t per
 * transfer, owned by the pool it is created from.
 *
 * The driver logs no transfer failures itself: the done handler sees rc,
 * status and error and says what failed in its own terms.
 */


typedef struct ngx_live_record_curl_s      ngx_live_record_curl_t;
typedef struct ngx_live_record_request_s   ngx_live_record_request_t;

typedef void (*ngx_live_record_request_done_pt)(ngx_live_record_request_t *r);


struct ngx_live_record_request_s {
    /* set by the caller before start */

    ngx_str_t                         method;     /* GET (empty), HEAD, POST,
                                                     PUT, DELETE, other */
    ngx_str_t                         url;
    ngx_array_t                      *headers;    /* of ngx_str_t
                                                     "Name: value", or NULL */
    ngx_str_t                         body;       /* must stay valid until
                                                     the handler or cancel */
    u_char                           *file;       /* null-terminated path of
                                                     the body, instead */
    off_t                             file_offset;
    off_t                             file_length;  /* -1: to the end */
    ngx_msec_t                        timeout;      /* whole transfer,
                                                       0: none */
    ngx_msec_t                        connect_timeout;  /* 0: curl's 300s */
    ngx_str_t                         aws_sigv4;  /* "aws:amz:REGION:s3",
                                                     empty: off */
    ngx_str_t                         userpwd;    /* "KEY:SECRET", not
                                                     logged */
    size_t                            max_response;  /* 0: 64k */
    ngx_live_record_request_done_pt   handler;
    void                             *data;
    ngx_log_t                        *log;        /* NULL: the pool's log */

    /* set by the driver when the handler is called */

    ngx_int_t                         rc;         /* NGX_OK: a response
                                                     arrived, NGX_ERROR: no */
    long                              status;     /* 0 if none */
    ngx_str_t                         response;   /* up to max_response */
    ngx_str_t                         response_headers;  /* status line and
                                                     headers of the final
                                                     response, up to 16k */
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
    unsigned                          file_short:1;
};


ngx_live_record_curl_t *ngx_live_record_curl_create(ngx_cycle_t *cycle);
ngx_uint_t ngx_live_record_curl_active(ngx_live_record_curl_t *curl);

ngx_live_record_request_t *ngx_live_record_request_create(ngx_pool_t *pool);
ngx_int_t ngx_live_record_request_start(ngx_live_record_curl_t *curl,
    ngx_live_record_request_t *r);
void ngx_live_record_request_cancel(ngx_live_record_request_t *r);


#endif /* _NGX_LIVE_RECORD_CURL_H_INCLUDED_ */
