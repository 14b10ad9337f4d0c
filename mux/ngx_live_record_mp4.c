
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * Write-once MP4.
 *
 * Why our own writer: libavformat cannot write a plain MP4 in one pass with
 * bounded memory.  "faststart" moves the index to the front with a second
 * pass over the whole file; "moov_size" reserves room at the front but keeps
 * one index entry per sample in RAM until the trailer, and loses the index
 * on a crash; the fragmented modes are bounded but the file stays
 * fragmented.  Measured on the libavformat path (issue 13): the worker
 * wrote 3.99x and read 4.3x the file's size for a 6-minute part, and held
 * ~1 MB per recording.
 *
 * Here a part is ftyp, a reserved region (a free box), then one mdat whose
 * payload is each frame's bytes appended once, in arrival order.  Per
 * sample, a 16-byte entry goes to a sidecar file next to the part; the
 * writer keeps only per-track counters (sample, run and chunk counts), so
 * that at close every table's size is known before it is written: the moov
 * skeleton is laid out first, then the sidecar is read once and each table
 * is written through a small buffer of its own.  The moov goes into the
 * reserved region when it fits (the free box shrinks to what is left), else
 * after the mdat.  Media bytes are never moved.  After a crash, recovery
 * rebuilds the same moov from the sidecar and the bytes on disk.
 *
 * Nothing here needs the nginx runtime beyond pools and the log, so a unit
 * driver and a fuzz target link this file directly.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_mp4.h"
#include "ngx_live_record_mp4_moov.h"


/* what one write task takes: set on the loop, written in a thread */

typedef struct {
    ngx_live_record_mp4_block_t  *data;
    ngx_live_record_mp4_block_t  *side;
    size_t                        bytes;
    off_t                         alloc_from;
    off_t                         alloc_to;   /* done, once ran */
    ngx_int_t                     rc;
    ngx_atomic_t                  ran;
} ngx_live_record_mp4_batch_t;


struct ngx_live_record_mp4_s {
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_str_t                  *label;
    u_char                     *path;
    u_char                     *sidecar;
    ngx_fd_t                    fd;
    ngx_fd_t                    sfd;
    ngx_live_record_mp4_sidecar_t
                                sc;
    ngx_live_record_mp4_walk_t  walk;
    ngx_live_record_mp4_chain_t data;
    ngx_live_record_mp4_chain_t side;
    ngx_live_record_mp4_batch_t batch;
    ngx_live_record_mp4_block_t *spare;       /* a data block kept */
    size_t                      held;         /* bytes not yet written */
    uint64_t                    last[NGX_LIVE_RECORD_NTRACKS];
    ngx_uint_t                  dropped;
    ngx_uint_t                  lagged;       /* of dropped: writes lag */
    off_t                       allocated;    /* of the reserved region */
    ngx_uint_t                  opened;       /* the open thread's */
    ngx_uint_t                  inflight;     /* a batch is taken */
    unsigned                    ready:1;
    unsigned                    failed:1;
    unsigned                    closed:1;
    unsigned                    wait_key:1;
    unsigned                    drop_logged:1;
};


static void ngx_live_record_mp4_cleanup(void *data);
static ngx_int_t ngx_live_record_mp4_info(ngx_live_record_mp4_t *w,
    ngx_uint_t n, ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_mp4_entry(ngx_live_record_mp4_t *w,
    ngx_live_record_frame_t *f, ngx_live_record_mp4_entry_t *e);
static ngx_int_t ngx_live_record_mp4_drop(ngx_live_record_mp4_t *w,
    ngx_live_record_frame_t *f, const char *why);
static off_t ngx_live_record_mp4_allocate_to(ngx_live_record_mp4_t *w);
static off_t ngx_live_record_mp4_allocate(ngx_live_record_mp4_t *w,
    off_t from, off_t to);
static off_t ngx_live_record_mp4_moov_bound(ngx_live_record_mp4_t *w);
static size_t ngx_live_record_mp4_header(ngx_live_record_mp4_sidecar_t *sc,
    u_char *buf);
static uint32_t ngx_live_record_mp4_hash(u_char *p, size_t len);


ngx_live_record_mp4_t *
ngx_live_record_mp4_create(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *label, ngx_live_record_track_t *tracks, off_t reserve)
{
    ngx_uint_t              n, present;
    ngx_pool_cleanup_t     *cln;
    ngx_live_record_mp4_t  *w;

    w = ngx_pcalloc(pool, sizeof(ngx_live_record_mp4_t));
    if (w == NULL) {
        return NULL;
    }

    w->pool = pool;
    w->log = log;
    w->label = label;
    w->fd = NGX_INVALID_FILE;
    w->sfd = NGX_INVALID_FILE;

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_live_record_mp4_cleanup;
    cln->data = w;

    present = 0;

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        if (ngx_live_record_mp4_info(w, n, &tracks[n]) != NGX_OK) {
            return NULL;
        }

        present += (w->sc.tracks[n].codec != NGX_LIVE_RECORD_CODEC_NONE);
    }

    if (present == 0) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "live record: \"%V\": mp4 has no track to record",
                      label);
        return NULL;
    }

    if (reserve > 0 && reserve < 8) {
        reserve = 8;
    }

    w->sc.reserve = ngx_min(reserve, NGX_LIVE_RECORD_MP4_MAX_RESERVE);
    w->sc.mdat = NGX_LIVE_RECORD_MP4_FTYP_SIZE + w->sc.reserve;
    w->sc.created = (uint64_t) time(NULL) + NGX_LIVE_RECORD_MP4_EPOCH;

    ngx_live_record_mp4_walk_init(&w->walk, &w->sc);
    w->walk.offset = w->sc.mdat + 16;

    return w;
}


static ngx_int_t
ngx_live_record_mp4_info(ngx_live_record_mp4_t *w, ngx_uint_t n,
    ngx_live_record_track_t *t)
{
    ngx_live_record_mp4_track_info_t  *ti;

    ti = &w->sc.tracks[n];

    switch (t->codec) {

    case NGX_LIVE_RECORD_CODEC_NONE:
        return NGX_OK;

    case NGX_LIVE_RECORD_CODEC_H264:
    case NGX_LIVE_RECORD_CODEC_H265:
    case NGX_LIVE_RECORD_CODEC_AV1:
        if (n != NGX_LIVE_RECORD_VIDEO
            || ngx_live_record_mp4_config_ok(t->codec, t->extradata,
                                             t->extradata_len) != NGX_OK
            || t->width == 0 || t->height == 0
            || t->width > 65535 || t->height > 65535)
        {
            goto invalid;
        }

        ti->timescale = NGX_LIVE_RECORD_MP4_VIDEO_SCALE;
        ti->width = t->width;
        ti->height = t->height;
        break;

    case NGX_LIVE_RECORD_CODEC_AAC:
    case NGX_LIVE_RECORD_CODEC_MP3:
        if (n != NGX_LIVE_RECORD_AUDIO || t->sample_rate == 0
            || t->sample_rate >= (1 << 24)
            || t->channels == 0 || t->channels > 8
            || (t->codec == NGX_LIVE_RECORD_CODEC_AAC
                && t->extradata_len < 2))
        {
            goto invalid;
        }

        ti->timescale = t->sample_rate;
        ti->sample_rate = t->sample_rate;
        ti->channels = t->channels;
        break;

    default:
        goto invalid;
    }

    if (t->extradata_len > NGX_LIVE_RECORD_MP4_MAX_EXTRA) {
        goto invalid;
    }

    ti->codec = t->codec;
    ti->extradata_len = t->extradata_len;

    if (t->extradata_len) {
        ti->extradata = ngx_pnalloc(w->pool, t->extradata_len);
        if (ti->extradata == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(ti->extradata, t->extradata, t->extradata_len);
    }

    return NGX_OK;

invalid:

    ngx_log_error(NGX_LOG_ERR, w->log, 0,
                  "live record: \"%V\": mp4 cannot hold %s with these "
                  "parameters", w->label,
                  ngx_live_record_codec_name(t->codec));

    return NGX_ERROR;
}


/*
 * The smallest configuration record a sample entry can carry: avcC's
 * 7 bytes, hvcC's 23 (ISO 14496-15), av1C's 4 with marker and version 1.
 */

ngx_int_t
ngx_live_record_mp4_config_ok(ngx_uint_t codec, u_char *p, size_t len)
{
    switch (codec) {
    case NGX_LIVE_RECORD_CODEC_H264:
        return (len >= 7 && p[0] == 1) ? NGX_OK : NGX_ERROR;
    case NGX_LIVE_RECORD_CODEC_H265:
        return (len >= 23 && p[0] == 1) ? NGX_OK : NGX_ERROR;
    case NGX_LIVE_RECORD_CODEC_AV1:
        return (len >= 4 && p[0] == 0x81) ? NGX_OK : NGX_ERROR;
    default:
        return NGX_ERROR;
    }
}


/*
 * Room for the moov at the front: per second of media, video at up to 30
 * fps with stsz, stts, ctts and a chunk per frame; audio with stsz and a
 * chunk per frame; a quarter more for margin.
 */

off_t
ngx_live_record_mp4_reserve(ngx_live_record_track_t *tracks,
    ngx_msec_t interval)
{
    off_t     size, per_second;
    uint64_t  rate;

    per_second = 0;

    if (tracks[NGX_LIVE_RECORD_VIDEO].codec != NGX_LIVE_RECORD_CODEC_NONE) {
        per_second += 30 * (4 + 4 + 8 + 4 + 6);
    }

    if (tracks[NGX_LIVE_RECORD_AUDIO].codec != NGX_LIVE_RECORD_CODEC_NONE) {
        rate = tracks[NGX_LIVE_RECORD_AUDIO].sample_rate;
        per_second += (off_t) ((rate + 575) / 576) * (4 + 4 + 6);
    }

    size = 16384 + per_second * (off_t) (interval / 1000) * 5 / 4;

    return ngx_min(size, NGX_LIVE_RECORD_MP4_MAX_RESERVE);
}


uint32_t
ngx_live_record_mp4_nominal(ngx_live_record_mp4_track_info_t *t)
{
    switch (t->codec) {

    case NGX_LIVE_RECORD_CODEC_AAC:
        return 1024;

    case NGX_LIVE_RECORD_CODEC_MP3:
        /* MPEG-2 and 2.5 layer III frames are half as long */
        return (t->sample_rate >= 32000) ? 1152 : 576;

    default:
        /* a lone video frame: 1/30 s */
        return NGX_LIVE_RECORD_MP4_VIDEO_SCALE / 30;
    }
}


static void
ngx_live_record_mp4_cleanup(void *data)
{
    ngx_live_record_mp4_t  *w = data;

    if (w->fd != NGX_INVALID_FILE) {
        (void) ngx_close_file(w->fd);
        w->fd = NGX_INVALID_FILE;
    }

    if (w->sfd != NGX_INVALID_FILE) {
        (void) ngx_close_file(w->sfd);
        w->sfd = NGX_INVALID_FILE;
    }

    ngx_live_record_mp4_free_blocks(w->data.head);
    ngx_live_record_mp4_free_blocks(w->side.head);
    ngx_live_record_mp4_free_blocks(w->batch.data);
    ngx_live_record_mp4_free_blocks(w->batch.side);
    ngx_live_record_mp4_free_blocks(w->spare);

    ngx_memzero(&w->data, sizeof(ngx_live_record_mp4_chain_t));
    ngx_memzero(&w->side, sizeof(ngx_live_record_mp4_chain_t));
    w->batch.data = NULL;
    w->batch.side = NULL;
    w->spare = NULL;
}


/*
 * In a thread: creates the part and its sidecar and writes their headers.
 * The loop keeps buffering frames meanwhile and learns the outcome through
 * ngx_live_record_mp4_ready(); nothing else in w is touched here.
 */

ngx_int_t
ngx_live_record_mp4_open(ngx_live_record_mp4_t *w, u_char *path,
    u_char *sidecar)
{
    u_char    head[NGX_LIVE_RECORD_MP4_FTYP_SIZE + 8], mdat[16], *p;
    u_char    sc[NGX_LIVE_RECORD_MP4_MAX_HEADER];
    size_t    n;
    ngx_fd_t  fd, sfd;

    w->path = path;
    w->sidecar = sidecar;

    fd = ngx_open_file(path, NGX_FILE_RDWR, NGX_FILE_TRUNCATE,
                       NGX_FILE_DEFAULT_ACCESS);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": " ngx_open_file_n "(\"%s\") "
                      "failed", w->label, path);
        return NGX_ERROR;
    }

    sfd = ngx_open_file(sidecar, NGX_FILE_RDWR, NGX_FILE_TRUNCATE,
                        NGX_FILE_DEFAULT_ACCESS);
    if (sfd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": " ngx_open_file_n "(\"%s\") "
                      "failed", w->label, sidecar);
        (void) ngx_close_file(fd);
        return NGX_ERROR;
    }

    /* ftyp, the free box's header (its body stays a hole), mdat's header */

    ngx_live_record_mp4_ftyp(head);
    n = NGX_LIVE_RECORD_MP4_FTYP_SIZE;

    if (w->sc.reserve) {
        p = ngx_live_record_mp4_w32(head + n, (uint32_t) w->sc.reserve);
        ngx_memcpy(p, "free", 4);
        n += 8;
    }

    p = ngx_live_record_mp4_w32(mdat, 1);
    p = ngx_cpymem(p, "mdat", 4);
    (void) ngx_live_record_mp4_w64(p, 16);

    if (ngx_live_record_mp4_pwrite(fd, head, n, 0) != NGX_OK
        || ngx_live_record_mp4_pwrite(fd, mdat, 16, w->sc.mdat) != NGX_OK
        || lseek(fd, w->sc.mdat + 16, SEEK_SET) == -1)
    {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": writing the header of \"%s\" "
                      "failed", w->label, path);
        goto failed;
    }

    n = ngx_live_record_mp4_header(&w->sc, sc);

    if (ngx_live_record_mp4_pwrite(sfd, sc, n, -1) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": write(\"%s\") failed",
                      w->label, sidecar);
        goto failed;
    }

    w->sc.header_len = n;
    w->fd = fd;
    w->sfd = sfd;
    w->opened = 1;

    w->allocated = ngx_live_record_mp4_allocate(w, 0,
                                           ngx_live_record_mp4_allocate_to(w));

    return NGX_OK;

failed:

    (void) ngx_close_file(sfd);
    (void) ngx_close_file(fd);

    return NGX_ERROR;
}


/* on the loop, once open() is done: buffered frames may go to disk now */

void
ngx_live_record_mp4_ready(ngx_live_record_mp4_t *w, ngx_int_t rc)
{
    if (rc == NGX_OK && w->opened) {
        w->ready = 1;
        return;
    }

    w->failed = 1;
}


ngx_int_t
ngx_live_record_mp4_write(ngx_live_record_mp4_t *w,
    ngx_live_record_frame_t *f)
{
    u_char                       *p, entry[NGX_LIVE_RECORD_MP4_ENTRY];
    ngx_live_record_mp4_entry_t   e;

    if (w->failed || w->closed || f->track >= NGX_LIVE_RECORD_NTRACKS
        || w->sc.tracks[f->track].codec == NGX_LIVE_RECORD_CODEC_NONE)
    {
        return NGX_DECLINED;
    }

    if (f->len == 0 || f->len > NGX_LIVE_RECORD_MP4_MAX_SAMPLE) {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "live record: \"%V\": mp4 skips a frame of %uz bytes",
                      w->label, f->len);
        return NGX_DECLINED;
    }

    if (f->track == NGX_LIVE_RECORD_VIDEO && w->wait_key) {
        if (!f->key) {
            w->dropped++;
            return NGX_DECLINED;
        }

        w->wait_key = 0;
    }

    /* what waits for the disk is bounded: past it, frames are dropped */

    if (w->held && w->held + f->len > NGX_LIVE_RECORD_MP4_LAG_MAX) {
        return ngx_live_record_mp4_drop(w, f, w->ready
                                        ? "its writes lag behind"
                                        : "the part is not open yet");
    }

    /* the room first: a sample in the index always gets its bytes */

    if (ngx_live_record_mp4_room(&w->data, f->len, NGX_LIVE_RECORD_MP4_BLOCK,
                                 &w->spare, w->log)
        != NGX_OK
        || ngx_live_record_mp4_room(&w->side, NGX_LIVE_RECORD_MP4_ENTRY,
                                    NGX_LIVE_RECORD_MP4_SIDECAR_BUF, NULL,
                                    w->log)
           != NGX_OK)
    {
        return ngx_live_record_mp4_drop(w, f, "no memory");
    }

    if (ngx_live_record_mp4_entry(w, f, &e) != NGX_OK) {
        return NGX_DECLINED;
    }

    ngx_live_record_mp4_copy(&w->data, f->data, f->len);

    p = ngx_live_record_mp4_w32(entry, e.size);
    p = ngx_live_record_mp4_w32(p, e.dts);
    p = ngx_live_record_mp4_w32(p, (uint32_t) e.cto);
    *p++ = (u_char) (e.track | (e.sync ? 0x80 : 0));
    *p++ = (u_char) ((w->walk.entries - 1) >> 16);
    *p++ = (u_char) ((w->walk.entries - 1) >> 8);
    *p = (u_char) (w->walk.entries - 1);

    ngx_live_record_mp4_copy(&w->side, entry, NGX_LIVE_RECORD_MP4_ENTRY);

    w->held += f->len + NGX_LIVE_RECORD_MP4_ENTRY;

    return NGX_OK;
}


/*
 * A frame's place in its track's time: video in 90 kHz ticks of its
 * timestamps; audio one frame length after the previous one, unless the
 * timestamps say the source dropped (or squeezed) more than half a frame,
 * then the previous frame lasts as long as the gap says, so that audio
 * and video stay in sync.
 */

static ngx_int_t
ngx_live_record_mp4_entry(ngx_live_record_mp4_t *w,
    ngx_live_record_frame_t *f, ngx_live_record_mp4_entry_t *e)
{
    int64_t                            cto, dts, d, nominal;
    uint64_t                           t;
    ngx_live_record_mp4_index_t       *ix;
    ngx_live_record_mp4_track_info_t  *ti;

    ti = &w->sc.tracks[f->track];
    ix = &w->walk.ix[f->track];
    dts = ngx_max(f->dts, 0);

    if (f->track == NGX_LIVE_RECORD_VIDEO) {
        t = (uint64_t) dts * (NGX_LIVE_RECORD_MP4_VIDEO_SCALE / 1000);
        cto = (f->pts - dts) * (NGX_LIVE_RECORD_MP4_VIDEO_SCALE / 1000);
        cto = ngx_max(cto, 0);
        cto = ngx_min(cto, NGX_LIVE_RECORD_MP4_MAX_CTO);

        if (ix->samples && t <= w->last[f->track]) {
            t = w->last[f->track] + 1;
        }

    } else {
        t = ((uint64_t) dts * ti->timescale + 500) / 1000;
        cto = 0;

        /*
         * audio starts with the part: a first frame that comes after the
         * keyframe the part starts at lasts from the start, as MP4 muxers
         * do, so the part's duration is what its tracks hold
         */

        if (ix->samples == 0) {
            t = 0;

        } else {
            nominal = ngx_live_record_mp4_nominal(ti);
            d = (int64_t) t - (int64_t) w->last[f->track];

            if (d >= nominal / 2 && d <= nominal + nominal / 2) {
                d = nominal;
            }

            d = ngx_max(d, 1);
            t = w->last[f->track] + d;
        }
    }

    if (ix->samples && t - w->last[f->track] > NGX_LIVE_RECORD_MP4_MAX_DELTA)
    {
        ngx_log_error(NGX_LOG_ERR, w->log, 0,
                      "live record: \"%V\": mp4 skips a frame after a "
                      "timestamp jump", w->label);
        return NGX_DECLINED;
    }

    e->size = (uint32_t) f->len;
    e->dts = (uint32_t) t;
    e->cto = (int32_t) cto;
    e->track = f->track;
    e->sync = (f->track == NGX_LIVE_RECORD_AUDIO) || f->key;

    if (ngx_live_record_mp4_walk_add(&w->walk, e, NULL) != NGX_OK) {
        return NGX_DECLINED;
    }

    w->last[f->track] = t;

    return NGX_OK;
}


/* the file is not open yet or the disk is slow: never wait for it */

static ngx_int_t
ngx_live_record_mp4_drop(ngx_live_record_mp4_t *w, ngx_live_record_frame_t *f,
    const char *why)
{
    w->dropped++;
    w->lagged += (w->ready != 0);

    if (f->track == NGX_LIVE_RECORD_VIDEO) {
        w->wait_key = 1;
    }

    if (!w->drop_logged) {
        w->drop_logged = 1;
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "live record: \"%V\": mp4 drops frames: %s and %uz "
                      "bytes wait to be written (at most %uz)", w->label,
                      why, w->held, (size_t) NGX_LIVE_RECORD_MP4_LAG_MAX);
    }

    return NGX_DECLINED;
}


ngx_uint_t
ngx_live_record_mp4_dropped(ngx_live_record_mp4_t *w)
{
    return w->dropped;
}


/*
 * On the loop: what waits goes into the writer's one batch, for put() in
 * a thread; all: the blocks being filled too (the tick), else only full
 * ones.  NGX_DECLINED: nothing to write, not open yet, or a batch is out.
 */

ngx_int_t
ngx_live_record_mp4_take(ngx_live_record_mp4_t *w, ngx_uint_t all)
{
    size_t                        bytes;
    ngx_live_record_mp4_batch_t  *bt;

    if (w->failed || !w->ready || w->closed || w->inflight) {
        return NGX_DECLINED;
    }

    bt = &w->batch;
    bytes = 0;

    bt->data = ngx_live_record_mp4_cut(&w->data, all, &bytes);
    bt->side = ngx_live_record_mp4_cut(&w->side, all, &bytes);
    bt->alloc_from = w->allocated;
    bt->alloc_to = all ? ngx_live_record_mp4_allocate_to(w) : w->allocated;

    if (bytes == 0 && bt->alloc_to == bt->alloc_from) {
        return NGX_DECLINED;
    }

    bt->bytes = bytes;
    bt->rc = NGX_OK;
    bt->ran = 0;
    w->inflight = 1;

    return NGX_OK;
}


/* bytes waiting in full blocks: worth a task of their own */

size_t
ngx_live_record_mp4_backlog(ngx_live_record_mp4_t *w)
{
    return w->data.full;
}


ngx_uint_t
ngx_live_record_mp4_inflight(ngx_live_record_mp4_t *w)
{
    return w->inflight;
}


ngx_uint_t
ngx_live_record_mp4_ran(ngx_live_record_mp4_t *w)
{
    return w->batch.ran;
}


/*
 * In a thread (or on the loop without a pool): the batch's reserved
 * blocks, its bytes, then its entries, so that an entry on disk rarely
 * lacks its bytes.  Only the batch and the open fds are touched.
 */

void
ngx_live_record_mp4_put_batch(ngx_live_record_mp4_t *w)
{
    ngx_live_record_mp4_batch_t  *bt;

    bt = &w->batch;

    bt->alloc_to = ngx_live_record_mp4_allocate(w, bt->alloc_from,
                                                bt->alloc_to);

    if (ngx_live_record_mp4_writev(w->fd, bt->data) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": write(\"%s\") failed",
                      w->label, w->path);
        bt->rc = NGX_ERROR;

    } else if (ngx_live_record_mp4_writev(w->sfd, bt->side) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": write(\"%s\") failed",
                      w->label, w->sidecar);
        bt->rc = NGX_ERROR;
    }

    ngx_memory_barrier();
    bt->ran = 1;
}


/* back on the loop: the blocks are free again */

ngx_int_t
ngx_live_record_mp4_done(ngx_live_record_mp4_t *w)
{
    ngx_live_record_mp4_batch_t  *bt;

    bt = &w->batch;

    if (!w->inflight) {
        return NGX_OK;
    }

    w->inflight = 0;
    w->held -= bt->bytes;
    w->allocated = bt->alloc_to;

    ngx_live_record_mp4_recycle(&w->spare, bt->data);
    ngx_live_record_mp4_free_blocks(bt->side);
    bt->data = NULL;
    bt->side = NULL;

    if (bt->rc != NGX_OK) {
        w->failed = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* the flush tick without a thread pool, and the unit driver's */

ngx_int_t
ngx_live_record_mp4_flush(ngx_live_record_mp4_t *w)
{
    if (w->failed) {
        return NGX_ERROR;
    }

    if (ngx_live_record_mp4_take(w, 1) != NGX_OK) {
        return NGX_OK;
    }

    ngx_live_record_mp4_put_batch(w);

    return ngx_live_record_mp4_done(w);
}


/*
 * The reserved region is a hole until the moov needs it: its blocks are
 * taken in steps as the sample index grows, while the disk has them, so
 * that a disk that fills up still leaves room to finish the part.  One
 * fallocate() per step: metadata only, no bytes written.  The step is
 * sized on the loop, taken in the write task.
 */

static off_t
ngx_live_record_mp4_allocate_to(ngx_live_record_mp4_t *w)
{
    off_t  need, body;

    body = (off_t) w->sc.reserve - 8;

    if (w->sc.reserve == 0 || w->allocated >= body) {
        return w->allocated;
    }

    need = ngx_live_record_mp4_moov_bound(w) + NGX_LIVE_RECORD_MP4_ALLOC_STEP;

    if (need <= w->allocated) {
        return w->allocated;
    }

    return ngx_min(ngx_align(need, NGX_LIVE_RECORD_MP4_ALLOC_STEP), body);
}


/* what is allocated after trying from..to */

static off_t
ngx_live_record_mp4_allocate(ngx_live_record_mp4_t *w, off_t from, off_t to)
{
    if (to <= from) {
        return from;
    }

#if (NGX_LINUX)

    if (fallocate(w->fd, 0, NGX_LIVE_RECORD_MP4_FTYP_SIZE + 8 + from,
                  to - from)
        == -1)
    {
        if (ngx_errno == NGX_EOPNOTSUPP) {
            /* a file system without it: the hole stays, as before */
            return (off_t) w->sc.reserve - 8;
        }

        ngx_log_error(NGX_LOG_WARN, w->log, ngx_errno,
                      "live record: \"%V\": fallocate(\"%s\") of the mp4 "
                      "index's room failed", w->label, w->path);
        return from;
    }

    return to;

#else

    return from;

#endif
}


/* what the moov can take at most: the tables by the counters kept */

static off_t
ngx_live_record_mp4_moov_bound(ngx_live_record_mp4_t *w)
{
    off_t                         size;
    ngx_uint_t                    t;
    ngx_live_record_mp4_index_t  *ix;

    size = 1024;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        ix = &w->walk.ix[t];

        size += 1024 + w->sc.tracks[t].extradata_len
                + 8 * (ix->stts_runs + 1) + 8 * (ix->ctts_runs + 1)
                + 4 * ix->syncs + 4 * ix->samples
                + 12 * (ix->stsc_runs + 1) + 8 * (ix->chunks + 1);
    }

    return size;
}


void
ngx_live_record_mp4_fail(ngx_live_record_mp4_t *w)
{
    w->failed = 1;
}


/*
 * In a thread, after the loop's last write: the rest of the buffers, the
 * moov from the sidecar, fdatasync; the sidecar goes when the part is on
 * disk whole.  After a failure the files stay for recover().
 */

ngx_int_t
ngx_live_record_mp4_close(ngx_live_record_mp4_t *w, off_t *size)
{
    u_char                      *scratch;
    ngx_int_t                    rc;
    ngx_live_record_mp4_build_t  b;

    if (w->closed) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    scratch = NULL;

    if (w->failed || !w->ready) {
        goto done;
    }

    /* the loop is done with w: what waits is written here, in order */

    if (w->inflight || ngx_live_record_mp4_flush(w) != NGX_OK) {
        goto done;
    }

    w->closed = 1;

    scratch = ngx_alloc(NGX_LIVE_RECORD_MP4_BUFFER, w->log);
    if (scratch == NULL) {
        goto done;
    }

    ngx_live_record_mp4_walk_finish(&w->walk, NULL);

    ngx_memzero(&b, sizeof(ngx_live_record_mp4_build_t));
    b.log = w->log;
    b.label = w->label;
    b.path = w->path;
    b.fd = w->fd;
    b.sfd = w->sfd;
    b.sc = &w->sc;
    b.walk = &w->walk;
    b.scratch = scratch;

    rc = ngx_live_record_mp4_build(&b, w->walk.entries);

    if (rc != NGX_OK) {
        goto done;
    }

    if (fdatasync(w->fd) == -1) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": fdatasync(\"%s\") failed",
                      w->label, w->path);
        rc = NGX_ERROR;
        goto done;
    }

    *size = b.size;

done:

    w->closed = 1;

    if (scratch) {
        ngx_free(scratch);
    }

    ngx_live_record_mp4_cleanup(w);

    if (rc == NGX_OK && ngx_delete_file(w->sidecar) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_WARN, w->log, ngx_errno,
                      "live record: \"%V\": " ngx_delete_file_n "(\"%s\") "
                      "failed", w->label, w->sidecar);
    }

    return rc;
}


/*
 * In a thread, after the loop's last write, when another process takes the
 * part over: what waits is written and the files are closed as they are,
 * the mdat open and no moov; the sidecar stays, for reopen() there, or for
 * recover() if that process dies.
 */

ngx_int_t
ngx_live_record_mp4_detach(ngx_live_record_mp4_t *w)
{
    ngx_int_t  rc;

    rc = NGX_ERROR;

    if (!w->closed && !w->failed && w->ready && !w->inflight
        && ngx_live_record_mp4_flush(w) == NGX_OK)
    {
        rc = NGX_OK;
    }

    w->closed = 1;

    ngx_live_record_mp4_cleanup(w);

    return rc;
}


/*
 * In a thread, instead of open(): a part another process detached goes on
 * in this writer, created with the same tracks and written to only once
 * this is done (the frames meanwhile wait in the part's queue).  Its counters, the last
 * time of each track and the reserved region's blocks are as if this
 * writer had written all of it; the next frame's time follows the last.
 */

ngx_int_t
ngx_live_record_mp4_reopen(ngx_live_record_mp4_t *w, u_char *path,
    u_char *sidecar)
{
    ngx_int_t                    rc;
    ngx_uint_t                   t;
    ngx_live_record_mp4_build_t  b;

    w->path = path;
    w->sidecar = sidecar;

    if (w->walk.entries) {
        /* their places in the file and the index are taken already */
        ngx_log_error(NGX_LOG_ALERT, w->log, 0,
                      "live record: \"%V\": mp4 frames were written before "
                      "\"%s\" was reopened", w->label, path);
        return NGX_ERROR;
    }

    ngx_memzero(&b, sizeof(ngx_live_record_mp4_build_t));
    b.log = w->log;
    b.label = w->label;
    b.path = path;
    b.fd = NGX_INVALID_FILE;
    b.sfd = NGX_INVALID_FILE;
    b.sc = &w->sc;
    b.walk = &w->walk;

    rc = ngx_live_record_mp4_resume(&b, sidecar);
    if (rc != NGX_OK) {
        return rc;
    }

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        w->last[t] = w->walk.ix[t].last_dts;
    }

    w->fd = b.fd;
    w->sfd = b.sfd;
    w->opened = 1;

    w->allocated = ngx_live_record_mp4_allocate(w, 0,
                                           ngx_live_record_mp4_allocate_to(w));

    return NGX_OK;
}


/* the sidecar's header: fixed fields, two track records, a checksum */

static size_t
ngx_live_record_mp4_header(ngx_live_record_mp4_sidecar_t *sc, u_char *buf)
{
    u_char                            *p;
    ngx_uint_t                         t;
    ngx_live_record_mp4_track_info_t  *ti;

    p = ngx_cpymem(buf, NGX_LIVE_RECORD_MP4_MAGIC, 8);
    p += 4;                                         /* the length, below */
    p = ngx_live_record_mp4_w32(p, NGX_LIVE_RECORD_MP4_VERSION);
    p = ngx_live_record_mp4_w64(p, sc->reserve);
    p = ngx_live_record_mp4_w64(p, sc->mdat);
    p = ngx_live_record_mp4_w64(p, sc->created);

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        ti = &sc->tracks[t];

        p = ngx_live_record_mp4_w32(p, (uint32_t) ti->codec);
        p = ngx_live_record_mp4_w32(p, ti->timescale);
        p = ngx_live_record_mp4_w32(p, ti->width);
        p = ngx_live_record_mp4_w32(p, ti->height);
        p = ngx_live_record_mp4_w32(p, ti->sample_rate);
        p = ngx_live_record_mp4_w32(p, ti->channels);
        p = ngx_live_record_mp4_w32(p, (uint32_t) ti->extradata_len);

        if (ti->extradata_len) {
            p = ngx_cpymem(p, ti->extradata, ti->extradata_len);
        }
    }

    (void) ngx_live_record_mp4_w32(buf + 8, (uint32_t) (p - buf + 4));
    p = ngx_live_record_mp4_w32(p, ngx_live_record_mp4_hash(buf, p - buf));

    return p - buf;
}


/*
 * The sidecar is read back after a crash, from a disk that may hold
 * anything: every field is checked against what a writer can have written.
 */

ngx_int_t
ngx_live_record_mp4_sidecar_parse(u_char *p, size_t len,
    ngx_live_record_mp4_sidecar_t *sc)
{
    u_char                            *q, *last;
    size_t                             hlen;
    ngx_uint_t                         t, present;
    ngx_live_record_mp4_track_info_t  *ti;

    ngx_memzero(sc, sizeof(ngx_live_record_mp4_sidecar_t));

    if (len < NGX_LIVE_RECORD_MP4_FIXED + 4
        || ngx_memcmp(p, NGX_LIVE_RECORD_MP4_MAGIC, 8) != 0)
    {
        return NGX_ERROR;
    }

    hlen = ngx_live_record_mp4_r32(p + 8);

    if (hlen < NGX_LIVE_RECORD_MP4_FIXED + 4
                  + NGX_LIVE_RECORD_NTRACKS * NGX_LIVE_RECORD_MP4_TRACK_REC
        || hlen > NGX_LIVE_RECORD_MP4_MAX_HEADER || hlen > len
        || ngx_live_record_mp4_r32(p + 12) != NGX_LIVE_RECORD_MP4_VERSION
        || ngx_live_record_mp4_r32(p + hlen - 4)
           != ngx_live_record_mp4_hash(p, hlen - 4))
    {
        return NGX_ERROR;
    }

    sc->header_len = hlen;
    sc->reserve = ngx_live_record_mp4_r64(p + 16);
    sc->mdat = ngx_live_record_mp4_r64(p + 24);
    sc->created = ngx_live_record_mp4_r64(p + 32);

    if ((sc->reserve > 0 && sc->reserve < 8)
        || sc->reserve > NGX_LIVE_RECORD_MP4_MAX_RESERVE
        || sc->mdat != NGX_LIVE_RECORD_MP4_FTYP_SIZE + sc->reserve
        || sc->created > 0xffffffff)
    {
        return NGX_ERROR;
    }

    q = p + NGX_LIVE_RECORD_MP4_FIXED;
    last = p + hlen - 4;
    present = 0;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        ti = &sc->tracks[t];

        if (last - q < NGX_LIVE_RECORD_MP4_TRACK_REC) {
            return NGX_ERROR;
        }

        ti->codec = ngx_live_record_mp4_r32(q);
        ti->timescale = ngx_live_record_mp4_r32(q + 4);
        ti->width = ngx_live_record_mp4_r32(q + 8);
        ti->height = ngx_live_record_mp4_r32(q + 12);
        ti->sample_rate = ngx_live_record_mp4_r32(q + 16);
        ti->channels = ngx_live_record_mp4_r32(q + 20);
        ti->extradata_len = ngx_live_record_mp4_r32(q + 24);
        q += NGX_LIVE_RECORD_MP4_TRACK_REC;

        if (ti->extradata_len > NGX_LIVE_RECORD_MP4_MAX_EXTRA
            || ti->extradata_len > (size_t) (last - q))
        {
            return NGX_ERROR;
        }

        ti->extradata = ti->extradata_len ? q : NULL;
        q += ti->extradata_len;

        switch (ti->codec) {

        case NGX_LIVE_RECORD_CODEC_NONE:
            if (ti->timescale || ti->width || ti->height || ti->sample_rate
                || ti->channels || ti->extradata_len)
            {
                return NGX_ERROR;
            }

            continue;

        case NGX_LIVE_RECORD_CODEC_H264:
        case NGX_LIVE_RECORD_CODEC_H265:
        case NGX_LIVE_RECORD_CODEC_AV1:
            if (t != NGX_LIVE_RECORD_VIDEO
                || ti->timescale != NGX_LIVE_RECORD_MP4_VIDEO_SCALE
                || ti->width == 0 || ti->width > 65535
                || ti->height == 0 || ti->height > 65535
                || ti->sample_rate || ti->channels
                || ngx_live_record_mp4_config_ok(ti->codec, ti->extradata,
                                                 ti->extradata_len)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

            break;

        case NGX_LIVE_RECORD_CODEC_AAC:
        case NGX_LIVE_RECORD_CODEC_MP3:
            if (t != NGX_LIVE_RECORD_AUDIO
                || ti->sample_rate == 0 || ti->sample_rate >= (1 << 24)
                || ti->timescale != ti->sample_rate
                || ti->channels == 0 || ti->channels > 8
                || ti->width || ti->height
                || (ti->codec == NGX_LIVE_RECORD_CODEC_AAC
                    && ti->extradata_len < 2))
            {
                return NGX_ERROR;
            }

            break;

        default:
            return NGX_ERROR;
        }

        present++;
    }

    if (q != last || present == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * An entry: size (4), dts in track ticks modulo 2^32 (4), composition
 * offset (4), track and sync flag (1), the entry's number modulo 2^24 (3):
 * a zeroed or misplaced block of the file never passes for an entry.
 */

ngx_int_t
ngx_live_record_mp4_entry_parse(u_char *p, uint64_t index,
    ngx_live_record_mp4_sidecar_t *sc, ngx_live_record_mp4_entry_t *e)
{
    if (p[13] != (u_char) (index >> 16) || p[14] != (u_char) (index >> 8)
        || p[15] != (u_char) index || (p[12] & 0x7e))
    {
        return NGX_ERROR;
    }

    e->size = ngx_live_record_mp4_r32(p);
    e->dts = ngx_live_record_mp4_r32(p + 4);
    e->cto = (int32_t) ngx_live_record_mp4_r32(p + 8);
    e->track = p[12] & 0x01;
    e->sync = (p[12] & 0x80) ? 1 : 0;

    if (sc->tracks[e->track].codec == NGX_LIVE_RECORD_CODEC_NONE
        || e->size == 0 || e->size > NGX_LIVE_RECORD_MP4_MAX_SAMPLE
        || e->cto < 0 || e->cto > NGX_LIVE_RECORD_MP4_MAX_CTO
        || (e->track == NGX_LIVE_RECORD_AUDIO && (e->cto || !e->sync)))
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* FNV-1a */

static uint32_t
ngx_live_record_mp4_hash(u_char *p, size_t len)
{
    size_t    i;
    uint32_t  h;

    h = 2166136261u;

    for (i = 0; i < len; i++) {
        h = (h ^ p[i]) * 16777619u;
    }

    return h;
}
