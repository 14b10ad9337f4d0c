
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The web console: a page, its script and style, and hls.js, compiled into
 * the module (build/console/ngx_http_live_record_console_assets.h, made by
 * scripts/console-assets.pl), plus config.json, which tells the page where
 * the JSON API is.  The page itself needs no token; the API does.
 */


typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   type;
    ngx_str_t                   etag;
    u_char                     *data;
    size_t                      len;
} ngx_http_live_record_console_asset_t;


typedef struct {
    ngx_str_t                   api;
    ngx_str_t                   config;     /* config.json */
    ngx_str_t                   etag;       /* of config.json */
} ngx_http_live_record_console_loc_conf_t;


#if (NGX_LIVE_RECORD_HAVE_CONSOLE)
#include "ngx_http_live_record_console_assets.h"
#else
/* configure found no generated assets: the directive says so */
static ngx_http_live_record_console_asset_t
    ngx_http_live_record_console_assets[] = { { ngx_null_string,
    ngx_null_string, ngx_null_string, NULL, 0 } };
#endif


#define NGX_HTTP_LIVE_RECORD_CONSOLE_INDEX  "index.html"
#define NGX_HTTP_LIVE_RECORD_CONSOLE_CSP                                      \
    "default-src 'self'; img-src 'self' data:; media-src * blob:; "           \
    "connect-src *; worker-src 'self' blob:; frame-ancestors 'self'"


static ngx_int_t ngx_http_live_record_console_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_live_record_console_name(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_live_record_console_redirect(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_live_record_console_header(
    ngx_http_request_t *r, ngx_str_t *key, ngx_str_t *value);
static void *ngx_http_live_record_console_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_live_record_console(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_command_t  ngx_http_live_record_console_commands[] = {

    { ngx_string("live_record_console"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS|NGX_CONF_TAKE1,
      ngx_http_live_record_console,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_live_record_console_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_live_record_console_create_loc_conf,
                                           /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_live_record_console_module = {
    NGX_MODULE_V1,
    &ngx_http_live_record_console_module_ctx, /* module context */
    ngx_http_live_record_console_commands, /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_live_record_console_json_type =
    ngx_string("application/json");
static ngx_str_t  ngx_http_live_record_console_etag = ngx_string("ETag");


/* on every answer: revalidate (ETag), and the page's scripts are ours */

static ngx_keyval_t  ngx_http_live_record_console_headers[] = {
    { ngx_string("Cache-Control"), ngx_string("no-cache") },
    { ngx_string("X-Content-Type-Options"), ngx_string("nosniff") },
    { ngx_string("Content-Security-Policy"),
      ngx_string(NGX_HTTP_LIVE_RECORD_CONSOLE_CSP) },
    { ngx_null_string, ngx_null_string }
};


static ngx_int_t
ngx_http_live_record_console_handler(ngx_http_request_t *r)
{
    ngx_int_t                                  rc;
    ngx_str_t                                  name, *type, *etag;
    ngx_keyval_t                              *kv;
    ngx_http_complex_value_t                   cv;
    ngx_http_live_record_console_asset_t      *a;
    ngx_http_live_record_console_loc_conf_t   *lccf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_live_record_console_name(r, &name);

    if (rc == NGX_DECLINED) {
        return NGX_HTTP_NOT_FOUND;
    }

    if (rc == NGX_AGAIN) {
        return ngx_http_live_record_console_redirect(r);
    }

    lccf = ngx_http_get_module_loc_conf(r,
                                        ngx_http_live_record_console_module);

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    if (name.len == sizeof("config.json") - 1
        && ngx_strncmp(name.data, "config.json", name.len) == 0)
    {
        cv.value = lccf->config;
        type = &ngx_http_live_record_console_json_type;
        etag = &lccf->etag;

    } else {
        for (a = ngx_http_live_record_console_assets; a->len; a++) {
            if (a->name.len == name.len
                && ngx_strncmp(a->name.data, name.data, name.len) == 0)
            {
                break;
            }
        }

        if (a->len == 0) {
            return NGX_HTTP_NOT_FOUND;
        }

        cv.value.data = a->data;
        cv.value.len = a->len;
        type = &a->type;
        etag = &a->etag;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "live record console: \"%V\" as \"%V\"", &r->uri, &name);

    /* the not modified filter answers If-None-Match from this */

    r->headers_out.etag = ngx_http_live_record_console_header(r,
                                      &ngx_http_live_record_console_etag, etag);
    if (r->headers_out.etag == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.last_modified_time = -1;

    for (kv = ngx_http_live_record_console_headers; kv->key.len; kv++) {
        if (ngx_http_live_record_console_header(r, &kv->key, &kv->value)
            == NULL)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_send_response(r, NGX_HTTP_OK, type, &cv);
}


/*
 * The asset a URI names: what follows the location's prefix, or for a
 * regex or exact location the last path segment; "" is the page.
 * NGX_DECLINED: not a name we serve; NGX_AGAIN: the prefix without its
 * slash ("/console" in "location /console"), redirected so that the page's
 * relative links resolve.
 */

static ngx_int_t
ngx_http_live_record_console_name(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                    *p, *last;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    last = r->uri.data + r->uri.len;

    if (!clcf->named
#if (NGX_PCRE)
        && clcf->regex == NULL
#endif
        && !clcf->exact_match
        && r->uri.len >= clcf->name.len
        && ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;

        if (p == last && (r->uri.len == 0 || last[-1] != '/')) {
            return NGX_AGAIN;
        }

        if (clcf->name.len && clcf->name.data[clcf->name.len - 1] != '/') {

            /* "location /console": "/console/..." but not "/consoleX" */

            if (p < last && *p != '/') {
                return NGX_DECLINED;
            }

            if (p < last) {
                p++;
            }
        }

    } else {
        for (p = last; p > r->uri.data && p[-1] != '/'; p--) {
            /* void */
        }
    }

    if (p == last) {
        ngx_str_set(name, NGX_HTTP_LIVE_RECORD_CONSOLE_INDEX);
        return NGX_OK;
    }

    if (ngx_strlchr(p, last, '/') != NULL) {
        return NGX_DECLINED;
    }

    name->data = p;
    name->len = last - p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_live_record_console_redirect(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    uintptr_t                  escape;
    ngx_http_complex_value_t   cv;

    escape = 2 * ngx_escape_uri(NULL, r->uri.data, r->uri.len,
                                NGX_ESCAPE_URI);

    len = r->uri.len + escape + 1;

    if (r->args.len) {
        len += 1 + r->args.len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    cv.value.data = p;

    if (escape) {
        p = (u_char *) ngx_escape_uri(p, r->uri.data, r->uri.len,
                                      NGX_ESCAPE_URI);

    } else {
        p = ngx_cpymem(p, r->uri.data, r->uri.len);
    }

    *p++ = '/';

    if (r->args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, r->args.data, r->args.len);
    }

    cv.value.len = p - cv.value.data;

    return ngx_http_send_response(r, NGX_HTTP_MOVED_PERMANENTLY, NULL, &cv);
}


static ngx_table_elt_t *
ngx_http_live_record_console_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
    h->key = *key;
    h->value = *value;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return h;
}


static void *
ngx_http_live_record_console_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_live_record_console_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_live_record_console_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->api = { 0, NULL };
     *     conf->config = { 0, NULL };
     *     conf->etag = { 0, NULL };
     */

    return conf;
}


static char *
ngx_http_live_record_console(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_live_record_console_loc_conf_t *lccf = conf;

    u_char                    *p, *q, *last;
    size_t                     len;
    uint32_t                   crc;
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *clcf;

    if (lccf->api.data) {
        return "is duplicate";
    }

#if !(NGX_LIVE_RECORD_HAVE_CONSOLE)
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"live_record_console\": this build of "
                       "ngx_live_record has no web console; run \"make\" in "
                       "its source tree (it generates the console's files) "
                       "and rebuild");
    return NGX_CONF_ERROR;
#endif

    value = cf->args->elts;

    ngx_str_set(&lccf->api, "/api/");

    if (cf->args->nelts == 2) {
        if (ngx_strncmp(value[1].data, "api=", 4) != 0
            || value[1].len == 4)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", "
                               "expected \"api=URI\"", &value[1]);
            return NGX_CONF_ERROR;
        }

        lccf->api.data = value[1].data + 4;
        lccf->api.len = value[1].len - 4;

        last = lccf->api.data + lccf->api.len;

        for (p = lccf->api.data; p < last; p++) {
            if (*p <= ' ' || *p == '"' || *p == '\\' || *p == 0x7f) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid API URI \"%V\" in \"%V\"",
                                   &lccf->api, &cmd->name);
                return NGX_CONF_ERROR;
            }
        }

        if (lccf->api.data[0] != '/'
            && (lccf->api.len < sizeof("http://") - 1
                || ngx_strncasecmp(lccf->api.data, (u_char *) "http://",
                                   sizeof("http://") - 1)
                   != 0)
            && (lccf->api.len < sizeof("https://") - 1
                || ngx_strncasecmp(lccf->api.data, (u_char *) "https://",
                                   sizeof("https://") - 1)
                   != 0))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "API URI \"%V\" in \"%V\" is neither a path "
                               "nor an absolute URL",
                               &lccf->api, &cmd->name);
            return NGX_CONF_ERROR;
        }
    }

    /* {"api":"URI"}: the URI holds no character that JSON escapes */

    len = sizeof("{\"api\":\"\"}\n") - 1 + lccf->api.len;

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    lccf->config.data = p;
    lccf->config.len = ngx_sprintf(p, "{\"api\":\"%V\"}\n", &lccf->api) - p;

    q = ngx_pnalloc(cf->pool, sizeof("\"config-\"") - 1 + NGX_INT32_LEN);
    if (q == NULL) {
        return NGX_CONF_ERROR;
    }

    crc = ngx_crc32_long(lccf->config.data, lccf->config.len);

    lccf->etag.data = q;
    lccf->etag.len = ngx_sprintf(q, "\"config-%08xD\"", crc) - q;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_live_record_console_handler;

    return NGX_CONF_OK;
}
