
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_curl.h"
#include "ngx_live_record_shm.h"


#define NGX_LIVE_RECORD_BACKOFF_MIN   1000
#define NGX_LIVE_RECORD_BACKOFF_MAX   600000
#define NGX_LIVE_RECORD_SCAN_MS       10000
#define NGX_LIVE_RECORD_SPOOL_MAX     (64 * 1024 * 1024 - 1)


typedef struct {
    ngx_live_record_curl_t     *curl;
    ngx_queue_t                 jobs;
    ngx_event_t                 scan;
    ngx_uint_t                  seq;
    ngx_uint_t                  scanned;
    ngx_str_t                   dir;            /* spool/notify */
    ngx_str_t                   dead;           /* spool/dead */
    ngx_log_t                  *log;
} ngx_live_record_notify_t;


/*
 * A file (a part's recovery sidecar) that may be deleted once an event is
 * in the spool for every receiver; a spool write that fails keeps it, so
 * that a recovery after a crash announces the file again
 */
typedef struct {
    ngx_atomic_t                left;
    ngx_atomic_t                failed;
    u_char                      path[1];
} ngx_live_record_release_t;


/* one event on its way to one receiver */
typedef struct {
    ngx_queue_t                 queue;
    ngx_pool_t                 *pool;
    ngx_live_record_main_conf_t *lmcf;
    ngx_live_record_receiver_t *rcv;
    ngx_str_t                   id;
    ngx_str_t                   body;
    ngx_str_t                   name;           /* spool file name */
    u_char                     *path;           /* spool file path */
    time_t                      t;
    ngx_uint_t                  attempts;
    ngx_msec_t                  backoff;
    ngx_event_t                 retry;
    ngx_live_record_request_t  *req;
    u_char                     *why;            /* given up: the reason */
    ngx_live_record_release_t  *release;        /* once spooled */
#if (NGX_THREADS)
    ngx_thread_task_t          *task;
#endif
    ngx_uint_t                  op;             /* the spool file's fate */
    ngx_uint_t                  next;           /* ... once op is done */
    unsigned                    spooled:1;
    unsigned                    io:1;           /* op runs in the pool */
} ngx_live_record_notify_job_t;


/* what a job's spool file undergoes, in the thread pool */
#define NGX_LIVE_RECORD_SPOOL_WRITE   1
#define NGX_LIVE_RECORD_SPOOL_DELETE  2         /* delivered */
#define NGX_LIVE_RECORD_SPOOL_DEAD    3         /* given up */
#define NGX_LIVE_RECORD_SPOOL_KEEP    4         /* freed, file stays */


static ngx_live_record_notify_job_t *ngx_live_record_job_create(
    ngx_live_record_main_conf_t *lmcf, ngx_live_record_receiver_t *rcv,
    ngx_str_t *id, ngx_str_t *body, ngx_str_t *name,
    ngx_live_record_release_t *rel);
static ngx_live_record_release_t *ngx_live_record_release_create(u_char *path,
    ngx_uint_t n);
static void ngx_live_record_release_put(ngx_live_record_release_t *rel,
    ngx_uint_t ok, ngx_log_t *log);
static ngx_int_t ngx_live_record_job_spool(ngx_live_record_notify_job_t *job);
static void ngx_live_record_job_io(ngx_live_record_notify_job_t *job,
    ngx_uint_t op);
static void ngx_live_record_job_io_thread(void *data, ngx_log_t *log);
static void ngx_live_record_job_io_done(ngx_event_t *ev);
static void ngx_live_record_job_bury(ngx_live_record_notify_job_t *job,
    ngx_log_t *log);
static void ngx_live_record_job_send(ngx_live_record_notify_job_t *job);
static void ngx_live_record_job_done(ngx_live_record_request_t *r);
static void ngx_live_record_job_delay(ngx_live_record_notify_job_t *job);
static void ngx_live_record_job_failed(ngx_live_record_notify_job_t *job,
    u_char *why);
static void ngx_live_record_job_retry(ngx_event_t *ev);
static void ngx_live_record_job_free(ngx_live_record_notify_job_t *job);
static void ngx_live_record_notify_scan(ngx_event_t *ev);
static ngx_int_t ngx_live_record_spool_dirs(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf);
static ngx_int_t ngx_live_record_spool_claim(
    ngx_live_record_main_conf_t *lmcf, ngx_str_t *dir, ngx_str_t *name,
    ngx_live_record_spool_load_pt load);
static ngx_int_t ngx_live_record_notify_parse(ngx_str_t *text,
    ngx_str_t *name, ngx_str_t *url, ngx_str_t *body, ngx_str_t *id);
static ngx_int_t ngx_live_record_notify_load(
    ngx_live_record_main_conf_t *lmcf, u_char *path, ngx_str_t *text);
static ngx_int_t ngx_live_record_notify_part_done(
    ngx_live_record_done_t *v);
static ngx_int_t ngx_live_record_notify_make(
    ngx_live_record_main_conf_t *lmcf, ngx_array_t *receivers,
    const char *type, cJSON *event, ngx_str_t *file, u_char **release);
static ngx_int_t ngx_live_record_notify_seq(cJSON *event);


static ngx_live_record_part_done_pt  next_part_done;


/* live_record_notify URL [key=SECRET|key_file=F] [timeout=5s]; */

char *
ngx_live_record_notify_conf(ngx_conf_t *cf, ngx_live_record_app_conf_t *lacf)
{
    ngx_str_t                     *value, s;
    ngx_uint_t                     i;
    ngx_live_record_receiver_t    *rcv, **rp;
    ngx_live_record_main_conf_t   *lmcf;

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "http://", 7) != 0
        && ngx_strncmp(value[1].data, "https://", 8) != 0)
    {
        return "needs an http:// or https:// URL";
    }

    rcv = ngx_pcalloc(cf->pool, sizeof(ngx_live_record_receiver_t));
    if (rcv == NULL) {
        return NGX_CONF_ERROR;
    }

    rcv->url = value[1];
    rcv->timeout = 5000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0 && rcv->key.len == 0) {
            rcv->key.data = value[i].data + 4;
            rcv->key.len = value[i].len - 4;
            continue;
        }

        if (ngx_strncmp(value[i].data, "key_file=", 9) == 0
            && rcv->key.len == 0)
        {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            if (ngx_live_record_conf_secret(cf, &s, "live_record_notify "
                                            "key_file", &rcv->key)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rcv->timeout = ngx_parse_time(&s, 0);

            if (rcv->timeout == (ngx_msec_t) NGX_ERROR || rcv->timeout == 0) {
                return "has an invalid timeout=";
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in "
                           "\"live_record_notify\", expected key=, "
                           "key_file= (one of them) or timeout=", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (lacf->notify == NGX_CONF_UNSET_PTR) {
        lacf->notify = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_live_record_receiver_t *));
        if (lacf->notify == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rp = ngx_array_push(lacf->notify);
    if (rp == NULL) {
        return NGX_CONF_ERROR;
    }

    *rp = rcv;

    /* every receiver, so that a spooled event finds its key after restart */

    lmcf = ngx_rtmp_conf_get_module_main_conf(cf, ngx_live_record_module);

    rp = ngx_array_push(&lmcf->receivers);
    if (rp == NULL) {
        return NGX_CONF_ERROR;
    }

    *rp = rcv;

    return NGX_CONF_OK;
}


ngx_int_t
ngx_live_record_notify_init(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf)
{
    u_char                    *p;
    ngx_live_record_notify_t  *nt;

    nt = ngx_pcalloc(cycle->pool, sizeof(ngx_live_record_notify_t));
    if (nt == NULL) {
        return NGX_ERROR;
    }

    nt->curl = ngx_live_record_curl_create(cycle);
    if (nt->curl == NULL) {
        return NGX_ERROR;
    }

    nt->log = cycle->log;
    ngx_queue_init(&nt->jobs);

    p = ngx_pnalloc(cycle->pool, 2 * (lmcf->spool.len + sizeof("/notify/")));
    if (p == NULL) {
        return NGX_ERROR;
    }

    nt->dir.data = p;
    p = ngx_sprintf(p, "%V/notify/%Z", &lmcf->spool);
    nt->dir.len = p - nt->dir.data - 1;

    nt->dead.data = p;
    p = ngx_sprintf(p, "%V/dead/%Z", &lmcf->spool);
    nt->dead.len = p - nt->dead.data - 1;

    if (ngx_live_record_create_dirs(nt->dir.data, cycle->log) != NGX_OK
        || ngx_live_record_create_dirs(nt->dead.data, cycle->log) != NGX_OK
        || ngx_live_record_spool_dirs(cycle, lmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* no trailing slash */
    nt->dir.len--;
    nt->dead.len--;

    lmcf->curl = nt->curl;

    nt->scan.handler = ngx_live_record_notify_scan;
    nt->scan.data = lmcf;
    nt->scan.log = cycle->log;
    nt->scan.cancelable = 1;

    lmcf->notify = nt;

    /* what earlier workers left is picked up at once */
    ngx_live_record_notify_scan(&nt->scan);

    return NGX_OK;
}


/* notify joins the part_done chain whose end the module set */

ngx_int_t
ngx_live_record_notify_postconfiguration(ngx_conf_t *cf)
{
#if (NGX_THREADS)
    ngx_str_t                     name;
    ngx_live_record_app_conf_t   *lacf;
    ngx_live_record_main_conf_t  *lmcf;

    /* spool files are written where the rtmp{} level's parts finalize */

    lmcf = ngx_rtmp_conf_get_module_main_conf(cf, ngx_live_record_module);
    lacf = ngx_rtmp_conf_get_module_app_conf(cf, ngx_live_record_module);

    ngx_str_set(&name, "default");

    if (lacf && lacf->thread_pool_name.len) {
        name = lacf->thread_pool_name;
    }

    lmcf->notify_pool = ngx_thread_pool_add(cf, &name);
    if (lmcf->notify_pool == NULL) {
        return NGX_ERROR;
    }
#endif

    next_part_done = ngx_live_record_part_done;
    ngx_live_record_part_done = ngx_live_record_notify_part_done;

    return NGX_OK;
}


/* a delivered file: record_done or concat_done, with its index entry */

static ngx_int_t
ngx_live_record_notify_part_done(ngx_live_record_done_t *v)
{
    cJSON  *o;

    if (v->receivers == NULL || v->receivers->nelts == 0) {
        goto next;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ngx_cycle->log, 0,
                   "live record: \"%V\" %V: %s event",
                   v->label, v->file_id, v->event);

    o = cJSON_Duplicate(v->entry, 1);

    if (o == NULL
        || ngx_live_record_notify_make(v->lmcf, v->receivers, v->event, o,
                                      v->file_id, &v->release)
           == NGX_ERROR)
    {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "live record: \"%V\" %V: the %s event could not be "
                      "made", v->label, v->file_id, v->event);
    }

next:

    return next_part_done(v);
}


/*
 * Spool files of other folders (uploads that wait, parts that were open
 * at a crash) are picked up by the same scan as notify's own, through
 * loaders registered before the workers start: notify knows no more of
 * them than a directory name and a function.
 */

ngx_int_t
ngx_live_record_spool_loader(ngx_conf_t *cf,
    ngx_live_record_main_conf_t *lmcf, char *dir,
    ngx_live_record_spool_load_pt load)
{
    ngx_live_record_spool_loader_t  *loader;

    if (lmcf->loaders.elts == NULL
        && ngx_array_init(&lmcf->loaders, cf->pool, 2,
                          sizeof(ngx_live_record_spool_loader_t))
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    loader = ngx_array_push(&lmcf->loaders);
    if (loader == NULL) {
        return NGX_ERROR;
    }

    loader->dir.data = (u_char *) dir;
    loader->dir.len = ngx_strlen(dir);
    ngx_str_null(&loader->path);
    loader->load = load;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_spool_dirs(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf)
{
    u_char                          *p;
    ngx_uint_t                       i;
    ngx_live_record_spool_loader_t  *loader;

    loader = lmcf->loaders.elts;

    for (i = 0; i < lmcf->loaders.nelts; i++) {
        p = ngx_pnalloc(cycle->pool,
                        lmcf->spool.len + loader[i].dir.len + 3);
        if (p == NULL) {
            return NGX_ERROR;
        }

        loader[i].path.data = p;
        loader[i].path.len = ngx_sprintf(p, "%V/%V/%Z", &lmcf->spool,
                                         &loader[i].dir) - p - 1;

        if (ngx_live_record_create_dirs(p, cycle->log) != NGX_OK) {
            return NGX_ERROR;
        }

        /* no trailing slash */
        loader[i].path.len--;
    }

    return NGX_OK;
}


ngx_int_t
ngx_live_record_notify_event(ngx_live_record_main_conf_t *lmcf,
    ngx_array_t *receivers, const char *type, cJSON *event)
{
    return ngx_live_record_notify_make(lmcf, receivers, type, event, NULL,
                                       NULL);
}


/*
 * The event id is unique across nodes and stable across retries.  A
 * file's record_done or concat_done is named after the file ("TYPE-FILE_ID"):
 * made again by a recovery after a crash during the hand-off, it is the
 * same event, which a receiver deduplicates.  Others are named after the
 * moment they are made.
 */

static ngx_int_t
ngx_live_record_notify_make(ngx_live_record_main_conf_t *lmcf,
    ngx_array_t *receivers, const char *type, cJSON *event, ngx_str_t *file,
    u_char **release)
{
    u_char                       id[NGX_INT64_LEN * 2 + 256], *p;
    char                        *text;
    ngx_str_t                    sid, body;
    ngx_uint_t                   i;
    ngx_time_t                  *tp;
    ngx_live_record_notify_t    *nt;
    ngx_live_record_release_t   *rel;
    ngx_live_record_receiver_t **rcv;

    nt = lmcf->notify;

    if (nt == NULL || receivers == NULL || receivers->nelts == 0) {
        cJSON_Delete(event);
        return NGX_DECLINED;
    }

    /*
     * from here the release is ours: deleted once every receiver's spool
     * file is written, or kept (an event not made is announced again by
     * the recovery of the next start)
     */

    rel = NULL;

    if (release && *release) {
        rel = ngx_live_record_release_create(*release, receivers->nelts + 1);
        *release = NULL;
    }

    /* unique across nodes, stable across retries */

    tp = ngx_timeofday();

    if (file && ngx_live_record_valid_name(file, 200) == NGX_OK) {
        p = ngx_snprintf(id, sizeof(id) - 1, "%s-%V", type, file);

    } else {
        p = ngx_snprintf(id, sizeof(id) - 1, "%T%03M-%V-%P-%ui", tp->sec,
                         tp->msec, &lmcf->node_id, ngx_pid, ++nt->seq);
    }
    sid.data = id;
    sid.len = p - id;
    *p = '\0';

    if (cJSON_AddStringToObject(event, "event_id", (char *) id) == NULL
        || cJSON_AddStringToObject(event, "event_type", type) == NULL
        || cJSON_AddNumberToObject(event, "t", (double) tp->sec) == NULL
        || ngx_live_record_notify_seq(event) != NGX_OK)
    {
        cJSON_Delete(event);
        ngx_free(rel);
        return NGX_ERROR;
    }

    text = cJSON_PrintUnformatted(event);
    cJSON_Delete(event);

    if (text == NULL) {
        ngx_free(rel);
        return NGX_ERROR;
    }

    body.data = (u_char *) text;
    body.len = ngx_strlen(text);

    rcv = receivers->elts;

    for (i = 0; i < receivers->nelts; i++) {
        if (ngx_live_record_job_create(lmcf, rcv[i], &sid, &body, NULL, rel)
            == NULL && rel)
        {
            ngx_live_record_release_put(rel, 0, nt->log);
        }
    }

    cJSON_free(text);

    if (rel) {
        ngx_live_record_release_put(rel, 1, nt->log);
    }

    return NGX_OK;
}


/* an event of a session is numbered among the session's (docs/notify.md) */

static ngx_int_t
ngx_live_record_notify_seq(cJSON *event)
{
    cJSON      *o;
    uint64_t    n;
    ngx_str_t   session;

    o = cJSON_GetObjectItemCaseSensitive(event, "session_id");

    if (!cJSON_IsString(o)) {
        return NGX_OK;
    }

    session.data = (u_char *) o->valuestring;
    session.len = ngx_strlen(session.data);

    n = ngx_live_record_session_seq(&session);

    if (n == 0) {
        /* no zone, or the zone full of sessions that are live */
        return NGX_OK;
    }

    return cJSON_AddNumberToObject(event, "seq", (double) n) ? NGX_OK
                                                              : NGX_ERROR;
}


static ngx_live_record_release_t *
ngx_live_record_release_create(u_char *path, ngx_uint_t n)
{
    size_t                      len;
    ngx_live_record_release_t  *rel;

    len = ngx_strlen(path);

    rel = ngx_alloc(sizeof(ngx_live_record_release_t) + len, ngx_cycle->log);
    if (rel == NULL) {
        return NULL;
    }

    rel->left = n;
    rel->failed = 0;
    ngx_memcpy(rel->path, path, len + 1);

    return rel;
}


/* in a thread, or on the loop: one of n spool writes is over */

static void
ngx_live_record_release_put(ngx_live_record_release_t *rel, ngx_uint_t ok,
    ngx_log_t *log)
{
    if (!ok) {
        (void) ngx_atomic_fetch_add(&rel->failed, 1);
    }

    if (ngx_atomic_fetch_add(&rel->left, (ngx_atomic_int_t) -1) != 1) {
        return;
    }

    if (rel->failed) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "live record: \"%s\" is kept: its event is not "
                      "spooled for every receiver, the next start "
                      "announces its file again", rel->path);

    } else if (ngx_delete_file(rel->path) == NGX_FILE_ERROR
               && ngx_errno != NGX_ENOENT)
    {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_delete_file_n " \"%s\" failed",
                      rel->path);

    } else {
        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_OPEN, -1);
    }

    ngx_free(rel);
}


static ngx_live_record_notify_job_t *
ngx_live_record_job_create(ngx_live_record_main_conf_t *lmcf,
    ngx_live_record_receiver_t *rcv, ngx_str_t *id, ngx_str_t *body,
    ngx_str_t *name, ngx_live_record_release_t *rel)
{
    u_char                        *p;
    ngx_pool_t                    *pool;
    ngx_live_record_notify_t      *nt;
    ngx_live_record_notify_job_t  *job;

    nt = lmcf->notify;

    pool = ngx_create_pool(1024, nt->log);
    if (pool == NULL) {
        return NULL;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_live_record_notify_job_t));
    if (job == NULL) {
        goto failed;
    }

    job->pool = pool;
    job->lmcf = lmcf;
    job->rcv = rcv;
    job->t = ngx_time();
    job->backoff = NGX_LIVE_RECORD_BACKOFF_MIN;

    job->id.data = ngx_pstrdup(pool, id);
    job->id.len = id->len;
    job->body.data = ngx_pstrdup(pool, body);
    job->body.len = body->len;

    if (job->id.data == NULL || job->body.data == NULL) {
        goto failed;
    }

    job->path = ngx_pnalloc(pool, nt->dir.len + 2 * NGX_INT_T_LEN
                                  + id->len + sizeof("/..json"));
    if (job->path == NULL) {
        goto failed;
    }

    if (name) {
        p = ngx_sprintf(job->path, "%V/%V%Z", &nt->dir, name);

    } else {
        p = ngx_sprintf(job->path, "%V/%P.%V.%ui.json%Z", &nt->dir, ngx_pid,
                        id, ++nt->seq);
    }

    job->name.data = job->path + nt->dir.len + 1;
    job->name.len = p - 1 - job->name.data;

    job->retry.handler = ngx_live_record_job_retry;
    job->retry.data = job;
    job->retry.log = nt->log;
    job->retry.cancelable = 1;

    job->spooled = 1;
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_NOTIFY, 1);

    ngx_queue_insert_tail(&nt->jobs, &job->queue);
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_NOTIFY, 1);

    /* written while it is sent: the send does not wait for the disk */

    job->release = rel;

    if (name == NULL) {
        ngx_live_record_job_io(job, NGX_LIVE_RECORD_SPOOL_WRITE);
    }

    ngx_live_record_job_send(job);

    return job;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


/* "URL\n" then the body: enough to send it again after a restart */

static ngx_int_t
ngx_live_record_job_spool(ngx_live_record_notify_job_t *job)
{
    ngx_str_t  data[3];

    data[0] = job->rcv->url;
    ngx_str_set(&data[1], "\n");
    data[2] = job->body;

    return ngx_live_record_write_atomic(job->path, data, 3, ngx_cycle->log);
}


static void
ngx_live_record_job_send(ngx_live_record_notify_job_t *job)
{
    u_char                     *p, sig[2 * EVP_MAX_MD_SIZE + 1];
    ngx_str_t                  *h, ts;
    ngx_live_record_notify_t   *nt;
    ngx_live_record_request_t  *r;

    nt = job->lmcf->notify;

    r = ngx_live_record_request_create(job->pool);
    if (r == NULL) {
        ngx_live_record_job_failed(job, (u_char *) "out of memory");
        return;
    }

    r->headers = ngx_array_create(job->pool, 4, sizeof(ngx_str_t));
    if (r->headers == NULL) {
        ngx_live_record_job_failed(job, (u_char *) "out of memory");
        return;
    }

    h = ngx_array_push_n(r->headers, 4);
    p = ngx_pnalloc(job->pool, 256 + job->id.len + sizeof(sig));

    if (h == NULL || p == NULL) {
        ngx_live_record_job_failed(job, (u_char *) "out of memory");
        return;
    }

    /* the timestamp of this attempt is signed with the body */

    ts.data = p;
    p = ngx_sprintf(p, "%T", ngx_time());
    ts.len = p - ts.data;

    ngx_str_set(&h[0], "Content-Type: application/json");

    h[1].data = p;
    p = ngx_sprintf(p, "X-Live-Record-Event-Id: %V", &job->id);
    h[1].len = p - h[1].data;

    h[2].data = p;
    p = ngx_sprintf(p, "X-Live-Record-Timestamp: %V", &ts);
    h[2].len = p - h[2].data;

    r->headers->nelts = 3;

    if (job->rcv->key.len) {
        if (ngx_live_record_hmac_sha256_hex(&job->rcv->key, &ts, &job->body,
                                            sig)
            != NGX_OK)
        {
            ngx_live_record_job_failed(job, (u_char *) "signing failed");
            return;
        }

        h[3].data = p;
        p = ngx_sprintf(p, "X-Live-Record-Signature: sha256=%s", sig);
        h[3].len = p - h[3].data;
        r->headers->nelts = 4;
    }

    ngx_str_set(&r->method, "POST");
    r->url = job->rcv->url;
    r->body = job->body;
    r->timeout = job->rcv->timeout;
    r->connect_timeout = job->rcv->timeout;
    r->max_response = 4096;
    r->handler = ngx_live_record_job_done;
    r->data = job;
    r->log = nt->log;

    job->req = r;
    job->attempts++;

    if (ngx_live_record_request_start(nt->curl, r) != NGX_OK) {
        job->req = NULL;
        ngx_live_record_job_failed(job, (u_char *) "request not started");
    }
}


/*
 * A record_done delivered: the time since the file's last frame, which
 * its event carries (so an event replayed from the spool after a restart
 * counts all of its wait).
 */

static void
ngx_live_record_job_delay(ngx_live_record_notify_job_t *job)
{
    double       end;
    cJSON       *o, *type, *ms;
    uint64_t     now;
    ngx_time_t  *tp;

    o = cJSON_ParseWithLength((char *) job->body.data, job->body.len);
    if (o == NULL) {
        return;
    }

    type = cJSON_GetObjectItemCaseSensitive(o, "event_type");
    ms = cJSON_GetObjectItemCaseSensitive(o, "end_time_ms");

    if (cJSON_IsString(type) && ngx_strcmp(type->valuestring, "record_done")
                                == 0
        && cJSON_IsNumber(ms) && ms->valuedouble > 0)
    {
        end = ms->valuedouble;

        tp = ngx_timeofday();
        now = (uint64_t) tp->sec * 1000 + tp->msec;

        ngx_live_record_stat_observe(NGX_LIVE_RECORD_HIST_NOTIFY,
                                     now > end ? (ngx_msec_t) (now - end)
                                               : 0);
    }

    cJSON_Delete(o);
}


static void
ngx_live_record_job_done(ngx_live_record_request_t *r)
{
    ngx_live_record_notify_job_t *job = r->data;

    u_char                     why[NGX_MAX_ERROR_STR];
    ngx_live_record_notify_t  *nt;

    nt = job->lmcf->notify;
    job->req = NULL;

    if (r->rc == NGX_OK && r->status >= 200 && r->status < 300) {
        ngx_log_error(NGX_LOG_INFO, nt->log, 0,
                      "live record: notify event %V delivered to \"%V\" "
                      "(status %l, attempt %ui)",
                      &job->id, &job->rcv->url, r->status, job->attempts);

        ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_NOTIFY_DELIVERED, 1);
        ngx_live_record_job_delay(job);

        ngx_live_record_job_io(job, NGX_LIVE_RECORD_SPOOL_DELETE);
        return;
    }

    if (r->rc == NGX_OK) {
        *ngx_snprintf(why, sizeof(why) - 1, "status %l", r->status) = '\0';

    } else {
        *ngx_snprintf(why, sizeof(why) - 1, "%s", r->error) = '\0';
    }

    ngx_live_record_job_failed(job, why);
}


static void
ngx_live_record_job_failed(ngx_live_record_notify_job_t *job, u_char *why)
{
    size_t                     len;
    ngx_live_record_notify_t  *nt;

    nt = job->lmcf->notify;

    ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_NOTIFY_FAILED, 1);

    if (ngx_time() - job->t < (time_t) (job->lmcf->notify_retry / 1000)) {
        ngx_log_error(NGX_LOG_WARN, nt->log, 0,
                      "live record: notify event %V to \"%V\" failed (%s), "
                      "attempt %ui, retry in %M ms",
                      &job->id, &job->rcv->url, why, job->attempts,
                      job->backoff);

        ngx_add_timer(&job->retry, job->backoff);
        job->backoff = ngx_min(2 * job->backoff, NGX_LIVE_RECORD_BACKOFF_MAX);
        return;
    }

    /* given up: the event and why go to the dead-letter directory */

    ngx_live_record_stat_add(NGX_LIVE_RECORD_STAT_NOTIFY_DEAD, 1);
    ngx_live_record_stat_error();

    len = ngx_strlen(why);

    job->why = ngx_pnalloc(job->pool, len + 1);
    if (job->why == NULL) {
        ngx_live_record_job_io(job, NGX_LIVE_RECORD_SPOOL_KEEP);
        return;
    }

    ngx_memcpy(job->why, why, len + 1);

    ngx_log_error(NGX_LOG_WARN, nt->log, 0,
                  "live record: notify event %V to \"%V\" given up after "
                  "%ui attempts (%s), moved to \"%V/%V\"",
                  &job->id, &job->rcv->url, job->attempts, why, &nt->dead,
                  &job->name);

    ngx_live_record_job_io(job, NGX_LIVE_RECORD_SPOOL_DEAD);
}


/* in a thread, or on the loop: the event and why, in the dead letters */

static void
ngx_live_record_job_bury(ngx_live_record_notify_job_t *job, ngx_log_t *log)
{
    u_char                    *dead, *err;
    size_t                     len;
    ngx_fd_t                   fd;
    ngx_live_record_notify_t  *nt;

    nt = job->lmcf->notify;

    len = nt->dead.len + job->name.len + sizeof("/.error");

    dead = ngx_alloc(2 * len, log);
    if (dead == NULL) {
        return;
    }

    err = ngx_sprintf(dead, "%V/%V%Z", &nt->dead, &job->name);
    ngx_sprintf(err, "%V/%V.error%Z", &nt->dead, &job->name);

    if (ngx_rename_file(job->path, dead) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_rename_file_n " \"%s\" to \"%s\" "
                      "failed", job->path, dead);
    }

    fd = ngx_open_file(err, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_DEFAULT_ACCESS);
    if (fd != NGX_INVALID_FILE) {
        (void) ngx_write_fd(fd, job->why, ngx_strlen(job->why));
        (void) ngx_write_fd(fd, "\n", 1);
        (void) ngx_close_file(fd);
    }

    ngx_free(dead);
}


/*
 * The spool file's disk work runs in the thread pool, one operation at a
 * time per job; the job ends (and its memory goes) once its last one is
 * done.  Without a pool, on the loop.
 */

static void
ngx_live_record_job_io(ngx_live_record_notify_job_t *job, ngx_uint_t op)
{
    ngx_event_t  ev;

    if (op != NGX_LIVE_RECORD_SPOOL_WRITE) {
        /* the job is over: nothing sends it again */

        if (job->retry.timer_set) {
            ngx_del_timer(&job->retry);
        }

        if (job->req) {
            ngx_live_record_request_cancel(job->req);
            job->req = NULL;
        }
    }

    if (job->io) {
        /* after the write in progress */
        job->next = op;
        return;
    }

    job->op = op;

#if (NGX_THREADS)

    if (op != NGX_LIVE_RECORD_SPOOL_KEEP && job->lmcf->notify_pool) {
        if (job->task == NULL) {
            job->task = ngx_thread_task_alloc(job->pool, 0);
        }

        if (job->task) {
            job->task->ctx = job;
            job->task->handler = ngx_live_record_job_io_thread;
            job->task->event.handler = ngx_live_record_job_io_done;
            job->task->event.data = job;
            job->task->event.log =
                ((ngx_live_record_notify_t *) job->lmcf->notify)->log;

            if (ngx_live_record_post(job->lmcf->notify_pool, job->task)
                == NGX_OK)
            {
                job->io = 1;
                return;
            }
        }
    }

#endif

    ngx_live_record_job_io_thread(job, ngx_cycle->log);

    ngx_memzero(&ev, sizeof(ngx_event_t));
    ev.data = job;

    ngx_live_record_job_io_done(&ev);
}


static void
ngx_live_record_job_io_thread(void *data, ngx_log_t *log)
{
    ngx_live_record_notify_job_t *job = data;

    ngx_uint_t  ok;

    switch (job->op) {

    case NGX_LIVE_RECORD_SPOOL_WRITE:
        ok = (ngx_live_record_job_spool(job) == NGX_OK);

        if (!ok) {
            /* not durable: sent from memory, and its file stays open */
            ngx_log_error(NGX_LOG_CRIT, log, 0,
                          "live record: notify event %V to \"%V\" is not "
                          "spooled%s", &job->id, &job->rcv->url,
                          job->release
                          ? ", it is sent from memory and its file is "
                            "announced again by a recovery if nginx stops "
                            "before delivery"
                          : ", it is lost if nginx stops before delivery");

        } else if (job->release) {
            ngx_live_record_release_put(job->release, 1, log);
            job->release = NULL;
        }

        break;

    case NGX_LIVE_RECORD_SPOOL_DELETE:
        if (job->release) {
            /* delivered from memory: nothing is left to announce */
            ngx_live_record_release_put(job->release, 1, log);
            job->release = NULL;
        }

        if (ngx_delete_file(job->path) == NGX_FILE_ERROR
            && ngx_errno != NGX_ENOENT)
        {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          "live record: " ngx_delete_file_n " \"%s\" failed",
                          job->path);
        }

        break;

    case NGX_LIVE_RECORD_SPOOL_DEAD:
        ngx_live_record_job_bury(job, log);
        /* fall through */

    default: /* NGX_LIVE_RECORD_SPOOL_KEEP */
        if (job->release) {
            ngx_live_record_release_put(job->release, 0, log);
            job->release = NULL;
        }
    }
}


static void
ngx_live_record_job_io_done(ngx_event_t *ev)
{
    ngx_live_record_notify_job_t *job = ev->data;

    ngx_uint_t  next;

    job->io = 0;

    if (job->op == NGX_LIVE_RECORD_SPOOL_WRITE) {
        next = job->next;
        job->next = 0;

        if (next) {
            ngx_live_record_job_io(job, next);
        }

        return;
    }

    ngx_live_record_job_free(job);
}


static void
ngx_live_record_job_retry(ngx_event_t *ev)
{
    ngx_live_record_job_send(ev->data);
}


static void
ngx_live_record_job_free(ngx_live_record_notify_job_t *job)
{
    if (job->retry.timer_set) {
        ngx_del_timer(&job->retry);
    }

    if (job->req) {
        ngx_live_record_request_cancel(job->req);
    }

    ngx_queue_remove(&job->queue);
    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_NOTIFY, -1);

    if (job->spooled) {
        ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_NOTIFY, -1);
    }

    ngx_destroy_pool(job->pool);
}


static void
ngx_live_record_notify_scan(ngx_event_t *ev)
{
    ngx_live_record_main_conf_t *lmcf = ev->data;

    ngx_uint_t                       i;
    ngx_live_record_notify_t        *nt;
    ngx_live_record_spool_loader_t  *loader;

    nt = lmcf->notify;

    ngx_live_record_spool_scan(lmcf, &nt->dir, !nt->scanned,
                               ngx_live_record_notify_load);
    loader = lmcf->loaders.elts;

    for (i = 0; i < lmcf->loaders.nelts; i++) {
        ngx_live_record_spool_scan(lmcf, &loader[i].path, !nt->scanned,
                                   loader[i].load);
    }

    nt->scanned = 1;

    if (!ngx_exiting && !ngx_terminate) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_SCAN_MS);
    }
}


/*
 * Spool files are named "PID.ID.json" after the worker that owns them.
 * Those of a worker that is gone (crash, restart, reload) are taken over
 * by renaming them to this worker's pid: a rename is atomic, so each file
 * gets one new owner and nothing is sent twice at once.  At start even
 * this pid's files are an earlier worker's.
 */

void
ngx_live_record_spool_scan(ngx_live_record_main_conf_t *lmcf, ngx_str_t *dir,
    ngx_uint_t first, ngx_live_record_spool_load_pt load)
{
    u_char      *dot;
    ngx_dir_t    d;
    ngx_str_t    name, *names;
    ngx_pid_t    pid;
    ngx_uint_t   i;
    ngx_pool_t  *pool;
    ngx_array_t  claim;

    /*
     * The names are read first and claimed after: a claim renames the
     * file to this worker's pid, and readdir() may return the new name
     * later in the same pass, which the first scan would claim (and load)
     * a second time.
     */

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    if (ngx_array_init(&claim, pool, 16, sizeof(ngx_str_t)) != NGX_OK) {
        ngx_destroy_pool(pool);
        return;
    }

    if (ngx_open_dir(dir, &d) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, ngx_errno,
                      "live record: " ngx_open_dir_n " \"%V\" failed", dir);
        ngx_destroy_pool(pool);
        return;
    }

    while (ngx_read_dir(&d) == NGX_OK) {
        name.data = ngx_de_name(&d);
        name.len = ngx_de_namelen(&d);

        if (name.len < sizeof("1.x.json") - 1
            || ngx_strncmp(name.data + name.len - 5, ".json", 5) != 0)
        {
            continue;
        }

        dot = ngx_strlchr(name.data, name.data + name.len, '.');
        pid = dot ? ngx_atoi(name.data, dot - name.data) : NGX_ERROR;

        if (pid <= 0) {
            continue;
        }

        if (pid == ngx_pid ? !first : ngx_live_record_process_alive(pid)) {
            continue;
        }

        names = ngx_array_push(&claim);
        if (names == NULL) {
            break;
        }

        names->len = name.len;
        names->data = ngx_pstrdup(pool, &name);

        if (names->data == NULL) {
            claim.nelts--;
            break;
        }
    }

    (void) ngx_close_dir(&d);

    names = claim.elts;

    for (i = 0; i < claim.nelts; i++) {
        (void) ngx_live_record_spool_claim(lmcf, dir, &names[i], load);
    }

    ngx_destroy_pool(pool);
}


static ngx_int_t
ngx_live_record_spool_claim(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *dir, ngx_str_t *name, ngx_live_record_spool_load_pt load)
{
    u_char     *from, *to, *rest;
    ngx_int_t   rc;
    ngx_str_t   text;

    rest = ngx_strlchr(name->data, name->data + name->len, '.') + 1;

    from = ngx_alloc(2 * (dir->len + name->len + NGX_INT_T_LEN + 4),
                     ngx_cycle->log);
    if (from == NULL) {
        return NGX_ERROR;
    }

    to = ngx_sprintf(from, "%V/%V%Z", dir, name);
    ngx_sprintf(to, "%V/%P.%*s%Z", dir, ngx_pid,
                name->data + name->len - rest, rest);

    if (ngx_strcmp(from, to) != 0 && ngx_rename_file(from, to) != 0) {
        /* another worker was faster */
        ngx_free(from);
        return NGX_DECLINED;
    }

    rc = ngx_live_record_read_file(to, NGX_LIVE_RECORD_SPOOL_MAX, &text,
                                   ngx_cycle->log);

    if (rc != NGX_OK || text.len == 0) {
        ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                      "live record: spool file \"%s\" is unreadable, left "
                      "in place", to);
        ngx_free(text.data);
        ngx_free(from);
        return NGX_ERROR;
    }

    rc = load(lmcf, to, &text);

    ngx_free(text.data);
    ngx_free(from);

    return rc;
}


/* "URL\n" then the body; the event id is in the name: "PID.ID.N.json" */

static ngx_int_t
ngx_live_record_notify_parse(ngx_str_t *text, ngx_str_t *name,
    ngx_str_t *url, ngx_str_t *body, ngx_str_t *id)
{
    u_char  *nl, *last;

    nl = ngx_strlchr(text->data, text->data + text->len, '\n');
    if (nl == NULL) {
        return NGX_ERROR;
    }

    url->data = text->data;
    url->len = nl - text->data;
    body->data = nl + 1;
    body->len = text->data + text->len - body->data;

    last = name->data + name->len - (sizeof(".json") - 1);

    /*
     * the scan lets "PID.json" through: no id, and the search for its
     * start went on back before the name
     */

    id->data = ngx_strlchr(name->data, last, '.');
    if (id->data == NULL) {
        return NGX_ERROR;
    }

    id->data++;

    while (last > id->data && *(last - 1) != '.') {
        last--;
    }

    id->len = (last > id->data) ? last - 1 - id->data : 0;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_notify_load(ngx_live_record_main_conf_t *lmcf, u_char *path,
    ngx_str_t *text)
{
    ngx_str_t                    url, body, id, name;
    ngx_live_record_notify_t    *nt;
    ngx_live_record_receiver_t  *rcv;

    nt = lmcf->notify;

    name.data = path + nt->dir.len + 1;
    name.len = ngx_strlen(name.data);

    if (ngx_live_record_notify_parse(text, &name, &url, &body, &id)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    rcv = ngx_live_record_find_receiver(lmcf, &url);

    if (rcv == NULL) {
        ngx_log_error(NGX_LOG_WARN, nt->log, 0,
                      "live record: spooled notify event %V is for \"%V\", "
                      "which is no longer configured; left in \"%s\"",
                      &id, &url, path);
        return NGX_DECLINED;
    }

    ngx_log_error(NGX_LOG_INFO, nt->log, 0,
                  "live record: spooled notify event %V to \"%V\" resent",
                  &id, &url);

    (void) ngx_live_record_job_create(lmcf, rcv, &id, &body, &name, NULL);

    return NGX_OK;
}


ngx_live_record_receiver_t *
ngx_live_record_find_receiver(ngx_live_record_main_conf_t *lmcf,
    ngx_str_t *url)
{
    ngx_uint_t                    i;
    ngx_live_record_receiver_t  **rcv;

    rcv = lmcf->receivers.elts;

    for (i = 0; i < lmcf->receivers.nelts; i++) {
        if (rcv[i]->url.len == url->len
            && ngx_strncmp(rcv[i]->url.data, url->data, url->len) == 0)
        {
            return rcv[i];
        }
    }

    return NULL;
}


ngx_int_t
ngx_live_record_hmac_sha256_hex(ngx_str_t *key, ngx_str_t *msg1,
    ngx_str_t *msg2, u_char *hex)
{
    u_char        *msg, *p, md[EVP_MAX_MD_SIZE];
    unsigned int   len;

    /* HMAC(key, msg1 + "." + msg2) */

    msg = ngx_alloc(msg1->len + 1 + msg2->len, ngx_cycle->log);
    if (msg == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(msg, msg1->data, msg1->len);
    *p++ = '.';
    p = ngx_cpymem(p, msg2->data, msg2->len);

    len = 0;

    if (HMAC(EVP_sha256(), key->data, (int) key->len, msg, p - msg, md, &len)
        == NULL)
    {
        ngx_free(msg);
        return NGX_ERROR;
    }

    ngx_free(msg);

    *ngx_hex_dump(hex, md, len) = '\0';

    return NGX_OK;
}
