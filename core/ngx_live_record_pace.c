
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * nginx's thread pool hands every finished task back to the loop in one
 * go: when 256 streams start (or stop) at once, 256 part opens (or
 * finalizes) come back within a few milliseconds and their loop halves
 * (announcing, letting waiting frames in, handing files over) would all
 * run in one loop iteration, holding up every connection for tens of
 * milliseconds.  Completions go through this queue instead, and each loop
 * iteration runs a handful of them: at most NGX_LIVE_RECORD_PACE_BATCH,
 * and no more once NGX_LIVE_RECORD_PACE_BUDGET_US has passed: a part's
 * finish announces, indexes and hands over its files, an open lets the
 * frames that waited into libavformat's muxers, and a few of those may
 * take milliseconds each.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include "ngx_live_record.h"


#define NGX_LIVE_RECORD_PACE_BATCH      8
#define NGX_LIVE_RECORD_PACE_BUDGET_US  1000


static void ngx_live_record_pace_handler(ngx_event_t *ev);
static uint64_t ngx_live_record_pace_us(void);


static ngx_queue_t  ngx_live_record_paced;
static ngx_event_t  ngx_live_record_pace_ev;


/* ev's handler runs in a coming loop iteration, in the order of arrival */

void
ngx_live_record_pace(ngx_event_t *ev, ngx_event_handler_pt handler)
{
    if (ngx_live_record_pace_ev.handler == NULL) {
        ngx_queue_init(&ngx_live_record_paced);

        ngx_live_record_pace_ev.handler = ngx_live_record_pace_handler;
        ngx_live_record_pace_ev.log = ngx_cycle->log;

        /* a worker that shuts down waits for what is queued */
        ngx_live_record_pace_ev.cancelable = 0;
    }

    ev->handler = handler;
    ngx_queue_insert_tail(&ngx_live_record_paced, &ev->queue);

    if (!ngx_live_record_pace_ev.timer_set) {
        ngx_add_timer(&ngx_live_record_pace_ev, 0);
    }
}


/* at a worker's exit: whatever waits runs now */

void
ngx_live_record_pace_flush(void)
{
    if (ngx_live_record_pace_ev.handler == NULL) {
        return;
    }

    if (ngx_live_record_pace_ev.timer_set) {
        ngx_del_timer(&ngx_live_record_pace_ev);
    }

    while (!ngx_queue_empty(&ngx_live_record_paced)) {
        ngx_live_record_pace_handler(&ngx_live_record_pace_ev);
    }
}


static void
ngx_live_record_pace_handler(ngx_event_t *pe)
{
    uint64_t      start;
    ngx_uint_t    n;
    ngx_queue_t  *q;
    ngx_event_t  *ev;

    start = ngx_live_record_pace_us();

    for (n = 0; n < NGX_LIVE_RECORD_PACE_BATCH; n++) {
        if (ngx_queue_empty(&ngx_live_record_paced)) {
            return;
        }

        if (n && ngx_live_record_pace_us() - start
                 >= NGX_LIVE_RECORD_PACE_BUDGET_US)
        {
            break;
        }

        q = ngx_queue_head(&ngx_live_record_paced);
        ngx_queue_remove(q);

        ev = ngx_queue_data(q, ngx_event_t, queue);
        ev->handler(ev);
    }

    if (!ngx_queue_empty(&ngx_live_record_paced) && !pe->timer_set) {
        ngx_add_timer(pe, 0);
    }
}


/* the loop's clock is per iteration: this one moves within it */

static uint64_t
ngx_live_record_pace_us(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
