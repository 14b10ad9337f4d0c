
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_live_record.h"
#include "ngx_http_live_record_index.h"


/*
 * The index as the API reads it: INDEX/APP/STREAM/ID.json, walked and
 * read in a thread of the pool; and the glue that runs such work in the
 * thread pool for a request or a concat job.
 */


#define NGX_HTTP_LIVE_RECORD_ENTRY_MAX    (1024 * 1024)

/* file ids and session ids start with 13 digits of unix milliseconds */
#define NGX_HTTP_LIVE_RECORD_MS_DIGITS    13


static ngx_int_t ngx_http_live_record_subdirs(ngx_pool_t *pool,
    ngx_str_t *dir, ngx_array_t *names, ngx_log_t *log);
static uint64_t ngx_http_live_record_id_ms(ngx_str_t *id);
static int ngx_libc_cdecl ngx_http_live_record_cand_newer(const void *one,
    const void *two);
static int ngx_libc_cdecl ngx_http_live_record_entry_older(const void *one,
    const void *two);
static void ngx_http_live_record_json_free(void *data);
static void ngx_http_live_record_thread_handler(void *data, ngx_log_t *log);
static void ngx_http_live_record_thread_event(ngx_event_t *ev);
static void ngx_http_live_record_pool_cleanup(void *data);


/* the index: INDEX/APP/STREAM/ID.json */

ngx_int_t
ngx_http_live_record_index_dirs(ngx_pool_t *pool, ngx_str_t *index,
    ngx_str_t *app, ngx_str_t *stream, ngx_array_t *dirs, ngx_log_t *log)
{
    u_char                      *p;
    ngx_str_t                    dir, *apps, *streams;
    ngx_uint_t                   i, j;
    ngx_array_t                  a, s;
    ngx_http_live_record_dir_t  *d;

    if (ngx_array_init(&a, pool, 8, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    if (app->len) {
        apps = ngx_array_push(&a);
        if (apps == NULL) {
            return NGX_ERROR;
        }

        *apps = *app;

    } else if (ngx_http_live_record_subdirs(pool, index, &a, log) != NGX_OK) {
        return NGX_ERROR;
    }

    apps = a.elts;

    for (i = 0; i < a.nelts; i++) {

        if (ngx_array_init(&s, pool, 8, sizeof(ngx_str_t)) != NGX_OK) {
            return NGX_ERROR;
        }

        if (stream->len) {
            streams = ngx_array_push(&s);
            if (streams == NULL) {
                return NGX_ERROR;
            }

            *streams = *stream;

        } else {
            dir.data = ngx_pnalloc(pool, index->len + apps[i].len + 2);
            if (dir.data == NULL) {
                return NGX_ERROR;
            }

            dir.len = ngx_sprintf(dir.data, "%V/%V%Z", index, &apps[i])
                      - dir.data - 1;

            if (ngx_http_live_record_subdirs(pool, &dir, &s, log) != NGX_OK) {
                return NGX_ERROR;
            }
        }

        streams = s.elts;

        for (j = 0; j < s.nelts; j++) {
            d = ngx_array_push(dirs);
            p = ngx_pnalloc(pool, index->len + apps[i].len + streams[j].len
                                  + 3);

            if (d == NULL || p == NULL) {
                return NGX_ERROR;
            }

            d->path.data = p;
            d->path.len = ngx_sprintf(p, "%V/%V/%V%Z", index, &apps[i],
                                      &streams[j])
                          - p - 1;
            d->app = apps[i];
            d->stream = streams[j];
        }
    }

    return NGX_OK;
}


/* names in a directory; none if it does not exist */

static ngx_int_t
ngx_http_live_record_subdirs(ngx_pool_t *pool, ngx_str_t *dir,
    ngx_array_t *names, ngx_log_t *log)
{
    ngx_str_t  *name;
    ngx_dir_t   d;
    ngx_err_t   err;

    /* dir->data is null-terminated */

    if (ngx_open_dir(dir, &d) == NGX_ERROR) {
        err = ngx_errno;

        if (err == NGX_ENOENT || err == NGX_ENOTDIR) {
            return NGX_OK;
        }

        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "live record: " ngx_open_dir_n " \"%V\" failed", dir);
        return NGX_ERROR;
    }

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&d) == NGX_ERROR) {
            err = ngx_errno;

            if (err != NGX_ENOMOREFILES && err != 0) {
                ngx_log_error(NGX_LOG_CRIT, log, err,
                              "live record: " ngx_read_dir_n " \"%V\" "
                              "failed", dir);
            }

            break;
        }

        if (ngx_de_name(&d)[0] == '.') {
            continue;
        }

        name = ngx_array_push(names);
        if (name == NULL) {
            (void) ngx_close_dir(&d);
            return NGX_ERROR;
        }

        name->len = ngx_de_namelen(&d);
        name->data = ngx_pnalloc(pool, name->len + 1);

        if (name->data == NULL) {
            (void) ngx_close_dir(&d);
            return NGX_ERROR;
        }

        ngx_memcpy(name->data, ngx_de_name(&d), name->len + 1);
    }

    (void) ngx_close_dir(&d);

    return NGX_OK;
}


/* the ids of one stream's directory: "ID.json" files */

ngx_int_t
ngx_http_live_record_index_ids(ngx_pool_t *pool,
    ngx_http_live_record_dir_t *dir, ngx_array_t *cands, ngx_log_t *log)
{
    ngx_str_t                    *name;
    ngx_uint_t                    i;
    ngx_array_t                   names;
    ngx_http_live_record_cand_t  *c;

    if (ngx_array_init(&names, pool, 64, sizeof(ngx_str_t)) != NGX_OK
        || ngx_http_live_record_subdirs(pool, &dir->path, &names, log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    name = names.elts;

    for (i = 0; i < names.nelts; i++) {
        if (name[i].len <= sizeof(".json") - 1
            || ngx_strncmp(name[i].data + name[i].len - 5, ".json", 5) != 0)
        {
            continue;
        }

        c = ngx_array_push(cands);
        if (c == NULL) {
            return NGX_ERROR;
        }

        c->id.data = name[i].data;
        c->id.len = name[i].len - 5;
        c->dir = dir;
        c->start_ms = ngx_http_live_record_id_ms(&c->id);
    }

    return NGX_OK;
}


static uint64_t
ngx_http_live_record_id_ms(ngx_str_t *id)
{
    off_t  n;

    if (id->len < NGX_HTTP_LIVE_RECORD_MS_DIGITS) {
        return 0;
    }

    n = ngx_atoof(id->data, NGX_HTTP_LIVE_RECORD_MS_DIGITS);

    return (n == NGX_ERROR) ? 0 : (uint64_t) n;
}


/* newest first: ids start with the start time */

void
ngx_http_live_record_index_sort(ngx_array_t *cands)
{
    ngx_qsort(cands->elts, cands->nelts, sizeof(ngx_http_live_record_cand_t),
              ngx_http_live_record_cand_newer);
}


static int ngx_libc_cdecl
ngx_http_live_record_cand_newer(const void *one, const void *two)
{
    ngx_http_live_record_cand_t  *a, *b;

    a = (ngx_http_live_record_cand_t *) one;
    b = (ngx_http_live_record_cand_t *) two;

    return (int) ngx_http_live_record_id_cmp(&b->id, &a->id);
}


static int ngx_libc_cdecl
ngx_http_live_record_entry_older(const void *one, const void *two)
{
    ngx_http_live_record_entry_t  *a, *b;

    a = (ngx_http_live_record_entry_t *) one;
    b = (ngx_http_live_record_entry_t *) two;

    if (a->start_ms != b->start_ms) {
        return (a->start_ms < b->start_ms) ? -1 : 1;
    }

    return (int) ngx_http_live_record_id_cmp(&a->id, &b->id);
}


ngx_int_t
ngx_http_live_record_id_cmp(ngx_str_t *a, ngx_str_t *b)
{
    ngx_int_t  rc;

    rc = ngx_memn2cmp(a->data, b->data, a->len, b->len);

    return (rc < 0) ? -1 : (rc > 0);
}


u_char *
ngx_http_live_record_entry_path(ngx_pool_t *pool,
    ngx_http_live_record_dir_t *dir, ngx_str_t *id)
{
    u_char  *p;

    p = ngx_pnalloc(pool, dir->path.len + id->len + sizeof("/.json"));
    if (p == NULL) {
        return NULL;
    }

    ngx_sprintf(p, "%V/%V.json%Z", &dir->path, id);

    return p;
}


/* a small file, read whole; NULL (and a log line) if it is not JSON */

cJSON *
ngx_http_live_record_read_entry(u_char *path, ngx_log_t *log)
{
    cJSON      *json;
    ngx_str_t   text;

    if (ngx_live_record_read_file(path, NGX_HTTP_LIVE_RECORD_ENTRY_MAX,
                                  &text, log)
        != NGX_OK)
    {
        return NULL;
    }

    json = cJSON_ParseWithLength((char *) text.data, text.len);

    if (json == NULL || !cJSON_IsObject(json)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "live record: index entry \"%s\" is not a JSON "
                      "object, skipped", path);
        cJSON_Delete(json);
        json = NULL;
    }

    ngx_free(text.data);

    return json;
}


/* a string member, not copied */

ngx_int_t
ngx_http_live_record_entry_str(cJSON *o, const char *name, ngx_str_t *value)
{
    cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsString(v)) {
        return NGX_DECLINED;
    }

    value->data = (u_char *) v->valuestring;
    value->len = ngx_strlen(value->data);

    return NGX_OK;
}


/* in a thread: every stream directory is looked in for the id */

ngx_int_t
ngx_http_live_record_index_find(ngx_pool_t *pool, ngx_str_t *index,
    ngx_str_t *id, ngx_http_live_record_entry_t *e, ngx_log_t *log)
{
    u_char                      *path;
    ngx_str_t                    none;
    ngx_uint_t                   i;
    ngx_array_t                  dirs;
    ngx_file_info_t              fi;
    ngx_pool_cleanup_t          *cln;
    ngx_http_live_record_dir_t  *d;

    ngx_str_null(&none);

    if (ngx_array_init(&dirs, pool, 16, sizeof(ngx_http_live_record_dir_t))
        != NGX_OK
        || ngx_http_live_record_index_dirs(pool, index, &none, &none, &dirs,
                                           log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    d = dirs.elts;

    for (i = 0; i < dirs.nelts; i++) {
        path = ngx_http_live_record_entry_path(pool, &d[i], id);
        if (path == NULL) {
            return NGX_ERROR;
        }

        if (ngx_file_info(path, &fi) == NGX_FILE_ERROR) {
            continue;
        }

        cln = ngx_pool_cleanup_add(pool, 0);
        if (cln == NULL) {
            return NGX_ERROR;
        }

        e->json = ngx_http_live_record_read_entry(path, log);

        if (e->json == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_live_record_json_free;
        cln->data = e->json;

        e->id = *id;
        e->app = d[i].app;
        e->stream = d[i].stream;
        e->file = path;
        e->start_ms = ngx_http_live_record_id_ms(id);

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/*
 * In a thread.  A session id starts with the time the session began, and
 * no part of it starts earlier: older ids are not read.
 */

ngx_int_t
ngx_http_live_record_index_session(ngx_pool_t *pool, ngx_str_t *index,
    ngx_str_t *session, ngx_str_t *app, ngx_str_t *stream,
    ngx_array_t *entries, ngx_log_t *log)
{
    u_char                        *path;
    cJSON                         *json;
    uint64_t                       since;
    ngx_str_t                      s;
    ngx_uint_t                     i;
    ngx_array_t                    dirs, cands;
    ngx_pool_cleanup_t            *cln;
    ngx_http_live_record_cand_t   *c;
    ngx_http_live_record_entry_t  *e;

    if (ngx_array_init(&dirs, pool, 16, sizeof(ngx_http_live_record_dir_t))
        != NGX_OK
        || ngx_array_init(&cands, pool, 64,
                          sizeof(ngx_http_live_record_cand_t)) != NGX_OK
        || ngx_http_live_record_index_dirs(pool, index, app, stream, &dirs,
                                           log)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < dirs.nelts; i++) {
        if (ngx_http_live_record_index_ids(pool,
                (ngx_http_live_record_dir_t *) dirs.elts + i, &cands, log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    since = ngx_http_live_record_id_ms(session);

    /* a second of slack for clocks read at other moments */
    since = (since > 1000) ? since - 1000 : 0;

    c = cands.elts;

    for (i = 0; i < cands.nelts; i++) {
        if (c[i].start_ms < since) {
            continue;
        }

        path = ngx_http_live_record_entry_path(pool, c[i].dir, &c[i].id);
        if (path == NULL) {
            return NGX_ERROR;
        }

        json = ngx_http_live_record_read_entry(path, log);
        if (json == NULL) {
            continue;
        }

        if (ngx_http_live_record_entry_str(json, "session_id", &s) != NGX_OK
            || s.len != session->len
            || ngx_strncmp(s.data, session->data, s.len) != 0)
        {
            cJSON_Delete(json);
            continue;
        }

        e = ngx_array_push(entries);
        cln = ngx_pool_cleanup_add(pool, 0);

        if (e == NULL || cln == NULL) {
            cJSON_Delete(json);
            return NGX_ERROR;
        }

        e->id = c[i].id;
        e->app = c[i].dir->app;
        e->stream = c[i].dir->stream;
        e->file = path;
        e->start_ms = c[i].start_ms;
        e->json = json;

        /* the object, not the slot: entries are moved and sorted */

        cln->handler = ngx_http_live_record_json_free;
        cln->data = json;
    }

    ngx_qsort(entries->elts, entries->nelts,
              sizeof(ngx_http_live_record_entry_t),
              ngx_http_live_record_entry_older);

    return NGX_OK;
}


static void
ngx_http_live_record_json_free(void *data)
{
    cJSON_Delete(data);
}


/* data: the address of a cJSON * to free, if it is still set */

void
ngx_http_live_record_json_cleanup(void *data)
{
    cJSON  **json = data;

    if (json && *json) {
        cJSON_Delete(*json);
        *json = NULL;
    }
}


/*
 * The store's application: the entry's own if it still has that store,
 * else any application with a store of that name.
 */

ngx_live_record_app_conf_t *
ngx_http_live_record_store_app(ngx_cycle_t *cycle, ngx_str_t *app,
    ngx_str_t *store)
{
    ngx_uint_t                     i;
    ngx_live_record_app_conf_t    *lacf, **pc;
    ngx_live_record_main_conf_t   *lmcf;

    lacf = app->len ? ngx_live_record_rtmp_app_conf(cycle, app) : NULL;

    if (lacf && lacf->store.name.len == store->len
        && ngx_strncmp(lacf->store.name.data, store->data, store->len) == 0)
    {
        return lacf;
    }

    lmcf = ngx_live_record_rtmp_main_conf(cycle);

    if (lmcf == NULL) {
        return NULL;
    }

    pc = lmcf->stores.elts;

    for (i = 0; i < lmcf->stores.nelts; i++) {
        if (pc[i]->store.name.len == store->len
            && ngx_strncmp(pc[i]->store.name.data, store->data, store->len)
               == 0)
        {
            return pc[i];
        }
    }

    return NULL;
}


/* work in the thread pool */

ngx_http_live_record_thread_t *
ngx_http_live_record_thread(ngx_http_request_t *r, ngx_pool_t *pool,
    ngx_http_live_record_thread_pt handler,
    ngx_http_live_record_thread_done_pt done, void *data)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_live_record_thread_t  *t;

    if (r) {
        t = ngx_pcalloc(r->pool, sizeof(ngx_http_live_record_thread_t));
        cln = ngx_pool_cleanup_add(r->pool, 0);

        if (t == NULL || cln == NULL) {
            return NULL;
        }

        t->pool = ngx_create_pool(4096, r->connection->log);
        if (t->pool == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_live_record_pool_cleanup;
        cln->data = t->pool;

    } else {
        t = ngx_pcalloc(pool, sizeof(ngx_http_live_record_thread_t));
        if (t == NULL) {
            return NULL;
        }

        t->pool = pool;
    }

    t->r = r;
    t->handler = handler;
    t->done = done;
    t->data = data;

    return t;
}


static void
ngx_http_live_record_pool_cleanup(void *data)
{
    ngx_destroy_pool(data);
}


/*
 * The application's live_record_thread_pool, or with no application
 * given, the first recording application's.
 */

ngx_int_t
ngx_http_live_record_thread_post(ngx_http_live_record_thread_t *t,
    ngx_str_t *app)
{
#if (NGX_THREADS)
    ngx_pool_t                    *pool;
    ngx_cycle_t                   *cycle;
    ngx_thread_task_t             *task;
    ngx_thread_pool_t             *tp;
    ngx_live_record_app_conf_t    *lacf, **pc;
    ngx_live_record_main_conf_t   *lmcf;

    cycle = (ngx_cycle_t *) ngx_cycle;
    lacf = app ? ngx_live_record_rtmp_app_conf(cycle, app) : NULL;

    if (lacf == NULL || lacf->thread_pool == NULL) {
        lmcf = ngx_live_record_rtmp_main_conf(cycle);

        if (lmcf == NULL || lmcf->stores.nelts == 0) {
            return NGX_ERROR;
        }

        pc = lmcf->stores.elts;
        lacf = pc[0];
    }

    tp = lacf->thread_pool;

    if (tp == NULL) {
        return NGX_ERROR;
    }

    pool = t->r ? t->r->pool : t->pool;

    task = ngx_thread_task_alloc(pool, 0);
    if (task == NULL) {
        return NGX_ERROR;
    }

    task->ctx = t;
    task->handler = ngx_http_live_record_thread_handler;
    task->event.handler = ngx_http_live_record_thread_event;
    task->event.data = t;
    task->event.log = t->r ? t->r->connection->log : ngx_cycle->log;

    return ngx_live_record_post(tp, task);

#else

    return NGX_ERROR;

#endif
}


/* for a request: NGX_DONE with the task posted, else the error sent */

ngx_int_t
ngx_http_live_record_thread_run(ngx_http_live_record_thread_t *t,
    ngx_str_t *app)
{
    ngx_http_request_t  *r;

    r = t->r;

    if (ngx_http_live_record_thread_post(t, app) != NGX_OK) {
        return ngx_http_live_record_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                          "unavailable",
                                          "no thread pool took the work, "
                                          "try again later");
    }

    if (r) {
        r->main->count++;
    }

    return NGX_DONE;
}


static void
ngx_http_live_record_thread_handler(void *data, ngx_log_t *log)
{
    ngx_http_live_record_thread_t *t = data;

    t->handler(t, log);
}


static void
ngx_http_live_record_thread_event(ngx_event_t *ev)
{
    ngx_http_live_record_thread_t *t = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = t->r;

    if (r == NULL) {
        t->done(t);
        return;
    }

    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    t->done(t);

    ngx_http_run_posted_requests(c);
}
