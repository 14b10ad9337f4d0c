
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
    unsigned                    header:1;
    unsigned                    closed:1;
    unsigned                    failed:1;
};


static ngx_int_t ngx_live_record_writer_streams(ngx_live_record_writer_t *w,
    ngx_live_record_track_t *tracks);
static ngx_int_t ngx_live_record_stream_params(AVStream *st,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_writer_header(ngx_live_record_writer_t *w);
static void ngx_live_record_writer_cleanup(void *data);
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

    default:
        if (v == NGX_LIVE_RECORD_CODEC_H264) {
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

    rc = avio_open(&w->fmt->pb, (char *) path, AVIO_FLAG_WRITE);
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
        par->codec_type = AVMEDIA_TYPE_VIDEO;
        par->codec_id = AV_CODEC_ID_H264;
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

    if (f->dts - w->flushed >= NGX_LIVE_RECORD_FLUSH_MS) {
        avio_flush(w->fmt->pb);
        w->flushed = f->dts;

        if (w->fmt->pb->error < 0) {
            ngx_live_record_av_error(w->log, NGX_LOG_CRIT, w->label,
                                     "avio_flush", w->path,
                                     w->fmt->pb->error);
            w->failed = 1;
            return NGX_ERROR;
        }
    }

    return NGX_OK;
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


static void
ngx_live_record_av_error(ngx_log_t *log, ngx_uint_t level, ngx_str_t *label,
    const char *call, u_char *path, int err)
{
    char  text[AV_ERROR_MAX_STRING_SIZE];

    av_strerror(err, text, sizeof(text));

    ngx_log_error(level, log, 0, "live record: \"%V\": %s(\"%s\") failed (%s)",
                  label, call, path, text);
}
