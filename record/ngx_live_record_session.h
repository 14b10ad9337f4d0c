
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
    uint64_t                    stopped_ms;
    ngx_str_t                   key;            /* "app/name" */
    ngx_str_t                   session;
    ngx_uint_t                  parts;          /* numbers taken */
    ngx_pid_t                   waiting;        /* a part waits there */
} ngx_live_record_memo_t;


/* what a publish joins: the session, its last part number, when it ended */
typedef struct {
    ngx_str_t                   session;
    ngx_uint_t                  parts;
    uint64_t                    stopped_ms;
    ngx_pid_t                   waiting;        /* 0, or the worker's */
} ngx_live_record_joined_t;


/*
 * Sessions outlive a publish by the template's session gap, in the zone,
 * so that a reconnect joins its session, and goes on with its part
 * numbers, on whichever worker it lands.  j->session.data is the caller's
 * buffer of size bytes.
 */
ngx_int_t ngx_live_record_session_join(ngx_str_t *label,
    ngx_live_record_joined_t *j, size_t size);
void ngx_live_record_session_keep(ngx_str_t *label, ngx_str_t *session,
    ngx_uint_t parts, ngx_pid_t waiting, ngx_msec_t gap);


#endif /* _NGX_LIVE_RECORD_SESSION_H_INCLUDED_ */
