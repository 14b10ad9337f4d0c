
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_upload.h"
#include "ngx_live_record_s3.h"


/*
 * An S3 multipart upload of one file above part_size, request by request:
 *
 *   the MD5 of each part, read in the thread pool: each UploadPart's ETag
 *   must be it, and a resumed upload keeps only the parts that match;
 *   after a restart, ListMultipartUploads for the key: an upload found is
 *   resumed, any other one aborted;
 *   CreateMultipartUpload, unless one is resumed;
 *   ListParts when an upload goes on (a retry, a restart): the parts there
 *   with the local MD5 count as sent; one that cannot belong to this file
 *   (a number or size the file does not have) means the upload cannot be
 *   resumed: it is aborted and a new one started;
 *   UploadPart for each part still missing, in order;
 *   CompleteMultipartUpload with every part and its ETag, ascending; a 200
 *   with an <Error> is a failure.
 *
 * A failure keeps the upload for the next attempt; giving up aborts it.
 */


#define NGX_LIVE_RECORD_MP_LIST_UPLOADS  1
#define NGX_LIVE_RECORD_MP_ABORT         2
#define NGX_LIVE_RECORD_MP_INITIATE      3
#define NGX_LIVE_RECORD_MP_LIST_PARTS    4
#define NGX_LIVE_RECORD_MP_PART          5
#define NGX_LIVE_RECORD_MP_COMPLETE      6


static void ngx_live_record_multipart_hash(ngx_live_record_upload_t *u);
#if (NGX_THREADS)
static void ngx_live_record_multipart_hash_thread(void *data, ngx_log_t *log);
static void ngx_live_record_multipart_hash_done(ngx_event_t *ev);
#endif
static void ngx_live_record_multipart_hashed(ngx_live_record_upload_t *u);
static void ngx_live_record_multipart_send(ngx_live_record_upload_t *u,
    ngx_uint_t op, const char *method, ngx_str_t *query, ngx_str_t *body);
static ngx_int_t ngx_live_record_multipart_bucket_url(
    ngx_live_record_upload_t *u, ngx_live_record_request_t *r,
    ngx_str_t *query);
static ngx_int_t ngx_live_record_multipart_reply(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r, u_char *why, size_t size);
static ngx_int_t ngx_live_record_multipart_uploads(
    ngx_live_record_upload_t *u, ngx_live_record_s3_reply_t *rp);
static ngx_int_t ngx_live_record_multipart_parts(ngx_live_record_upload_t *u,
    ngx_live_record_s3_reply_t *rp, u_char *why, size_t size);
static ngx_int_t ngx_live_record_multipart_part(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r, u_char *why, size_t size);
static ngx_int_t ngx_live_record_multipart_complete(
    ngx_live_record_upload_t *u, ngx_live_record_s3_reply_t *rp, u_char *why,
    size_t size);
static void ngx_live_record_multipart_drop(ngx_live_record_upload_t *u,
    ngx_uint_t abort);
static off_t ngx_live_record_multipart_size(ngx_live_record_upload_t *u,
    ngx_uint_t i);
static u_char *ngx_live_record_multipart_query(ngx_live_record_upload_t *u,
    ngx_str_t *query, size_t len);


void
ngx_live_record_multipart_step(ngx_live_record_upload_t *u)
{
    u_char                         *p;
    ngx_str_t                       query, body, *id, prefix, km, um;
    ngx_uint_t                      i;
    ngx_live_record_s3_part_t      *part;
    ngx_array_t                     parts;
    ngx_live_record_multipart_t    *mp;
    ngx_live_record_upload_file_t  *uf;

    mp = &u->mp;
    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;

    if (mp->md5s == NULL) {
        ngx_live_record_multipart_hash(u);
        return;
    }

    if (mp->stale.nelts) {
        id = (ngx_str_t *) mp->stale.elts + mp->stale.nelts - 1;

        if (ngx_live_record_multipart_query(u, &query,
                                            sizeof("uploadId=") + id->len)
            == NULL)
        {
            return;
        }

        query.len = ngx_sprintf(query.data, "uploadId=%V", id) - query.data;
        ngx_live_record_multipart_send(u, NGX_LIVE_RECORD_MP_ABORT, "DELETE",
                                       &query, NULL);
        return;
    }

    if (u->loaded && !mp->listed) {

        /* the key as a query value: its slashes encoded too */

        prefix.data = ngx_pnalloc(u->pool, 3 * uf->key.len);
        if (prefix.data == NULL) {
            ngx_live_record_upload_failed(u, (u_char *) "out of memory");
            return;
        }

        prefix.len = 0;

        for (i = 0; i < uf->key.len; i++) {
            if (uf->key.data[i] == '/') {
                prefix.len = ngx_cpymem(prefix.data + prefix.len, "%2F", 3)
                             - prefix.data;

            } else {
                prefix.data[prefix.len++] = uf->key.data[i];
            }
        }

        if (ngx_live_record_multipart_query(u, &query,
                 sizeof("key-marker=&prefix=&upload-id-marker=&uploads=")
                 + prefix.len + 3 * mp->key_marker.len
                 + 3 * mp->upload_marker.len)
            == NULL)
        {
            return;
        }

        /* canonical order */

        query.len = 0;

        if (ngx_live_record_uri_encode(u->pool, &mp->key_marker, 0, &km)
            == NULL
            || ngx_live_record_uri_encode(u->pool, &mp->upload_marker, 0,
                                          &um)
               == NULL)
        {
            ngx_live_record_upload_failed(u, (u_char *) "out of memory");
            return;
        }

        p = query.data;

        if (km.len) {
            p = ngx_sprintf(p, "key-marker=%V&", &km);
        }

        p = ngx_sprintf(p, "prefix=%V&", &prefix);

        if (um.len) {
            p = ngx_sprintf(p, "upload-id-marker=%V&", &um);
        }

        p = ngx_cpymem(p, "uploads=", sizeof("uploads=") - 1);
        query.len = p - query.data;

        ngx_live_record_multipart_send(u, NGX_LIVE_RECORD_MP_LIST_UPLOADS,
                                       "GET", &query, NULL);
        return;
    }

    if (mp->upload_id.len == 0) {
        ngx_str_set(&query, "uploads=");
        ngx_live_record_multipart_send(u, NGX_LIVE_RECORD_MP_INITIATE, "POST",
                                       &query, NULL);
        return;
    }

    if (!mp->synced) {
        if (ngx_live_record_multipart_query(u, &query,
                 sizeof("max-parts=1000&part-number-marker=&uploadId=")
                 + NGX_INT_T_LEN + mp->upload_id.len)
            == NULL)
        {
            return;
        }

        query.len = ngx_sprintf(query.data, "max-parts=1000&"
                                "part-number-marker=%ui&uploadId=%V",
                                mp->marker, &mp->upload_id)
                    - query.data;

        ngx_live_record_multipart_send(u, NGX_LIVE_RECORD_MP_LIST_PARTS,
                                       "GET", &query, NULL);
        return;
    }

    for (i = 0; i < mp->nparts; i++) {
        if (mp->etags[i].len == 0) {
            break;
        }
    }

    if (i < mp->nparts) {
        if (ngx_live_record_multipart_query(u, &query,
                                            sizeof("partNumber=&uploadId=")
                                            + NGX_INT_T_LEN
                                            + mp->upload_id.len)
            == NULL)
        {
            return;
        }

        query.len = ngx_sprintf(query.data, "partNumber=%ui&uploadId=%V",
                                i + 1, &mp->upload_id)
                    - query.data;

        mp->op_part = i;
        ngx_live_record_multipart_send(u, NGX_LIVE_RECORD_MP_PART, "PUT",
                                       &query, NULL);
        return;
    }

    if (ngx_array_init(&parts, u->pool, mp->nparts,
                       sizeof(ngx_live_record_s3_part_t))
        != NGX_OK
        || ngx_live_record_multipart_query(u, &query, sizeof("uploadId=")
                                                      + mp->upload_id.len)
           == NULL)
    {
        ngx_live_record_upload_failed(u, (u_char *) "out of memory");
        return;
    }

    for (i = 0; i < mp->nparts; i++) {
        part = ngx_array_push(&parts);
        part->number = i + 1;
        part->etag = mp->etags[i];
        part->size = ngx_live_record_multipart_size(u, i);
    }

    if (ngx_live_record_s3_complete_body(u->pool, &parts, &body) != NGX_OK) {
        ngx_live_record_upload_failed(u, (u_char *) "out of memory");
        return;
    }

    query.len = ngx_sprintf(query.data, "uploadId=%V", &mp->upload_id)
                - query.data;

    ngx_live_record_multipart_send(u, NGX_LIVE_RECORD_MP_COMPLETE, "POST",
                                   &query, &body);
}


static u_char *
ngx_live_record_multipart_query(ngx_live_record_upload_t *u, ngx_str_t *query,
    size_t len)
{
    query->len = 0;
    query->data = ngx_pnalloc(u->pool, len);

    if (query->data == NULL) {
        ngx_live_record_upload_failed(u, (u_char *) "out of memory");
    }

    return query->data;
}


static void
ngx_live_record_multipart_send(ngx_live_record_upload_t *u, ngx_uint_t op,
    const char *method, ngx_str_t *query, ngx_str_t *body)
{
    ngx_live_record_request_t      *r;
    ngx_live_record_upload_file_t  *uf;

    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;

    r = ngx_live_record_upload_request(u, method, query, body);

    if (r && op == NGX_LIVE_RECORD_MP_LIST_UPLOADS
        && ngx_live_record_multipart_bucket_url(u, r, query) != NGX_OK)
    {
        r = NULL;
    }

    if (r == NULL) {
        ngx_live_record_upload_failed(u, (u_char *) "out of memory");
        return;
    }

    if (op == NGX_LIVE_RECORD_MP_PART) {
        r->file = uf->path;
        r->file_offset = (off_t) u->mp.op_part * u->store->part_size;
        r->file_length = ngx_live_record_multipart_size(u, u->mp.op_part);
    }

    if (op == NGX_LIVE_RECORD_MP_LIST_PARTS) {
        /* a thousand parts' entries */
        r->max_response = 1024 * 1024;
    }

    u->mp.op = op;

    ngx_live_record_upload_start(u, r);
}


/* ListMultipartUploads is the bucket's */

static ngx_int_t
ngx_live_record_multipart_bucket_url(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r, ngx_str_t *query)
{
    u_char                   *p;
    ngx_live_record_store_t  *st;

    st = u->store;

    p = ngx_pnalloc(u->pool, st->endpoint.len + st->bucket.len + query->len
                             + 3);
    if (p == NULL) {
        return NGX_ERROR;
    }

    r->url.data = p;
    p = ngx_cpymem(p, st->endpoint.data, st->endpoint.len);
    *p++ = '/';
    p = ngx_cpymem(p, st->bucket.data, st->bucket.len);
    *p++ = '?';
    p = ngx_cpymem(p, query->data, query->len);
    r->url.len = p - r->url.data;

    return NGX_OK;
}


/* each part's MD5, in the thread pool: a part is a read of part_size */

static void
ngx_live_record_multipart_hash(ngx_live_record_upload_t *u)
{
#if (NGX_THREADS)
    ngx_thread_task_t              *task;
#endif
    off_t                           part_size;
    ngx_live_record_multipart_t    *mp;
    ngx_live_record_upload_file_t  *uf;

    mp = &u->mp;
    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;
    part_size = (off_t) u->store->part_size;

    mp->nparts = (ngx_uint_t) ((uf->size + part_size - 1) / part_size);

    if (mp->nparts > NGX_LIVE_RECORD_S3_MAX_PARTS) {
        ngx_live_record_upload_failed(u, (u_char *) "more than 10000 parts: "
                                      "part_size= is too small");
        return;
    }

    mp->md5s = ngx_pnalloc(u->pool, 16 * mp->nparts);
    mp->etags = ngx_pcalloc(u->pool, mp->nparts * sizeof(ngx_str_t));

    if (mp->md5s == NULL || mp->etags == NULL) {
        mp->md5s = NULL;
        ngx_live_record_upload_failed(u, (u_char *) "out of memory");
        return;
    }

#if (NGX_THREADS)

    if (u->store->thread_pool) {
        task = ngx_thread_task_alloc(u->pool, 0);

        if (task) {
            task->ctx = u;
            task->handler = ngx_live_record_multipart_hash_thread;
            task->event.handler = ngx_live_record_multipart_hash_done;
            task->event.data = u;
            task->event.log = ngx_cycle->log;

            mp->hashing = 1;

            if (ngx_live_record_post(u->store->thread_pool, task) == NGX_OK) {
                return;
            }

            mp->hashing = 0;
        }
    }

#endif

    mp->hash_rc = ngx_live_record_s3_md5_parts(uf->path, uf->size, part_size,
                                               mp->md5s, &mp->err);

    ngx_live_record_multipart_hashed(u);
}


#if (NGX_THREADS)

static void
ngx_live_record_multipart_hash_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_upload_t *u = data;

    ngx_live_record_upload_file_t  *uf;

    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;

    u->mp.hash_rc = ngx_live_record_s3_md5_parts(uf->path, uf->size,
                                                 (off_t) u->store->part_size,
                                                 u->mp.md5s, &u->mp.err);
}


static void
ngx_live_record_multipart_hash_done(ngx_event_t *ev)
{
    ngx_live_record_upload_t *u = ev->data;

    u->mp.hashing = 0;

    ngx_live_record_multipart_hashed(u);
}

#endif


static void
ngx_live_record_multipart_hashed(ngx_live_record_upload_t *u)
{
    u_char                          why[NGX_MAX_ERROR_STR], *p;
    ngx_live_record_upload_file_t  *uf;

    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;

    if (u->mp.hash_rc != NGX_OK) {
        u->mp.md5s = NULL;

        p = ngx_snprintf(why, sizeof(why) - 1, "\"%s\" cannot be read (",
                         uf->path);

        if (u->mp.err) {
            p = ngx_strerror(u->mp.err, p, why + sizeof(why) - 2 - p);

        } else {
            p = ngx_snprintf(p, why + sizeof(why) - 2 - p,
                             "shorter than %O bytes", uf->size);
        }

        *ngx_snprintf(p, why + sizeof(why) - 1 - p, ")") = '\0';

        ngx_live_record_upload_failed(u, why);
        return;
    }

    ngx_live_record_upload_step(u);
}


ngx_int_t
ngx_live_record_multipart_done(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r)
{
    u_char                        why[NGX_MAX_ERROR_STR];
    ngx_int_t                     rc;
    ngx_str_t                    *id;
    ngx_live_record_multipart_t  *mp;

    mp = &u->mp;

    if (mp->giving_up) {
        /* whatever the abort's answer: one try, then the job ends */
        id = (ngx_str_t *) mp->stale.elts + mp->stale.nelts - 1;

        if (r->rc == NGX_OK
            && ((r->status >= 200 && r->status < 300) || r->status == 404))
        {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "live record: \"%V\" upload of %V: multipart "
                          "upload \"%V\" aborted", &u->label, &u->file_id,
                          id);

        } else {
            ngx_live_record_upload_why(why, sizeof(why), r);
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "live record: \"%V\" upload of %V: multipart "
                          "upload \"%V\" not aborted (%s), it stays "
                          "incomplete in the bucket", &u->label,
                          &u->file_id, id, why);
        }

        mp->stale.nelts--;
        mp->op = 0;

        if (mp->stale.nelts) {
            mp->giving_up = 0;

            if (ngx_live_record_multipart_give_up(u, mp->why) == NGX_AGAIN) {
                return NGX_OK;
            }
        }

        ngx_live_record_upload_give_up(u, mp->why);
        return NGX_OK;
    }

    rc = ngx_live_record_multipart_reply(u, r, why, sizeof(why));

    mp->op = 0;

    if (rc == NGX_ERROR) {
        ngx_live_record_upload_failed(u, why);
        return NGX_OK;
    }

    if (rc == NGX_DONE) {
        ngx_live_record_upload_next(u);
    }

    ngx_live_record_upload_step(u);

    return NGX_OK;
}


/*
 * NGX_OK: go on, NGX_DONE: the file is complete, NGX_ERROR: a failure,
 * said in why.
 */

static ngx_int_t
ngx_live_record_multipart_reply(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r, u_char *why, size_t size)
{
    ngx_str_t                     id;
    ngx_int_t                     rc;
    ngx_uint_t                    ok;
    ngx_live_record_s3_reply_t    rp;
    ngx_live_record_multipart_t  *mp;

    mp = &u->mp;

    ok = (r->rc == NGX_OK && r->status >= 200 && r->status < 300);

    if (!ok) {
        ngx_live_record_upload_why(why, size, r);

        if (r->rc != NGX_OK
            || ngx_live_record_s3_parse(u->pool, r->response.data,
                                        r->response.len, &rp)
               != NGX_OK
            || rp.type != NGX_LIVE_RECORD_S3_ERROR
            || rp.code.len != sizeof("NoSuchUpload") - 1
            || ngx_strncmp(rp.code.data, "NoSuchUpload",
                           sizeof("NoSuchUpload") - 1) != 0)
        {
            return NGX_ERROR;
        }

        /* the upload is gone: nothing to abort, a new one starts */

        if (mp->op == NGX_LIVE_RECORD_MP_ABORT) {
            mp->stale.nelts--;
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "live record: \"%V\" upload of %V: multipart upload "
                      "\"%V\" is gone (%s), starting over", &u->label,
                      &u->file_id, &mp->upload_id, why);

        ngx_live_record_multipart_drop(u, 0);

        return (mp->op == NGX_LIVE_RECORD_MP_LIST_PARTS) ? NGX_OK : NGX_ERROR;
    }

    switch (mp->op) {

    case NGX_LIVE_RECORD_MP_ABORT:
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: \"%V\" upload of %V: multipart upload "
                      "\"%V\" aborted", &u->label, &u->file_id,
                      (ngx_str_t *) mp->stale.elts + mp->stale.nelts - 1);
        mp->stale.nelts--;
        return NGX_OK;

    case NGX_LIVE_RECORD_MP_PART:
        return ngx_live_record_multipart_part(u, r, why, size);

    default:
        break;
    }

    rc = ngx_live_record_s3_parse(u->pool, r->response.data, r->response.len,
                                  &rp);

    if (rc != NGX_OK) {
        *ngx_snprintf(why, size - 1, "status %l: the reply is not S3's XML",
                      r->status) = '\0';
        return NGX_ERROR;
    }

    switch (mp->op) {

    case NGX_LIVE_RECORD_MP_LIST_UPLOADS:
        if (rp.type != NGX_LIVE_RECORD_S3_LIST_UPLOADS) {
            break;
        }

        return ngx_live_record_multipart_uploads(u, &rp);

    case NGX_LIVE_RECORD_MP_INITIATE:
        if (rp.type != NGX_LIVE_RECORD_S3_INITIATE) {
            break;
        }

        if (ngx_live_record_uri_encode(u->pool, &rp.upload_id, 0, &id)
            == NULL)
        {
            return NGX_ERROR;
        }

        mp->upload_id = id;
        mp->synced = 1;

        ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ngx_cycle->log, 0,
                       "live record: \"%V\" %V: multipart upload \"%V\"",
                       &u->label, &u->file_id, &id);
        return NGX_OK;

    case NGX_LIVE_RECORD_MP_LIST_PARTS:
        if (rp.type != NGX_LIVE_RECORD_S3_LIST_PARTS) {
            break;
        }

        return ngx_live_record_multipart_parts(u, &rp, why, size);

    case NGX_LIVE_RECORD_MP_COMPLETE:
        return ngx_live_record_multipart_complete(u, &rp, why, size);
    }

    *ngx_snprintf(why, size - 1, "status %l: unexpected reply <%V>",
                  r->status, &rp.root) = '\0';

    return NGX_ERROR;
}


/* after a restart: the upload of this key to resume, the others to abort */

static ngx_int_t
ngx_live_record_multipart_uploads(ngx_live_record_upload_t *u,
    ngx_live_record_s3_reply_t *rp)
{
    ngx_str_t                      *id, key, enc;
    ngx_uint_t                      i;
    ngx_live_record_s3_upload_t    *up;
    ngx_live_record_multipart_t    *mp;
    ngx_live_record_upload_file_t  *uf;

    mp = &u->mp;
    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;
    up = rp->uploads.elts;

    for (i = 0; i < rp->uploads.nelts; i++) {
        if (ngx_live_record_uri_encode(u->pool, &up[i].key, 1, &key) == NULL
            || ngx_live_record_uri_encode(u->pool, &up[i].upload_id, 0, &enc)
               == NULL)
        {
            return NGX_ERROR;
        }

        if (key.len != uf->key.len
            || ngx_strncmp(key.data, uf->key.data, key.len) != 0)
        {
            continue;
        }

        if (mp->upload_id.len == 0) {
            mp->upload_id = enc;
            mp->synced = 0;
            continue;
        }

        id = ngx_array_push(&mp->stale);
        if (id == NULL) {
            return NGX_ERROR;
        }

        *id = enc;
    }

    if (rp->truncated && (rp->next_key.len || rp->next_upload.len)) {
        mp->key_marker = rp->next_key;
        mp->upload_marker = rp->next_upload;
        return NGX_OK;
    }

    mp->listed = 1;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "live record: \"%V\" upload of %V: %s multipart upload of "
                  "\"%V\" to resume, %ui to abort", &u->label, &u->file_id,
                  mp->upload_id.len ? "a" : "no", &uf->key,
                  mp->stale.nelts);

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_multipart_parts(ngx_live_record_upload_t *u,
    ngx_live_record_s3_reply_t *rp, u_char *why, size_t size)
{
    ngx_uint_t                      i, n;
    ngx_live_record_s3_part_t      *part;
    ngx_live_record_multipart_t    *mp;
    ngx_live_record_upload_file_t  *uf;

    mp = &u->mp;
    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;
    part = rp->parts.elts;

    if (mp->marker == 0) {
        /* what the server says replaces what was known */
        ngx_memzero(mp->etags, mp->nparts * sizeof(ngx_str_t));
        mp->found = 0;
    }

    for (i = 0; i < rp->parts.nelts; i++) {
        n = part[i].number - 1;

        if (n >= mp->nparts
            || part[i].size != ngx_live_record_multipart_size(u, n))
        {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "live record: \"%V\" upload of %V: multipart "
                          "upload \"%V\" has a part %ui of %O bytes, not "
                          "one of \"%s\" in parts of %uz: it cannot be "
                          "resumed, aborted", &u->label, &u->file_id,
                          &mp->upload_id, part[i].number, part[i].size,
                          uf->path, u->store->part_size);

            ngx_live_record_multipart_drop(u, 1);
            return NGX_OK;
        }

        if (!ngx_live_record_s3_etag_is(&part[i].etag, mp->md5s + 16 * n)) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "live record: \"%V\" upload of %V: part %ui of "
                          "\"%V\" has ETag %V, not the local MD5: sent "
                          "again", &u->label, &u->file_id, part[i].number,
                          &uf->key, &part[i].etag);
            continue;
        }

        if (mp->etags[n].len == 0) {
            mp->found++;
        }

        mp->etags[n] = part[i].etag;
    }

    if (rp->truncated && rp->next_part > mp->marker) {
        mp->marker = rp->next_part;
        return NGX_OK;
    }

    mp->marker = 0;
    mp->synced = 1;

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "live record: \"%V\" upload of %V: multipart upload \"%V\" "
                  "of \"%V\" goes on: %ui of %ui parts are there",
                  &u->label, &u->file_id, &mp->upload_id, &uf->key,
                  mp->found, mp->nparts);

    return NGX_OK;
}


/* UploadPart: the ETag S3 answers is the MD5 of what it stored */

static ngx_int_t
ngx_live_record_multipart_part(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r, u_char *why, size_t size)
{
    ngx_str_t                     etag;
    ngx_uint_t                    n;
    ngx_live_record_multipart_t  *mp;

    mp = &u->mp;
    n = mp->op_part;

    if (ngx_live_record_s3_header(&r->response_headers, "ETag", &etag)
        != NGX_OK)
    {
        *ngx_snprintf(why, size - 1, "part %ui: no ETag in the reply",
                      n + 1) = '\0';
        return NGX_ERROR;
    }

    if (!ngx_live_record_s3_etag_is(&etag, mp->md5s + 16 * n)) {
        *ngx_snprintf(why, size - 1, "part %ui: ETag %*s is not the MD5 of "
                      "the part sent", n + 1, ngx_min(etag.len, 100),
                      etag.data) = '\0';
        return NGX_ERROR;
    }

    mp->etags[n].data = ngx_pnalloc(u->pool, etag.len);
    if (mp->etags[n].data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(mp->etags[n].data, etag.data, etag.len);
    mp->etags[n].len = etag.len;
    mp->sent++;

    return NGX_OK;
}


/* a 200 may carry an <Error>: then the parts are looked at again */

static ngx_int_t
ngx_live_record_multipart_complete(ngx_live_record_upload_t *u,
    ngx_live_record_s3_reply_t *rp, u_char *why, size_t size)
{
    u_char                          md5[16], hex[64], *p;
    ngx_str_t                       etag;
    ngx_live_record_multipart_t    *mp;
    ngx_live_record_upload_file_t  *uf;

    mp = &u->mp;
    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;

    if (rp->type == NGX_LIVE_RECORD_S3_ERROR) {
        *ngx_snprintf(why, size - 1, "status 200 %V: %*s", &rp->code,
                      ngx_min(rp->message.len, 300), rp->message.data)
            = '\0';

        if (rp->code.len == sizeof("NoSuchUpload") - 1
            && ngx_strncmp(rp->code.data, "NoSuchUpload",
                           sizeof("NoSuchUpload") - 1) == 0)
        {
            ngx_live_record_multipart_drop(u, 0);
        }

        return NGX_ERROR;
    }

    if (rp->type != NGX_LIVE_RECORD_S3_COMPLETE) {
        *ngx_snprintf(why, size - 1, "status 200: unexpected reply <%V>",
                      &rp->root) = '\0';
        return NGX_ERROR;
    }

    /* S3's ETag of a multipart object: the MD5 of its parts' MD5s, "-N" */

    ngx_live_record_s3_multipart_md5(mp->md5s, mp->nparts, md5);
    p = ngx_hex_dump(hex, md5, 16);
    p = ngx_sprintf(p, "-%ui", mp->nparts);

    etag = rp->etag;

    if (etag.len >= 2 && etag.data[0] == '"') {
        etag.data++;
        etag.len -= 2;
    }

    if (etag.len != (size_t) (p - hex)
        || ngx_strncasecmp(etag.data, hex, etag.len) != 0)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "live record: \"%V\" upload of %V: \"%V\" completed "
                      "with ETag %V, not %*s", &u->label, &u->file_id,
                      &uf->key, &rp->etag, p - hex, hex);
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "live record: \"%V\" upload of %V: \"%V\" complete, %ui "
                  "parts (%ui sent, %ui found there)", &u->label,
                  &u->file_id, &uf->key, mp->nparts, mp->sent, mp->found);

    return NGX_DONE;
}


/* the upload is no longer used: aborted first if it may still exist */

static void
ngx_live_record_multipart_drop(ngx_live_record_upload_t *u, ngx_uint_t abort)
{
    ngx_str_t                    *id;
    ngx_live_record_multipart_t  *mp;

    mp = &u->mp;

    if (abort && mp->upload_id.len) {
        id = ngx_array_push(&mp->stale);
        if (id) {
            *id = mp->upload_id;
        }
    }

    ngx_str_null(&mp->upload_id);

    if (mp->etags) {
        /* none yet before the first part list (memset of NULL is UB) */
        ngx_memzero(mp->etags, mp->nparts * sizeof(ngx_str_t));
    }
    mp->synced = 0;
    mp->marker = 0;
    mp->found = 0;
}


/*
 * Giving up: the upload in progress and any left to abort are aborted,
 * one try each, before the job ends; NGX_DECLINED if there is none.
 */

ngx_int_t
ngx_live_record_multipart_give_up(ngx_live_record_upload_t *u, u_char *why)
{
    size_t                        len;
    ngx_str_t                     query, *id;
    ngx_live_record_request_t    *r;
    ngx_live_record_multipart_t  *mp;

    mp = &u->mp;

    if (mp->giving_up) {
        return NGX_DECLINED;
    }

    ngx_live_record_multipart_drop(u, 1);

    if (mp->stale.nelts == 0) {
        return NGX_DECLINED;
    }

    if (mp->why == NULL) {
        len = ngx_strlen(why) + 1;

        mp->why = ngx_pnalloc(u->pool, len);
        if (mp->why == NULL) {
            return NGX_DECLINED;
        }

        ngx_memcpy(mp->why, why, len);
    }

    id = (ngx_str_t *) mp->stale.elts + mp->stale.nelts - 1;

    query.data = ngx_pnalloc(u->pool, sizeof("uploadId=") + id->len);
    if (query.data == NULL) {
        return NGX_DECLINED;
    }

    query.len = ngx_sprintf(query.data, "uploadId=%V", id) - query.data;

    r = ngx_live_record_upload_request(u, "DELETE", &query, NULL);
    if (r == NULL) {
        return NGX_DECLINED;
    }

    mp->giving_up = 1;
    mp->op = NGX_LIVE_RECORD_MP_ABORT;
    u->req = r;

    if (ngx_live_record_request_start(u->lmcf->curl, r) != NGX_OK) {
        u->req = NULL;
        mp->op = 0;
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


static off_t
ngx_live_record_multipart_size(ngx_live_record_upload_t *u, ngx_uint_t i)
{
    off_t                           part_size, offset;
    ngx_live_record_upload_file_t  *uf;

    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;
    part_size = (off_t) u->store->part_size;
    offset = (off_t) i * part_size;

    return ngx_min(part_size, uf->size - offset);
}
