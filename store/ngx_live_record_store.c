
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_upload.h"


#define NGX_LIVE_RECORD_COPY_BUF  (256 * 1024)


static char *ngx_live_record_store_param(ngx_conf_t *cf,
    ngx_live_record_store_t *st, ngx_str_t *v);
static char *ngx_live_record_store_s3_target(ngx_conf_t *cf,
    ngx_live_record_store_t *st, ngx_str_t *v);
static char *ngx_live_record_read_secret(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *access, ngx_str_t *userpwd);
static ngx_int_t ngx_live_record_copy(u_char *src, u_char *dst,
    ngx_log_t *log);
static ngx_int_t ngx_live_record_copy_file(u_char *src, u_char *dst,
    ngx_log_t *log);
static ngx_int_t ngx_live_record_copy_dir(u_char *src, u_char *dst,
    ngx_log_t *log);


/*
 * live_record_store local DIR [url=BASE];
 * live_record_store http URL [header="Name: value"]... [path=DIR];
 * live_record_store s3 ENDPOINT/BUCKET[/PREFIX] region=R access_key=K
 *     secret_key_file=F [url=BASE] [path=DIR];
 *
 * A remote store's finished files wait in the local directory (path=, or
 * the default) until their upload is confirmed.
 */

char *
ngx_live_record_store_conf(ngx_conf_t *cf, ngx_live_record_store_t *st)
{
    char        *rv;
    ngx_str_t   *value, access, secret_file;
    ngx_uint_t   i;

    value = cf->args->elts;

    ngx_str_null(&access);
    ngx_str_null(&secret_file);

    st->name = value[2];
    st->part_size = 8 * 1024 * 1024;

    if (ngx_strcmp(value[1].data, "local") == 0) {
        st->type = NGX_LIVE_RECORD_STORE_LOCAL;
        st->path = value[2];

    } else if (ngx_strcmp(value[1].data, "http") == 0) {
        st->type = NGX_LIVE_RECORD_STORE_HTTP;
        st->endpoint = value[2];

        if (ngx_strncmp(value[2].data, "http://", 7) != 0
            && ngx_strncmp(value[2].data, "https://", 8) != 0)
        {
            return "needs an http:// or https:// URL";
        }

    } else if (ngx_strcmp(value[1].data, "s3") == 0) {
        st->type = NGX_LIVE_RECORD_STORE_S3;

        rv = ngx_live_record_store_s3_target(cf, st, &value[2]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown store type \"%V\" in "
                           "\"live_record_store\", expected local, http "
                           "or s3", &value[1]);
        return NGX_CONF_ERROR;
    }

    for (i = 3; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "access_key=", 11) == 0) {
            access.data = value[i].data + 11;
            access.len = value[i].len - 11;
            continue;
        }

        if (ngx_strncmp(value[i].data, "secret_key_file=", 16) == 0) {
            secret_file.data = value[i].data + 16;
            secret_file.len = value[i].len - 16;
            continue;
        }

        rv = ngx_live_record_store_param(cf, st, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    if (st->type != NGX_LIVE_RECORD_STORE_S3) {
        if (access.len || secret_file.len || st->region.len) {
            return "takes region=, access_key= and secret_key_file= "
                   "only with s3";
        }

        return NGX_CONF_OK;
    }

    if (st->region.len == 0 || access.len == 0 || secret_file.len == 0) {
        return "needs region=, access_key= and secret_key_file= with s3";
    }

    return ngx_live_record_read_secret(cf, &secret_file, &access,
                                       &st->userpwd);
}


static char *
ngx_live_record_store_param(ngx_conf_t *cf, ngx_live_record_store_t *st,
    ngx_str_t *v)
{
    u_char     *colon;
    ssize_t     size;
    ngx_str_t  *h, s;

    if (ngx_strncmp(v->data, "url=", 4) == 0
        && st->type != NGX_LIVE_RECORD_STORE_HTTP)
    {
        st->url.data = v->data + 4;
        st->url.len = v->len - 4;

        while (st->url.len && st->url.data[st->url.len - 1] == '/') {
            st->url.len--;
        }

        return NGX_CONF_OK;
    }

    if (ngx_strncmp(v->data, "path=", 5) == 0
        && st->type != NGX_LIVE_RECORD_STORE_LOCAL)
    {
        st->path.data = v->data + 5;
        st->path.len = v->len - 5;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(v->data, "part_size=", 10) == 0
        && st->type == NGX_LIVE_RECORD_STORE_S3)
    {
        s.data = v->data + 10;
        s.len = v->len - 10;

        size = ngx_parse_size(&s);

        if (size == NGX_ERROR || size < 5 * 1024 * 1024) {
            return "has an invalid part_size=, at least 5m";
        }

        st->part_size = size;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(v->data, "region=", 7) == 0) {
        st->region.data = v->data + 7;
        st->region.len = v->len - 7;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(v->data, "header=", 7) == 0
        && st->type == NGX_LIVE_RECORD_STORE_HTTP)
    {
        colon = ngx_strlchr(v->data + 7, v->data + v->len, ':');

        if (colon == NULL || colon == v->data + 7) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid \"%V\" in \"live_record_store\", "
                               "expected header=\"Name: value\"", v);
            return NGX_CONF_ERROR;
        }

        if (st->headers == NULL) {
            st->headers = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
            if (st->headers == NULL) {
                return NGX_CONF_ERROR;
            }
        }

        h = ngx_array_push(st->headers);
        if (h == NULL) {
            return NGX_CONF_ERROR;
        }

        h->data = v->data + 7;
        h->len = v->len - 7;

        /* 'header="Name: value"' as well as "header=Name: value" */

        if (h->len >= 2 && h->data[0] == '"' && h->data[h->len - 1] == '"') {
            h->data++;
            h->len -= 2;
        }

        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\" in \"live_record_store\"",
                       v);

    return NGX_CONF_ERROR;
}
/*
 * Moves a finished file into the local store.  The rename is atomic, so
 * the final name never shows a half-written file; across filesystems the
 * copy goes to a temporary name first.
 */

ngx_int_t
ngx_live_record_handoff(ngx_live_record_part_t *p, ngx_live_record_file_t *f)
{
    ngx_err_t        err;
    ngx_file_info_t  fi;

    if (ngx_live_record_create_dirs(f->store.data, p->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_rename_file(f->work.data, f->store.data) == NGX_FILE_ERROR) {
        err = ngx_errno;

        /* a recovered part handed off just before the crash */

        if (err == NGX_ENOENT && p->reason == NGX_LIVE_RECORD_REASON_RECOVERED
            && ngx_file_info(f->store.data, &fi) != NGX_FILE_ERROR)
        {
            if (!ngx_is_dir(&fi)) {
                f->size = ngx_file_size(&fi);
            }

            return NGX_OK;
        }

        if (err != NGX_EXDEV) {
            ngx_log_error(NGX_LOG_CRIT, p->log, err,
                          "live record: \"%V\" part %ui: "
                          ngx_rename_file_n " \"%s\" to \"%s\" failed",
                          &p->st.label, p->n, f->work.data, f->store.data);
            return NGX_ERROR;
        }

        if (ngx_live_record_copy(f->work.data, f->store.data, p->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        (void) ngx_live_record_delete_tree(f->work.data, p->log);
    }

    if (ngx_file_info(f->store.data, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, p->log, ngx_errno,
                      "live record: \"%V\" part %ui: "
                      ngx_file_info_n " \"%s\" failed",
                      &p->st.label, p->n, f->store.data);
        return NGX_ERROR;
    }

    /*
     * an hls recording is a directory: its size is what its segments add
     * up to, counted by the hls code (a recovered one has no other count)
     */

    if (!ngx_is_dir(&fi)) {
        f->size = ngx_file_size(&fi);
    }

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, p->log, 0,
                   "live record: \"%V\" part %ui: \"%s\" in the store, "
                   "%O bytes", &p->st.label, p->n, f->store.data, f->size);

    return NGX_OK;
}


/* "http://host:port/bucket/prefix" */

static char *
ngx_live_record_store_s3_target(ngx_conf_t *cf, ngx_live_record_store_t *st,
    ngx_str_t *v)
{
    u_char  *p, *last, *slash;

    p = v->data;
    last = p + v->len;

    if (ngx_strncmp(p, "http://", 7) == 0) {
        p += 7;

    } else if (ngx_strncmp(p, "https://", 8) == 0) {
        p += 8;

    } else {
        return "needs an http:// or https:// endpoint with s3";
    }

    slash = ngx_strlchr(p, last, '/');

    if (slash == NULL || slash + 1 == last) {
        return "needs ENDPOINT/BUCKET with s3";
    }

    st->endpoint.data = v->data;
    st->endpoint.len = slash - v->data;

    p = slash + 1;
    slash = ngx_strlchr(p, last, '/');

    st->bucket.data = p;
    st->bucket.len = (slash ? slash : last) - p;

    if (slash) {
        st->prefix.data = slash + 1;
        st->prefix.len = last - slash - 1;

        while (st->prefix.len && st->prefix.data[st->prefix.len - 1] == '/') {
            st->prefix.len--;
        }
    }

    return NGX_CONF_OK;
}


/* the secret key is read from its file, and never logged */

static char *
ngx_live_record_read_secret(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *access, ngx_str_t *userpwd)
{
    ngx_str_t  secret;

    if (ngx_live_record_conf_secret(cf, file, "secret_key_file", &secret)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    userpwd->data = ngx_pnalloc(cf->pool, access->len + 1 + secret.len + 1);
    if (userpwd->data == NULL) {
        return NGX_CONF_ERROR;
    }

    userpwd->len = ngx_sprintf(userpwd->data, "%V:%V%Z", access, &secret)
                   - userpwd->data - 1;

    return NGX_CONF_OK;
}


/* across filesystems: a copy under a temporary name, then a rename */

static ngx_int_t
ngx_live_record_copy(u_char *src, u_char *dst, ngx_log_t *log)
{
    size_t           len;
    u_char          *tmp;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    if (ngx_file_info(src, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_file_info_n " \"%s\" failed", src);
        return NGX_ERROR;
    }

    len = ngx_strlen(dst);

    tmp = ngx_alloc(len + sizeof(".tmp"), log);
    if (tmp == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(tmp, dst, len), ".tmp", sizeof(".tmp"));

    rc = ngx_is_dir(&fi) ? ngx_live_record_copy_dir(src, tmp, log)
                         : ngx_live_record_copy_file(src, tmp, log);

    if (rc == NGX_OK && ngx_rename_file(tmp, dst) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_rename_file_n
                      " \"%s\" to \"%s\" failed", tmp, dst);
        rc = NGX_ERROR;
    }

    if (rc != NGX_OK) {
        (void) ngx_live_record_delete_tree(tmp, log);
    }

    ngx_free(tmp);

    return rc;
}


static ngx_int_t
ngx_live_record_copy_file(u_char *src, u_char *dst, ngx_log_t *log)
{
    ngx_copy_file_t  cf;

    cf.size = -1;
    cf.buf_size = NGX_LIVE_RECORD_COPY_BUF;
    cf.access = NGX_FILE_DEFAULT_ACCESS;
    cf.time = -1;
    cf.log = log;

    return ngx_copy_file(src, dst, &cf);
}


static ngx_int_t
ngx_live_record_copy_dir(u_char *src, u_char *dst, ngx_log_t *log)
{
    u_char     *from, *to;
    ngx_dir_t   dir;
    ngx_int_t   rc;
    ngx_str_t   name, dname;

    if (ngx_create_dir(dst, 0755) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_create_dir_n " \"%s\" failed", dst);
        return NGX_ERROR;
    }

    dname.data = src;
    dname.len = ngx_strlen(src);

    if (ngx_open_dir(&dname, &dir) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_open_dir_n " \"%s\" failed", src);
        return NGX_ERROR;
    }

    rc = NGX_OK;

    while (rc == NGX_OK && ngx_read_dir(&dir) == NGX_OK) {
        name.data = ngx_de_name(&dir);
        name.len = ngx_de_namelen(&dir);

        if (name.data[0] == '.') {
            continue;
        }

        from = ngx_live_record_join(src, &name, log);
        to = ngx_live_record_join(dst, &name, log);

        rc = (from && to) ? ngx_live_record_copy_file(from, to, log)
                          : NGX_ERROR;

        ngx_free(from);
        ngx_free(to);
    }

    (void) ngx_close_dir(&dir);

    return rc;
}



ngx_live_record_request_t *
ngx_live_record_store_request(ngx_pool_t *pool, ngx_live_record_store_t *st,
    ngx_str_t *rel)
{
    u_char                     *p;
    size_t                      len;
    ngx_str_t                   full, enc, *h;
    ngx_live_record_request_t  *req;

    if (st->type == NGX_LIVE_RECORD_STORE_S3 && st->prefix.len) {
        full.data = ngx_pnalloc(pool, st->prefix.len + 1 + rel->len);
        if (full.data == NULL) {
            return NULL;
        }

        full.len = ngx_sprintf(full.data, "%V/%V", &st->prefix, rel)
                   - full.data;

    } else {
        full = *rel;
    }

    if (ngx_live_record_uri_encode(pool, &full, 1, &enc) == NULL) {
        return NULL;
    }

    req = ngx_live_record_request_create(pool);
    if (req == NULL) {
        return NULL;
    }

    p = ngx_pnalloc(pool, st->endpoint.len + st->bucket.len + enc.len + 4);
    if (p == NULL) {
        return NULL;
    }

    req->url.data = p;

    if (st->type == NGX_LIVE_RECORD_STORE_S3) {
        p = ngx_sprintf(p, "%V/%V/%V", &st->endpoint, &st->bucket, &enc);

    } else {
        /* what was PUT to ENDPOINT/KEY */

        for (len = st->endpoint.len;
             len && st->endpoint.data[len - 1] == '/';
             len--)
        {
            /* void */
        }

        p = ngx_sprintf(p, "%*s/%V", len, st->endpoint.data, &enc);
    }

    req->url.len = p - req->url.data;

    if (st->headers) {
        req->headers = ngx_array_create(pool, st->headers->nelts,
                                        sizeof(ngx_str_t));
        if (req->headers == NULL) {
            return NULL;
        }

        h = ngx_array_push_n(req->headers, st->headers->nelts);
        if (h == NULL) {
            return NULL;
        }

        ngx_memcpy(h, st->headers->elts,
                   st->headers->nelts * sizeof(ngx_str_t));
    }

    if (st->type == NGX_LIVE_RECORD_STORE_S3) {
        req->aws_sigv4.data = ngx_pnalloc(pool, st->region.len + 16);
        if (req->aws_sigv4.data == NULL) {
            return NULL;
        }

        req->aws_sigv4.len = ngx_sprintf(req->aws_sigv4.data,
                                         "aws:amz:%V:s3", &st->region)
                             - req->aws_sigv4.data;
        req->userpwd = st->userpwd;
    }

    return req;
}
