
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_live_record_pg.h"


/*
 * Every libpq call here is one that the libpq manual lists as not
 * blocking on a nonblocking connection: PQconnectStartParams (with
 * hostaddr, so no name is looked up), PQconnectPoll, PQsendQuery(Params),
 * PQflush, PQconsumeInput, PQisBusy, PQgetResult once PQisBusy says 0.
 * The socket's events are level-triggered, as libpq wants: it may leave
 * bytes in the kernel that an edge would not announce again.
 */


#define NGX_LIVE_RECORD_PG_DOWN        0
#define NGX_LIVE_RECORD_PG_CONNECTING  1
#define NGX_LIVE_RECORD_PG_SETUP       2
#define NGX_LIVE_RECORD_PG_IDLE        3
#define NGX_LIVE_RECORD_PG_BUSY        4

#define NGX_LIVE_RECORD_PG_BACKOFF_MIN 500
#define NGX_LIVE_RECORD_PG_BACKOFF_MAX 5000


typedef struct {
    ngx_live_record_pg_t       *pg;
    PGconn                     *conn;
    ngx_connection_t           *c;
    ino_t                       ino;            /* of c->fd's socket */
    ngx_uint_t                  state;
    ngx_live_record_pg_query_t *query;
    PGresult                   *res;            /* the last one */
    char                       *err;            /* the first error */
    ngx_event_t                 timer;          /* backoff or timeout */
    ngx_msec_t                  backoff;
} ngx_live_record_pg_conn_t;


struct ngx_live_record_pg_s {
    ngx_live_record_pg_conf_t  *conf;
    ngx_log_t                  *log;
    ngx_live_record_pg_conn_t  *conns;
    ngx_queue_t                 queue;
    ngx_uint_t                  nqueued;
    ngx_uint_t                  up;
    ngx_uint_t                  down;           /* said so in the log */
    ngx_uint_t                  ever;           /* was up once */
    ngx_event_t                 run;
};


static void ngx_live_record_pg_connect(ngx_live_record_pg_conn_t *pc);
static void ngx_live_record_pg_poll(ngx_live_record_pg_conn_t *pc);
static ngx_int_t ngx_live_record_pg_wrap(ngx_live_record_pg_conn_t *pc);
static void ngx_live_record_pg_release(ngx_live_record_pg_conn_t *pc);
static ngx_int_t ngx_live_record_pg_want(ngx_live_record_pg_conn_t *pc,
    ngx_uint_t read, ngx_uint_t write);
static void ngx_live_record_pg_handler(ngx_event_t *ev);
static void ngx_live_record_pg_timer(ngx_event_t *ev);
static void ngx_live_record_pg_flush(ngx_live_record_pg_conn_t *pc);
static void ngx_live_record_pg_read(ngx_live_record_pg_conn_t *pc);
static void ngx_live_record_pg_finish(ngx_live_record_pg_conn_t *pc);
static void ngx_live_record_pg_fail(ngx_live_record_pg_conn_t *pc,
    const char *why);
static void ngx_live_record_pg_fail_waiting(ngx_live_record_pg_t *pg);
static void ngx_live_record_pg_run(ngx_event_t *ev);
static void ngx_live_record_pg_send(ngx_live_record_pg_conn_t *pc,
    ngx_live_record_pg_query_t *q);
static void ngx_live_record_pg_notice(void *arg, const char *message);


ngx_live_record_pg_t *
ngx_live_record_pg_create(ngx_cycle_t *cycle, ngx_live_record_pg_conf_t *conf)
{
    ngx_uint_t                  i;
    ngx_live_record_pg_t       *pg;
    ngx_live_record_pg_conn_t  *pc;

    pg = ngx_pcalloc(cycle->pool, sizeof(ngx_live_record_pg_t));
    if (pg == NULL) {
        return NULL;
    }

    pg->conns = ngx_pcalloc(cycle->pool, conf->connections
                                         * sizeof(ngx_live_record_pg_conn_t));
    if (pg->conns == NULL) {
        return NULL;
    }

    pg->conf = conf;
    pg->log = cycle->log;
    ngx_queue_init(&pg->queue);

    pg->run.handler = ngx_live_record_pg_run;
    pg->run.data = pg;
    pg->run.log = cycle->log;

    for (i = 0; i < conf->connections; i++) {
        pc = &pg->conns[i];
        pc->pg = pg;
        pc->backoff = NGX_LIVE_RECORD_PG_BACKOFF_MIN;
        pc->timer.handler = ngx_live_record_pg_timer;
        pc->timer.data = pc;
        pc->timer.log = cycle->log;
        pc->timer.cancelable = 1;

        ngx_live_record_pg_connect(pc);
    }

    return pg;
}


void
ngx_live_record_pg_destroy(ngx_live_record_pg_t *pg)
{
    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_live_record_pg_conn_t   *pc;
    ngx_live_record_pg_query_t  *query;

    for (i = 0; i < pg->conf->connections; i++) {
        pc = &pg->conns[i];

        if (pc->timer.timer_set) {
            ngx_del_timer(&pc->timer);
        }

        if (pc->c) {
            ngx_live_record_pg_release(pc);
        }

        if (pc->conn) {
            PQfinish(pc->conn);
            pc->conn = NULL;
        }

        if (pc->res) {
            PQclear(pc->res);
            pc->res = NULL;
        }

        ngx_free(pc->err);
        pc->err = NULL;

        if (pc->query) {
            ngx_free(pc->query);
            pc->query = NULL;
        }

        pc->state = NGX_LIVE_RECORD_PG_DOWN;
    }

    if (pg->run.posted) {
        ngx_delete_posted_event(&pg->run);
    }

    while (!ngx_queue_empty(&pg->queue)) {
        q = ngx_queue_head(&pg->queue);
        ngx_queue_remove(q);
        query = ngx_queue_data(q, ngx_live_record_pg_query_t, queue);
        ngx_free(query);
    }

    pg->nqueued = 0;
    pg->up = 0;
}


ngx_uint_t
ngx_live_record_pg_up(ngx_live_record_pg_t *pg)
{
    return pg->up;
}


ngx_uint_t
ngx_live_record_pg_queued(ngx_live_record_pg_t *pg)
{
    ngx_uint_t  i, n;

    n = pg->nqueued;

    for (i = 0; i < pg->conf->connections; i++) {
        if (pg->conns[i].query && pg->conns[i].query->retry) {
            n++;
        }
    }

    return n;
}


ngx_live_record_pg_query_t *
ngx_live_record_pg_query(ngx_live_record_pg_t *pg, const char *sql,
    int nparams, ngx_str_t *values, ngx_live_record_pg_done_pt done,
    void *data, ngx_uint_t retry)
{
    int                          i;
    size_t                       size;
    u_char                      *p;
    ngx_live_record_pg_query_t  *q;

    /* before the first connection is made, a read waits for it */

    if (!retry && pg->up == 0 && pg->down) {
        return NULL;
    }

    size = sizeof(ngx_live_record_pg_query_t) + nparams * sizeof(char *);

    for (i = 0; i < nparams; i++) {
        if (values[i].data) {
            size += values[i].len + 1;
        }
    }

    q = ngx_alloc(size, pg->log);
    if (q == NULL) {
        return NULL;
    }

    ngx_memzero(q, sizeof(ngx_live_record_pg_query_t));

    q->sql = sql;
    q->nparams = nparams;
    q->values = (char **) (q + 1);
    q->done = done;
    q->data = data;
    q->retry = retry ? 1 : 0;

    p = (u_char *) (q->values + nparams);

    for (i = 0; i < nparams; i++) {
        if (values[i].data == NULL) {
            q->values[i] = NULL;
            continue;
        }

        q->values[i] = (char *) p;
        p = ngx_cpymem(p, values[i].data, values[i].len);
        *p++ = '\0';
    }

    ngx_queue_insert_tail(&pg->queue, &q->queue);
    pg->nqueued++;

    /* done is never called before this returns */

    if (!pg->run.posted) {
        ngx_post_event(&pg->run, &ngx_posted_events);
    }

    return q;
}


void
ngx_live_record_pg_cancel(ngx_live_record_pg_t *pg,
    ngx_live_record_pg_query_t *q)
{
    if (q->running) {
        /* freed when its result comes */
        q->done = NULL;
        return;
    }

    ngx_queue_remove(&q->queue);
    pg->nqueued--;
    ngx_free(q);
}


static void
ngx_live_record_pg_connect(ngx_live_record_pg_conn_t *pc)
{
    ngx_live_record_pg_t  *pg;

    pg = pc->pg;

    pc->conn = PQconnectStartParams(pg->conf->keys, pg->conf->values, 0);

    if (pc->conn == NULL) {
        ngx_live_record_pg_fail(pc, "out of memory");
        return;
    }

    PQsetNoticeProcessor(pc->conn, ngx_live_record_pg_notice, pg);

    if (PQstatus(pc->conn) == CONNECTION_BAD) {
        ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    pc->state = NGX_LIVE_RECORD_PG_CONNECTING;
    ngx_add_timer(&pc->timer, pg->conf->timeout);

    /* the manual: first wait until the socket is writable */

    if (ngx_live_record_pg_wrap(pc) != NGX_OK
        || ngx_live_record_pg_want(pc, 0, 1) != NGX_OK)
    {
        ngx_live_record_pg_fail(pc, "the socket could not be watched");
    }
}


static void
ngx_live_record_pg_poll(ngx_live_record_pg_conn_t *pc)
{
    PostgresPollingStatusType  st;

    st = PQconnectPoll(pc->conn);

    if (st == PGRES_POLLING_FAILED) {
        ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    if (ngx_live_record_pg_wrap(pc) != NGX_OK) {
        ngx_live_record_pg_fail(pc, "the socket could not be watched");
        return;
    }

    switch (st) {

    case PGRES_POLLING_READING:
        if (ngx_live_record_pg_want(pc, 1, 0) != NGX_OK) {
            ngx_live_record_pg_fail(pc, "the socket could not be watched");
        }
        return;

    case PGRES_POLLING_WRITING:
        if (ngx_live_record_pg_want(pc, 0, 1) != NGX_OK) {
            ngx_live_record_pg_fail(pc, "the socket could not be watched");
        }
        return;

    case PGRES_POLLING_OK:
        break;

    default:
        ngx_live_record_pg_fail(pc, "unexpected connection state");
        return;
    }

    if (PQsetnonblocking(pc->conn, 1) != 0) {
        ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, pc->pg->log, 0,
                   "live record: cluster database %V: connected, setup",
                   &pc->pg->conf->name);

    pc->state = NGX_LIVE_RECORD_PG_SETUP;

    if (!PQsendQuery(pc->conn, pc->pg->conf->setup_sql)) {
        ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    ngx_live_record_pg_flush(pc);
}


/*
 * While connecting, libpq may close its socket and open another (the
 * next address, a retry without SSL), possibly with the same number: a
 * socket's inode tells them apart.  The closed one left epoll by
 * itself.
 */

static ngx_int_t
ngx_live_record_pg_wrap(ngx_live_record_pg_conn_t *pc)
{
    int                fd;
    struct stat        st;
    ngx_connection_t  *c;

    fd = PQsocket(pc->conn);

    if (fd < 0 || fstat(fd, &st) == -1) {
        return NGX_ERROR;
    }

    if (pc->c) {
        if (pc->c->fd == fd && pc->ino == st.st_ino) {
            return NGX_OK;
        }

        ngx_live_record_pg_release(pc);
    }

    c = ngx_get_connection(fd, pc->pg->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = pc;
    c->log = pc->pg->log;
    c->read->handler = ngx_live_record_pg_handler;
    c->write->handler = ngx_live_record_pg_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    pc->c = c;
    pc->ino = st.st_ino;

    return NGX_OK;
}


/* the socket is libpq's: it is about to be closed, or was */

static void
ngx_live_record_pg_release(ngx_live_record_pg_conn_t *pc)
{
    ngx_connection_t  *c;

    c = pc->c;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    c->fd = (ngx_socket_t) -1;
    ngx_free_connection(c);

    pc->c = NULL;
}


static ngx_int_t
ngx_live_record_pg_want(ngx_live_record_pg_conn_t *pc, ngx_uint_t read,
    ngx_uint_t write)
{
    ngx_connection_t  *c;

    c = pc->c;

    if (read && !c->read->active) {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!read && c->read->active) {
        if (ngx_del_event(c->read, NGX_READ_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (write && !c->write->active) {
        if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

    } else if (!write && c->write->active) {
        if (ngx_del_event(c->write, NGX_WRITE_EVENT, 0) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static void
ngx_live_record_pg_handler(ngx_event_t *ev)
{
    ngx_connection_t           *c;
    ngx_live_record_pg_conn_t  *pc;

    c = ev->data;
    pc = c->data;

    switch (pc->state) {

    case NGX_LIVE_RECORD_PG_CONNECTING:
        ngx_live_record_pg_poll(pc);
        return;

    case NGX_LIVE_RECORD_PG_SETUP:
    case NGX_LIVE_RECORD_PG_BUSY:
        if (ev->write) {
            ngx_live_record_pg_flush(pc);
            return;
        }

        ngx_live_record_pg_read(pc);
        return;

    case NGX_LIVE_RECORD_PG_IDLE:
        /* a notice, a notification, or the server going away */
        ngx_live_record_pg_read(pc);
        return;

    default:
        return;
    }
}


static void
ngx_live_record_pg_timer(ngx_event_t *ev)
{
    ngx_live_record_pg_conn_t *pc = ev->data;

    switch (pc->state) {

    case NGX_LIVE_RECORD_PG_DOWN:
        ngx_live_record_pg_connect(pc);
        return;

    case NGX_LIVE_RECORD_PG_CONNECTING:
    case NGX_LIVE_RECORD_PG_SETUP:
        ngx_live_record_pg_fail(pc, "the connection timed out");
        return;

    default:
        ngx_live_record_pg_fail(pc, "a query timed out");
        return;
    }
}


static void
ngx_live_record_pg_flush(ngx_live_record_pg_conn_t *pc)
{
    switch (PQflush(pc->conn)) {

    case 0:
        if (ngx_live_record_pg_want(pc, 1, 0) != NGX_OK) {
            ngx_live_record_pg_fail(pc, "the socket could not be watched");
        }
        return;

    case 1:
        if (ngx_live_record_pg_want(pc, 1, 1) != NGX_OK) {
            ngx_live_record_pg_fail(pc, "the socket could not be watched");
        }
        return;

    default:
        ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }
}


static void
ngx_live_record_pg_read(ngx_live_record_pg_conn_t *pc)
{
    char            *msg;
    size_t           len;
    PGnotify        *n;
    PGresult        *res;
    ExecStatusType   st;

    if (!PQconsumeInput(pc->conn)) {
        ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    while ((n = PQnotifies(pc->conn)) != NULL) {
        if (pc->pg->conf->notify) {
            /* it may queue queries, never run one here */
            pc->pg->conf->notify(pc->pg->conf->data, n->relname, n->extra);
        }

        PQfreemem(n);
    }

    if (pc->state == NGX_LIVE_RECORD_PG_IDLE) {
        if (PQstatus(pc->conn) == CONNECTION_BAD) {
            ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        }

        return;
    }

    while (!PQisBusy(pc->conn)) {
        res = PQgetResult(pc->conn);

        if (res == NULL) {
            ngx_live_record_pg_finish(pc);
            return;
        }

        st = PQresultStatus(res);

        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK
            || st == PGRES_EMPTY_QUERY)
        {
            if (pc->res) {
                PQclear(pc->res);
            }

            pc->res = res;
            continue;
        }

        if (pc->err == NULL) {
            msg = PQresultErrorMessage(res);
            len = ngx_strlen(msg) + 1;

            pc->err = ngx_alloc(len, pc->pg->log);
            if (pc->err) {
                (void) ngx_live_record_pg_clean(msg, (u_char *) pc->err,
                                                len);
            }
        }

        PQclear(res);
    }
}


/* a query's results are all in */

static void
ngx_live_record_pg_finish(ngx_live_record_pg_conn_t *pc)
{
    char                        *err;
    PGresult                    *res;
    ngx_int_t                    rc;
    ngx_live_record_pg_t        *pg;
    ngx_live_record_pg_query_t  *q;

    pg = pc->pg;

    res = pc->res;
    err = pc->err;
    pc->res = NULL;
    pc->err = NULL;

    if (err && res) {
        PQclear(res);
        res = NULL;
    }

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    if (pc->state == NGX_LIVE_RECORD_PG_SETUP) {
        rc = pg->conf->setup(pg->conf->data, res, err);

        if (res) {
            PQclear(res);
        }

        ngx_free(err);

        if (rc != NGX_OK) {
            /* the setup said why; it is not tried again soon */
            pc->backoff = NGX_LIVE_RECORD_PG_BACKOFF_MAX * 12;
            ngx_live_record_pg_fail(pc, NULL);
            return;
        }

        pc->state = NGX_LIVE_RECORD_PG_IDLE;
        pc->backoff = NGX_LIVE_RECORD_PG_BACKOFF_MIN;
        pg->up++;

        if (pg->down || !pg->ever) {
            ngx_log_error(NGX_LOG_NOTICE, pg->log, 0,
                          "live record: cluster database %V %s",
                          &pg->conf->name,
                          pg->ever ? "is back" : "connected");
        }

        pg->down = 0;
        pg->ever = 1;

        ngx_live_record_pg_run(&pg->run);
        return;
    }

    q = pc->query;
    pc->query = NULL;
    pc->state = NGX_LIVE_RECORD_PG_IDLE;

    if (q->done) {
        q->done(q, err ? NULL : res, err ? err : NULL);
    }

    ngx_free(q);

    if (res) {
        PQclear(res);
    }

    ngx_free(err);

    ngx_live_record_pg_run(&pg->run);
}


/* the link is gone or never came: why is NULL when the caller said it */

static void
ngx_live_record_pg_fail(ngx_live_record_pg_conn_t *pc, const char *why)
{
    u_char                       msg[NGX_MAX_ERROR_STR / 2];
    ngx_uint_t                   was_up;
    ngx_live_record_pg_t        *pg;
    ngx_live_record_pg_query_t  *q;

    pg = pc->pg;

    if (why) {
        (void) ngx_live_record_pg_clean(why, msg, sizeof(msg));
    }

    was_up = (pc->state == NGX_LIVE_RECORD_PG_IDLE
              || pc->state == NGX_LIVE_RECORD_PG_BUSY);

    if (was_up) {
        pg->up--;
    }

    /* one error line per outage and worker; the retries are info */

    if (pg->up == 0 && !pg->down) {
        if (why) {
            ngx_log_error(NGX_LOG_ERR, pg->log, 0,
                          "live record: cluster database %V %s: %s; "
                          "recording goes on, rows wait in the spool until "
                          "it is back", &pg->conf->name,
                          pg->ever ? "went away" : "is unreachable", msg);
        }

        pg->down = 1;

    } else if (why) {
        ngx_log_error(NGX_LOG_INFO, pg->log, 0,
                      "live record: cluster database %V: %s",
                      &pg->conf->name, msg);
    }

    if (pc->c) {
        ngx_live_record_pg_release(pc);
    }

    if (pc->conn) {
        PQfinish(pc->conn);
        pc->conn = NULL;
    }

    if (pc->res) {
        PQclear(pc->res);
        pc->res = NULL;
    }

    ngx_free(pc->err);
    pc->err = NULL;

    pc->state = NGX_LIVE_RECORD_PG_DOWN;

    if (pc->timer.timer_set) {
        ngx_del_timer(&pc->timer);
    }

    if (!ngx_exiting && !ngx_terminate) {
        ngx_add_timer(&pc->timer, pc->backoff);
    }

    pc->backoff = ngx_min(pc->backoff * 2,
                          ngx_max(pc->backoff,
                                  NGX_LIVE_RECORD_PG_BACKOFF_MAX));

    q = pc->query;
    pc->query = NULL;

    if (q) {
        q->running = 0;

        if (q->retry && q->done) {
            /* first again when a link is back: writes stay in order */
            ngx_queue_insert_head(&pg->queue, &q->queue);
            pg->nqueued++;

        } else {
            if (q->done) {
                q->done(q, NULL, "the cluster database connection was lost");
            }

            ngx_free(q);
        }
    }

    if (pg->up == 0) {
        ngx_live_record_pg_fail_waiting(pg);
    }
}


/* reads wait for no one: with no link they fail now */

static void
ngx_live_record_pg_fail_waiting(ngx_live_record_pg_t *pg)
{
    ngx_queue_t                 *q, *next;
    ngx_live_record_pg_query_t  *query;

    for (q = ngx_queue_head(&pg->queue);
         q != ngx_queue_sentinel(&pg->queue);
         q = next)
    {
        next = ngx_queue_next(q);
        query = ngx_queue_data(q, ngx_live_record_pg_query_t, queue);

        if (query->retry) {
            continue;
        }

        ngx_queue_remove(q);
        pg->nqueued--;

        if (query->done) {
            query->done(query, NULL, "the cluster database is unreachable");
        }

        ngx_free(query);

        /* done may have queued or cancelled others */
        next = ngx_queue_head(&pg->queue);
    }
}


static void
ngx_live_record_pg_run(ngx_event_t *ev)
{
    ngx_live_record_pg_t *pg = ev->data;

    ngx_uint_t                   i;
    ngx_queue_t                 *q;
    ngx_live_record_pg_conn_t   *pc;
    ngx_live_record_pg_query_t  *query;

    if (pg->up == 0) {
        if (pg->down) {
            ngx_live_record_pg_fail_waiting(pg);
        }

        return;
    }

    for (i = 0; i < pg->conf->connections; i++) {
        pc = &pg->conns[i];

        if (pc->state != NGX_LIVE_RECORD_PG_IDLE
            || ngx_queue_empty(&pg->queue))
        {
            continue;
        }

        q = ngx_queue_head(&pg->queue);
        ngx_queue_remove(q);
        pg->nqueued--;

        query = ngx_queue_data(q, ngx_live_record_pg_query_t, queue);
        ngx_live_record_pg_send(pc, query);
    }
}


static void
ngx_live_record_pg_send(ngx_live_record_pg_conn_t *pc,
    ngx_live_record_pg_query_t *q)
{
    pc->query = q;
    pc->state = NGX_LIVE_RECORD_PG_BUSY;
    q->running = 1;

    ngx_add_timer(&pc->timer, pc->pg->conf->timeout);

    if (!PQsendQueryParams(pc->conn, q->sql, q->nparams, NULL,
                           (const char * const *) q->values, NULL, NULL, 0))
    {
        ngx_live_record_pg_fail(pc, PQerrorMessage(pc->conn));
        return;
    }

    ngx_live_record_pg_flush(pc);
}


/* "relation ... already exists, skipping" and the like */

static void
ngx_live_record_pg_notice(void *arg, const char *message)
{
    ngx_log_debug2(NGX_LOG_DEBUG_EVENT, ((ngx_live_record_pg_t *) arg)->log,
                   0, "live record: cluster database %V: %s",
                   &((ngx_live_record_pg_t *) arg)->conf->name, message);
}


/* libpq's messages span lines: one log line each, NUL-terminated */

size_t
ngx_live_record_pg_clean(const char *msg, u_char *buf, size_t size)
{
    u_char  c, *p, *last;

    p = buf;
    last = buf + size - 1;

    while (*msg && p < last) {
        c = (u_char) *msg++;

        if (c == '\n' || c == '\t' || c == '\r') {
            c = ' ';
        }

        if (c == ' ' && (p == buf || p[-1] == ' ')) {
            continue;
        }

        *p++ = c;
    }

    while (p > buf && p[-1] == ' ') {
        p--;
    }

    *p = '\0';

    return p - buf;
}
