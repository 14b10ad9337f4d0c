
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include "ngx_live_record_s3.h"


/* libxml2's error handlers, as another user of it in nginx may set them */
typedef struct {
    xmlGenericErrorFunc         generic;
    void                       *generic_ctx;
    xmlStructuredErrorFunc      structured;
    void                       *structured_ctx;
} ngx_live_record_s3_errors_t;


static ngx_int_t ngx_live_record_s3_text(ngx_pool_t *pool, xmlNode *node,
    ngx_str_t *value);
static ngx_int_t ngx_live_record_s3_number(ngx_str_t *s, off_t max,
    off_t *n);
static ngx_int_t ngx_live_record_s3_part(ngx_pool_t *pool, xmlNode *node,
    ngx_live_record_s3_reply_t *rp);
static ngx_int_t ngx_live_record_s3_upload(ngx_pool_t *pool, xmlNode *node,
    ngx_live_record_s3_reply_t *rp);
static ngx_uint_t ngx_live_record_s3_is(xmlNode *node, const char *name);
static void ngx_live_record_s3_quiet(ngx_live_record_s3_errors_t *saved);
static void ngx_live_record_s3_loud(ngx_live_record_s3_errors_t *saved);
static void ngx_live_record_s3_no_error(void *ctx, const char *msg, ...);


/*
 * An S3 reply body: the root element says what it is (Error,
 * InitiateMultipartUploadResult, CompleteMultipartUploadResult,
 * ListPartsResult, ListMultipartUploadsResult); its children are read by
 * local name, whatever the namespace.  Strings are copied into the pool.
 * No DTD is loaded and no entity is substituted: a reply comes from the
 * network.
 */

ngx_int_t
ngx_live_record_s3_parse(ngx_pool_t *pool, u_char *text, size_t len,
    ngx_live_record_s3_reply_t *rp)
{
    off_t                         n;
    xmlDoc                       *doc;
    xmlNode                      *root, *c;
    ngx_str_t                     s;
    ngx_int_t                     rc;
    ngx_live_record_s3_errors_t   saved;

    ngx_memzero(rp, sizeof(ngx_live_record_s3_reply_t));

    if (ngx_array_init(&rp->parts, pool, 4,
                       sizeof(ngx_live_record_s3_part_t)) != NGX_OK
        || ngx_array_init(&rp->uploads, pool, 1,
                          sizeof(ngx_live_record_s3_upload_t)) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (len == 0 || len > INT_MAX) {
        return NGX_ERROR;
    }

    ngx_live_record_s3_quiet(&saved);

    doc = xmlReadMemory((char *) text, (int) len, NULL, NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR
                        | XML_PARSE_NOWARNING);

    ngx_live_record_s3_loud(&saved);

    if (doc == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    root = xmlDocGetRootElement(doc);
    if (root == NULL) {
        goto done;
    }

    rp->root.len = ngx_strlen(root->name);
    rp->root.data = ngx_pnalloc(pool, rp->root.len + 1);
    if (rp->root.data == NULL) {
        goto done;
    }

    ngx_memcpy(rp->root.data, root->name, rp->root.len + 1);

    if (ngx_live_record_s3_is(root, "Error")) {
        rp->type = NGX_LIVE_RECORD_S3_ERROR;

    } else if (ngx_live_record_s3_is(root, "InitiateMultipartUploadResult")) {
        rp->type = NGX_LIVE_RECORD_S3_INITIATE;

    } else if (ngx_live_record_s3_is(root, "CompleteMultipartUploadResult")) {
        rp->type = NGX_LIVE_RECORD_S3_COMPLETE;

    } else if (ngx_live_record_s3_is(root, "ListPartsResult")) {
        rp->type = NGX_LIVE_RECORD_S3_LIST_PARTS;

    } else if (ngx_live_record_s3_is(root, "ListMultipartUploadsResult")) {
        rp->type = NGX_LIVE_RECORD_S3_LIST_UPLOADS;
    }

    for (c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }

        if (ngx_live_record_s3_is(c, "Code")) {
            rc = ngx_live_record_s3_text(pool, c, &rp->code);

        } else if (ngx_live_record_s3_is(c, "Message")) {
            rc = ngx_live_record_s3_text(pool, c, &rp->message);

        } else if (ngx_live_record_s3_is(c, "UploadId")) {
            rc = ngx_live_record_s3_text(pool, c, &rp->upload_id);

        } else if (ngx_live_record_s3_is(c, "ETag")) {
            rc = ngx_live_record_s3_text(pool, c, &rp->etag);

        } else if (ngx_live_record_s3_is(c, "IsTruncated")) {
            rc = ngx_live_record_s3_text(pool, c, &s);
            rp->truncated = (s.len == 4
                             && ngx_strncasecmp(s.data, (u_char *) "true", 4)
                                == 0);

        } else if (ngx_live_record_s3_is(c, "NextPartNumberMarker")) {
            rc = ngx_live_record_s3_text(pool, c, &s);

            if (rc == NGX_OK && s.len) {
                rc = ngx_live_record_s3_number(&s,
                                               NGX_LIVE_RECORD_S3_MAX_PARTS,
                                               &n);
                rp->next_part = (ngx_uint_t) n;
            }

        } else if (ngx_live_record_s3_is(c, "NextKeyMarker")) {
            rc = ngx_live_record_s3_text(pool, c, &rp->next_key);

        } else if (ngx_live_record_s3_is(c, "NextUploadIdMarker")) {
            rc = ngx_live_record_s3_text(pool, c, &rp->next_upload);

        } else if (ngx_live_record_s3_is(c, "Part")
                   && rp->type == NGX_LIVE_RECORD_S3_LIST_PARTS)
        {
            rc = ngx_live_record_s3_part(pool, c, rp);

        } else if (ngx_live_record_s3_is(c, "Upload")
                   && rp->type == NGX_LIVE_RECORD_S3_LIST_UPLOADS)
        {
            rc = ngx_live_record_s3_upload(pool, c, rp);

        } else {
            continue;
        }

        if (rc != NGX_OK) {
            goto done;
        }
    }

    rc = NGX_OK;

    /* what each answer cannot do without */

    if ((rp->type == NGX_LIVE_RECORD_S3_INITIATE && rp->upload_id.len == 0)
        || (rp->type == NGX_LIVE_RECORD_S3_ERROR && rp->code.len == 0))
    {
        rc = NGX_ERROR;
    }

done:

    xmlFreeDoc(doc);

    return rc;
}


static ngx_int_t
ngx_live_record_s3_part(ngx_pool_t *pool, xmlNode *node,
    ngx_live_record_s3_reply_t *rp)
{
    off_t                       n;
    xmlNode                    *c;
    ngx_str_t                   s;
    ngx_live_record_s3_part_t  *part;

    part = ngx_array_push(&rp->parts);
    if (part == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(part, sizeof(ngx_live_record_s3_part_t));
    part->size = -1;

    for (c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }

        if (ngx_live_record_s3_is(c, "PartNumber")) {
            if (ngx_live_record_s3_text(pool, c, &s) != NGX_OK
                || ngx_live_record_s3_number(&s, NGX_LIVE_RECORD_S3_MAX_PARTS,
                                             &n)
                   != NGX_OK
                || n == 0)
            {
                return NGX_ERROR;
            }

            part->number = (ngx_uint_t) n;

        } else if (ngx_live_record_s3_is(c, "Size")) {
            if (ngx_live_record_s3_text(pool, c, &s) != NGX_OK
                || ngx_live_record_s3_number(&s, NGX_MAX_OFF_T_VALUE,
                                             &part->size)
                   != NGX_OK)
            {
                return NGX_ERROR;
            }

        } else if (ngx_live_record_s3_is(c, "ETag")) {
            if (ngx_live_record_s3_text(pool, c, &part->etag) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (part->number == 0 || part->size < 0 || part->etag.len == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_s3_upload(ngx_pool_t *pool, xmlNode *node,
    ngx_live_record_s3_reply_t *rp)
{
    xmlNode                      *c;
    ngx_live_record_s3_upload_t  *up;

    up = ngx_array_push(&rp->uploads);
    if (up == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(up, sizeof(ngx_live_record_s3_upload_t));

    for (c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }

        if (ngx_live_record_s3_is(c, "Key")) {
            if (ngx_live_record_s3_text(pool, c, &up->key) != NGX_OK) {
                return NGX_ERROR;
            }

        } else if (ngx_live_record_s3_is(c, "UploadId")) {
            if (ngx_live_record_s3_text(pool, c, &up->upload_id) != NGX_OK) {
                return NGX_ERROR;
            }
        }
    }

    if (up->key.len == 0 || up->upload_id.len == 0) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * libxml2 prints some errors (encodings, I/O) to stderr whatever the
 * parse options, and a worker's stderr is the error log: a hostile reply
 * would write there unformatted.  The caller logs what failed instead.
 */

static void
ngx_live_record_s3_quiet(ngx_live_record_s3_errors_t *saved)
{
    saved->generic = xmlGenericError;
    saved->generic_ctx = xmlGenericErrorContext;
    saved->structured = xmlStructuredError;
    saved->structured_ctx = xmlStructuredErrorContext;

    xmlSetGenericErrorFunc(NULL, ngx_live_record_s3_no_error);
    xmlSetStructuredErrorFunc(NULL, NULL);
}


static void
ngx_live_record_s3_loud(ngx_live_record_s3_errors_t *saved)
{
    xmlSetGenericErrorFunc(saved->generic_ctx, saved->generic);
    xmlSetStructuredErrorFunc(saved->structured_ctx, saved->structured);
}


static void
ngx_live_record_s3_no_error(void *ctx, const char *msg, ...)
{
}


static ngx_uint_t
ngx_live_record_s3_is(xmlNode *node, const char *name)
{
    return xmlStrcmp(node->name, (const xmlChar *) name) == 0;
}


/* an element's text, entities decoded; empty if it has none */

static ngx_int_t
ngx_live_record_s3_text(ngx_pool_t *pool, xmlNode *node, ngx_str_t *value)
{
    size_t    len;
    xmlChar  *s;

    s = xmlNodeGetContent(node);
    if (s == NULL) {
        ngx_str_null(value);
        return NGX_OK;
    }

    len = ngx_strlen(s);

    value->data = ngx_pnalloc(pool, len + 1);
    if (value->data == NULL) {
        xmlFree(s);
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, s, len + 1);
    value->len = len;

    xmlFree(s);

    return NGX_OK;
}


static ngx_int_t
ngx_live_record_s3_number(ngx_str_t *s, off_t max, off_t *n)
{
    off_t       v;
    ngx_uint_t  i;

    if (s->len == 0 || s->len > NGX_OFF_T_LEN) {
        return NGX_ERROR;
    }

    v = 0;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < '0' || s->data[i] > '9'
            || v > (max - (s->data[i] - '0')) / 10)
        {
            return NGX_ERROR;
        }

        v = v * 10 + (s->data[i] - '0');
    }

    *n = v;

    return NGX_OK;
}


/*
 * <CompleteMultipartUpload xmlns="..."><Part><PartNumber>1</PartNumber>
 * <ETag>"..."</ETag></Part>...: built by libxml2, which escapes the ETags.
 */

ngx_int_t
ngx_live_record_s3_complete_body(ngx_pool_t *pool, ngx_array_t *parts,
    ngx_str_t *body)
{
    int                           size;
    u_char                       *etag;
    xmlChar                       num[NGX_INT_T_LEN + 1];
    xmlDoc                       *doc;
    xmlNode                      *root, *part;
    xmlChar                      *text;
    ngx_int_t                     rc;
    ngx_uint_t                    i;
    ngx_live_record_s3_part_t    *p;
    ngx_live_record_s3_errors_t   saved;

    ngx_live_record_s3_quiet(&saved);

    doc = xmlNewDoc((const xmlChar *) "1.0");
    if (doc == NULL) {
        ngx_live_record_s3_loud(&saved);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    text = NULL;

    root = xmlNewNode(NULL, (const xmlChar *) "CompleteMultipartUpload");
    if (root == NULL) {
        goto done;
    }

    xmlDocSetRootElement(doc, root);

    if (xmlNewNs(root,
                 (const xmlChar *) "http://s3.amazonaws.com/doc/2006-03-01/",
                 NULL)
        == NULL)
    {
        goto done;
    }

    p = parts->elts;

    for (i = 0; i < parts->nelts; i++) {
        (void) xmlStrPrintf(num, sizeof(num), "%u", (unsigned) p[i].number);

        etag = ngx_pnalloc(pool, p[i].etag.len + 1);
        if (etag == NULL) {
            goto done;
        }

        *ngx_cpymem(etag, p[i].etag.data, p[i].etag.len) = '\0';

        part = xmlNewChild(root, NULL, (const xmlChar *) "Part", NULL);

        if (part == NULL
            || xmlNewTextChild(part, NULL, (const xmlChar *) "PartNumber",
                               num) == NULL
            || xmlNewTextChild(part, NULL, (const xmlChar *) "ETag", etag)
               == NULL)
        {
            goto done;
        }
    }

    xmlDocDumpMemoryEnc(doc, &text, &size, "UTF-8");

    if (text == NULL || size <= 0) {
        goto done;
    }

    body->data = ngx_pnalloc(pool, size);
    if (body->data == NULL) {
        goto done;
    }

    ngx_memcpy(body->data, text, size);
    body->len = size;

    rc = NGX_OK;

done:

    if (text) {
        xmlFree(text);
    }

    xmlFreeDoc(doc);

    ngx_live_record_s3_loud(&saved);

    return rc;
}


ngx_int_t
ngx_live_record_s3_header(ngx_str_t *headers, const char *name,
    ngx_str_t *value)
{
    u_char  *p, *last, *end, *cr;
    size_t   n;

    n = ngx_strlen(name);
    last = headers->data + headers->len;

    /* each line: "Name:" at its start, any case */

    for (p = headers->data; p < last; p = end + 1) {
        end = ngx_strlchr(p, last, '\n');
        if (end == NULL) {
            end = last;
        }

        if ((size_t) (end - p) <= n || p[n] != ':'
            || ngx_strncasecmp(p, (u_char *) name, n) != 0)
        {
            continue;
        }

        for (p += n + 1; p < end && (*p == ' ' || *p == '\t'); p++) {
            /* void */
        }

        value->data = p;

        /* a bare CR ends it too: what follows is no part of the value */
        cr = ngx_strlchr(p, end, '\r');
        if (cr) {
            end = cr;
        }

        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        value->len = end - p;

        return value->len ? NGX_OK : NGX_ERROR;
    }

    return NGX_ERROR;
}


/* by the key's extension: what a browser playing video_url needs */

const char *
ngx_live_record_s3_content_type(ngx_str_t *key)
{
    size_t       n;
    ngx_uint_t   i;

    static struct {
        const char  *ext;
        const char  *type;
    } types[] = {
        { ".mp4", "video/mp4" },
        { ".flv", "video/x-flv" },
        { ".aac", "audio/aac" },
        { ".m3u8", "application/vnd.apple.mpegurl" },
        { ".ts", "video/mp2t" },
        { NULL, NULL }
    };

    for (i = 0; types[i].ext; i++) {
        n = ngx_strlen(types[i].ext);

        if (key->len > n
            && ngx_strncasecmp(key->data + key->len - n,
                               (u_char *) types[i].ext, n)
               == 0)
        {
            return types[i].type;
        }
    }

    return "application/octet-stream";
}


ngx_uint_t
ngx_live_record_s3_etag_is(ngx_str_t *etag, u_char *md5)
{
    u_char     *p, hex[32];
    size_t      len;

    p = etag->data;
    len = etag->len;

    if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
        p++;
        len -= 2;
    }

    ngx_hex_dump(hex, md5, 16);

    return len == 32 && ngx_strncasecmp(p, hex, 32) == 0;
}


void
ngx_live_record_s3_multipart_md5(u_char *md5s, ngx_uint_t n, u_char *md5)
{
    unsigned int  len;

    (void) EVP_Digest(md5s, n * 16, md5, &len, EVP_md5(), NULL);
}


ngx_int_t
ngx_live_record_s3_md5_parts(u_char *path, off_t size, off_t part_size,
    u_char *md5s, ngx_err_t *err)
{
    int            fd;
    off_t          offset, end;
    u_char        *buf;
    size_t         n;
    ssize_t        got;
    ngx_int_t      rc;
    ngx_uint_t     i;
    unsigned int   len;
    EVP_MD_CTX    *ctx;

    *err = 0;

    fd = open((char *) path, O_RDONLY);
    if (fd == -1) {
        *err = ngx_errno;
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    buf = malloc(65536);
    ctx = EVP_MD_CTX_new();

    if (buf == NULL || ctx == NULL) {
        goto done;
    }

    offset = 0;

    for (i = 0; offset < size; i++) {
        end = ngx_min(offset + part_size, size);

        if (EVP_DigestInit_ex(ctx, EVP_md5(), NULL) != 1) {
            goto done;
        }

        while (offset < end) {
            n = (size_t) ngx_min(end - offset, 65536);

            got = pread(fd, buf, n, offset);

            if (got == -1) {
                *err = ngx_errno;
                goto done;
            }

            if (got == 0) {
                /* shorter than it was: not the file that was recorded */
                goto done;
            }

            if (EVP_DigestUpdate(ctx, buf, got) != 1) {
                goto done;
            }

            offset += got;
        }

        if (EVP_DigestFinal_ex(ctx, md5s + 16 * i, &len) != 1) {
            goto done;
        }
    }

    rc = NGX_OK;

done:

    EVP_MD_CTX_free(ctx);
    free(buf);
    (void) close(fd);

    return rc;
}
