
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_STREAM_H_INCLUDED_
#define _NGX_LIVE_RECORD_STREAM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_rtmp_cmd_module.h"
#include "ngx_live_record.h"


/*
 * One publish being recorded: which template, its segmenter (tracks, the
 * frames that wait for the first part, where parts are cut; see
 * ngx_live_record_segmenter.h), and the parts themselves.
 */


#define NGX_LIVE_RECORD_MAX_NAME     255

/* live_record_domain, and live_record_rule */
typedef struct {
    ngx_str_t                   host;           /* empty: any domain */
    ngx_str_t                   app;            /* empty: any application */
    ngx_str_t                   stream;         /* empty: any; a regex's */
    ngx_str_t                   name;           /* template, "off" */
    ngx_live_record_template_t *tpl;
#if (NGX_PCRE)
    ngx_regex_t                *regex;          /* stream=~REGEX */
#endif
    ngx_uint_t                  wildcard;       /* unsigned */
    ngx_uint_t                  rule;           /* live_record_rule */
    ngx_uint_t                  is_regex;
} ngx_live_record_domain_t;


/* what records a stream and why: see ngx_live_record_plan.c */
typedef struct {
    ngx_pool_t                 *pool;
    ngx_live_record_template_t *tpl;            /* settings */
    ngx_uint_t                  formats;
    ngx_uint_t                  ntasks;
    ngx_uint_t                  generation;     /* of the tasks it saw */
    uint64_t                    next;           /* ms: may change then */
    ngx_str_t                   signature;
    ngx_str_t                   json;           /* for GET /streams */
    ngx_str_t                   sources;        /* JSON array */
    ngx_str_t                   task_id;        /* whose settings win */
    ngx_str_t                   extension;      /* JSON text */
} ngx_live_record_plan_t;


typedef struct {
    ngx_rtmp_session_t         *s;
    ngx_live_record_main_conf_t *lmcf;
    ngx_live_record_app_conf_t *lacf;
    ngx_live_record_template_t *tpl;            /* settings, or NULL */
    ngx_live_record_template_t *conf_tpl;       /* by configuration */
    ngx_live_record_plan_t     *plan;
    void                       *recorder;       /* in the shared zone */
    ngx_uint_t                  formats;
    ngx_str_t                   rule;
    ngx_live_record_part_t     *part;
    ngx_live_record_part_t     *hls;
    ngx_live_record_part_t     *part_wait;      /* to continue */
    ngx_live_record_part_t     *hls_wait;       /* to continue */
    void                       *take;           /* from another worker */
    ngx_pid_t                   waiting;        /* a part waits there */
    ngx_queue_t                 queue;          /* in lmcf->active */

    ngx_live_record_stream_t    st;             /* st.tracks: the seg's */
    ngx_live_record_segmenter_t seg;
    u_char                      strings[3 * NGX_LIVE_RECORD_MAX_NAME + 4];
    u_char                      session_id[64];
    u_char                      rule_buf[NGX_LIVE_RECORD_MAX_NAME + 8];

    u_char                     *buf;
    size_t                      buf_size;

    ngx_uint_t                  parts;          /* the session's */
    ngx_uint_t                  logged;
    uint64_t                    session_ms;     /* joined: its end */
    void                       *lookup;         /* the cluster's session */
    ngx_event_t                 lookup_ev;

    unsigned                    active:1;
    unsigned                    dropped:1;
    unsigned                    low_space:1;
    unsigned                    hls_reopen:1;   /* ended by a write error */
    unsigned                    wait_space:1;   /* ... until there is room */

    ngx_msec_t                  retry;          /* no new part before */
} ngx_live_record_ctx_t;


ngx_int_t ngx_live_record_stream_start(ngx_rtmp_session_t *s,
    ngx_live_record_ctx_t *ctx, ngx_rtmp_publish_t *v);
void ngx_live_record_stream_av(ngx_live_record_ctx_t *ctx,
    ngx_rtmp_header_t *h, ngx_chain_t *in);
void ngx_live_record_stream_stop(ngx_live_record_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t sync);
void ngx_live_record_stream_replan(ngx_live_record_ctx_t *ctx);

/* ngx_live_record_session.c: the session a publish joins, and keeps */
void ngx_live_record_session_start(ngx_live_record_ctx_t *ctx);
void ngx_live_record_session_lookup(ngx_live_record_ctx_t *ctx);
void ngx_live_record_session_elsewhere(ngx_live_record_ctx_t *ctx);
void ngx_live_record_session_unhold(ngx_live_record_ctx_t *ctx);
void ngx_live_record_session_stop(ngx_live_record_ctx_t *ctx);
void ngx_live_record_stream_unhold(ngx_live_record_ctx_t *ctx);

ngx_live_record_plan_t *ngx_live_record_plan(ngx_live_record_ctx_t *ctx);
void ngx_live_record_plan_free(ngx_live_record_plan_t *plan);

/* the template by rule for a publish; *rule the rule that won, or NULL */
ngx_live_record_template_t *ngx_live_record_resolve(
    ngx_live_record_app_conf_t *lacf, ngx_str_t *app, ngx_str_t *host,
    ngx_str_t *name, ngx_live_record_domain_t **rule);

/* a rule as configured, for logs, events and errors */
u_char *ngx_live_record_rule_name(u_char *p, u_char *last,
    ngx_live_record_domain_t *d);

/* live_record_domain and live_record_rule */
char *ngx_live_record_conf_domain(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_live_record_conf_rule(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_uint_t ngx_live_record_plan_task_ended(ngx_live_record_plan_t *old,
    ngx_live_record_plan_t *cur);
ngx_uint_t ngx_live_record_plan_has(ngx_live_record_plan_t *plan,
    ngx_str_t *id);
ngx_int_t ngx_live_record_part_add_sources(ngx_live_record_part_t *p,
    ngx_live_record_plan_t *plan);
void ngx_live_record_plan_tick(ngx_event_t *ev);
void ngx_live_record_plan_start(ngx_live_record_main_conf_t *lmcf,
    ngx_cycle_t *cycle);


#endif /* _NGX_LIVE_RECORD_STREAM_H_INCLUDED_ */
