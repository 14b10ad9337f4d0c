
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"


#define NGX_LIVE_RECORD_SPS_MAX       512
#define NGX_LIVE_RECORD_HEVC_SPS      33
#define NGX_LIVE_RECORD_HEVC_SPS_MAX  512
#define NGX_LIVE_RECORD_MAX_SIZE      16384

#define NGX_LIVE_RECORD_OBU_SEQUENCE  1
#define NGX_LIVE_RECORD_OBU_TD        2


typedef struct {
    u_char                     *p;
    u_char                     *last;
    ngx_uint_t                  bit;
    ngx_uint_t                  error;
} ngx_live_record_bits_t;


typedef struct {
    uint32_t                    fourcc;
    ngx_uint_t                  codec;
} ngx_live_record_fourcc_t;


static ngx_int_t ngx_live_record_parse_avc(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_parse_sps(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_parse_hevc_sps(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_parse_crop(ngx_live_record_bits_t *br,
    uint32_t w, uint32_t h, uint32_t chroma, uint32_t planes, uint32_t fields,
    uint32_t max, ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_obu(u_char *p, size_t len,
    ngx_uint_t *type, size_t *header, size_t *size);
static ngx_int_t ngx_live_record_parse_av1_seq(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static uint32_t ngx_live_record_bits_uvlc(ngx_live_record_bits_t *br);
static ngx_int_t ngx_live_record_parse_aac(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_parse_video(u_char *p, size_t len,
    ngx_live_record_tag_t *tag);
static ngx_int_t ngx_live_record_parse_ex(u_char *p, size_t len,
    ngx_live_record_tag_t *tag);
static ngx_int_t ngx_live_record_parse_ex_audio(u_char *p, size_t len,
    ngx_live_record_tag_t *tag);
static ngx_int_t ngx_live_record_skip_modex(u_char **pp, u_char *last,
    ngx_uint_t *type);
static ngx_int_t ngx_live_record_parse_fourcc(u_char **pp, u_char *last,
    ngx_uint_t multi, ngx_live_record_fourcc_t *codecs,
    ngx_live_record_tag_t *tag);
static int32_t ngx_live_record_bits_se(ngx_live_record_bits_t *br);
static uint32_t ngx_live_record_bits_get(ngx_live_record_bits_t *br,
    ngx_uint_t n);
static uint32_t ngx_live_record_bits_ue(ngx_live_record_bits_t *br);
static size_t ngx_live_record_unescape(u_char *dst, size_t size, u_char *p,
    size_t len);
static void ngx_live_record_skip_scaling_list(ngx_live_record_bits_t *br,
    ngx_uint_t size);


static ngx_uint_t  ngx_live_record_aac_rates[] = {
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
    16000, 12000, 11025, 8000, 7350
};


/* the FourCCs recorded, per track; others are refused */

static ngx_live_record_fourcc_t  ngx_live_record_video_fourccs[] = {
    { NGX_LIVE_RECORD_FOURCC_AVC1, NGX_LIVE_RECORD_CODEC_H264 },
    { NGX_LIVE_RECORD_FOURCC_HVC1, NGX_LIVE_RECORD_CODEC_H265 },
    { NGX_LIVE_RECORD_FOURCC_AV01, NGX_LIVE_RECORD_CODEC_AV1 },
    { 0, NGX_LIVE_RECORD_CODEC_NONE }
};


static ngx_live_record_fourcc_t  ngx_live_record_audio_fourccs[] = {
    { NGX_LIVE_RECORD_FOURCC_MP4A, NGX_LIVE_RECORD_CODEC_AAC },
    { NGX_LIVE_RECORD_FOURCC_MP3, NGX_LIVE_RECORD_CODEC_MP3 },
    { 0, NGX_LIVE_RECORD_CODEC_NONE }
};


ngx_int_t
ngx_live_record_parse_tag(ngx_uint_t type, u_char *p, size_t len,
    ngx_live_record_tag_t *tag)
{
    ngx_uint_t  fmt;

    ngx_memzero(tag, sizeof(ngx_live_record_tag_t));

    if (len == 0) {
        return NGX_ERROR;
    }

    if (type == NGX_LIVE_RECORD_FLV_VIDEO) {
        return ngx_live_record_parse_video(p, len, tag);
    }

    if (type != NGX_LIVE_RECORD_FLV_AUDIO) {
        return NGX_ERROR;
    }

    tag->track = NGX_LIVE_RECORD_AUDIO;
    tag->key = 1;
    fmt = p[0] >> 4;

    switch (fmt) {

    case 10:
        tag->codec = NGX_LIVE_RECORD_CODEC_AAC;

        if (len < 2) {
            return NGX_ERROR;
        }

        tag->data = p + 2;
        tag->len = len - 2;
        tag->kind = (p[1] == 0) ? NGX_LIVE_RECORD_TAG_HEADER
                                : NGX_LIVE_RECORD_TAG_FRAME;

        if (tag->len == 0) {
            tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
        }

        return NGX_OK;

    case 2:
    case 14:
        tag->codec = NGX_LIVE_RECORD_CODEC_MP3;
        tag->data = p + 1;
        tag->len = len - 1;
        tag->kind = tag->len ? NGX_LIVE_RECORD_TAG_FRAME
                             : NGX_LIVE_RECORD_TAG_SKIP;
        return NGX_OK;

    case 9:
        return ngx_live_record_parse_ex_audio(p, len, tag);

    default:
        tag->kind = NGX_LIVE_RECORD_TAG_CODEC;
        tag->codec = fmt;
        return NGX_OK;
    }
}


/*
 * Enhanced RTMP audio (E-RTMP v2, SoundFormat 9): a packet type, ModEx
 * prefixes, a FourCC.  AAC ("mp4a") and MP3 (".mp3") are recorded as if
 * they came in legacy tags; Opus, FLAC, AC-3 and E-AC-3 are refused.
 */

static ngx_int_t
ngx_live_record_parse_ex_audio(u_char *p, size_t len,
    ngx_live_record_tag_t *tag)
{
    u_char      *last;
    ngx_int_t    rc;
    ngx_uint_t   type;

    last = p + len;
    type = p[0] & 0x0f;
    p++;

    if (ngx_live_record_skip_modex(&p, last, &type) != NGX_OK) {
        return NGX_ERROR;
    }

    /* packet type 5: Multitrack */

    rc = ngx_live_record_parse_fourcc(&p, last, type == 5,
                                      ngx_live_record_audio_fourccs, tag);
    if (rc != NGX_OK) {
        return (rc == NGX_DONE) ? NGX_OK : NGX_ERROR;
    }

    tag->data = p;
    tag->len = last - p;

    switch (type) {

    case 0:     /* SequenceStart: AudioSpecificConfig; mp3 has none */
        tag->kind = (tag->codec == NGX_LIVE_RECORD_CODEC_AAC)
                    ? NGX_LIVE_RECORD_TAG_HEADER : NGX_LIVE_RECORD_TAG_SKIP;
        return NGX_OK;

    case 1:     /* CodedFrames */
        tag->kind = tag->len ? NGX_LIVE_RECORD_TAG_FRAME
                             : NGX_LIVE_RECORD_TAG_SKIP;
        return NGX_OK;

    case 2:     /* SequenceEnd */
    case 4:     /* MultichannelConfig: the channel order, not needed */
        tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
        return NGX_OK;

    default:
        return NGX_ERROR;
    }
}


/* ModEx (packet type 7): modifier data, then the real packet type */

static ngx_int_t
ngx_live_record_skip_modex(u_char **pp, u_char *last, ngx_uint_t *type)
{
    u_char  *p;
    size_t   n;

    p = *pp;

    while (*type == 7) {
        if (last - p < 1) {
            return NGX_ERROR;
        }

        n = (size_t) p[0] + 1;
        p++;

        if (n == 256) {
            if (last - p < 2) {
                return NGX_ERROR;
            }

            n = (((size_t) p[0] << 8) | p[1]) + 1;
            p += 2;
        }

        if ((size_t) (last - p) < n + 1) {
            return NGX_ERROR;
        }

        p += n;
        *type = *p++ & 0x0f;
    }

    *pp = p;

    return NGX_OK;
}


/*
 * What follows the packet type in both ExHeaders: nothing for a
 * multitrack packet, else a FourCC, looked up in the track's table.
 * NGX_DONE: the tag is refused as a codec and complete; NGX_OK: the codec
 * is set and *pp is past the FourCC.
 */

static ngx_int_t
ngx_live_record_parse_fourcc(u_char **pp, u_char *last, ngx_uint_t multi,
    ngx_live_record_fourcc_t *codecs, ngx_live_record_tag_t *tag)
{
    u_char  *p;

    if (multi) {
        tag->kind = NGX_LIVE_RECORD_TAG_CODEC;
        tag->fourcc = NGX_LIVE_RECORD_FOURCC_MULTI;
        return NGX_DONE;
    }

    p = *pp;

    if (last - p < 4) {
        return NGX_ERROR;
    }

    tag->fourcc = NGX_LIVE_RECORD_FOURCC(p[0], p[1], p[2], p[3]);
    *pp = p + 4;

    for ( /* void */ ; codecs->fourcc; codecs++) {
        if (codecs->fourcc == tag->fourcc) {
            tag->codec = codecs->codec;
            return NGX_OK;
        }
    }

    tag->kind = NGX_LIVE_RECORD_TAG_CODEC;

    return NGX_DONE;
}


/* legacy FLV video: codec id 7 (AVC) or 12 (HEVC), the same layout */

static ngx_int_t
ngx_live_record_parse_video(u_char *p, size_t len, ngx_live_record_tag_t *tag)
{
    ngx_uint_t  id;

    tag->track = NGX_LIVE_RECORD_VIDEO;

    if (p[0] & 0x80) {
        return ngx_live_record_parse_ex(p, len, tag);
    }

    tag->key = ((p[0] >> 4) == 1);

    if ((p[0] >> 4) == 5) {
        /* video info / command frame */
        tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
        return NGX_OK;
    }

    id = p[0] & 0x0f;

    switch (id) {
    case NGX_LIVE_RECORD_FLV_AVC:
        tag->codec = NGX_LIVE_RECORD_CODEC_H264;
        break;
    case NGX_LIVE_RECORD_FLV_HEVC:
        tag->codec = NGX_LIVE_RECORD_CODEC_H265;
        break;
    default:
        tag->kind = NGX_LIVE_RECORD_TAG_CODEC;
        tag->codec = id;
        return NGX_OK;
    }

    if (len < 5) {
        return NGX_ERROR;
    }

    /* composition time: signed 24 bit */
    tag->cts = (int32_t) (((uint32_t) p[2] << 24)
                          | ((uint32_t) p[3] << 16)
                          | ((uint32_t) p[4] << 8)) >> 8;
    tag->data = p + 5;
    tag->len = len - 5;

    switch (p[1]) {
    case 0:
        tag->kind = NGX_LIVE_RECORD_TAG_HEADER;
        break;
    case 1:
        tag->kind = tag->len ? NGX_LIVE_RECORD_TAG_FRAME
                             : NGX_LIVE_RECORD_TAG_SKIP;
        break;
    default:
        tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
    }

    return NGX_OK;
}


/*
 * Enhanced RTMP (veovera E-RTMP v1 and v2): IsExHeader, a 3-bit frame
 * type, a packet type in place of the codec id, ModEx prefixes, then a
 * FourCC.  What is not understood fails here, as the spec asks.
 */

static ngx_int_t
ngx_live_record_parse_ex(u_char *p, size_t len, ngx_live_record_tag_t *tag)
{
    u_char      *last;
    ngx_int_t    rc;
    ngx_uint_t   frame, type;

    last = p + len;
    frame = (p[0] >> 4) & 7;
    type = p[0] & 0x0f;
    p++;

    if (ngx_live_record_skip_modex(&p, last, &type) != NGX_OK) {
        return NGX_ERROR;
    }

    tag->key = (frame == 1);

    if (type != 4 && frame == 5) {
        /* a command frame: no video data */
        tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
        return NGX_OK;
    }

    /* packet type 6: Multitrack */

    rc = ngx_live_record_parse_fourcc(&p, last, type == 6,
                                      ngx_live_record_video_fourccs, tag);
    if (rc != NGX_OK) {
        return (rc == NGX_DONE) ? NGX_OK : NGX_ERROR;
    }

    switch (type) {

    case 0:     /* SequenceStart: the codec's configuration record */
        tag->kind = NGX_LIVE_RECORD_TAG_HEADER;
        break;

    case 1:     /* CodedFrames: avc1 and hvc1 carry a composition time */
        if (tag->codec != NGX_LIVE_RECORD_CODEC_AV1) {
            if (last - p < 3) {
                return NGX_ERROR;
            }

            tag->cts = (int32_t) (((uint32_t) p[0] << 24)
                                  | ((uint32_t) p[1] << 16)
                                  | ((uint32_t) p[2] << 8)) >> 8;
            p += 3;
        }

        /* fall through */

    case 3:     /* CodedFramesX: composition time 0 */
        tag->kind = NGX_LIVE_RECORD_TAG_FRAME;
        break;

    case 2:     /* SequenceEnd */
    case 4:     /* Metadata: colorInfo in AMF */
    case 5:     /* MPEG2TSSequenceStart: av1 in TS terms, not for files */
        tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
        return NGX_OK;

    default:
        return NGX_ERROR;
    }

    tag->data = p;
    tag->len = last - p;

    if (tag->kind == NGX_LIVE_RECORD_TAG_FRAME) {
        if (tag->codec == NGX_LIVE_RECORD_CODEC_AV1
            && ngx_live_record_av1_skip_td(tag) != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (tag->len == 0) {
            tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_live_record_parse_header(ngx_live_record_tag_t *tag,
    ngx_live_record_track_t *t)
{
    ngx_memzero(t, sizeof(ngx_live_record_track_t));

    t->codec = tag->codec;
    t->extradata = tag->data;
    t->extradata_len = tag->len;
    t->fourcc = tag->fourcc;

    switch (tag->codec) {
    case NGX_LIVE_RECORD_CODEC_H264:
        return ngx_live_record_parse_avc(tag->data, tag->len, t);
    case NGX_LIVE_RECORD_CODEC_H265:
        return ngx_live_record_parse_hvcc(tag->data, tag->len, t);
    case NGX_LIVE_RECORD_CODEC_AV1:
        return ngx_live_record_parse_av1c(tag->data, tag->len, t);
    }

    if (tag->codec == NGX_LIVE_RECORD_CODEC_AAC) {
        return ngx_live_record_parse_aac(tag->data, tag->len, t);
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_live_record_parse_avc(u_char *p, size_t len, ngx_live_record_track_t *t)
{
    size_t  n;

    /* AVCDecoderConfigurationRecord with at least one SPS */

    if (len < 8 || p[0] != 1 || (p[5] & 0x1f) == 0) {
        return NGX_ERROR;
    }

    n = ((size_t) p[6] << 8) | p[7];

    if (n == 0 || n > len - 8) {
        return NGX_ERROR;
    }

    return ngx_live_record_parse_sps(p + 8, n, t);
}


static ngx_int_t
ngx_live_record_parse_sps(u_char *p, size_t len, ngx_live_record_track_t *t)
{
    u_char                  rbsp[NGX_LIVE_RECORD_SPS_MAX];
    size_t                  n;
    uint32_t                profile, chroma, planes, frame_mbs_only, w, h,
                            fields, poc, k;
    ngx_live_record_bits_t  br;

    if (len < 4 || (p[0] & 0x1f) != 7) {
        return NGX_ERROR;
    }

    n = ngx_live_record_unescape(rbsp, sizeof(rbsp), p + 1, len - 1);

    br.p = rbsp;
    br.last = rbsp + n;
    br.bit = 0;
    br.error = 0;

    profile = ngx_live_record_bits_get(&br, 8);
    (void) ngx_live_record_bits_get(&br, 16);    /* constraints, level */
    (void) ngx_live_record_bits_ue(&br);         /* sps id */

    chroma = 1;
    planes = 0;

    if (profile == 100 || profile == 110 || profile == 122 || profile == 244
        || profile == 44 || profile == 83 || profile == 86 || profile == 118
        || profile == 128 || profile == 138 || profile == 139
        || profile == 134 || profile == 135)
    {
        chroma = ngx_live_record_bits_ue(&br);
        planes = (chroma == 3) ? ngx_live_record_bits_get(&br, 1) : 0;

        (void) ngx_live_record_bits_ue(&br);     /* luma bit depth */
        (void) ngx_live_record_bits_ue(&br);     /* chroma bit depth */
        (void) ngx_live_record_bits_get(&br, 1); /* qpprime bypass */

        if (ngx_live_record_bits_get(&br, 1)) {
            for (k = 0; k < ((chroma != 3) ? 8 : 12); k++) {
                if (ngx_live_record_bits_get(&br, 1)) {
                    ngx_live_record_skip_scaling_list(&br, k < 6 ? 16 : 64);
                }
            }
        }
    }

    (void) ngx_live_record_bits_ue(&br);         /* log2 max frame num */
    poc = ngx_live_record_bits_ue(&br);

    if (poc == 0) {
        (void) ngx_live_record_bits_ue(&br);

    } else if (poc == 1) {
        (void) ngx_live_record_bits_get(&br, 1);
        (void) ngx_live_record_bits_se(&br);
        (void) ngx_live_record_bits_se(&br);
        n = ngx_live_record_bits_ue(&br);

        for (k = 0; k < n && !br.error; k++) {
            (void) ngx_live_record_bits_se(&br);
        }
    }

    (void) ngx_live_record_bits_ue(&br);         /* max ref frames */
    (void) ngx_live_record_bits_get(&br, 1);     /* gaps allowed */
    w = ngx_live_record_bits_ue(&br) + 1;
    h = ngx_live_record_bits_ue(&br) + 1;
    frame_mbs_only = ngx_live_record_bits_get(&br, 1);

    if (!frame_mbs_only) {
        (void) ngx_live_record_bits_get(&br, 1);
    }

    (void) ngx_live_record_bits_get(&br, 1);     /* direct 8x8 */

    if (br.error || w > 1024 || h > 1024) {
        return NGX_ERROR;
    }

    /* macroblocks; a frame of two fields has twice their rows */

    fields = 2 - frame_mbs_only;

    return ngx_live_record_parse_crop(&br, w * 16, h * 16 * fields, chroma,
                                      planes, fields, 8192, t);
}


/*
 * HEVC and AV1 configuration records, read for what the files announce:
 * the picture size.  HEVCDecoderConfigurationRecord is ISO 14496-15
 * 8.3.3.1.2 and its SPS H.265 7.3.2.2; AV1CodecConfigurationRecord is
 * AV1-ISOBMFF 2.3.3 and its sequence header OBU AV1 5.5.
 */

ngx_int_t
ngx_live_record_parse_hvcc(u_char *p, size_t len, ngx_live_record_track_t *t)
{
    u_char      *last;
    size_t       n;
    ngx_uint_t   arrays, nalus, type, i, j;

    /* 22 bytes of general fields, then the arrays of parameter sets */

    if (len < 23 || p[0] != 1) {
        return NGX_ERROR;
    }

    last = p + len;
    arrays = p[22];
    p += 23;

    for (i = 0; i < arrays; i++) {
        if (last - p < 3) {
            return NGX_ERROR;
        }

        type = p[0] & 0x3f;
        nalus = ((ngx_uint_t) p[1] << 8) | p[2];
        p += 3;

        for (j = 0; j < nalus; j++) {
            if (last - p < 2) {
                return NGX_ERROR;
            }

            n = ((size_t) p[0] << 8) | p[1];
            p += 2;

            if (n > (size_t) (last - p)) {
                return NGX_ERROR;
            }

            if (type == NGX_LIVE_RECORD_HEVC_SPS) {
                /* the first SPS tells the size */
                return ngx_live_record_parse_hevc_sps(p, n, t);
            }

            p += n;
        }
    }

    return NGX_ERROR;
}


static ngx_int_t
ngx_live_record_parse_hevc_sps(u_char *p, size_t len,
    ngx_live_record_track_t *t)
{
    u_char                  rbsp[NGX_LIVE_RECORD_HEVC_SPS_MAX];
    size_t                  n;
    uint32_t                sub_layers, chroma, planes, w, h, i;
    uint32_t                profile_present[8], level_present[8];
    ngx_live_record_bits_t  br;

    if (len < 3 || ((p[0] >> 1) & 0x3f) != NGX_LIVE_RECORD_HEVC_SPS) {
        return NGX_ERROR;
    }

    n = ngx_live_record_unescape(rbsp, sizeof(rbsp), p + 2, len - 2);

    br.p = rbsp;
    br.last = rbsp + n;
    br.bit = 0;
    br.error = 0;

    (void) ngx_live_record_bits_get(&br, 4);     /* vps id */
    sub_layers = ngx_live_record_bits_get(&br, 3);
    (void) ngx_live_record_bits_get(&br, 1);     /* temporal id nesting */

    if (sub_layers > 6) {
        return NGX_ERROR;
    }

    /* profile_tier_level(1, sub_layers): general profile and level */

    for (i = 0; i < 3; i++) {
        (void) ngx_live_record_bits_get(&br, 32);
    }

    for (i = 0; i < sub_layers; i++) {
        profile_present[i] = ngx_live_record_bits_get(&br, 1);
        level_present[i] = ngx_live_record_bits_get(&br, 1);
    }

    if (sub_layers > 0) {
        (void) ngx_live_record_bits_get(&br, 2 * (8 - sub_layers));
    }

    for (i = 0; i < sub_layers; i++) {
        if (profile_present[i]) {
            (void) ngx_live_record_bits_get(&br, 32);
            (void) ngx_live_record_bits_get(&br, 32);
            (void) ngx_live_record_bits_get(&br, 24);
        }

        if (level_present[i]) {
            (void) ngx_live_record_bits_get(&br, 8);
        }
    }

    (void) ngx_live_record_bits_ue(&br);         /* sps id */
    chroma = ngx_live_record_bits_ue(&br);
    planes = (chroma == 3) ? ngx_live_record_bits_get(&br, 1) : 0;
    w = ngx_live_record_bits_ue(&br);
    h = ngx_live_record_bits_ue(&br);

    if (br.error || chroma > 3 || w == 0 || h == 0
        || w > NGX_LIVE_RECORD_MAX_SIZE || h > NGX_LIVE_RECORD_MAX_SIZE)
    {
        return NGX_ERROR;
    }

    return ngx_live_record_parse_crop(&br, w, h, chroma, planes, 1,
                                      NGX_LIVE_RECORD_MAX_SIZE, t);
}


/*
 * The cropping window that ends an H.264 or H.265 SPS's picture size
 * (frame_cropping, conformance_window), taken off w x h luma samples.
 * Its offsets are in chroma samples (H.265 table 6-1; separate colour
 * planes are cropped as monochrome), its rows count "fields" times (an
 * H.264 frame of two fields); offsets above max would wrap the sums.
 */

static ngx_int_t
ngx_live_record_parse_crop(ngx_live_record_bits_t *br, uint32_t w, uint32_t h,
    uint32_t chroma, uint32_t planes, uint32_t fields, uint32_t max,
    ngx_live_record_track_t *t)
{
    uint32_t  crop_l, crop_r, crop_t, crop_b, sub_w, sub_h;

    crop_l = crop_r = crop_t = crop_b = 0;

    if (ngx_live_record_bits_get(br, 1)) {
        crop_l = ngx_live_record_bits_ue(br);
        crop_r = ngx_live_record_bits_ue(br);
        crop_t = ngx_live_record_bits_ue(br);
        crop_b = ngx_live_record_bits_ue(br);
    }

    if (br->error
        || crop_l > max || crop_r > max || crop_t > max || crop_b > max)
    {
        return NGX_ERROR;
    }

    sub_w = (!planes && (chroma == 1 || chroma == 2)) ? 2 : 1;
    sub_h = (!planes && chroma == 1) ? 2 : 1;

    crop_l = (crop_l + crop_r) * sub_w;
    crop_t = (crop_t + crop_b) * sub_h * fields;

    if (crop_l >= w || crop_t >= h) {
        return NGX_ERROR;
    }

    t->width = w - crop_l;
    t->height = h - crop_t;

    return NGX_OK;
}


ngx_int_t
ngx_live_record_parse_av1c(u_char *p, size_t len, ngx_live_record_track_t *t)
{
    size_t      header, size;
    ngx_uint_t  type;

    /* marker and version 1, then the configOBUs */

    if (len < 4 || p[0] != 0x81) {
        return NGX_ERROR;
    }

    p += 4;
    len -= 4;

    while (len) {
        if (ngx_live_record_obu(p, len, &type, &header, &size) != NGX_OK) {
            return NGX_ERROR;
        }

        if (type == NGX_LIVE_RECORD_OBU_SEQUENCE) {
            return ngx_live_record_parse_av1_seq(p + header, size, t);
        }

        p += header + size;
        len -= header + size;
    }

    /* without a sequence header the size is unknown: not recorded */

    return NGX_ERROR;
}


/*
 * A temporal unit as MP4 wants it: AV1-ISOBMFF 2.4 says samples carry
 * no temporal delimiter, which encoders put first.
 */

ngx_int_t
ngx_live_record_av1_skip_td(ngx_live_record_tag_t *tag)
{
    size_t      header, size;
    ngx_uint_t  type;

    while (tag->len) {
        if (ngx_live_record_obu(tag->data, tag->len, &type, &header, &size)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (type != NGX_LIVE_RECORD_OBU_TD) {
            break;
        }

        tag->data += header + size;
        tag->len -= header + size;
    }

    return NGX_OK;
}


/* one OBU of the low overhead format: each has its size field */

static ngx_int_t
ngx_live_record_obu(u_char *p, size_t len, ngx_uint_t *type, size_t *header,
    size_t *size)
{
    size_t      n;
    uint64_t    v;
    ngx_uint_t  i;

    if (len < 2 || (p[0] & 0x80) || !(p[0] & 0x02)) {
        return NGX_ERROR;
    }

    *type = (p[0] >> 3) & 0x0f;
    n = (p[0] & 0x04) ? 2 : 1;          /* the extension byte */

    /* leb128 (AV1 4.10.5): at most 8 bytes */

    v = 0;

    for (i = 0; i < 8; i++) {
        if (n >= len) {
            return NGX_ERROR;
        }

        v |= (uint64_t) (p[n] & 0x7f) << (7 * i);

        if (!(p[n++] & 0x80)) {
            break;
        }
    }

    if (i == 8 || v > len - n) {
        return NGX_ERROR;
    }

    *header = n;
    *size = (size_t) v;

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_parse_av1_seq(u_char *p, size_t len,
    ngx_live_record_track_t *t)
{
    uint32_t                reduced, timing, decoder, initial, points, i,
                            delay_len, level, wbits, hbits, w, h;
    ngx_live_record_bits_t  br;

    br.p = p;
    br.last = p + len;
    br.bit = 0;
    br.error = 0;

    (void) ngx_live_record_bits_get(&br, 3);     /* seq_profile */
    (void) ngx_live_record_bits_get(&br, 1);     /* still_picture */
    reduced = ngx_live_record_bits_get(&br, 1);

    if (reduced) {
        (void) ngx_live_record_bits_get(&br, 5); /* seq_level_idx[0] */

    } else {
        timing = ngx_live_record_bits_get(&br, 1);
        decoder = 0;
        delay_len = 0;

        if (timing) {
            (void) ngx_live_record_bits_get(&br, 32);
            (void) ngx_live_record_bits_get(&br, 32);

            if (ngx_live_record_bits_get(&br, 1)) {
                (void) ngx_live_record_bits_uvlc(&br);
            }

            decoder = ngx_live_record_bits_get(&br, 1);

            if (decoder) {
                delay_len = ngx_live_record_bits_get(&br, 5) + 1;
                (void) ngx_live_record_bits_get(&br, 32);
                (void) ngx_live_record_bits_get(&br, 10);
            }
        }

        initial = ngx_live_record_bits_get(&br, 1);
        points = ngx_live_record_bits_get(&br, 5) + 1;

        for (i = 0; i < points && !br.error; i++) {
            (void) ngx_live_record_bits_get(&br, 12);  /* operating point */
            level = ngx_live_record_bits_get(&br, 5);

            if (level > 7) {
                (void) ngx_live_record_bits_get(&br, 1);
            }

            if (decoder && ngx_live_record_bits_get(&br, 1)) {
                (void) ngx_live_record_bits_get(&br, delay_len);
                (void) ngx_live_record_bits_get(&br, delay_len);
                (void) ngx_live_record_bits_get(&br, 1);
            }

            if (initial && ngx_live_record_bits_get(&br, 1)) {
                (void) ngx_live_record_bits_get(&br, 4);
            }
        }
    }

    wbits = ngx_live_record_bits_get(&br, 4) + 1;
    hbits = ngx_live_record_bits_get(&br, 4) + 1;
    w = ngx_live_record_bits_get(&br, wbits);
    h = ngx_live_record_bits_get(&br, hbits);

    if (br.error || w >= NGX_LIVE_RECORD_MAX_SIZE
        || h >= NGX_LIVE_RECORD_MAX_SIZE)
    {
        return NGX_ERROR;
    }

    t->width = w + 1;
    t->height = h + 1;

    return NGX_OK;
}


/* uvlc() (AV1 4.10.3): 32 leading zeros or more mean 2^32 - 1 */

static uint32_t
ngx_live_record_bits_uvlc(ngx_live_record_bits_t *br)
{
    ngx_uint_t  zeros;

    zeros = 0;

    while (ngx_live_record_bits_get(br, 1) == 0) {
        if (br->error) {
            return 0;
        }

        zeros++;
    }

    if (zeros >= 32) {
        return 0xffffffff;
    }

    return (uint32_t) ((1ULL << zeros) - 1
                       + ngx_live_record_bits_get(br, zeros));
}


static ngx_int_t
ngx_live_record_parse_aac(u_char *p, size_t len, ngx_live_record_track_t *t)
{
    uint32_t                object, index, channels;
    ngx_live_record_bits_t  br;

    br.p = p;
    br.last = p + len;
    br.bit = 0;
    br.error = 0;

    object = ngx_live_record_bits_get(&br, 5);

    if (object == 31) {
        (void) ngx_live_record_bits_get(&br, 6);
    }

    index = ngx_live_record_bits_get(&br, 4);

    if (index == 15) {
        t->sample_rate = ngx_live_record_bits_get(&br, 24);

    } else if (index < sizeof(ngx_live_record_aac_rates) / sizeof(ngx_uint_t)) {
        t->sample_rate = ngx_live_record_aac_rates[index];

    } else {
        return NGX_ERROR;
    }

    channels = ngx_live_record_bits_get(&br, 4);

    if (br.error || object == 0 || t->sample_rate == 0 || channels > 7) {
        return NGX_ERROR;
    }

    /* 0: channels in a program config element; assume stereo */
    t->channels = (channels == 0) ? 2 : (channels == 7) ? 8 : channels;

    return NGX_OK;
}


ngx_int_t
ngx_live_record_parse_mp3(u_char *p, size_t len, ngx_live_record_track_t *t)
{
    ngx_uint_t  version, index;

    static ngx_uint_t  rates[] = { 44100, 48000, 32000 };

    if (len < 4 || p[0] != 0xff || (p[1] & 0xe0) != 0xe0) {
        return NGX_ERROR;
    }

    version = (p[1] >> 3) & 3;        /* 0: 2.5, 2: 2, 3: 1 */
    index = (p[2] >> 2) & 3;

    if (version == 1 || index == 3 || ((p[1] >> 1) & 3) == 0) {
        return NGX_ERROR;
    }

    ngx_memzero(t, sizeof(ngx_live_record_track_t));

    t->codec = NGX_LIVE_RECORD_CODEC_MP3;
    t->sample_rate = rates[index] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
    t->channels = ((p[3] >> 6) == 3) ? 1 : 2;

    return NGX_OK;
}


const char *
ngx_live_record_codec_name(ngx_uint_t codec)
{
    switch (codec) {
    case NGX_LIVE_RECORD_CODEC_H264:
        return "h264";
    case NGX_LIVE_RECORD_CODEC_AAC:
        return "aac";
    case NGX_LIVE_RECORD_CODEC_MP3:
        return "mp3";
    case NGX_LIVE_RECORD_CODEC_H265:
        return "h265";
    case NGX_LIVE_RECORD_CODEC_AV1:
        return "av1";
    default:
        return "none";
    }
}


/* a NAL unit's payload without its emulation prevention bytes */

static size_t
ngx_live_record_unescape(u_char *dst, size_t size, u_char *p, size_t len)
{
    size_t  i, n, zeros;

    n = 0;
    zeros = 0;

    for (i = 0; i < len && n < size; i++) {
        if (zeros >= 2 && p[i] == 3) {
            zeros = 0;
            continue;
        }

        zeros = (p[i] == 0) ? zeros + 1 : 0;
        dst[n++] = p[i];
    }

    return n;
}


static uint32_t
ngx_live_record_bits_get(ngx_live_record_bits_t *br, ngx_uint_t n)
{
    uint32_t  v;

    v = 0;

    while (n--) {
        if (br->p >= br->last) {
            br->error = 1;
            return 0;
        }

        v = (v << 1) | ((*br->p >> (7 - br->bit)) & 1);

        if (++br->bit == 8) {
            br->bit = 0;
            br->p++;
        }
    }

    return v;
}


static uint32_t
ngx_live_record_bits_ue(ngx_live_record_bits_t *br)
{
    ngx_uint_t  zeros;

    zeros = 0;

    while (ngx_live_record_bits_get(br, 1) == 0) {
        if (br->error || ++zeros > 31) {
            br->error = 1;
            return 0;
        }
    }

    return (uint32_t) ((1ULL << zeros) - 1
                       + ngx_live_record_bits_get(br, zeros));
}


static int32_t
ngx_live_record_bits_se(ngx_live_record_bits_t *br)
{
    uint32_t  v;

    v = ngx_live_record_bits_ue(br);

    return (v & 1) ? (int32_t) ((v + 1) / 2) : -(int32_t) (v / 2);
}


static void
ngx_live_record_skip_scaling_list(ngx_live_record_bits_t *br, ngx_uint_t size)
{
    int32_t     last, next, delta;
    ngx_uint_t  i;

    last = 8;
    next = 8;

    for (i = 0; i < size && !br->error; i++) {
        if (next != 0) {
            delta = ngx_live_record_bits_se(br);

            /* delta_scale is -128..127; more would overflow the sum */
            if (delta < -128 || delta > 127) {
                br->error = 1;
                return;
            }

            next = (last + delta + 256) % 256;
        }

        last = (next == 0) ? last : next;
    }
}
