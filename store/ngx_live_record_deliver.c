
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_deliver.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_upload.h"
#include "ngx_live_record_shm.h"


/*
 * The part_done chain: its end is the module's, notify joins it at
 * postconfiguration, as nginx-rtmp's notify joins record_done.  It is
 * called here for a local store and by the upload once a remote store
 * confirmed the file.
 */

ngx_live_record_part_done_pt  ngx_live_record_part_done;


/* runs in a thread: the entry is written where the file already is */

ngx_int_t
ngx_live_record_deliver_index(ngx_live_record_delivery_t *d, ngx_log_t *log)
{
    if (d->lacf->store.type != NGX_LIVE_RECORD_STORE_LOCAL) {
        /* the entry needs the remote URL: it waits for the upload */
        return NGX_DECLINED;
    }

    if (d->entry == NULL
        || ngx_live_record_index_put(&d->lmcf->index, d->label, d->file_id,
                                     d->entry, log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" %V: index entry written",
                   d->label, d->file_id);

    return NGX_OK;
}


ngx_int_t
ngx_live_record_deliver(ngx_live_record_delivery_t *d)
{
    ngx_live_record_done_t  v;

    if (d->lacf->store.type != NGX_LIVE_RECORD_STORE_LOCAL) {

        if (ngx_live_record_upload(d) == NGX_OK) {
            ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ngx_cycle->log, 0,
                           "live record: \"%V\" %V: upload to \"%V\" "
                           "started", d->label, d->file_id,
                           &d->lacf->store.name);
            return NGX_AGAIN;
        }

        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "live record: \"%V\" %V: the upload could not start, "
                      "the file stays in \"%s\"", d->label, d->file_id,
                      d->local);

        ngx_live_record_stat_handoff(NGX_ERROR);

        return NGX_ERROR;
    }

    /* a local store's rename (or copy) was the finalize's last step */
    ngx_live_record_stat_handoff(NGX_OK);
    ngx_live_record_stat_observe(NGX_LIVE_RECORD_HIST_HANDOFF, 0);

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ngx_cycle->log, 0,
                   "live record: \"%V\" %V delivered to \"%V\"",
                   d->label, d->file_id, &d->lacf->store.name);

    v.lmcf = d->lmcf;
    v.receivers = d->lacf->notify;
    v.label = d->label;
    v.file_id = d->file_id;
    v.event = d->event;
    v.entry = d->entry;

    /*
     * d->release (a part's recovery sidecar) may go only once the event is
     * durable: notify takes it (and NULLs it) to delete it after its spool
     * files are written; left here, nothing will announce the file and
     * the caller deletes it
     */
    v.release = d->release;

    (void) ngx_live_record_part_done(&v);

    d->release = v.release;

    return NGX_OK;
}
