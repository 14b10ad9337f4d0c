
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_CODEC_H_INCLUDED_
#define _NGX_LIVE_RECORD_CODEC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * FLV tag bodies as nginx-rtmp delivers them, turned into frames and codec
 * parameters.  Pure functions over byte buffers: no nginx runtime, no
 * libavformat, so a unit build and a fuzzer can drive them.
 */


#define NGX_LIVE_RECORD_VIDEO         0
#define NGX_LIVE_RECORD_AUDIO         1
#define NGX_LIVE_RECORD_NTRACKS       2

#define NGX_LIVE_RECORD_CODEC_NONE    0
#define NGX_LIVE_RECORD_CODEC_H264    1
#define NGX_LIVE_RECORD_CODEC_AAC     2
#define NGX_LIVE_RECORD_CODEC_MP3     3
#define NGX_LIVE_RECORD_CODEC_H265    4
#define NGX_LIVE_RECORD_CODEC_AV1     5

#define NGX_LIVE_RECORD_TAG_FRAME     0
#define NGX_LIVE_RECORD_TAG_HEADER    1
#define NGX_LIVE_RECORD_TAG_SKIP      2   /* end of sequence, info frame */
#define NGX_LIVE_RECORD_TAG_CODEC     3   /* a codec we cannot record */

#define NGX_LIVE_RECORD_FLV_AUDIO     8
#define NGX_LIVE_RECORD_FLV_VIDEO     9

/* FLV video codec ids, and enhanced RTMP's FourCCs (veovera E-RTMP) */
#define NGX_LIVE_RECORD_FLV_AVC       7
#define NGX_LIVE_RECORD_FLV_HEVC      12   /* the Chinese CDNs' convention */

#define NGX_LIVE_RECORD_FOURCC(a, b, c, d)                                   \
    (((uint32_t) (a) << 24) | ((uint32_t) (b) << 16)                        \
     | ((uint32_t) (c) << 8) | (uint32_t) (d))

#define NGX_LIVE_RECORD_FOURCC_AVC1   NGX_LIVE_RECORD_FOURCC('a','v','c','1')
#define NGX_LIVE_RECORD_FOURCC_HVC1   NGX_LIVE_RECORD_FOURCC('h','v','c','1')
#define NGX_LIVE_RECORD_FOURCC_AV01   NGX_LIVE_RECORD_FOURCC('a','v','0','1')

/* enhanced RTMP audio (E-RTMP v2) */
#define NGX_LIVE_RECORD_FOURCC_MP4A   NGX_LIVE_RECORD_FOURCC('m','p','4','a')
#define NGX_LIVE_RECORD_FOURCC_MP3    NGX_LIVE_RECORD_FOURCC('.','m','p','3')

/* a multitrack packet: no single FourCC, not recorded */
#define NGX_LIVE_RECORD_FOURCC_MULTI  1


typedef struct {
    ngx_uint_t                  codec;
    u_char                     *extradata;
    size_t                      extradata_len;
    ngx_uint_t                  width;
    ngx_uint_t                  height;
    ngx_uint_t                  sample_rate;
    ngx_uint_t                  channels;
    uint32_t                    fourcc;     /* video: enhanced RTMP, or 0 */
} ngx_live_record_track_t;


typedef struct {
    ngx_uint_t                  track;
    ngx_uint_t                  kind;
    ngx_uint_t                  codec;      /* CODEC_*, or FLV id if CODEC */
    uint32_t                    fourcc;     /* enhanced RTMP video, or 0 */
    ngx_uint_t                  key;
    int32_t                     cts;
    u_char                     *data;
    size_t                      len;
} ngx_live_record_tag_t;


ngx_int_t ngx_live_record_parse_tag(ngx_uint_t type, u_char *p, size_t len,
    ngx_live_record_tag_t *tag);
ngx_int_t ngx_live_record_parse_header(ngx_live_record_tag_t *tag,
    ngx_live_record_track_t *t);
ngx_int_t ngx_live_record_parse_mp3(u_char *p, size_t len,
    ngx_live_record_track_t *t);
const char *ngx_live_record_codec_name(ngx_uint_t codec);

ngx_int_t ngx_live_record_parse_hvcc(u_char *p, size_t len,
    ngx_live_record_track_t *t);
ngx_int_t ngx_live_record_parse_av1c(u_char *p, size_t len,
    ngx_live_record_track_t *t);
ngx_int_t ngx_live_record_av1_skip_td(ngx_live_record_tag_t *tag);


#endif /* _NGX_LIVE_RECORD_CODEC_H_INCLUDED_ */
