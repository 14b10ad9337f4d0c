
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif
#include "ngx_rtmp.h"
#include "ngx_rtmp_cmd_module.h"
#include "ngx_rtmp_codec_module.h"
#include "ngx_live_record.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_upload.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_stream.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_writer.h"


/* directives inside live_record_template {} */
#define NGX_LIVE_RECORD_TPL_CONF     0x20000000

typedef struct {
    ngx_conf_post_handler_pt    post_handler;
    ngx_msec_t                  low;
    ngx_msec_t                  high;
    char                       *text;
} ngx_live_record_msec_bounds_t;


static ngx_int_t ngx_live_record_postconfiguration(ngx_conf_t *cf);
static void *ngx_live_record_create_main_conf(ngx_conf_t *cf);
static void *ngx_live_record_create_app_conf(ngx_conf_t *cf);
static char *ngx_live_record_merge_app_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_live_record_merge_paths(ngx_conf_t *cf,
    ngx_live_record_app_conf_t *conf);
static ngx_int_t ngx_live_record_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_live_record_init_process(ngx_cycle_t *cycle);
static void ngx_live_record_exit_process(ngx_cycle_t *cycle);

static char *ngx_live_record_template_block(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_live_record_set_formats(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_live_record_check_msec(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_live_record_set_segment_format(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_live_record_set_timezone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_live_record_set_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_live_record_set_notify(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_live_record_init_main_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_live_record_add_paths(ngx_conf_t *cf,
    ngx_live_record_main_conf_t *lmcf);
static char *ngx_live_record_set_template(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_live_record_template_t *ngx_live_record_find_template(
    ngx_conf_t *cf, ngx_str_t *name);

static ngx_int_t ngx_live_record_publish(ngx_rtmp_session_t *s,
    ngx_rtmp_publish_t *v);
static ngx_int_t ngx_live_record_delete_stream(ngx_rtmp_session_t *s,
    ngx_rtmp_delete_stream_t *v);
static ngx_int_t ngx_live_record_close_stream(ngx_rtmp_session_t *s,
    ngx_rtmp_close_stream_t *v);
static ngx_int_t ngx_live_record_av(ngx_rtmp_session_t *s,
    ngx_rtmp_header_t *h, ngx_chain_t *in);

static void ngx_live_record_ctx_cleanup(void *data);
static ngx_int_t ngx_live_record_part_done_last(ngx_live_record_done_t *v);


static ngx_rtmp_publish_pt        next_publish;
static ngx_rtmp_delete_stream_pt  next_delete_stream;
static ngx_rtmp_close_stream_pt   next_close_stream;


static ngx_live_record_msec_bounds_t  ngx_live_record_interval_bounds = {
    ngx_live_record_check_msec, 60000, 7200000, "between 1m and 120m"
};

static ngx_live_record_msec_bounds_t  ngx_live_record_min_duration_bounds = {
    ngx_live_record_check_msec, 0, 7200000, "between 0s and 120m"
};

static ngx_live_record_msec_bounds_t  ngx_live_record_session_gap_bounds = {
    ngx_live_record_check_msec, 0, 86400000, "between 0s and 24h"
};

static ngx_live_record_msec_bounds_t  ngx_live_record_continue_bounds = {
    ngx_live_record_check_msec, 0, 1800000, "between 0s and 1800s"
};

static ngx_live_record_msec_bounds_t  ngx_live_record_hls_continue_bounds = {
    ngx_live_record_check_msec, 0, 1800000, "between 0s and 1800s"
};

static ngx_live_record_msec_bounds_t  ngx_live_record_hls_fragment_bounds = {
    ngx_live_record_check_msec, 1000, 60000, "between 1s and 60s"
};

static ngx_conf_post_t  ngx_live_record_path_post = {
    ngx_live_record_check_path
};


static ngx_str_t  ngx_live_record_format_names[] = {
    ngx_string("mp4"),
    ngx_string("flv"),
    ngx_string("aac"),
    ngx_string("hls")
};


static ngx_conf_enum_t  ngx_live_record_checksums[] = {
    { ngx_string("off"), 0 },
    { ngx_string("sha256"), 1 },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_live_record_commands[] = {

    { ngx_string("live_record_template"),
      NGX_RTMP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_live_record_template_block,
      NGX_RTMP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_formats"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_1MORE,
      ngx_live_record_set_formats,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, formats),
      NULL },

    { ngx_string("live_record_interval"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, interval),
      &ngx_live_record_interval_bounds },

    { ngx_string("live_record_min_duration"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, min_duration),
      &ngx_live_record_min_duration_bounds },

    { ngx_string("live_record_session_gap"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, session_gap),
      &ngx_live_record_session_gap_bounds },

    { ngx_string("live_record_continue"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, continue_window),
      &ngx_live_record_continue_bounds },

    { ngx_string("live_record_hls_continue"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, hls_continue),
      &ngx_live_record_hls_continue_bounds },

    { ngx_string("live_record_hls_fragment"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, hls_fragment),
      &ngx_live_record_hls_fragment_bounds },

    { ngx_string("live_record_hls_segment_format"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_live_record_set_segment_format,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_keep"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, keep),
      NULL },

    { ngx_string("live_record_path"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_template_t, path),
      &ngx_live_record_path_post },

    { ngx_string("live_record_timezone"),
      NGX_LIVE_RECORD_TPL_CONF|NGX_CONF_TAKE1,
      ngx_live_record_set_timezone,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_live_record_set_template,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_domain"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE2,
      ngx_live_record_conf_domain,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_rule"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE23,
      ngx_live_record_conf_rule,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_store"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_2MORE,
      ngx_live_record_set_store,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_work_path"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_app_conf_t, work),
      NULL },

    { ngx_string("live_record_tasks"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_app_conf_t, tasks),
      NULL },

    { ngx_string("live_record_checksum"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_app_conf_t, checksum),
      &ngx_live_record_checksums },

    { ngx_string("live_record_keep_local"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_app_conf_t, keep_local),
      NULL },

    { ngx_string("live_record_min_free"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_off_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_app_conf_t, min_free),
      NULL },

    { ngx_string("live_record_notify"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_1MORE,
      ngx_live_record_set_notify,
      NGX_RTMP_APP_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_notify_retry"),
      NGX_RTMP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_RTMP_MAIN_CONF_OFFSET,
      offsetof(ngx_live_record_main_conf_t, notify_retry),
      NULL },

    { ngx_string("live_record_spool"),
      NGX_RTMP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_MAIN_CONF_OFFSET,
      offsetof(ngx_live_record_main_conf_t, spool),
      NULL },

    { ngx_string("live_record_index"),
      NGX_RTMP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_MAIN_CONF_OFFSET,
      offsetof(ngx_live_record_main_conf_t, index),
      NULL },

    { ngx_string("live_record_node_id"),
      NGX_RTMP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_MAIN_CONF_OFFSET,
      offsetof(ngx_live_record_main_conf_t, node_id),
      NULL },

    { ngx_string("live_record_cluster"),
      NGX_RTMP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_live_record_cluster_conf,
      NGX_RTMP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("live_record_thread_pool"),
      NGX_RTMP_MAIN_CONF|NGX_RTMP_SRV_CONF|NGX_RTMP_APP_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_RTMP_APP_CONF_OFFSET,
      offsetof(ngx_live_record_app_conf_t, thread_pool_name),
      NULL },

      ngx_null_command
};


static ngx_rtmp_module_t  ngx_live_record_module_ctx = {
    NULL,                                   /* preconfiguration */
    ngx_live_record_postconfiguration,      /* postconfiguration */
    ngx_live_record_create_main_conf,       /* create main configuration */
    ngx_live_record_init_main_conf,         /* init main configuration */
    NULL,                                   /* create server configuration */
    NULL,                                   /* merge server configuration */
    ngx_live_record_create_app_conf,        /* create app configuration */
    ngx_live_record_merge_app_conf          /* merge app configuration */
};


ngx_module_t  ngx_live_record_module = {
    NGX_MODULE_V1,
    &ngx_live_record_module_ctx,            /* module context */
    ngx_live_record_commands,               /* module directives */
    NGX_RTMP_MODULE,                        /* module type */
    NULL,                                   /* init master */
    ngx_live_record_init_module,            /* init module */
    ngx_live_record_init_process,           /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    ngx_live_record_exit_process,           /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


/* configuration */


static void *
ngx_live_record_create_main_conf(ngx_conf_t *cf)
{
    ngx_live_record_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_live_record_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->templates, cf->pool, 4,
                       sizeof(ngx_live_record_template_t *))
        != NGX_OK
        || ngx_array_init(&lmcf->stores, cf->pool, 4,
                          sizeof(ngx_live_record_app_conf_t *))
           != NGX_OK
        || ngx_array_init(&lmcf->receivers, cf->pool, 4,
                          sizeof(ngx_live_record_receiver_t *))
           != NGX_OK
        || ngx_array_init(&lmcf->remote, cf->pool, 4,
                          sizeof(ngx_live_record_store_t *))
           != NGX_OK)
    {
        return NULL;
    }

    lmcf->notify_retry = NGX_CONF_UNSET_MSEC;

    ngx_queue_init(&lmcf->active);
    ngx_queue_init(&lmcf->waiting);
    ngx_queue_init(&lmcf->uploads);

    lmcf->busy.ev.handler = ngx_live_record_busy_handler;
    lmcf->busy.ev.data = &lmcf->busy;
    lmcf->busy.ev.log = &cf->cycle->new_log;

    return lmcf;
}


static void *
ngx_live_record_create_app_conf(ngx_conf_t *cf)
{
    ngx_live_record_app_conf_t  *lacf;

    lacf = ngx_pcalloc(cf->pool, sizeof(ngx_live_record_app_conf_t));
    if (lacf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     lacf->template_name = { 0, NULL };
     *     lacf->tpl = NULL;
     *     lacf->store.path = { 0, NULL };
     *     lacf->work = { 0, NULL };
     *     lacf->thread_pool_name = { 0, NULL };
     */

    lacf->domains = NGX_CONF_UNSET_PTR;
    lacf->notify = NGX_CONF_UNSET_PTR;
    lacf->keep_local = NGX_CONF_UNSET;
    lacf->checksum = NGX_CONF_UNSET_UINT;
    lacf->tasks = NGX_CONF_UNSET;
    lacf->min_free = NGX_CONF_UNSET;
    lacf->store.type = NGX_CONF_UNSET_UINT;

    return lacf;
}


static char *
ngx_live_record_merge_app_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_live_record_app_conf_t *prev = parent;
    ngx_live_record_app_conf_t *conf = child;

    u_char                      rule[NGX_MAX_CONF_ERRSTR];
    ngx_uint_t                  i;
    ngx_live_record_domain_t   *d;

    if (conf->template_name.data == NULL) {
        conf->template_name = prev->template_name;
        conf->file = prev->file;
        conf->line = prev->line;
        conf->inherited = 1;
    }

    /* unset stays unset: "on" where something records by configuration */

    if (conf->tasks == NGX_CONF_UNSET) {
        conf->tasks = prev->tasks;
    }

    ngx_conf_merge_ptr_value(conf->domains, prev->domains, NULL);
    ngx_conf_merge_ptr_value(conf->notify, prev->notify, NULL);
    ngx_conf_merge_value(conf->keep_local, prev->keep_local, 0);
    ngx_conf_merge_uint_value(conf->checksum, prev->checksum, 1);
    ngx_conf_merge_off_value(conf->min_free, prev->min_free,
                             100 * 1024 * 1024);

    if (conf->store.type == NGX_CONF_UNSET_UINT) {
        conf->store = prev->store;
    }

    if (conf->store.type == NGX_CONF_UNSET_UINT) {
        conf->store.type = NGX_LIVE_RECORD_STORE_LOCAL;
    }

    ngx_conf_merge_str_value(conf->store.path, prev->store.path,
                             "live_record_store");

    if (conf->store.name.len == 0) {
        conf->store.name = conf->store.path;
    }
    ngx_conf_merge_str_value(conf->work, prev->work, "live_record_work");
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "default");

    conf->tpl = NULL;

    if (conf->template_name.data
        && ngx_strcmp(conf->template_name.data, "off") != 0)
    {
        conf->tpl = ngx_live_record_find_template(cf, &conf->template_name);

        if (conf->tpl == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown live_record_template \"%V\" "
                          "in \"live_record\" in %s:%ui",
                          &conf->template_name, conf->file, conf->line);
            return NGX_CONF_ERROR;
        }
    }

    if (conf->domains) {
        d = conf->domains->elts;

        for (i = 0; i < conf->domains->nelts; i++) {
            if (d[i].name.len == 3
                && ngx_strncmp(d[i].name.data, "off", 3) == 0)
            {
                continue;
            }

            d[i].tpl = ngx_live_record_find_template(cf, &d[i].name);

            if (d[i].tpl == NULL) {
                ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                              "unknown live_record_template \"%V\" "
                              "in \"live_record_%*s\"", &d[i].name,
                              ngx_live_record_rule_name(rule, rule
                                                        + sizeof(rule), &d[i])
                              - rule, rule);
                return NGX_CONF_ERROR;
            }
        }
    }

    conf->tasks_on = (conf->tasks == NGX_CONF_UNSET)
                     ? (conf->tpl || conf->domains) : (ngx_uint_t) conf->tasks;

    if (conf->tpl == NULL && conf->domains == NULL && !conf->tasks_on) {
        return NGX_CONF_OK;
    }

    if (ngx_live_record_merge_paths(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* paths and the thread pool exist only where something may record */

static ngx_int_t
ngx_live_record_merge_paths(ngx_conf_t *cf, ngx_live_record_app_conf_t *conf)
{
    ngx_path_t                    *path;
    ngx_live_record_store_t      **sp;
    ngx_live_record_app_conf_t   **pc;
    ngx_live_record_main_conf_t   *lmcf;

    if (ngx_conf_full_name(cf->cycle, &conf->store.path, 0) != NGX_OK
        || ngx_conf_full_name(cf->cycle, &conf->work, 0) != NGX_OK)
    {
        return NGX_ERROR;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_ERROR;
    }

    path->name = conf->store.path;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_ERROR;
    }

    path->name = conf->work;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_ERROR;
    }

#if (NGX_THREADS)
    conf->thread_pool = ngx_thread_pool_add(cf, &conf->thread_pool_name);
    if (conf->thread_pool == NULL) {
        return NGX_ERROR;
    }

    /* an upload's part hashes are read there */
    conf->store.thread_pool = conf->thread_pool;
#endif

    lmcf = ngx_rtmp_conf_get_module_main_conf(cf, ngx_live_record_module);

    pc = ngx_array_push(&lmcf->stores);
    if (pc == NULL) {
        return NGX_ERROR;
    }

    *pc = conf;

    if (conf->store.type != NGX_LIVE_RECORD_STORE_LOCAL) {
        sp = ngx_array_push(&lmcf->remote);
        if (sp == NULL) {
            return NGX_ERROR;
        }

        *sp = &conf->store;
    }

    return NGX_OK;
}


static ngx_live_record_template_t *
ngx_live_record_find_template(ngx_conf_t *cf, ngx_str_t *name)
{
    return ngx_live_record_template(
               ngx_rtmp_conf_get_module_main_conf(cf, ngx_live_record_module),
               name);
}


static char *
ngx_live_record_template_block(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_live_record_main_conf_t *lmcf = conf;

    char                         *rv;
    ngx_str_t                    *value;
    ngx_conf_t                    save;
    ngx_rtmp_conf_ctx_t          *ctx, *pctx;
    ngx_live_record_template_t   *tpl, **tp;

    value = cf->args->elts;

    if (ngx_live_record_find_template(cf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate live_record_template \"%V\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    if (value[1].len == 3 && ngx_strncmp(value[1].data, "off", 3) == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"off\" cannot name a live_record_template");
        return NGX_CONF_ERROR;
    }

    tpl = ngx_pcalloc(cf->pool, sizeof(ngx_live_record_template_t));
    if (tpl == NULL) {
        return NGX_CONF_ERROR;
    }

    tpl->name = value[1];
    tpl->interval = NGX_CONF_UNSET_MSEC;
    tpl->min_duration = NGX_CONF_UNSET_MSEC;
    tpl->session_gap = NGX_CONF_UNSET_MSEC;
    tpl->continue_window = NGX_CONF_UNSET_MSEC;
    tpl->hls_continue = NGX_CONF_UNSET_MSEC;
    tpl->hls_fragment = NGX_CONF_UNSET_MSEC;
    tpl->keep = NGX_CONF_UNSET;

    tp = ngx_array_push(&lmcf->templates);
    if (tp == NULL) {
        return NGX_CONF_ERROR;
    }

    *tp = tpl;

    pctx = cf->ctx;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_rtmp_conf_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->main_conf = pctx->main_conf;
    ctx->srv_conf = pctx->srv_conf;
    ctx->app_conf = ngx_pcalloc(cf->pool, sizeof(void *) * ngx_rtmp_max_module);
    if (ctx->app_conf == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->app_conf[ngx_live_record_module.ctx_index] = tpl;

    save = *cf;
    cf->ctx = ctx;
    cf->cmd_type = NGX_LIVE_RECORD_TPL_CONF;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (tpl->formats == 0) {
        tpl->formats = 1 << NGX_LIVE_RECORD_MP4;
    }

    ngx_conf_init_msec_value(tpl->interval, 30 * 60000);
    ngx_conf_init_msec_value(tpl->min_duration, 2000);
    ngx_conf_init_msec_value(tpl->session_gap, 60000);
    ngx_conf_init_msec_value(tpl->continue_window, 0);
    ngx_conf_init_msec_value(tpl->hls_continue, 0);
    ngx_conf_init_msec_value(tpl->hls_fragment, 10000);
    ngx_conf_init_value(tpl->keep, 0);

    if (tpl->path.data == NULL) {
        ngx_str_set(&tpl->path,
                    "$app/$name/%Y%m%d/$name-%Y%m%d%H%M%S-$part");
    }

    if (tpl->min_duration > tpl->interval) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"live_record_min_duration\" is longer than "
                           "\"live_record_interval\" in "
                           "live_record_template \"%V\"", &tpl->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_live_record_set_formats(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char  *p = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, f, *formats;

    formats = (ngx_uint_t *) (p + cmd->offset);

    if (*formats) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        for (f = 0; f < NGX_LIVE_RECORD_NFORMATS; f++) {
            if (value[i].len == ngx_live_record_format_names[f].len
                && ngx_strncmp(value[i].data,
                               ngx_live_record_format_names[f].data,
                               value[i].len) == 0)
            {
                break;
            }
        }

        if (f == NGX_LIVE_RECORD_NFORMATS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown format \"%V\" in "
                               "\"live_record_formats\", "
                               "expected mp4, flv, aac or hls", &value[i]);
            return NGX_CONF_ERROR;
        }

        *formats |= 1 << f;
    }

    return NGX_CONF_OK;
}


static char *
ngx_live_record_check_msec(ngx_conf_t *cf, void *post, void *data)
{
    ngx_live_record_msec_bounds_t *b = post;
    ngx_msec_t                    *v = data;

    ngx_str_t  *value;

    if (*v >= b->low && *v <= b->high) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"%V\" must be %s, not \"%V\"",
                       &value[0], b->text, &value[1]);

    return NGX_CONF_ERROR;
}


/* MPEG-TS is the one segment format for now; fMP4 is refused clearly */

static char *
ngx_live_record_set_segment_format(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t  *value;

    value = cf->args->elts;

    if (value[1].len == 2 && ngx_strncmp(value[1].data, "ts", 2) == 0) {
        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unsupported \"live_record_hls_segment_format\" "
                       "\"%V\": only ts segments are supported", &value[1]);

    return NGX_CONF_ERROR;
}


/* live_record_timezone utc | local | +HH:MM | -HH:MM; */

static char *
ngx_live_record_set_timezone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_live_record_template_t *tpl = conf;

    u_char     *p;
    ngx_str_t  *value;
    ngx_int_t   h, m;

    value = cf->args->elts;
    p = value[1].data;

    tpl->tz_offset = 0;
    tpl->tz_local = 0;

    if (value[1].len == 3 && ngx_strncasecmp(p, (u_char *) "utc", 3) == 0) {
        return NGX_CONF_OK;
    }

    if (value[1].len == 5 && ngx_strncmp(p, "local", 5) == 0) {
        tpl->tz_local = 1;
        return NGX_CONF_OK;
    }

    if (value[1].len == 6 && (p[0] == '+' || p[0] == '-') && p[3] == ':') {
        h = ngx_atoi(p + 1, 2);
        m = ngx_atoi(p + 4, 2);

        if (h != NGX_ERROR && m != NGX_ERROR && h <= 14 && m <= 59
            && h * 60 + m <= 14 * 60)
        {
            tpl->tz_offset = (h * 3600 + m * 60) * (p[0] == '-' ? -1 : 1);
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"live_record_timezone\" must be utc, local or an "
                       "offset from -14:00 to +14:00 such as +08:00, "
                       "not \"%V\"", &value[1]);

    return NGX_CONF_ERROR;
}


static char *
ngx_live_record_set_template(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_live_record_app_conf_t *lacf = conf;

    ngx_str_t  *value;

    if (lacf->template_name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    lacf->template_name = value[1];
    lacf->file = cf->conf_file->file.name.data;
    lacf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static char *
ngx_live_record_set_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_live_record_app_conf_t *lacf = conf;

    if (lacf->store.type != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    return ngx_live_record_store_conf(cf, &lacf->store);
}


static char *
ngx_live_record_set_notify(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    return ngx_live_record_notify_conf(cf, conf);
}


static ngx_int_t
ngx_live_record_init_module(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_file_info_t                store, work;
    ngx_rtmp_conf_ctx_t           *ctx;
    ngx_live_record_app_conf_t   **pc;
    u_char                        *p, av[NGX_INT_T_LEN * 3 + 3];
    ngx_live_record_main_conf_t   *lmcf;

    if (!ngx_test_config) {
        /* which build runs, for bug reports: at every start and reload */
        p = ngx_live_record_avformat_version(av, av + sizeof(av) - 1);
        *p = '\0';

        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "live record: ngx_live_record/%s (nginx/%s, "
                      "libavformat %s)", NGX_LIVE_RECORD_VERSION,
                      NGINX_VERSION, av);
    }

    ctx = (ngx_rtmp_conf_ctx_t *) cycle->conf_ctx[ngx_rtmp_module.index];
    if (ctx == NULL) {
        return NGX_OK;
    }

    lmcf = ctx->main_conf[ngx_live_record_module.ctx_index];
    pc = lmcf->stores.elts;

    if (lmcf->stores.nelts) {
        (void) ngx_live_record_tasks_load(cycle, &lmcf->spool);
    }

    if (ngx_live_record_cluster_init_module(cycle, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    for (i = 0; i < lmcf->stores.nelts; i++) {
        if (ngx_file_info(pc[i]->store.path.data, &store) == NGX_FILE_ERROR
            || ngx_file_info(pc[i]->work.data, &work) == NGX_FILE_ERROR)
        {
            continue;
        }

        if (store.st_dev != work.st_dev) {
            ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                          "live record: live_record_work_path \"%V\" and "
                          "live_record_store \"%V\" are on different "
                          "filesystems: finished parts will be copied, "
                          "not renamed", &pc[i]->work, &pc[i]->store.path);
        }
    }

    return NGX_OK;
}


static char *
ngx_live_record_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_live_record_main_conf_t *lmcf = conf;

    u_char      *p, c;
    ngx_uint_t   i;

    ngx_conf_init_msec_value(lmcf->notify_retry, 24 * 3600 * 1000);

    if (lmcf->node_id.data == NULL && lmcf->cluster) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "live_record_cluster needs live_record_node_id: "
                           "each node of a cluster names itself, uniquely");
        return NGX_CONF_ERROR;
    }

    if (lmcf->node_id.data == NULL) {
        lmcf->node_id = cf->cycle->hostname;
    }

    /* the node id goes into file ids and event ids: keep it plain */

    p = ngx_pnalloc(cf->pool, lmcf->node_id.len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < lmcf->node_id.len; i++) {
        c = lmcf->node_id.data[i];
        p[i] = ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')
                || (c >= 'A' && c <= 'Z') || c == '.' || c == '-')
               ? c : '_';
    }

    lmcf->node_id.data = p;

    if (lmcf->spool.data == NULL) {
        ngx_str_set(&lmcf->spool, "live_record_spool");
    }

    if (lmcf->index.data == NULL) {
        ngx_str_set(&lmcf->index, "live_record_index");
    }

    if (ngx_conf_full_name(cf->cycle, &lmcf->spool, 0) != NGX_OK
        || ngx_conf_full_name(cf->cycle, &lmcf->index, 0) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* tasks and /streams: the zone exists wherever the module does */

    if (ngx_live_record_shm_add(cf, 0) == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the spool and the index exist only where something records */

static ngx_int_t
ngx_live_record_add_paths(ngx_conf_t *cf, ngx_live_record_main_conf_t *lmcf)
{
    ngx_path_t  *path;

    if (lmcf->stores.nelts == 0) {
        return NGX_OK;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_ERROR;
    }

    path->name = lmcf->spool;

    if (ngx_add_path(cf, &path) != NGX_OK) {
        return NGX_ERROR;
    }

    path = ngx_pcalloc(cf->pool, sizeof(ngx_path_t));
    if (path == NULL) {
        return NGX_ERROR;
    }

    path->name = lmcf->index;

    return ngx_add_path(cf, &path);
}


static ngx_int_t
ngx_live_record_init_process(ngx_cycle_t *cycle)
{
    ngx_rtmp_conf_ctx_t          *ctx;
    ngx_live_record_main_conf_t  *lmcf;

    /* the cache manager and loader run init_process too: nothing of ours */

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    ngx_live_record_writer_init();
    ngx_live_record_stats_init(cycle);

    ctx = (ngx_rtmp_conf_ctx_t *) cycle->conf_ctx[ngx_rtmp_module.index];
    if (ctx == NULL) {
        return NGX_OK;
    }

    lmcf = ctx->main_conf[ngx_live_record_module.ctx_index];

    if (lmcf->stores.nelts == 0) {
        return NGX_OK;
    }

    /* before notify's first spool scan, which hands it spooled rows */

    if (ngx_live_record_cluster_init_process(cycle, lmcf) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "live record: the cluster client could not start");
    }

    if (ngx_live_record_notify_init(cycle, lmcf) != NGX_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "live record: notify could not start, events are "
                      "only spooled");
    }

    ngx_live_record_plan_start(lmcf, cycle);

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_postconfiguration(ngx_conf_t *cf)
{
    ngx_rtmp_handler_pt          *h;
    ngx_rtmp_core_main_conf_t    *cmcf;
    ngx_live_record_main_conf_t  *lmcf;

    cmcf = ngx_rtmp_conf_get_module_main_conf(cf, ngx_rtmp_core_module);

    h = ngx_array_push(&cmcf->events[NGX_RTMP_MSG_AUDIO]);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_live_record_av;

    h = ngx_array_push(&cmcf->events[NGX_RTMP_MSG_VIDEO]);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_live_record_av;

    next_publish = ngx_rtmp_publish;
    ngx_rtmp_publish = ngx_live_record_publish;

    next_delete_stream = ngx_rtmp_delete_stream;
    ngx_rtmp_delete_stream = ngx_live_record_delete_stream;

    next_close_stream = ngx_rtmp_close_stream;
    ngx_rtmp_close_stream = ngx_live_record_close_stream;

    /* the part_done chain: its end here, then who hears of a file */

    ngx_live_record_part_done = ngx_live_record_part_done_last;

    if (ngx_live_record_notify_postconfiguration(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    lmcf = ngx_rtmp_conf_get_module_main_conf(cf, ngx_live_record_module);

    if (ngx_live_record_cluster_postconfiguration(cf, lmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the cluster's /streams: each node publishes its own */

    ngx_live_record_cluster_live_view(lmcf, ngx_live_record_recorders);

    /* and mirrors the cluster's tasks into its zone */

    ngx_live_record_cluster_tasks(lmcf, ngx_live_record_tasks_mirror);

    /* uploads that wait and parts open at a crash are in the spool too */

    if (ngx_live_record_spool_loader(cf, lmcf,
                                     NGX_LIVE_RECORD_SPOOL_HANDOFF,
                                     ngx_live_record_upload_load)
        != NGX_OK
        || ngx_live_record_spool_loader(cf, lmcf,
                                        NGX_LIVE_RECORD_SPOOL_OPEN,
                                        ngx_live_record_recover_load)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_live_record_add_paths(cf, lmcf);
}


static void
ngx_live_record_exit_process(ngx_cycle_t *cycle)
{
    ngx_queue_t                  *q;
    ngx_rtmp_conf_ctx_t          *ctx;
    ngx_live_record_ctx_t        *lctx;
    ngx_live_record_main_conf_t  *lmcf;

    ctx = (ngx_rtmp_conf_ctx_t *) cycle->conf_ctx[ngx_rtmp_module.index];
    if (ctx == NULL) {
        return;
    }

    lmcf = ctx->main_conf[ngx_live_record_module.ctx_index];

    ngx_live_record_threads_gone = 1;

    /* the thread pools are gone by now: finish in this thread */

    ngx_live_record_threads_gone = 1;

    /* what the pools sent back and waits for its turn runs first */

    ngx_live_record_pace_flush();

    while (!ngx_queue_empty(&lmcf->active)) {
        q = ngx_queue_head(&lmcf->active);
        lctx = ngx_queue_data(q, ngx_live_record_ctx_t, queue);
        ngx_live_record_stream_stop(lctx, NGX_LIVE_RECORD_REASON_SHUTDOWN, 1);
    }

    ngx_live_record_finish_waiting(lmcf);
    ngx_live_record_cluster_exit_process(lmcf);
    ngx_live_record_stats_exit(cycle);
}


/* rtmp hooks */


static ngx_int_t
ngx_live_record_publish(ngx_rtmp_session_t *s, ngx_rtmp_publish_t *v)
{
    ngx_live_record_ctx_t       *ctx;
    ngx_live_record_app_conf_t  *lacf;

    lacf = ngx_rtmp_get_module_app_conf(s, ngx_live_record_module);

    if (lacf == NULL
        || (lacf->tpl == NULL && lacf->domains == NULL && !lacf->tasks_on)
        || s->auto_pushed)
    {
        goto next;
    }

    ctx = ngx_rtmp_get_module_ctx(s, ngx_live_record_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(s->connection->pool, sizeof(ngx_live_record_ctx_t));
        if (ctx == NULL) {
            goto next;
        }

        if (ngx_pool_cleanup_add(s->connection->pool, 0) == NULL) {
            goto next;
        }

        s->connection->pool->cleanup->handler = ngx_live_record_ctx_cleanup;
        s->connection->pool->cleanup->data = ctx;

        ngx_rtmp_set_ctx(s, ctx, ngx_live_record_module);

    } else if (ctx->active) {
        ngx_live_record_stream_stop(ctx, NGX_LIVE_RECORD_REASON_UNPUBLISH, 0);
    }

    (void) ngx_live_record_stream_start(s, ctx, v);

next:

    return next_publish(s, v);
}


static ngx_int_t
ngx_live_record_delete_stream(ngx_rtmp_session_t *s,
    ngx_rtmp_delete_stream_t *v)
{
    ngx_live_record_ctx_t  *ctx;

    ctx = ngx_rtmp_get_module_ctx(s, ngx_live_record_module);

    /* nginx-rtmp deletes the stream with no arguments on disconnect */

    if (ctx && v == NULL) {
        ctx->dropped = 1;
    }

    return next_delete_stream(s, v);
}


static ngx_int_t
ngx_live_record_close_stream(ngx_rtmp_session_t *s,
    ngx_rtmp_close_stream_t *v)
{
    ngx_uint_t              reason;
    ngx_live_record_ctx_t  *ctx;

    ctx = ngx_rtmp_get_module_ctx(s, ngx_live_record_module);

    /* nginx-rtmp calls this twice per publisher: the flag guards it */

    if (ctx && ctx->active) {
        if (ngx_exiting || ngx_terminate) {
            reason = NGX_LIVE_RECORD_REASON_SHUTDOWN;

        } else if (ctx->dropped) {
            reason = NGX_LIVE_RECORD_REASON_DROP;

        } else {
            reason = NGX_LIVE_RECORD_REASON_UNPUBLISH;
        }

        ngx_live_record_stream_stop(ctx, reason, 0);
    }

    return next_close_stream(s, v);
}


static void
ngx_live_record_ctx_cleanup(void *data)
{
    ngx_live_record_ctx_t  *ctx = data;

    ngx_live_record_stream_stop(ctx, NGX_LIVE_RECORD_REASON_DROP, 0);
}


static ngx_int_t
ngx_live_record_av(ngx_rtmp_session_t *s, ngx_rtmp_header_t *h,
    ngx_chain_t *in)
{
    ngx_live_record_ctx_t  *ctx;

    ctx = ngx_rtmp_get_module_ctx(s, ngx_live_record_module);

    if (ctx && ctx->active) {
        ngx_live_record_stream_av(ctx, h, in);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_part_done_last(ngx_live_record_done_t *v)
{
    return NGX_OK;
}


