
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <openssl/evp.h>
#include "ngx_live_record_curl.h"


#define NGX_LIVE_RECORD_CURL_RESPONSE    65536
#define NGX_LIVE_RECORD_CURL_HEADERS     16384
#define NGX_LIVE_RECORD_CURL_CHUNK       65536
#define NGX_LIVE_RECORD_CURL_MIN_BUF     4096
#define NGX_LIVE_RECORD_CURL_CACHE       32      /* idle connections kept */


/*
 * Each socket libcurl asks us to watch is wrapped in an nginx connection
 * (c->data is the driver) and linked on curl->sockets through c->queue,
 * which nginx uses only for reusable connections; these never are.
 * Events are added level-triggered: libcurl does not promise to drain a
 * socket, so edge-triggered epoll could leave a transfer waiting forever.
 */

struct ngx_live_record_curl_s {
    CURLM                     *multi;
    ngx_log_t                 *log;
    ngx_event_t                timer;     /* CURLMOPT_TIMERFUNCTION > 0 */
    ngx_event_t                kick;      /* CURLMOPT_TIMERFUNCTION == 0 */
    ngx_queue_t                requests;  /* in flight */
    ngx_queue_t                sockets;   /* watched */
    ngx_uint_t                 active;
    ngx_uint_t                 nsockets;
    unsigned                   failed:1;
    unsigned                   destroyed:1;
};


static void ngx_live_record_curl_cleanup(void *data);
static int ngx_live_record_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp);
static ngx_int_t ngx_live_record_curl_watch(ngx_event_t *ev, ngx_uint_t on,
    ngx_int_t event);
static ngx_connection_t *ngx_live_record_curl_get_connection(
    ngx_live_record_curl_t *curl, curl_socket_t s);
static void ngx_live_record_curl_free_connection(ngx_live_record_curl_t *curl,
    ngx_connection_t *c, ngx_uint_t flags);
static int ngx_live_record_curl_close_socket(void *data, curl_socket_t s);
static int ngx_live_record_curl_timer(CURLM *multi, long timeout_ms,
    void *userp);
static void ngx_live_record_curl_timer_handler(ngx_event_t *ev);
static void ngx_live_record_curl_event_handler(ngx_event_t *ev);
static void ngx_live_record_curl_action(ngx_live_record_curl_t *curl,
    curl_socket_t s, int mask);
static void ngx_live_record_curl_fail(ngx_live_record_curl_t *curl,
    CURL *easy);
static void ngx_live_record_curl_failed(ngx_live_record_curl_t *curl);
static void ngx_live_record_curl_check(ngx_live_record_curl_t *curl);

static void ngx_live_record_request_cleanup(void *data);
static ngx_int_t ngx_live_record_request_setup(ngx_live_record_request_t *r);
static ngx_int_t ngx_live_record_request_method(ngx_live_record_request_t *r);
static ngx_int_t ngx_live_record_request_headers(
    ngx_live_record_request_t *r);
static ngx_int_t ngx_live_record_request_add_header(
    ngx_live_record_request_t *r, u_char *name, size_t len, u_char *value);
static ngx_int_t ngx_live_record_request_open(ngx_live_record_request_t *r);
static u_char *ngx_live_record_request_cstr(ngx_live_record_request_t *r,
    ngx_str_t *s);
static void ngx_live_record_request_finish(ngx_live_record_request_t *r,
    CURLcode result);
static void ngx_live_record_request_stop(ngx_live_record_request_t *r);
static ngx_int_t ngx_live_record_request_append(ngx_live_record_request_t *r,
    ngx_str_t *s, size_t *size, size_t max, char *p, size_t n);
static size_t ngx_live_record_request_read(char *buf, size_t size,
    size_t nitems, void *data);
static int ngx_live_record_request_seek(void *data, curl_off_t offset,
    int origin);
static size_t ngx_live_record_request_write(char *buf, size_t size,
    size_t nmemb, void *data);
static size_t ngx_live_record_request_header(char *buf, size_t size,
    size_t nitems, void *data);


ngx_live_record_curl_t *
ngx_live_record_curl_create(ngx_cycle_t *cycle)
{
    CURLcode                 cc;
    ngx_pool_cleanup_t      *cln;
    ngx_live_record_curl_t  *curl;

    curl = ngx_pcalloc(cycle->pool, sizeof(ngx_live_record_curl_t));
    if (curl == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cc != CURLE_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "live record: curl_global_init() failed (%s)",
                      curl_easy_strerror(cc));
        return NULL;
    }

    curl->multi = curl_multi_init();
    if (curl->multi == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "live record: curl_multi_init() failed");
        curl_global_cleanup();
        return NULL;
    }

    curl->log = cycle->log;

    ngx_queue_init(&curl->requests);
    ngx_queue_init(&curl->sockets);

    curl->timer.handler = ngx_live_record_curl_timer_handler;
    curl->timer.data = curl;
    curl->timer.log = cycle->log;
    curl->timer.cancelable = 1;

    curl->kick.handler = ngx_live_record_curl_timer_handler;
    curl->kick.data = curl;
    curl->kick.log = cycle->log;
    curl->kick.cancelable = 1;

    cln->handler = ngx_live_record_curl_cleanup;
    cln->data = curl;

    (void) curl_multi_setopt(curl->multi, CURLMOPT_SOCKETFUNCTION,
                             ngx_live_record_curl_socket);
    (void) curl_multi_setopt(curl->multi, CURLMOPT_SOCKETDATA, curl);
    (void) curl_multi_setopt(curl->multi, CURLMOPT_TIMERFUNCTION,
                             ngx_live_record_curl_timer);
    (void) curl_multi_setopt(curl->multi, CURLMOPT_TIMERDATA, curl);
    (void) curl_multi_setopt(curl->multi, CURLMOPT_MAXCONNECTS,
                             (long) NGX_LIVE_RECORD_CURL_CACHE);

    return curl;
}


ngx_uint_t
ngx_live_record_curl_active(ngx_live_record_curl_t *curl)
{
    return curl->active;
}


/*
 * The cycle pool goes away as the worker exits: transfers still in flight
 * are dropped without their handlers, cached connections closed.
 */

static void
ngx_live_record_curl_cleanup(void *data)
{
    ngx_live_record_curl_t *curl = data;

    ngx_queue_t                *q;
    ngx_connection_t           *c;
    ngx_live_record_request_t  *r;

    while (!ngx_queue_empty(&curl->requests)) {
        q = ngx_queue_head(&curl->requests);
        r = ngx_queue_data(q, ngx_live_record_request_t, queue);

        ngx_live_record_request_stop(r);
    }

    curl->destroyed = 1;

    (void) curl_multi_cleanup(curl->multi);
    curl->multi = NULL;

    /* sockets libcurl closed without telling: their fds are gone */

    while (!ngx_queue_empty(&curl->sockets)) {
        q = ngx_queue_head(&curl->sockets);
        c = ngx_queue_data(q, ngx_connection_t, queue);

        ngx_live_record_curl_free_connection(curl, c, NGX_CLOSE_EVENT);
    }

    if (curl->timer.timer_set) {
        ngx_del_timer(&curl->timer);
    }

    if (curl->kick.posted) {
        ngx_delete_posted_event(&curl->kick);
    }

    curl_global_cleanup();
}


/*
 * CURLMOPT_SOCKETFUNCTION.  It never returns -1: libcurl 7.88 would mark
 * the whole multi handle dead and stop its timers.  A socket nginx cannot
 * watch fails its own transfer, once curl_multi_socket_action() returns.
 */

static int
ngx_live_record_curl_socket(CURL *easy, curl_socket_t s, int what,
    void *userp, void *socketp)
{
    ngx_live_record_curl_t *curl = userp;

    ngx_connection_t  *c;

    c = socketp;

    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, curl->log, 0,
                   "live record curl: socket %d what %d conn %p sockets %ui",
                   s, what, c, curl->nsockets);

    if (what == CURL_POLL_REMOVE) {
        if (c != NULL) {
            ngx_live_record_curl_free_connection(curl, c, 0);
        }

        return 0;
    }

    if (curl->destroyed) {
        return 0;
    }

    if (c == NULL) {
        c = ngx_live_record_curl_get_connection(curl, s);
        if (c == NULL) {
            goto failed;
        }

        if (curl_multi_assign(curl->multi, s, c) != CURLM_OK) {
            ngx_log_error(NGX_LOG_ALERT, curl->log, 0,
                          "live record: curl_multi_assign() failed");
            ngx_live_record_curl_free_connection(curl, c, 0);
            goto failed;
        }
    }

    if (ngx_live_record_curl_watch(c->read, what & CURL_POLL_IN,
                                   NGX_READ_EVENT)
        == NGX_OK
        && ngx_live_record_curl_watch(c->write, what & CURL_POLL_OUT,
                                      NGX_WRITE_EVENT)
           == NGX_OK)
    {
        return 0;
    }

failed:

    ngx_live_record_curl_fail(curl, easy);

    return 0;
}


static ngx_int_t
ngx_live_record_curl_watch(ngx_event_t *ev, ngx_uint_t on, ngx_int_t event)
{
    if (on && !ev->active) {
        /* flags 0: level-triggered, see ngx_live_record_curl_s */
        return ngx_add_event(ev, event, 0);
    }

    if (!on && ev->active) {
        return ngx_del_event(ev, event, 0);
    }

    return NGX_OK;
}


static ngx_connection_t *
ngx_live_record_curl_get_connection(ngx_live_record_curl_t *curl,
    curl_socket_t s)
{
    ngx_connection_t  *c;

    c = ngx_get_connection(s, curl->log);
    if (c == NULL) {
        return NULL;
    }

    c->data = curl;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    c->read->handler = ngx_live_record_curl_event_handler;
    c->write->handler = ngx_live_record_curl_event_handler;
    c->read->log = curl->log;
    c->write->log = curl->log;

    /*
     * Like the resolver's sockets, these belong to a cycle pool cleanup:
     * a gracefully exiting worker neither waits for them, nor closes them
     * at worker_shutdown_timeout, nor reports them as left open.
     */

    c->read->resolver = 1;

    ngx_queue_insert_tail(&curl->sockets, &c->queue);
    curl->nsockets++;

    return c;
}


/* the fd is libcurl's: only nginx's interest in it goes */

static void
ngx_live_record_curl_free_connection(ngx_live_record_curl_t *curl,
    ngx_connection_t *c, ngx_uint_t flags)
{
    if (flags == 0
        && (c->read->active || c->write->active)
        && fcntl(c->fd, F_GETFD) == -1
        && ngx_errno == NGX_EBADF)
    {
        /*
         * libcurl 7.88 closes a socket whose connect timed out before it
         * says CURL_POLL_REMOVE; the close took it out of epoll already
         */

        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, curl->log, 0,
                       "live record curl: socket %d closed before removal",
                       c->fd);

        flags = NGX_CLOSE_EVENT;
    }

    ngx_queue_remove(&c->queue);
    curl->nsockets--;

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (ngx_del_conn) {
        if (c->read->active || c->write->active) {
            (void) ngx_del_conn(c, flags);
        }

    } else {
        if (c->read->active) {
            (void) ngx_del_event(c->read, NGX_READ_EVENT, flags);
        }

        if (c->write->active) {
            (void) ngx_del_event(c->write, NGX_WRITE_EVENT, flags);
        }
    }

    ngx_free_connection(c);

    /* marks events still queued from this epoll_wait() as stale */
    c->fd = (ngx_socket_t) -1;
}


/*
 * CURLOPT_CLOSESOCKETFUNCTION: libcurl says CURL_POLL_REMOVE before it
 * closes a watched socket; should it not, the fd must leave epoll before
 * close() lets the number be reused.
 */

static int
ngx_live_record_curl_close_socket(void *data, curl_socket_t s)
{
    ngx_live_record_curl_t *curl = data;

    ngx_queue_t       *q;
    ngx_connection_t  *c;

    for (q = ngx_queue_head(&curl->sockets);
         q != ngx_queue_sentinel(&curl->sockets);
         q = ngx_queue_next(q))
    {
        c = ngx_queue_data(q, ngx_connection_t, queue);

        if (c->fd == s) {
            ngx_log_debug1(NGX_LOG_DEBUG_EVENT, curl->log, 0,
                           "live record curl: close of watched socket %d", s);

            if (curl->multi) {
                (void) curl_multi_assign(curl->multi, s, NULL);
            }

            ngx_live_record_curl_free_connection(curl, c, 0);
            break;
        }
    }

    if (ngx_close_socket(s) == -1) {
        ngx_log_error(NGX_LOG_ALERT, curl->log, ngx_socket_errno,
                      "live record: " ngx_close_socket_n " %d failed", s);
        return 1;
    }

    return 0;
}


/*
 * CURLMOPT_TIMERFUNCTION.  A zero timeout must not call back into
 * curl_multi_socket_action() from here: it is posted to the next cycle of
 * the event loop, which then does not sleep.
 */

static int
ngx_live_record_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ngx_live_record_curl_t *curl = userp;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, curl->log, 0,
                   "live record curl: timer %l", timeout_ms);

    /* ngx_add_timer() would keep an older timer less than 300ms off */

    if (curl->timer.timer_set) {
        ngx_del_timer(&curl->timer);
    }

    if (curl->kick.posted) {
        ngx_delete_posted_event(&curl->kick);
    }

    if (timeout_ms < 0 || curl->destroyed) {
        return 0;
    }

    if (timeout_ms == 0) {
        ngx_post_event(&curl->kick, &ngx_posted_next_events);
        return 0;
    }

    ngx_add_timer(&curl->timer, (ngx_msec_t) timeout_ms);

    return 0;
}


static void
ngx_live_record_curl_timer_handler(ngx_event_t *ev)
{
    ngx_live_record_curl_t *curl = ev->data;

    ngx_live_record_curl_action(curl, CURL_SOCKET_TIMEOUT, 0);
}


static void
ngx_live_record_curl_event_handler(ngx_event_t *ev)
{
    ngx_connection_t        *c;
    ngx_live_record_curl_t  *curl;

    c = ev->data;
    curl = c->data;

    ngx_live_record_curl_action(curl, c->fd,
                                ev->write ? CURL_CSELECT_OUT : CURL_CSELECT_IN);
}


static void
ngx_live_record_curl_action(ngx_live_record_curl_t *curl, curl_socket_t s,
    int mask)
{
    int        running;
    CURLMcode  mc;

    mc = curl_multi_socket_action(curl->multi, s, mask, &running);

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, curl->log, 0,
                      "live record: curl_multi_socket_action() failed (%s)",
                      curl_multi_strerror(mc));
    }

    if (curl->failed) {
        ngx_live_record_curl_failed(curl);
    }

    ngx_live_record_curl_check(curl);
}


static void
ngx_live_record_curl_fail(ngx_live_record_curl_t *curl, CURL *easy)
{
    char                       *p;
    ngx_live_record_request_t  *r;

    p = NULL;

    if (easy) {
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);
    }

    if (p == NULL) {
        ngx_log_error(NGX_LOG_ALERT, curl->log, 0,
                      "live record: socket of no request left unwatched");
        return;
    }

    r = (ngx_live_record_request_t *) p;

    r->failed = 1;
    curl->failed = 1;
}


/* a handler may start and cancel others: the walk starts over each time */

static void
ngx_live_record_curl_failed(ngx_live_record_curl_t *curl)
{
    ngx_queue_t                *q;
    ngx_live_record_request_t  *r;

    curl->failed = 0;

again:

    for (q = ngx_queue_head(&curl->requests);
         q != ngx_queue_sentinel(&curl->requests);
         q = ngx_queue_next(q))
    {
        r = ngx_queue_data(q, ngx_live_record_request_t, queue);

        if (r->failed) {
            ngx_live_record_request_finish(r, CURLE_COULDNT_CONNECT);
            goto again;
        }
    }
}


/* runs the done handlers, outside of any libcurl callback */

static void
ngx_live_record_curl_check(ngx_live_record_curl_t *curl)
{
    int                         left;
    CURL                       *easy;
    char                       *p;
    CURLMsg                    *msg;
    CURLcode                    result;
    ngx_live_record_request_t  *r;

    for ( ;; ) {
        msg = curl_multi_info_read(curl->multi, &left);
        if (msg == NULL) {
            return;
        }

        if (msg->msg != CURLMSG_DONE) {
            continue;
        }

        /* msg does not survive curl_multi_remove_handle() */

        easy = msg->easy_handle;
        result = msg->data.result;

        p = NULL;
        (void) curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p);

        if (p == NULL) {
            ngx_log_error(NGX_LOG_ALERT, curl->log, 0,
                          "live record: transfer without a request");
            (void) curl_multi_remove_handle(curl->multi, easy);
            continue;
        }

        r = (ngx_live_record_request_t *) p;

        ngx_live_record_request_finish(r, result);
    }
}


ngx_live_record_request_t *
ngx_live_record_request_create(ngx_pool_t *pool)
{
    ngx_pool_cleanup_t         *cln;
    ngx_live_record_request_t  *r;

    r = ngx_pcalloc(pool, sizeof(ngx_live_record_request_t));
    if (r == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    r->pool = pool;
    r->fd = NGX_INVALID_FILE;

    cln->handler = ngx_live_record_request_cleanup;
    cln->data = r;

    return r;
}


static void
ngx_live_record_request_cleanup(void *data)
{
    ngx_live_record_request_t *r = data;

    ngx_live_record_request_cancel(r);
}


ngx_int_t
ngx_live_record_request_start(ngx_live_record_curl_t *curl,
    ngx_live_record_request_t *r)
{
    CURLMcode  mc;

    if (r->log == NULL) {
        r->log = r->pool->log;
    }

    if (r->active || curl->destroyed || r->handler == NULL
        || r->url.len == 0)
    {
        ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                      "live record: bad request start for \"%V\"", &r->url);
        return NGX_ERROR;
    }

    r->curl = curl;

    r->rc = NGX_ERROR;
    r->status = 0;
    r->response.len = 0;
    r->response_headers.len = 0;
    r->error[0] = '\0';
    r->upload_bytes = 0;
    r->body_size = 0;
    r->body_sent = 0;
    r->file_err = 0;
    r->file_short = 0;
    r->failed = 0;

    r->easy = curl_easy_init();
    if (r->easy == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                      "live record: curl_easy_init() failed");
        return NGX_ERROR;
    }

    if (ngx_live_record_request_setup(r) != NGX_OK) {
        ngx_live_record_request_stop(r);
        return NGX_ERROR;
    }

    mc = curl_multi_add_handle(curl->multi, r->easy);

    if (mc != CURLM_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                      "live record: curl_multi_add_handle() failed (%s)",
                      curl_multi_strerror(mc));
        ngx_live_record_request_stop(r);
        return NGX_ERROR;
    }

    r->active = 1;
    ngx_queue_insert_tail(&curl->requests, &r->queue);
    curl->active++;

    ngx_log_debug3(NGX_LOG_DEBUG_EVENT, r->log, 0,
                   "live record curl: start %p %V \"%V\"",
                   r, &r->method, &r->url);

    return NGX_OK;
}


void
ngx_live_record_request_cancel(ngx_live_record_request_t *r)
{
    if (!r->active) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, r->log, 0,
                   "live record curl: cancel %p \"%V\"", r, &r->url);

    ngx_live_record_request_stop(r);
}


/* a transfer of no driver (a thread's): the easy handle set up */

ngx_int_t
ngx_live_record_request_easy(ngx_live_record_request_t *r)
{
    if (r->log == NULL) {
        r->log = r->pool->log;
    }

    r->curl = NULL;
    r->rc = NGX_ERROR;
    r->status = 0;
    r->response.len = 0;
    r->response_headers.len = 0;
    r->error[0] = '\0';

    r->easy = curl_easy_init();
    if (r->easy == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                      "live record: curl_easy_init() failed");
        return NGX_ERROR;
    }

    if (ngx_live_record_request_setup(r) != NGX_OK) {
        ngx_live_record_request_stop(r);
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_live_record_request_release(ngx_live_record_request_t *r)
{
    ngx_live_record_request_stop(r);
}


static ngx_int_t
ngx_live_record_request_setup(ngx_live_record_request_t *r)
{
    u_char  *p;
    CURL    *easy;

    easy = r->easy;

    p = ngx_live_record_request_cstr(r, &r->url);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (curl_easy_setopt(easy, CURLOPT_URL, (char *) p) != CURLE_OK) {
        ngx_log_error(NGX_LOG_ERR, r->log, 0,
                      "live record: bad url \"%V\"", &r->url);
        return NGX_ERROR;
    }

    if (curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https")
        != CURLE_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                      "live record: curl_easy_setopt(CURLOPT_PROTOCOLS_STR) "
                      "failed");
        return NGX_ERROR;
    }

    (void) curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *) r);
    (void) curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, (char *) r->error);
    (void) curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    (void) curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    (void) curl_easy_setopt(easy, CURLOPT_UPLOAD_BUFFERSIZE,
                            (long) NGX_LIVE_RECORD_CURL_CHUNK);

    (void) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) r->timeout);
    (void) curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                            (long) r->connect_timeout);

    /* a transfer with no overall limit still fails once it stalls */
    (void) curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    (void) curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, 60L);

    (void) curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION,
                            ngx_live_record_request_write);
    (void) curl_easy_setopt(easy, CURLOPT_WRITEDATA, r);
    (void) curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION,
                            ngx_live_record_request_header);
    (void) curl_easy_setopt(easy, CURLOPT_HEADERDATA, r);

    if (r->curl) {
        (void) curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION,
                                ngx_live_record_curl_close_socket);
        (void) curl_easy_setopt(easy, CURLOPT_CLOSESOCKETDATA, r->curl);
    }

    if (r->aws_sigv4.len) {
        p = ngx_live_record_request_cstr(r, &r->aws_sigv4);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (curl_easy_setopt(easy, CURLOPT_AWS_SIGV4, (char *) p)
            != CURLE_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                          "live record: curl_easy_setopt(CURLOPT_AWS_SIGV4) "
                          "failed");
            return NGX_ERROR;
        }
    }

    if (r->userpwd.len) {
        p = ngx_live_record_request_cstr(r, &r->userpwd);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (curl_easy_setopt(easy, CURLOPT_USERPWD, (char *) p) != CURLE_OK) {
            ngx_explicit_memzero(p, r->userpwd.len);
            ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                          "live record: curl_easy_setopt(CURLOPT_USERPWD) "
                          "failed");
            return NGX_ERROR;
        }

        ngx_explicit_memzero(p, r->userpwd.len);
    }

    if (ngx_live_record_request_method(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_live_record_request_headers(r);
}


/*
 * GET: nothing to send.  POST: a memory body goes as POSTFIELDS, a file
 * through the read function.  PUT: always the read function.  Others are
 * CUSTOMREQUEST, with a body as POST would send it.
 */

static ngx_int_t
ngx_live_record_request_method(ngx_live_record_request_t *r)
{
    u_char      *p;
    CURL        *easy;
    ngx_str_t   *m;
    ngx_uint_t   put, cb;

    easy = r->easy;
    m = &r->method;

    if (m->len == 0 || (m->len == 3 && ngx_strncmp(m->data, "GET", 3) == 0)) {
        (void) curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
        return NGX_OK;
    }

    if (m->len == 4 && ngx_strncmp(m->data, "HEAD", 4) == 0) {
        (void) curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
        return NGX_OK;
    }

    put = (m->len == 3 && ngx_strncmp(m->data, "PUT", 3) == 0);

    if (!put && !(m->len == 4 && ngx_strncmp(m->data, "POST", 4) == 0)) {
        p = ngx_live_record_request_cstr(r, m);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, (char *) p)
            != CURLE_OK)
        {
            ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                          "live record: curl_easy_setopt"
                          "(CURLOPT_CUSTOMREQUEST) failed");
            return NGX_ERROR;
        }

        if (r->file == NULL && r->body.len == 0) {
            return NGX_OK;
        }
    }

    cb = put || r->file != NULL;

    if (r->file) {
        if (ngx_live_record_request_open(r) != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        r->body_size = r->body.len;
    }

    if (put) {
        (void) curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
        (void) curl_easy_setopt(easy, CURLOPT_INFILESIZE_LARGE,
                                (curl_off_t) r->body_size);

    } else {
        (void) curl_easy_setopt(easy, CURLOPT_POST, 1L);

        if (!cb) {
            (void) curl_easy_setopt(easy, CURLOPT_POSTFIELDS,
                                    r->body.len ? (char *) r->body.data : "");
        }

        (void) curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                                (curl_off_t) r->body_size);
    }

    if (cb) {
        (void) curl_easy_setopt(easy, CURLOPT_READFUNCTION,
                                ngx_live_record_request_read);
        (void) curl_easy_setopt(easy, CURLOPT_READDATA, r);
        (void) curl_easy_setopt(easy, CURLOPT_SEEKFUNCTION,
                                ngx_live_record_request_seek);
        (void) curl_easy_setopt(easy, CURLOPT_SEEKDATA, r);
    }

    return NGX_OK;
}


/*
 * The caller's headers, then "Expect:" against 100-continue.
 *
 * With SigV4, libcurl 7.88 signs every header it is given, "Expect:"
 * included, though it sends none: the signature would not match, so
 * 100-continue stays, which S3 answers.  And for s3 with no
 * x-<provider>-content-sha256 of the caller's, it would sign the hash of
 * an empty payload for a body it reads through the read function: a body
 * in memory (or none) is declared with its own hash, and only a file,
 * which is streamed and not read twice, as UNSIGNED-PAYLOAD.
 */

static ngx_int_t
ngx_live_record_request_headers(ngx_live_record_request_t *r)
{
    size_t         len;
    u_char        *p, *last, *f[4], *e[4];
    u_char         hash[EVP_MAX_MD_SIZE], hex[2 * EVP_MAX_MD_SIZE + 1];
    ngx_str_t     *h;
    ngx_uint_t     i, n, k;
    unsigned int   hlen;

    h = r->headers ? r->headers->elts : NULL;
    n = r->headers ? r->headers->nelts : 0;

    for (i = 0; i < n; i++) {
        p = ngx_live_record_request_cstr(r, &h[i]);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (ngx_live_record_request_add_header(r, p, 0, NULL) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (r->aws_sigv4.len == 0) {
        if (ngx_live_record_request_add_header(r, (u_char *) "Expect:", 0,
                                               NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        goto done;
    }

    /* provider0:provider1:region:service */

    p = r->aws_sigv4.data;
    last = p + r->aws_sigv4.len;

    for (k = 0; k < 4; k++) {
        f[k] = p;
        e[k] = ngx_strlchr(p, last, ':');

        if (e[k] == NULL) {
            e[k] = last;
        }

        p = (e[k] < last) ? e[k] + 1 : last;
    }

    if (e[1] == f[1]) {
        f[1] = f[0];
        e[1] = e[0];
    }

    len = e[1] - f[1];

    if (e[3] - f[3] != 2 || ngx_strncasecmp(f[3], (u_char *) "s3", 2) != 0
        || len > 64)
    {
        goto done;
    }

    for (i = 0; i < n; i++) {
        if (h[i].len > len + sizeof("x--content-sha256") - 1
            && ngx_strncasecmp(h[i].data, (u_char *) "x-", 2) == 0
            && ngx_strncasecmp(h[i].data + 2, f[1], len) == 0
            && ngx_strncasecmp(h[i].data + 2 + len,
                               (u_char *) "-content-sha256:",
                               sizeof("-content-sha256:") - 1)
               == 0)
        {
            goto done;
        }
    }

    if (r->file) {
        p = (u_char *) "UNSIGNED-PAYLOAD";

    } else {
        if (EVP_Digest(r->body.len ? r->body.data : (u_char *) "",
                       r->body.len, hash, &hlen, EVP_sha256(), NULL)
            != 1)
        {
            ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                          "live record: EVP_Digest(sha256) failed");
            return NGX_ERROR;
        }

        *ngx_hex_dump(hex, hash, hlen) = '\0';
        p = hex;
    }

    if (ngx_live_record_request_add_header(r, f[1], len, p) != NGX_OK) {
        return NGX_ERROR;
    }

done:

    (void) curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->slist);

    return NGX_OK;
}


/*
 * With value NULL, name is a whole null-terminated header line; otherwise
 * the line "x-<name>-content-sha256: <value>" is made.
 */

static ngx_int_t
ngx_live_record_request_add_header(ngx_live_record_request_t *r,
    u_char *name, size_t len, u_char *value)
{
    u_char             *p, buf[128];
    struct curl_slist  *sl;

    p = name;

    if (value) {
        p = ngx_snprintf(buf, sizeof(buf) - 1, "x-%*s-content-sha256: %s",
                         len, name, value);
        *p = '\0';
        p = buf;
    }

    sl = curl_slist_append(r->slist, (char *) p);
    if (sl == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                      "live record: curl_slist_append() failed");
        return NGX_ERROR;
    }

    r->slist = sl;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_request_open(ngx_live_record_request_t *r)
{
    off_t            size;
    ngx_file_info_t  fi;

    r->fd = ngx_open_file(r->file, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (r->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, r->log, ngx_errno,
                      "live record: " ngx_open_file_n " \"%s\" failed",
                      r->file);
        return NGX_ERROR;
    }

    if (ngx_fd_info(r->fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, r->log, ngx_errno,
                      "live record: " ngx_fd_info_n " \"%s\" failed",
                      r->file);
        return NGX_ERROR;
    }

    size = ngx_file_size(&fi);

    if (r->file_offset < 0 || r->file_offset > size) {
        ngx_log_error(NGX_LOG_ERR, r->log, 0,
                      "live record: offset %O is beyond \"%s\" of %O bytes",
                      r->file_offset, r->file, size);
        return NGX_ERROR;
    }

    if (r->file_length <= 0) {
        r->body_size = size - r->file_offset;

    } else if (r->file_length > size - r->file_offset) {
        ngx_log_error(NGX_LOG_ERR, r->log, 0,
                      "live record: range %O+%O is beyond \"%s\" of %O bytes",
                      r->file_offset, r->file_length, r->file, size);
        return NGX_ERROR;

    } else {
        r->body_size = r->file_length;
    }

    return NGX_OK;
}


/*
 * A null-terminated copy for curl_easy_setopt() and curl_slist_append(),
 * which copy it in turn: one buffer, reused across retries.
 */

static u_char *
ngx_live_record_request_cstr(ngx_live_record_request_t *r, ngx_str_t *s)
{
    u_char  *p;
    size_t   size;

    if (s->len >= r->tmp_size) {
        size = ngx_max(s->len + 1, 256);

        p = ngx_pnalloc(r->pool, size);
        if (p == NULL) {
            return NULL;
        }

        if (r->tmp) {
            (void) ngx_pfree(r->pool, r->tmp);
        }

        r->tmp = p;
        r->tmp_size = size;
    }

    p = ngx_cpymem(r->tmp, s->data, s->len);
    *p = '\0';

    return r->tmp;
}


static void
ngx_live_record_request_finish(ngx_live_record_request_t *r, CURLcode result)
{
    long         status;
    u_char      *p, *last;
    curl_off_t   up;

    status = 0;
    up = 0;

    (void) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    (void) curl_easy_getinfo(r->easy, CURLINFO_SIZE_UPLOAD_T, &up);

    r->status = status;
    r->upload_bytes = up;

    /* libcurl writes to r->error no more */

    ngx_live_record_request_stop(r);

    if (result == CURLE_OK) {
        r->rc = NGX_OK;

    } else {
        r->rc = NGX_ERROR;

        last = r->error + CURL_ERROR_SIZE - 1;

        if (r->failed) {
            p = ngx_snprintf(r->error, last - r->error,
                             "nginx cannot watch the socket "
                             "(worker_connections are not enough?)");
            *p = '\0';

        } else if (r->file_err) {
            p = ngx_snprintf(r->error, last - r->error,
                             "pread() \"%s\" failed (%d: ",
                             r->file, r->file_err);
            p = ngx_strerror(r->file_err, p, last - p);
            p = ngx_snprintf(p, last - p, ")");
            *p = '\0';

        } else if (r->file_short) {
            p = ngx_snprintf(r->error, last - r->error,
                             "\"%s\" got shorter during the upload",
                             r->file);
            *p = '\0';

        } else if (r->error[0] == '\0') {
            p = ngx_snprintf(r->error, last - r->error, "%s",
                             curl_easy_strerror(result));
            *p = '\0';
        }
    }

    ngx_log_debug5(NGX_LOG_DEBUG_EVENT, r->log, 0,
                   "live record curl: done %p \"%V\" rc:%i status:%l \"%s\"",
                   r, &r->url, r->rc, status, r->error);

    /* may free r, or start it again */

    r->handler(r);
}


static void
ngx_live_record_request_stop(ngx_live_record_request_t *r)
{
    CURLMcode  mc;

    if (r->active) {
        mc = curl_multi_remove_handle(r->curl->multi, r->easy);

        if (mc != CURLM_OK) {
            ngx_log_error(NGX_LOG_ALERT, r->log, 0,
                          "live record: curl_multi_remove_handle() failed (%s)",
                          curl_multi_strerror(mc));
        }

        ngx_queue_remove(&r->queue);
        r->curl->active--;
        r->active = 0;
    }

    if (r->easy) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
    }

    if (r->slist) {
        curl_slist_free_all(r->slist);
        r->slist = NULL;
    }

    if (r->fd != NGX_INVALID_FILE) {
        if (ngx_close_file(r->fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_ALERT, r->log, ngx_errno,
                          "live record: " ngx_close_file_n " \"%s\" failed",
                          r->file);
        }

        r->fd = NGX_INVALID_FILE;
    }
}


/* grows s up to max bytes, doubling; the excess is dropped */

static ngx_int_t
ngx_live_record_request_append(ngx_live_record_request_t *r, ngx_str_t *s,
    size_t *size, size_t max, char *p, size_t n)
{
    u_char  *data;
    size_t   need, len;

    if (n > max - s->len) {
        n = max - s->len;
    }

    if (n == 0) {
        return NGX_OK;
    }

    need = s->len + n;

    if (need > *size) {
        len = ngx_max(*size * 2, NGX_LIVE_RECORD_CURL_MIN_BUF);

        while (len < need) {
            len *= 2;
        }

        len = ngx_min(len, max);

        data = ngx_pnalloc(r->pool, len);
        if (data == NULL) {
            return NGX_ERROR;
        }

        if (s->data) {
            ngx_memcpy(data, s->data, s->len);
            (void) ngx_pfree(r->pool, s->data);
        }

        s->data = data;
        *size = len;
    }

    ngx_memcpy(s->data + s->len, p, n);
    s->len += n;

    return NGX_OK;
}


/* CURLOPT_READFUNCTION: at most one chunk of the body per call */

static size_t
ngx_live_record_request_read(char *buf, size_t size, size_t nitems,
    void *data)
{
    ngx_live_record_request_t *r = data;

    off_t    rest;
    size_t   n;
    ssize_t  got;

    n = size * nitems;
    rest = r->body_size - r->body_sent;

    if ((off_t) n > rest) {
        n = (size_t) rest;
    }

    if (n == 0) {
        return 0;
    }

    if (r->fd == NGX_INVALID_FILE) {
        ngx_memcpy(buf, r->body.data + r->body_sent, n);
        r->body_sent += n;
        return n;
    }

    got = pread(r->fd, buf, n, r->file_offset + r->body_sent);

    if (got == -1) {
        r->file_err = ngx_errno;
        return CURL_READFUNC_ABORT;
    }

    if (got == 0) {
        r->file_short = 1;
        return CURL_READFUNC_ABORT;
    }

    r->body_sent += got;

    return got;
}


/* CURLOPT_SEEKFUNCTION: rewinds when a request is sent again */

static int
ngx_live_record_request_seek(void *data, curl_off_t offset, int origin)
{
    ngx_live_record_request_t *r = data;

    if (origin != SEEK_SET || offset < 0 || offset > r->body_size) {
        return CURL_SEEKFUNC_FAIL;
    }

    r->body_sent = offset;

    return CURL_SEEKFUNC_OK;
}


static size_t
ngx_live_record_request_write(char *buf, size_t size, size_t nmemb,
    void *data)
{
    ngx_live_record_request_t *r = data;

    size_t  max;

    max = r->max_response ? r->max_response : NGX_LIVE_RECORD_CURL_RESPONSE;

    if (ngx_live_record_request_append(r, &r->response, &r->response_size,
                                       max, buf, size * nmemb)
        != NGX_OK)
    {
        return 0;
    }

    return size * nmemb;
}


/* each status line starts over: only the final response is kept */

static size_t
ngx_live_record_request_header(char *buf, size_t size, size_t nitems,
    void *data)
{
    ngx_live_record_request_t *r = data;

    size_t  n;

    n = size * nitems;

    if (n >= 5 && ngx_strncmp(buf, "HTTP/", 5) == 0) {
        r->response_headers.len = 0;
    }

    if (ngx_live_record_request_append(r, &r->response_headers,
                                       &r->headers_size,
                                       NGX_LIVE_RECORD_CURL_HEADERS, buf, n)
        != NGX_OK)
    {
        return 0;
    }

    return n;
}
