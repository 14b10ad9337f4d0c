
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * Unit driver for appending to an FLV or ADTS part another process wrote
 * (mux/ngx_live_record_writer.c; t/writer_append.t): reads an FLV file,
 * turns its tags into frames with the module's codec parser, times them as
 * ngx_live_record_part_write() does and writes them with one writer, the
 * way a part's thread tasks do, without a thread pool.
 *
 *   writer_drive [-H] [-A from_ms] flv|aac in.flv out
 *
 * -H hands the part over at the end (detach: written and closed without a
 * trailer); -A appends to such a part instead of creating it, the input's
 * first frame at from_ms of the part, as a reconnect does.  Prints the
 * input's span (ms) and the frames written per track.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_codec.h"
#include "ngx_live_record_writer.h"
#include "ngx_stub.h"

#if (NGX_THREADS)
#include <ngx_thread_pool.h>
#endif


/* what writer.c takes from the nginx runtime, never reached here */

volatile ngx_cycle_t  *ngx_cycle;


void *
ngx_calloc(size_t size, ngx_log_t *log)
{
    return calloc(1, size);
}


u_char * ngx_cdecl
ngx_slprintf(u_char *buf, u_char *last, const char *fmt, ...)
{
    return buf;
}


#if (NGX_THREADS)

ngx_int_t
ngx_thread_task_post(ngx_thread_pool_t *tp, ngx_thread_task_t *task)
{
    return NGX_ERROR;
}

#endif


#define drive_tags(data, len, p, type, size, ts)                             \
    for (p = data + 13;                                                      \
         p + 11 <= data + len                                                \
         && (type = p[0] & 0x1f,                                             \
             size = ((size_t) p[1] << 16) | ((size_t) p[2] << 8) | p[3],     \
             ts = ((uint32_t) p[7] << 24) | ((uint32_t) p[4] << 16)          \
                  | ((uint32_t) p[5] << 8) | p[6],                           \
             p + 11 + size <= data + len);                                   \
         p += 11 + size + 4)


int
main(int argc, char **argv)
{
    int                        c, handover, append;
    u_char                    *data, *p;
    size_t                     len, size;
    int64_t                    from, base, dts, last[NGX_LIVE_RECORD_NTRACKS];
    uint32_t                   ts, first, end;
    FILE                      *f;
    ngx_int_t                  rc;
    ngx_str_t                  label = ngx_string("drive/writer");
    ngx_log_t                  log;
    ngx_uint_t                 type, format, seen, started;
    ngx_uint_t                 written[NGX_LIVE_RECORD_NTRACKS];
    ngx_pool_t                *pool;
    struct stat                st;
    ngx_live_record_tag_t      tag;
    ngx_live_record_frame_t    fr;
    ngx_live_record_track_t    tracks[NGX_LIVE_RECORD_NTRACKS], t;
    ngx_live_record_writer_t  *w;

    setvbuf(stdout, NULL, _IOLBF, 0);

    ngx_memzero(&log, sizeof(ngx_log_t));
    log.log_level = NGX_LOG_INFO;

    handover = 0;
    append = 0;
    from = 0;

    while ((c = getopt(argc, argv, "HA:")) != -1) {
        switch (c) {
        case 'H': handover = 1; break;
        case 'A': append = 1; from = atoll(optarg); break;
        default: return 2;
        }
    }

    if (argc - optind != 3) {
        fprintf(stderr, "usage: writer_drive [-H] [-A from_ms] flv|aac "
                "in.flv out\n");
        return 2;
    }

    format = strcmp(argv[optind], "flv") == 0 ? NGX_LIVE_RECORD_FLV
                                              : NGX_LIVE_RECORD_AAC;

    f = fopen(argv[optind + 1], "rb");
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        perror(argv[optind + 1]);
        return 1;
    }

    len = st.st_size;
    data = malloc(len + 1);

    if (data == NULL || fread(data, 1, len, f) != len || len < 13) {
        perror(argv[optind + 1]);
        return 1;
    }

    fclose(f);

    /* the tracks, from the sequence headers; the span, as mp4_drive's */

    ngx_memzero(tracks, sizeof(tracks));
    seen = 0;
    first = 0;
    end = 0;

    drive_tags(data, len, p, type, size, ts) {
        if ((type != NGX_LIVE_RECORD_FLV_AUDIO
             && type != NGX_LIVE_RECORD_FLV_VIDEO)
            || ngx_live_record_parse_tag(type, p + 11, size, &tag) != NGX_OK)
        {
            continue;
        }

        if (tag.kind == NGX_LIVE_RECORD_TAG_HEADER) {
            if (tracks[tag.track].codec == 0
                && ngx_live_record_parse_header(&tag, &t) == NGX_OK)
            {
                tracks[tag.track] = t;
            }

            continue;
        }

        if (tag.kind == NGX_LIVE_RECORD_TAG_FRAME) {
            if (!seen) {
                first = ts;
                seen = 1;
            }

            end = ngx_max(end, ts);
        }
    }

    printf("span=%lld\n", (long long) (end - first) + 40);

    pool = ngx_stub_pool_create(&log);
    if (pool == NULL) {
        return 1;
    }

    w = append
        ? ngx_live_record_writer_append(pool, &log, &label, format,
                                        (u_char *) argv[optind + 2], tracks,
                                        NULL)
        : ngx_live_record_writer_open(pool, &log, &label, format,
                                      (u_char *) argv[optind + 2], tracks,
                                      NULL);
    if (w == NULL) {
        fprintf(stderr, "writer_drive: open failed\n");
        return 1;
    }

    /* as ngx_live_record_part_write(): from a keyframe, time going on */

    started = 0;
    base = 0;
    last[0] = -1;
    last[1] = -1;
    written[0] = 0;
    written[1] = 0;

    drive_tags(data, len, p, type, size, ts) {
        if ((type != NGX_LIVE_RECORD_FLV_AUDIO
             && type != NGX_LIVE_RECORD_FLV_VIDEO)
            || ngx_live_record_parse_tag(type, p + 11, size, &tag) != NGX_OK
            || tag.kind != NGX_LIVE_RECORD_TAG_FRAME
            || tracks[tag.track].codec != tag.codec)
        {
            continue;
        }

        if (!started) {
            if (tag.track == NGX_LIVE_RECORD_VIDEO && !tag.key) {
                continue;
            }

            started = 1;
            base = (int64_t) ts - from;
        }

        dts = ngx_max((int64_t) ts - base, 0);

        if (last[tag.track] >= 0 && dts <= last[tag.track]) {
            dts = last[tag.track] + 1;
        }

        last[tag.track] = dts;

        fr.track = tag.track;
        fr.key = tag.key;
        fr.dts = dts;
        fr.pts = ngx_max((int64_t) ts - base + tag.cts, dts);
        fr.duration = 0;
        fr.data = tag.data;
        fr.len = tag.len;

        rc = ngx_live_record_writer_write(w, &fr);

        if (rc == NGX_ERROR) {
            fprintf(stderr, "writer_drive: write failed\n");
            return 1;
        }

        written[tag.track] += (rc == NGX_OK);
    }

    printf("written video=%lu audio=%lu\n", (unsigned long) written[0],
           (unsigned long) written[1]);

    rc = handover ? ngx_live_record_writer_detach(w)
                  : ngx_live_record_writer_close(w);

    if (rc != NGX_OK) {
        fprintf(stderr, "writer_drive: %s failed\n",
                handover ? "detach" : "close");
        return 1;
    }

    ngx_stub_pool_destroy(pool);
    free(data);

    return 0;
}
