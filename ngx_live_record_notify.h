
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_NOTIFY_H_INCLUDED_
#define _NGX_LIVE_RECORD_NOTIFY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <cjson/cJSON.h>
#include "ngx_live_record.h"


/*
 * Notify callbacks: JSON events, signed with HMAC-SHA256, written to the
 * spool before the first attempt and removed only after a 2xx, retried
 * with backoff, replayed after a restart, dead-lettered when they give up.
 */


char *ngx_live_record_notify_conf(ngx_conf_t *cf,
    ngx_live_record_app_conf_t *lacf);
ngx_int_t ngx_live_record_notify_init(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf);

/* joins the part_done chain: delivered files are announced */
ngx_int_t ngx_live_record_notify_postconfiguration(ngx_conf_t *cf);

/* takes the event object; adds event_id, event_type and t */
ngx_int_t ngx_live_record_notify_event(ngx_live_record_main_conf_t *lmcf,
    ngx_array_t *receivers, const char *type, cJSON *event);

typedef ngx_int_t (*ngx_live_record_spool_load_pt)(
    ngx_live_record_main_conf_t *lmcf, u_char *path, ngx_str_t *text);

typedef struct {
    ngx_str_t                      dir;         /* under live_record_spool */
    ngx_str_t                      path;        /* in a worker */
    ngx_live_record_spool_load_pt  load;
} ngx_live_record_spool_loader_t;

ngx_int_t ngx_live_record_spool_loader(ngx_conf_t *cf,
    ngx_live_record_main_conf_t *lmcf, char *dir,
    ngx_live_record_spool_load_pt load);
void ngx_live_record_spool_scan(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *dir, ngx_uint_t first, ngx_live_record_spool_load_pt load);
ngx_live_record_receiver_t *ngx_live_record_find_receiver(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *url);
ngx_int_t ngx_live_record_hmac_sha256_hex(ngx_str_t *key, ngx_str_t *msg1,
    ngx_str_t *msg2, u_char *hex);


#endif /* _NGX_LIVE_RECORD_NOTIFY_H_INCLUDED_ */
