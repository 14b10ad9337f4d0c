
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_curl.h"


/*
 * A GET into a file, for a thread of the pool (a remote store's object
 * read back for /concat): the event loop's driver keeps bodies in
 * memory and must not write files, so this one blocks, in its thread.
 */


typedef struct {
    ngx_live_record_request_t  *r;
    ngx_fd_t                    fd;
    u_char                     *path;
    ngx_err_t                   err;
    off_t                       size;
} ngx_live_record_get_t;


static size_t ngx_live_record_get_write(char *buf, size_t size,
    size_t nmemb, void *data);


ngx_int_t
ngx_live_record_request_download(ngx_live_record_request_t *r, u_char *path)
{
    u_char                 *p, *last;
    long                    status;
    CURLcode                rc;
    ngx_live_record_get_t   g;

    ngx_str_set(&r->method, "GET");

    if (ngx_live_record_request_easy(r) != NGX_OK) {
        ngx_cpystrn(r->error, (u_char *) "the request could not be made",
                    CURL_ERROR_SIZE);
        return NGX_ERROR;
    }

    g.r = r;
    g.path = path;
    g.err = 0;
    g.size = 0;
    g.fd = ngx_open_file(path, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                         NGX_FILE_DEFAULT_ACCESS);

    if (g.fd == NGX_INVALID_FILE) {
        last = r->error + CURL_ERROR_SIZE - 1;
        p = ngx_snprintf(r->error, last - r->error,
                         ngx_open_file_n " \"%s\" failed (%d)", path,
                         ngx_errno);
        *p = '\0';
        ngx_live_record_request_release(r);
        return NGX_ERROR;
    }

    (void) curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION,
                            ngx_live_record_get_write);
    (void) curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, &g);

    rc = curl_easy_perform(r->easy);

    status = 0;
    (void) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;

    ngx_live_record_request_release(r);

    if (ngx_close_file(g.fd) == NGX_FILE_ERROR && g.err == 0) {
        g.err = ngx_errno;
    }

    last = r->error + CURL_ERROR_SIZE - 1;

    if (g.err) {
        p = ngx_snprintf(r->error, last - r->error,
                         "writing \"%s\" failed (%d: ", path, g.err);
        p = ngx_strerror(g.err, p, last - p);
        p = ngx_snprintf(p, last - p, ")");
        *p = '\0';

    } else if (rc != CURLE_OK) {
        if (r->error[0] == '\0') {
            p = ngx_snprintf(r->error, last - r->error, "%s",
                             curl_easy_strerror(rc));
            *p = '\0';
        }

    } else if (status < 200 || status >= 300) {
        p = ngx_snprintf(r->error, last - r->error, "the store answered %l",
                         status);
        *p = '\0';

    } else {
        r->rc = NGX_OK;
        return NGX_OK;
    }

    (void) ngx_delete_file(path);

    return NGX_ERROR;
}


static size_t
ngx_live_record_get_write(char *buf, size_t size, size_t nmemb, void *data)
{
    ngx_live_record_get_t *g = data;

    long     status;
    size_t   n;
    ssize_t  k;

    n = size * nmemb;

    /* an error's body is not the object */

    status = 0;
    (void) curl_easy_getinfo(g->r->easy, CURLINFO_RESPONSE_CODE, &status);

    if (status < 200 || status >= 300) {
        return n;
    }

    while (n) {
        k = write(g->fd, buf, n);

        if (k == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            g->err = ngx_errno;
            return 0;
        }

        buf += k;
        n -= k;
        g->size += k;
    }

    return size * nmemb;
}
