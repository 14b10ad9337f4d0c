
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_CLUSTER_SESSIONS_H_INCLUDED_
#define _NGX_LIVE_RECORD_CLUSTER_SESSIONS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"
#include "ngx_live_record_pg.h"


/*
 * Sessions across nodes: a publish's end writes its session and the part
 * numbers it took to live_record_sessions (a row per stream, overwritten),
 * and a publish on any node reads it, so that a reconnect to another node
 * within the session gap joins the broadcast's session.
 */


typedef struct {
    ngx_str_t                    session;
    ngx_str_t                    node_id;
    ngx_uint_t                   parts;
    uint64_t                     stopped_ms;    /* the writer's clock */
} ngx_live_record_cluster_session_t;

/* row NULL: none (or err says why); both are the caller's for the call */
typedef void (*ngx_live_record_cluster_session_pt)(void *data,
    ngx_live_record_cluster_session_t *row, const char *err);


/* NULL: no cluster, or the database is known to be away */
ngx_live_record_pg_query_t *ngx_live_record_cluster_session_find(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *key,
    ngx_live_record_cluster_session_pt found, void *data);
void ngx_live_record_cluster_session_cancel(
    ngx_live_record_main_conf_t *lmcf, ngx_live_record_pg_query_t *q);

void ngx_live_record_cluster_session_save(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *key, ngx_str_t *session, ngx_uint_t parts, uint64_t stopped_ms,
    ngx_msec_t gap);


#endif /* _NGX_LIVE_RECORD_CLUSTER_SESSIONS_H_INCLUDED_ */
