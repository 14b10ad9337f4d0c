
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for files read back after a crash, from a disk that
 * may hold anything, and an http store's reply.  The first byte of an
 * input, minus '0' modulo 9, picks the reader; the rest is the file:
 *
 *   0  a part's sidecar, SPOOL/open/PID.FILE_ID.json
 *      (record/ngx_live_record_recover.c): cJSON, then its "format" check
 *      and ngx_live_record_recover_fields(), the field tables of
 *      core/ngx_live_record_json.c; a sidecar read must give null-terminated
 *      strings, the required ones present;
 *   1  tasks.json (record/ngx_live_record_tasks_file.c): an array whose
 *      members go through ngx_live_record_task_from_json(); a task taken
 *      has valid names and ends after it starts;
 *   2  an MPEG-TS segment cut short (ngx_live_record_ts_scan() in
 *      mux/ngx_live_record_writer.c, libavformat, which
 *      ngx_live_record_hls_salvage() runs): what it keeps is a whole
 *      number of TS packets inside the file;
 *   3  the reply of an http store to the PUT of a part's main file
 *      (ngx_live_record_upload_reply() in store/ngx_live_record_upload.c),
 *      which may rename its file_id and give its URL: both
 *      null-terminated when given;
 *   4  an HLS recording's EVENT playlist (ngx_live_record_hls_recover() in
 *      record/ngx_live_record_hls_playlist.c) in a directory of its own:
 *      read back, rewritten as VOD; when it is, the new one ends the list;
 *   5  a cluster row's spool file, SPOOL/cluster/PID.ID.json
 *      (ngx_live_record_cluster_load() and _insert() in
 *      cluster/ngx_live_record_cluster.c): the row it would insert, given
 *      to ngx_live_record_pg_query() below instead of the database, has
 *      its 11 values in range and the times as digits;
 *   6  a notify event's spool file, SPOOL/notify/PID.ID.N.json
 *      (ngx_live_record_notify_parse() in ngx_live_record_notify.c): the
 *      input's first line is the file's name, as the spool scan lets it
 *      through, the rest the file; URL, body and event id inside it;
 *   7  a spooled upload, SPOOL/handoff/PID.FILE_ID.json
 *      (ngx_live_record_upload_parse() in
 *      store/ngx_live_record_upload_spool.c): its strings null-terminated,
 *      its files' paths and keys there, their sizes not negative;
 *   8  a row of live_record_tasks as another node (or anyone with the
 *      database) wrote it (ngx_live_record_cluster_task_row() in
 *      cluster/ngx_live_record_cluster_tasks.c, then
 *      ngx_live_record_task_from_json() as the zone's mirror takes it):
 *      the row's values are separated by 0x1f, a value of exactly \\N is
 *      SQL NULL, and as many columns as values (1 to 12) are made, in a
 *      PGresult built with libpq's PQsetvalue(); a row taken is a task
 *      with valid names that ends after it starts.
 *
 * The readers' files are included whole so that their static parsing
 * steps can be called alone; -ffunction-sections and --gc-sections leave
 * out what the harness does not reach (nginx's runtime, the rest of the
 * module), and t/mp4/ngx_stub.c gives pools and the log.  nginx-dev ships
 * no sources: ngx_sprintf() below does the conversions the readers use
 * as nginx's does.  A failed check
 * aborts.  With -DNGX_LIVE_RECORD_FUZZ_MAIN it is a plain program over
 * files and directories (t/fuzz_spool.t: gcc, ASan, UBSan over
 * fuzz/spool/); for libFuzzer, clang -fsanitize=fuzzer,address,undefined
 * (fuzz/run.sh).  The TS file goes to $TMPDIR (default /tmp), named
 * after the process id.
 */


#include "ngx_live_record_recover.c"
#include "ngx_live_record_tasks_file.c"
#include "ngx_live_record_upload.c"
#include "ngx_live_record_hls_playlist.c"
#include "ngx_live_record_cluster.c"
#include "ngx_live_record_notify.c"
#include "ngx_live_record_upload_spool.c"
#include "ngx_live_record_cluster_tasks.c"
#include "ngx_live_record_writer.h"
#include "ngx_stub.h"
#include <libavutil/log.h>


#define ngx_live_record_fuzz_check(c)                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_spool: %s:%d: check failed: %s\n",         \
                    __FILE__, __LINE__, #c);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_live_record_fuzz_sidecar(ngx_pool_t *pool, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_tasks(ngx_pool_t *pool, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_ts(u_char *p, size_t len);
static void ngx_live_record_fuzz_reply(ngx_pool_t *pool, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_playlist(ngx_pool_t *pool, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_notify(u_char *p, size_t len);
static void ngx_live_record_fuzz_handoff(ngx_pool_t *pool, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_dir(char *dir, size_t size);
static void ngx_live_record_fuzz_row(u_char *p, size_t len);
static void ngx_live_record_fuzz_task_row(ngx_pool_t *pool, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_task(ngx_live_record_task_t *t);
static void ngx_live_record_fuzz_str(ngx_str_t *s, ngx_uint_t required);


static ngx_log_t  ngx_live_record_fuzz_log;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *p;
    size_t       len;
    ngx_pool_t  *pool;

    if (size < 1) {
        return 0;
    }

    ngx_live_record_fuzz_log.log_level = getenv("FUZZ_SPOOL_LOG")
                                         ? NGX_LOG_DEBUG : NGX_LOG_EMERG;

    /* libavformat's complaints about a torn file are not findings */
    av_log_set_level(getenv("FUZZ_SPOOL_LOG") ? AV_LOG_INFO : AV_LOG_QUIET);

    /* a buffer of exactly the file's size: ASan sees a read past it */

    len = size - 1;
    p = malloc(len ? len : 1);
    ngx_live_record_fuzz_check(p != NULL);
    ngx_memcpy(p, data + 1, len);

    pool = ngx_stub_pool_create(&ngx_live_record_fuzz_log);
    ngx_live_record_fuzz_check(pool != NULL);

    /* digits, so that a seed's first byte says which: '0' is 0 */

    switch ((u_char) (data[0] - '0') % 9) {

    case 0:
        ngx_live_record_fuzz_sidecar(pool, p, len);
        break;

    case 1:
        ngx_live_record_fuzz_tasks(pool, p, len);
        break;

    case 2:
        ngx_live_record_fuzz_ts(p, len);
        break;

    case 3:
        ngx_live_record_fuzz_reply(pool, p, len);
        break;

    case 4:
        ngx_live_record_fuzz_playlist(pool, p, len);
        break;

    case 5:
        ngx_live_record_fuzz_row(p, len);
        break;

    case 6:
        ngx_live_record_fuzz_notify(p, len);
        break;

    case 7:
        ngx_live_record_fuzz_handoff(pool, p, len);
        break;

    default:
        ngx_live_record_fuzz_task_row(pool, p, len);
    }

    ngx_stub_pool_destroy(pool);
    free(p);

    return 0;
}


/* as ngx_live_record_recover_load() and _recover_part() read it */

static void
ngx_live_record_fuzz_sidecar(ngx_pool_t *pool, u_char *p, size_t len)
{
    cJSON                   *o, *item;
    ngx_str_t                work, store, tpl;
    ngx_uint_t               format;
    ngx_live_record_part_t  *part;

    o = cJSON_ParseWithLength((char *) p, len);
    if (o == NULL) {
        return;
    }

    part = ngx_pcalloc(pool, sizeof(ngx_live_record_part_t));
    ngx_live_record_fuzz_check(part != NULL);

    part->pool = pool;
    part->log = &ngx_live_record_fuzz_log;

    item = cJSON_GetObjectItemCaseSensitive(o, "format");
    if (!cJSON_IsNumber(item) || item->valueint < 0
        || item->valueint >= NGX_LIVE_RECORD_NFORMATS)
    {
        goto done;
    }

    format = item->valueint;

    ngx_str_null(&work);
    ngx_str_null(&store);
    ngx_str_null(&tpl);

    if (ngx_live_record_recover_fields(part, &part->files[format], o, &work,
                                       &store, &tpl)
        != NGX_OK)
    {
        goto done;
    }

    ngx_live_record_fuzz_check(format < NGX_LIVE_RECORD_NFORMATS);

    ngx_live_record_fuzz_str(&work, 1);
    ngx_live_record_fuzz_str(&store, 1);
    ngx_live_record_fuzz_str(&tpl, 1);
    ngx_live_record_fuzz_str(&part->st.app, 1);
    ngx_live_record_fuzz_str(&part->st.name, 1);
    ngx_live_record_fuzz_str(&part->st.session, 1);
    ngx_live_record_fuzz_str(&part->rel, 1);
    ngx_live_record_fuzz_str(&part->files[format].work, 1);
    ngx_live_record_fuzz_str(&part->files[format].store, 1);
    ngx_live_record_fuzz_str(&part->files[format].file_id, 1);
    ngx_live_record_fuzz_str(&part->st.task_id, 0);
    ngx_live_record_fuzz_check(part->base >= 0);

done:

    cJSON_Delete(o);
}


/* as ngx_live_record_tasks_load() reads it, without the zone */

static void
ngx_live_record_fuzz_tasks(ngx_pool_t *pool, u_char *p, size_t len)
{
    cJSON                   *a, *o;
    ngx_live_record_task_t   t;

    a = cJSON_ParseWithLength((char *) p, len);

    if (!cJSON_IsArray(a)) {
        cJSON_Delete(a);
        return;
    }

    cJSON_ArrayForEach(o, a) {
        if (ngx_live_record_task_from_json(o, &t, pool) != NGX_OK) {
            continue;
        }

        ngx_live_record_fuzz_task(&t);
    }

    cJSON_Delete(a);
}


static void
ngx_live_record_fuzz_task(ngx_live_record_task_t *t)
{
    ngx_live_record_fuzz_str(&t->id, 1);
    ngx_live_record_fuzz_str(&t->app, 1);
    ngx_live_record_fuzz_str(&t->stream, 1);
    ngx_live_record_fuzz_str(&t->domain, 0);
    ngx_live_record_fuzz_str(&t->tpl, 0);
    ngx_live_record_fuzz_check(t->id.len > 0 && t->id.len <= 64);
    ngx_live_record_fuzz_check(t->end_ms > t->start_ms);
}


static void
ngx_live_record_fuzz_ts(u_char *p, size_t len)
{
    int          fd;
    char         path[256];
    off_t        keep;
    ssize_t      n;
    int64_t      ms;
    const char  *dir;

    dir = getenv("TMPDIR");
    if (dir == NULL || *dir == '\0') {
        dir = "/tmp";
    }

    snprintf(path, sizeof(path), "%s/fuzz_spool_%d.ts", dir, (int) getpid());

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ngx_live_record_fuzz_check(fd != -1);

    n = len ? write(fd, p, len) : 0;
    ngx_live_record_fuzz_check(n == (ssize_t) len);
    close(fd);

    ms = ngx_live_record_ts_scan((u_char *) path, &keep,
                                 &ngx_live_record_fuzz_log);

    ngx_live_record_fuzz_check(ms >= 0);
    ngx_live_record_fuzz_check(keep >= 0 && keep <= (off_t) len);
    ngx_live_record_fuzz_check(ms == 0 || keep > 0);

    (void) unlink(path);
}


/* as ngx_live_record_upload_done() hands it over: the last file's reply */

static void
ngx_live_record_fuzz_reply(ngx_pool_t *pool, u_char *p, size_t len)
{
    ngx_live_record_store_t     store;
    ngx_live_record_upload_t    u;
    ngx_live_record_request_t   r;

    ngx_memzero(&store, sizeof(ngx_live_record_store_t));
    ngx_memzero(&u, sizeof(ngx_live_record_upload_t));
    ngx_memzero(&r, sizeof(ngx_live_record_request_t));

    store.type = NGX_LIVE_RECORD_STORE_HTTP;

    u.pool = pool;
    u.store = &store;
    u.files.nelts = 1;
    u.next = 0;

    r.response.data = p;
    r.response.len = len;
    r.status = 201;
    r.data = &u;

    ngx_live_record_upload_reply(&u, &r);

    ngx_live_record_fuzz_str(&u.reply_id, 0);
    ngx_live_record_fuzz_str(&u.reply_url, 0);
}


static void
ngx_live_record_fuzz_playlist(ngx_pool_t *pool, u_char *p, size_t len)
{
    int                      fd;
    char                     dir[256], path[300];
    ssize_t                  n;
    ngx_int_t                rc;
    ngx_str_t                text;
    ngx_live_record_part_t  *part;

    ngx_live_record_fuzz_dir(dir, sizeof(dir));
    ngx_live_record_fuzz_check(mkdir(dir, 0755) == 0 || errno == EEXIST);

    snprintf(path, sizeof(path), "%s/" NGX_LIVE_RECORD_PLAYLIST, dir);

    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ngx_live_record_fuzz_check(fd != -1);

    n = len ? write(fd, p, len) : 0;
    ngx_live_record_fuzz_check(n == (ssize_t) len);
    close(fd);

    part = ngx_pcalloc(pool, sizeof(ngx_live_record_part_t));
    ngx_live_record_fuzz_check(part != NULL);

    part->pool = pool;
    part->log = &ngx_live_record_fuzz_log;
    ngx_str_set(&part->st.label, "fuzz/playlist");
    part->files[NGX_LIVE_RECORD_HLS].work.data = (u_char *) dir;
    part->files[NGX_LIVE_RECORD_HLS].work.len = strlen(dir);

    rc = ngx_live_record_hls_recover(part, &ngx_live_record_fuzz_log);

    if (rc == NGX_OK) {
        ngx_live_record_fuzz_check(ngx_live_record_read_file(
                                       (u_char *) path, 1 << 24, &text,
                                       &ngx_live_record_fuzz_log)
                                   == NGX_OK);

        ngx_live_record_fuzz_check(text.len >= 15
                                   && ngx_memcmp(text.data + text.len - 15,
                                                 "#EXT-X-ENDLIST\n", 15)
                                      == 0);
        ngx_live_record_fuzz_check(part->duration >= 0);
        ngx_free(text.data);
    }

    (void) unlink(path);
    (void) rmdir(dir);
}


/* as the spool scan hands it over, with a node that has a database */

static ngx_uint_t  ngx_live_record_fuzz_rows;


static void
ngx_live_record_fuzz_row(u_char *p, size_t len)
{
    ngx_str_t                     text;
    ngx_cycle_t                   cycle;
    ngx_live_record_cluster_t     cl;
    ngx_live_record_main_conf_t   lmcf;

    u_char  path[] = "/spool/cluster/4242.0a1b2c-3d.json";

    ngx_memzero(&cycle, sizeof(ngx_cycle_t));
    ngx_memzero(&cl, sizeof(ngx_live_record_cluster_t));
    ngx_memzero(&lmcf, sizeof(ngx_live_record_main_conf_t));

    cycle.log = &ngx_live_record_fuzz_log;
    ngx_cycle = &cycle;

    ngx_str_set(&lmcf.node_id, "node-1");
    lmcf.cluster = &cl;

    cl.lmcf = &lmcf;
    cl.client = (ngx_live_record_pg_t *) &cl;
    ngx_str_set(&cl.spool, "/spool/cluster");

    text.data = p;
    text.len = len;

    ngx_live_record_fuzz_rows = 0;

    if (ngx_live_record_cluster_load(&lmcf, path, &text) == NGX_OK) {
        ngx_live_record_fuzz_check(ngx_live_record_fuzz_rows == 1);

    } else {
        ngx_live_record_fuzz_check(ngx_live_record_fuzz_rows == 0);
    }

    ngx_cycle = NULL;
}


/* as the tasks mirror reads a row of live_record_tasks, without the zone */

static void
ngx_live_record_fuzz_task_row(ngx_pool_t *pool, u_char *p, size_t len)
{
    int                      i, n;
    cJSON                   *o;
    u_char                  *v, *end, *sep;
    PGresult                *res;
    PGresAttDesc             attrs[12];
    ngx_live_record_task_t   t;

    end = p + len;
    n = 1;

    for (v = p; v < end && n < 12; v++) {
        n += (*v == 0x1f);
    }

    ngx_memzero(attrs, sizeof(attrs));

    for (i = 0; i < n; i++) {
        attrs[i].name = (char *) "c";
        attrs[i].typid = 25;              /* text */
        attrs[i].typlen = -1;
        attrs[i].atttypmod = -1;
    }

    res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    ngx_live_record_fuzz_check(res != NULL);
    ngx_live_record_fuzz_check(PQsetResultAttrs(res, n, attrs));

    v = p;

    for (i = 0; i < n; i++) {
        sep = (i == n - 1) ? NULL : ngx_strlchr(v, end, 0x1f);
        sep = sep ? sep : end;

        ngx_live_record_fuzz_check(
            (sep - v == 2 && v[0] == '\\' && v[1] == 'N')
            ? PQsetvalue(res, 0, i, NULL, -1)
            : PQsetvalue(res, 0, i, (char *) v, sep - v));

        v = (sep < end) ? sep + 1 : end;
    }

    o = ngx_live_record_cluster_task_row(res, 0);
    PQclear(res);

    if (o == NULL) {
        return;
    }

    ngx_live_record_fuzz_check(n >= 10);

    if (ngx_live_record_task_from_json(o, &t, pool) == NGX_OK) {
        ngx_live_record_fuzz_task(&t);
    }

    cJSON_Delete(o);
}


/* as ngx_live_record_notify_load() reads it, without a receiver to find */

static void
ngx_live_record_fuzz_notify(u_char *p, size_t len)
{
    u_char     *nl, *dot;
    ngx_str_t   name, text, url, body, id;

    nl = ngx_strlchr(p, p + len, '\n');
    if (nl == NULL) {
        return;
    }

    name.data = p;
    name.len = nl - p;
    text.data = nl + 1;
    text.len = p + len - text.data;

    /* the names ngx_live_record_spool_scan() lets through */

    if (name.len < sizeof("1.x.json") - 1
        || ngx_strncmp(name.data + name.len - 5, ".json", 5) != 0)
    {
        return;
    }

    dot = ngx_strlchr(name.data, name.data + name.len, '.');
    if (dot == NULL || ngx_atoi(name.data, dot - name.data) <= 0) {
        return;
    }

    if (ngx_live_record_notify_parse(&text, &name, &url, &body, &id)
        != NGX_OK)
    {
        return;
    }

    ngx_live_record_fuzz_check(url.data == text.data);
    ngx_live_record_fuzz_check(url.len + 1 + body.len == text.len);
    ngx_live_record_fuzz_check(url.data[url.len] == '\n');
    ngx_live_record_fuzz_check(id.data > name.data
                               && id.data + id.len
                                  <= name.data + name.len - 5);
    ngx_live_record_fuzz_check(ngx_strlchr(id.data, id.data + id.len, '.')
                               == NULL || id.len == 0
                               || id.data[id.len] == '.');
}


/* as ngx_live_record_upload_load() reads it, the store found */

static void
ngx_live_record_fuzz_handoff(ngx_pool_t *pool, u_char *p, size_t len)
{
    cJSON                          *o;
    ngx_uint_t                      i;
    ngx_array_t                     files;
    ngx_live_record_handoff_t       h;
    ngx_live_record_upload_file_t  *uf;

    o = cJSON_ParseWithLength((char *) p, len);
    if (o == NULL) {
        return;
    }

    ngx_live_record_fuzz_check(ngx_array_init(&files, pool, 2,
                                   sizeof(ngx_live_record_upload_file_t))
                               == NGX_OK);

    ngx_memzero(&h, sizeof(ngx_live_record_handoff_t));

    if (ngx_live_record_upload_parse(pool, o, &files, &h) == NGX_OK) {
        ngx_live_record_fuzz_check(h.entry != NULL);
        ngx_live_record_fuzz_str(&h.event, 0);
        ngx_live_record_fuzz_str(&h.local, 1);
        ngx_live_record_fuzz_str(&h.file_id, 1);
        ngx_live_record_fuzz_check(h.label.len > 0
                                   && h.label.data != NULL);

        uf = files.elts;

        for (i = 0; i < files.nelts; i++) {
            ngx_live_record_fuzz_check(uf[i].path != NULL);
            ngx_live_record_fuzz_check(uf[i].key.data != NULL);
            ngx_live_record_fuzz_check(uf[i].key.data[uf[i].key.len]
                                       == '\0');
            ngx_live_record_fuzz_check(uf[i].size >= 0);
        }
    }

    cJSON_Delete(h.entry);
    cJSON_Delete(o);
}


/*
 * the database's client, for fuzz_row(): what would be sent is checked
 * and the spool path freed, as the query's end does
 */

ngx_live_record_pg_query_t *
ngx_live_record_pg_query(ngx_live_record_pg_t *pg, const char *sql,
    int nparams, ngx_str_t *values, ngx_live_record_pg_done_pt done,
    void *data, ngx_uint_t retry)
{
    int         i;
    size_t      j;

    static ngx_live_record_pg_query_t  q;

    ngx_live_record_fuzz_check(nparams == 11 && done != NULL);

    for (i = 0; i < nparams; i++) {
        ngx_live_record_fuzz_check(values[i].len == 0
                                   || values[i].data != NULL);

        /* ASan: every byte is readable */
        for (j = 0; j < values[i].len; j++) {
            (void) *(volatile u_char *) &values[i].data[j];
        }
    }

    for (i = 6; i < 8; i++) {
        ngx_live_record_fuzz_check(values[i].len > 0
                                   && values[i].len <= NGX_INT64_LEN);

        for (j = 0; j < values[i].len; j++) {
            ngx_live_record_fuzz_check(values[i].data[j] >= '0'
                                       && values[i].data[j] <= '9');
        }
    }

    ngx_live_record_fuzz_rows++;
    ngx_free(data);

    return &q;
}


/* the fake database above never answers, so no row is done */

void
ngx_live_record_cluster_unspool(u_char *path)
{
    abort();
}


/* the gauges are shared memory's; not what is checked here */

void
ngx_live_record_stat_gauge(ngx_uint_t gauge, ngx_int_t n)
{
}


/* nginx's (src/core/ngx_array.c), without growing in place */

void *
ngx_array_push(ngx_array_t *a)
{
    void  *elt, *new;

    if (a->nelts == a->nalloc) {
        new = ngx_palloc(a->pool, 2 * a->size * a->nalloc);
        if (new == NULL) {
            return NULL;
        }

        ngx_memcpy(new, a->elts, a->size * a->nalloc);
        a->elts = new;
        a->nalloc *= 2;
    }

    elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts++;

    return elt;
}


/* nginx's (src/core/ngx_string.c) */

ngx_int_t
ngx_atoi(u_char *line, size_t n)
{
    ngx_int_t  value, cutoff, cutlim;

    if (n == 0) {
        return NGX_ERROR;
    }

    cutoff = NGX_MAX_INT_T_VALUE / 10;
    cutlim = NGX_MAX_INT_T_VALUE % 10;

    for (value = 0; n--; line++) {
        if (*line < '0' || *line > '9') {
            return NGX_ERROR;
        }

        if (value >= cutoff && (value > cutoff || *line - '0' > cutlim)) {
            return NGX_ERROR;
        }

        value = value * 10 + (*line - '0');
    }

    return value;
}


static void
ngx_live_record_fuzz_dir(char *dir, size_t size)
{
    const char  *tmp;

    tmp = getenv("TMPDIR");
    if (tmp == NULL || *tmp == '\0') {
        tmp = "/tmp";
    }

    snprintf(dir, size, "%s/fuzz_spool_%d.hls", tmp, (int) getpid());
}


static void
ngx_live_record_fuzz_str(ngx_str_t *s, ngx_uint_t required)
{
    if (s->data == NULL) {
        ngx_live_record_fuzz_check(!required && s->len == 0);
        return;
    }

    ngx_live_record_fuzz_check(s->data[s->len] == '\0');
    ngx_live_record_fuzz_check(ngx_strlen(s->data) == s->len);
}


/*
 * nginx's ngx_sprintf() (src/core/ngx_string.c) for what the readers
 * print: %V %s %*s %d %i %ui %L %uL %O %P %z %uz %.Nf %Z %%; anything
 * else aborts, so that a reader that starts using it shows here
 */

u_char * ngx_cdecl
ngx_sprintf(u_char *buf, const char *fmt, ...)
{
    int           star, is_unsigned, frac;
    char          tmp[64];
    size_t        n;
    va_list       args;
    ngx_str_t    *v;
    const char   *f;
    u_char       *s;

    va_start(args, fmt);

    for (f = fmt; *f; f++) {
        if (*f != '%') {
            *buf++ = *f;
            continue;
        }

        f++;
        star = 0;
        is_unsigned = 0;
        frac = -1;
        n = 0;

        if (*f == '.') {
            frac = 0;

            for (f++; *f >= '0' && *f <= '9'; f++) {
                frac = frac * 10 + (*f - '0');
            }
        }

        if (*f == '*') {
            star = 1;
            n = va_arg(args, size_t);
            f++;
        }

        if (*f == 'u') {
            is_unsigned = 1;
            f++;
        }

        switch (*f) {

        case 'V':
            v = va_arg(args, ngx_str_t *);
            buf = ngx_cpymem(buf, v->data, v->len);
            continue;

        case 's':
            s = va_arg(args, u_char *);
            buf = ngx_cpymem(buf, s, star ? n : ngx_strlen(s));
            continue;

        case 'Z':
            *buf++ = '\0';
            continue;

        case '%':
            *buf++ = '%';
            continue;

        case 'd':
            n = is_unsigned ? snprintf(tmp, sizeof(tmp), "%u",
                                       va_arg(args, unsigned int))
                            : snprintf(tmp, sizeof(tmp), "%d",
                                       va_arg(args, int));
            break;

        case 'i':
            n = is_unsigned ? snprintf(tmp, sizeof(tmp), "%lu",
                                       (unsigned long)
                                       va_arg(args, ngx_uint_t))
                            : snprintf(tmp, sizeof(tmp), "%ld",
                                       (long) va_arg(args, ngx_int_t));
            break;

        case 'z':
            n = is_unsigned ? snprintf(tmp, sizeof(tmp), "%zu",
                                       va_arg(args, size_t))
                            : snprintf(tmp, sizeof(tmp), "%zd",
                                       va_arg(args, ssize_t));
            break;

        case 'L':
            n = is_unsigned ? snprintf(tmp, sizeof(tmp), "%llu",
                                       (unsigned long long)
                                       va_arg(args, uint64_t))
                            : snprintf(tmp, sizeof(tmp), "%lld",
                                       (long long) va_arg(args, int64_t));
            break;

        case 'O':
            n = snprintf(tmp, sizeof(tmp), "%lld",
                         (long long) va_arg(args, off_t));
            break;

        case 'P':
            n = snprintf(tmp, sizeof(tmp), "%ld",
                         (long) va_arg(args, ngx_pid_t));
            break;

        case 'f':
            /* nginx prints the integer part whole, as %f does */
            n = snprintf(tmp, sizeof(tmp), "%.*f", frac < 0 ? 0 : frac,
                         va_arg(args, double));
            break;

        default:
            fprintf(stderr, "fuzz_spool: ngx_sprintf: %%%c\n", *f);
            abort();
        }

        ngx_live_record_fuzz_check(n < sizeof(tmp));
        buf = ngx_cpymem(buf, tmp, n);
    }

    va_end(args);

    return buf;
}


volatile ngx_cycle_t  *ngx_cycle;


#define NGX_LIVE_RECORD_FUZZ_NAME  "fuzz_spool"
#include "ngx_live_record_fuzz_main.h"
