
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_CLUSTER_H_INCLUDED_
#define _NGX_LIVE_RECORD_CLUSTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"
#include "ngx_live_record_pg.h"


/*
 * live_record_cluster: several nodes share one PostgreSQL database.  The
 * schema is made and checked at start and on every new connection; every
 * index entry is also a row of live_record_files, written from the spool
 * (SPOOL/cluster/) so that none is lost while the database is away.
 */


#define NGX_LIVE_RECORD_CLUSTER_SCHEMA   2
#define NGX_LIVE_RECORD_SPOOL_CLUSTER    "cluster"

/* a node's live view is current for this long after its last beat */
#define NGX_LIVE_RECORD_CLUSTER_LIVE_TTL "10 seconds"


/* this node's live view, GET /streams' array: record/ registers it */
typedef struct cJSON *(*ngx_live_record_cluster_live_pt)(ngx_cycle_t *cycle,
    ngx_str_t *app, ngx_str_t *stream);


typedef struct {
    ngx_str_t                    url;           /* as configured */
    ngx_live_record_pg_conf_t    pg;
    ngx_uint_t                   nkeys;         /* keys[nkeys] is NULL */
    ngx_live_record_main_conf_t *lmcf;
    ngx_str_t                    instance;      /* host:conf, for node ids */
    ngx_live_record_pg_t        *client;        /* in a worker */
    ngx_str_t                    spool;         /* SPOOL/cluster */
    ngx_event_t                  heartbeat;
    ngx_live_record_cluster_live_pt  live;
    ngx_uint_t                   refused;       /* a newer schema: said */
} ngx_live_record_cluster_t;


char *ngx_live_record_cluster_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* in the master, before the workers: the schema and the node id */
ngx_int_t ngx_live_record_cluster_init_module(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf);
ngx_int_t ngx_live_record_cluster_init_process(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf);
void ngx_live_record_cluster_exit_process(ngx_live_record_main_conf_t *lmcf);

/* joins the part_done chain, registers the spool loader */
ngx_int_t ngx_live_record_cluster_postconfiguration(ngx_conf_t *cf,
    ngx_live_record_main_conf_t *lmcf);

void ngx_live_record_cluster_live_view(ngx_live_record_main_conf_t *lmcf,
    ngx_live_record_cluster_live_pt live);

/* the worker's client when the cluster is on, else NULL */
ngx_live_record_pg_t *ngx_live_record_cluster_client(
    ngx_live_record_main_conf_t *lmcf);

/* rows not yet written */
ngx_uint_t ngx_live_record_cluster_backlog(ngx_live_record_main_conf_t *lmcf);


#endif /* _NGX_LIVE_RECORD_CLUSTER_H_INCLUDED_ */
