
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * libFuzzer target for what the S3 store reads from the network
 * (store/ngx_live_record_s3.c): an S3 reply body, parsed with libxml2 by
 * ngx_live_record_s3_parse() (Error, InitiateMultipartUploadResult,
 * CompleteMultipartUploadResult, ListPartsResult,
 * ListMultipartUploadsResult), and a response's header block, searched by
 * ngx_live_record_s3_header() for the ETag.  Each input is both.  Checks:
 *
 *   - every string the parser returns is null-terminated at its length;
 *     a part has a number in 1..10000, a size >= 0 and an ETag; an upload
 *     a key and an id; an Initiate reply has its UploadId, an Error its
 *     Code;
 *   - the parts of a ListParts reply make a CompleteMultipartUpload body
 *     (ngx_live_record_s3_complete_body()) that libxml2 reads back
 *     well-formed, with the same numbers and ETags in the same order,
 *     whatever the ETags hold (the body escapes them);
 *   - a header value lies inside the input and holds no line break;
 *     ngx_live_record_s3_etag_is() on it does not read past it.
 *
 * A failed check aborts.  With -DNGX_LIVE_RECORD_FUZZ_MAIN it is a plain
 * program over files and directories (t/fuzz_s3.t: gcc, ASan, UBSan over
 * fuzz/s3/); for libFuzzer, clang -fsanitize=fuzzer,address,undefined:
 *
 *   cc -I<nginx headers> -I<build/ngx> -I. -Istore -It/mp4 \
 *      -I/usr/include/libxml2 fuzz/fuzz_s3_reply.c \
 *      store/ngx_live_record_s3.c t/mp4/ngx_stub.c -lxml2 -lcrypto
 *
 * nginx-dev ships no sources, so ngx_array_push(), ngx_strncasecmp() and
 * ngx_hex_dump(), which the parser uses, are nginx's own code copied below.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include "ngx_live_record_s3.h"
#include "ngx_stub.h"


#define ngx_live_record_fuzz_check(c)                                        \
    do {                                                                     \
        if (!(c)) {                                                          \
            fprintf(stderr, "fuzz_s3_reply: %s:%d: check failed: %s\n",      \
                    __FILE__, __LINE__, #c);                                 \
            abort();                                                         \
        }                                                                    \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ngx_live_record_fuzz_str(ngx_str_t *s);
static void ngx_live_record_fuzz_reply(ngx_pool_t *pool, u_char *p,
    size_t len);
static void ngx_live_record_fuzz_complete(ngx_pool_t *pool,
    ngx_array_t *parts);
static void ngx_live_record_fuzz_header(u_char *p, size_t len);


static ngx_log_t  ngx_live_record_fuzz_log;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *p;
    ngx_pool_t  *pool;

    /* exactly the input's bytes: ASan sees a read past them */

    p = malloc(size ? size : 1);
    ngx_live_record_fuzz_check(p != NULL);
    ngx_memcpy(p, data, size);

    pool = ngx_stub_pool_create(&ngx_live_record_fuzz_log);
    ngx_live_record_fuzz_check(pool != NULL);

    ngx_live_record_fuzz_reply(pool, p, size);
    ngx_live_record_fuzz_header(p, size);

    ngx_stub_pool_destroy(pool);
    free(p);

    return 0;
}


static void
ngx_live_record_fuzz_reply(ngx_pool_t *pool, u_char *p, size_t len)
{
    ngx_uint_t                    i;
    ngx_live_record_s3_part_t    *part;
    ngx_live_record_s3_upload_t  *up;
    ngx_live_record_s3_reply_t    rp;

    if (ngx_live_record_s3_parse(pool, p, len, &rp) != NGX_OK) {
        return;
    }

    ngx_live_record_fuzz_str(&rp.root);
    ngx_live_record_fuzz_str(&rp.code);
    ngx_live_record_fuzz_str(&rp.message);
    ngx_live_record_fuzz_str(&rp.upload_id);
    ngx_live_record_fuzz_str(&rp.etag);
    ngx_live_record_fuzz_str(&rp.next_key);
    ngx_live_record_fuzz_str(&rp.next_upload);

    ngx_live_record_fuzz_check(rp.root.len > 0);
    ngx_live_record_fuzz_check(rp.next_part <= NGX_LIVE_RECORD_S3_MAX_PARTS);

    if (rp.type == NGX_LIVE_RECORD_S3_INITIATE) {
        ngx_live_record_fuzz_check(rp.upload_id.len > 0);
    }

    if (rp.type == NGX_LIVE_RECORD_S3_ERROR) {
        ngx_live_record_fuzz_check(rp.code.len > 0);
    }

    part = rp.parts.elts;

    for (i = 0; i < rp.parts.nelts; i++) {
        ngx_live_record_fuzz_check(rp.type == NGX_LIVE_RECORD_S3_LIST_PARTS);
        ngx_live_record_fuzz_check(part[i].number >= 1
                                   && part[i].number
                                      <= NGX_LIVE_RECORD_S3_MAX_PARTS);
        ngx_live_record_fuzz_check(part[i].size >= 0);
        ngx_live_record_fuzz_check(part[i].etag.len > 0);
        ngx_live_record_fuzz_str(&part[i].etag);
    }

    up = rp.uploads.elts;

    for (i = 0; i < rp.uploads.nelts; i++) {
        ngx_live_record_fuzz_check(rp.type
                                   == NGX_LIVE_RECORD_S3_LIST_UPLOADS);
        ngx_live_record_fuzz_check(up[i].key.len > 0
                                   && up[i].upload_id.len > 0);
        ngx_live_record_fuzz_str(&up[i].key);
        ngx_live_record_fuzz_str(&up[i].upload_id);
    }

    if (rp.parts.nelts) {
        ngx_live_record_fuzz_complete(pool, &rp.parts);
    }
}


/* the body sent back: well-formed, the same parts in the same order */

static void
ngx_live_record_fuzz_complete(ngx_pool_t *pool, ngx_array_t *parts)
{
    xmlDoc                     *doc;
    xmlNode                    *root, *c, *f;
    xmlChar                    *s;
    ngx_str_t                   body;
    ngx_uint_t                  i;
    ngx_live_record_s3_part_t  *part;

    ngx_live_record_fuzz_check(ngx_live_record_s3_complete_body(pool, parts,
                                                                &body)
                               == NGX_OK);

    doc = xmlReadMemory((char *) body.data, (int) body.len, NULL, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR
                        | XML_PARSE_NOWARNING);
    ngx_live_record_fuzz_check(doc != NULL);

    root = xmlDocGetRootElement(doc);
    ngx_live_record_fuzz_check(root != NULL
                               && xmlStrcmp(root->name, (xmlChar *)
                                            "CompleteMultipartUpload") == 0);

    part = parts->elts;
    i = 0;

    for (c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }

        ngx_live_record_fuzz_check(i < parts->nelts);

        for (f = c->children; f; f = f->next) {
            if (f->type != XML_ELEMENT_NODE) {
                continue;
            }

            s = xmlNodeGetContent(f);
            ngx_live_record_fuzz_check(s != NULL);

            if (xmlStrcmp(f->name, (xmlChar *) "ETag") == 0) {
                ngx_live_record_fuzz_check(
                    (size_t) xmlStrlen(s) == part[i].etag.len
                    && ngx_memcmp(s, part[i].etag.data, part[i].etag.len)
                       == 0);

            } else {
                ngx_live_record_fuzz_check(
                    (ngx_uint_t) atoi((char *) s) == part[i].number);
            }

            xmlFree(s);
        }

        i++;
    }

    ngx_live_record_fuzz_check(i == parts->nelts);

    xmlFreeDoc(doc);
}


static void
ngx_live_record_fuzz_header(u_char *p, size_t len)
{
    u_char     md5[16];
    ngx_str_t  headers, v;
    ngx_uint_t i;

    headers.data = p;
    headers.len = len;

    if (ngx_live_record_s3_header(&headers, "ETag", &v) != NGX_OK) {
        return;
    }

    ngx_live_record_fuzz_check(v.len > 0 && v.data >= p
                               && v.data + v.len <= p + len);

    for (i = 0; i < v.len; i++) {
        ngx_live_record_fuzz_check(v.data[i] != '\r' && v.data[i] != '\n');
    }

    ngx_memset(md5, 0xab, sizeof(md5));
    (void) ngx_live_record_s3_etag_is(&v, md5);
}


static void
ngx_live_record_fuzz_str(ngx_str_t *s)
{
    if (s->data == NULL) {
        ngx_live_record_fuzz_check(s->len == 0);
        return;
    }

    ngx_live_record_fuzz_check(s->data[s->len] == '\0');
}


/* nginx's own (src/core/ngx_array.c, ngx_string.c), for the stub build */

void *
ngx_array_push(ngx_array_t *a)
{
    void  *elt, *new;

    if (a->nelts == a->nalloc) {
        new = ngx_palloc(a->pool, 2 * a->size * a->nalloc);
        if (new == NULL) {
            return NULL;
        }

        ngx_memcpy(new, a->elts, a->size * a->nalloc);
        a->elts = new;
        a->nalloc *= 2;
    }

    elt = (u_char *) a->elts + a->size * a->nelts;
    a->nelts++;

    return elt;
}


ngx_int_t
ngx_strncasecmp(u_char *s1, u_char *s2, size_t n)
{
    ngx_uint_t  c1, c2;

    while (n) {
        c1 = (ngx_uint_t) *s1++;
        c2 = (ngx_uint_t) *s2++;

        c1 = (c1 >= 'A' && c1 <= 'Z') ? (c1 | 0x20) : c1;
        c2 = (c2 >= 'A' && c2 <= 'Z') ? (c2 | 0x20) : c2;

        if (c1 == c2) {

            if (c1) {
                n--;
                continue;
            }

            return 0;
        }

        return c1 - c2;
    }

    return 0;
}


u_char *
ngx_hex_dump(u_char *dst, u_char *src, size_t len)
{
    static u_char  hex[] = "0123456789abcdef";

    while (len--) {
        *dst++ = hex[*src >> 4];
        *dst++ = hex[*src++ & 0xf];
    }

    return dst;
}


#define NGX_LIVE_RECORD_FUZZ_NAME  "fuzz_s3_reply"
#include "ngx_live_record_fuzz_main.h"
