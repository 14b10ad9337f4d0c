
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * An HLS recording's playlist: the EVENT playlist a job writes after each
 * segment, the VOD playlist it becomes, and the one a crash left, which
 * recovery finishes with the segment that was being written.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_hls.h"


/* seconds: an #EXTINF from a day on is none the writer wrote */
#define NGX_LIVE_RECORD_HLS_MAX_EXTINF  86400


static u_char *ngx_live_record_hls_render(ngx_live_record_part_t *p,
    ngx_uint_t final, ngx_uint_t n, int64_t longest, size_t *len,
    ngx_log_t *log);


/*
 * Runs in the finalize thread, the jobs done: the playlist becomes a VOD
 * one, and the reserve makes room for it.
 */

ngx_int_t
ngx_live_record_hls_finalize(ngx_live_record_part_t *p, ngx_log_t *log)
{
    u_char                 *path;
    ngx_live_record_hls_t  *h;

    h = p->hls;

    path = ngx_live_record_hls_file(p, NGX_LIVE_RECORD_RESERVE, log);
    if (path) {
        (void) ngx_delete_file(path);
        ngx_free(path);
    }

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%V\" hls playlist final, %ui segments",
                   &p->st.label, h->listed);

    return ngx_live_record_hls_write_playlist(p, 1, h->listed, h->longest,
                                              log);
}


/* the first n listed segments; in a job or the finalize thread */

ngx_int_t
ngx_live_record_hls_write_playlist(ngx_live_record_part_t *p,
    ngx_uint_t final, ngx_uint_t n, int64_t longest, ngx_log_t *log)
{
    u_char     *path;
    ngx_str_t   text;
    ngx_int_t   rc;

    text.data = ngx_live_record_hls_render(p, final, n, longest, &text.len,
                                           log);
    if (text.data == NULL) {
        return NGX_ERROR;
    }

    path = ngx_live_record_hls_file(p, NGX_LIVE_RECORD_PLAYLIST, log);
    if (path == NULL) {
        ngx_free(text.data);
        return NGX_ERROR;
    }

    rc = ngx_live_record_write_atomic(path, &text, 1, log);

    ngx_free(text.data);
    ngx_free(path);

    return rc;
}


/*
 * The loop only appends to the list of segments while a job reads its
 * first n: list parts never move, and a part's next pointer is set before
 * any segment in it is counted.
 */

static u_char *
ngx_live_record_hls_render(ngx_live_record_part_t *p, ngx_uint_t final,
    ngx_uint_t n, int64_t longest, size_t *len, ngx_log_t *log)
{
    u_char                     *text, *s;
    ngx_tm_t                    tm;
    ngx_uint_t                  i, k, target, count;
    ngx_list_part_t            *part;
    ngx_live_record_hls_t      *h;
    ngx_live_record_segment_t  *seg;

    h = p->hls;

    /* the longest segment rounded up; while live, at least the target */

    target = (ngx_uint_t) ((longest + 999) / 1000);

    if (!final) {
        target = ngx_max(target, (p->tpl->hls_fragment + 999) / 1000);
    }

    target = ngx_max(target, 1);

    text = ngx_alloc(256 + n * 128, log);
    if (text == NULL) {
        return NULL;
    }

    s = ngx_sprintf(text,
                    "#EXTM3U\n"
                    "#EXT-X-VERSION:3\n"
                    "#EXT-X-PLAYLIST-TYPE:%s\n"
                    "#EXT-X-TARGETDURATION:%ui\n"
                    "#EXT-X-MEDIA-SEQUENCE:0\n",
                    final ? "VOD" : "EVENT", target);

    part = &h->segments.part;
    seg = part->elts;
    count = 0;

    for (i = 0, k = 0; i < n; i++, k++) {

        if (k == h->segments.nalloc) {
            part = part->next;
            seg = part->elts;
            k = 0;
        }

        if (seg[k].gone) {
            continue;
        }

        count++;

        if (seg[k].discont) {
            s = ngx_sprintf(s, "#EXT-X-DISCONTINUITY\n");
        }

        if (seg[k].pdt) {
            ngx_libc_gmtime((time_t) (seg[k].pdt / 1000), &tm);

            s = ngx_sprintf(s, "#EXT-X-PROGRAM-DATE-TIME:"
                            "%4d-%02d-%02dT%02d:%02d:%02d.%03uLZ\n",
                            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                            tm.tm_hour, tm.tm_min, tm.tm_sec,
                            seg[k].pdt % 1000);
        }

        s = ngx_sprintf(s, "#EXTINF:%.3f,\n%ui.ts\n",
                        (double) seg[k].duration / 1000, seg[k].n);
    }

    if (final) {
        s = ngx_sprintf(s, "#EXT-X-ENDLIST\n");
        p->files[NGX_LIVE_RECORD_HLS].segments = count;
    }

    *len = s - text;

    return text;
}


/*
 * A recovered recording (its worker is gone): the EVENT playlist in the
 * work path lists the finished segments; it becomes the VOD playlist, and
 * the segment that was being written, cut at its last whole packet, is
 * listed after them with its real duration.  Without a playlist (the
 * worker died during the first segment) one is made for that segment.
 * Runs in the finalize thread.
 */

ngx_int_t
ngx_live_record_hls_recover(ngx_live_record_part_t *p, ngx_log_t *log)
{
    u_char                  *path, *s, *e, *last, *out, *o;
    off_t                    size;
    double                   d, longest;
    int64_t                  ms;
    ngx_int_t                rc;
    ngx_str_t                text, playlist;
    ngx_uint_t               listed, header;
    ngx_file_info_t          fi;
    ngx_live_record_file_t  *f;

    f = &p->files[NGX_LIVE_RECORD_HLS];
    rc = NGX_ERROR;
    out = NULL;
    text.data = NULL;
    text.len = 0;

    path = ngx_alloc(f->work.len + sizeof("/" NGX_LIVE_RECORD_PLAYLIST)
                     + NGX_INT_T_LEN + 8, log);
    if (path == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(path, "%V/" NGX_LIVE_RECORD_RESERVE "%Z", &f->work);
    (void) ngx_delete_file(path);

    ngx_sprintf(path, "%V/" NGX_LIVE_RECORD_PLAYLIST "%Z", &f->work);

    if (ngx_file_info(path, &fi) != NGX_FILE_ERROR
        && ngx_live_record_read_file(path, NGX_LIVE_RECORD_PLAYLIST_MAX,
                                     &text, log)
           != NGX_OK)
    {
        goto done;
    }

    last = text.data + text.len;

    /*
     * a line comes out at most twice as long: "#EXT-X-PLAYLIST-TYPE:" and
     * "#EXT-X-TARGETDURATION:" get a value, any other gets its line break;
     * then the header, a salvaged segment's lines and the end
     */

    out = ngx_alloc(2 * text.len + 256 + 2 * NGX_INT_T_LEN, log);
    if (out == NULL) {
        goto done;
    }

    /* durations and sizes of the listed segments */

    longest = 0;
    listed = 0;
    header = 0;
    p->duration = 0;
    f->size = 0;

    for (s = text.data; s < last; s = e + 1) {
        e = ngx_strlchr(s, last, '\n');
        e = e ? e : last;

        if (e - s > 8 && ngx_strncmp(s, "#EXTINF:", 8) == 0) {
            d = strtod((char *) s + 8, NULL);

            /* not a segment the writer made (NaN too): not counted */
            if (!(d >= 0 && d < NGX_LIVE_RECORD_HLS_MAX_EXTINF)) {
                continue;
            }

            longest = ngx_max(longest, d);
            p->duration += (int64_t) (d * 1000 + 0.5);

        } else if (e - s >= 7 && ngx_strncmp(s, "#EXTM3U", 7) == 0) {
            header = 1;

        } else if (e > s && *s != '#'
                   && e - s <= (ssize_t) NGX_INT_T_LEN + 3)
        {
            ngx_sprintf(path, "%V/%*s%Z", &f->work, e - s, s);
            listed++;

            if (ngx_file_info(path, &fi) != NGX_FILE_ERROR) {
                f->size += ngx_file_size(&fi);
            }
        }
    }

    /* the segment being written when the worker died follows the last */

    ngx_sprintf(path, "%V/%ui.ts%Z", &f->work, listed);

    ms = ngx_live_record_hls_salvage(path, &size, log);

    if (ms > 0) {
        longest = ngx_max(longest, (double) ms / 1000);
        p->duration += ms;
        f->size += size;

        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "live record: \"%V\": the hls segment \"%s\" that "
                      "was being written is kept: %.3fs", &p->st.label,
                      path, (double) ms / 1000);
    }

    if (!header && ms <= 0) {
        /* nothing was written */
        goto done;
    }

    /* the same playlist, VOD, with the target rounded up and an end */

    o = out;

    if (!header) {
        o = ngx_sprintf(o, "#EXTM3U\n"
                           "#EXT-X-VERSION:3\n"
                           "#EXT-X-PLAYLIST-TYPE:VOD\n"
                           "#EXT-X-TARGETDURATION:%ui\n"
                           "#EXT-X-MEDIA-SEQUENCE:0\n",
                        (ngx_uint_t) ngx_max(1, (ngx_int_t) (longest
                                                              + 0.999)));
    }

    for (s = text.data; s < last; s = e + 1) {
        e = ngx_strlchr(s, last, '\n');
        e = e ? e : last;

        if (ngx_strncmp(s, "#EXT-X-PLAYLIST-TYPE:", 21) == 0) {
            o = ngx_sprintf(o, "#EXT-X-PLAYLIST-TYPE:VOD\n");

        } else if (ngx_strncmp(s, "#EXT-X-TARGETDURATION:", 22) == 0) {
            o = ngx_sprintf(o, "#EXT-X-TARGETDURATION:%ui\n",
                            (ngx_uint_t) ngx_max(1, (ngx_int_t) (longest
                                                              + 0.999)));

        } else if (ngx_strncmp(s, "#EXT-X-ENDLIST", 14) != 0 && e > s) {
            o = ngx_sprintf(o, "%*s\n", e - s, s);
        }
    }

    if (ms > 0) {
        if (ngx_live_record_hls_discont(p, listed,
                                        NGX_LIVE_RECORD_MARK_TEST, log)
            == NGX_OK)
        {
            o = ngx_sprintf(o, "#EXT-X-DISCONTINUITY\n");
        }

        o = ngx_sprintf(o, "#EXTINF:%.3f,\n%ui.ts\n", (double) ms / 1000,
                        listed);
    }

    /* a crash between a listing and its mark's deletion leaves two */

    if (listed) {
        (void) ngx_live_record_hls_discont(p, listed - 1,
                                        NGX_LIVE_RECORD_MARK_DELETE, log);
    }

    (void) ngx_live_record_hls_discont(p, listed, NGX_LIVE_RECORD_MARK_DELETE,
                                    log);

    if (ms > 0) {
        listed++;
    }

    o = ngx_sprintf(o, "#EXT-X-ENDLIST\n");

    playlist.data = out;
    playlist.len = o - out;

    ngx_sprintf(path, "%V/" NGX_LIVE_RECORD_PLAYLIST "%Z", &f->work);

    rc = ngx_live_record_write_atomic(path, &playlist, 1, log);

    p->last_ms = p->start_ms + p->duration;
    f->segments = listed;

done:

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_CRIT, log, 0,
                      "live record: \"%V\": the hls playlist \"%s\" cannot "
                      "be recovered", &p->st.label, path);
    }

    ngx_free(out);
    ngx_free(text.data);
    ngx_free(path);

    return rc;
}


/*
 * A segment cut short by a crash or a write error: MPEG-TS is usable up to
 * its last whole PES, so it is cut there and its real duration read; one
 * with no whole frame is deleted.  In a thread.
 */

int64_t
ngx_live_record_hls_salvage(u_char *path, off_t *size, ngx_log_t *log)
{
    off_t            keep;
    int64_t          ms;
    ngx_file_info_t  fi;

    *size = 0;

    if (ngx_file_info(path, &fi) == NGX_FILE_ERROR) {
        return 0;
    }

    ms = ngx_live_record_ts_scan(path, &keep, log);

    if (ms <= 0) {
        (void) ngx_delete_file(path);
        return 0;
    }

    if (keep < ngx_file_size(&fi) && truncate((char *) path, keep) == -1) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "live record: truncate(\"%s\", %O) failed", path, keep);
        keep = ngx_file_size(&fi);
    }

    *size = keep;

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, log, 0,
                   "live record: \"%s\" salvaged: %O bytes, %L ms",
                   path, keep, ms);

    return ms;
}


/* a file of the recording's directory, freed by the caller */

u_char *
ngx_live_record_hls_file(ngx_live_record_part_t *p, const char *name,
    ngx_log_t *log)
{
    u_char  *path;

    path = ngx_alloc(p->files[NGX_LIVE_RECORD_HLS].work.len
                     + ngx_strlen(name) + 2, log);
    if (path == NULL) {
        return NULL;
    }

    ngx_sprintf(path, "%V/%s%Z", &p->files[NGX_LIVE_RECORD_HLS].work, name);

    return path;
}


/*
 * A segment that follows a discontinuity is marked while it is written
 * (an empty n.discont beside it): a crash before it is listed leaves the
 * recovery no other way to know.  In a thread.  TEST: NGX_OK if marked.
 */

ngx_int_t
ngx_live_record_hls_discont(ngx_live_record_part_t *p, ngx_uint_t n,
    ngx_uint_t op, ngx_log_t *log)
{
    u_char           name[NGX_INT_T_LEN + sizeof(".discont")], *path;
    ngx_fd_t         fd;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    ngx_sprintf(name, "%ui.discont%Z", n);

    path = ngx_live_record_hls_file(p, (char *) name, log);
    if (path == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;

    switch (op) {

    case NGX_LIVE_RECORD_MARK_SET:
        fd = ngx_open_file(path, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                           NGX_FILE_DEFAULT_ACCESS);

        if (fd == NGX_INVALID_FILE) {
            /* the worst a crash then does is a missing discontinuity */
            ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                          "live record: \"%V\": " ngx_open_file_n
                          " \"%s\" failed", &p->st.label, path);
            rc = NGX_ERROR;
            break;
        }

        ngx_close_file(fd);
        break;

    case NGX_LIVE_RECORD_MARK_DELETE:
        if (ngx_delete_file(path) == NGX_FILE_ERROR
            && ngx_errno != NGX_ENOENT)
        {
            ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                          "live record: \"%V\": " ngx_delete_file_n
                          " \"%s\" failed", &p->st.label, path);
            rc = NGX_ERROR;
        }

        break;

    default: /* NGX_LIVE_RECORD_MARK_TEST */
        rc = (ngx_file_info(path, &fi) == NGX_FILE_ERROR) ? NGX_DECLINED
                                                          : NGX_OK;
    }

    ngx_free(path);

    return rc;
}
