
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_STORE_H_INCLUDED_
#define _NGX_LIVE_RECORD_STORE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"
#include "ngx_live_record_curl.h"


/*
 * The VOD handoff of a finished part and the callbacks that announce it.
 * ngx_live_record_handoff() runs in a thread-pool thread: no pools, no
 * event-loop state, only the part's own memory.
 */


char *ngx_live_record_store_conf(ngx_conf_t *cf, ngx_live_record_store_t *st);
ngx_int_t ngx_live_record_handoff(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f);

/*
 * A request for the object a remote store holds under rel (the name in
 * the store's local directory): its URL (s3: ENDPOINT/BUCKET/PREFIX/KEY,
 * http: what was PUT), the store's headers and SigV4 signing.  The
 * caller sets method, handler, timeouts.
 */
ngx_live_record_request_t *ngx_live_record_store_request(ngx_pool_t *pool,
    ngx_live_record_store_t *st, ngx_str_t *rel);


#endif /* _NGX_LIVE_RECORD_STORE_H_INCLUDED_ */
