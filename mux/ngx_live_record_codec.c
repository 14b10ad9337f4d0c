
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"


#define NGX_LIVE_RECORD_SPS_MAX   512


typedef struct {
    u_char                     *p;
    u_char                     *last;
    ngx_uint_t                  bit;
    ngx_uint_t                  error;
} ngx_live_record_bits_t;


static ngx_int_t ngx_live_record_parse_avc(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_parse_sps(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static ngx_int_t ngx_live_record_parse_aac(u_char *p, size_t len,
    ngx_live_record_track_t *t);
static uint32_t ngx_live_record_bits_get(ngx_live_record_bits_t *br,
    ngx_uint_t n);
static uint32_t ngx_live_record_bits_ue(ngx_live_record_bits_t *br);
static int32_t ngx_live_record_bits_se(ngx_live_record_bits_t *br);
static void ngx_live_record_skip_scaling_list(ngx_live_record_bits_t *br,
    ngx_uint_t size);


static ngx_uint_t  ngx_live_record_aac_rates[] = {
    96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050,
    16000, 12000, 11025, 8000, 7350
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
        tag->track = NGX_LIVE_RECORD_VIDEO;
        tag->key = ((p[0] >> 4) == 1);

        if ((p[0] >> 4) == 5) {
            /* video info / command frame */
            tag->kind = NGX_LIVE_RECORD_TAG_SKIP;
            return NGX_OK;
        }

        if ((p[0] & 0x0f) != 7) {
            tag->kind = NGX_LIVE_RECORD_TAG_CODEC;
            tag->codec = p[0] & 0x0f;
            return NGX_OK;
        }

        tag->codec = NGX_LIVE_RECORD_CODEC_H264;

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

    default:
        tag->kind = NGX_LIVE_RECORD_TAG_CODEC;
        tag->codec = fmt;
        return NGX_OK;
    }
}


ngx_int_t
ngx_live_record_parse_header(ngx_live_record_tag_t *tag,
    ngx_live_record_track_t *t)
{
    ngx_memzero(t, sizeof(ngx_live_record_track_t));

    t->codec = tag->codec;
    t->extradata = tag->data;
    t->extradata_len = tag->len;

    if (tag->codec == NGX_LIVE_RECORD_CODEC_H264) {
        return ngx_live_record_parse_avc(tag->data, tag->len, t);
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
    size_t                  i, n, zeros;
    uint32_t                profile, chroma, planes, frame_mbs_only, w, h,
                            poc, k;
    uint32_t                crop_l, crop_r, crop_t, crop_b, sub_w, sub_h;
    ngx_live_record_bits_t  br;

    if (len < 4 || (p[0] & 0x1f) != 7) {
        return NGX_ERROR;
    }

    /* strip emulation prevention bytes after the NAL header */

    n = 0;
    zeros = 0;

    for (i = 1; i < len && n < sizeof(rbsp); i++) {
        if (zeros >= 2 && p[i] == 3) {
            zeros = 0;
            continue;
        }

        zeros = (p[i] == 0) ? zeros + 1 : 0;
        rbsp[n++] = p[i];
    }

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

    crop_l = crop_r = crop_t = crop_b = 0;

    if (ngx_live_record_bits_get(&br, 1)) {
        crop_l = ngx_live_record_bits_ue(&br);
        crop_r = ngx_live_record_bits_ue(&br);
        crop_t = ngx_live_record_bits_ue(&br);
        crop_b = ngx_live_record_bits_ue(&br);
    }

    /* crops beyond the picture would wrap the sums below */

    if (br.error || w > 1024 || h > 1024
        || crop_l > 8192 || crop_r > 8192 || crop_t > 8192 || crop_b > 8192)
    {
        return NGX_ERROR;
    }

    /* separate colour planes are cropped as monochrome */

    sub_w = (!planes && (chroma == 1 || chroma == 2)) ? 2 : 1;
    sub_h = (!planes && chroma == 1) ? 2 : 1;

    w *= 16;
    h *= 16 * (2 - frame_mbs_only);
    crop_l = (crop_l + crop_r) * sub_w;
    crop_t = (crop_t + crop_b) * sub_h * (2 - frame_mbs_only);

    if (crop_l >= w || crop_t >= h) {
        return NGX_ERROR;
    }

    t->width = w - crop_l;
    t->height = h - crop_t;

    return NGX_OK;
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
    default:
        return "none";
    }
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
