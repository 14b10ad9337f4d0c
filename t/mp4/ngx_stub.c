
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * The little of the nginx runtime that mux/ngx_live_record_mp4*.c uses,
 * for unit builds without nginx's objects (nginx-dev ships headers only):
 * pools with cleanups, ngx_alloc(), and ngx_log_error_core() with the format specifiers
 * the writer uses (%s %V %d %i %ui %z %uz %L %uL %O), to stderr.  Used by
 * t/mp4/mp4_drive.c and fuzz/fuzz_mp4_sidecar.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_stub.h"


ngx_pool_t *
ngx_stub_pool_create(ngx_log_t *log)
{
    ngx_pool_t  *pool;

    pool = calloc(1, sizeof(ngx_pool_t));
    if (pool == NULL) {
        return NULL;
    }

    pool->log = log;

    return pool;
}


void
ngx_stub_pool_destroy(ngx_pool_t *pool)
{
    ngx_pool_large_t    *l, *next;
    ngx_pool_cleanup_t  *c, *cn;

    for (c = pool->cleanup; c; c = cn) {
        cn = c->next;

        if (c->handler) {
            c->handler(c->data);
        }

        free(c);
    }

    for (l = pool->large; l; l = next) {
        next = l->next;
        free(l->alloc);
        free(l);
    }

    free(pool);
}


void *
ngx_palloc(ngx_pool_t *pool, size_t size)
{
    ngx_pool_large_t  *l;

    l = malloc(sizeof(ngx_pool_large_t));
    if (l == NULL) {
        return NULL;
    }

    /* never 0 bytes, so that a zero-size allocation is still a pointer */

    l->alloc = malloc(size ? size : 1);
    if (l->alloc == NULL) {
        free(l);
        return NULL;
    }

    l->next = pool->large;
    pool->large = l;

    return l->alloc;
}


void *
ngx_alloc(size_t size, ngx_log_t *log)
{
    return malloc(size);
}


void *
ngx_pnalloc(ngx_pool_t *pool, size_t size)
{
    return ngx_palloc(pool, size);
}


void *
ngx_pcalloc(ngx_pool_t *pool, size_t size)
{
    void  *p;

    p = ngx_palloc(pool, size);

    if (p) {
        ngx_memzero(p, size);
    }

    return p;
}


ngx_pool_cleanup_t *
ngx_pool_cleanup_add(ngx_pool_t *p, size_t size)
{
    ngx_pool_cleanup_t  *c;

    c = calloc(1, sizeof(ngx_pool_cleanup_t));
    if (c == NULL) {
        return NULL;
    }

    if (size) {
        c->data = ngx_palloc(p, size);
        if (c->data == NULL) {
            free(c);
            return NULL;
        }
    }

    c->next = p->cleanup;
    p->cleanup = c;

    return c;
}


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    int          is_unsigned;
    va_list      args;
    ngx_str_t   *v;
    const char  *f;

    static const char  *levels[] = {
        "", "emerg", "alert", "crit", "error", "warn", "notice", "info",
        "debug"
    };

    fprintf(stderr, "[%s] ", levels[level < 9 ? level : 8]);

    va_start(args, fmt);

    for (f = fmt; *f; f++) {
        if (*f != '%') {
            fputc(*f, stderr);
            continue;
        }

        f++;
        is_unsigned = 0;

        if (*f == 'u') {
            is_unsigned = 1;
            f++;
        }

        switch (*f) {

        case 's':
            fputs(va_arg(args, char *), stderr);
            break;

        case 'V':
            v = va_arg(args, ngx_str_t *);
            fwrite(v->data, 1, v->len, stderr);
            break;

        case 'd':
            fprintf(stderr, is_unsigned ? "%u" : "%d", va_arg(args, int));
            break;

        case 'i':
            if (is_unsigned) {
                fprintf(stderr, "%lu", (unsigned long)
                        va_arg(args, ngx_uint_t));
            } else {
                fprintf(stderr, "%ld", (long) va_arg(args, ngx_int_t));
            }
            break;

        case 'z':
            if (is_unsigned) {
                fprintf(stderr, "%zu", va_arg(args, size_t));
            } else {
                fprintf(stderr, "%zd", va_arg(args, ssize_t));
            }
            break;

        case 'L':
            if (is_unsigned) {
                fprintf(stderr, "%llu", (unsigned long long)
                        va_arg(args, uint64_t));
            } else {
                fprintf(stderr, "%lld", (long long) va_arg(args, int64_t));
            }
            break;

        case 'O':
            fprintf(stderr, "%lld", (long long) va_arg(args, off_t));
            break;

        case '%':
            fputc('%', stderr);
            break;

        default:
            fprintf(stderr, "%%?%c", *f);

            if (*f == '\0') {
                f--;
            }
        }
    }

    va_end(args);

    if (err) {
        fprintf(stderr, " (%d: %s)", err, strerror(err));
    }

    fputc('\n', stderr);
}
