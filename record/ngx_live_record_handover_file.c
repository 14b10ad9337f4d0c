
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * The hand-over file: what a worker that takes a waiting part over needs
 * to go on with it as its owner would have, in JSON.  The part's identity
 * (stream, session, part number, file ids, paths, template, store), its
 * media state (media_start_time, the media time so far, each track's last
 * time and frame duration, counts) and its tracks (codec parameters and
 * sequence headers, so that a publish with other tracks does not go on in
 * it).  Written by the owner, read back from the disk by the taker: the
 * parser trusts nothing (fuzz/fuzz_spool.c, reader 8).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_handover.h"
#include "ngx_live_record_json.h"


#define NGX_LIVE_RECORD_HANDOVER_VERSION  1

/* a sequence header larger than this is no sequence header */
#define NGX_LIVE_RECORD_HANDOVER_EXTRA    65536

/* media times in ms: a part is at most hours long, with room to spare */
#define NGX_LIVE_RECORD_HANDOVER_MS_MAX   ((int64_t) 1 << 50)


static cJSON *ngx_live_record_handover_tracks(ngx_live_record_part_t *p);
static cJSON *ngx_live_record_handover_files(ngx_live_record_part_t *p);
static cJSON *ngx_live_record_handover_ints(int64_t *v, ngx_uint_t n);
static ngx_int_t ngx_live_record_handover_state(ngx_live_record_part_t *p,
    cJSON *o);
static ngx_int_t ngx_live_record_handover_int(cJSON *o, const char *name,
    int64_t min, int64_t max, int64_t *v);
static ngx_int_t ngx_live_record_handover_read_ints(cJSON *o,
    const char *name, int64_t min, int64_t *v);
static ngx_int_t ngx_live_record_handover_read_tracks(
    ngx_live_record_part_t *p, cJSON *a);
static ngx_int_t ngx_live_record_handover_read_track(ngx_pool_t *pool,
    cJSON *o, ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_handover_nibble(u_char c);
static ngx_int_t ngx_live_record_handover_read_files(
    ngx_live_record_part_t *p, cJSON *a);


/* on the loop, the part's files flushed: the text the owner writes */

ngx_int_t
ngx_live_record_handover_text(ngx_live_record_part_t *p, ngx_str_t *text)
{
    int64_t  counts[NGX_LIVE_RECORD_NTRACKS];
    cJSON   *o;

    counts[0] = p->count[0];
    counts[1] = p->count[1];

    o = cJSON_CreateObject();

    if (o == NULL
        || cJSON_AddNumberToObject(o, "version",
                                   NGX_LIVE_RECORD_HANDOVER_VERSION) == NULL
        || cJSON_AddNumberToObject(o, "owner", ngx_pid) == NULL
        || ngx_live_record_json_set(o, "app", &p->st.app) == NULL
        || ngx_live_record_json_set(o, "stream_id", &p->st.name) == NULL
        || ngx_live_record_json_set(o, "domain", &p->st.domain) == NULL
        || ngx_live_record_json_set(o, "stream_param", &p->st.args) == NULL
        || ngx_live_record_json_set(o, "session_id", &p->st.session) == NULL
        || ngx_live_record_json_set(o, "task_id", &p->st.task_id) == NULL
        || ngx_live_record_json_set(o, "sources", &p->st.sources) == NULL
        || ngx_live_record_json_set(o, "extension", &p->st.extension)
           == NULL
        || ngx_live_record_json_set(o, "template", &p->tpl->name) == NULL
        || ngx_live_record_json_set(o, "work_root", &p->lacf->work) == NULL
        || ngx_live_record_json_set(o, "store", &p->lacf->store.name) == NULL
        || ngx_live_record_json_set(o, "rel", &p->rel) == NULL
        || cJSON_AddNumberToObject(o, "part", p->n) == NULL
        || cJSON_AddNumberToObject(o, "want", p->want) == NULL
        || cJSON_AddNumberToObject(o, "wait_reason", p->wait_reason) == NULL
        || cJSON_AddNumberToObject(o, "start_time_ms", p->start_ms) == NULL
        || cJSON_AddNumberToObject(o, "last_ms", p->last_ms) == NULL
        || cJSON_AddNumberToObject(o, "media_start_time", p->base) == NULL
        || cJSON_AddNumberToObject(o, "duration", p->duration) == NULL
        || cJSON_AddNumberToObject(o, "frames", p->frames) == NULL
        || cJSON_AddNumberToObject(o, "bytes", p->bytes) == NULL
        || !cJSON_AddItemToObject(o, "last",
               ngx_live_record_handover_ints(p->last, 2))
        || !cJSON_AddItemToObject(o, "last_duration",
               ngx_live_record_handover_ints(p->last_duration, 2))
        || !cJSON_AddItemToObject(o, "count",
               ngx_live_record_handover_ints(counts, 2))
        || !cJSON_AddItemToObject(o, "tracks",
                                  ngx_live_record_handover_tracks(p))
        || !cJSON_AddItemToObject(o, "files",
                                  ngx_live_record_handover_files(p)))
    {
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


static cJSON *
ngx_live_record_handover_ints(int64_t *v, ngx_uint_t n)
{
    cJSON       *a, *item;
    ngx_uint_t   i;

    a = cJSON_CreateArray();
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        item = cJSON_CreateNumber((double) v[i]);

        if (item == NULL || !cJSON_AddItemToArray(a, item)) {
            cJSON_Delete(item);
            cJSON_Delete(a);
            return NULL;
        }
    }

    return a;
}


/* each track's parameters, the sequence header in hex */

static cJSON *
ngx_live_record_handover_tracks(ngx_live_record_part_t *p)
{
    cJSON                    *a, *o;
    ngx_str_t                 hex;
    ngx_uint_t                i;
    ngx_live_record_track_t  *t;

    a = cJSON_CreateArray();
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        t = &p->st.tracks[i];

        hex.len = 2 * t->extradata_len;
        hex.data = ngx_pnalloc(p->pool, hex.len + 1);
        if (hex.data == NULL) {
            goto failed;
        }

        (void) ngx_hex_dump(hex.data, t->extradata, t->extradata_len);

        o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            goto failed;
        }

        if (cJSON_AddNumberToObject(o, "codec", t->codec) == NULL
            || cJSON_AddNumberToObject(o, "fourcc", t->fourcc) == NULL
            || cJSON_AddNumberToObject(o, "width", t->width) == NULL
            || cJSON_AddNumberToObject(o, "height", t->height) == NULL
            || cJSON_AddNumberToObject(o, "sample_rate", t->sample_rate)
               == NULL
            || cJSON_AddNumberToObject(o, "channels", t->channels) == NULL
            || ngx_live_record_json_set(o, "extradata", &hex) == NULL)
        {
            goto failed;
        }
    }

    return a;

failed:

    cJSON_Delete(a);
    return NULL;
}


/* the files the part has open: MP4, FLV, AAC */

static cJSON *
ngx_live_record_handover_files(ngx_live_record_part_t *p)
{
    cJSON                   *a, *o;
    ngx_uint_t               i;
    ngx_live_record_file_t  *f;

    a = cJSON_CreateArray();
    if (a == NULL) {
        return NULL;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->formats & (1 << i))) {
            continue;
        }

        f = &p->files[i];
        o = cJSON_CreateObject();

        if (o == NULL || !cJSON_AddItemToArray(a, o)) {
            cJSON_Delete(o);
            cJSON_Delete(a);
            return NULL;
        }

        if (cJSON_AddNumberToObject(o, "format", i) == NULL
            || ngx_live_record_json_set(o, "file_id", &f->file_id) == NULL
            || ngx_live_record_json_set(o, "work", &f->work) == NULL
            || ngx_live_record_json_set(o, "store_path", &f->store) == NULL)
        {
            cJSON_Delete(a);
            return NULL;
        }
    }

    return a;
}


/*
 * Read back (a thread of the taker, or the fuzz target): every string
 * null-terminated, every number in range, a file for every format said
 * open; p->pool holds what is read.  NGX_DECLINED: not a hand-over file.
 */

ngx_int_t
ngx_live_record_handover_parse(ngx_live_record_part_t *p, ngx_str_t *text,
    ngx_live_record_handover_names_t *names)
{
    cJSON      *o;
    int64_t     owner;
    ngx_int_t   rc;

    ngx_live_record_json_field_t  fields[] = {
        { "work_root", NGX_LIVE_RECORD_JSON_STR, &names->work_root },
        { "store", NGX_LIVE_RECORD_JSON_STR, &names->store },
        { "template", NGX_LIVE_RECORD_JSON_STR, &names->tpl },
        { "app", NGX_LIVE_RECORD_JSON_STR, &p->st.app },
        { "stream_id", NGX_LIVE_RECORD_JSON_STR, &p->st.name },
        { "domain", NGX_LIVE_RECORD_JSON_STR, &p->st.domain },
        { "stream_param", NGX_LIVE_RECORD_JSON_STR, &p->st.args },
        { "session_id", NGX_LIVE_RECORD_JSON_STR, &p->st.session },
        { "task_id", NGX_LIVE_RECORD_JSON_STR, &p->st.task_id },
        { "sources", NGX_LIVE_RECORD_JSON_STR, &p->st.sources },
        { "extension", NGX_LIVE_RECORD_JSON_STR, &p->st.extension },
        { "rel", NGX_LIVE_RECORD_JSON_STR, &p->rel },
        { NULL, 0, NULL }
    };

    o = cJSON_ParseWithLength((char *) text->data, text->len);
    if (o == NULL) {
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (ngx_live_record_handover_int(o, "version",
                                     NGX_LIVE_RECORD_HANDOVER_VERSION,
                                     NGX_LIVE_RECORD_HANDOVER_VERSION,
                                     &owner) != NGX_OK
        || ngx_live_record_handover_int(o, "owner", 1, NGX_MAX_INT32_VALUE,
                                        &owner) != NGX_OK)
    {
        goto done;
    }

    names->owner = (ngx_pid_t) owner;

    rc = ngx_live_record_json_read(p->pool, o, fields);

    if (rc == NGX_OK) {
        rc = ngx_live_record_handover_state(p, o);
    }

    if (rc == NGX_OK) {
        rc = ngx_live_record_handover_read_tracks(p,
                 cJSON_GetObjectItemCaseSensitive(o, "tracks"));
    }

    if (rc == NGX_OK) {
        rc = ngx_live_record_handover_read_files(p,
                 cJSON_GetObjectItemCaseSensitive(o, "files"));
    }

done:

    cJSON_Delete(o);

    return rc;
}


/* the part's number, formats and media state */

static ngx_int_t
ngx_live_record_handover_state(ngx_live_record_part_t *p, cJSON *o)
{
    int64_t  v[9], count[NGX_LIVE_RECORD_NTRACKS];

    static const char  *names[] = {
        "part", "want", "wait_reason", "start_time_ms", "last_ms",
        "media_start_time", "duration", "frames", "bytes"
    };

    static const int64_t  max[] = {
        NGX_MAX_INT32_VALUE,
        (1 << NGX_LIVE_RECORD_MP4) | (1 << NGX_LIVE_RECORD_FLV)
        | (1 << NGX_LIVE_RECORD_AAC),
        NGX_LIVE_RECORD_STATS_REASONS - 1,
        NGX_LIVE_RECORD_HANDOVER_MS_MAX, NGX_LIVE_RECORD_HANDOVER_MS_MAX,
        NGX_LIVE_RECORD_HANDOVER_MS_MAX, NGX_LIVE_RECORD_HANDOVER_MS_MAX,
        NGX_MAX_INT32_VALUE, NGX_LIVE_RECORD_HANDOVER_MS_MAX
    };

    ngx_uint_t  i;

    for (i = 0; i < 9; i++) {
        if (ngx_live_record_handover_int(o, names[i], i < 2 ? 1 : 0, max[i],
                                         &v[i])
            != NGX_OK)
        {
            return NGX_DECLINED;
        }
    }

    p->n = (ngx_uint_t) v[0];
    p->want = (ngx_uint_t) v[1];
    p->wait_reason = (ngx_uint_t) v[2];
    p->start_ms = (uint64_t) v[3];
    p->last_ms = (uint64_t) v[4];
    p->base = v[5];
    p->duration = v[6];
    p->frames = (ngx_uint_t) v[7];
    p->bytes = (off_t) v[8];

    if (ngx_live_record_handover_read_ints(o, "last", -1, p->last) != NGX_OK
        || ngx_live_record_handover_read_ints(o, "last_duration", 0,
                                              p->last_duration)
           != NGX_OK
        || ngx_live_record_handover_read_ints(o, "count", 0, count)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    p->count[0] = (ngx_uint_t) count[0];
    p->count[1] = (ngx_uint_t) count[1];

    return NGX_OK;
}


/* a whole number from min to max (a double past int64_t is undefined) */

static ngx_int_t
ngx_live_record_handover_int(cJSON *o, const char *name, int64_t min,
    int64_t max, int64_t *v)
{
    cJSON  *item;

    item = name ? cJSON_GetObjectItemCaseSensitive(o, name) : o;

    if (!cJSON_IsNumber(item)
        || !(item->valuedouble >= (double) min
             && item->valuedouble <= (double) max)
        || item->valuedouble != (double) (int64_t) item->valuedouble)
    {
        return NGX_DECLINED;
    }

    *v = (int64_t) item->valuedouble;

    return NGX_OK;
}


/* one a track, from min to a part's length in ms */

static ngx_int_t
ngx_live_record_handover_read_ints(cJSON *o, const char *name, int64_t min,
    int64_t *v)
{
    cJSON       *a;
    ngx_uint_t   i;

    a = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsArray(a)
        || cJSON_GetArraySize(a) != NGX_LIVE_RECORD_NTRACKS)
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        if (ngx_live_record_handover_int(cJSON_GetArrayItem(a, i), NULL, min,
                                         NGX_LIVE_RECORD_HANDOVER_MS_MAX,
                                         &v[i])
            != NGX_OK)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_handover_read_tracks(ngx_live_record_part_t *p, cJSON *a)
{
    ngx_uint_t  i;

    if (!cJSON_IsArray(a)
        || cJSON_GetArraySize(a) != NGX_LIVE_RECORD_NTRACKS)
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        if (ngx_live_record_handover_read_track(p->pool,
                                                cJSON_GetArrayItem(a, i),
                                                &p->st.tracks[i])
            != NGX_OK)
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_handover_read_track(ngx_pool_t *pool, cJSON *o,
    ngx_live_record_track_t *t)
{
    u_char     *raw;
    int64_t     v[6];
    ngx_int_t   hi, lo;
    ngx_str_t   hex;
    ngx_uint_t  i;

    static const char  *names[] = {
        "codec", "fourcc", "width", "height", "sample_rate", "channels"
    };

    for (i = 0; i < 6; i++) {
        if (ngx_live_record_handover_int(o, names[i], 0,
                                         i == 1 ? 0xffffffffLL
                                                : NGX_MAX_INT32_VALUE,
                                         &v[i])
            != NGX_OK)
        {
            return NGX_DECLINED;
        }
    }

    if (ngx_live_record_json_get(pool, o, "extradata", &hex) != NGX_OK
        || hex.len > 2 * NGX_LIVE_RECORD_HANDOVER_EXTRA || hex.len % 2)
    {
        return NGX_DECLINED;
    }

    raw = ngx_pnalloc(pool, hex.len / 2 + 1);
    if (raw == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < hex.len / 2; i++) {
        hi = ngx_live_record_handover_nibble(hex.data[2 * i]);
        lo = ngx_live_record_handover_nibble(hex.data[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            return NGX_DECLINED;
        }

        raw[i] = (u_char) (hi << 4 | lo);
    }

    t->codec = (ngx_uint_t) v[0];
    t->fourcc = (uint32_t) v[1];
    t->width = (ngx_uint_t) v[2];
    t->height = (ngx_uint_t) v[3];
    t->sample_rate = (ngx_uint_t) v[4];
    t->channels = (ngx_uint_t) v[5];
    t->extradata = raw;
    t->extradata_len = hex.len / 2;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_handover_nibble(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}


/* one file a format, each of MP4, FLV and AAC at most once */

static ngx_int_t
ngx_live_record_handover_read_files(ngx_live_record_part_t *p, cJSON *a)
{
    cJSON                   *o;
    int64_t                  format;
    ngx_live_record_file_t  *f;

    ngx_live_record_json_field_t  fields[] = {
        { "file_id", NGX_LIVE_RECORD_JSON_STR, NULL },
        { "work", NGX_LIVE_RECORD_JSON_STR, NULL },
        { "store_path", NGX_LIVE_RECORD_JSON_STR, NULL },
        { NULL, 0, NULL }
    };

    if (!cJSON_IsArray(a)) {
        return NGX_DECLINED;
    }

    cJSON_ArrayForEach(o, a) {
        if (ngx_live_record_handover_int(o, "format", NGX_LIVE_RECORD_MP4,
                                         NGX_LIVE_RECORD_AAC, &format)
            != NGX_OK
            || !(p->want & (1 << format))
            || (p->formats & (1 << format)))
        {
            return NGX_DECLINED;
        }

        f = &p->files[format];

        fields[0].dst = &f->file_id;
        fields[1].dst = &f->work;
        fields[2].dst = &f->store;

        if (ngx_live_record_json_read(p->pool, o, fields) != NGX_OK
            || f->file_id.len == 0 || f->work.len == 0)
        {
            return NGX_DECLINED;
        }

        p->formats |= 1 << format;
    }

    return p->formats ? NGX_OK : NGX_DECLINED;
}
