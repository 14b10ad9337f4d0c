
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_PG_H_INCLUDED_
#define _NGX_LIVE_RECORD_PG_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <libpq-fe.h>


/*
 * PostgreSQL on nginx's event loop: a worker's few libpq connections,
 * each socket wrapped in an nginx connection, connected with
 * PQconnectStartParams/PQconnectPoll and queried with PQsendQueryParams,
 * PQconsumeInput and PQgetResult; one queue of queries for all of them;
 * reconnects with backoff.  Nothing here blocks: host names are resolved
 * at configuration time and handed to libpq as hostaddr.
 */


typedef struct ngx_live_record_pg_s        ngx_live_record_pg_t;
typedef struct ngx_live_record_pg_query_s  ngx_live_record_pg_query_t;

/*
 * res is the query's last result (PGRES_TUPLES_OK or PGRES_COMMAND_OK),
 * NULL on failure with err saying why; both belong to the client.
 */
typedef void (*ngx_live_record_pg_done_pt)(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err);

/* a new connection's setup (the schema): NGX_OK takes queries */
typedef ngx_int_t (*ngx_live_record_pg_setup_pt)(void *data, PGresult *res,
    const char *err);

struct ngx_live_record_pg_query_s {
    ngx_queue_t                  queue;
    const char                  *sql;           /* static */
    int                          nparams;
    char                       **values;        /* copies; NULL is NULL */
    ngx_live_record_pg_done_pt   done;
    void                        *data;
    unsigned                     retry:1;       /* survives a lost link */
    unsigned                     running:1;
};


/* a NOTIFY on a channel the setup LISTENs to; extra is its payload */
typedef void (*ngx_live_record_pg_notify_pt)(void *data, const char *channel,
    const char *extra);


typedef struct {
    const char                 **keys;          /* for PQconnectStartParams */
    const char                 **values;
    ngx_str_t                    name;          /* for logs: host/db */
    ngx_uint_t                   connections;
    const char                  *setup_sql;     /* may hold several */
    ngx_live_record_pg_setup_pt  setup;
    void                        *data;          /* setup's, notify's */
    ngx_live_record_pg_notify_pt notify;        /* NULL: dropped */
    ngx_msec_t                   timeout;       /* connect, each query */
} ngx_live_record_pg_conf_t;


ngx_live_record_pg_t *ngx_live_record_pg_create(ngx_cycle_t *cycle,
    ngx_live_record_pg_conf_t *conf);
void ngx_live_record_pg_destroy(ngx_live_record_pg_t *pg);

/* a connection is set up and taking queries */
ngx_uint_t ngx_live_record_pg_up(ngx_live_record_pg_t *pg);
ngx_uint_t ngx_live_record_pg_queued(ngx_live_record_pg_t *pg);

/*
 * Queues a query; the values are copied (a NULL pointer is SQL NULL).
 * A query without retry fails at once while the database is known to be
 * away (it waits for the first connection), and with its connection; one
 * with retry waits for the database, in order.
 */
ngx_live_record_pg_query_t *ngx_live_record_pg_query(ngx_live_record_pg_t *pg,
    const char *sql, int nparams, ngx_str_t *values,
    ngx_live_record_pg_done_pt done, void *data, ngx_uint_t retry);

/* libpq's message on one line, into buf; its length */
size_t ngx_live_record_pg_clean(const char *msg, u_char *buf, size_t size);

/* its done is not called; the query may still run, unseen */
void ngx_live_record_pg_cancel(ngx_live_record_pg_t *pg,
    ngx_live_record_pg_query_t *q);


#endif /* _NGX_LIVE_RECORD_PG_H_INCLUDED_ */
