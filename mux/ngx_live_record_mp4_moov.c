
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * The index of a write-once MP4 (ngx_live_record_mp4.c): the per-track
 * counters kept while recording, and the moov built from them at close or
 * recovery.  The boxes are laid out twice by the same code: once measuring
 * every box, once writing the skeleton with each box's measured size and
 * leaving the room of each table, which one pass over the sidecar fills.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_mp4.h"
#include "ngx_live_record_mp4_moov.h"


typedef struct {
    uint64_t                    duration;     /* media, track ticks */
    uint32_t                    empty;        /* ms before the track */
    uint32_t                    segment;      /* ms of the track */
    uint32_t                    media_time;   /* ticks */
    uint32_t                    total;        /* ms, empty + segment */
    ngx_uint_t                  edit;
} ngx_live_record_mp4_times_t;


static void ngx_live_record_mp4_times(ngx_live_record_mp4_build_t *b,
    ngx_uint_t t, ngx_live_record_mp4_times_t *tm);
static void ngx_live_record_mp4_trak(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b, ngx_uint_t t);
static void ngx_live_record_mp4_stbl(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b, ngx_uint_t t);
static void ngx_live_record_mp4_visual(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_track_info_t *ti);
static void ngx_live_record_mp4_mp4a(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b, ngx_uint_t t);
static void ngx_live_record_mp4_matrix(ngx_live_record_mp4_emit_t *em);
static void ngx_live_record_mp4_table(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_out_t *out, const char *type, uint64_t count,
    size_t entry, ngx_uint_t sample_size);
static void ngx_live_record_mp4_box(ngx_live_record_mp4_emit_t *em,
    const char *type);
static void ngx_live_record_mp4_full(ngx_live_record_mp4_emit_t *em,
    const char *type, ngx_uint_t version, uint32_t flags);
static void ngx_live_record_mp4_end(ngx_live_record_mp4_emit_t *em);
static void ngx_live_record_mp4_desc(ngx_live_record_mp4_emit_t *em,
    ngx_uint_t tag, uint32_t len);
static void ngx_live_record_mp4_u8(ngx_live_record_mp4_emit_t *em,
    uint32_t v);
static void ngx_live_record_mp4_u16(ngx_live_record_mp4_emit_t *em,
    uint32_t v);
static void ngx_live_record_mp4_u24(ngx_live_record_mp4_emit_t *em,
    uint32_t v);
static void ngx_live_record_mp4_u32(ngx_live_record_mp4_emit_t *em,
    uint32_t v);
static void ngx_live_record_mp4_u64(ngx_live_record_mp4_emit_t *em,
    uint64_t v);
static void ngx_live_record_mp4_bytes(ngx_live_record_mp4_emit_t *em,
    u_char *p, size_t n);
static void ngx_live_record_mp4_zero(ngx_live_record_mp4_emit_t *em,
    size_t n);
static ngx_int_t ngx_live_record_mp4_moov(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b);
static void ngx_live_record_mp4_stage(ngx_live_record_mp4_emit_t *em);
static void ngx_live_record_mp4_duration(ngx_live_record_mp4_index_t *ix,
    uint32_t d, ngx_live_record_mp4_out_t *out);
static void ngx_live_record_mp4_chunk_end(ngx_live_record_mp4_index_t *ix,
    ngx_live_record_mp4_out_t *out);
static void ngx_live_record_mp4_put(ngx_live_record_mp4_out_t *out,
    uint32_t a, uint32_t b, uint32_t c, ngx_uint_t n);
static void ngx_live_record_mp4_put64(ngx_live_record_mp4_out_t *out,
    uint64_t v);
static void ngx_live_record_mp4_out_flush(ngx_live_record_mp4_out_t *out);
static ngx_int_t ngx_live_record_mp4_check(ngx_live_record_mp4_build_t *b,
    ngx_live_record_mp4_walk_t *walk);


static const u_char  ngx_live_record_mp4_zeros[32];


/*
 * The moov: laid out once to learn its size and so where it goes, then
 * once more writing the skeleton and leaving each table's place; then the
 * sidecar is read once and every table is written where it belongs.
 */

ngx_int_t
ngx_live_record_mp4_build(ngx_live_record_mp4_build_t *b, uint64_t entries)
{
    u_char                        *p, *tables, hdr[8];
    size_t                         n, want;
    off_t                          offset, moov, left;
    uint64_t                       i, data_end;
    ngx_uint_t                     t, k;
    ngx_live_record_mp4_walk_t     walk;
    ngx_live_record_mp4_emit_t     em;
    ngx_live_record_mp4_index_t   *ix;
    ngx_live_record_mp4_entry_t    e;

    data_end = b->walk->offset;

    b->ntracks = 0;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        b->ids[t] = b->walk->ix[t].samples ? ++b->ntracks : 0;
    }

    if (b->ntracks == 0) {
        ngx_log_error(NGX_LOG_ERR, b->log, 0,
                      "live record: \"%V\": \"%s\" has no sample",
                      b->label, b->path);
        return NGX_DECLINED;
    }

    /* each table keeps a buffer of its own when it is written at all */

    tables = b->scratch + NGX_LIVE_RECORD_MP4_STAGE + NGX_LIVE_RECORD_MP4_READ;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        ix = &b->walk->ix[t];

        for (k = 0; k < NGX_LIVE_RECORD_MP4_NTABLES; k++) {
            b->out[t][k].fd = b->fd;
            b->out[t][k].len = 0;
            b->out[t][k].error = 0;
            b->out[t][k].buf = tables
                + (t * NGX_LIVE_RECORD_MP4_NTABLES + k)
                  * NGX_LIVE_RECORD_MP4_TABLE_BUF;
        }

        if (!ix->ctts_need) {
            b->out[t][NGX_LIVE_RECORD_MP4_CTTS].buf = NULL;
        }

        if (!ix->video || ix->syncs == ix->samples) {
            b->out[t][NGX_LIVE_RECORD_MP4_STSS].buf = NULL;
        }

        b->out[t][NGX_LIVE_RECORD_MP4_STCO].wide =
                                             (ix->last_chunk > 0xffffffff);
    }

    ngx_memzero(&em, sizeof(ngx_live_record_mp4_emit_t));
    em.measure = 1;

    if (ngx_live_record_mp4_moov(&em, b) != NGX_OK) {
        return NGX_ERROR;
    }

    moov = em.pos;

    /* into the reserved region if what is left of it can be a box too */

    left = (off_t) b->sc->reserve - moov;

    if (left == 0 || left >= 8) {
        b->moov = NGX_LIVE_RECORD_MP4_FTYP_SIZE;

    } else {
        b->moov = data_end;
    }

    em.measure = 0;
    em.fd = b->fd;
    em.buf = b->scratch;
    em.len = 0;
    em.start = b->moov;
    em.pos = b->moov;
    em.depth = 0;
    em.nboxes = 0;

    if (ngx_live_record_mp4_moov(&em, b) != NGX_OK || em.error) {
        ngx_log_error(NGX_LOG_CRIT, b->log, em.err,
                      "live record: \"%V\": writing the moov of \"%s\" "
                      "failed", b->label, b->path);
        return NGX_ERROR;
    }

    /* the sidecar, once */

    ngx_live_record_mp4_walk_init(&walk, b->sc);
    walk.offset = b->sc->mdat + 16;

    p = b->scratch + NGX_LIVE_RECORD_MP4_STAGE;
    offset = b->sc->header_len;
    i = 0;

    while (i < entries) {
        want = ngx_min((uint64_t) NGX_LIVE_RECORD_MP4_READ,
                       (entries - i) * NGX_LIVE_RECORD_MP4_ENTRY);

        if (ngx_live_record_mp4_pread(b->sfd, p, want, offset, &n) != NGX_OK
            || n != want)
        {
            ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                          "live record: \"%V\": reading the mp4 sidecar "
                          "of \"%s\" failed", b->label, b->path);
            return NGX_ERROR;
        }

        for (k = 0; k < n; k += NGX_LIVE_RECORD_MP4_ENTRY) {
            if (ngx_live_record_mp4_entry_parse(p + k, i, b->sc, &e)
                != NGX_OK
                || ngx_live_record_mp4_walk_add(&walk, &e, b->out) != NGX_OK)
            {
                goto changed;
            }

            i++;
        }

        offset += n;
    }

    ngx_live_record_mp4_walk_finish(&walk, b->out);

    if (ngx_live_record_mp4_check(b, &walk) != NGX_OK) {
        goto changed;
    }

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        for (k = 0; k < NGX_LIVE_RECORD_MP4_NTABLES; k++) {
            ngx_live_record_mp4_out_flush(&b->out[t][k]);

            if (b->out[t][k].error) {
                ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                              "live record: \"%V\": pwrite(\"%s\") failed",
                              b->label, b->path);
                return NGX_ERROR;
            }
        }
    }

    /* the mdat's size, and the free box after a moov in front */

    (void) ngx_live_record_mp4_w64(hdr, data_end - b->sc->mdat);

    if (ngx_live_record_mp4_pwrite(b->fd, hdr, 8, b->sc->mdat + 8) != NGX_OK)
    {
        goto failed;
    }

    if (b->moov == NGX_LIVE_RECORD_MP4_FTYP_SIZE) {
        b->size = data_end;

        if (left) {
            p = ngx_live_record_mp4_w32(hdr, (uint32_t) left);
            ngx_memcpy(p, "free", 4);

            if (ngx_live_record_mp4_pwrite(b->fd, hdr, 8, b->moov + moov)
                != NGX_OK)
            {
                goto failed;
            }

#if (NGX_LINUX)
            /* what the moov did not take goes back to the disk */
            (void) fallocate(b->fd,
                             FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             b->moov + moov + 8, left - 8);
#endif
        }

    } else {
        b->size = data_end + moov;
    }

    return NGX_OK;

changed:

    ngx_log_error(NGX_LOG_CRIT, b->log, 0,
                  "live record: \"%V\": the mp4 sidecar of \"%s\" changed "
                  "while its moov was written", b->label, b->path);

    return NGX_ERROR;

failed:

    ngx_log_error(NGX_LOG_CRIT, b->log, ngx_errno,
                  "live record: \"%V\": pwrite(\"%s\") failed",
                  b->label, b->path);

    return NGX_ERROR;
}


/* the second reading must give the tables the first one measured */

static ngx_int_t
ngx_live_record_mp4_check(ngx_live_record_mp4_build_t *b,
    ngx_live_record_mp4_walk_t *walk)
{
    ngx_uint_t                    t;
    ngx_live_record_mp4_index_t  *a, *c;

    if (walk->offset != b->walk->offset) {
        return NGX_ERROR;
    }

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        a = &b->walk->ix[t];
        c = &walk->ix[t];

        if (a->samples != c->samples || a->stts_runs != c->stts_runs
            || a->ctts_runs != c->ctts_runs || a->syncs != c->syncs
            || a->chunks != c->chunks || a->stsc_runs != c->stsc_runs
            || a->duration != c->duration || a->last_chunk != c->last_chunk)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


void
ngx_live_record_mp4_walk_init(ngx_live_record_mp4_walk_t *walk,
    ngx_live_record_mp4_sidecar_t *sc)
{
    ngx_uint_t  t;

    ngx_memzero(walk, sizeof(ngx_live_record_mp4_walk_t));

    walk->last_track = NGX_LIVE_RECORD_NTRACKS;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        walk->ix[t].video = (t == NGX_LIVE_RECORD_VIDEO);
        walk->ix[t].default_dur = ngx_live_record_mp4_nominal(&sc->tracks[t]);
    }
}


/*
 * One sample into its track's counters, and into its tables when out is
 * given: the same code counts while recording and writes at close, so the
 * sizes laid out before are the sizes written.
 */

ngx_int_t
ngx_live_record_mp4_walk_add(ngx_live_record_mp4_walk_t *walk,
    ngx_live_record_mp4_entry_t *e,
    ngx_live_record_mp4_out_t (*out)[NGX_LIVE_RECORD_MP4_NTABLES])
{
    uint32_t                      delta;
    uint64_t                      dts;
    ngx_live_record_mp4_out_t    *o;
    ngx_live_record_mp4_index_t  *ix;

    ix = &walk->ix[e->track];
    o = out ? out[e->track] : NULL;

    if (ix->samples == NGX_LIVE_RECORD_MP4_MAX_SAMPLES
        || e->size == 0 || e->size > NGX_LIVE_RECORD_MP4_MAX_SAMPLE
        || e->cto < 0 || e->cto > NGX_LIVE_RECORD_MP4_MAX_CTO)
    {
        return NGX_DECLINED;
    }

    if (ix->samples == 0) {
        dts = e->dts;

    } else {
        delta = e->dts - (uint32_t) ix->last_dts;

        if (delta == 0 || delta > NGX_LIVE_RECORD_MP4_MAX_DELTA) {
            return NGX_DECLINED;
        }

        dts = ix->last_dts + delta;

        ngx_live_record_mp4_duration(ix, delta, o);
    }

    if (ix->ctts_runs == 0 || (uint32_t) e->cto != ix->ctts_val) {
        if (ix->ctts_runs && o) {
            ngx_live_record_mp4_put(&o[NGX_LIVE_RECORD_MP4_CTTS],
                                    ix->ctts_count, ix->ctts_val, 0, 2);
        }

        ix->ctts_runs++;
        ix->ctts_val = e->cto;
        ix->ctts_count = 1;

    } else {
        ix->ctts_count++;
    }

    if (e->cto) {
        ix->ctts_need = 1;
    }

    if (e->sync) {
        ix->syncs++;

        if (o) {
            ngx_live_record_mp4_put(&o[NGX_LIVE_RECORD_MP4_STSS],
                                    (uint32_t) ix->samples + 1, 0, 0, 1);
        }
    }

    if (o) {
        ngx_live_record_mp4_put(&o[NGX_LIVE_RECORD_MP4_STSZ], e->size, 0, 0,
                                1);
    }

    /* a run of one track's samples in the file is one chunk */

    if (walk->last_track != e->track || ix->samples == 0) {
        if (ix->samples) {
            ngx_live_record_mp4_chunk_end(ix, o);
        }

        ix->chunks++;
        ix->chunk_samples = 0;
        ix->last_chunk = walk->offset;

        if (o) {
            ngx_live_record_mp4_put64(&o[NGX_LIVE_RECORD_MP4_STCO],
                                      walk->offset);
        }
    }

    ix->chunk_samples++;

    if (ix->samples == 0) {
        ix->first_dts = dts;
        ix->first_cto = e->cto;
    }

    ix->samples++;
    ix->last_dts = dts;
    ix->bytes += e->size;
    ix->max_size = ngx_max(ix->max_size, e->size);

    walk->last_track = e->track;
    walk->offset += e->size;
    walk->entries++;

    return NGX_OK;
}


/* the last samples get their durations: video its previous one's */

void
ngx_live_record_mp4_walk_finish(ngx_live_record_mp4_walk_t *walk,
    ngx_live_record_mp4_out_t (*out)[NGX_LIVE_RECORD_MP4_NTABLES])
{
    uint32_t                      d;
    ngx_uint_t                    t;
    ngx_live_record_mp4_out_t    *o;
    ngx_live_record_mp4_index_t  *ix;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        ix = &walk->ix[t];
        o = out ? out[t] : NULL;

        if (ix->samples == 0 || ix->finished) {
            continue;
        }

        d = (ix->video && ix->samples > 1) ? ix->stts_dur : ix->default_dur;

        ngx_live_record_mp4_duration(ix, d, o);

        if (o) {
            ngx_live_record_mp4_put(&o[NGX_LIVE_RECORD_MP4_STTS],
                                    ix->stts_count, ix->stts_dur, 0, 2);
            ngx_live_record_mp4_put(&o[NGX_LIVE_RECORD_MP4_CTTS],
                                    ix->ctts_count, ix->ctts_val, 0, 2);
        }

        ngx_live_record_mp4_chunk_end(ix, o);

        ix->finished = 1;
    }
}


static void
ngx_live_record_mp4_duration(ngx_live_record_mp4_index_t *ix, uint32_t d,
    ngx_live_record_mp4_out_t *out)
{
    ix->duration += d;

    if (ix->stts_runs && d == ix->stts_dur) {
        ix->stts_count++;
        return;
    }

    if (ix->stts_runs && out) {
        ngx_live_record_mp4_put(&out[NGX_LIVE_RECORD_MP4_STTS],
                                ix->stts_count, ix->stts_dur, 0, 2);
    }

    ix->stts_runs++;
    ix->stts_dur = d;
    ix->stts_count = 1;
}


static void
ngx_live_record_mp4_chunk_end(ngx_live_record_mp4_index_t *ix,
    ngx_live_record_mp4_out_t *out)
{
    if (ix->stsc_runs && ix->chunk_samples == ix->stsc_prev) {
        return;
    }

    ix->stsc_runs++;
    ix->stsc_prev = ix->chunk_samples;

    if (out) {
        ngx_live_record_mp4_put(&out[NGX_LIVE_RECORD_MP4_STSC],
                                (uint32_t) ix->chunks, ix->chunk_samples, 1,
                                3);
    }
}


static void
ngx_live_record_mp4_put(ngx_live_record_mp4_out_t *out, uint32_t a,
    uint32_t b, uint32_t c, ngx_uint_t n)
{
    u_char  *p;

    if (out->buf == NULL) {
        return;
    }

    if (out->len + 12 > NGX_LIVE_RECORD_MP4_TABLE_BUF) {
        ngx_live_record_mp4_out_flush(out);
    }

    p = ngx_live_record_mp4_w32(out->buf + out->len, a);

    if (n > 1) {
        p = ngx_live_record_mp4_w32(p, b);
    }

    if (n > 2) {
        p = ngx_live_record_mp4_w32(p, c);
    }

    out->len = p - out->buf;
}


static void
ngx_live_record_mp4_put64(ngx_live_record_mp4_out_t *out, uint64_t v)
{
    if (out->wide) {
        ngx_live_record_mp4_put(out, (uint32_t) (v >> 32), (uint32_t) v, 0,
                                2);

    } else {
        ngx_live_record_mp4_put(out, (uint32_t) v, 0, 0, 1);
    }
}


static void
ngx_live_record_mp4_out_flush(ngx_live_record_mp4_out_t *out)
{
    if (out->buf == NULL || out->len == 0 || out->error) {
        return;
    }

    if (ngx_live_record_mp4_pwrite(out->fd, out->buf, out->len, out->offset)
        != NGX_OK)
    {
        out->error = 1;
        return;
    }

    out->offset += out->len;
    out->len = 0;
}


void
ngx_live_record_mp4_ftyp(u_char *p)
{
    p = ngx_live_record_mp4_w32(p, NGX_LIVE_RECORD_MP4_FTYP_SIZE);
    p = ngx_cpymem(p, "ftypisom", 8);
    p = ngx_live_record_mp4_w32(p, 0x200);
    (void) ngx_cpymem(p, "isomiso2avc1mp41", 16);
}


static ngx_int_t
ngx_live_record_mp4_moov(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b)
{
    uint32_t                      duration;
    ngx_uint_t                    t;
    ngx_live_record_mp4_times_t   tm;

    duration = 0;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        if (b->ids[t]) {
            ngx_live_record_mp4_times(b, t, &tm);
            duration = ngx_max(duration, tm.total);
        }
    }

    ngx_live_record_mp4_box(em, "moov");

    ngx_live_record_mp4_full(em, "mvhd", 0, 0);
    ngx_live_record_mp4_u32(em, (uint32_t) b->sc->created);
    ngx_live_record_mp4_u32(em, (uint32_t) b->sc->created);
    ngx_live_record_mp4_u32(em, NGX_LIVE_RECORD_MP4_MOVIE_SCALE);
    ngx_live_record_mp4_u32(em, duration);
    ngx_live_record_mp4_u32(em, 0x00010000);          /* rate 1.0 */
    ngx_live_record_mp4_u16(em, 0x0100);              /* volume 1.0 */
    ngx_live_record_mp4_zero(em, 10);
    ngx_live_record_mp4_matrix(em);
    ngx_live_record_mp4_zero(em, 24);
    ngx_live_record_mp4_u32(em, (uint32_t) b->ntracks + 1);
    ngx_live_record_mp4_end(em);

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        if (b->ids[t]) {
            ngx_live_record_mp4_trak(em, b, t);
        }
    }

    ngx_live_record_mp4_end(em);

    ngx_live_record_mp4_stage(em);

    return (em->error || em->depth) ? NGX_ERROR : NGX_OK;
}


/*
 * A track starts where its first sample is presented in the part (the
 * edit list's empty edit), and shows its media from the first sample's
 * composition time on: B-frames keep their sync with the audio.
 */

static void
ngx_live_record_mp4_times(ngx_live_record_mp4_build_t *b, ngx_uint_t t,
    ngx_live_record_mp4_times_t *tm)
{
    uint64_t                      scale, start;
    ngx_live_record_mp4_index_t  *ix;

    ix = &b->walk->ix[t];
    scale = b->sc->tracks[t].timescale;

    tm->duration = ix->duration;
    tm->media_time = ix->first_cto;

    start = ix->first_dts + ix->first_cto;

    tm->empty = (uint32_t) ((start * NGX_LIVE_RECORD_MP4_MOVIE_SCALE
                             + scale / 2) / scale);
    tm->segment = (uint32_t) ((ix->duration * NGX_LIVE_RECORD_MP4_MOVIE_SCALE
                               + scale / 2) / scale);
    tm->total = tm->empty + tm->segment;
    tm->edit = (tm->empty || tm->media_time);
}


static void
ngx_live_record_mp4_trak(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b, ngx_uint_t t)
{
    ngx_uint_t                         video, v1;
    ngx_live_record_mp4_times_t        tm;
    ngx_live_record_mp4_track_info_t  *ti;

    ti = &b->sc->tracks[t];
    video = (t == NGX_LIVE_RECORD_VIDEO);

    ngx_live_record_mp4_times(b, t, &tm);

    ngx_live_record_mp4_box(em, "trak");

    /* enabled, in the movie */
    ngx_live_record_mp4_full(em, "tkhd", 0, 3);
    ngx_live_record_mp4_u32(em, (uint32_t) b->sc->created);
    ngx_live_record_mp4_u32(em, (uint32_t) b->sc->created);
    ngx_live_record_mp4_u32(em, (uint32_t) b->ids[t]);
    ngx_live_record_mp4_u32(em, 0);
    ngx_live_record_mp4_u32(em, tm.total);
    ngx_live_record_mp4_zero(em, 8);
    ngx_live_record_mp4_u16(em, 0);                   /* layer */
    ngx_live_record_mp4_u16(em, 0);                   /* alternate group */
    ngx_live_record_mp4_u16(em, video ? 0 : 0x0100);  /* volume */
    ngx_live_record_mp4_u16(em, 0);
    ngx_live_record_mp4_matrix(em);
    ngx_live_record_mp4_u32(em, video ? ti->width << 16 : 0);
    ngx_live_record_mp4_u32(em, video ? ti->height << 16 : 0);
    ngx_live_record_mp4_end(em);

    if (tm.edit) {
        ngx_live_record_mp4_box(em, "edts");
        ngx_live_record_mp4_full(em, "elst", 0, 0);
        ngx_live_record_mp4_u32(em, tm.empty ? 2 : 1);

        if (tm.empty) {
            ngx_live_record_mp4_u32(em, tm.empty);
            ngx_live_record_mp4_u32(em, 0xffffffff);  /* empty edit */
            ngx_live_record_mp4_u32(em, 0x00010000);
        }

        ngx_live_record_mp4_u32(em, tm.segment);
        ngx_live_record_mp4_u32(em, tm.media_time);
        ngx_live_record_mp4_u32(em, 0x00010000);
        ngx_live_record_mp4_end(em);
        ngx_live_record_mp4_end(em);
    }

    ngx_live_record_mp4_box(em, "mdia");

    v1 = (tm.duration > 0xffffffff);

    ngx_live_record_mp4_full(em, "mdhd", v1, 0);

    if (v1) {
        ngx_live_record_mp4_u64(em, b->sc->created);
        ngx_live_record_mp4_u64(em, b->sc->created);
        ngx_live_record_mp4_u32(em, ti->timescale);
        ngx_live_record_mp4_u64(em, tm.duration);

    } else {
        ngx_live_record_mp4_u32(em, (uint32_t) b->sc->created);
        ngx_live_record_mp4_u32(em, (uint32_t) b->sc->created);
        ngx_live_record_mp4_u32(em, ti->timescale);
        ngx_live_record_mp4_u32(em, (uint32_t) tm.duration);
    }

    ngx_live_record_mp4_u16(em, 0x55c4);              /* "und" */
    ngx_live_record_mp4_u16(em, 0);
    ngx_live_record_mp4_end(em);

    ngx_live_record_mp4_full(em, "hdlr", 0, 0);
    ngx_live_record_mp4_u32(em, 0);
    ngx_live_record_mp4_bytes(em, (u_char *) (video ? "vide" : "soun"), 4);
    ngx_live_record_mp4_zero(em, 12);
    ngx_live_record_mp4_bytes(em, (u_char *) (video ? "VideoHandler"
                                                     : "SoundHandler"), 13);
    ngx_live_record_mp4_end(em);

    ngx_live_record_mp4_box(em, "minf");

    if (video) {
        ngx_live_record_mp4_full(em, "vmhd", 0, 1);
        ngx_live_record_mp4_zero(em, 8);
        ngx_live_record_mp4_end(em);

    } else {
        ngx_live_record_mp4_full(em, "smhd", 0, 0);
        ngx_live_record_mp4_zero(em, 4);
        ngx_live_record_mp4_end(em);
    }

    ngx_live_record_mp4_box(em, "dinf");
    ngx_live_record_mp4_full(em, "dref", 0, 0);
    ngx_live_record_mp4_u32(em, 1);
    ngx_live_record_mp4_full(em, "url ", 0, 1);       /* in this file */
    ngx_live_record_mp4_end(em);
    ngx_live_record_mp4_end(em);
    ngx_live_record_mp4_end(em);

    ngx_live_record_mp4_stbl(em, b, t);

    ngx_live_record_mp4_end(em);                      /* minf */
    ngx_live_record_mp4_end(em);                      /* mdia */
    ngx_live_record_mp4_end(em);                      /* trak */
}


static void
ngx_live_record_mp4_stbl(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b, ngx_uint_t t)
{
    ngx_live_record_mp4_out_t    *out;
    ngx_live_record_mp4_index_t  *ix;

    ix = &b->walk->ix[t];
    out = b->out[t];

    ngx_live_record_mp4_box(em, "stbl");

    ngx_live_record_mp4_full(em, "stsd", 0, 0);
    ngx_live_record_mp4_u32(em, 1);

    if (t == NGX_LIVE_RECORD_VIDEO) {
        ngx_live_record_mp4_visual(em, &b->sc->tracks[t]);

    } else {
        ngx_live_record_mp4_mp4a(em, b, t);
    }

    ngx_live_record_mp4_end(em);

    ngx_live_record_mp4_table(em, &out[NGX_LIVE_RECORD_MP4_STTS], "stts",
                              ix->stts_runs, 8, 0);

    if (out[NGX_LIVE_RECORD_MP4_CTTS].buf) {
        ngx_live_record_mp4_table(em, &out[NGX_LIVE_RECORD_MP4_CTTS], "ctts",
                                  ix->ctts_runs, 8, 0);
    }

    if (out[NGX_LIVE_RECORD_MP4_STSS].buf) {
        ngx_live_record_mp4_table(em, &out[NGX_LIVE_RECORD_MP4_STSS], "stss",
                                  ix->syncs, 4, 0);
    }

    ngx_live_record_mp4_table(em, &out[NGX_LIVE_RECORD_MP4_STSZ], "stsz",
                              ix->samples, 4, 1);
    ngx_live_record_mp4_table(em, &out[NGX_LIVE_RECORD_MP4_STSC], "stsc",
                              ix->stsc_runs, 12, 0);

    if (out[NGX_LIVE_RECORD_MP4_STCO].wide) {
        ngx_live_record_mp4_table(em, &out[NGX_LIVE_RECORD_MP4_STCO], "co64",
                                  ix->chunks, 8, 0);

    } else {
        ngx_live_record_mp4_table(em, &out[NGX_LIVE_RECORD_MP4_STCO], "stco",
                                  ix->chunks, 4, 0);
    }

    ngx_live_record_mp4_end(em);
}


/* avc1/avcC, hvc1/hvcC (ISO 14496-15), av01/av1C (AV1-ISOBMFF) */

static void
ngx_live_record_mp4_visual(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_track_info_t *ti)
{
    const char  *entry, *config;

    switch (ti->codec) {
    case NGX_LIVE_RECORD_CODEC_H265:
        entry = "hvc1";
        config = "hvcC";
        break;
    case NGX_LIVE_RECORD_CODEC_AV1:
        entry = "av01";
        config = "av1C";
        break;
    default:
        entry = "avc1";
        config = "avcC";
    }

    ngx_live_record_mp4_box(em, entry);
    ngx_live_record_mp4_zero(em, 6);
    ngx_live_record_mp4_u16(em, 1);                   /* data reference */
    ngx_live_record_mp4_zero(em, 16);
    ngx_live_record_mp4_u16(em, ti->width);
    ngx_live_record_mp4_u16(em, ti->height);
    ngx_live_record_mp4_u32(em, 0x00480000);          /* 72 dpi */
    ngx_live_record_mp4_u32(em, 0x00480000);
    ngx_live_record_mp4_u32(em, 0);
    ngx_live_record_mp4_u16(em, 1);                   /* frame count */
    ngx_live_record_mp4_zero(em, 32);                 /* compressor name */
    ngx_live_record_mp4_u16(em, 0x0018);              /* depth */
    ngx_live_record_mp4_u16(em, 0xffff);

    ngx_live_record_mp4_box(em, config);
    ngx_live_record_mp4_bytes(em, ti->extradata, ti->extradata_len);
    ngx_live_record_mp4_end(em);

    ngx_live_record_mp4_end(em);
}


/* AAC and MP3 alike: mp4a with an ES descriptor (ISO 14496-1) */

static void
ngx_live_record_mp4_mp4a(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_build_t *b, ngx_uint_t t)
{
    uint32_t                           dcd, es, bitrate;
    uint64_t                           rate;
    ngx_uint_t                         oti;
    ngx_live_record_mp4_index_t       *ix;
    ngx_live_record_mp4_track_info_t  *ti;

    ti = &b->sc->tracks[t];
    ix = &b->walk->ix[t];

    if (ti->codec == NGX_LIVE_RECORD_CODEC_AAC) {
        oti = 0x40;
        dcd = 13 + 5 + (uint32_t) ti->extradata_len;

    } else {
        /* MPEG-1 audio; MPEG-2 audio (the half rates) */
        oti = (ti->sample_rate >= 32000) ? 0x6b : 0x69;
        dcd = 13;
    }

    es = 3 + 5 + dcd + 5 + 1;

    rate = ix->duration ? ix->bytes * 8 * ti->timescale / ix->duration : 0;
    bitrate = (uint32_t) ngx_min(rate, 0xffffffff);

    ngx_live_record_mp4_box(em, "mp4a");
    ngx_live_record_mp4_zero(em, 6);
    ngx_live_record_mp4_u16(em, 1);                   /* data reference */
    ngx_live_record_mp4_zero(em, 8);
    ngx_live_record_mp4_u16(em, ti->channels);
    ngx_live_record_mp4_u16(em, 16);                  /* sample size */
    ngx_live_record_mp4_zero(em, 4);
    ngx_live_record_mp4_u32(em, ti->sample_rate <= 0xffff
                                ? ti->sample_rate << 16 : 0);

    ngx_live_record_mp4_full(em, "esds", 0, 0);

    ngx_live_record_mp4_desc(em, 0x03, es);           /* ES_Descriptor */
    ngx_live_record_mp4_u16(em, (uint32_t) b->ids[t]);
    ngx_live_record_mp4_u8(em, 0);

    ngx_live_record_mp4_desc(em, 0x04, dcd);          /* DecoderConfig */
    ngx_live_record_mp4_u8(em, oti);
    ngx_live_record_mp4_u8(em, 0x15);                 /* audio stream */
    ngx_live_record_mp4_u24(em, ngx_min(ix->max_size, 0xffffff));
    ngx_live_record_mp4_u32(em, bitrate);
    ngx_live_record_mp4_u32(em, bitrate);

    if (ti->codec == NGX_LIVE_RECORD_CODEC_AAC) {
        ngx_live_record_mp4_desc(em, 0x05, (uint32_t) ti->extradata_len);
        ngx_live_record_mp4_bytes(em, ti->extradata, ti->extradata_len);
    }

    ngx_live_record_mp4_desc(em, 0x06, 1);            /* SLConfig */
    ngx_live_record_mp4_u8(em, 0x02);

    ngx_live_record_mp4_end(em);                      /* esds */
    ngx_live_record_mp4_end(em);                      /* mp4a */
}


static void
ngx_live_record_mp4_matrix(ngx_live_record_mp4_emit_t *em)
{
    ngx_live_record_mp4_u32(em, 0x00010000);
    ngx_live_record_mp4_zero(em, 12);
    ngx_live_record_mp4_u32(em, 0x00010000);
    ngx_live_record_mp4_zero(em, 12);
    ngx_live_record_mp4_u32(em, 0x40000000);
}


/* a table box: its header here, its entries later from the sidecar */

static void
ngx_live_record_mp4_table(ngx_live_record_mp4_emit_t *em,
    ngx_live_record_mp4_out_t *out, const char *type, uint64_t count,
    size_t entry, ngx_uint_t sample_size)
{
    ngx_live_record_mp4_full(em, type, 0, 0);

    if (sample_size) {
        ngx_live_record_mp4_u32(em, 0);               /* sizes vary */
    }

    ngx_live_record_mp4_u32(em, (uint32_t) count);

    if (!em->measure) {
        ngx_live_record_mp4_stage(em);
        out->offset = em->pos;
    }

    em->pos += count * entry;
    em->start = em->pos;

    ngx_live_record_mp4_end(em);
}


/* a box's size: measured at its end, written at its start the next time */

static void
ngx_live_record_mp4_box(ngx_live_record_mp4_emit_t *em, const char *type)
{
    if (em->depth == NGX_LIVE_RECORD_MP4_MAX_DEPTH
        || em->nboxes == NGX_LIVE_RECORD_MP4_MAX_BOXES)
    {
        em->error = 1;
        return;
    }

    em->stack[em->depth] = em->pos;
    em->index[em->depth] = em->nboxes;
    em->depth++;

    ngx_live_record_mp4_u32(em, em->measure ? 0 : em->sizes[em->nboxes]);
    ngx_live_record_mp4_bytes(em, (u_char *) type, 4);

    em->nboxes++;
}


static void
ngx_live_record_mp4_full(ngx_live_record_mp4_emit_t *em, const char *type,
    ngx_uint_t version, uint32_t flags)
{
    ngx_live_record_mp4_box(em, type);
    ngx_live_record_mp4_u8(em, (uint32_t) version);
    ngx_live_record_mp4_u24(em, flags);
}


static void
ngx_live_record_mp4_end(ngx_live_record_mp4_emit_t *em)
{
    off_t  size;

    if (em->depth == 0) {
        em->error = 1;
        return;
    }

    em->depth--;

    size = em->pos - em->stack[em->depth];

    if (size > 0xffffffff) {
        em->error = 1;
        return;
    }

    if (em->measure) {
        em->sizes[em->index[em->depth]] = (uint32_t) size;

    } else if (em->sizes[em->index[em->depth]] != (uint32_t) size) {
        em->error = 1;
    }
}


/* a descriptor's length in four bytes, 7 bits each */

static void
ngx_live_record_mp4_desc(ngx_live_record_mp4_emit_t *em, ngx_uint_t tag,
    uint32_t len)
{
    ngx_live_record_mp4_u8(em, (uint32_t) tag);
    ngx_live_record_mp4_u8(em, 0x80 | ((len >> 21) & 0x7f));
    ngx_live_record_mp4_u8(em, 0x80 | ((len >> 14) & 0x7f));
    ngx_live_record_mp4_u8(em, 0x80 | ((len >> 7) & 0x7f));
    ngx_live_record_mp4_u8(em, len & 0x7f);
}


static void
ngx_live_record_mp4_u8(ngx_live_record_mp4_emit_t *em, uint32_t v)
{
    u_char  c;

    c = (u_char) v;
    ngx_live_record_mp4_bytes(em, &c, 1);
}


static void
ngx_live_record_mp4_u16(ngx_live_record_mp4_emit_t *em, uint32_t v)
{
    u_char  b[2];

    b[0] = (u_char) (v >> 8);
    b[1] = (u_char) v;
    ngx_live_record_mp4_bytes(em, b, 2);
}


static void
ngx_live_record_mp4_u24(ngx_live_record_mp4_emit_t *em, uint32_t v)
{
    u_char  b[3];

    b[0] = (u_char) (v >> 16);
    b[1] = (u_char) (v >> 8);
    b[2] = (u_char) v;
    ngx_live_record_mp4_bytes(em, b, 3);
}


static void
ngx_live_record_mp4_u32(ngx_live_record_mp4_emit_t *em, uint32_t v)
{
    u_char  b[4];

    (void) ngx_live_record_mp4_w32(b, v);
    ngx_live_record_mp4_bytes(em, b, 4);
}


static void
ngx_live_record_mp4_u64(ngx_live_record_mp4_emit_t *em, uint64_t v)
{
    u_char  b[8];

    (void) ngx_live_record_mp4_w64(b, v);
    ngx_live_record_mp4_bytes(em, b, 8);
}


static void
ngx_live_record_mp4_zero(ngx_live_record_mp4_emit_t *em, size_t n)
{
    ngx_live_record_mp4_bytes(em, (u_char *) ngx_live_record_mp4_zeros, n);
}


static void
ngx_live_record_mp4_bytes(ngx_live_record_mp4_emit_t *em, u_char *p,
    size_t n)
{
    size_t  k;

    em->pos += n;

    if (em->measure) {
        return;
    }

    while (n) {
        if (em->len == NGX_LIVE_RECORD_MP4_STAGE) {
            ngx_live_record_mp4_stage(em);
        }

        k = ngx_min(n, NGX_LIVE_RECORD_MP4_STAGE - em->len);
        ngx_memcpy(em->buf + em->len, p, k);
        em->len += k;
        p += k;
        n -= k;
    }
}


static void
ngx_live_record_mp4_stage(ngx_live_record_mp4_emit_t *em)
{
    if (em->measure || em->len == 0) {
        return;
    }

    if (!em->error
        && ngx_live_record_mp4_pwrite(em->fd, em->buf, em->len, em->start)
           != NGX_OK)
    {
        em->err = ngx_errno;
        em->error = 1;
    }

    em->start += em->len;
    em->len = 0;
}


/* the whole of it, or an error; offset -1: at the file's position */

ngx_int_t
ngx_live_record_mp4_pwrite(ngx_fd_t fd, u_char *p, size_t len, off_t offset)
{
    ssize_t  n;

    while (len) {
        if (offset < 0) {
            n = write(fd, p, len);

        } else {
            n = pwrite(fd, p, len, offset);
        }

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            return NGX_ERROR;
        }

        if (n == 0) {
            ngx_set_errno(NGX_ENOSPC);
            return NGX_ERROR;
        }

        p += n;
        len -= n;

        if (offset >= 0) {
            offset += n;
        }
    }

    return NGX_OK;
}


/* up to len bytes; fewer only at the end of the file */

ngx_int_t
ngx_live_record_mp4_pread(ngx_fd_t fd, u_char *p, size_t len, off_t offset,
    size_t *got)
{
    ssize_t  n;

    *got = 0;

    while (len) {
        n = pread(fd, p, len, offset);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            return NGX_ERROR;
        }

        if (n == 0) {
            break;
        }

        p += n;
        len -= n;
        offset += n;
        *got += n;
    }

    return NGX_OK;
}


u_char *
ngx_live_record_mp4_w32(u_char *p, uint32_t v)
{
    *p++ = (u_char) (v >> 24);
    *p++ = (u_char) (v >> 16);
    *p++ = (u_char) (v >> 8);
    *p++ = (u_char) v;

    return p;
}


u_char *
ngx_live_record_mp4_w64(u_char *p, uint64_t v)
{
    p = ngx_live_record_mp4_w32(p, (uint32_t) (v >> 32));
    return ngx_live_record_mp4_w32(p, (uint32_t) v);
}


uint32_t
ngx_live_record_mp4_r32(u_char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


uint64_t
ngx_live_record_mp4_r64(u_char *p)
{
    return ((uint64_t) ngx_live_record_mp4_r32(p) << 32)
           | ngx_live_record_mp4_r32(p + 4);
}
