
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for core/ngx_live_record_utf8.c, which decides what
 * of a publisher's names and query strings and of an API request may
 * reach JSON.  Each input runs through every function, and each answer is
 * checked against a reference decoder written the other way round (the
 * code point first, then its range) and against the others:
 *
 *   - utf8_text() accepts exactly what the reference accepts;
 *   - utf8_fix() makes text of anything, leaving text as it was;
 *   - utf8_escape() says the length it then writes, at most 3 bytes a
 *     byte, and writes text that leaves text as it was;
 *   - uri_text() of an input is utf8_text() of its %-decoding when the
 *     %-encoding is whole, and refuses the input otherwise;
 *   - json_text_ok() never accepts what is not text.
 *
 * A failed check aborts.  Built with -DNGX_LIVE_RECORD_FUZZ_MAIN it is a
 * plain program over files (t/fuzz.t, fuzz/regress-utf8/).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_utf8.h"


#define NGX_LIVE_RECORD_FUZZ_NAME  "fuzz_utf8"

#define ngx_live_record_fuzz_check(c)                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_utf8: %s:%d: check failed: %s\n",          \
                    __FILE__, __LINE__, #c);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


static ngx_int_t ngx_live_record_fuzz_reference(u_char *p, size_t len);
static ngx_int_t ngx_live_record_fuzz_unescape(u_char *p, size_t len,
    u_char *dst, size_t *n);


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char     *in, *buf, *dec;
    size_t      n, m;
    ngx_int_t   text, rc;

    /* copies of exactly the input's size, so that ASan sees overreads */

    in = malloc(size + 1);
    buf = malloc(3 * size + 1);
    dec = malloc(size + 1);

    ngx_live_record_fuzz_check(in && buf && dec);

    if (size) {
        memcpy(in, data, size);
    }

    text = ngx_live_record_utf8_text(in, size);

    ngx_live_record_fuzz_check(text
                               == ngx_live_record_fuzz_reference(in, size));

    ngx_live_record_fuzz_check(text == NGX_OK
                               || ngx_live_record_json_text_ok(in, size)
                                  == NGX_ERROR);

    /* escape */

    n = ngx_live_record_utf8_escape(NULL, in, size);
    ngx_live_record_fuzz_check(n <= 3 * size);
    ngx_live_record_fuzz_check(ngx_live_record_utf8_escape(buf, in, size)
                               == n);
    ngx_live_record_fuzz_check(ngx_live_record_utf8_text(buf, n) == NGX_OK);
    ngx_live_record_fuzz_check(text != NGX_OK
                               || (n == size && memcmp(buf, in, n) == 0));

    /* uri */

    rc = ngx_live_record_uri_text(in, size);

    if (ngx_live_record_fuzz_unescape(in, size, dec, &m) != NGX_OK) {
        ngx_live_record_fuzz_check(rc == NGX_ERROR);

    } else {
        ngx_live_record_fuzz_check(rc == ngx_live_record_utf8_text(dec, m));
    }

    /* fix, last: it changes the input */

    ngx_live_record_utf8_fix(in, size);
    ngx_live_record_fuzz_check(ngx_live_record_utf8_text(in, size) == NGX_OK);
    ngx_live_record_fuzz_check(text != NGX_OK
                               || (size == 0 || memcmp(in, data, size) == 0));

    free(in);
    free(buf);
    free(dec);

    return 0;
}


/* the code point first, then whether its form and value are allowed */

static ngx_int_t
ngx_live_record_fuzz_reference(u_char *p, size_t len)
{
    size_t    i, k, n;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        if (p[i] == 0) {
            return NGX_ERROR;
        }

        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 2; cp = p[i] & 0x1f; min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3; cp = p[i] & 0x0f; min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 4; cp = p[i] & 0x07; min = 0x10000;

        } else {
            return NGX_ERROR;
        }

        if (i + n > len) {
            return NGX_ERROR;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return NGX_ERROR;
            }

            cp = (cp << 6) | (p[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_fuzz_unescape(u_char *p, size_t len, u_char *dst, size_t *n)
{
    size_t        i;
    unsigned int  v;
    char          hex[3];

    *n = 0;

    for (i = 0; i < len; i++) {
        if (p[i] != '%') {
            dst[(*n)++] = p[i];
            continue;
        }

        if (i + 2 >= len || !isxdigit(p[i + 1]) || !isxdigit(p[i + 2])) {
            return NGX_ERROR;
        }

        hex[0] = p[i + 1];
        hex[1] = p[i + 2];
        hex[2] = '\0';

        (void) sscanf(hex, "%x", &v);

        dst[(*n)++] = (u_char) v;
        i += 2;
    }

    return NGX_OK;
}


#include "ngx_live_record_fuzz_main.h"
