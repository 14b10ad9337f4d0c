
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * A session row is a hint, never something recording waits for: it is
 * written once, without retry (a row that waited for the database would
 * be stale by the time it is written, and the local memo still serves the
 * node that wrote it), and a publish reads it while its first frames are
 * held for a bounded time (ngx_live_record_session.c).  The expiry is the
 * database's clock, so that the nodes' clocks do not decide it; the end
 * time, which orders the row against the node's own memo, is the writer's.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_cluster_sessions.h"


#define NGX_LIVE_RECORD_SESSION_ID_MAX  63


static const char  ngx_live_record_cluster_session_find_sql[] =
    "SELECT session_id, node_id, parts, stopped_ms"
    " FROM live_record_sessions"
    " WHERE stream_key = $1 AND expire_at > now()";

/* rows of streams long gone go with the next write of any */
static const char  ngx_live_record_cluster_session_save_sql[] =
    "WITH gone AS (DELETE FROM live_record_sessions"
    " WHERE expire_at < now() - interval '1 day' AND stream_key <> $1)"
    " INSERT INTO live_record_sessions (stream_key, session_id, node_id,"
    " parts, stopped_ms, expire_at)"
    " VALUES ($1, $2, $3, $4::bigint, $5::bigint,"
    " now() + $6::bigint * interval '1 millisecond')"
    " ON CONFLICT (stream_key) DO UPDATE SET"
    " session_id = EXCLUDED.session_id, node_id = EXCLUDED.node_id,"
    " parts = EXCLUDED.parts, stopped_ms = EXCLUDED.stopped_ms,"
    " expire_at = EXCLUDED.expire_at";


static void ngx_live_record_cluster_session_done(
    ngx_live_record_pg_query_t *q, PGresult *res, const char *err);
static void ngx_live_record_cluster_session_saved(
    ngx_live_record_pg_query_t *q, PGresult *res, const char *err);
static ngx_int_t ngx_live_record_cluster_session_row(PGresult *res,
    ngx_live_record_cluster_session_t *row);


/* one caller, the recorder: its handler for every lookup of the worker */
static ngx_live_record_cluster_session_pt  ngx_live_record_session_found;


ngx_live_record_pg_query_t *
ngx_live_record_cluster_session_find(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *key, ngx_live_record_cluster_session_pt found, void *data)
{
    ngx_live_record_pg_t  *pg;

    pg = ngx_live_record_cluster_client(lmcf);

    if (pg == NULL) {
        return NULL;
    }

    ngx_live_record_session_found = found;

    return ngx_live_record_pg_query(pg,
                                    ngx_live_record_cluster_session_find_sql,
                                    1, key,
                                    ngx_live_record_cluster_session_done,
                                    data, 0);
}


void
ngx_live_record_cluster_session_cancel(ngx_live_record_main_conf_t *lmcf,
    ngx_live_record_pg_query_t *q)
{
    ngx_live_record_pg_t  *pg;

    pg = ngx_live_record_cluster_client(lmcf);

    if (pg && q) {
        ngx_live_record_pg_cancel(pg, q);
    }
}


static void
ngx_live_record_cluster_session_done(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err)
{
    ngx_live_record_cluster_session_t  row;

    if (err) {
        ngx_live_record_session_found(q->data, NULL, err);
        return;
    }

    switch (ngx_live_record_cluster_session_row(res, &row)) {

    case NGX_OK:
        ngx_live_record_session_found(q->data, &row, NULL);
        return;

    case NGX_DECLINED:
        ngx_live_record_session_found(q->data, NULL, NULL);
        return;

    default:
        ngx_live_record_session_found(q->data, NULL,
                                      "the session row is invalid");
    }
}


/* read as hostile: another node (or anyone with the database) wrote it */

static ngx_int_t
ngx_live_record_cluster_session_row(PGresult *res,
    ngx_live_record_cluster_session_t *row)
{
    char       *v;
    ngx_int_t   parts;
    int64_t     ms;

    if (PQntuples(res) == 0) {
        return NGX_DECLINED;
    }

    if (PQntuples(res) != 1 || PQnfields(res) != 4
        || PQgetisnull(res, 0, 0) || PQgetisnull(res, 0, 1)
        || PQgetisnull(res, 0, 2) || PQgetisnull(res, 0, 3))
    {
        return NGX_ERROR;
    }

    row->session.data = (u_char *) PQgetvalue(res, 0, 0);
    row->session.len = PQgetlength(res, 0, 0);
    row->node_id.data = (u_char *) PQgetvalue(res, 0, 1);
    row->node_id.len = PQgetlength(res, 0, 1);

    v = PQgetvalue(res, 0, 2);
    parts = ngx_atoi((u_char *) v, PQgetlength(res, 0, 2));

    v = PQgetvalue(res, 0, 3);
    ms = ngx_atoof((u_char *) v, PQgetlength(res, 0, 3));

    if (ngx_live_record_valid_name(&row->session,
                                   NGX_LIVE_RECORD_SESSION_ID_MAX)
        != NGX_OK
        || ngx_live_record_valid_name(&row->node_id, 200) != NGX_OK
        || parts == NGX_ERROR || parts > 1000000000 || ms == NGX_ERROR)
    {
        return NGX_ERROR;
    }

    row->parts = parts;
    row->stopped_ms = ms;

    return NGX_OK;
}


void
ngx_live_record_cluster_session_save(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *key, ngx_str_t *session, ngx_uint_t parts, uint64_t stopped_ms,
    ngx_msec_t gap)
{
    u_char                 num[3][NGX_INT64_LEN];
    ngx_str_t              params[6];
    ngx_live_record_pg_t  *pg;

    pg = ngx_live_record_cluster_client(lmcf);

    if (pg == NULL) {
        return;
    }

    params[0] = *key;
    params[1] = *session;
    params[2] = lmcf->node_id;

    params[3].data = num[0];
    params[3].len = ngx_sprintf(num[0], "%ui", parts) - num[0];
    params[4].data = num[1];
    params[4].len = ngx_sprintf(num[1], "%uL", stopped_ms) - num[1];
    params[5].data = num[2];
    params[5].len = ngx_sprintf(num[2], "%M", gap) - num[2];

    if (ngx_live_record_pg_query(pg, ngx_live_record_cluster_session_save_sql,
                                 6, params,
                                 ngx_live_record_cluster_session_saved, NULL,
                                 0)
        == NULL)
    {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: \"%V\": session %V not written to the "
                      "cluster database, which is away: a reconnect to "
                      "another node starts a new session", key, session);
    }
}


static void
ngx_live_record_cluster_session_saved(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err)
{
    if (err) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: a session row was not written to the "
                      "cluster database: %s", err);
    }
}
