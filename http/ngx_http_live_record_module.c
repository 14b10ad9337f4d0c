
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/crypto.h>
#include "ngx_rtmp.h"
#include "ngx_http_live_record.h"
#include "ngx_live_record_shm.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_utf8.h"


/*
 * The HTTP JSON API: live_record_api in a location.  Every request needs
 * "Authorization: Bearer TOKEN" with the token of
 * live_record_api_token_file; without that directive everything is 401.
 */


#define NGX_HTTP_LIVE_RECORD_MAX_BODY  (64 * 1024)


/* nginx-rtmp declares it in no header */
extern ngx_module_t  ngx_rtmp_module;


typedef struct {
    ngx_str_t                   token;
} ngx_http_live_record_loc_conf_t;


typedef struct {
    ngx_str_t                   name;
    ngx_http_live_record_handler_pt  handler;
} ngx_http_live_record_route_t;


static ngx_int_t ngx_http_live_record_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_live_record_auth(ngx_http_request_t *r,
    ngx_http_live_record_loc_conf_t *llcf);
static ngx_int_t ngx_http_live_record_auth_error(ngx_http_request_t *r,
    ngx_http_live_record_loc_conf_t *llcf);
static ngx_int_t ngx_http_live_record_bearer(ngx_http_request_t *r,
    ngx_str_t *token);
static void ngx_http_live_record_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_live_record_read_body(ngx_http_request_t *r,
    ngx_str_t *text);
static ngx_int_t ngx_http_live_record_route(ngx_http_request_t *r,
    cJSON *body);
static void *ngx_http_live_record_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_live_record_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_live_record_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_live_record_token_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_live_record_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_live_record_no_store(ngx_http_request_t *r);


static ngx_command_t  ngx_http_live_record_commands[] = {

    { ngx_string("live_record_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_live_record_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_api_token_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_live_record_token_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_api_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_live_record_zone,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_live_record_module_ctx = {
    NULL,                                   /* preconfiguration */
    NULL,                                   /* postconfiguration */
    NULL,                                   /* create main configuration */
    NULL,                                   /* init main configuration */
    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */
    ngx_http_live_record_create_loc_conf,   /* create location configuration */
    ngx_http_live_record_merge_loc_conf     /* merge location configuration */
};


ngx_module_t  ngx_http_live_record_module = {
    NGX_MODULE_V1,
    &ngx_http_live_record_module_ctx,       /* module context */
    ngx_http_live_record_commands,          /* module directives */
    NGX_HTTP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    ngx_http_live_record_retention_init,    /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    NULL,                                   /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_live_record_route_t  ngx_http_live_record_routes[] = {
    { ngx_string("tasks"), ngx_http_live_record_tasks },
    { ngx_string("streams"), ngx_http_live_record_streams },
    { ngx_string("files"), ngx_http_live_record_files },
    { ngx_string("concat"), ngx_http_live_record_concat },
    { ngx_null_string, NULL }
};


static ngx_int_t
ngx_http_live_record_handler(ngx_http_request_t *r)
{
    ngx_int_t                         rc;
    ngx_http_live_record_loc_conf_t  *llcf;

    llcf = ngx_http_get_module_loc_conf(r, ngx_http_live_record_module);

    if (ngx_http_live_record_auth(r, llcf) != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_live_record_auth_error(r, llcf);
    }

    if (ngx_live_record_uri_text(r->args.data, r->args.len) != NGX_OK) {
        if (ngx_http_discard_request_body(r) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_parameter",
                                          "the query string must be "
                                          "percent-encoded UTF-8 (%%XX with "
                                          "two hex digits, no %%00)");
    }

    if (!(r->method & NGX_HTTP_POST)) {

        /*
         * Only POST bodies are read; a body left unread would be read as
         * the next request.  Each resource answers 405 for a method it
         * does not take, naming those it does.
         */

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_live_record_route(r, NULL);
    }

    if (r->headers_in.content_length_n > NGX_HTTP_LIVE_RECORD_MAX_BODY) {
        ngx_http_discard_request_body(r);
        return ngx_http_live_record_error(r,
                                          NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                          "body_too_large",
                                          "request bodies are limited to "
                                          "%d bytes",
                                          NGX_HTTP_LIVE_RECORD_MAX_BODY);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_live_record_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* NGX_OK, or NGX_DECLINED: nothing is sent, the caller discards the body */

static ngx_int_t
ngx_http_live_record_auth(ngx_http_request_t *r,
    ngx_http_live_record_loc_conf_t *llcf)
{
    ngx_str_t  token;

    if (llcf->token.len == 0
        || ngx_http_live_record_bearer(r, &token) != NGX_OK
        || token.len != llcf->token.len
        || CRYPTO_memcmp(token.data, llcf->token.data, token.len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_live_record_auth_error(ngx_http_request_t *r,
    ngx_http_live_record_loc_conf_t *llcf)
{
    ngx_str_t  token;

    if (llcf->token.len == 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "live record: api request refused: no "
                      "live_record_api_token_file is configured");
        return ngx_http_live_record_error(r, NGX_HTTP_UNAUTHORIZED,
                                          "unauthorized",
                                          "no token is configured on the "
                                          "server");
    }

    if (ngx_http_live_record_bearer(r, &token) != NGX_OK) {
        return ngx_http_live_record_error(r, NGX_HTTP_UNAUTHORIZED,
                                          "unauthorized",
                                          "an \"Authorization: Bearer\" "
                                          "token is required");
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "live record: api request with a wrong token");

    return ngx_http_live_record_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                      "wrong token");
}


static ngx_int_t
ngx_http_live_record_bearer(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_str_t        *h;
    ngx_table_elt_t  *auth;

    auth = r->headers_in.authorization;

    if (auth == NULL) {
        return NGX_DECLINED;
    }

    h = &auth->value;

    if (h->len <= sizeof("Bearer ") - 1
        || ngx_strncasecmp(h->data, (u_char *) "Bearer ",
                           sizeof("Bearer ") - 1) != 0)
    {
        return NGX_DECLINED;
    }

    token->data = h->data + sizeof("Bearer ") - 1;
    token->len = h->len - (sizeof("Bearer ") - 1);

    return NGX_OK;
}


static void
ngx_http_live_record_body(ngx_http_request_t *r)
{
    cJSON      *body;
    ngx_int_t   rc;
    ngx_str_t   text;

    if (ngx_http_live_record_read_body(r, &text) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_live_record_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       "body_too_large",
                                       "request bodies are limited to %d "
                                       "bytes",
                                       NGX_HTTP_LIVE_RECORD_MAX_BODY));
        return;
    }

    /* a POST with no body is an action, like /tasks/ID/stop */

    if (text.len == 0) {
        ngx_http_finalize_request(r, ngx_http_live_record_route(r, NULL));
        return;
    }

    if (ngx_live_record_json_text_ok(text.data, text.len) != NGX_OK) {
        ngx_http_finalize_request(r,
            ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_json",
                                       "the body must be UTF-8 JSON, "
                                       "with no \\u0000 in strings"));
        return;
    }

    body = cJSON_ParseWithLength((char *) text.data, text.len);

    if (body == NULL || !cJSON_IsObject(body)) {
        cJSON_Delete(body);
        ngx_http_finalize_request(r,
            ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                       "invalid_json",
                                       "the body must be a JSON object"));
        return;
    }

    rc = ngx_http_live_record_route(r, body);

    cJSON_Delete(body);

    ngx_http_finalize_request(r, rc);
}


/* the body in one piece, from memory or from the temporary file */

static ngx_int_t
ngx_http_live_record_read_body(ngx_http_request_t *r, ngx_str_t *text)
{
    u_char       *p;
    off_t         len;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body == NULL) {
        ngx_str_set(text, "");
        return NGX_OK;
    }

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);
    }

    if (len > NGX_HTTP_LIVE_RECORD_MAX_BODY) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, len + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    text->data = p;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        b = cl->buf;

        if (b->in_file) {
            n = ngx_read_file(b->file, p, b->file_last - b->file_pos,
                              b->file_pos);
            if (n != b->file_last - b->file_pos) {
                return NGX_ERROR;
            }

            p += n;
            continue;
        }

        if (b->last > b->pos) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
        }
    }

    text->len = p - text->data;
    *p = '\0';

    return NGX_OK;
}


/* "/api/files/ID" in "location /api/" is the resource "files", rest "ID" */

static ngx_int_t
ngx_http_live_record_route(ngx_http_request_t *r, cJSON *body)
{
    u_char                        *p, *last;
    ngx_str_t                      path, name, rest;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_live_record_route_t  *rt;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    path = r->uri;

    if (
#if (NGX_PCRE)
        clcf->regex == NULL &&
#endif
        clcf->name.len <= path.len
        && ngx_strncmp(path.data, clcf->name.data, clcf->name.len) == 0)
    {
        path.data += clcf->name.len;
        path.len -= clcf->name.len;
    }

    p = path.data;
    last = path.data + path.len;

    while (p < last && *p == '/') {
        p++;
    }

    name.data = p;

    while (p < last && *p != '/') {
        p++;
    }

    name.len = p - name.data;

    if (p < last) {
        p++;
    }

    rest.data = p;
    rest.len = last - p;

    while (rest.len && rest.data[rest.len - 1] == '/') {
        rest.len--;
    }

    for (rt = ngx_http_live_record_routes; rt->handler; rt++) {
        if (rt->name.len == name.len
            && ngx_strncmp(rt->name.data, name.data, name.len) == 0)
        {
            return rt->handler(r, &rest, body);
        }
    }

    return ngx_http_live_record_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                      "no resource \"%V\": try tasks, "
                                      "streams, files or concat", &name);
}


ngx_int_t
ngx_http_live_record_send(ngx_http_request_t *r, ngx_uint_t status,
    cJSON *json)
{
    char         *text;
    size_t        len;
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);

    if (text == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(text);

    b = ngx_create_temp_buf(r->pool, len + 1);
    if (b == NULL) {
        cJSON_free(text);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->pos, text, len);
    *b->last++ = '\n';
    cJSON_free(text);

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    if (ngx_http_live_record_no_store(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_live_record_no_store(ngx_http_request_t *r)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    return NGX_OK;
}


/* 405 with the methods the resource takes, in "Allow" and in the message */

ngx_int_t
ngx_http_live_record_not_allowed(ngx_http_request_t *r, const char *allow)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Allow");
    h->value.data = (u_char *) allow;
    h->value.len = ngx_strlen(allow);

    return ngx_http_live_record_error(r, NGX_HTTP_NOT_ALLOWED,
                                      "method_not_allowed",
                                      "method %V is not allowed here, use %s",
                                      &r->method_name, allow);
}


ngx_int_t
ngx_http_live_record_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...)
{
    u_char   *p;
    cJSON    *o;
    va_list   args;
    u_char    msg[NGX_MAX_ERROR_STR];

    va_start(args, fmt);
    p = ngx_vslprintf(msg, msg + sizeof(msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    /* a message may quote the request, or be cut inside a character */
    ngx_live_record_utf8_fix(msg, p - msg);

    if (r == NULL) {
        /* work of no request's, such as an expiry: the log is all */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: %s (%s)", msg, code);
        return NGX_ERROR;
    }

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddStringToObject(o, "code", code) == NULL
        || cJSON_AddStringToObject(o, "message", (char *) msg) == NULL)
    {
        cJSON_Delete(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_live_record_send(r, status, o);
}


ngx_int_t
ngx_http_live_record_arg(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    dst = ngx_pnalloc(r->pool, raw.len + 1);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    value->data = dst;
    src = raw.data;

    ngx_unescape_uri(&dst, &src, raw.len, NGX_UNESCAPE_URI);

    *dst = '\0';
    value->len = dst - value->data;

    return NGX_OK;
}


/*
 * "from" in seconds or "from_ms" in milliseconds (ms may be NULL), not
 * both: NGX_OK with the value in ms, NGX_DECLINED when neither is given,
 * NGX_ERROR (and the error sent) when one is wrong.
 */

ngx_int_t
ngx_http_live_record_ms_arg(ngx_http_request_t *r, const char *sec,
    const char *ms, uint64_t *value, ngx_int_t *rc)
{
    off_t       n;
    ngx_str_t   s, m, *v;
    ngx_uint_t  has_s, has_m;

    has_s = (ngx_http_live_record_arg(r, sec, &s) == NGX_OK);
    has_m = (ms && ngx_http_live_record_arg(r, ms, &m) == NGX_OK);

    if (!has_s && !has_m) {
        return NGX_DECLINED;
    }

    if (has_s && has_m) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_parameter",
                                         "give \"%s\" or \"%s\", not both",
                                         sec, ms);
        return NGX_ERROR;
    }

    v = has_s ? &s : &m;

    /* up to year 9999 in ms: 14 digits */

    n = (v->len && v->len <= 14) ? ngx_atoof(v->data, v->len) : NGX_ERROR;

    if (n == NGX_ERROR || (has_s && n > 253402300799)) {
        *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                         "invalid_parameter",
                                         "\"%s\" must be unix %s",
                                         has_s ? sec : ms,
                                         has_s ? "seconds" : "milliseconds");
        return NGX_ERROR;
    }

    *value = has_s ? (uint64_t) n * 1000 : (uint64_t) n;

    return NGX_OK;
}


ngx_int_t
ngx_http_live_record_valid_id(ngx_str_t *id)
{
    return ngx_live_record_valid_name(id, 200) == NGX_OK ? NGX_OK
                                                          : NGX_DECLINED;
}


ngx_live_record_app_conf_t *
ngx_live_record_rtmp_app_conf(ngx_cycle_t *cycle, ngx_str_t *app)
{
    ngx_uint_t                   i, j;
    ngx_rtmp_conf_ctx_t         *ctx;
    ngx_rtmp_core_srv_conf_t   **cscf;
    ngx_rtmp_core_app_conf_t   **cacf;
    ngx_rtmp_core_main_conf_t   *cmcf;

    ctx = (ngx_rtmp_conf_ctx_t *) cycle->conf_ctx[ngx_rtmp_module.index];

    if (ctx == NULL) {
        return NULL;
    }

    cmcf = ctx->main_conf[ngx_rtmp_core_module.ctx_index];
    cscf = cmcf->servers.elts;

    for (i = 0; i < cmcf->servers.nelts; i++) {
        cacf = cscf[i]->applications.elts;

        for (j = 0; j < cscf[i]->applications.nelts; j++) {
            if (cacf[j]->name.len == app->len
                && ngx_strncmp(cacf[j]->name.data, app->data, app->len) == 0)
            {
                return cacf[j]->app_conf[ngx_live_record_module.ctx_index];
            }
        }
    }

    return NULL;
}


static void *
ngx_http_live_record_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_live_record_loc_conf_t  *llcf;

    llcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_live_record_loc_conf_t));
    if (llcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     llcf->token = { 0, NULL };
     */

    return llcf;
}


static char *
ngx_http_live_record_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_live_record_loc_conf_t *prev = parent;
    ngx_http_live_record_loc_conf_t *conf = child;

    ngx_conf_merge_str_value(conf->token, prev->token, "");

    return NGX_CONF_OK;
}


static char *
ngx_http_live_record_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_live_record_handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_live_record_handler;

    if (ngx_live_record_shm_add(cf, 0) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_live_record_token_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_live_record_loc_conf_t *llcf = conf;

    ngx_str_t  *value;

    if (llcf->token.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_live_record_conf_secret(cf, &value[1],
                                    "live_record_api_token_file",
                                    &llcf->token)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_live_record_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ssize_t     size;
    ngx_str_t  *value;

    value = cf->args->elts;

    size = ngx_parse_size(&value[1]);

    /* the counters of every worker slot take about 60k */

    if (size == NGX_ERROR || size < NGX_LIVE_RECORD_SHM_MIN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "live_record_api_zone \"%V\" is invalid or "
                           "smaller than %uz bytes",
                           &value[1], (size_t) NGX_LIVE_RECORD_SHM_MIN);
        return NGX_CONF_ERROR;
    }

    if (ngx_live_record_shm_add(cf, size) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A misspelt filter must not silently widen a query: every argument has
 * to be one the resource knows.  Returns NGX_DECLINED with *rc set to the
 * error sent.
 */

ngx_int_t
ngx_http_live_record_check_args(ngx_http_request_t *r, const char **allowed,
    ngx_int_t *rc)
{
    u_char       *p, *last, *name;
    size_t        len;
    const char  **a;

    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        name = p;

        while (p < last && *p != '=' && *p != '&') {
            p++;
        }

        len = p - name;

        while (p < last && *p != '&') {
            p++;
        }

        p++;

        if (len == 0) {
            continue;
        }

        for (a = allowed; *a; a++) {
            if (ngx_strlen(*a) == len
                && ngx_strncmp(*a, name, len) == 0)
            {
                break;
            }
        }

        if (*a == NULL) {
            *rc = ngx_http_live_record_error(r, NGX_HTTP_BAD_REQUEST,
                                             "unknown_parameter",
                                             "unknown query parameter "
                                             "\"%*s\"", ngx_min(len, 64),
                                             name);
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}
