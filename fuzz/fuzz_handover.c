
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for the hand-over file, SPOOL/open/PID.FILE_ID.handover:
 * what a worker that takes a waiting part over reads back from the disk
 * (record/ngx_live_record_handover_file.c, ngx_live_record_handover_parse(),
 * through core/ngx_live_record_json.c's field tables and cJSON).  The whole
 * input is the file.  When it is read: every string null-terminated at its
 * length, the required ones there; the formats open among those asked for,
 * MP4, FLV and AAC only, each with its file id and path; the numbers in
 * range (part from 1, media times not negative, each track's last time
 * from -1); each sequence header at most 64 KiB.  A failed check aborts;
 * so does a file read, or refused, against FUZZ_HANDOVER_EXPECT ("read",
 * "refused") when it is set.
 *
 * The reader's file is included whole; -ffunction-sections and
 * --gc-sections leave out what the harness does not reach (the writer side,
 * nginx's runtime), and t/mp4/ngx_stub.c gives pools and the log.  With
 * -DNGX_LIVE_RECORD_FUZZ_MAIN it is a plain program over files and
 * directories (t/fuzz_handover.t: gcc, ASan, UBSan over fuzz/handover/);
 * for libFuzzer, clang -fsanitize=fuzzer,address,undefined (fuzz/run.sh).
 */


#include "ngx_live_record_handover_file.c"
#include "ngx_stub.h"


#define ngx_live_record_fuzz_check(c)                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_handover: %s:%d: check failed: %s\n",      \
                    __FILE__, __LINE__, #c);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_live_record_fuzz_part(ngx_live_record_part_t *p,
    ngx_live_record_handover_names_t *names);
static void ngx_live_record_fuzz_str(ngx_str_t *s, ngx_uint_t required);


static ngx_log_t             ngx_live_record_fuzz_log;
static volatile ngx_uint_t   ngx_live_record_fuzz_sink;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                              *expect;
    ngx_int_t                          rc;
    ngx_str_t                          text;
    ngx_pool_t                        *pool;
    ngx_live_record_part_t            *p;
    ngx_live_record_handover_names_t   names;

    ngx_live_record_fuzz_sink = 0;
    ngx_live_record_fuzz_log.log_level = getenv("FUZZ_HANDOVER_LOG")
                                         ? NGX_LOG_DEBUG : NGX_LOG_EMERG;

    /* a buffer of exactly the file's size: ASan sees a read past it */

    text.len = size;
    text.data = malloc(size ? size : 1);
    ngx_live_record_fuzz_check(text.data != NULL);
    ngx_memcpy(text.data, data, size);

    pool = ngx_stub_pool_create(&ngx_live_record_fuzz_log);
    ngx_live_record_fuzz_check(pool != NULL);

    p = ngx_pcalloc(pool, sizeof(ngx_live_record_part_t));
    ngx_live_record_fuzz_check(p != NULL);

    p->pool = pool;
    p->log = &ngx_live_record_fuzz_log;

    ngx_memzero(&names, sizeof(ngx_live_record_handover_names_t));

    rc = ngx_live_record_handover_parse(p, &text, &names);

    if (rc == NGX_OK) {
        ngx_live_record_fuzz_part(p, &names);
    }

    /* t/fuzz_handover.t: which seeds are read, which refused */

    expect = getenv("FUZZ_HANDOVER_EXPECT");

    if (expect) {
        ngx_live_record_fuzz_check((rc == NGX_OK)
                                   == (ngx_strcmp(expect, "read") == 0));
    }

    ngx_stub_pool_destroy(pool);
    free(text.data);

    return 0;
}


/* what the taker goes on with */

static void
ngx_live_record_fuzz_part(ngx_live_record_part_t *p,
    ngx_live_record_handover_names_t *names)
{
    size_t                    n;
    ngx_uint_t                i, media;
    ngx_live_record_track_t  *t;

    media = (1 << NGX_LIVE_RECORD_MP4) | (1 << NGX_LIVE_RECORD_FLV)
            | (1 << NGX_LIVE_RECORD_AAC);

    ngx_live_record_fuzz_check(names->owner > 0);
    ngx_live_record_fuzz_str(&names->work_root, 1);
    ngx_live_record_fuzz_str(&names->store, 1);
    ngx_live_record_fuzz_str(&names->tpl, 1);

    ngx_live_record_fuzz_str(&p->st.app, 1);
    ngx_live_record_fuzz_str(&p->st.name, 1);
    ngx_live_record_fuzz_str(&p->st.domain, 1);
    ngx_live_record_fuzz_str(&p->st.args, 1);
    ngx_live_record_fuzz_str(&p->st.session, 1);
    ngx_live_record_fuzz_str(&p->st.task_id, 1);
    ngx_live_record_fuzz_str(&p->st.sources, 1);
    ngx_live_record_fuzz_str(&p->st.extension, 1);
    ngx_live_record_fuzz_str(&p->rel, 1);

    ngx_live_record_fuzz_check(p->n >= 1);
    ngx_live_record_fuzz_check(p->want != 0 && (p->want & ~media) == 0);
    ngx_live_record_fuzz_check(p->formats != 0
                               && (p->formats & ~p->want) == 0);
    ngx_live_record_fuzz_check(p->wait_reason
                               < NGX_LIVE_RECORD_STATS_REASONS);
    ngx_live_record_fuzz_check(p->base >= 0 && p->duration >= 0);
    ngx_live_record_fuzz_check(p->bytes >= 0);

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        t = &p->st.tracks[i];

        ngx_live_record_fuzz_check(p->last[i] >= -1);
        ngx_live_record_fuzz_check(p->last_duration[i] >= 0);
        ngx_live_record_fuzz_check(t->extradata_len
                                   <= NGX_LIVE_RECORD_HANDOVER_EXTRA);
        ngx_live_record_fuzz_check(t->extradata != NULL);

        /* every byte of it readable: ASan says if not */

        for (n = 0; n < t->extradata_len; n++) {
            ngx_live_record_fuzz_sink += t->extradata[n];
        }
    }

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->formats & (1 << i))) {
            ngx_live_record_fuzz_check(p->files[i].work.data == NULL);
            continue;
        }

        ngx_live_record_fuzz_str(&p->files[i].file_id, 1);
        ngx_live_record_fuzz_str(&p->files[i].work, 1);
        ngx_live_record_fuzz_str(&p->files[i].store, 1);
        ngx_live_record_fuzz_check(p->files[i].file_id.len > 0
                                   && p->files[i].work.len > 0);
    }
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


volatile ngx_cycle_t  *ngx_cycle;


#define NGX_LIVE_RECORD_FUZZ_NAME  "fuzz_handover"
#include "ngx_live_record_fuzz_main.h"
