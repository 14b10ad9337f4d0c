
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_part.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_store.h"
#include "ngx_live_record_shm.h"
#include "ngx_live_record_drain.h"


/*
 * Crash recovery.  Every open file has a sidecar, SPOOL/open/PID.FILE_ID.json,
 * with what its part was: stream, session, part number, start time, paths.
 * The sidecar goes when the file is handed off.  A sidecar whose worker is
 * gone is claimed by another worker (one owner, by rename), and its file is
 * finalized from what was written (an MP4's torn last fragment dropped),
 * handed off, indexed and announced with end_reason "recovered".
 */


static ngx_int_t ngx_live_record_sidecar_json(ngx_live_record_part_t *p,
    ngx_uint_t format, ngx_str_t *text);
static ngx_int_t ngx_live_record_recover_fields(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f, cJSON *o, ngx_str_t *work, ngx_str_t *store,
    ngx_str_t *tpl);
static ngx_int_t ngx_live_record_recover_part(ngx_live_record_part_t *p,
    cJSON *o);


/*
 * On the loop, when the part is named: where a file's sidecar goes and
 * what it says; the open task writes it
 */

ngx_int_t
ngx_live_record_sidecar_text(ngx_live_record_part_t *p, ngx_uint_t format,
    ngx_str_t *text)
{
    ngx_live_record_file_t  *f;

    f = &p->files[format];

    f->sidecar = ngx_pnalloc(p->pool, p->lmcf->spool.len + f->file_id.len
                                      + NGX_INT_T_LEN
                                      + sizeof("/" NGX_LIVE_RECORD_SPOOL_OPEN
                                               "/..json"));
    if (f->sidecar == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(f->sidecar, "%V/" NGX_LIVE_RECORD_SPOOL_OPEN "/%P.%V.json%Z",
                &p->lmcf->spool, ngx_pid, &f->file_id);

    return ngx_live_record_sidecar_json(p, format, text);
}


/* a task joined the part: a recovery must name it too */

void
ngx_live_record_sidecars_update(ngx_live_record_part_t *p)
{
    ngx_str_t                text;
    ngx_uint_t               i;
    ngx_live_record_file_t  *f;

    if (p->opening) {
        /* the open task writes them now: rewritten when it is back */
        p->sidecars_stale = 1;
        return;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        f = &p->files[i];

        if (!(p->formats & (1 << i)) || f->sidecar == NULL
            || ngx_live_record_sidecar_json(p, i, &text) != NGX_OK)
        {
            continue;
        }

        (void) ngx_live_record_write_atomic(f->sidecar, &text, 1, p->log);

        cJSON_free(text.data);
    }
}


/*
 * A finished part's sidecar goes in the thread pool, on the write drain:
 * unlink() may wait for the disk (ext4 mounted with discard trims the
 * freed blocks at once; 4.7 ms on the loop at 256 closes).  The sidecar
 * no longer counts as open from now on; were the process to die before
 * the unlink, recovery finds the file in the store and announces it again
 * under the same event id.  At a worker's exit it goes at once.
 */

typedef struct {
    ngx_live_record_job_t       job;
    u_char                      path[1];
} ngx_live_record_unlink_t;


static void
ngx_live_record_unlink_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_unlink_t  *u = data;

    if (ngx_delete_file(u->path) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_delete_file_n " \"%s\" failed",
                      u->path);
    }
}


static void
ngx_live_record_unlink_done(void *data)
{
    ngx_free(data);
}


void
ngx_live_record_sidecar_release(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f)
{
    size_t                     len;
    ngx_live_record_unlink_t  *u;

    if (f->sidecar == NULL) {
        return;
    }

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        ngx_live_record_sidecar_delete(f, p->log);
        return;
    }

    len = ngx_strlen(f->sidecar);

    u = ngx_calloc(sizeof(ngx_live_record_unlink_t) + len, p->log);
    if (u == NULL) {
        ngx_live_record_sidecar_delete(f, p->log);
        return;
    }

    ngx_memcpy(u->path, f->sidecar, len + 1);

    /* the part may be gone when it runs */
    u->job.handler = ngx_live_record_unlink_thread;
    u->job.done = ngx_live_record_unlink_done;
    u->job.data = u;
    u->job.log = ngx_cycle->log;

    if (ngx_live_record_drain_post(ngx_live_record_threads(p->lacf), &u->job)
        != NGX_OK)
    {
        ngx_free(u);
        ngx_live_record_sidecar_delete(f, p->log);
        return;
    }

    f->sidecar = NULL;
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN, -1);
}


void
ngx_live_record_sidecar_delete(ngx_live_record_file_t *f, ngx_log_t *log)
{
    if (f->sidecar == NULL) {
        return;
    }

    if (ngx_delete_file(f->sidecar) == NGX_FILE_ERROR
        && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_delete_file_n " \"%s\" failed",
                      f->sidecar);
    }

    f->sidecar = NULL;
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN, -1);
}


static ngx_int_t
ngx_live_record_sidecar_json(ngx_live_record_part_t *p, ngx_uint_t format,
    ngx_str_t *text)
{
    cJSON                   *o, *v, *a;
    ngx_live_record_file_t  *f;

    f = &p->files[format];

    o = ngx_live_record_part_json(p, format);
    if (o == NULL) {
        return NGX_ERROR;
    }

    v = cJSON_CreateObject();
    a = cJSON_CreateObject();

    if (v == NULL || a == NULL
        || cJSON_AddNumberToObject(v, "codec",
               p->st.tracks[NGX_LIVE_RECORD_VIDEO].codec) == NULL
        || cJSON_AddNumberToObject(a, "codec",
               p->st.tracks[NGX_LIVE_RECORD_AUDIO].codec) == NULL
        || !cJSON_AddItemToObject(o, "video", v)
        || !cJSON_AddItemToObject(o, "audio", a)
        || ngx_live_record_json_set(o, "rel", &p->rel) == NULL
        || ngx_live_record_json_set(o, "work", &f->work) == NULL
        || ngx_live_record_json_set(o, "store_path", &f->store) == NULL
        || ngx_live_record_json_set(o, "work_root", &p->lacf->work) == NULL
        || ngx_live_record_json_set(o, "store", &p->lacf->store.name)
           == NULL
        || cJSON_AddNumberToObject(o, "format", format) == NULL
        || cJSON_AddNumberToObject(o, "media_start_time", (double) p->base)
           == NULL)
    {
        cJSON_Delete(v);
        cJSON_Delete(a);
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    text->data = (u_char *) cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    if (text->data == NULL) {
        return NGX_ERROR;
    }

    text->len = ngx_strlen(text->data);

    return NGX_OK;
}


/*
 * A part read back from a file (a sidecar at recovery, a hand-over file):
 * its application and template found by the names the file gives, and its
 * label made from its app and name, which then point into the label.
 */

ngx_int_t
ngx_live_record_part_place(ngx_live_record_part_t *p, ngx_str_t *work,
    ngx_str_t *store, ngx_str_t *tpl)
{
    u_char  *s;

    p->lacf = ngx_live_record_find_app(p->lmcf, work, store);
    p->tpl = ngx_live_record_template(p->lmcf, tpl);

    if (p->lacf == NULL || p->tpl == NULL) {
        return NGX_ERROR;
    }

    s = ngx_pnalloc(p->pool, p->st.app.len + 1 + p->st.name.len);
    if (s == NULL) {
        return NGX_ERROR;
    }

    p->st.label.data = s;
    p->st.label.len = ngx_sprintf(s, "%V/%V", &p->st.app, &p->st.name) - s;

    p->st.app.data = p->st.label.data;
    p->st.name.data = p->st.label.data + p->st.app.len + 1;

    return NGX_OK;
}


/* a sidecar of a worker that is gone: its part is finished now */

ngx_int_t
ngx_live_record_recover_load(ngx_live_record_main_conf_t *lmcf,
    u_char *path, ngx_str_t *text)
{
    cJSON                   *o;
    ngx_str_t                s;
    ngx_uint_t               i;
    ngx_pool_t              *pool;
    ngx_live_record_part_t  *p;

    o = cJSON_ParseWithLength((char *) text->data, text->len);
    if (o == NULL) {
        return NGX_ERROR;
    }

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    p = ngx_pcalloc(pool, sizeof(ngx_live_record_part_t));
    if (p == NULL) {
        goto failed;
    }

    p->pool = pool;
    p->log = ngx_cycle->log;
    p->lmcf = lmcf;
    ngx_queue_init(&p->out);

    if (ngx_live_record_recover_part(p, o) != NGX_OK) {
        goto failed;
    }

    s.data = path;
    s.len = ngx_strlen(path);

    for (i = 0; !(p->formats & (1 << i)); i++) { /* void */ }

    p->files[i].sidecar = ngx_pnalloc(pool, s.len + 1);
    if (p->files[i].sidecar == NULL) {
        goto failed;
    }

    ngx_memcpy(p->files[i].sidecar, path, s.len + 1);

    cJSON_Delete(o);

    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN, 1);
    ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_RECOVERED, 1);

    ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                  "live record: \"%V\" part %ui left open by a worker that "
                  "is gone, recovering \"%V\"", &p->st.label, p->n, &p->rel);

    ngx_live_record_part_recover(p);

    return NGX_OK;

failed:

    ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                  "live record: sidecar \"%s\" cannot be recovered (its "
                  "store or template is no longer configured?), left in "
                  "place", path);

    cJSON_Delete(o);
    ngx_destroy_pool(pool);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_live_record_recover_fields(ngx_live_record_part_t *p,
    ngx_live_record_file_t *f, cJSON *o, ngx_str_t *work, ngx_str_t *store,
    ngx_str_t *tpl)
{
    ngx_live_record_track_t  *v = &p->st.tracks[NGX_LIVE_RECORD_VIDEO];
    ngx_live_record_track_t  *a = &p->st.tracks[NGX_LIVE_RECORD_AUDIO];

    uint64_t  base;

    ngx_live_record_json_field_t  fields[] = {
        { "work_root", NGX_LIVE_RECORD_JSON_STR, work },
        { "store", NGX_LIVE_RECORD_JSON_STR, store },
        { "template", NGX_LIVE_RECORD_JSON_STR, tpl },
        { "app", NGX_LIVE_RECORD_JSON_STR, &p->st.app },
        { "stream_id", NGX_LIVE_RECORD_JSON_STR, &p->st.name },
        { "domain", NGX_LIVE_RECORD_JSON_STR, &p->st.domain },
        { "stream_param", NGX_LIVE_RECORD_JSON_STR, &p->st.args },
        { "session_id", NGX_LIVE_RECORD_JSON_STR, &p->st.session },
        { "rel", NGX_LIVE_RECORD_JSON_STR, &p->rel },
        { "work", NGX_LIVE_RECORD_JSON_STR, &f->work },
        { "store_path", NGX_LIVE_RECORD_JSON_STR, &f->store },
        { "file_id", NGX_LIVE_RECORD_JSON_STR, &f->file_id },
        { "task_id", NGX_LIVE_RECORD_JSON_STR_OPT, &p->st.task_id },
        { "sources", NGX_LIVE_RECORD_JSON_TEXT, &p->st.sources },
        { "extension", NGX_LIVE_RECORD_JSON_TEXT, &p->st.extension },
        { "part", NGX_LIVE_RECORD_JSON_UINT, &p->n },
        { "start_time_ms", NGX_LIVE_RECORD_JSON_MS, &p->start_ms },
        { "media_start_time", NGX_LIVE_RECORD_JSON_MS, &base },
        { NULL, 0, NULL }
    };

    ngx_live_record_json_field_t  video[] = {
        { "codec", NGX_LIVE_RECORD_JSON_UINT, &v->codec },
        { NULL, 0, NULL }
    };

    ngx_live_record_json_field_t  audio[] = {
        { "codec", NGX_LIVE_RECORD_JSON_UINT, &a->codec },
        { NULL, 0, NULL }
    };

    ngx_live_record_json_field_t  size[] = {
        { "width", NGX_LIVE_RECORD_JSON_UINT, &v->width },
        { "height", NGX_LIVE_RECORD_JSON_UINT, &v->height },
        { NULL, 0, NULL }
    };

    p->n = 1;
    base = 0;

    if (ngx_live_record_json_read(p->pool, o, fields) != NGX_OK
        || ngx_live_record_json_read(p->pool,
               cJSON_GetObjectItemCaseSensitive(o, "video"), video) != NGX_OK
        || ngx_live_record_json_read(p->pool,
               cJSON_GetObjectItemCaseSensitive(o, "audio"), audio) != NGX_OK
        || ngx_live_record_json_read(p->pool, o, size) != NGX_OK)
    {
        return NGX_ERROR;
    }

    p->base = (int64_t) base;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_recover_part(ngx_live_record_part_t *p, cJSON *o)
{
    cJSON                   *item;
    ngx_str_t                work, store, tpl;
    ngx_uint_t               format;
    ngx_live_record_file_t  *f;

    item = cJSON_GetObjectItemCaseSensitive(o, "format");
    if (!cJSON_IsNumber(item) || item->valueint < 0
        || item->valueint >= NGX_LIVE_RECORD_NFORMATS)
    {
        return NGX_ERROR;
    }

    format = item->valueint;
    f = &p->files[format];

    if (ngx_live_record_recover_fields(p, f, o, &work, &store, &tpl)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_live_record_part_place(p, &work, &store, &tpl) != NGX_OK) {
        return NGX_ERROR;
    }

    p->last_ms = p->start_ms;

    p->want = 1 << format;
    p->formats = 1 << format;
    p->reason = NGX_LIVE_RECORD_REASON_RECOVERED;

    if (format == NGX_LIVE_RECORD_MP4
        && ngx_live_record_part_mp4_paths(p, f) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_live_record_local_url(p, format) == NGX_ERROR ? NGX_ERROR
                                                             : NGX_OK;
}


/* the application a file's work path and store name are of, or NULL */

ngx_live_record_app_conf_t *
ngx_live_record_find_app(ngx_live_record_main_conf_t *lmcf, ngx_str_t *work,
    ngx_str_t *store)
{
    ngx_uint_t                    i;
    ngx_live_record_app_conf_t  **lacf;

    lacf = lmcf->stores.elts;

    for (i = 0; i < lmcf->stores.nelts; i++) {
        if (lacf[i]->work.len == work->len
            && ngx_strncmp(lacf[i]->work.data, work->data, work->len) == 0
            && lacf[i]->store.name.len == store->len
            && ngx_strncmp(lacf[i]->store.name.data, store->data, store->len)
               == 0)
        {
            return lacf[i];
        }
    }

    return NULL;
}
