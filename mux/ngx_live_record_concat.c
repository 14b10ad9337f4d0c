
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_concat.h"
#include "ngx_live_record_codec.h"
#include "ngx_live_record_writer.h"

#include <libavformat/avformat.h>


/* packets read ahead of writing, to learn where a source starts */
#define NGX_LIVE_RECORD_CONCAT_AHEAD   512

/* progress is written every this many packets */
#define NGX_LIVE_RECORD_CONCAT_STEP    64


typedef struct {
    AVFormatContext            *fmt;
    int                         map[NGX_LIVE_RECORD_NTRACKS];
} ngx_live_record_concat_in_t;


/* one output track, its timestamps in its own time base */
typedef struct {
    AVStream                   *st;
    int64_t                     last_dts;
    int64_t                     last_delta;
    int64_t                     end;            /* max of pts + duration */
    int64_t                     first_pts;      /* of the current source */
    int64_t                     first_dts;
    int64_t                     offset;
    ngx_uint_t                  seen;           /* in the current source */
    ngx_uint_t                  any;            /* in any source */
} ngx_live_record_concat_track_t;


typedef struct {
    ngx_pool_t                 *pool;
    ngx_log_t                  *log;
    ngx_str_t                  *label;
    ngx_str_t                  *error;
    AVFormatContext            *out;
    AVPacket                   *ahead[NGX_LIVE_RECORD_CONCAT_AHEAD];
    ngx_uint_t                  nahead;
    ngx_live_record_concat_track_t  tracks[NGX_LIVE_RECORD_NTRACKS];
    ngx_atomic_t               *progress;
    off_t                       total;
    off_t                       done;
    int64_t                     start;          /* us, of the output */
    ngx_uint_t                  count[NGX_LIVE_RECORD_NTRACKS];
    ngx_uint_t                  packets;
    ngx_uint_t                  dropped;
} ngx_live_record_concat_t;


static ngx_int_t ngx_live_record_concat_open(ngx_pool_t *pool,
    ngx_live_record_concat_src_t *src, ngx_live_record_concat_in_t *in,
    ngx_str_t *error);
static void ngx_live_record_concat_close(ngx_live_record_concat_in_t *in);
static void ngx_live_record_concat_compare(ngx_pool_t *pool,
    ngx_array_t *mismatches, ngx_uint_t n, AVCodecParameters *a,
    AVCodecParameters *b, const char *kind);
static ngx_int_t ngx_live_record_concat_mismatch(ngx_pool_t *pool,
    ngx_array_t *mismatches, ngx_uint_t n, const char *fmt, ...);
static ngx_int_t ngx_live_record_concat_output(ngx_live_record_concat_t *c,
    ngx_live_record_concat_in_t *in, u_char *dst);
static ngx_int_t ngx_live_record_concat_source(ngx_live_record_concat_t *c,
    ngx_live_record_concat_src_t *src, ngx_uint_t k);
static ngx_int_t ngx_live_record_concat_read(ngx_live_record_concat_t *c,
    ngx_live_record_concat_in_t *in, AVPacket *pkt, ngx_uint_t *track);
static void ngx_live_record_concat_rebase(ngx_live_record_concat_t *c,
    ngx_uint_t k);
static ngx_int_t ngx_live_record_concat_write(ngx_live_record_concat_t *c,
    AVPacket *pkt, ngx_uint_t track);
static void ngx_live_record_concat_drop_ahead(ngx_live_record_concat_t *c);
static void ngx_live_record_concat_set_error(ngx_pool_t *pool,
    ngx_str_t *error, const char *fmt, ...);
static void ngx_live_record_concat_av_error(ngx_pool_t *pool,
    ngx_str_t *error, const char *call, u_char *path, int err);


static const char  *ngx_live_record_concat_kinds[] = { "video", "audio" };


/* runs in a thread */

ngx_int_t
ngx_live_record_concat_probe(ngx_pool_t *pool, ngx_log_t *log,
    ngx_live_record_concat_src_t *src, ngx_uint_t n, ngx_array_t *mismatches,
    ngx_str_t *error)
{
    ngx_int_t                     rc;
    ngx_uint_t                    i, t;
    AVCodecParameters            *a, *b;
    ngx_live_record_concat_in_t   first, in;

    if (n == 0) {
        ngx_live_record_concat_set_error(pool, error, "no sources");
        return NGX_ERROR;
    }

    if (ngx_live_record_concat_open(pool, &src[0], &first, error) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = NGX_OK;

    for (i = 1; i < n; i++) {
        if (ngx_live_record_concat_open(pool, &src[i], &in, error) != NGX_OK) {
            rc = NGX_ERROR;
            break;
        }

        for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
            if (first.map[t] < 0 && in.map[t] < 0) {
                continue;
            }

            if (first.map[t] < 0 || in.map[t] < 0) {
                if (ngx_live_record_concat_mismatch(pool, mismatches, i,
                        "%s track %s, the first source has %s",
                        ngx_live_record_concat_kinds[t],
                        in.map[t] < 0 ? "missing" : "present",
                        first.map[t] < 0 ? "none" : "one")
                    != NGX_OK)
                {
                    rc = NGX_ERROR;
                }

                continue;
            }

            a = first.fmt->streams[first.map[t]]->codecpar;
            b = in.fmt->streams[in.map[t]]->codecpar;

            ngx_live_record_concat_compare(pool, mismatches, i, a, b,
                                           ngx_live_record_concat_kinds[t]);
        }

        ngx_live_record_concat_close(&in);
    }

    ngx_live_record_concat_close(&first);

    if (rc == NGX_OK && mismatches->nelts) {
        ngx_log_debug1(NGX_LOG_DEBUG_CORE, log, 0,
                       "live record: concat probe: %ui mismatches",
                       mismatches->nelts);
        return NGX_DECLINED;
    }

    if (rc != NGX_OK && error->len == 0) {
        ngx_live_record_concat_set_error(pool, error, "out of memory");
    }

    return rc;
}


static ngx_int_t
ngx_live_record_concat_open(ngx_pool_t *pool,
    ngx_live_record_concat_src_t *src, ngx_live_record_concat_in_t *in,
    ngx_str_t *error)
{
    int               rc;
    u_char            text[NGX_MAX_ERROR_STR], *p;
    ngx_err_t         err;
    ngx_uint_t        t;
    unsigned int      i;
    AVStream         *st;
    ngx_file_info_t   fi;

    in->fmt = NULL;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        in->map[t] = -1;
    }

    if (ngx_file_info(src->path, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;
        p = ngx_strerror(err, text, sizeof(text) - 1);
        *p = '\0';

        ngx_live_record_concat_set_error(pool, error,
                                         "%V: \"%s\" cannot be read (%s)",
                                         &src->id, src->path, text);
        return NGX_ERROR;
    }

    src->size = ngx_file_size(&fi);

    rc = avformat_open_input(&in->fmt, (char *) src->path, NULL, NULL);
    if (rc < 0) {
        ngx_live_record_concat_av_error(pool, error, "avformat_open_input",
                                        src->path, rc);
        return NGX_ERROR;
    }

    rc = avformat_find_stream_info(in->fmt, NULL);
    if (rc < 0) {
        ngx_live_record_concat_av_error(pool, error,
                                        "avformat_find_stream_info",
                                        src->path, rc);
        ngx_live_record_concat_close(in);
        return NGX_ERROR;
    }

    for (i = 0; i < in->fmt->nb_streams; i++) {
        st = in->fmt->streams[i];

        switch (st->codecpar->codec_type) {

        case AVMEDIA_TYPE_VIDEO:
            t = NGX_LIVE_RECORD_VIDEO;
            break;

        case AVMEDIA_TYPE_AUDIO:
            t = NGX_LIVE_RECORD_AUDIO;
            break;

        default:
            continue;
        }

        if (in->map[t] < 0) {
            in->map[t] = (int) i;
        }
    }

    if (in->map[NGX_LIVE_RECORD_VIDEO] < 0
        && in->map[NGX_LIVE_RECORD_AUDIO] < 0)
    {
        ngx_live_record_concat_set_error(pool, error,
                                         "%V: \"%s\" has no audio or video",
                                         &src->id, src->path);
        ngx_live_record_concat_close(in);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_live_record_concat_close(ngx_live_record_concat_in_t *in)
{
    if (in->fmt) {
        avformat_close_input(&in->fmt);
    }
}


/* what the mp4 sample entry holds must be the same in every source */

static void
ngx_live_record_concat_compare(ngx_pool_t *pool, ngx_array_t *mismatches,
    ngx_uint_t n, AVCodecParameters *a, AVCodecParameters *b,
    const char *kind)
{
    if (a->codec_id != b->codec_id) {
        (void) ngx_live_record_concat_mismatch(pool, mismatches, n,
                   "%s codec %s, the first source has %s", kind,
                   avcodec_get_name(b->codec_id),
                   avcodec_get_name(a->codec_id));
        return;
    }

    if (a->codec_type == AVMEDIA_TYPE_VIDEO
        && (a->width != b->width || a->height != b->height))
    {
        (void) ngx_live_record_concat_mismatch(pool, mismatches, n,
                   "%s size %dx%d, the first source has %dx%d", kind,
                   b->width, b->height, a->width, a->height);
    }

    if (a->codec_type == AVMEDIA_TYPE_AUDIO) {
        if (a->sample_rate != b->sample_rate) {
            (void) ngx_live_record_concat_mismatch(pool, mismatches, n,
                       "%s sample rate %d, the first source has %d", kind,
                       b->sample_rate, a->sample_rate);
        }

        if (a->ch_layout.nb_channels != b->ch_layout.nb_channels) {
            (void) ngx_live_record_concat_mismatch(pool, mismatches, n,
                       "%s channels %d, the first source has %d", kind,
                       b->ch_layout.nb_channels, a->ch_layout.nb_channels);
        }
    }

    if (a->extradata_size != b->extradata_size
        || (a->extradata_size
            && ngx_memcmp(a->extradata, b->extradata, a->extradata_size)
               != 0))
    {
        (void) ngx_live_record_concat_mismatch(pool, mismatches, n,
                   "%s codec configuration (%s extradata) differs from the "
                   "first source's", kind, avcodec_get_name(b->codec_id));
    }
}


static ngx_int_t
ngx_live_record_concat_mismatch(ngx_pool_t *pool, ngx_array_t *mismatches,
    ngx_uint_t n, const char *fmt, ...)
{
    u_char                             *p, text[NGX_MAX_ERROR_STR];
    va_list                             args;
    ngx_live_record_concat_mismatch_t  *m;

    va_start(args, fmt);
    p = ngx_vslprintf(text, text + sizeof(text), fmt, args);
    va_end(args);

    m = ngx_array_push(mismatches);
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->src = n;
    m->what.len = p - text;
    m->what.data = ngx_pnalloc(pool, m->what.len);

    if (m->what.data == NULL) {
        mismatches->nelts--;
        return NGX_ERROR;
    }

    ngx_memcpy(m->what.data, text, m->what.len);

    return NGX_OK;
}


/* runs in a thread */

ngx_int_t
ngx_live_record_concat_run(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *label, ngx_live_record_concat_src_t *src, ngx_uint_t n,
    u_char *dst, ngx_atomic_t *progress, ngx_live_record_concat_stats_t *stats,
    ngx_str_t *error)
{
    int                           rc;
    int64_t                       end, e;
    ngx_int_t                     ret;
    ngx_uint_t                    i, t;
    ngx_file_info_t               fi;
    ngx_live_record_concat_t      c;
    ngx_live_record_concat_in_t   first;

    ngx_memzero(&c, sizeof(ngx_live_record_concat_t));

    c.pool = pool;
    c.log = log;
    c.label = label;
    c.error = error;
    c.progress = progress;

    for (i = 0; i < n; i++) {
        if (ngx_file_info(src[i].path, &fi) != NGX_FILE_ERROR) {
            c.total += ngx_file_size(&fi);
        }
    }

    /* the output's tracks are the first source's */

    if (ngx_live_record_concat_open(pool, &src[0], &first, error) != NGX_OK) {
        return NGX_ERROR;
    }

    ret = ngx_live_record_concat_output(&c, &first, dst);

    ngx_live_record_concat_close(&first);

    for (i = 0; ret == NGX_OK && i < n; i++) {
        ret = ngx_live_record_concat_source(&c, &src[i], i);
    }

    ngx_live_record_concat_drop_ahead(&c);

    if (ret == NGX_OK) {
        if (progress) {
            /* the index goes to the front: one more pass over the file */
            *progress = NGX_LIVE_RECORD_CONCAT_PROGRESS - 1;
        }

        rc = av_write_trailer(c.out);

        if (rc < 0) {
            ngx_live_record_concat_av_error(pool, error, "av_write_trailer",
                                            dst, rc);
            ret = NGX_ERROR;
        }
    }

    if (c.out && c.out->pb) {
        rc = avio_closep(&c.out->pb);

        if (rc < 0 && ret == NGX_OK) {
            ngx_live_record_concat_av_error(pool, error, "avio_close", dst,
                                            rc);
            ret = NGX_ERROR;
        }
    }

    if (ret == NGX_OK && stats) {
        end = c.start;

        for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
            stats->packets[t] = c.count[t];

            if (c.tracks[t].st == NULL || !c.tracks[t].any) {
                continue;
            }

            e = av_rescale_q(c.tracks[t].end, c.tracks[t].st->time_base,
                             AV_TIME_BASE_Q);
            end = ngx_max(end, e);
        }

        stats->duration = (end - c.start) / 1000;
    }

    avformat_free_context(c.out);

    if (ret != NGX_OK) {
        (void) ngx_delete_file(dst);
        return NGX_ERROR;
    }

    if (c.dropped) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "live record: \"%V\" concat \"%s\": %ui packets "
                      "without timestamps or going back were dropped",
                      label, dst, c.dropped);
    }

    if (progress) {
        *progress = NGX_LIVE_RECORD_CONCAT_PROGRESS;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_concat_output(ngx_live_record_concat_t *c,
    ngx_live_record_concat_in_t *in, u_char *dst)
{
    int                              rc;
    ngx_uint_t                       t;
    AVStream                        *ist, *ost;
    AVDictionary                    *opts;
    ngx_live_record_concat_track_t  *tr;

    rc = avformat_alloc_output_context2(&c->out, NULL, "mp4", (char *) dst);
    if (rc < 0) {
        ngx_live_record_concat_av_error(c->pool, c->error,
                                        "avformat_alloc_output_context2",
                                        dst, rc);
        return NGX_ERROR;
    }

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        tr = &c->tracks[t];
        tr->last_dts = AV_NOPTS_VALUE;
        tr->end = AV_NOPTS_VALUE;

        if (in->map[t] < 0) {
            continue;
        }

        ist = in->fmt->streams[in->map[t]];
        ost = avformat_new_stream(c->out, NULL);

        if (ost == NULL
            || avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0)
        {
            ngx_live_record_concat_set_error(c->pool, c->error,
                                             "out of memory");
            return NGX_ERROR;
        }

        /* hvc1 as the parts have it (libavformat's default is hev1) */
        ost->codecpar->codec_tag =
            (ost->codecpar->codec_id == AV_CODEC_ID_HEVC)
            ? MKTAG('h', 'v', 'c', '1') : 0;
        ost->time_base = ist->time_base;

        if (ost->codecpar->codec_id == AV_CODEC_ID_AAC
            && ost->codecpar->frame_size == 0)
        {
            ost->codecpar->frame_size = 1024;
        }

        tr->st = ost;
    }

    rc = ngx_live_record_avio_open(&c->out->pb, dst);
    if (rc < 0) {
        ngx_live_record_concat_av_error(c->pool, c->error, "avio_open", dst,
                                        rc);
        return NGX_ERROR;
    }

    opts = NULL;
    av_dict_set(&opts, "movflags", "+faststart", 0);

    rc = avformat_write_header(c->out, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        ngx_live_record_concat_av_error(c->pool, c->error,
                                        "avformat_write_header", dst, rc);
        return NGX_ERROR;
    }

    /* the muxer may have chosen other time bases: from now on, these */

    return NGX_OK;
}


/* one source: where it starts is learnt from its first packets */

static ngx_int_t
ngx_live_record_concat_source(ngx_live_record_concat_t *c,
    ngx_live_record_concat_src_t *src, ngx_uint_t k)
{
    AVPacket                        *pkt;
    ngx_int_t                        rc;
    ngx_uint_t                       t, i, missing;
    ngx_live_record_concat_in_t      in;
    ngx_live_record_concat_track_t  *tr;

    if (ngx_live_record_concat_open(c->pool, src, &in, c->error) != NGX_OK) {
        return NGX_ERROR;
    }

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        c->tracks[t].seen = 0;

        if ((in.map[t] < 0) != (c->tracks[t].st == NULL)) {
            ngx_live_record_concat_set_error(c->pool, c->error,
                                             "%V: its tracks differ from "
                                             "the first source's", &src->id);
            ngx_live_record_concat_close(&in);
            return NGX_ERROR;
        }
    }

    rc = NGX_OK;
    pkt = NULL;

    for ( ;; ) {
        missing = 0;

        for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
            if (c->tracks[t].st && !c->tracks[t].seen) {
                missing++;
            }
        }

        if (missing == 0 || c->nahead == NGX_LIVE_RECORD_CONCAT_AHEAD) {
            break;
        }

        pkt = av_packet_alloc();
        if (pkt == NULL) {
            ngx_live_record_concat_set_error(c->pool, c->error,
                                             "out of memory");
            rc = NGX_ERROR;
            goto done;
        }

        rc = ngx_live_record_concat_read(c, &in, pkt, &t);

        if (rc != NGX_OK) {
            av_packet_free(&pkt);
            break;
        }

        tr = &c->tracks[t];

        if (!tr->seen) {
            tr->seen = 1;
            tr->first_dts = pkt->dts;
            tr->first_pts = pkt->pts;

        } else {
            tr->first_pts = ngx_min(tr->first_pts, pkt->pts);
        }

        c->ahead[c->nahead++] = pkt;
        pkt = NULL;
    }

    if (rc == NGX_ERROR) {
        goto done;
    }

    ngx_live_record_concat_rebase(c, k);

    for (i = 0; i < c->nahead; i++) {
        pkt = c->ahead[i];

        if (rc == NGX_OK || rc == NGX_DONE) {
            rc = ngx_live_record_concat_write(c, pkt, pkt->stream_index);
        }

        av_packet_free(&c->ahead[i]);
    }

    c->nahead = 0;

    if (rc == NGX_ERROR) {
        goto done;
    }

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        ngx_live_record_concat_set_error(c->pool, c->error, "out of memory");
        rc = NGX_ERROR;
        goto done;
    }

    for ( ;; ) {
        rc = ngx_live_record_concat_read(c, &in, pkt, &t);

        if (rc != NGX_OK) {
            break;
        }

        rc = ngx_live_record_concat_write(c, pkt, t);

        if (rc != NGX_OK) {
            break;
        }
    }

    av_packet_free(&pkt);

done:

    ngx_live_record_concat_close(&in);

    c->done += src->size;

    return (rc == NGX_ERROR) ? NGX_ERROR : NGX_OK;
}


/* the next packet of a track, in the output track's time base */

static ngx_int_t
ngx_live_record_concat_read(ngx_live_record_concat_t *c,
    ngx_live_record_concat_in_t *in, AVPacket *pkt, ngx_uint_t *track)
{
    int         rc;
    int64_t     pos;
    ngx_uint_t  t;

    for ( ;; ) {
        rc = av_read_frame(in->fmt, pkt);

        if (rc == AVERROR_EOF) {
            return NGX_DONE;
        }

        if (rc < 0) {
            ngx_live_record_concat_av_error(c->pool, c->error,
                                            "av_read_frame",
                                            (u_char *) in->fmt->url, rc);
            return NGX_ERROR;
        }

        for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
            if (in->map[t] == pkt->stream_index) {
                break;
            }
        }

        if (t == NGX_LIVE_RECORD_NTRACKS
            || (pkt->flags & AV_PKT_FLAG_CORRUPT))
        {
            av_packet_unref(pkt);
            continue;
        }

        if (pkt->dts == AV_NOPTS_VALUE) {
            pkt->dts = pkt->pts;
        }

        if (pkt->pts == AV_NOPTS_VALUE) {
            pkt->pts = pkt->dts;
        }

        if (pkt->dts == AV_NOPTS_VALUE) {
            c->dropped++;
            av_packet_unref(pkt);
            continue;
        }

        av_packet_rescale_ts(pkt,
                             in->fmt->streams[pkt->stream_index]->time_base,
                             c->tracks[t].st->time_base);

        pkt->stream_index = (int) t;
        pkt->pos = -1;
        *track = t;

        if (c->progress && c->total
            && ++c->packets % NGX_LIVE_RECORD_CONCAT_STEP == 0)
        {
            pos = avio_tell(in->fmt->pb);

            if (pos > 0) {
                *c->progress = ngx_min(
                    (ngx_atomic_uint_t) ((c->done + pos)
                                         * NGX_LIVE_RECORD_CONCAT_PROGRESS
                                         / c->total),
                    NGX_LIVE_RECORD_CONCAT_PROGRESS - 1);
            }
        }

        return NGX_OK;
    }
}


/*
 * One offset for all tracks of a source, so that they stay in sync as
 * they were: its first picture is shown when the previous source's last
 * one ends (its first sample, without video), and later still if a
 * track's decoding times would go back.
 */

static void
ngx_live_record_concat_rebase(ngx_live_record_concat_t *c, ngx_uint_t k)
{
    int64_t                          off, end, first, need, v;
    ngx_uint_t                       t, anchor;
    ngx_live_record_concat_track_t  *tr;

    end = INT64_MIN;
    first = INT64_MAX;

    /* the track that runs on without a gap: video if both have it */

    anchor = NGX_LIVE_RECORD_NTRACKS;

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        tr = &c->tracks[t];

        if (tr->st && tr->seen && (k == 0 || tr->any)) {
            anchor = t;
            break;
        }
    }

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        tr = &c->tracks[t];

        if (tr->st == NULL) {
            continue;
        }

        if (tr->seen && (anchor == t || k == 0)) {
            v = av_rescale_q_rnd(tr->first_pts, tr->st->time_base,
                                 AV_TIME_BASE_Q,
                                 AV_ROUND_DOWN | AV_ROUND_PASS_MINMAX);
            first = ngx_min(first, v);
        }

        if (anchor == t && k && tr->end != AV_NOPTS_VALUE) {
            end = av_rescale_q_rnd(tr->end, tr->st->time_base,
                                   AV_TIME_BASE_Q,
                                   AV_ROUND_UP | AV_ROUND_PASS_MINMAX);
        }
    }

    if (k == 0) {
        /* the output starts where the first source does */
        c->start = (first == INT64_MAX) ? 0 : first;
        off = 0;

    } else {
        off = (end != INT64_MIN && first != INT64_MAX) ? end - first : 0;

        for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
            tr = &c->tracks[t];

            if (tr->st == NULL || !tr->seen || tr->last_dts == AV_NOPTS_VALUE)
            {
                continue;
            }

            need = av_rescale_q_rnd(tr->last_dts + 1 - tr->first_dts,
                                    tr->st->time_base, AV_TIME_BASE_Q,
                                    AV_ROUND_UP);
            off = ngx_max(off, need);
        }
    }

    for (t = 0; t < NGX_LIVE_RECORD_NTRACKS; t++) {
        tr = &c->tracks[t];

        if (tr->st) {
            tr->offset = av_rescale_q_rnd(off, AV_TIME_BASE_Q,
                                          tr->st->time_base, AV_ROUND_UP);
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_CORE, c->log, 0,
                   "live record: concat source %ui moved by %L us, "
                   "anchor track %ui", k, off, anchor);
}


static ngx_int_t
ngx_live_record_concat_write(ngx_live_record_concat_t *c, AVPacket *pkt,
    ngx_uint_t track)
{
    int                              rc;
    int64_t                          duration, e;
    ngx_live_record_concat_track_t  *tr;

    tr = &c->tracks[track];

    pkt->pts += tr->offset;
    pkt->dts += tr->offset;

    if (tr->last_dts != AV_NOPTS_VALUE && pkt->dts <= tr->last_dts) {
        c->dropped++;
        av_packet_unref(pkt);
        return NGX_OK;
    }

    if (tr->last_dts != AV_NOPTS_VALUE) {
        tr->last_delta = pkt->dts - tr->last_dts;
    }

    duration = (pkt->duration > 0) ? pkt->duration : tr->last_delta;
    e = pkt->pts + duration;

    if (tr->end == AV_NOPTS_VALUE || e > tr->end) {
        tr->end = e;
    }

    tr->last_dts = pkt->dts;
    tr->any = 1;
    c->count[track]++;

    pkt->stream_index = tr->st->index;

    rc = av_interleaved_write_frame(c->out, pkt);

    if (rc < 0) {
        ngx_live_record_concat_av_error(c->pool, c->error,
                                        "av_interleaved_write_frame",
                                        (u_char *) c->out->url, rc);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_live_record_concat_drop_ahead(ngx_live_record_concat_t *c)
{
    ngx_uint_t  i;

    for (i = 0; i < c->nahead; i++) {
        av_packet_free(&c->ahead[i]);
    }

    c->nahead = 0;
}


static void
ngx_live_record_concat_set_error(ngx_pool_t *pool, ngx_str_t *error,
    const char *fmt, ...)
{
    u_char   *p, text[NGX_MAX_ERROR_STR];
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(text, text + sizeof(text), fmt, args);
    va_end(args);

    error->data = ngx_pnalloc(pool, p - text);

    if (error->data == NULL) {
        ngx_str_set(error, "out of memory");
        return;
    }

    error->len = p - text;
    ngx_memcpy(error->data, text, error->len);
}


static void
ngx_live_record_concat_av_error(ngx_pool_t *pool, ngx_str_t *error,
    const char *call, u_char *path, int err)
{
    char  text[AV_ERROR_MAX_STRING_SIZE];

    av_strerror(err, text, sizeof(text));

    ngx_live_record_concat_set_error(pool, error, "%s(\"%s\") failed (%s)",
                                     call, path, text);
}
