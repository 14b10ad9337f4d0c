
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_shm.h"
#include "ngx_live_record_tasks.h"


static void *ngx_live_record_core_create_conf(ngx_cycle_t *cycle);
static char *ngx_live_record_core_init_conf(ngx_cycle_t *cycle, void *conf);
static ngx_int_t ngx_live_record_shm_init(ngx_shm_zone_t *zone, void *data);


static ngx_str_t  ngx_live_record_shm_name = ngx_string("live_record");


static ngx_core_module_t  ngx_live_record_core_module_ctx = {
    ngx_string("live_record_core"),
    ngx_live_record_core_create_conf,
    ngx_live_record_core_init_conf
};


ngx_module_t  ngx_live_record_core_module = {
    NGX_MODULE_V1,
    &ngx_live_record_core_module_ctx,       /* module context */
    NULL,                                   /* module directives */
    NGX_CORE_MODULE,                        /* module type */
    NULL,                                   /* init master */
    NULL,                                   /* init module */
    NULL,                                   /* init process */
    NULL,                                   /* init thread */
    NULL,                                   /* exit thread */
    NULL,                                   /* exit process */
    NULL,                                   /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_live_record_core_create_conf(ngx_cycle_t *cycle)
{
    return ngx_pcalloc(cycle->pool, sizeof(ngx_live_record_core_conf_t));
}


/* runs after the whole configuration is read, before zones are mapped */

static char *
ngx_live_record_core_init_conf(ngx_cycle_t *cycle, void *conf)
{
    ngx_live_record_core_conf_t *lccf = conf;

    if (lccf->zone && lccf->zone->shm.size == 0) {
        lccf->zone->shm.size = NGX_LIVE_RECORD_SHM_DEFAULT;
    }

    return NGX_CONF_OK;
}


/* the rtmp side and the API both ask for the zone; the API may size it */

ngx_shm_zone_t *
ngx_live_record_shm_add(ngx_conf_t *cf, size_t size)
{
    ngx_shm_zone_t               *zone;
    ngx_live_record_core_conf_t  *lccf;

    lccf = (ngx_live_record_core_conf_t *)
               ngx_get_conf(cf->cycle->conf_ctx, ngx_live_record_core_module);

    zone = ngx_shared_memory_add(cf, &ngx_live_record_shm_name, size,
                                 &ngx_live_record_core_module);
    if (zone == NULL) {
        return NULL;
    }

    zone->init = ngx_live_record_shm_init;
    lccf->zone = zone;

    return zone;
}


static ngx_int_t
ngx_live_record_shm_init(ngx_shm_zone_t *zone, void *data)
{
    ngx_slab_pool_t        *shpool;
    ngx_live_record_shm_t  *sh;

    if (data) {
        /* a reload keeps the tasks and counters of the old zone */
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    sh = ngx_slab_calloc(shpool, sizeof(ngx_live_record_shm_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_init(&sh->tasks);
    ngx_queue_init(&sh->recorders);
    ngx_queue_init(&sh->jobs);

    shpool->data = sh;
    zone->data = sh;

    shpool->log_ctx = ngx_slab_alloc(shpool,
                                     sizeof(" in live_record zone \"\"")
                                     + zone->shm.name.len);
    if (shpool->log_ctx != NULL) {
        ngx_sprintf(shpool->log_ctx, " in live_record zone \"%V\"%Z",
                    &zone->shm.name);
    }

    /* tasks come back from the disk in init_module, once paths are known */

    return NGX_OK;
}


ngx_live_record_shm_t *
ngx_live_record_shm(ngx_cycle_t *cycle, ngx_slab_pool_t **shpool)
{
    ngx_live_record_core_conf_t  *lccf;

    lccf = (ngx_live_record_core_conf_t *)
               ngx_get_conf(cycle->conf_ctx, ngx_live_record_core_module);

    if (lccf == NULL || lccf->zone == NULL || lccf->zone->data == NULL) {
        return NULL;
    }

    if (shpool) {
        *shpool = (ngx_slab_pool_t *) lccf->zone->shm.addr;
    }

    return lccf->zone->data;
}


ngx_int_t
ngx_live_record_shm_str(ngx_slab_pool_t *shpool, ngx_str_t *dst,
    ngx_str_t *src)
{
    dst->data = ngx_slab_alloc_locked(shpool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    if (src->len) {
        ngx_memcpy(dst->data, src->data, src->len);
    }

    dst->data[src->len] = '\0';
    dst->len = src->len;

    return NGX_OK;
}
