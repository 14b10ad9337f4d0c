
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_store.h"


/* nginx-rtmp declares it in no header */
extern ngx_module_t  ngx_rtmp_module;


static ngx_int_t ngx_live_record_task_change(ngx_cycle_t *cycle,
    ngx_str_t *id, ngx_uint_t delete);
static void ngx_live_record_tasks_expire(ngx_slab_pool_t *shpool,
    ngx_live_record_shm_t *sh, uint64_t now);
static cJSON *ngx_live_record_task_json(ngx_live_record_task_t *t,
    uint64_t now);
static cJSON *ngx_live_record_recorder_json(ngx_live_record_recorder_t *rec);
static void ngx_live_record_shm_str_free(ngx_slab_pool_t *shpool,
    ngx_str_t *s);
static cJSON *ngx_live_record_ids_json(cJSON *o, ngx_str_t *ids);
static void ngx_live_record_recorder_free(ngx_slab_pool_t *shpool,
    ngx_live_record_recorder_t *rec);
static void ngx_live_record_recorders_prune(ngx_live_record_shm_t *sh,
    ngx_slab_pool_t *shpool);


static ngx_uint_t  ngx_live_record_tasks_bad;


static void
ngx_live_record_shm_str_free(ngx_slab_pool_t *shpool, ngx_str_t *s)
{
    if (s->data) {
        ngx_slab_free_locked(shpool, s->data);
        s->data = NULL;
        s->len = 0;
    }
}


/* the task API */


ngx_int_t
ngx_live_record_task_add(ngx_cycle_t *cycle, ngx_live_record_task_t *t,
    ngx_str_t *id, ngx_pool_t *pool)
{
    char                   *text;
    u_char                  buf[NGX_INT64_LEN * 2 + 2];
    uint64_t                seq;
    ngx_int_t               rc;
    ngx_slab_pool_t        *shpool;
    ngx_live_record_task_t *nt;
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm_lock(cycle, &shpool);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_live_record_tasks_expire(shpool, sh, t->created_ms);

    /* time-sortable, and not guessable from the previous one */

    do {
        id->data = buf;
        id->len = ngx_sprintf(buf, "%013uL-%08xD", t->created_ms,
                              (uint32_t) ngx_random())
                  - buf;
    } while (ngx_live_record_task_find(sh, id) != NULL);

    t->id = *id;
    rc = NGX_ERROR;

    nt = ngx_slab_calloc_locked(shpool, sizeof(ngx_live_record_task_t));

    if (nt != NULL) {
        if (ngx_live_record_task_copy(shpool, nt, t) == NGX_OK) {
            ngx_queue_insert_tail(&sh->tasks, &nt->queue);
            sh->generation++;
            rc = NGX_OK;

        } else {
            ngx_live_record_task_free(shpool, nt);
        }
    }

    text = (rc == NGX_OK) ? ngx_live_record_tasks_text(sh, &seq) : NULL;

    ngx_shmtx_unlock(&shpool->mutex);

    if (rc != NGX_OK) {
        return rc;
    }

    ngx_live_record_tasks_write(cycle, sh, shpool, text, seq);

    id->data = ngx_pstrdup(pool, id);

    return id->data ? NGX_OK : NGX_ERROR;
}


cJSON *
ngx_live_record_task_get(ngx_cycle_t *cycle, ngx_str_t *id)
{
    cJSON                   *o;
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_task_t  *t;

    sh = ngx_live_record_shm_lock(cycle, &shpool);
    if (sh == NULL) {
        return NULL;
    }

    t = ngx_live_record_task_find(sh, id);
    o = t ? ngx_live_record_task_json(t, ngx_live_record_now_ms()) : NULL;

    ngx_shmtx_unlock(&shpool->mutex);

    return o;
}


/* tasks whose window overlaps [from, to), oldest first */

cJSON *
ngx_live_record_task_list(ngx_cycle_t *cycle, ngx_live_record_task_t *filter,
    uint64_t from_ms, uint64_t to_ms)
{
    cJSON                   *a, *o;
    uint64_t                 now;
    ngx_queue_t             *q;
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_task_t  *t;

    a = cJSON_CreateArray();
    if (a == NULL) {
        return NULL;
    }

    now = ngx_live_record_now_ms();

    sh = ngx_live_record_shm_lock(cycle, &shpool);
    if (sh == NULL) {
        return a;
    }

    for (q = ngx_queue_head(&sh->tasks);
         q != ngx_queue_sentinel(&sh->tasks);
         q = ngx_queue_next(q))
    {
        t = ngx_queue_data(q, ngx_live_record_task_t, queue);

        if ((filter->app.len && !ngx_live_record_str_eq(&filter->app, &t->app))
            || (filter->stream.len
                && !ngx_live_record_str_eq(&filter->stream, &t->stream))
            || t->end_ms <= from_ms || t->start_ms >= to_ms)
        {
            continue;
        }

        o = ngx_live_record_task_json(t, now);

        if (o == NULL) {
            cJSON_Delete(a);
            a = NULL;
            break;
        }

        cJSON_AddItemToArray(a, o);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return a;
}


ngx_int_t
ngx_live_record_task_stop(ngx_cycle_t *cycle, ngx_str_t *id)
{
    return ngx_live_record_task_change(cycle, id, 0);
}


ngx_int_t
ngx_live_record_task_delete(ngx_cycle_t *cycle, ngx_str_t *id)
{
    return ngx_live_record_task_change(cycle, id, 1);
}


/* stops or deletes a task; NGX_DECLINED: no such task */

static ngx_int_t
ngx_live_record_task_change(ngx_cycle_t *cycle, ngx_str_t *id,
    ngx_uint_t delete)
{
    char                    *text;
    uint64_t                 seq;
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_task_t  *t;

    sh = ngx_live_record_shm_lock(cycle, &shpool);
    if (sh == NULL) {
        return NGX_DECLINED;
    }

    t = ngx_live_record_task_find(sh, id);

    if (t && delete) {
        ngx_queue_remove(&t->queue);
        ngx_live_record_task_free(shpool, t);

    } else if (t && t->stopped_ms == 0) {
        t->stopped_ms = ngx_live_record_now_ms();

    } else {
        ngx_shmtx_unlock(&shpool->mutex);
        return t ? NGX_OK : NGX_DECLINED;
    }

    sh->generation++;
    text = ngx_live_record_tasks_text(sh, &seq);

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_live_record_tasks_write(cycle, sh, shpool, text, seq);

    return NGX_OK;
}


/* a new task's id, in a cluster: the row is written before the zone's */

ngx_int_t
ngx_live_record_task_new_id(ngx_cycle_t *cycle, uint64_t created_ms,
    ngx_str_t *id, ngx_pool_t *pool)
{
    ngx_slab_pool_t        *shpool;
    ngx_live_record_shm_t  *sh;

    id->data = ngx_pnalloc(pool, NGX_INT64_LEN * 2 + 2);
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    sh = ngx_live_record_shm_lock(cycle, &shpool);
    if (sh == NULL) {
        return NGX_ERROR;
    }

    /* time-sortable, and not guessable; the row's key refuses a twin */

    do {
        id->len = ngx_sprintf(id->data, "%013uL-%08xD", created_ms,
                              (uint32_t) ngx_random())
                  - id->data;
    } while (ngx_live_record_task_find(sh, id) != NULL);

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/*
 * The cluster's rows into the zone (the other side is
 * cluster/ngx_live_record_cluster_tasks.c).  A row is checked as a task
 * of tasks.json is: the database is shared.  A full read replaces the
 * zone's tasks, unless a write went into the zone after the read began
 * (the generation moved): then the rows may be older than the zone, and
 * NGX_AGAIN asks for another read.
 */

ngx_int_t
ngx_live_record_tasks_mirror(cJSON *a, ngx_uint_t full,
    ngx_uint_t generation)
{
    char                    *text;
    cJSON                   *o, *f;
    uint64_t                 now, seq;
    ngx_int_t                rc;
    ngx_uint_t               changed, found, bad;
    ngx_pool_t              *pool;
    ngx_queue_t             *q, *next;
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_task_t   t, *zt;

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    if (full && sh->generation != generation) {
        ngx_shmtx_unlock(&shpool->mutex);
        ngx_destroy_pool(pool);
        return NGX_AGAIN;
    }

    rc = NGX_OK;
    now = ngx_live_record_now_ms();
    changed = 0;
    bad = 0;
    seq = 0;

    for (q = ngx_queue_head(&sh->tasks);
         full && q != ngx_queue_sentinel(&sh->tasks);
         q = next)
    {
        next = ngx_queue_next(q);
        zt = ngx_queue_data(q, ngx_live_record_task_t, queue);
        found = 0;

        cJSON_ArrayForEach(o, a) {
            f = cJSON_GetObjectItemCaseSensitive(o, "task_id");

            if (cJSON_IsString(f)
                && ngx_strlen(f->valuestring) == zt->id.len
                && ngx_strncmp(f->valuestring, zt->id.data, zt->id.len) == 0)
            {
                found = 1;
                break;
            }
        }

        if (!found) {
            ngx_queue_remove(q);
            ngx_live_record_task_free(shpool, zt);
            changed++;
        }
    }

    cJSON_ArrayForEach(o, a) {
        if (ngx_live_record_task_from_json(o, &t, pool) != NGX_OK
            || t.extension.len > NGX_LIVE_RECORD_MAX_EXTENSION)
        {
            bad++;
            continue;
        }

        if (t.end_ms + NGX_LIVE_RECORD_TASK_KEEP_MS < now) {
            continue;
        }

        zt = ngx_live_record_task_find(sh, &t.id);

        if (zt) {
            /* a task changes by being stopped only */

            if (zt->stopped_ms != t.stopped_ms) {
                zt->stopped_ms = t.stopped_ms;
                changed++;
            }

            continue;
        }

        zt = ngx_slab_calloc_locked(shpool, sizeof(ngx_live_record_task_t));

        if (zt == NULL || ngx_live_record_task_copy(shpool, zt, &t) != NGX_OK)
        {
            if (zt) {
                ngx_live_record_task_free(shpool, zt);
            }

            rc = NGX_ERROR;
            break;
        }

        ngx_queue_insert_tail(&sh->tasks, &zt->queue);
        changed++;
    }

    if (full && rc == NGX_OK) {
        sh->tasks_synced = now;
    }

    text = NULL;

    if (changed) {
        sh->generation++;
        text = ngx_live_record_tasks_text(sh, &seq);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_destroy_pool(pool);

    /* a bad row is read every 10 s: said when their number changes */

    if (bad != ngx_live_record_tasks_bad && (full || bad)) {
        if (bad) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "live record: %ui cluster task row(s) with "
                          "invalid names or times left out", bad);
        }

        ngx_live_record_tasks_bad = bad;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "live record: the live_record zone is full, cluster "
                      "tasks are not all mirrored: increase "
                      "live_record_api_zone");
    }

    if (changed) {
        ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                       "live record: %ui cluster task change(s) mirrored",
                       changed);
        ngx_live_record_tasks_write((ngx_cycle_t *) ngx_cycle, sh, shpool,
                                    text, seq);
    }

    return rc;
}


/* when the zone last matched the cluster's rows, ms; 0: not yet */

uint64_t
ngx_live_record_tasks_synced(ngx_cycle_t *cycle)
{
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm(cycle, NULL);

    return sh ? sh->tasks_synced : 0;
}


ngx_live_record_task_t *
ngx_live_record_task_find(ngx_live_record_shm_t *sh, ngx_str_t *id)
{
    ngx_queue_t             *q;
    ngx_live_record_task_t  *t;

    for (q = ngx_queue_head(&sh->tasks);
         q != ngx_queue_sentinel(&sh->tasks);
         q = ngx_queue_next(q))
    {
        t = ngx_queue_data(q, ngx_live_record_task_t, queue);

        if (ngx_live_record_str_eq(&t->id, id)) {
            return t;
        }
    }

    return NULL;
}


ngx_int_t
ngx_live_record_task_copy(ngx_slab_pool_t *shpool,
    ngx_live_record_task_t *dst, ngx_live_record_task_t *src)
{
    dst->start_ms = src->start_ms;
    dst->end_ms = src->end_ms;
    dst->created_ms = src->created_ms;
    dst->stopped_ms = src->stopped_ms;

    if (ngx_live_record_shm_str(shpool, &dst->id, &src->id) != NGX_OK
        || ngx_live_record_shm_str(shpool, &dst->app, &src->app) != NGX_OK
        || ngx_live_record_shm_str(shpool, &dst->stream, &src->stream)
           != NGX_OK
        || ngx_live_record_shm_str(shpool, &dst->domain, &src->domain)
           != NGX_OK
        || ngx_live_record_shm_str(shpool, &dst->tpl, &src->tpl) != NGX_OK
        || ngx_live_record_shm_str(shpool, &dst->extension, &src->extension)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_live_record_task_free(ngx_slab_pool_t *shpool, ngx_live_record_task_t *t)
{
    ngx_live_record_shm_str_free(shpool, &t->id);
    ngx_live_record_shm_str_free(shpool, &t->app);
    ngx_live_record_shm_str_free(shpool, &t->stream);
    ngx_live_record_shm_str_free(shpool, &t->domain);
    ngx_live_record_shm_str_free(shpool, &t->tpl);
    ngx_live_record_shm_str_free(shpool, &t->extension);
    ngx_slab_free_locked(shpool, t);
}


/* a task that ended a week ago goes, so that the zone does not fill up */

static void
ngx_live_record_tasks_expire(ngx_slab_pool_t *shpool,
    ngx_live_record_shm_t *sh, uint64_t now)
{
    uint64_t                 end;
    ngx_queue_t             *q, *next;
    ngx_live_record_task_t  *t;

    for (q = ngx_queue_head(&sh->tasks);
         q != ngx_queue_sentinel(&sh->tasks);
         q = next)
    {
        next = ngx_queue_next(q);
        t = ngx_queue_data(q, ngx_live_record_task_t, queue);

        end = t->stopped_ms ? ngx_min(t->stopped_ms, t->end_ms) : t->end_ms;

        if (end + NGX_LIVE_RECORD_TASK_KEEP_MS < now) {
            ngx_queue_remove(q);
            ngx_live_record_task_free(shpool, t);
        }
    }
}


static cJSON *
ngx_live_record_task_json(ngx_live_record_task_t *t, uint64_t now)
{
    cJSON       *o, *ext;
    const char  *state;

    if (t->stopped_ms) {
        state = "stopped";

    } else if (now >= t->end_ms) {
        state = "ended";

    } else if (now >= t->start_ms) {
        state = "active";

    } else {
        state = "scheduled";
    }

    o = cJSON_CreateObject();

    ext = t->extension.len
          ? cJSON_ParseWithLength((char *) t->extension.data,
                                  t->extension.len)
          : cJSON_CreateNull();

    if (o == NULL || ext == NULL
        || ngx_live_record_json_set(o, "task_id", &t->id) == NULL
        || ngx_live_record_json_set(o, "app", &t->app) == NULL
        || ngx_live_record_json_set(o, "stream", &t->stream) == NULL
        || ngx_live_record_json_set(o, "domain", &t->domain) == NULL
        || (t->tpl.len ? ngx_live_record_json_set(o, "template", &t->tpl)
                       : cJSON_AddNullToObject(o, "template")) == NULL
        || cJSON_AddNumberToObject(o, "start_time", t->start_ms / 1000)
           == NULL
        || cJSON_AddNumberToObject(o, "end_time", t->end_ms / 1000) == NULL
        || cJSON_AddNumberToObject(o, "created_time", t->created_ms / 1000)
           == NULL
        || (t->stopped_ms
            ? cJSON_AddNumberToObject(o, "stopped_time", t->stopped_ms / 1000)
            : cJSON_AddNullToObject(o, "stopped_time")) == NULL
        || cJSON_AddStringToObject(o, "state", state) == NULL
        || !cJSON_AddItemToObject(o, "extension", ext))
    {
        cJSON_Delete(ext);
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


/* a task as tasks.json and the cluster's rows hold it */

cJSON *
ngx_live_record_task_saved(ngx_live_record_task_t *t)
{
    cJSON  *o;

    o = ngx_live_record_task_json(t, 0);

    if (o == NULL
        || cJSON_AddNumberToObject(o, "start_time_ms", t->start_ms) == NULL
        || cJSON_AddNumberToObject(o, "end_time_ms", t->end_ms) == NULL
        || cJSON_AddNumberToObject(o, "created_time_ms", t->created_ms)
           == NULL
        || cJSON_AddNumberToObject(o, "stopped_time_ms", t->stopped_ms)
           == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


/* the recorder's side */


ngx_uint_t
ngx_live_record_tasks_generation(void)
{
    ngx_live_record_shm_t  *sh;

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, NULL);

    /* a word read without the lock: a stale value only delays a tick */

    return sh ? sh->generation : 0;
}


ngx_int_t
ngx_live_record_tasks_match(ngx_str_t *app, ngx_str_t *stream,
    ngx_str_t *domain, uint64_t now, ngx_array_t *out, ngx_pool_t *pool,
    uint64_t *next)
{
    ngx_int_t                rc;
    ngx_queue_t             *q;
    ngx_slab_pool_t         *shpool;
    ngx_live_record_shm_t   *sh;
    ngx_live_record_task_t  *t, *m;

    rc = NGX_OK;
    *next = (uint64_t) -1;

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return NGX_OK;
    }

    for (q = ngx_queue_head(&sh->tasks);
         q != ngx_queue_sentinel(&sh->tasks);
         q = ngx_queue_next(q))
    {
        t = ngx_queue_data(q, ngx_live_record_task_t, queue);

        if (t->stopped_ms
            || !ngx_live_record_str_eq(&t->app, app)
            || !ngx_live_record_str_eq(&t->stream, stream))
        {
            continue;
        }

        if (now < t->start_ms) {
            *next = ngx_min(*next, t->start_ms);
            continue;
        }

        if (now >= t->end_ms) {
            continue;
        }

        *next = ngx_min(*next, t->end_ms);

        if (t->domain.len
            && (t->domain.len != domain->len
                || ngx_strncasecmp(t->domain.data, domain->data,
                                   domain->len) != 0))
        {
            continue;
        }

        m = ngx_array_push(out);
        if (m == NULL) {
            rc = NGX_ERROR;
            break;
        }

        *m = *t;

        m->id.data = ngx_pstrdup(pool, &t->id);
        m->tpl.data = ngx_pstrdup(pool, &t->tpl);
        m->extension.data = ngx_pstrdup(pool, &t->extension);

        if ((m->id.len && m->id.data == NULL)
            || (m->tpl.len && m->tpl.data == NULL)
            || (m->extension.len && m->extension.data == NULL))
        {
            rc = NGX_ERROR;
            break;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return rc;
}


ngx_live_record_recorder_t *
ngx_live_record_recorder_add(ngx_live_record_stream_t *st, void *owner)
{
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_recorder_t  *rec;

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return NULL;
    }

    rec = ngx_slab_calloc_locked(shpool, sizeof(ngx_live_record_recorder_t));

    if (rec) {
        rec->pid = ngx_pid;
        rec->owner = owner;
        rec->publish_ms = ngx_live_record_now_ms();

        if (ngx_live_record_shm_str(shpool, &rec->app, &st->app) != NGX_OK
            || ngx_live_record_shm_str(shpool, &rec->stream, &st->name)
               != NGX_OK
            || ngx_live_record_shm_str(shpool, &rec->domain, &st->domain)
               != NGX_OK
            || ngx_live_record_shm_str(shpool, &rec->session, &st->session)
               != NGX_OK)
        {
            ngx_shmtx_unlock(&shpool->mutex);
            ngx_live_record_recorder_delete(rec);
            return NULL;
        }

        ngx_queue_insert_tail(&sh->recorders, &rec->queue);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (rec == NULL) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "live record: \"%V\" is not listed in GET /streams: "
                      "the live_record zone is full, increase "
                      "live_record_api_zone", &st->label);
    }

    return rec;
}


/* parts and hls recordings of the stream, and why it records */

void
ngx_live_record_recorder_update(ngx_live_record_recorder_t *rec,
    ngx_str_t *plan, ngx_live_record_part_t *part,
    ngx_live_record_part_t *hls, ngx_uint_t formats)
{
    u_char                 *p;
    ngx_str_t               files;
    ngx_uint_t              i, k;
    ngx_slab_pool_t        *shpool;
    ngx_live_record_shm_t  *sh;
    ngx_live_record_part_t *parts[2];
    u_char                  buf[1024];

    sh = ngx_live_record_shm((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL || rec == NULL) {
        return;
    }

    parts[0] = part;
    parts[1] = hls;

    p = buf;

    for (k = 0; k < 2; k++) {
        if (parts[k] == NULL) {
            continue;
        }

        for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
            if ((parts[k]->formats & (1 << i))
                && (size_t) (buf + sizeof(buf) - p)
                   > parts[k]->files[i].file_id.len + 1)
            {
                p = ngx_sprintf(p, "%V ", &parts[k]->files[i].file_id);
            }
        }
    }

    files.data = buf;
    files.len = p - buf;

    ngx_shmtx_lock(&shpool->mutex);

    rec->formats = formats;
    rec->part = part ? part->n : (hls ? hls->n : 0);
    rec->bytes = (part ? part->bytes : 0) + (hls ? hls->bytes : 0);
    rec->duration = part ? part->duration : (hls ? hls->duration : 0);
    rec->part_ms = part ? part->start_ms : (hls ? hls->start_ms : 0);

    if (!ngx_live_record_str_eq(&rec->files, &files)) {
        ngx_live_record_shm_str_free(shpool, &rec->files);
        (void) ngx_live_record_shm_str(shpool, &rec->files, &files);
    }

    if (plan && !ngx_live_record_str_eq(&rec->plan, plan)) {
        ngx_live_record_shm_str_free(shpool, &rec->plan);
        (void) ngx_live_record_shm_str(shpool, &rec->plan, plan);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


void
ngx_live_record_recorder_delete(ngx_live_record_recorder_t *rec)
{
    ngx_slab_pool_t        *shpool;
    ngx_live_record_shm_t  *sh;

    if (rec == NULL) {
        return;
    }

    sh = ngx_live_record_shm_lock((ngx_cycle_t *) ngx_cycle, &shpool);
    if (sh == NULL) {
        return;
    }

    if (rec->queue.next) {
        ngx_queue_remove(&rec->queue);
    }

    ngx_live_record_recorder_free(shpool, rec);

    ngx_shmtx_unlock(&shpool->mutex);
}


/* called with the mutex held */

static void
ngx_live_record_recorder_free(ngx_slab_pool_t *shpool,
    ngx_live_record_recorder_t *rec)
{
    ngx_live_record_shm_str_free(shpool, &rec->app);
    ngx_live_record_shm_str_free(shpool, &rec->stream);
    ngx_live_record_shm_str_free(shpool, &rec->domain);
    ngx_live_record_shm_str_free(shpool, &rec->session);
    ngx_live_record_shm_str_free(shpool, &rec->plan);
    ngx_live_record_shm_str_free(shpool, &rec->files);
    ngx_slab_free_locked(shpool, rec);
}


/* the API's view; a worker that died leaves entries that are dropped here */

cJSON *
ngx_live_record_recorders(ngx_cycle_t *cycle, ngx_str_t *app,
    ngx_str_t *stream)
{
    cJSON                       *a, *o;
    ngx_queue_t                 *q, *next;
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_recorder_t  *rec;

    a = cJSON_CreateArray();
    if (a == NULL) {
        return NULL;
    }

    sh = ngx_live_record_shm(cycle, &shpool);
    if (sh == NULL) {
        return a;
    }

    ngx_live_record_recorders_prune(sh, shpool);

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->recorders);
         q != ngx_queue_sentinel(&sh->recorders);
         q = next)
    {
        next = ngx_queue_next(q);
        rec = ngx_queue_data(q, ngx_live_record_recorder_t, queue);

        if ((app && !ngx_live_record_str_eq(app, &rec->app))
            || (stream && !ngx_live_record_str_eq(stream, &rec->stream)))
        {
            continue;
        }

        o = ngx_live_record_recorder_json(rec);
        if (o == NULL) {
            cJSON_Delete(a);
            a = NULL;
            break;
        }

        cJSON_AddItemToArray(a, o);
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return a;
}


/*
 * A worker that crashed never removed its streams: they go when seen.
 * Whether a process lives is read from /proc, outside the lock.
 */

static void
ngx_live_record_recorders_prune(ngx_live_record_shm_t *sh,
    ngx_slab_pool_t *shpool)
{
    ngx_uint_t                   i, n, ndead;
    ngx_queue_t                 *q, *next;
    ngx_live_record_recorder_t  *rec;
    ngx_pid_t                    pids[64], dead[64];

    n = 0;

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->recorders);
         q != ngx_queue_sentinel(&sh->recorders) && n < 64;
         q = ngx_queue_next(q))
    {
        rec = ngx_queue_data(q, ngx_live_record_recorder_t, queue);

        for (i = 0; i < n; i++) {
            if (pids[i] == rec->pid) {
                break;
            }
        }

        if (i == n && rec->pid != ngx_pid) {
            pids[n++] = rec->pid;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ndead = 0;

    for (i = 0; i < n; i++) {
        if (!ngx_live_record_process_alive(pids[i])) {
            dead[ndead++] = pids[i];
        }
    }

    if (ndead == 0) {
        return;
    }

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->recorders);
         q != ngx_queue_sentinel(&sh->recorders);
         q = next)
    {
        next = ngx_queue_next(q);
        rec = ngx_queue_data(q, ngx_live_record_recorder_t, queue);

        for (i = 0; i < ndead; i++) {
            if (dead[i] == rec->pid) {
                break;
            }
        }

        if (i == ndead) {
            continue;
        }

        ngx_queue_remove(&rec->queue);
        ngx_live_record_recorder_free(shpool, rec);
    }

    ngx_shmtx_unlock(&shpool->mutex);
}


static cJSON *
ngx_live_record_recorder_json(ngx_live_record_recorder_t *rec)
{
    cJSON       *o, *f, *plan;
    ngx_uint_t   i;

    o = cJSON_CreateObject();
    f = cJSON_CreateArray();

    plan = rec->plan.len
           ? cJSON_ParseWithLength((char *) rec->plan.data, rec->plan.len)
           : cJSON_CreateNull();

    if (o == NULL || f == NULL || plan == NULL) {
        goto failed;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (rec->formats & (1 << i)) {
            cJSON_AddItemToArray(f, cJSON_CreateString(
                                        i == NGX_LIVE_RECORD_HLS
                                        ? "hls"
                                        : ngx_live_record_format_ext(i)));
        }
    }

    if (ngx_live_record_json_set(o, "app", &rec->app) == NULL
        || ngx_live_record_json_set(o, "stream", &rec->stream) == NULL
        || ngx_live_record_json_set(o, "domain", &rec->domain) == NULL
        || ngx_live_record_json_set(o, "session_id", &rec->session) == NULL
        || cJSON_AddNumberToObject(o, "worker_pid", rec->pid) == NULL
        || cJSON_AddNumberToObject(o, "publish_time", rec->publish_ms / 1000)
           == NULL
        || cJSON_AddBoolToObject(o, "recording", rec->part != 0) == NULL
        || cJSON_AddNumberToObject(o, "part", rec->part) == NULL
        || cJSON_AddNumberToObject(o, "part_start_time", rec->part_ms / 1000)
           == NULL
        || cJSON_AddNumberToObject(o, "bytes", rec->bytes) == NULL
        || cJSON_AddNumberToObject(o, "duration",
                                   (double) rec->duration / 1000) == NULL
        || ngx_live_record_ids_json(o, &rec->files) == NULL)
    {
        goto failed;
    }

    cJSON_AddItemToObject(o, "formats", f);
    cJSON_AddItemToObject(o, "plan", plan);

    return o;

failed:

    cJSON_Delete(o);
    cJSON_Delete(f);
    cJSON_Delete(plan);

    return NULL;
}


/* "id1 id2 " as ["id1", "id2"] */

static cJSON *
ngx_live_record_ids_json(cJSON *o, ngx_str_t *ids)
{
    u_char     *p, *last, *sp;
    cJSON      *a;
    ngx_str_t   id;

    a = cJSON_AddArrayToObject(o, "file_ids");
    if (a == NULL) {
        return NULL;
    }

    p = ids->data;
    last = p + ids->len;

    while (p && p < last) {
        sp = ngx_strlchr(p, last, ' ');

        id.data = p;
        id.len = (sp ? sp : last) - p;

        if (id.len && !cJSON_AddItemToArray(a, ngx_live_record_json_str(&id)))
        {
            return NULL;
        }

        p = sp ? sp + 1 : NULL;
    }

    return a;
}


ngx_uint_t
ngx_live_record_recording(ngx_cycle_t *cycle, ngx_str_t *file_id)
{
    u_char                      *p, *last;
    ngx_uint_t                   found;
    ngx_queue_t                 *q, *next;
    ngx_slab_pool_t             *shpool;
    ngx_live_record_shm_t       *sh;
    ngx_live_record_recorder_t  *rec;

    sh = ngx_live_record_shm(cycle, &shpool);
    if (sh == NULL || file_id->len == 0) {
        return 0;
    }

    found = 0;

    ngx_live_record_recorders_prune(sh, shpool);

    ngx_shmtx_lock(&shpool->mutex);

    for (q = ngx_queue_head(&sh->recorders);
         q != ngx_queue_sentinel(&sh->recorders) && !found;
         q = next)
    {
        next = ngx_queue_next(q);
        rec = ngx_queue_data(q, ngx_live_record_recorder_t, queue);

        p = rec->files.data;
        last = p + rec->files.len;

        while (p && p + file_id->len < last) {
            if (ngx_memcmp(p, file_id->data, file_id->len) == 0
                && p[file_id->len] == ' ')
            {
                found = 1;
                break;
            }

            p = ngx_strlchr(p, last, ' ');
            p = p ? p + 1 : NULL;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return found;
}
