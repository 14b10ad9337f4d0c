
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_live_record_drain.h"
#include "ngx_live_record_writer.h"
#include "ngx_live_record_mp4_moov.h"

#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>


/* crash loss bound: a fragment or a flush at least this often (ms) */
#define NGX_LIVE_RECORD_FLUSH_MS      500

/* libavformat's own buffer before the sink */
#define NGX_LIVE_RECORD_AVIO_BUF      32768

/* full blocks worth a write task before the next flush */
#define NGX_LIVE_RECORD_SINK_POST     65536


/*
 * ADTS and MPEG-TS (HLS segments) never seek back: their bytes go through
 * a sink instead of libavformat's file protocol, so that no write() is
 * left on the loop.  The AVIOContext's buffer is copied into blocks
 * (mux/ngx_live_record_mp4_chain.c); a write job on the worker's drain
 * (mux/ngx_live_record_drain.c) writes the filled ones in the thread pool,
 * one batch at a time, in order.  The job outlives its writer if it has
 * to: a writer is closed and freed in a thread (an HLS segment's close
 * job) while the job may still be queued, or its done() on its way to the
 * loop, so the sink is malloc'd and freed by whichever of the two lets go
 * of it last.
 */

#define NGX_LIVE_RECORD_SINK_IDLE     0
#define NGX_LIVE_RECORD_SINK_POSTED   1
#define NGX_LIVE_RECORD_SINK_RUNNING  2
#define NGX_LIVE_RECORD_SINK_RAN      3

typedef struct {
    ngx_atomic_t                refs;       /* the writer, an event */
    ngx_atomic_t                state;
    ngx_fd_t                    fd;
    ngx_live_record_mp4_block_t *blocks;
    size_t                      bytes;
    ngx_int_t                   rc;
    ngx_log_t                  *log;
    ngx_str_t                  *label;
    u_char                     *path;
    ngx_live_record_job_t       job;
} ngx_live_record_sink_t;


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
    ngx_fd_t                    fd;         /* the sink's */
    ngx_live_record_mp4_chain_t chain;
    ngx_live_record_mp4_block_t *spare;
    size_t                      held;       /* in chain and sink */
    ngx_uint_t                  dropped;
    ngx_live_record_sink_t     *sink;
    void                       *threads;
    unsigned                    raw:1;
    unsigned                    append:1;
    unsigned                    detach:1;
    unsigned                    header:1;
    unsigned                    closed:1;
    unsigned                    failed:1;
};


static ngx_live_record_writer_t *ngx_live_record_writer_start(
    ngx_pool_t *pool, ngx_log_t *log, ngx_str_t *label, ngx_uint_t format,
    u_char *path, ngx_live_record_track_t *tracks, void *threads,
    ngx_uint_t append);
static ngx_int_t ngx_live_record_writer_streams(ngx_live_record_writer_t *w,
    ngx_live_record_track_t *tracks);
static int ngx_live_record_avio_append(AVIOContext **pb, u_char *path);
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
static ngx_int_t ngx_live_record_sink_open(ngx_live_record_writer_t *w);
static int ngx_live_record_sink_packet(void *opaque, uint8_t *buf, int size);
static ngx_int_t ngx_live_record_sink_post(ngx_live_record_writer_t *w,
    ngx_uint_t all);
static ngx_int_t ngx_live_record_sink_reap(ngx_live_record_writer_t *w);
static void ngx_live_record_sink_put(ngx_live_record_sink_t *sk);
static ngx_int_t ngx_live_record_sink_close(ngx_live_record_writer_t *w);
static void ngx_live_record_sink_release(ngx_live_record_sink_t *sk);
static void ngx_live_record_sink_handler(void *data, ngx_log_t *log);
static void ngx_live_record_sink_done(void *data);
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
    ngx_uint_t format, u_char *path, ngx_live_record_track_t *tracks,
    void *threads)
{
    return ngx_live_record_writer_start(pool, log, label, format, path,
                                        tracks, threads, 0);
}


/*
 * In a thread: a part another process wrote and detached goes on in the
 * same file, FLV tags or ADTS frames appended (no second FLV header, no
 * second sequence headers), timestamps as the frames say.  The tracks
 * must be the part's: the caller checks.
 */

ngx_live_record_writer_t *
ngx_live_record_writer_append(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *label, ngx_uint_t format, u_char *path,
    ngx_live_record_track_t *tracks, void *threads)
{
    if (format != NGX_LIVE_RECORD_FLV && format != NGX_LIVE_RECORD_AAC) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "live record: \"%V\": %s files are not appended to",
                      label, ngx_live_record_format_ext(format));
        return NULL;
    }

    return ngx_live_record_writer_start(pool, log, label, format, path,
                                        tracks, threads, 1);
}


static ngx_live_record_writer_t *
ngx_live_record_writer_start(ngx_pool_t *pool, ngx_log_t *log,
    ngx_str_t *label, ngx_uint_t format, u_char *path,
    ngx_live_record_track_t *tracks, void *threads, ngx_uint_t append)
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
    w->fd = NGX_INVALID_FILE;
    w->threads = threads;
    w->append = append;

    cln->handler = ngx_live_record_writer_cleanup;
    cln->data = w;

    /*
     * libav 5.1 writes neither FLV codec id 12 nor enhanced FLV: such
     * video is written here, the way it arrived; and libav has no FLV
     * without its header, for a part that goes on.
     */

    if (format == NGX_LIVE_RECORD_FLV
        && (append || tracks[NGX_LIVE_RECORD_VIDEO].fourcc
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

    if (format == NGX_LIVE_RECORD_AAC || format == NGX_LIVE_RECORD_HLS) {
        /* its file 0644 as well: ngx_open_file(), not the file protocol */
        if (ngx_live_record_sink_open(w) != NGX_OK) {
            return NULL;
        }

    } else {
        rc = ngx_live_record_avio_open(&w->fmt->pb, path);
        if (rc < 0) {
            ngx_live_record_av_error(log, NGX_LOG_CRIT, label, "avio_open",
                                     path, rc);
            return NULL;
        }
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

    if (w->sink) {
        if (ngx_live_record_sink_reap(w) != NGX_OK) {
            return NGX_ERROR;
        }

        if (w->held && w->held + f->len > NGX_LIVE_RECORD_SINK_MAX) {
            if (w->dropped++ == 0) {
                ngx_log_error(NGX_LOG_WARN, w->log, 0,
                              "live record: \"%V\": \"%s\" drops frames: "
                              "%uz bytes wait to be written", w->label,
                              w->path, w->held);
            }

            return NGX_DECLINED;
        }
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


ngx_uint_t
ngx_live_record_writer_dropped(ngx_live_record_writer_t *w)
{
    return w->dropped;
}


static ngx_int_t
ngx_live_record_writer_flush(ngx_live_record_writer_t *w, AVIOContext *pb,
    int64_t dts)
{
    ngx_uint_t  all;

    all = 0;

    if (dts - w->flushed >= NGX_LIVE_RECORD_FLUSH_MS) {
        avio_flush(pb);
        w->flushed = dts;
        all = 1;
    }

    if (pb->error < 0) {
        ngx_live_record_av_error(w->log, NGX_LOG_CRIT, w->label,
                                 "avio_flush", w->path, pb->error);
        w->failed = 1;
        return NGX_ERROR;
    }

    if (w->sink && ngx_live_record_sink_post(w, all) != NGX_OK) {
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

    rc = w->append ? ngx_live_record_avio_append(&w->pb, w->path)
                   : ngx_live_record_avio_open(&w->pb, w->path);
    if (rc < 0) {
        ngx_live_record_av_error(w->log, NGX_LOG_CRIT, w->label, "avio_open",
                                 w->path, rc);
        return NGX_ERROR;
    }

    if (w->append) {
        /* the tags go on after the part's last one */
        w->header = 1;
        return NGX_OK;
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
        *p++ = (u_char) ((f->key ? 0x10 : 0x20)
                         | (t->codec == NGX_LIVE_RECORD_CODEC_H264
                            ? NGX_LIVE_RECORD_FLV_AVC
                            : NGX_LIVE_RECORD_FLV_HEVC));
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


/*
 * In a thread, when another process takes the part over: close() without
 * the trailer (FLV: no onMetaData update), what is buffered written, so
 * that the other one appends after the last whole tag or frame.
 */

ngx_int_t
ngx_live_record_writer_detach(ngx_live_record_writer_t *w)
{
    w->detach = 1;

    return ngx_live_record_writer_close(w);
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

    if (w->header && w->detach) {
        /* libav's packets are written as they come: its buffer is all */
        if (w->fmt->pb) {
            avio_flush(w->fmt->pb);
        }

    } else if (w->header) {
        rc = av_write_trailer(w->fmt);

        if (rc < 0) {
            ngx_live_record_av_error(w->log, level, w->label,
                                     "av_write_trailer", w->path, rc);
            ret = NGX_ERROR;
            level = NGX_LOG_INFO;
        }
    }

    if (w->sink) {
        if (ngx_live_record_sink_close(w) != NGX_OK) {
            ret = NGX_ERROR;
        }

    } else if (w->fmt && w->fmt->pb) {
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

    if (w->sink) {
        ngx_live_record_sink_release(w->sink);
        w->sink = NULL;
    }
}


/* in the open thread: the file, and an AVIOContext writing to blocks */

static ngx_int_t
ngx_live_record_sink_open(ngx_live_record_writer_t *w)
{
    u_char                  *buf;
    ngx_live_record_sink_t  *sk;

    sk = ngx_calloc(sizeof(ngx_live_record_sink_t), w->log);
    if (sk == NULL) {
        return NGX_ERROR;
    }

    sk->refs = 1;
    sk->fd = NGX_INVALID_FILE;
    sk->log = w->log;
    sk->label = w->label;
    sk->path = w->path;
    w->sink = sk;

    sk->job.handler = ngx_live_record_sink_handler;
    sk->job.done = ngx_live_record_sink_done;
    sk->job.data = sk;
    sk->job.log = w->log;

    w->fd = w->append
            ? ngx_open_file(w->path, NGX_FILE_APPEND, NGX_FILE_OPEN, 0)
            : ngx_open_file(w->path, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                            NGX_FILE_DEFAULT_ACCESS);
    if (w->fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": " ngx_open_file_n "(\"%s\") "
                      "failed", w->label, w->path);
        return NGX_ERROR;
    }

    sk->fd = w->fd;

    buf = av_malloc(NGX_LIVE_RECORD_AVIO_BUF);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    w->fmt->pb = avio_alloc_context(buf, NGX_LIVE_RECORD_AVIO_BUF, 1, w,
                                    NULL, ngx_live_record_sink_packet, NULL);
    if (w->fmt->pb == NULL) {
        av_free(buf);
        return NGX_ERROR;
    }

    w->fmt->flags |= AVFMT_FLAG_CUSTOM_IO;

    return NGX_OK;
}


/* libavformat's buffer, full or flushed: into the blocks, nothing waits */

static int
ngx_live_record_sink_packet(void *opaque, uint8_t *buf, int size)
{
    ngx_live_record_writer_t  *w = opaque;

    if (size <= 0) {
        return 0;
    }

    if (ngx_live_record_mp4_room(&w->chain, size, NGX_LIVE_RECORD_MP4_BLOCK,
                                 &w->spare, w->log)
        != NGX_OK)
    {
        return AVERROR(ENOMEM);
    }

    ngx_live_record_mp4_copy(&w->chain, buf, size);
    w->held += size;

    return size;
}


/* on the loop: the last batch's blocks back once its event is in */

static ngx_int_t
ngx_live_record_sink_reap(ngx_live_record_writer_t *w)
{
    ngx_live_record_sink_t  *sk;

    sk = w->sink;

    if (sk->state != NGX_LIVE_RECORD_SINK_RAN) {
        return NGX_OK;
    }

    if (sk->job.drain) {
        /* the drain has not handed it back yet: it cannot go out again */
        return NGX_OK;
    }

    ngx_live_record_mp4_recycle(&w->spare, sk->blocks);
    sk->blocks = NULL;
    w->held -= sk->bytes;
    sk->bytes = 0;
    sk->state = NGX_LIVE_RECORD_SINK_IDLE;

    if (sk->rc != NGX_OK) {
        w->failed = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* on the loop: full blocks (all: the one being filled too) go out */

static ngx_int_t
ngx_live_record_sink_post(ngx_live_record_writer_t *w, ngx_uint_t all)
{
    size_t                   bytes;
    ngx_live_record_sink_t  *sk;

    sk = w->sink;

    if (ngx_live_record_sink_reap(w) != NGX_OK) {
        return NGX_ERROR;
    }

    if (sk->state != NGX_LIVE_RECORD_SINK_IDLE) {
        return NGX_OK;
    }

    if (!all && w->chain.full < NGX_LIVE_RECORD_SINK_POST) {
        return NGX_OK;
    }

    bytes = 0;
    sk->blocks = ngx_live_record_mp4_cut(&w->chain, all, &bytes);

    if (sk->blocks == NULL) {
        return NGX_OK;
    }

    sk->bytes = bytes;
    sk->rc = NGX_OK;
    sk->state = NGX_LIVE_RECORD_SINK_POSTED;

    if (w->threads) {
        (void) ngx_atomic_fetch_add(&sk->refs, 1);

        if (ngx_live_record_drain_post(w->threads, &sk->job) == NGX_OK) {
            return NGX_OK;
        }

        (void) ngx_atomic_fetch_add(&sk->refs, -1);
    }

    /* no pool: written here */

    sk->state = NGX_LIVE_RECORD_SINK_RUNNING;
    ngx_live_record_sink_put(sk);

    return ngx_live_record_sink_reap(w);
}


/* whoever claimed the batch (RUNNING) writes it, then says so (RAN) */

static void
ngx_live_record_sink_put(ngx_live_record_sink_t *sk)
{
    if (ngx_live_record_mp4_writev(sk->fd, sk->blocks) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, sk->log, ngx_errno,
                      "live record: \"%V\": write(\"%s\") failed",
                      sk->label, sk->path);
        sk->rc = NGX_ERROR;
    }

    ngx_memory_barrier();
    sk->state = NGX_LIVE_RECORD_SINK_RAN;
}


static void
ngx_live_record_sink_handler(void *data, ngx_log_t *log)
{
    ngx_live_record_sink_t  *sk = data;

    if (ngx_atomic_cmp_set(&sk->state, NGX_LIVE_RECORD_SINK_POSTED,
                           NGX_LIVE_RECORD_SINK_RUNNING))
    {
        ngx_live_record_sink_put(sk);
    }
}


/* back on the loop: the writer may be gone, only the count is touched */

static void
ngx_live_record_sink_done(void *data)
{
    ngx_live_record_sink_release(data);
}


/*
 * In the close thread, after the trailer: the batch out is written (here
 * if no pool thread took it yet), then what is left, then the file closed
 */

static ngx_int_t
ngx_live_record_sink_close(ngx_live_record_writer_t *w)
{
    size_t                        bytes;
    ngx_int_t                     rc;
    ngx_live_record_sink_t       *sk;
    ngx_live_record_mp4_block_t  *b;

    sk = w->sink;
    rc = NGX_OK;

    if (w->fmt->pb) {
        avio_flush(w->fmt->pb);

        if (w->fmt->pb->error < 0) {
            rc = NGX_ERROR;
        }

        av_freep(&w->fmt->pb->buffer);
        avio_context_free(&w->fmt->pb);
    }

    if (ngx_atomic_cmp_set(&sk->state, NGX_LIVE_RECORD_SINK_POSTED,
                           NGX_LIVE_RECORD_SINK_RUNNING))
    {
        ngx_live_record_sink_put(sk);
    }

    while (sk->state == NGX_LIVE_RECORD_SINK_RUNNING) {
        ngx_msleep(1);
    }

    ngx_memory_barrier();

    if (sk->rc != NGX_OK) {
        rc = NGX_ERROR;
    }

    ngx_live_record_mp4_free_blocks(sk->blocks);
    sk->blocks = NULL;

    bytes = 0;
    b = ngx_live_record_mp4_cut(&w->chain, 1, &bytes);

    if (rc == NGX_OK && ngx_live_record_mp4_writev(w->fd, b) != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                      "live record: \"%V\": write(\"%s\") failed",
                      w->label, w->path);
        rc = NGX_ERROR;
    }

    ngx_live_record_mp4_free_blocks(b);
    ngx_live_record_mp4_free_blocks(w->chain.head);
    ngx_live_record_mp4_free_blocks(w->spare);
    ngx_memzero(&w->chain, sizeof(ngx_live_record_mp4_chain_t));
    w->spare = NULL;

    if (w->fd != NGX_INVALID_FILE) {
        if (ngx_close_file(w->fd) == NGX_FILE_ERROR) {
            ngx_log_error(NGX_LOG_CRIT, w->log, ngx_errno,
                          "live record: \"%V\": " ngx_close_file_n
                          "(\"%s\") failed", w->label, w->path);
            rc = NGX_ERROR;
        }

        w->fd = NGX_INVALID_FILE;
        sk->fd = NGX_INVALID_FILE;
    }

    return rc;
}


/* the writer's or the event's hold on the task: the last one frees it */

static void
ngx_live_record_sink_release(ngx_live_record_sink_t *sk)
{
    if (ngx_atomic_fetch_add(&sk->refs, -1) == 1) {
        ngx_live_record_mp4_free_blocks(sk->blocks);
        ngx_free(sk);
    }
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


/* a part that goes on: the file as it is, written from its end */

static int
ngx_live_record_avio_append(AVIOContext **pb, u_char *path)
{
    int            rc;
    int64_t        end;
    ngx_fd_t       fd;
    AVDictionary  *opts;

    /* the part is there: avio_open2() would make an empty one */

    fd = ngx_open_file(path, NGX_FILE_WRONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        return AVERROR(ngx_errno);
    }

    (void) ngx_close_file(fd);

    opts = NULL;

    if (av_dict_set(&opts, "truncate", "0", 0) < 0) {
        return AVERROR(ENOMEM);
    }

    rc = avio_open2(pb, (char *) path, AVIO_FLAG_WRITE, NULL, &opts);
    av_dict_free(&opts);

    if (rc < 0) {
        return rc;
    }

    end = avio_size(*pb);

    if (end >= 0) {
        end = avio_seek(*pb, end, SEEK_SET);
    }

    if (end < 0) {
        (void) avio_closep(pb);
        return (int) end;
    }

    return 0;
}
