
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_STUB_H_INCLUDED_
#define _NGX_STUB_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_pool_t *ngx_stub_pool_create(ngx_log_t *log);
void ngx_stub_pool_destroy(ngx_pool_t *pool);


#endif /* _NGX_STUB_H_INCLUDED_ */
