
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_writer.h"

#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>


/* crash loss bound: a fragment or a flush at least this often (ms) */
#define NGX_LIVE_RECORD_FLUSH_MS      500


struct ngx_live_record_writer_s {
    AVFormatContext            *fmt;
    AVPacket                   *pkt;
    ngx_log_t                  *log;
    ngx_str_t                  *label;
    u_char                     *path;
    int                         index[NGX_LIVE_RECORD_NTRACKS];
    int64_t                     flushed;
    ngx_uint_t                  format;
    AVIOContext                *pb;         /* raw FLV */
    ngx_live_record_track_t     tracks[NGX_LIVE_RECORD_NTRACKS];
    unsigned                    raw:1;
    unsigned                    header:1;
    unsigned                    closed:1;
    unsigned                    failed:1;
};


static ngx_int_t ngx_live_record_writer_streams(ngx_live_record_writer_t *w,
    ngx_live_record_track_t *tracks);
static ngx_int_t ngx_live_record_stream_params(AVStream *st,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_writer_header(ngx_live_record_writer_t *w);
static ngx_int_t ngx_live_record_flv_open(ngx_live_record_writer_t *w,
    ngx_live_record_track_t *tracks);
static ngx_int_t ngx_live_record_flv_write(ngx_live_record_writer_t *w,
    ngx_live_record_frame_t *f);
static u_char *ngx_live_record_flv_fourcc(u_char *p, uint32_t fourcc);
static void ngx_live_record_flv_tag(AVIOContext *pb, ngx_uint_t type,
    int64_t ts, u_char *head, size_t head_len, u_char *data, size_t len);
static ngx_int_t ngx_live_record_writer_flush(ngx_live_record_writer_t *w,
    AVIOContext *pb, int64_t dts);
static void ngx_live_record_writer_cleanup(void *data);
static ngx_int_t ngx_live_record_ts_pass(u_char *path, off_t cut,
    void *out);
static void ngx_live_record_av_error(ngx_log_t *log, ngx_uint_t level,
    ngx_str_t *label, const char *call, u_char *path, int err);
static void ngx_live_record_av_log(void *avcl, int level, const char *fmt,
    va_list args);


static const char  *ngx_live_record_muxers[] = {
    "mp4", "flv", "adts", "mpegts"
};

static const char  *ngx_live_record_exts[] = { "mp4", "flv", "aac", "hls" };


/* libav's own messages go to the nginx error log, not to stderr */

void
ngx_live_record_writer_init(void)
{
    av_log_set_level(AV_LOG_WARNING);
    av_log_set_callback(ngx_live_record_av_log);
}


u_char *
ngx_live_record_avformat_version(u_char *p, u_char *last)
{
    unsigned  v;

    v = avformat_version();

    return ngx_slprintf(p, last, "%ud.%ud.%ud", AV_VERSION_MAJOR(v),
                        AV_VERSION_MINOR(v), AV_VERSION_MICRO(v));
}


static void
ngx_live_record_av_log(void *avcl, int level, const char *fmt, va_list args)
{
    int         prefix;
    char        line[1024];
    size_t      len;
    ngx_uint_t  nlevel;

    if (level > av_log_get_level()) {
        return;
    }

    prefix = 1;
    av_log_format_line2(avcl, level, fmt, args, line, sizeof(line), &prefix);

    len = ngx_strlen(line);

    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }

    nlevel = NGX_LOG_INFO;

    if (level <= AV_LOG_ERROR) {
        nlevel = NGX_LOG_ERR;
    }

    ngx_log_error(nlevel, ngx_cycle->log, 0, "live record: libav: %*s",
                  len, line);
}


const char *
ngx_live_record_format_ext(ngx_uint_t format)
{
    return ngx_live_record_exts[format];
}


ngx_uint_t
ngx_live_record_format_tracks(ngx_uint_t format,
    ngx_live_record_track_t *tracks)
{
    ngx_uint_t  mask, v, a;

    v = tracks[NGX_LIVE_RECORD_VIDEO].codec;
    a = tracks[NGX_LIVE_RECORD_AUDIO].codec;
    mask = 0;

    switch (format) {

    case NGX_LIVE_RECORD_AAC:
        if (a == NGX_LIVE_RECORD_CODEC_AAC) {
            mask |= 1 << NGX_LIVE_RECORD_AUDIO;
        }
        break;

    case NGX_LIVE_RECORD_HLS:
        /* no AV1 in MPEG-TS before libav 6 */
        if (v == NGX_LIVE_RECORD_CODEC_H264
            || v == NGX_LIVE_RECORD_CODEC_H265)
        {
            mask |= 1 << NGX_LIVE_RECORD_VIDEO;
        }

        if (a == NGX_LIVE_RECORD_CODEC_AAC || a == NGX_LIVE_RECORD_CODEC_MP3) {
            mask |= 1 << NGX_LIVE_RECORD_AUDIO;
        }

        break;

    default:
        if (v == NGX_LIVE_RECORD_CODEC_H264 || v == NGX_LIVE_RECORD_CODEC_H265
            || v == NGX_LIVE_RECORD_CODEC_AV1)
        {
            mask |= 1 << NGX_LIVE_RECORD_VIDEO;
        }

        if (a == NGX_LIVE_RECORD_CODEC_AAC || a == NGX_LIVE_RECORD_CODEC_MP3) {
            mask |= 1 << NGX_LIVE_RECORD_AUDIO;
        }
    }

    return mask;
}


ngx_live_record_writer_t *
ngx_live_record_writer_open(ngx_pool_t *pool, ngx_log_t *log, ngx_str_t *label,
    ngx_uint_t format, u_char *path, ngx_live_record_track_t *tracks)
{
    int                        rc;
    ngx_pool_cleanup_t        *cln;
    ngx_live_record_writer_t  *w;

    w = ngx_pcalloc(pool, sizeof(ngx_live_record_writer_t));
    if (w == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    w->log = log;
    w->label = label;
    w->path = path;
    w->format = format;
    w->flushed = 0;

    cln->handler = ngx_live_record_writer_cleanup;
    cln->data = w;

    /*
     * libav 5.1 writes neither FLV codec id 12 nor enhanced FLV: such
     * video is written here, the way it arrived.
     */

    if (format == NGX_LIVE_RECORD_FLV
        && (tracks[NGX_LIVE_RECORD_VIDEO].fourcc
            || tracks[NGX_LIVE_RECORD_VIDEO].codec
               == NGX_LIVE_RECORD_CODEC_H265))
    {
        return (ngx_live_record_flv_open(w, tracks) == NGX_OK) ? w : NULL;
    }

    rc = avformat_alloc_output_context2(&w->fmt, NULL,
                                        ngx_live_record_muxers[format],
                                        (char *) path);
    if (rc < 0) {
        ngx_live_record_av_error(log, NGX_LOG_CRIT, label,
                                 "avformat_alloc_output_context2", path, rc);
        return NULL;
    }

    w->pkt = av_packet_alloc();
    if (w->pkt == NULL) {
        return NULL;
    }

    if (ngx_live_record_writer_streams(w, tracks) != NGX_OK) {
        return NULL;
    }

    rc = ngx_live_record_avio_open(&w->fmt->pb, path);
    if (rc < 0) {
        ngx_live_record_av_error(log, NGX_LOG_CRIT, label, "avio_open", path,
                                 rc);
        return NULL;
    }

    if (ngx_live_record_writer_header(w) != NGX_OK) {
        return NULL;
    }

    return w;
}


static ngx_int_t
ngx_live_record_writer_streams(ngx_live_record_writer_t *w,
    ngx_live_record_track_t *tracks)
{
    ngx_uint_t   n, mask;
    AVStream    *st;

    mask = ngx_live_record_format_tracks(w->format, tracks);

    for (n = 0; n < NGX_LIVE_RECORD_NTRACKS; n++) {
        w->index[n] = -1;

        if (!(mask & (1 << n))) {
            continue;
        }

        st = avformat_new_stream(w->fmt, NULL);
        if (st == NULL) {
            return NGX_ERROR;
        }

        if (ngx_live_record_stream_params(st, &tracks[n]) != NGX_OK) {
            return NGX_ERROR;
        }

        w->index[n] = st->index;
    }

    return mask ? NGX_OK : NGX_ERROR;
}


static ngx_int_t
ngx_live_record_stream_params(AVStream *st, ngx_live_record_track_t *t)
{
    AVCodecParameters  *par;

    par = st->codecpar;
    st->time_base = (AVRational) { 1, 1000 };
    par->codec_tag = 0;

    switch (t->codec) {

    case NGX_LIVE_RECORD_CODEC_H264:
    case NGX_LIVE_RECORD_CODEC_H265:
    case NGX_LIVE_RECORD_CODEC_AV1:
        par->codec_type = AVMEDIA_TYPE_VIDEO;
        par->codec_id = (t->codec == NGX_LIVE_RECORD_CODEC_H264)
                        ? AV_CODEC_ID_H264
                        : (t->codec == NGX_LIVE_RECORD_CODEC_H265)
                        ? AV_CODEC_ID_HEVC : AV_CODEC_ID_AV1;
        par->width = t->width;
        par->height = t->height;
        break;

    default:
        par->codec_type = AVMEDIA_TYPE_AUDIO;
        par->codec_id = (t->codec == NGX_LIVE_RECORD_CODEC_AAC)
                        ? AV_CODEC_ID_AAC : AV_CODEC_ID_MP3;
        par->sample_rate = t->sample_rate;
        par->frame_size = (t->codec == NGX_LIVE_RECORD_CODEC_AAC)
                          ? 1024 : 1152;
        av_channel_layout_default(&par->ch_layout, t->channels);
    }

    if (t->extradata_len == 0) {
        return NGX_OK;
    }

    par->extradata = av_mallocz(t->extradata_len
                                + AV_INPUT_BUFFER_PADDING_SIZE);
    if (par->extradata == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(par->extradata, t->extradata, t->extradata_len);
    par->extradata_size = t->extradata_len;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_writer_header(ngx_live_record_writer_t *w)
{
    int            rc;
    AVDictionary  *opts;

    opts = NULL;

    /* FLV, ADTS and MPEG-TS are append-safe: libav's own buffering */
    w->fmt->flush_packets = 0;

    rc = avformat_write_header(w->fmt, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        ngx_live_record_av_error(w->log, NGX_LOG_CRIT, w->label,
                                 "avformat_write_header", w->path, rc);
        return NGX_ERROR;
    }

    w->header = 1;

    return NGX_OK;
}


ngx_int_t
ngx_live_record_writer_write(ngx_live_record_writer_t *w,
    ngx_live_record_frame_t *f)
{
    int        rc, index;
    AVPacket  *pkt;

    if (w->raw) {
        return ngx_live_record_flv_write(w, f);
    }

    index = w->index[f->track];

    if (index < 0 || w->failed) {
        return NGX_DECLINED;
    }

    pkt = w->pkt;
    pkt->data = f->data;
    pkt->size = (int) f->len;
    pkt->dts = f->dts;
    pkt->pts = f->pts;
    pkt->duration = f->duration;
    pkt->flags = f->key ? AV_PKT_FLAG_KEY : 0;
    pkt->stream_index = index;
    pkt->pos = -1;

    av_packet_rescale_ts(pkt, (AVRational) { 1, 1000 },
                         w->fmt->streams[index]->time_base);

    rc = av_write_frame(w->fmt, pkt);

    pkt->data = NULL;
    pkt->size = 0;

    if (rc < 0) {
        ngx_live_record_av_error(w->log, NGX_LOG_CRIT, w->label,
                                 "av_write_frame", w->path, rc);
        w->failed = 1;
        return NGX_ERROR;
    }

    return ngx_live_record_writer_flush(w, w->fmt->pb, f->dts);
}


static ngx_int_t
ngx_live_record_writer_flush(ngx_live_record_writer_t *w, AVIOContext *pb,
    int64_t dts)
{
    if (dts - w->flushed >= NGX_LIVE_RECORD_FLUSH_MS) {
        avio_flush(pb);
        w->flushed = dts;
    }

    if (pb->error < 0) {
        ngx_live_record_av_error(w->log, NGX_LOG_CRIT, w->label,
                                 "avio_flush", w->path, pb->error);
        w->failed = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * FLV written here (FLV 10.1 and E-RTMP): the header, the sequence
 * headers at time 0, then a tag a frame.  No onMetaData: its duration
 * would need a seek back at the end.
 */

static ngx_int_t
ngx_live_record_flv_open(ngx_live_record_writer_t *w,
    ngx_live_record_track_t *tracks)
{
    int                       rc;
    u_char                    head[8], flags, *p;
    size_t                    n;
    ngx_live_record_track_t  *v, *a;

    ngx_memcpy(w->tracks, tracks, sizeof(w->tracks));
    w->raw = 1;

    v = &w->tracks[NGX_LIVE_RECORD_VIDEO];
    a = &w->tracks[NGX_LIVE_RECORD_AUDIO];

    /* as in the libavformat path: an index per track held, -1 if none */

    w->index[NGX_LIVE_RECORD_AUDIO] =
        (a->codec == NGX_LIVE_RECORD_CODEC_AAC
         || a->codec == NGX_LIVE_RECORD_CODEC_MP3) ? 1 : -1;

    w->index[NGX_LIVE_RECORD_VIDEO] = 0;

    rc = ngx_live_record_avio_open(&w->pb, w->path);
    if (rc < 0) {
        ngx_live_record_av_error(w->log, NGX_LOG_CRIT, w->label, "avio_open",
                                 w->path, rc);
        return NGX_ERROR;
    }

    flags = 0x01 | (w->index[NGX_LIVE_RECORD_AUDIO] == 1 ? 0x04 : 0);

    avio_write(w->pb, (u_char *) "FLV\x01", 4);
    avio_w8(w->pb, flags);
    avio_wb32(w->pb, 9);
    avio_wb32(w->pb, 0);                            /* previous tag size */

    p = head;

    if (v->fourcc) {
        /* key frame, SequenceStart, FourCC */
        *p++ = 0x90;
        p = ngx_live_record_flv_fourcc(p, v->fourcc);

    } else {
        *p++ = 0x10 | NGX_LIVE_RECORD_FLV_HEVC;
        *p++ = 0;                                   /* sequence header */
        *p++ = 0;
        *p++ = 0;
        *p++ = 0;
    }

    n = p - head;
    ngx_live_record_flv_tag(w->pb, NGX_LIVE_RECORD_FLV_VIDEO, 0, head, n,
                            v->extradata, v->extradata_len);

    if (a->codec == NGX_LIVE_RECORD_CODEC_AAC) {
        head[0] = 0xaf;
        head[1] = 0;
        ngx_live_record_flv_tag(w->pb, NGX_LIVE_RECORD_FLV_AUDIO, 0, head, 2,
                                a->extradata, a->extradata_len);
    }

    w->header = 1;

    return ngx_live_record_writer_flush(w, w->pb, 0);
}


static ngx_int_t
ngx_live_record_flv_write(ngx_live_record_writer_t *w,
    ngx_live_record_frame_t *f)
{
    u_char                   *p, head[9];
    int64_t                   cts;
    ngx_uint_t                rate;
    ngx_live_record_track_t  *t;

    if (w->index[f->track] < 0 || w->failed) {
        return NGX_DECLINED;
    }

    t = &w->tracks[f->track];
    p = head;
    cts = f->pts - f->dts;

    if (f->track == NGX_LIVE_RECORD_AUDIO) {
        if (t->codec == NGX_LIVE_RECORD_CODEC_AAC) {
            *p++ = 0xaf;
            *p++ = 1;

        } else {
            /* mp3: FLV has 5.5, 11, 22 and 44 kHz; 48 kHz is said as 44 */
            rate = (t->sample_rate >= 44100) ? 3
                   : (t->sample_rate >= 22050) ? 2
                   : (t->sample_rate >= 11025) ? 1 : 0;
            *p++ = (u_char) (0x22 | (rate << 2) | (t->channels > 1));
        }

    } else if (t->fourcc) {
        *p++ = (u_char) (0x80 | (f->key ? 0x10 : 0x20) | 1);  /* Coded */
        p = ngx_live_record_flv_fourcc(p, t->fourcc);

        if (t->codec != NGX_LIVE_RECORD_CODEC_AV1) {
            *p++ = (u_char) (cts >> 16);
            *p++ = (u_char) (cts >> 8);
            *p++ = (u_char) cts;
        }

    } else {
        *p++ = (u_char) ((f->key ? 0x10 : 0x20) | NGX_LIVE_RECORD_FLV_HEVC);
        *p++ = 1;
        *p++ = (u_char) (cts >> 16);
        *p++ = (u_char) (cts >> 8);
        *p++ = (u_char) cts;
    }

    ngx_live_record_flv_tag(w->pb, f->track == NGX_LIVE_RECORD_VIDEO
                                   ? NGX_LIVE_RECORD_FLV_VIDEO
                                   : NGX_LIVE_RECORD_FLV_AUDIO,
                            f->dts, head, p - head, f->data, f->len);

    return ngx_live_record_writer_flush(w, w->pb, f->dts);
}


static u_char *
ngx_live_record_flv_fourcc(u_char *p, uint32_t fourcc)
{
    *p++ = (u_char) (fourcc >> 24);
    *p++ = (u_char) (fourcc >> 16);
    *p++ = (u_char) (fourcc >> 8);
    *p++ = (u_char) fourcc;

    return p;
}


static void
ngx_live_record_flv_tag(AVIOContext *pb, ngx_uint_t type, int64_t ts,
    u_char *head, size_t head_len, u_char *data, size_t len)
{
    size_t  size;

    size = head_len + len;

    avio_w8(pb, (int) type);
    avio_wb24(pb, (unsigned) size);
    avio_wb24(pb, (unsigned) (ts & 0xffffff));
    avio_w8(pb, (int) ((ts >> 24) & 0xff));
    avio_wb24(pb, 0);                               /* stream id */
    avio_write(pb, head, (int) head_len);

    if (len) {
        avio_write(pb, data, (int) len);
    }

    avio_wb32(pb, (unsigned) (11 + size));
}


/* a writer that fails with its part's other writers says so only once */

void
ngx_live_record_writer_fail(ngx_live_record_writer_t *w)
{
    w->failed = 1;
}


ngx_int_t
ngx_live_record_writer_close(ngx_live_record_writer_t *w)
{
    int         rc;
    ngx_int_t   ret;
    ngx_uint_t  level;

    if (w->closed) {
        return NGX_OK;
    }

    w->closed = 1;
    ret = w->failed ? NGX_ERROR : NGX_OK;

    /* after a write error, the rest of the file's troubles are its echo */
    level = w->failed ? NGX_LOG_INFO : NGX_LOG_CRIT;

    if (w->raw) {
        if (w->pb) {
            rc = avio_closep(&w->pb);

            if (rc < 0) {
                ngx_live_record_av_error(w->log, level, w->label,
                                         "avio_close", w->path, rc);
                ret = NGX_ERROR;
            }
        }

        return ret;
    }

    if (w->header) {
        rc = av_write_trailer(w->fmt);

        if (rc < 0) {
            ngx_live_record_av_error(w->log, level, w->label,
                                     "av_write_trailer", w->path, rc);
            ret = NGX_ERROR;
            level = NGX_LOG_INFO;
        }
    }

    if (w->fmt && w->fmt->pb) {
        rc = avio_closep(&w->fmt->pb);

        if (rc < 0) {
            ngx_live_record_av_error(w->log, level, w->label,
                                     "avio_close", w->path, rc);
            ret = NGX_ERROR;
        }
    }

    return ret;
}


static void
ngx_live_record_writer_cleanup(void *data)
{
    ngx_live_record_writer_t  *w = data;

    (void) ngx_live_record_writer_close(w);

    avformat_free_context(w->fmt);
    av_packet_free(&w->pkt);
}


/* ms of media in a file, 0 if it cannot be read (runs in a thread) */

int64_t
ngx_live_record_media_duration(u_char *path, ngx_log_t *log)
{
    int               rc;
    int64_t           ms;
    AVFormatContext  *in;

    in = NULL;

    rc = avformat_open_input(&in, (char *) path, NULL, NULL);
    if (rc < 0) {
        return 0;
    }

    ms = 0;

    if (avformat_find_stream_info(in, NULL) >= 0
        && in->duration != AV_NOPTS_VALUE && in->duration > 0)
    {
        ms = in->duration / (AV_TIME_BASE / 1000);
    }

    avformat_close_input(&in);

    return ms;
}


/*
 * An MPEG-TS file cut short (a crash, a full disk), read packet by packet
 * without decoding: the muxer writes each PES in one run, so only the
 * PES that starts last in the file may be cut.  Returns the ms of media
 * before it and in *keep where that PES starts (a TS packet boundary, the
 * length to keep); 0 if nothing is whole.  Runs in a thread.
 */

int64_t
ngx_live_record_ts_scan(u_char *path, off_t *keep, ngx_log_t *log)
{
    off_t    cut;
    int64_t  ms;

    *keep = 0;

    /* one pass finds where the last PES starts, the next counts before */

    if (ngx_live_record_ts_pass(path, -1, &cut) != NGX_OK || cut <= 0) {
        return 0;
    }

    ms = 0;

    if (ngx_live_record_ts_pass(path, cut, &ms) != NGX_OK || ms <= 0) {
        return 0;
    }

    *keep = cut;

    ngx_log_debug3(NGX_LOG_DEBUG_CORE, log, 0,
                   "live record: \"%s\": %L ms in %O bytes", path, ms, cut);

    return ms;
}


/*
 * cut < 0: *out (off_t) is where the last PES starts; else *out (int64_t)
 * is the ms spanned by the packets before cut
 */

static ngx_int_t
ngx_live_record_ts_pass(u_char *path, off_t cut, void *out)
{
    int64_t           first, end, t, d, last[NGX_LIVE_RECORD_NTRACKS],
                      delta[NGX_LIVE_RECORD_NTRACKS];
    off_t             top;
    AVPacket         *pkt;
    AVStream         *st;
    ngx_uint_t        i;
    AVRational        ms = { 1, 1000 };
    AVFormatContext  *in;

    in = NULL;

    if (avformat_open_input(&in, (char *) path,
                            av_find_input_format("mpegts"), NULL)
        < 0)
    {
        return NGX_ERROR;
    }

    pkt = av_packet_alloc();
    if (pkt == NULL) {
        avformat_close_input(&in);
        return NGX_ERROR;
    }

    top = -1;
    first = INT64_MAX;
    end = INT64_MIN;

    for (i = 0; i < NGX_LIVE_RECORD_NTRACKS; i++) {
        last[i] = INT64_MIN;
        delta[i] = 0;
    }

    while (av_read_frame(in, pkt) >= 0) {
        st = in->streams[pkt->stream_index];
        t = (pkt->pts != AV_NOPTS_VALUE) ? pkt->pts : pkt->dts;

        if (cut < 0) {
            top = ngx_max(top, pkt->pos);

        } else if (pkt->pos >= 0 && pkt->pos < cut && t != AV_NOPTS_VALUE) {
            /* a frame lasts its own duration, or as long as the last */

            i = pkt->stream_index % NGX_LIVE_RECORD_NTRACKS;
            t = av_rescale_q(t, st->time_base, ms);
            d = av_rescale_q(pkt->duration, st->time_base, ms);

            if (last[i] != INT64_MIN && t > last[i]) {
                delta[i] = t - last[i];
            }

            last[i] = ngx_max(last[i], t);
            first = ngx_min(first, t);
            end = ngx_max(end, t + (d > 0 ? d : delta[i]));
        }

        av_packet_unref(pkt);
    }

    av_packet_free(&pkt);
    avformat_close_input(&in);

    if (cut < 0) {
        *(off_t *) out = top;

    } else {
        *(int64_t *) out = (end > first) ? end - first : 0;
    }

    return NGX_OK;
}


static void
ngx_live_record_av_error(ngx_log_t *log, ngx_uint_t level, ngx_str_t *label,
    const char *call, u_char *path, int err)
{
    char  text[AV_ERROR_MAX_STRING_SIZE];

    av_strerror(err, text, sizeof(text));

    ngx_log_error(level, log, 0, "live record: \"%V\": %s(\"%s\") failed (%s)",
                  label, call, path, text);
}


/*
 * libavformat's file protocol creates files 0666 less the umask, and a
 * daemonized nginx runs with umask 0: the file is made 0644 first, which
 * avio_open's O_CREAT|O_TRUNC keeps.  In a thread.
 */

int
ngx_live_record_avio_open(AVIOContext **pb, u_char *path)
{
    ngx_fd_t  fd;

    fd = ngx_open_file(path, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_DEFAULT_ACCESS);
    if (fd == NGX_INVALID_FILE) {
        return AVERROR(ngx_errno);
    }

    (void) ngx_close_file(fd);

    return avio_open(pb, (char *) path, AVIO_FLAG_WRITE);
}
