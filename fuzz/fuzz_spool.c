
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for files read back after a crash, from a disk that
 * may hold anything.  The first byte of an input, modulo 3, picks the
 * reader; the rest is the file:
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
 *      number of TS packets inside the file.
 *
 * The readers' files are included whole so that their static parsing
 * steps can be called alone; -ffunction-sections and --gc-sections leave
 * out what the harness does not reach (nginx's runtime, the rest of the
 * module), and t/mp4/ngx_stub.c gives pools and the log.  A failed check
 * aborts.  With -DNGX_LIVE_RECORD_FUZZ_MAIN it is a plain program over
 * files and directories (t/fuzz_spool.t: gcc, ASan, UBSan over
 * fuzz/spool/); for libFuzzer, clang -fsanitize=fuzzer,address,undefined
 * (fuzz/run.sh).  The TS file goes to $TMPDIR (default /tmp), named
 * after the process id.
 */


#include "ngx_live_record_recover.c"
#include "ngx_live_record_tasks_file.c"
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

    switch (data[0] % 3) {

    case 0:
        ngx_live_record_fuzz_sidecar(pool, p, len);
        break;

    case 1:
        ngx_live_record_fuzz_tasks(pool, p, len);
        break;

    default:
        ngx_live_record_fuzz_ts(p, len);
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

        ngx_live_record_fuzz_str(&t.id, 1);
        ngx_live_record_fuzz_str(&t.app, 1);
        ngx_live_record_fuzz_str(&t.stream, 1);
        ngx_live_record_fuzz_str(&t.domain, 0);
        ngx_live_record_fuzz_str(&t.tpl, 0);
        ngx_live_record_fuzz_check(t.id.len > 0 && t.id.len <= 64);
        ngx_live_record_fuzz_check(t.end_ms > t.start_ms);
    }

    cJSON_Delete(a);
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


#define NGX_LIVE_RECORD_FUZZ_NAME  "fuzz_spool"
#include "ngx_live_record_fuzz_main.h"
