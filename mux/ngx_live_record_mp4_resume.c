
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * A part of the write-once MP4 writer taken up again from its sidecar:
 * after a crash, recover() gives it the moov close() would have written;
 * after a hand-over to another process, resume() rebuilds the writer's
 * counters so that it goes on writing the same mdat and the same sample
 * index (ngx_live_record_mp4_reopen()).  Both read bytes from a disk that
 * may hold anything: the header and every entry are checked.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_mp4.h"
#include "ngx_live_record_mp4_moov.h"


static ngx_int_t ngx_live_record_mp4_load(ngx_live_record_mp4_build_t *b,
    u_char *head, u_char *sidecar, off_t *fsize);
static ngx_int_t ngx_live_record_mp4_scan(ngx_live_record_mp4_build_t *b,
    off_t fsize, uint64_t *entries);
static ngx_uint_t ngx_live_record_mp4_same_tracks(
    ngx_live_record_mp4_sidecar_t *a, ngx_live_record_mp4_sidecar_t *b);


/*
 * After a crash: the sidecar's header says what the part holds; its
 * entries are trusted in order while each is well formed, its time goes
 * forward and its bytes are in the file.  The file is cut after the last
 * trusted sample and gets the moov that close would have written.
 */

ngx_int_t
ngx_live_record_mp4_recover(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *label, u_char *path, u_char *sidecar, off_t *size)
{
    u_char                         *head;
    off_t                           fsize;
    uint64_t                        entries;
    ngx_int_t                       rc;
    ngx_live_record_mp4_walk_t      walk;
    ngx_live_record_mp4_build_t     b;
    ngx_live_record_mp4_sidecar_t   sc;

    ngx_memzero(&b, sizeof(ngx_live_record_mp4_build_t));
    b.log = log;
    b.label = label;
    b.path = path;
    b.fd = NGX_INVALID_FILE;
    b.sfd = NGX_INVALID_FILE;
    b.sc = &sc;
    b.walk = &walk;

    rc = NGX_ERROR;

    head = ngx_palloc(pool, NGX_LIVE_RECORD_MP4_MAX_HEADER);
    b.scratch = ngx_palloc(pool, NGX_LIVE_RECORD_MP4_BUFFER);

    if (head == NULL || b.scratch == NULL) {
        goto done;
    }

    rc = ngx_live_record_mp4_load(&b, head, sidecar, &fsize);
    if (rc != NGX_OK) {
        goto done;
    }

    rc = ngx_live_record_mp4_scan(&b, fsize, &entries);
    if (rc != NGX_OK) {
        goto done;
    }

    ngx_live_record_mp4_walk_finish(&walk, NULL);

    if (entries == 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "live record: \"%V\": \"%s\" has no complete sample "
                      "to recover", label, path);
        rc = NGX_DECLINED;
        goto done;
    }

    if (ftruncate(b.fd, (off_t) walk.offset) == -1) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: \"%V\": ftruncate(\"%s\") failed",
                      label, path);
        rc = NGX_ERROR;
        goto done;
    }

    rc = ngx_live_record_mp4_build(&b, entries);
    if (rc != NGX_OK) {
        goto done;
    }

    if (fdatasync(b.fd) == -1) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: \"%V\": fdatasync(\"%s\") failed",
                      label, path);
        rc = NGX_ERROR;
        goto done;
    }

    ngx_log_error(NGX_LOG_INFO, log, 0,
                  "live record: \"%V\": recovered \"%s\": %uL samples, "
                  "%O bytes", label, path, entries, b.size);

    *size = b.size;

done:

    if (b.fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(b.fd);
    }

    if (b.sfd != NGX_INVALID_FILE) {
        (void) ngx_close_file(b.sfd);
    }

    if (rc == NGX_OK && ngx_delete_file(sidecar) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "live record: \"%V\": " ngx_delete_file_n "(\"%s\") "
                      "failed", label, sidecar);
    }

    return rc;
}


/*
 * In a thread: a part detached by another process goes on.  Its sidecar
 * must describe the tracks b->sc holds (the writer's); the layout (reserve,
 * mdat) is taken from it, the counters in b->walk rebuilt from its
 * entries, a torn tail cut off both files, and both fds left at their ends
 * for the next writes.
 */

ngx_int_t
ngx_live_record_mp4_resume(ngx_live_record_mp4_build_t *b, u_char *sidecar)
{
    u_char                         *head;
    off_t                           fsize, end;
    uint64_t                        entries;
    ngx_int_t                       rc;
    ngx_live_record_mp4_sidecar_t   sc, *want;

    want = b->sc;
    b->sc = &sc;
    rc = NGX_ERROR;

    head = ngx_alloc(NGX_LIVE_RECORD_MP4_MAX_HEADER, b->log);
    b->scratch = ngx_alloc(NGX_LIVE_RECORD_MP4_BUFFER, b->log);

    if (head == NULL || b->scratch == NULL) {
        goto done;
    }

    rc = ngx_live_record_mp4_load(b, head, sidecar, &fsize);
    if (rc != NGX_OK) {
        goto done;
    }

    if (!ngx_live_record_mp4_same_tracks(want, &sc)) {
        ngx_log_error(NGX_LOG_ERR, b->log, 0,
                      "live record: \"%V\": \"%s\" holds other tracks than "
                      "the part going on in it", b->label, b->path);
        rc = NGX_DECLINED;
        goto done;
    }

    want->reserve = sc.reserve;
    want->mdat = sc.mdat;
    want->created = sc.created;
    want->header_len = sc.header_len;
    b->sc = want;

    rc = ngx_live_record_mp4_scan(b, fsize, &entries);
    if (rc != NGX_OK) {
        goto done;
    }

    end = (off_t) (want->header_len + entries * NGX_LIVE_RECORD_MP4_ENTRY);

    if (ftruncate(b->fd, (off_t) b->walk->offset) == -1
        || lseek(b->fd, (off_t) b->walk->offset, SEEK_SET) == -1
        || ftruncate(b->sfd, end) == -1
        || lseek(b->sfd, end, SEEK_SET) == -1)
    {
        ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                      "live record: \"%V\": cutting \"%s\" and its sidecar "
                      "to the last whole sample failed", b->label, b->path);
        rc = NGX_ERROR;
        goto done;
    }

    ngx_log_error(NGX_LOG_INFO, b->log, 0,
                  "live record: \"%V\": \"%s\" goes on after %uL samples",
                  b->label, b->path, entries);

done:

    b->sc = want;

    if (rc != NGX_OK) {
        if (b->fd != NGX_INVALID_FILE) {
            (void) ngx_close_file(b->fd);
            b->fd = NGX_INVALID_FILE;
        }

        if (b->sfd != NGX_INVALID_FILE) {
            (void) ngx_close_file(b->sfd);
            b->sfd = NGX_INVALID_FILE;
        }
    }

    if (head) {
        ngx_free(head);
    }

    if (b->scratch) {
        ngx_free(b->scratch);
        b->scratch = NULL;
    }

    return rc;
}


/* the tracks a writer was created with, and those a sidecar holds */

static ngx_uint_t
ngx_live_record_mp4_same_tracks(ngx_live_record_mp4_sidecar_t *a,
    ngx_live_record_mp4_sidecar_t *b)
{
    ngx_uint_t                         t;
    ngx_live_record_mp4_track_info_t  *x, *y;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        x = &a->tracks[t];
        y = &b->tracks[t];

        if (x->codec != y->codec || x->timescale != y->timescale
            || x->width != y->width || x->height != y->height
            || x->sample_rate != y->sample_rate
            || x->channels != y->channels
            || x->extradata_len != y->extradata_len
            || (x->extradata_len
                && ngx_memcmp(x->extradata, y->extradata, x->extradata_len)
                   != 0))
        {
            return 0;
        }
    }

    return 1;
}


/*
 * In a thread: a part's sidecar and file opened read-write, the header
 * parsed into b->sc, and the mdat found where it says.  NGX_DECLINED: they
 * are not a part and its sidecar.
 */

static ngx_int_t
ngx_live_record_mp4_load(ngx_live_record_mp4_build_t *b, u_char *head,
    u_char *sidecar, off_t *fsize)
{
    u_char           box[16];
    size_t           n;
    ngx_file_info_t  fi;

    b->sfd = ngx_open_file(sidecar, NGX_FILE_RDWR, NGX_FILE_OPEN, 0);
    if (b->sfd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                      "live record: \"%V\": " ngx_open_file_n "(\"%s\") "
                      "failed", b->label, sidecar);
        return NGX_ERROR;
    }

    if (ngx_live_record_mp4_pread(b->sfd, head,
                                  NGX_LIVE_RECORD_MP4_MAX_HEADER, 0, &n)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                      "live record: \"%V\": read(\"%s\") failed",
                      b->label, sidecar);
        return NGX_ERROR;
    }

    if (ngx_live_record_mp4_sidecar_parse(head, n, b->sc) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, b->log, 0,
                      "live record: \"%V\": mp4 sidecar \"%s\" is not valid",
                      b->label, sidecar);
        return NGX_DECLINED;
    }

    b->fd = ngx_open_file(b->path, NGX_FILE_RDWR, NGX_FILE_OPEN, 0);
    if (b->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                      "live record: \"%V\": " ngx_open_file_n "(\"%s\") "
                      "failed", b->label, b->path);
        return NGX_ERROR;
    }

    if (ngx_fd_info(b->fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                      "live record: \"%V\": " ngx_fd_info_n "(\"%s\") failed",
                      b->label, b->path);
        return NGX_ERROR;
    }

    /* the part is the one the sidecar describes: its mdat where it says */

    if (ngx_live_record_mp4_pread(b->fd, box, 16, b->sc->mdat, &n) != NGX_OK
        || n != 16 || ngx_memcmp(box + 4, "mdat", 4) != 0
        || ngx_live_record_mp4_r32(box) != 1)
    {
        ngx_log_error(NGX_LOG_ERR, b->log, 0,
                      "live record: \"%V\": \"%s\" has no mdat where its "
                      "sidecar \"%s\" says", b->label, b->path, sidecar);
        return NGX_DECLINED;
    }

    *fsize = ngx_file_size(&fi);

    return NGX_OK;
}


/* recovery's first pass: how many entries to trust, and the counters */

static ngx_int_t
ngx_live_record_mp4_scan(ngx_live_record_mp4_build_t *b, off_t fsize,
    uint64_t *entries)
{
    u_char                       *buf, *p;
    size_t                        n;
    off_t                         offset;
    uint64_t                      i;
    ngx_live_record_mp4_entry_t   e;

    buf = b->scratch;
    offset = b->sc->header_len;
    i = 0;

    ngx_live_record_mp4_walk_init(b->walk, b->sc);
    b->walk->offset = b->sc->mdat + 16;

    for ( ;; ) {
        if (ngx_live_record_mp4_pread(b->sfd, buf, NGX_LIVE_RECORD_MP4_BUFFER,
                                      offset, &n)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                          "live record: \"%V\": reading the mp4 sidecar "
                          "failed", b->label);
            return NGX_ERROR;
        }

        n -= n % NGX_LIVE_RECORD_MP4_ENTRY;

        if (n == 0) {
            break;
        }

        for (p = buf; p < buf + n; p += NGX_LIVE_RECORD_MP4_ENTRY) {
            if (ngx_live_record_mp4_entry_parse(p, i, b->sc, &e) != NGX_OK
                || b->walk->offset + e.size > (uint64_t) fsize
                || ngx_live_record_mp4_walk_add(b->walk, &e, NULL)
                   != NGX_OK)
            {
                goto done;
            }

            i++;
        }

        offset += n;
    }

done:

    *entries = i;

    return NGX_OK;
}
