
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_SESSION_H_INCLUDED_
#define _NGX_LIVE_RECORD_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"
#include "ngx_live_record_shm.h"


/* the session of a stream that ended lately, for a reconnect to join */
typedef struct {
    ngx_queue_t                 queue;
    uint64_t                    expire_ms;
    ngx_str_t                   key;            /* "app/name" */
    ngx_str_t                   session;
} ngx_live_record_memo_t;


/*
 * Sessions outlive a publish by the template's session gap, in the zone,
 * so that a reconnect joins its session on whichever worker it lands.
 */
ngx_int_t ngx_live_record_session_join(ngx_str_t *label, ngx_str_t *session,
    size_t size);
void ngx_live_record_session_keep(ngx_str_t *label, ngx_str_t *session,
    ngx_msec_t gap);


#endif /* _NGX_LIVE_RECORD_SESSION_H_INCLUDED_ */
