
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_S3_H_INCLUDED_
#define _NGX_LIVE_RECORD_S3_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The S3 protocol's own bytes, away from the event loop's state: replies
 * parsed with libxml2, the CompleteMultipartUpload body, content types
 * and part ETags.  Nothing here logs or does I/O but
 * ngx_live_record_s3_md5_parts(), which reads a file (in a thread).
 */


#define NGX_LIVE_RECORD_S3_OTHER         0
#define NGX_LIVE_RECORD_S3_ERROR         1
#define NGX_LIVE_RECORD_S3_INITIATE      2
#define NGX_LIVE_RECORD_S3_COMPLETE      3
#define NGX_LIVE_RECORD_S3_LIST_PARTS    4
#define NGX_LIVE_RECORD_S3_LIST_UPLOADS  5

#define NGX_LIVE_RECORD_S3_MAX_PARTS     10000


typedef struct {
    ngx_uint_t                  number;
    ngx_str_t                   etag;           /* as sent, quotes too */
    off_t                       size;
} ngx_live_record_s3_part_t;


typedef struct {
    ngx_str_t                   key;
    ngx_str_t                   upload_id;
} ngx_live_record_s3_upload_t;


typedef struct {
    ngx_uint_t                  type;
    ngx_str_t                   root;           /* the root element */
    ngx_str_t                   code;           /* <Error> */
    ngx_str_t                   message;
    ngx_str_t                   upload_id;      /* Initiate */
    ngx_str_t                   etag;           /* Complete */
    ngx_array_t                 parts;          /* ListParts: s3_part_t */
    ngx_array_t                 uploads;        /* s3_upload_t */
    ngx_uint_t                  truncated;
    ngx_uint_t                  next_part;      /* NextPartNumberMarker */
    ngx_str_t                   next_key;       /* NextKeyMarker */
    ngx_str_t                   next_upload;    /* NextUploadIdMarker */
} ngx_live_record_s3_reply_t;


/* NGX_ERROR: not well-formed XML, or a field out of range */
ngx_int_t ngx_live_record_s3_parse(ngx_pool_t *pool, u_char *text,
    size_t len, ngx_live_record_s3_reply_t *rp);

/* parts: s3_part_t, ascending */
ngx_int_t ngx_live_record_s3_complete_body(ngx_pool_t *pool,
    ngx_array_t *parts, ngx_str_t *body);

/* a response header's value, from the status line and headers */
ngx_int_t ngx_live_record_s3_header(ngx_str_t *headers, const char *name,
    ngx_str_t *value);

const char *ngx_live_record_s3_content_type(ngx_str_t *key);

/* an ETag ("HEX", quotes optional) against an MD5 */
ngx_uint_t ngx_live_record_s3_etag_is(ngx_str_t *etag, u_char *md5);

/* CompleteMultipartUpload's ETag: MD5 of the parts' MD5s, "-N" */
void ngx_live_record_s3_multipart_md5(u_char *md5s, ngx_uint_t n,
    u_char *md5);

/* blocking: the MD5 of each part_size piece of a file of size bytes */
ngx_int_t ngx_live_record_s3_md5_parts(u_char *path, off_t size,
    off_t part_size, u_char *md5s, ngx_err_t *err);


#endif /* _NGX_LIVE_RECORD_S3_H_INCLUDED_ */
