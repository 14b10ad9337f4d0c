
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * The write-once MP4 writer's bytes on their way to the disk: the loop
 * copies frames and sidecar entries into chains of blocks, a write task
 * takes the filled blocks and writes them with writev() in a thread, and
 * gives them back; see ngx_live_record_mp4.c.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_mp4.h"
#include "ngx_live_record_mp4_moov.h"


/* blocks at the chain's end until len more bytes fit */

ngx_int_t
ngx_live_record_mp4_room(ngx_live_record_mp4_chain_t *c, size_t len,
    size_t size, ngx_live_record_mp4_block_t **spare, ngx_log_t *log)
{
    size_t                        room;
    ngx_live_record_mp4_block_t  *b;

    room = 0;

    for (b = c->fill; b; b = b->next) {
        room += b->size - b->len;
    }

    while (room < len) {
        if (spare && *spare) {
            b = *spare;
            *spare = b->next;

        } else {
            b = ngx_alloc(sizeof(ngx_live_record_mp4_block_t) + size, log);
            if (b == NULL) {
                return NGX_ERROR;
            }

            b->size = size;
        }

        b->next = NULL;
        b->len = 0;

        if (c->tail) {
            c->tail->next = b;

        } else {
            c->head = b;
        }

        c->tail = b;

        if (c->fill == NULL) {
            c->fill = b;
        }

        room += size;
    }

    return NGX_OK;
}


void
ngx_live_record_mp4_copy(ngx_live_record_mp4_chain_t *c, u_char *p,
    size_t len)
{
    size_t                        n;
    ngx_live_record_mp4_block_t  *b;

    while (len) {
        b = c->fill;
        n = ngx_min(len, b->size - b->len);

        ngx_memcpy(ngx_live_record_mp4_block_data(b) + b->len, p, n);

        b->len += n;
        p += n;
        len -= n;

        if (b->len == b->size) {
            c->fill = b->next;
            c->full += b->len;
        }
    }
}


/* the filled blocks at the chain's head: full ones, or all with bytes */

ngx_live_record_mp4_block_t *
ngx_live_record_mp4_cut(ngx_live_record_mp4_chain_t *c, ngx_uint_t all,
    size_t *bytes)
{
    ngx_live_record_mp4_block_t  *b, *first, *last;

    first = c->head;
    last = NULL;

    for (b = c->head; b && b->len && (all || b != c->fill); b = b->next) {
        *bytes += b->len;
        last = b;

        if (b != c->fill) {
            c->full -= b->len;
        }
    }

    if (last == NULL) {
        return NULL;
    }

    c->head = last->next;

    if (c->fill == last) {
        c->fill = last->next;
    }

    if (c->head == NULL) {
        c->tail = NULL;
        c->fill = NULL;
    }

    last->next = NULL;

    return first;
}


ngx_int_t
ngx_live_record_mp4_writev(ngx_fd_t fd, ngx_live_record_mp4_block_t *b)
{
    size_t         off, sent;
    ssize_t        n;
    ngx_uint_t     i;
    struct iovec   iov[64];
    ngx_live_record_mp4_block_t  *c;

    off = 0;

    while (b) {
        for (i = 0, c = b; c && i < 64; c = c->next, i++) {
            iov[i].iov_base = ngx_live_record_mp4_block_data(c)
                              + (c == b ? off : 0);
            iov[i].iov_len = c->len - (c == b ? off : 0);
        }

        n = writev(fd, iov, (int) i);

        if (n == -1) {
            if (ngx_errno == NGX_EINTR) {
                continue;
            }

            return NGX_ERROR;
        }

        if (n == 0) {
            ngx_set_errno(NGX_ENOSPC);
            return NGX_ERROR;
        }

        sent = (size_t) n;

        while (b && sent >= b->len - off) {
            sent -= b->len - off;
            b = b->next;
            off = 0;
        }

        off += sent;
    }

    return NGX_OK;
}


/* one data block is kept for the next ones, the rest go back to malloc */

void
ngx_live_record_mp4_recycle(ngx_live_record_mp4_block_t **spare,
    ngx_live_record_mp4_block_t *b)
{
    ngx_live_record_mp4_block_t  *next;

    for ( /* void */ ; b; b = next) {
        next = b->next;

        if (*spare == NULL) {
            b->next = NULL;
            *spare = b;
            continue;
        }

        ngx_free(b);
    }
}


void
ngx_live_record_mp4_free_blocks(ngx_live_record_mp4_block_t *b)
{
    ngx_live_record_mp4_block_t  *next;

    for ( /* void */ ; b; b = next) {
        next = b->next;
        ngx_free(b);
    }
}
