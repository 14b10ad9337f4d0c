
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>
#include "ngx_live_record_index.h"
#include "ngx_live_record_store.h"


/*
 * Index entries: one JSON file per finished file, at
 * INDEX/APP/STREAM/FILE_ID.json.  File ids start with the start time in
 * milliseconds, so one stream's entries in a time window are one sorted
 * directory listing, and no other stream's entries are read.
 */


#define NGX_LIVE_RECORD_HASH_BUF   (256 * 1024)


static off_t ngx_live_record_seek(ngx_fd_t fd, off_t off, int whence,
    off_t size);
static ngx_int_t ngx_live_record_hash_zeros(EVP_MD_CTX *md_ctx, u_char *buf,
    off_t len);
static ngx_int_t ngx_live_record_hash_data(EVP_MD_CTX *md_ctx, ngx_fd_t fd,
    u_char *buf, off_t from, off_t to);
static cJSON *ngx_live_record_num(cJSON *o, const char *name, double v);
static cJSON *ngx_live_record_json_add(cJSON *o, const char *name,
    ngx_str_t *text);


ngx_int_t
ngx_live_record_file_ids(ngx_live_record_part_t *p)
{
    u_char                       *s;
    ngx_uint_t                    i;
    ngx_live_record_main_conf_t  *lmcf;

    lmcf = p->lmcf;

    for (i = 0; i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (!(p->want & (1 << i))) {
            continue;
        }

        s = ngx_pnalloc(p->pool, NGX_INT64_LEN * 3 + lmcf->node_id.len + 16);
        if (s == NULL) {
            return NGX_ERROR;
        }

        p->files[i].file_id.data = s;
        s = ngx_sprintf(s, "%013uL-%V-%P-%ui-%s", p->start_ms, &lmcf->node_id,
                        ngx_pid, ++lmcf->seq, ngx_live_record_format_ext(i));
        p->files[i].file_id.len = s - p->files[i].file_id.data;
    }

    return NGX_OK;
}


/* the fields every event and entry of a file has */

cJSON *
ngx_live_record_part_json(ngx_live_record_part_t *p, ngx_uint_t format)
{
    cJSON                    *o;
    ngx_str_t                 s;
    ngx_live_record_track_t  *v, *a;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    v = &p->st.tracks[NGX_LIVE_RECORD_VIDEO];
    a = &p->st.tracks[NGX_LIVE_RECORD_AUDIO];

    s.data = (u_char *) ngx_live_record_format_ext(format);
    s.len = ngx_strlen(s.data);

    if (ngx_live_record_json_set(o, "file_id", &p->files[format].file_id)
           == NULL
        || ngx_live_record_json_set(o, "app", &p->st.app) == NULL
        || ngx_live_record_json_set(o, "domain", &p->st.domain) == NULL
        || ngx_live_record_json_set(o, "stream_id", &p->st.name) == NULL
        || ngx_live_record_json_set(o, "stream_param", &p->st.args) == NULL
        || ngx_live_record_json_set(o, "session_id", &p->st.session) == NULL
        || ngx_live_record_num(o, "part", p->n) == NULL
        || ngx_live_record_json_set(o, "file_format", &s) == NULL
        || ngx_live_record_num(o, "start_time", p->start_ms / 1000) == NULL
        || ngx_live_record_num(o, "start_time_ms", p->start_ms) == NULL
        || ngx_live_record_json_set(o, "template", &p->tpl->name) == NULL
        || (p->st.task_id.len
            ? ngx_live_record_json_set(o, "task_id", &p->st.task_id)
            : cJSON_AddNullToObject(o, "task_id")) == NULL
        || ngx_live_record_json_add(o, "sources", &p->st.sources) == NULL
        || ngx_live_record_json_add(o, "extension", &p->st.extension) == NULL
        || cJSON_AddStringToObject(o, "video_codec",
                                   v->codec ? ngx_live_record_codec_name(
                                                  v->codec)
                                            : "") == NULL
        || cJSON_AddStringToObject(o, "audio_codec",
                                   a->codec ? ngx_live_record_codec_name(
                                                  a->codec)
                                            : "") == NULL
        || ngx_live_record_num(o, "width", v->width) == NULL
        || ngx_live_record_num(o, "height", v->height) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


/* the part's fields once it is finished, for record_done and the index */

cJSON *
ngx_live_record_entry_json(ngx_live_record_part_t *p, ngx_uint_t format)
{
    cJSON                   *o;
    uint64_t                 end;
    ngx_str_t                s;
    ngx_live_record_file_t  *f;

    o = ngx_live_record_part_json(p, format);
    if (o == NULL) {
        return NULL;
    }

    f = &p->files[format];
    end = ngx_max(p->last_ms, p->start_ms);

    s.data = f->sha256;
    s.len = ngx_strlen(f->sha256);

    if (ngx_live_record_num(o, "end_time", end / 1000) == NULL
        || ngx_live_record_num(o, "end_time_ms", end) == NULL
        || ngx_live_record_num(o, "duration", (double) p->duration / 1000)
           == NULL
        || ngx_live_record_num(o, "file_size", f->size) == NULL
        || ngx_live_record_num(o, "media_start_time", p->base) == NULL
        || ngx_live_record_num(o, "record_bps",
                               p->duration > 0
                               ? (double) (uint64_t) (f->size * 8000
                                                      / p->duration)
                               : 0) == NULL
        || ngx_live_record_json_set(o, "sha256", &s) == NULL
        || cJSON_AddStringToObject(o, "end_reason",
                                   ngx_live_record_reason_name(p->reason))
           == NULL
        || ngx_live_record_json_set(o, "store", &p->lacf->store.name)
           == NULL
        || ngx_live_record_json_set(o, "path", &f->store) == NULL
        || (f->url.len ? ngx_live_record_json_set(o, "video_url", &f->url)
                       : cJSON_AddNullToObject(o, "video_url")) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    return o;
}


/* the public URL of a file in the local store, if it has a url= */

ngx_int_t
ngx_live_record_local_url(ngx_live_record_part_t *p, ngx_uint_t format)
{
    u_char                   *s;
    ngx_live_record_file_t   *f;
    ngx_live_record_store_t  *st;

    st = &p->lacf->store;
    f = &p->files[format];

    if (st->url.len == 0) {
        return NGX_DECLINED;
    }

    s = ngx_pnalloc(p->pool, st->url.len + p->rel.len + sizeof("//index.m3u8"));
    if (s == NULL) {
        return NGX_ERROR;
    }

    f->url.data = s;

    if (format == NGX_LIVE_RECORD_HLS) {
        s = ngx_sprintf(s, "%V/%V/index.m3u8", &st->url, &p->rel);

    } else {
        s = ngx_sprintf(s, "%V/%V.%s", &st->url, &p->rel,
                        ngx_live_record_format_ext(format));
    }

    f->url.len = s - f->url.data;

    return NGX_OK;
}


ngx_int_t
ngx_live_record_index_put(ngx_str_t *index, ngx_str_t *label,
    ngx_str_t *file_id, cJSON *entry, ngx_log_t *log)
{
    u_char     *path;
    ngx_str_t   text;
    ngx_int_t   rc;

    text.data = (u_char *) cJSON_Print(entry);
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    text.len = ngx_strlen(text.data);

    path = ngx_alloc(index->len + label->len + file_id->len
                     + sizeof("//.json"), log);
    if (path == NULL) {
        cJSON_free(text.data);
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/%V/%V.json%Z", index, label, file_id);

    rc = ngx_live_record_create_dirs(path, log);

    if (rc == NGX_OK) {
        rc = ngx_live_record_write_atomic(path, &text, 1, log);
    }

    ngx_free(path);
    cJSON_free(text.data);

    return rc;
}


/*
 * Runs in a thread.  The holes of a sparse file (the unused part of an
 * MP4's reserved index region, punched at close) are hashed as the zeros
 * they read as, without reading them: the checksum reads each data byte
 * once and nothing else.
 */

ngx_int_t
ngx_live_record_sha256(u_char *path, u_char *hex, ngx_log_t *log)
{
    u_char         *buf, md[EVP_MAX_MD_SIZE];
    off_t           off, data, hole, size;
    ngx_fd_t        fd;
    ngx_int_t       rc;
    unsigned int    len;
    EVP_MD_CTX     *md_ctx;
    ngx_file_info_t fi;

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_open_file_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    buf = ngx_alloc(NGX_LIVE_RECORD_HASH_BUF, log);
    md_ctx = EVP_MD_CTX_new();
    rc = NGX_ERROR;

    if (buf == NULL || md_ctx == NULL
        || EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL) != 1)
    {
        goto done;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_fd_info_n " \"%s\" failed", path);
        goto done;
    }

    size = ngx_file_size(&fi);

    for (off = 0; off < size; off = hole) {
        data = ngx_live_record_seek(fd, off, SEEK_DATA, size);
        hole = ngx_live_record_seek(fd, data, SEEK_HOLE, size);

        if (data < off || hole < data
            || ngx_live_record_hash_zeros(md_ctx, buf, data - off) != NGX_OK
            || ngx_live_record_hash_data(md_ctx, fd, buf, data, hole)
               != NGX_OK)
        {
            ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                          "live record: reading \"%s\" failed", path);
            goto done;
        }
    }

    if (EVP_DigestFinal_ex(md_ctx, md, &len) == 1) {
        *ngx_hex_dump(hex, md, len) = '\0';
        rc = NGX_OK;
    }

done:

    EVP_MD_CTX_free(md_ctx);
    ngx_free(buf);
    ngx_close_file(fd);

    return rc;
}


/*
 * lseek() to the next data or hole; where the file system cannot tell,
 * everything is data
 */

static off_t
ngx_live_record_seek(ngx_fd_t fd, off_t off, int whence, off_t size)
{
    off_t  rc;

    if (off >= size) {
        return size;
    }

    rc = lseek(fd, off, whence);

    if (rc == -1) {
        if (whence == SEEK_DATA) {
            /* ENXIO: only a hole from off to the end */
            return ngx_errno == ENXIO ? size : off;
        }

        return size;
    }

    return ngx_min(rc, size);
}


static ngx_int_t
ngx_live_record_hash_zeros(EVP_MD_CTX *md_ctx, u_char *buf, off_t len)
{
    size_t  n;

    if (len == 0) {
        return NGX_OK;
    }

    n = (size_t) ngx_min(len, NGX_LIVE_RECORD_HASH_BUF);
    ngx_memzero(buf, n);

    while (len > 0) {
        n = (size_t) ngx_min(len, NGX_LIVE_RECORD_HASH_BUF);

        if (EVP_DigestUpdate(md_ctx, buf, n) != 1) {
            return NGX_ERROR;
        }

        len -= n;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_hash_data(EVP_MD_CTX *md_ctx, ngx_fd_t fd, u_char *buf,
    off_t from, off_t to)
{
    ssize_t  n;

    while (from < to) {
        n = pread(fd, buf,
                  (size_t) ngx_min(to - from, NGX_LIVE_RECORD_HASH_BUF),
                  from);

        if (n <= 0 || EVP_DigestUpdate(md_ctx, buf, n) != 1) {
            return NGX_ERROR;
        }

        from += n;
    }

    return NGX_OK;
}


static cJSON *
ngx_live_record_num(cJSON *o, const char *name, double v)
{
    return cJSON_AddNumberToObject(o, name, v);
}


/* a JSON value kept as text; null when there is none */

static cJSON *
ngx_live_record_json_add(cJSON *o, const char *name, ngx_str_t *text)
{
    cJSON  *v;

    v = text->len ? cJSON_ParseWithLength((char *) text->data, text->len)
                  : NULL;

    if (v == NULL) {
        return cJSON_AddNullToObject(o, name);
    }

    if (!cJSON_AddItemToObject(o, name, v)) {
        cJSON_Delete(v);
        return NULL;
    }

    return v;
}

