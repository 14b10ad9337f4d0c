
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * Strict UTF-8 for what reaches JSON: stream names and query strings from
 * publishers, API query strings and bodies.  Nothing but ngx_core: the
 * fuzz target (fuzz/fuzz_utf8.c) builds it alone.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_utf8.h"


static ngx_int_t ngx_live_record_utf8_scan(u_char *p, size_t len,
    ngx_uint_t fix);
static ngx_int_t ngx_live_record_hex(u_char c);


/* the length of the valid character at p, 0 if there is none */

size_t
ngx_live_record_utf8_char(u_char *p, u_char *last)
{
    u_char  c, lo, hi;
    size_t  n, i;

    c = *p;

    if (c < 0x80) {
        return 1;
    }

    /* the second byte's range rules out overlongs, surrogates, > 10FFFF */

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;

        if (c == 0xe0) {
            lo = 0xa0;

        } else if (c == 0xed) {
            hi = 0x9f;
        }

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;

        if (c == 0xf0) {
            lo = 0x90;

        } else if (c == 0xf4) {
            hi = 0x8f;
        }

    } else {
        return 0;
    }

    if ((size_t) (last - p) < n || p[1] < lo || p[1] > hi) {
        return 0;
    }

    for (i = 2; i < n; i++) {
        if (p[i] < 0x80 || p[i] > 0xbf) {
            return 0;
        }
    }

    return n;
}


ngx_int_t
ngx_live_record_utf8_text(u_char *p, size_t len)
{
    return ngx_live_record_utf8_scan(p, len, 0);
}


/* in place: what is not text becomes '?', the length stays */

void
ngx_live_record_utf8_fix(u_char *p, size_t len)
{
    (void) ngx_live_record_utf8_scan(p, len, 1);
}


/* NGX_ERROR if something is not text; with fix, each such byte is '?' */

static ngx_int_t
ngx_live_record_utf8_scan(u_char *p, size_t len, ngx_uint_t fix)
{
    size_t      n;
    u_char     *last;
    ngx_int_t   rc;

    last = p + len;
    rc = NGX_OK;

    while (p < last) {
        n = ngx_live_record_utf8_char(p, last);

        if (n == 0 || *p == '\0') {
            if (!fix) {
                return NGX_ERROR;
            }

            *p++ = '?';
            rc = NGX_ERROR;
            continue;
        }

        p += n;
    }

    return rc;
}


/*
 * A query string's bytes that are not text become %XX, as a browser
 * would send them; with dst NULL, the length it takes (at most 3 * len).
 */

size_t
ngx_live_record_utf8_escape(u_char *dst, u_char *src, size_t len)
{
    size_t         n, size;
    u_char        *last;
    static u_char  hex[] = "0123456789ABCDEF";

    last = src + len;
    size = 0;

    while (src < last) {
        n = ngx_live_record_utf8_char(src, last);

        if (n == 0 || *src == '\0') {
            if (dst) {
                *dst++ = '%';
                *dst++ = hex[*src >> 4];
                *dst++ = hex[*src & 0xf];
            }

            size += 3;
            src++;
            continue;
        }

        if (dst) {
            dst = ngx_cpymem(dst, src, n);
        }

        size += n;
        src += n;
    }

    return size;
}


/*
 * An API query string: every "%" is followed by two hex digits and the
 * decoded bytes are text ("+" is a byte like any other).
 */

ngx_int_t
ngx_live_record_uri_text(u_char *p, size_t len)
{
    u_char      buf[4], *last, *q, *raw[5];
    size_t      n, k;
    ngx_int_t   hi, lo;

    last = p + len;

    while (p < last) {

        /* up to 4 decoded bytes, and where each starts in the raw text */

        q = p;

        for (k = 0; k < 4 && q < last; k++) {
            raw[k] = q;

            if (*q != '%') {
                buf[k] = *q++;
                continue;
            }

            if (last - q < 3) {
                return NGX_ERROR;
            }

            hi = ngx_live_record_hex(q[1]);
            lo = ngx_live_record_hex(q[2]);

            if (hi < 0 || lo < 0) {
                return NGX_ERROR;
            }

            buf[k] = (u_char) (hi << 4 | lo);
            q += 3;
        }

        raw[k] = q;

        n = ngx_live_record_utf8_char(buf, buf + k);

        if (n == 0 || buf[0] == '\0') {
            return NGX_ERROR;
        }

        p = raw[n];
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/*
 * A JSON text as the API takes it: text, and no string holding "\u0000",
 * which cJSON would turn into a C string cut short.
 */

ngx_int_t
ngx_live_record_json_text_ok(u_char *p, size_t len)
{
    u_char      *last;
    ngx_uint_t   in;

    if (ngx_live_record_utf8_text(p, len) != NGX_OK) {
        return NGX_ERROR;
    }

    last = p + len;
    in = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p == '"') {
            in = !in;
            continue;
        }

        if (!in || *p != '\\') {
            continue;
        }

        if (last - p >= 6 && p[1] == 'u'
            && ngx_strncmp(p + 2, "0000", 4) == 0)
        {
            return NGX_ERROR;
        }

        /* the escaped character, which may be a quote */
        p++;
    }

    return NGX_OK;
}
