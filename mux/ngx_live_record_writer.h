
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_WRITER_H_INCLUDED_
#define _NGX_LIVE_RECORD_WRITER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"


struct AVIOContext;


/*
 * Frames to files: one writer is one open file of one format, written by
 * libavformat.  open/write/close over ngx core types, like
 * ngx_rtmp_mpegts.h; it knows nothing of sessions or streams.  FLV, ADTS
 * and MPEG-TS only: MP4 parts are written by ngx_live_record_mp4.c.
 */


#define NGX_LIVE_RECORD_MP4           0
#define NGX_LIVE_RECORD_FLV           1
#define NGX_LIVE_RECORD_AAC           2
#define NGX_LIVE_RECORD_HLS           3   /* MPEG-TS segments */
#define NGX_LIVE_RECORD_NFORMATS      4

/* what may wait for the disk, a writer: past it frames are dropped */
#define NGX_LIVE_RECORD_SINK_MAX      (8 * 1024 * 1024)


typedef struct {
    ngx_uint_t                  track;
    ngx_uint_t                  key;
    int64_t                     dts;        /* ms from the part start */
    int64_t                     pts;
    int64_t                     duration;
    u_char                     *data;
    size_t                      len;
} ngx_live_record_frame_t;


typedef struct ngx_live_record_writer_s  ngx_live_record_writer_t;


void ngx_live_record_writer_init(void);
ngx_uint_t ngx_live_record_format_tracks(ngx_uint_t format,
    ngx_live_record_track_t *tracks);
const char *ngx_live_record_format_ext(ngx_uint_t format);
/* the libavformat loaded at run time, "59.27.100" */
u_char *ngx_live_record_avformat_version(u_char *p, u_char *last);

/* threads: the ngx_thread_pool_t that writes ADTS and MPEG-TS, or NULL */
ngx_live_record_writer_t *ngx_live_record_writer_open(ngx_pool_t *pool,
    ngx_log_t *log, ngx_str_t *label, ngx_uint_t format, u_char *path,
    ngx_live_record_track_t *tracks, void *threads);
ngx_int_t ngx_live_record_writer_write(ngx_live_record_writer_t *w,
    ngx_live_record_frame_t *f);
ngx_int_t ngx_live_record_writer_close(ngx_live_record_writer_t *w);
/* a part handed from one process to another: FLV and ADTS only */
ngx_live_record_writer_t *ngx_live_record_writer_append(ngx_pool_t *pool,
    ngx_log_t *log, ngx_str_t *label, ngx_uint_t format, u_char *path,
    ngx_live_record_track_t *tracks, void *threads);
ngx_int_t ngx_live_record_writer_detach(ngx_live_record_writer_t *w);
int ngx_live_record_avio_open(struct AVIOContext **pb, u_char *path);
void ngx_live_record_writer_fail(ngx_live_record_writer_t *w);
ngx_uint_t ngx_live_record_writer_dropped(ngx_live_record_writer_t *w);

int64_t ngx_live_record_media_duration(u_char *path, ngx_log_t *log);
int64_t ngx_live_record_ts_scan(u_char *path, off_t *keep, ngx_log_t *log);


#endif /* _NGX_LIVE_RECORD_WRITER_H_INCLUDED_ */
