
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


/*
 * record/ mirrors the task rows into the zone: tasks in tasks.json's
 * form; full: they are all (the others go), unless the zone's generation
 * moved from the one given (NGX_AGAIN: read again); else added or
 * updated
 */
typedef ngx_int_t (*ngx_live_record_cluster_tasks_pt)(struct cJSON *tasks,
    ngx_uint_t full, ngx_uint_t generation);


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

    /* shared tasks: worker 0 listens and mirrors */
    ngx_live_record_cluster_tasks_pt  tasks_mirror;
    ngx_event_t                  tasks_sync;
    ngx_live_record_pg_query_t  *tasks_query;   /* the read under way */
    ngx_uint_t                   tasks_gen;     /* the zone's, at its start */
    unsigned                     tasks_on:1;
    unsigned                     tasks_again:1;
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

/* shared tasks (ngx_live_record_cluster_tasks.c) */
void ngx_live_record_cluster_tasks(ngx_live_record_main_conf_t *lmcf,
    ngx_live_record_cluster_tasks_pt mirror);
ngx_int_t ngx_live_record_cluster_tasks_init(ngx_cycle_t *cycle,
    ngx_live_record_cluster_t *cl);
void ngx_live_record_cluster_tasks_exit(ngx_live_record_cluster_t *cl);
void ngx_live_record_cluster_tasks_connected(ngx_live_record_cluster_t *cl);
struct cJSON *ngx_live_record_cluster_task_row(PGresult *res, int row);

/* the API's writes: the row and its NOTIFY; NULL: the database is away */
ngx_live_record_pg_query_t *ngx_live_record_cluster_task_insert(
    ngx_live_record_main_conf_t *lmcf, struct cJSON *task,
    ngx_live_record_pg_done_pt done, void *data);
ngx_live_record_pg_query_t *ngx_live_record_cluster_task_stop(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *id, uint64_t now_ms,
    ngx_live_record_pg_done_pt done, void *data);
ngx_live_record_pg_query_t *ngx_live_record_cluster_task_delete(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *id,
    ngx_live_record_pg_done_pt done, void *data);

/* rows not yet written */
ngx_uint_t ngx_live_record_cluster_backlog(ngx_live_record_main_conf_t *lmcf);

/* a row written in order, idempotently; path: its spool file or NULL */
ngx_int_t ngx_live_record_cluster_insert(ngx_live_record_cluster_t *cl,
    ngx_str_t *id, ngx_str_t *text, u_char *path);

/* cluster_spool.c: a row's spool file, written and deleted in a thread */
void ngx_live_record_cluster_spool_init(ngx_live_record_cluster_t *cl);
ngx_int_t ngx_live_record_cluster_spool(ngx_live_record_cluster_t *cl,
    ngx_str_t *id, ngx_str_t *text, u_char *path);
void ngx_live_record_cluster_unspool(u_char *path);


#endif /* _NGX_LIVE_RECORD_CLUSTER_H_INCLUDED_ */
