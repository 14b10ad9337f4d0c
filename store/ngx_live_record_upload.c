
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_upload.h"
#include "ngx_live_record_s3.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_shm.h"


/*
 * Handoff to a remote store: an HTTP PUT per file, or S3 (SigV4 signed by
 * libcurl; multipart above one part's size).  A job is spooled before its
 * first attempt, retried with backoff, taken over after a restart, and
 * only when every file is confirmed does the part get its index entry and
 * its record_done event.
 */


#define NGX_LIVE_RECORD_BACKOFF_MIN   1000
#define NGX_LIVE_RECORD_BACKOFF_MAX   600000
#define NGX_LIVE_RECORD_INDEX_RETRY_MS  5000


static ngx_live_record_upload_t *ngx_live_record_upload_alloc(
    ngx_live_record_main_conf_t *lmcf, ngx_live_record_store_t *store);
static ngx_int_t ngx_live_record_upload_list(ngx_live_record_upload_t *u,
    ngx_live_record_delivery_t *d);
static ngx_int_t ngx_live_record_upload_add(ngx_live_record_upload_t *u,
    u_char *path, ngx_str_t *rel, off_t size);
static ngx_int_t ngx_live_record_upload_spool(ngx_live_record_upload_t *u);
static void ngx_live_record_upload_spool_thread(void *data, ngx_log_t *log);
static void ngx_live_record_upload_spooled(ngx_event_t *ev);
static ngx_int_t ngx_live_record_upload_headers(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r, ngx_str_t *body);
static void ngx_live_record_upload_done(ngx_live_record_request_t *r);
static void ngx_live_record_upload_reply(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r);
static void ngx_live_record_upload_retry(ngx_event_t *ev);
static void ngx_live_record_upload_finish(ngx_live_record_upload_t *u);
static void ngx_live_record_upload_index(ngx_live_record_upload_t *u);
static void ngx_live_record_upload_index_retry(ngx_event_t *ev);
static void ngx_live_record_upload_index_thread(void *data, ngx_log_t *log);
static void ngx_live_record_upload_indexed(ngx_event_t *ev);
static void ngx_live_record_upload_tidy_thread(void *data, ngx_log_t *log);
static void ngx_live_record_upload_tidied(ngx_event_t *ev);
static ngx_int_t ngx_live_record_upload_task(ngx_live_record_upload_t *u,
    void (*handler)(void *data, ngx_log_t *log), ngx_event_handler_pt done);
static void ngx_live_record_upload_end(ngx_live_record_upload_t *u);
static void ngx_live_record_upload_free(ngx_live_record_upload_t *u);
static void ngx_live_record_upload_cleanup(void *data);
static size_t ngx_live_record_trim_slash(ngx_str_t *s);


/*
 * On the event loop, once the file (or an hls recording's directory) is
 * in the store's local directory: a job that uploads it, then indexes it
 * and announces it.  The entry is copied.
 */

ngx_int_t
ngx_live_record_upload(ngx_live_record_delivery_t *d)
{
    size_t                     len;
    ngx_uint_t                 n;
    ngx_live_record_upload_t  *u;

    if (d->lmcf->curl == NULL) {
        /* notify did not start in this worker: nothing can be sent */
        return NGX_ERROR;
    }

    u = ngx_live_record_upload_alloc(d->lmcf, &d->lacf->store);
    if (u == NULL) {
        return NGX_ERROR;
    }

    len = ngx_strlen(d->event) + 1;

    u->keep_local = d->lacf->keep_local;
    u->event = ngx_pnalloc(u->pool, len);
    u->label.data = ngx_pstrdup(u->pool, d->label);
    u->label.len = d->label->len;
    u->file_id.data = ngx_pstrdup(u->pool, d->file_id);
    u->file_id.len = d->file_id->len;
    u->local = ngx_pnalloc(u->pool, ngx_strlen(d->local) + 1);
    u->entry = cJSON_Duplicate(d->entry, 1);

    if (u->event == NULL || u->label.data == NULL || u->file_id.data == NULL
        || u->local == NULL || u->entry == NULL)
    {
        goto failed;
    }

    ngx_memcpy(u->event, d->event, len);
    ngx_sprintf(u->local, "%s%Z", d->local);

    if (d->lacf->notify) {
        n = d->lacf->notify->nelts;

        if (ngx_array_push_n(&u->receivers, n) == NULL) {
            goto failed;
        }

        ngx_memcpy(u->receivers.elts, d->lacf->notify->elts,
                   n * sizeof(ngx_live_record_receiver_t *));
    }

    if (ngx_live_record_upload_list(u, d) != NGX_OK) {
        goto failed;
    }

    if (ngx_live_record_upload_spool(u) != NGX_OK) {
        u->spool_text.len = 0;
    }

    /* the part's sidecar goes once the spool file has taken over */

    if (d->release) {
        len = ngx_strlen(d->release) + 1;

        u->release = ngx_pnalloc(u->pool, len);
        if (u->release == NULL) {
            goto failed;
        }

        ngx_memcpy(u->release, d->release, len);

        d->release = NULL;
    }

    if (ngx_live_record_upload_task(u, ngx_live_record_upload_spool_thread,
                                    ngx_live_record_upload_spooled)
        != NGX_OK)
    {
        ngx_live_record_upload_spool_thread(u, ngx_cycle->log);
        ngx_live_record_upload_spooled(&u->retry);
    }

    return NGX_OK;

failed:

    ngx_live_record_upload_free(u);

    return NGX_ERROR;
}


/* an hls recording: its segments first, the playlist last */

static ngx_int_t
ngx_live_record_upload_list(ngx_live_record_upload_t *u,
    ngx_live_record_delivery_t *d)
{
    u_char      *path;
    ngx_str_t    rel;
    ngx_uint_t   i;

    if (!d->hls) {
        return ngx_live_record_upload_add(u, u->local, &d->rel, d->size);
    }

    for (i = 0; i <= d->segments; i++) {
        rel.data = ngx_pnalloc(u->pool, d->rel.len + NGX_INT_T_LEN + 16);
        path = ngx_pnalloc(u->pool, ngx_strlen(u->local) + NGX_INT_T_LEN
                                    + 16);

        if (rel.data == NULL || path == NULL) {
            return NGX_ERROR;
        }

        if (i < d->segments) {
            rel.len = ngx_sprintf(rel.data, "%V/%ui.ts", &d->rel, i)
                      - rel.data;
            ngx_sprintf(path, "%s/%ui.ts%Z", u->local, i);

        } else {
            rel.len = ngx_sprintf(rel.data, "%V/index.m3u8", &d->rel)
                      - rel.data;
            ngx_sprintf(path, "%s/index.m3u8%Z", u->local);
        }

        if (ngx_live_record_upload_add(u, path, &rel, -1) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_live_record_upload_t *
ngx_live_record_upload_alloc(ngx_live_record_main_conf_t *lmcf,
    ngx_live_record_store_t *store)
{
    ngx_pool_t                *pool;
    ngx_pool_cleanup_t        *cln;
    ngx_live_record_upload_t  *u;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    u = ngx_pcalloc(pool, sizeof(ngx_live_record_upload_t));
    cln = ngx_pool_cleanup_add(pool, 0);

    if (u == NULL || cln == NULL
        || ngx_array_init(&u->files, pool, 4,
                          sizeof(ngx_live_record_upload_file_t)) != NGX_OK
        || ngx_array_init(&u->receivers, pool, 2,
                          sizeof(ngx_live_record_receiver_t *)) != NGX_OK
        || ngx_array_init(&u->mp.stale, pool, 1, sizeof(ngx_str_t))
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    cln->handler = ngx_live_record_upload_cleanup;
    cln->data = u;

    u->pool = pool;
    u->lmcf = lmcf;
    u->store = store;
    u->event = "record_done";
    u->t = ngx_time();
    u->started = ngx_current_msec;
    u->backoff = NGX_LIVE_RECORD_BACKOFF_MIN;
    u->fresh = 1;

    u->retry.handler = ngx_live_record_upload_retry;
    u->retry.data = u;
    u->retry.log = ngx_cycle->log;
    u->retry.cancelable = 1;

    ngx_queue_insert_tail(&lmcf->uploads, &u->queue);
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_UPLOADS, 1);

    return u;
}


static ngx_int_t
ngx_live_record_upload_add(ngx_live_record_upload_t *u, u_char *path,
    ngx_str_t *rel, off_t size)
{
    ngx_str_t                       key;
    ngx_file_info_t                 fi;
    ngx_live_record_upload_file_t  *uf;

    uf = ngx_array_push(&u->files);
    if (uf == NULL) {
        return NGX_ERROR;
    }

    uf->path = path;
    uf->size = size;

    if (size < 0) {
        uf->size = (ngx_file_info(path, &fi) == NGX_FILE_ERROR)
                   ? 0 : ngx_file_size(&fi);
    }

    /* the store's prefix, then the part's path */

    if (u->store->prefix.len) {
        key.data = ngx_pnalloc(u->pool, u->store->prefix.len + 1 + rel->len);
        if (key.data == NULL) {
            return NGX_ERROR;
        }

        key.len = ngx_sprintf(key.data, "%V/%V", &u->store->prefix, rel)
                  - key.data;

    } else {
        key = *rel;
    }

    if (ngx_live_record_uri_encode(u->pool, &key, 1, &uf->key) == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * SPOOL/handoff/PID.FILE_ID.json: the store's name, the files and keys,
 * the receivers and the index entry: all a new worker needs to go on.
 */

static ngx_int_t
ngx_live_record_upload_spool(ngx_live_record_upload_t *u)
{
    char                           *text;
    cJSON                          *o, *files, *rcvs, *f;
    ngx_uint_t                      i;
    ngx_live_record_receiver_t    **rcv;
    ngx_live_record_upload_file_t  *uf;

    u->spool = ngx_pnalloc(u->pool, u->lmcf->spool.len + u->file_id.len
                                    + NGX_INT_T_LEN
                                    + sizeof("/" NGX_LIVE_RECORD_SPOOL_HANDOFF
                                             "/..json"));
    if (u->spool == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(u->spool, "%V/" NGX_LIVE_RECORD_SPOOL_HANDOFF "/%P.%V.json%Z",
                &u->lmcf->spool, ngx_pid, &u->file_id);

    o = cJSON_CreateObject();
    files = cJSON_AddArrayToObject(o, "files");
    rcvs = cJSON_AddArrayToObject(o, "receivers");

    if (o == NULL || files == NULL || rcvs == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    uf = u->files.elts;

    for (i = 0; i < u->files.nelts; i++) {
        f = cJSON_CreateObject();
        cJSON_AddItemToArray(files, f);

        if (f == NULL
            || cJSON_AddStringToObject(f, "path", (char *) uf[i].path) == NULL
            || cJSON_AddNumberToObject(f, "size", (double) uf[i].size) == NULL)
        {
            cJSON_Delete(o);
            return NGX_ERROR;
        }

        /* the key is kept encoded: it is only ever used in URLs */

        text = ngx_pnalloc(u->pool, uf[i].key.len + 1);
        if (text == NULL) {
            cJSON_Delete(o);
            return NGX_ERROR;
        }

        ngx_sprintf((u_char *) text, "%V%Z", &uf[i].key);

        if (cJSON_AddStringToObject(f, "key", text) == NULL) {
            cJSON_Delete(o);
            return NGX_ERROR;
        }
    }

    rcv = u->receivers.elts;

    for (i = 0; i < u->receivers.nelts; i++) {
        text = ngx_pnalloc(u->pool, rcv[i]->url.len + 1);
        if (text == NULL) {
            cJSON_Delete(o);
            return NGX_ERROR;
        }

        ngx_sprintf((u_char *) text, "%V%Z", &rcv[i]->url);
        cJSON_AddItemToArray(rcvs, cJSON_CreateString(text));
    }

    if (cJSON_AddStringToObject(o, "store", (char *) u->store->name.data)
        == NULL
        || cJSON_AddStringToObject(o, "local", (char *) u->local) == NULL
        || cJSON_AddBoolToObject(o, "keep_local", u->keep_local) == NULL
        || cJSON_AddStringToObject(o, "event", u->event) == NULL
        || cJSON_AddItemReferenceToObject(o, "entry", u->entry) == 0)
    {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (text == NULL) {
        return NGX_ERROR;
    }

    u->spool_text.len = ngx_strlen(text);
    u->spool_text.data = ngx_pnalloc(u->pool, u->spool_text.len);

    if (u->spool_text.data) {
        ngx_memcpy(u->spool_text.data, text, u->spool_text.len);
    }

    cJSON_free(text);

    return u->spool_text.data ? NGX_OK : NGX_ERROR;
}


/* in a thread: the spool file, then the sidecar it replaces */

static void
ngx_live_record_upload_spool_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_upload_t *u = data;

    u->spool_rc = NGX_ERROR;

    if (u->spool_text.len == 0) {
        return;
    }

    u->spool_rc = ngx_live_record_create_dirs(u->spool, log);

    if (u->spool_rc == NGX_OK) {
        u->spool_rc = ngx_live_record_write_atomic(u->spool, &u->spool_text,
                                                   1, log);
    }

    if (u->spool_rc != NGX_OK || u->release == NULL) {
        return;
    }

    if (ngx_delete_file(u->release) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_delete_file_n " \"%s\" failed",
                      u->release);
        return;
    }

    u->released = 1;
}


static void
ngx_live_record_upload_spooled(ngx_event_t *ev)
{
    ngx_live_record_upload_t *u = ev->data;

    if (u->spool_rc == NGX_OK) {
        u->spooled = 1;
        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_HANDOFF, 1);

    } else {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "live record: \"%V\" upload of %V is not spooled%s",
                      &u->label, &u->file_id,
                      u->release ? ", the part's sidecar stays: a restart "
                                   "hands the file off again"
                                 : ", it is not retried after a restart");
    }

    if (u->released) {
        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN, -1);
    }

    ngx_live_record_upload_step(u);
}


/*
 * One request at a time: files in order, an S3 multipart upload part by
 * part.  An attempt of a file is its requests from its first, or from a
 * retry, to its end or a failure; the backoff is the file's, doubled by
 * each failure and never reset by a request that succeeds.
 */

void
ngx_live_record_upload_step(ngx_live_record_upload_t *u)
{
    ngx_str_t                       query;
    ngx_live_record_request_t      *r;
    ngx_live_record_upload_file_t  *uf;

    if (u->next == u->files.nelts) {
        ngx_live_record_upload_finish(u);
        return;
    }

    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;

    if (u->store->type == NGX_LIVE_RECORD_STORE_S3
        && uf->size > (off_t) u->store->part_size)
    {
        ngx_live_record_multipart_step(u);
        return;
    }

    ngx_str_null(&query);

    r = ngx_live_record_upload_request(u, "PUT", &query, NULL);
    if (r == NULL) {
        ngx_live_record_upload_failed(u, (u_char *) "out of memory");
        return;
    }

    r->file = uf->path;
    r->file_offset = 0;
    r->file_length = -1;

    ngx_live_record_upload_start(u, r);
}


void
ngx_live_record_upload_start(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r)
{
    if (u->fresh) {
        u->fresh = 0;
        u->attempts++;
    }

    u->req = r;

    ngx_log_debug6(NGX_LOG_DEBUG_RTMP, ngx_cycle->log, 0,
                   "live record: \"%V\" %V: upload file %ui of %ui, "
                   "attempt %ui: %V", &u->label, &u->file_id,
                   u->next + 1, u->files.nelts, u->attempts, &r->url);

    if (ngx_live_record_request_start(u->lmcf->curl, r) != NGX_OK) {
        u->req = NULL;
        ngx_live_record_upload_failed(u, (u_char *) "request not started");
    }
}


/*
 * A request for the current file's key; query in canonical order (libcurl
 * 7.88 signs it as written).
 */

ngx_live_record_request_t *
ngx_live_record_upload_request(ngx_live_record_upload_t *u,
    const char *method, ngx_str_t *query, ngx_str_t *body)
{
    size_t                          len;
    u_char                         *p;
    ngx_str_t                      *h;
    ngx_live_record_store_t        *st;
    ngx_live_record_request_t      *r;
    ngx_live_record_upload_file_t  *uf;

    st = u->store;
    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;

    r = ngx_live_record_request_create(u->pool);
    if (r == NULL) {
        return NULL;
    }

    len = st->endpoint.len + st->bucket.len + uf->key.len + query->len + 4;

    p = ngx_pnalloc(u->pool, len);
    if (p == NULL) {
        return NULL;
    }

    r->url.data = p;

    if (st->type == NGX_LIVE_RECORD_STORE_S3) {
        p = ngx_cpymem(p, st->endpoint.data, st->endpoint.len);
        *p++ = '/';
        p = ngx_cpymem(p, st->bucket.data, st->bucket.len);
        *p++ = '/';

    } else {
        p = ngx_cpymem(p, st->endpoint.data,
                       ngx_live_record_trim_slash(&st->endpoint));
        *p++ = '/';
    }

    p = ngx_cpymem(p, uf->key.data, uf->key.len);

    if (query->len) {
        *p++ = '?';
        p = ngx_cpymem(p, query->data, query->len);
    }

    r->url.len = p - r->url.data;

    r->method.data = (u_char *) method;
    r->method.len = ngx_strlen(method);

    if (body) {
        r->body = *body;
    }

    r->headers = ngx_array_create(u->pool, 4, sizeof(ngx_str_t));
    if (r->headers == NULL) {
        return NULL;
    }

    if (st->headers) {
        h = ngx_array_push_n(r->headers, st->headers->nelts);
        if (h == NULL) {
            return NULL;
        }

        ngx_memcpy(h, st->headers->elts,
                   st->headers->nelts * sizeof(ngx_str_t));
    }

    if (ngx_live_record_upload_headers(u, r, body) != NGX_OK) {
        return NULL;
    }

    if (st->type == NGX_LIVE_RECORD_STORE_S3) {
        r->aws_sigv4.data = ngx_pnalloc(u->pool, st->region.len + 16);
        if (r->aws_sigv4.data == NULL) {
            return NULL;
        }

        r->aws_sigv4.len = ngx_sprintf(r->aws_sigv4.data, "aws:amz:%V:s3",
                                       &st->region)
                           - r->aws_sigv4.data;
        r->userpwd = st->userpwd;
    }

    r->timeout = 0;
    r->connect_timeout = 10000;
    r->max_response = 65536;
    r->handler = ngx_live_record_upload_done;
    r->data = u;
    r->log = ngx_cycle->log;

    return r;
}


/*
 * Content-Type: the file's on a PUT and on CreateMultipartUpload (so that
 * the object serves with it), application/xml with an XML body; none when
 * the store's header= gives one.
 */

static ngx_int_t
ngx_live_record_upload_headers(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r, ngx_str_t *body)
{
    ngx_str_t                      *h;
    ngx_uint_t                      i, typed;
    const char                     *type;
    ngx_live_record_upload_file_t  *uf;

    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->next;
    h = r->headers->elts;
    typed = 0;

    for (i = 0; i < r->headers->nelts; i++) {
        if (h[i].len >= sizeof("Content-Type:") - 1
            && ngx_strncasecmp(h[i].data, (u_char *) "Content-Type:",
                               sizeof("Content-Type:") - 1)
               == 0)
        {
            typed = 1;
        }
    }

    type = NULL;

    if (body && body->len) {
        type = "application/xml";

    } else if ((r->method.len == 3
                && ngx_strncmp(r->method.data, "PUT", 3) == 0)
               || (r->method.len == 4
                   && ngx_strncmp(r->method.data, "POST", 4) == 0))
    {
        /* a PUT, or CreateMultipartUpload */
        type = ngx_live_record_s3_content_type(&uf->key);
    }

    if (type && !typed) {
        h = ngx_array_push(r->headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->len = sizeof("Content-Type: ") - 1 + ngx_strlen(type);
        h->data = ngx_pnalloc(u->pool, h->len);
        if (h->data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(h->data, "Content-Type: %s", type);
    }

    /* x-amz-content-sha256 is the driver's: the body's hash, or for a file
     * UNSIGNED-PAYLOAD (libcurl 7.88 signs a streamed body as if empty) */

    return NGX_OK;
}


static void
ngx_live_record_upload_done(ngx_live_record_request_t *r)
{
    ngx_live_record_upload_t *u = r->data;

    u_char  why[NGX_MAX_ERROR_STR];

    u->req = NULL;

    if (u->mp.op) {
        (void) ngx_live_record_multipart_done(u, r);
        return;
    }

    if (r->rc != NGX_OK || r->status < 200 || r->status >= 300) {
        ngx_live_record_upload_why(why, sizeof(why), r);
        ngx_live_record_upload_failed(u, why);
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ngx_cycle->log, 0,
                   "live record: \"%V\" %V: upload answered %l",
                   &u->label, &u->file_id, r->status);

    ngx_live_record_upload_reply(u, r);
    ngx_live_record_upload_next(u);
    ngx_live_record_upload_step(u);
}


/* the file is confirmed: the next one starts with its own attempts */

void
ngx_live_record_upload_next(ngx_live_record_upload_t *u)
{
    ngx_array_t  stale;

    u->next++;
    u->fresh = 1;
    u->backoff = NGX_LIVE_RECORD_BACKOFF_MIN;

    if (u->next < u->files.nelts) {
        /* the finish line reports the last file's */
        u->attempts = 0;
    }

    stale = u->mp.stale;
    ngx_memzero(&u->mp, sizeof(ngx_live_record_multipart_t));
    u->mp.stale = stale;
}


/*
 * "status 403 SignatureDoesNotMatch: The request signature...": an S3
 * error's Code and Message; else the reply's start, or the transport
 * error; on one log line.
 */

void
ngx_live_record_upload_why(u_char *why, size_t size,
    ngx_live_record_request_t *r)
{
    u_char                      *p, *last;
    ngx_pool_t                  *pool;
    ngx_live_record_s3_reply_t   rp;

    if (r->rc != NGX_OK) {
        last = ngx_snprintf(why, size - 1, "%s", r->error);

    } else {
        pool = ngx_create_pool(4096, ngx_cycle->log);

        if (pool
            && ngx_live_record_s3_parse(pool, r->response.data,
                                        r->response.len, &rp)
               == NGX_OK
            && rp.type == NGX_LIVE_RECORD_S3_ERROR)
        {
            last = ngx_snprintf(why, size - 1, "status %l %V: %*s",
                                r->status, &rp.code,
                                ngx_min(rp.message.len, 300),
                                rp.message.data);

        } else {
            last = ngx_snprintf(why, size - 1, "status %l: %*s", r->status,
                                ngx_min(r->response.len, 200),
                                r->response.data);
        }

        if (pool) {
            ngx_destroy_pool(pool);
        }
    }

    *last = '\0';

    for (p = why; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            *p = ' ';
        }
    }
}


/* an http store's reply for the last file, the main one, may name it */

static void
ngx_live_record_upload_reply(ngx_live_record_upload_t *u,
    ngx_live_record_request_t *r)
{
    cJSON  *o;

    if (u->store->type == NGX_LIVE_RECORD_STORE_S3
        || u->next + 1 != u->files.nelts || r->response.len == 0)
    {
        return;
    }

    o = cJSON_ParseWithLength((char *) r->response.data, r->response.len);

    if (o) {
        (void) ngx_live_record_json_get(u->pool, o, "file_id", &u->reply_id);
        (void) ngx_live_record_json_get(u->pool, o, "url", &u->reply_url);
        cJSON_Delete(o);
    }
}


void
ngx_live_record_upload_failed(ngx_live_record_upload_t *u, u_char *why)
{
    ngx_str_t                       key;
    ngx_live_record_upload_file_t  *uf;

    /* past the last file: the finish itself failed */
    uf = (ngx_live_record_upload_file_t *) u->files.elts
         + ngx_min(u->next, u->files.nelts - 1);
    key = uf->key;

    if (ngx_time() - u->t < (time_t) (u->lmcf->notify_retry / 1000)) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "live record: \"%V\" upload of %V to \"%V\" failed "
                      "(%s), key \"%V\", attempt %ui, retry in %M ms",
                      &u->label, &u->file_id, &u->store->name, why,
                      &key, u->attempts, u->backoff);

        /* a multipart upload goes on: its parts are looked at again */
        u->mp.synced = 0;
        u->fresh = 1;

        ngx_add_timer(&u->retry, u->backoff);
        u->backoff = ngx_min(2 * u->backoff, NGX_LIVE_RECORD_BACKOFF_MAX);
        return;
    }

    if (ngx_live_record_multipart_give_up(u, why) == NGX_AGAIN) {
        /* its upload is aborted first */
        return;
    }

    ngx_live_record_upload_give_up(u, why);
}


void
ngx_live_record_upload_give_up(ngx_live_record_upload_t *u, u_char *why)
{
    cJSON  *o;

    ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                  "live record: \"%V\" upload of %V to \"%V\" given up after "
                  "%ui attempts (%s), the files stay in \"%s\"",
                  &u->label, &u->file_id, &u->store->name, u->attempts, why,
                  u->local);

    ngx_live_record_stat_handoff(NGX_ERROR);

    o = cJSON_Duplicate(u->entry, 1);

    if (o && cJSON_AddStringToObject(o, "reason", "handoff")
        && cJSON_AddStringToObject(o, "message", (char *) why))
    {
        (void) ngx_live_record_notify_event(u->lmcf, &u->receivers,
                                            "record_failed", o);

    } else {
        cJSON_Delete(o);
    }

    ngx_live_record_upload_end(u);
}


static void
ngx_live_record_upload_retry(ngx_event_t *ev)
{
    ngx_live_record_upload_step(ev->data);
}


/* every file is confirmed: the entry gets the remote URL, then is announced */

static void
ngx_live_record_upload_finish(ngx_live_record_upload_t *u)
{
    u_char                         *p;
    ngx_str_t                       url;
    ngx_live_record_store_t        *st;
    ngx_live_record_upload_file_t  *uf;

    st = u->store;
    uf = (ngx_live_record_upload_file_t *) u->files.elts + u->files.nelts - 1;

    url = u->reply_url;

    if (url.len == 0) {
        p = ngx_pnalloc(u->pool, st->url.len + st->endpoint.len
                                 + st->bucket.len + uf->key.len + 4);
        if (p == NULL) {
            ngx_live_record_upload_failed(u, (u_char *) "out of memory");
            return;
        }

        url.data = p;

        if (st->url.len) {
            p = ngx_sprintf(p, "%V/%V", &st->url, &uf->key);

        } else if (st->type == NGX_LIVE_RECORD_STORE_S3) {
            p = ngx_sprintf(p, "%V/%V/%V", &st->endpoint, &st->bucket,
                            &uf->key);

        } else {
            /* what was PUT can be fetched at the same URL */
            p = ngx_sprintf(p, "%*s/%V", ngx_live_record_trim_slash(
                                             &st->endpoint),
                            st->endpoint.data, &uf->key);
        }

        url.len = p - url.data;
    }

    cJSON_DeleteItemFromObject(u->entry, "video_url");
    (void) ngx_live_record_json_set(u->entry, "video_url", &url);

    if (u->reply_id.len) {
        /* the entry keeps its time-sortable name: index_id says which */
        cJSON_DeleteItemFromObject(u->entry, "file_id");
        (void) ngx_live_record_json_set(u->entry, "file_id",
                                            &u->reply_id);
        cJSON_DeleteItemFromObject(u->entry, "index_id");
        (void) ngx_live_record_json_set(u->entry, "index_id", &u->file_id);
    }

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "live record: \"%V\" %V uploaded to \"%V\": \"%V\" "
                  "(%ui attempts)", &u->label, &u->file_id, &st->name, &url,
                  u->attempts);

    ngx_live_record_stat_handoff(NGX_OK);
    ngx_live_record_stat_observe(NGX_LIVE_RECORD_HIST_HANDOFF,
                                 ngx_current_msec - u->started);

    ngx_live_record_upload_index(u);
}


/*
 * The entry is written in the thread pool, and again every 5 s from
 * memory while it cannot be (a full disk): the record_done waits for it,
 * and the spool file keeps the job for the next start meanwhile.
 */

static void
ngx_live_record_upload_index(ngx_live_record_upload_t *u)
{
    if (ngx_live_record_upload_task(u, ngx_live_record_upload_index_thread,
                                    ngx_live_record_upload_indexed)
        != NGX_OK)
    {
        ngx_live_record_upload_index_thread(u, ngx_cycle->log);
        ngx_live_record_upload_indexed(&u->retry);
    }
}


static void
ngx_live_record_upload_index_retry(ngx_event_t *ev)
{
    ngx_live_record_upload_t *u = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        /* the spool file stays: the next start uploads and indexes it */
        ngx_live_record_upload_free(u);
        return;
    }

    ngx_live_record_upload_index(u);
}


static void
ngx_live_record_upload_index_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_upload_t *u = data;

    ngx_log_t  quiet;

    /* the first failure is logged with its cause, not each retry */
    quiet = *log;

    if (u->index_tries++) {
        quiet.log_level = NGX_LOG_ALERT;
        quiet.next = NULL;
    }

    u->index_rc = ngx_live_record_index_put(&u->lmcf->index, &u->label,
                                            &u->file_id, u->entry, &quiet);
}


static void
ngx_live_record_upload_indexed(ngx_event_t *ev)
{
    ngx_live_record_upload_t *u = ev->data;

    ngx_live_record_done_t  v;

    if (u->index_rc != NGX_OK) {
        if (u->index_tries == 1) {
            ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                          "live record: \"%V\" %V: no index entry in "
                          "\"%V\", its %s waits until one is written, "
                          "tried again every %d s", &u->label, &u->file_id,
                          &u->lmcf->index, u->event,
                          NGX_LIVE_RECORD_INDEX_RETRY_MS / 1000);
        }

        u->retry.handler = ngx_live_record_upload_index_retry;
        ngx_add_timer(&u->retry, NGX_LIVE_RECORD_INDEX_RETRY_MS);
        return;
    }

    if (u->index_tries > 1) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "live record: \"%V\" %V: index entry written, "
                      "announcing it", &u->label, &u->file_id);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, ngx_cycle->log, 0,
                   "live record: \"%V\" %V: upload confirmed, indexed",
                   &u->label, &u->file_id);

    v.lmcf = u->lmcf;
    v.receivers = &u->receivers;
    v.label = &u->label;
    v.file_id = &u->file_id;
    v.event = u->event;
    v.entry = u->entry;
    v.release = NULL;           /* the upload's own spool file held it */

    (void) ngx_live_record_part_done(&v);

    /* the local copy and the spool file go, off the loop */

    if (ngx_live_record_upload_task(u, ngx_live_record_upload_tidy_thread,
                                    ngx_live_record_upload_tidied)
        != NGX_OK)
    {
        ngx_live_record_upload_tidy_thread(u, ngx_cycle->log);
        ngx_live_record_upload_tidied(&u->retry);
    }
}


static void
ngx_live_record_upload_tidy_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_upload_t *u = data;

    if (!u->keep_local) {
        (void) ngx_live_record_delete_tree(u->local, log);
    }

    if (u->spool && ngx_delete_file(u->spool) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_delete_file_n " \"%s\" failed",
                      u->spool);
    }
}


static void
ngx_live_record_upload_tidied(ngx_event_t *ev)
{
    ngx_live_record_upload_free(ev->data);
}


/* NGX_DECLINED: no thread pool (or it is full), the caller does it here */

static ngx_int_t
ngx_live_record_upload_task(ngx_live_record_upload_t *u,
    void (*handler)(void *data, ngx_log_t *log), ngx_event_handler_pt done)
{
#if (NGX_THREADS)

    if (u->store->thread_pool == NULL) {
        return NGX_DECLINED;
    }

    if (u->task == NULL) {
        u->task = ngx_thread_task_alloc(u->pool, 0);
        if (u->task == NULL) {
            return NGX_DECLINED;
        }
    }

    u->task->ctx = u;
    u->task->handler = handler;
    u->task->event.handler = done;
    u->task->event.data = u;
    u->task->event.log = ngx_cycle->log;

    if (ngx_live_record_post(u->store->thread_pool, u->task) == NGX_OK) {
        return NGX_OK;
    }

#endif

    return NGX_DECLINED;
}


/* the job is over, done or given up: its spool file goes with it */

static void
ngx_live_record_upload_end(ngx_live_record_upload_t *u)
{
    if (u->spool) {
        (void) ngx_delete_file(u->spool);
    }

    ngx_live_record_upload_free(u);
}


static void
ngx_live_record_upload_free(ngx_live_record_upload_t *u)
{
    ngx_destroy_pool(u->pool);
}


static void
ngx_live_record_upload_cleanup(void *data)
{
    ngx_live_record_upload_t  *u = data;

    if (u->retry.timer_set) {
        ngx_del_timer(&u->retry);
    }

    if (u->req) {
        ngx_live_record_request_cancel(u->req);
        u->req = NULL;
    }

    if (u->entry) {
        cJSON_Delete(u->entry);
        u->entry = NULL;
    }

    ngx_queue_remove(&u->queue);
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_UPLOADS, -1);

    if (u->spooled) {
        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_HANDOFF, -1);
    }
}


/* AWS's encoding: everything but A-Z a-z 0-9 - _ . ~ (and /, in keys) */

u_char *
ngx_live_record_uri_encode(ngx_pool_t *pool, ngx_str_t *src,
    ngx_uint_t keep_slash, ngx_str_t *dst)
{
    u_char      c, *p;
    ngx_uint_t  i;

    static u_char  hex[] = "0123456789ABCDEF";

    dst->data = ngx_pnalloc(pool, 3 * src->len + 1);
    if (dst->data == NULL) {
        return NULL;
    }

    p = dst->data;

    for (i = 0; i < src->len; i++) {
        c = src->data[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'
            || c == '~' || (c == '/' && keep_slash))
        {
            *p++ = c;
            continue;
        }

        *p++ = '%';
        *p++ = hex[c >> 4];
        *p++ = hex[c & 0xf];
    }

    dst->len = p - dst->data;
    *p = '\0';

    return dst->data;
}


static size_t
ngx_live_record_trim_slash(ngx_str_t *s)
{
    size_t  len;

    for (len = s->len; len && s->data[len - 1] == '/'; len--) { /* void */ }

    return len;
}


/* a spooled job, claimed from a worker that is gone */

ngx_int_t
ngx_live_record_upload_load(ngx_live_record_main_conf_t *lmcf, u_char *path,
    ngx_str_t *text)
{
    cJSON                        *o, *rcvs, *r;
    ngx_int_t                     rc;
    ngx_str_t                     s;
    ngx_uint_t                    i;
    ngx_live_record_store_t     **st, *store;
    ngx_live_record_receiver_t   *rcv, **rp;
    ngx_live_record_upload_t     *u;
    ngx_live_record_handoff_t     h;

    o = cJSON_ParseWithLength((char *) text->data, text->len);
    if (o == NULL) {
        return NGX_ERROR;
    }

    store = NULL;
    st = lmcf->remote.elts;
    r = cJSON_GetObjectItemCaseSensitive(o, "store");

    for (i = 0; cJSON_IsString(r) && i < lmcf->remote.nelts; i++) {
        if (ngx_strlen(r->valuestring) == st[i]->name.len
            && ngx_strncmp(r->valuestring, st[i]->name.data,
                           st[i]->name.len) == 0)
        {
            store = st[i];
            break;
        }
    }

    if (store == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "live record: spooled upload \"%s\" is for a store "
                      "no longer configured, left in place", path);
        cJSON_Delete(o);
        return NGX_DECLINED;
    }

    u = ngx_live_record_upload_alloc(lmcf, store);
    if (u == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    s.len = ngx_strlen(path);

    /* a path for system calls: null-terminated */
    u->spool = ngx_pnalloc(u->pool, s.len + 1);
    if (u->spool == NULL) {
        goto failed;
    }

    ngx_memcpy(u->spool, path, s.len + 1);

    rc = ngx_live_record_upload_parse(u->pool, o, &u->files, &h);

    u->entry = h.entry;

    if (rc != NGX_OK) {
        goto failed;
    }

    u->keep_local = h.keep_local;

    if (h.event.data) {
        u->event = (char *) h.event.data;
    }

    u->local = h.local.data;
    u->file_id = h.file_id;
    u->label = h.label;

    rcvs = cJSON_GetObjectItemCaseSensitive(o, "receivers");

    cJSON_ArrayForEach(r, rcvs) {
        if (!cJSON_IsString(r)) {
            continue;
        }

        s.data = (u_char *) r->valuestring;
        s.len = ngx_strlen(s.data);

        rcv = ngx_live_record_find_receiver(lmcf, &s);
        if (rcv == NULL) {
            continue;
        }

        rp = ngx_array_push(&u->receivers);
        if (rp == NULL) {
            goto failed;
        }

        *rp = rcv;
    }

    cJSON_Delete(o);

    u->spooled = 1;
    u->loaded = 1;
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_HANDOFF, 1);

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "live record: \"%V\" spooled upload of %V to \"%V\" "
                  "resumed", &u->label, &u->file_id, &store->name);

    ngx_live_record_upload_step(u);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                  "live record: spooled upload \"%s\" is unreadable, left "
                  "in place", path);

    u->spool = NULL;
    cJSON_Delete(o);
    ngx_live_record_upload_free(u);

    return NGX_ERROR;
}

