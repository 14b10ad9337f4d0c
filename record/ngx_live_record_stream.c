
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_rtmp.h"
#include "ngx_rtmp_codec_module.h"
#include "ngx_live_record_part.h"
#include "ngx_live_record_handover.h"
#include "ngx_live_record_stream.h"
#include "ngx_live_record_index.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_session.h"
#include "ngx_live_record_utf8.h"


/* after a failed open or write, the next part is tried this much later */
#define NGX_LIVE_RECORD_RETRY_MS     5000

/* free bytes in the work path before a recording ended by ENOSPC resumes */
#define NGX_LIVE_RECORD_RESUME_FREE  (1024 * 1024)

/* one log line per stream for each kind of bad input */
#define NGX_LIVE_RECORD_LOG_MALFORMED   0x01
#define NGX_LIVE_RECORD_LOG_NOHEADER    0x02    /* << track */
#define NGX_LIVE_RECORD_LOG_CODEC       0x08    /* << track */
#define NGX_LIVE_RECORD_LOG_BADHEADER   0x20
#define NGX_LIVE_RECORD_LOG_JUMP        0x40


static void ngx_live_record_set_rule(ngx_live_record_ctx_t *ctx,
    ngx_live_record_domain_t *d);
static void ngx_live_record_apply_plan(ngx_live_record_ctx_t *ctx,
    ngx_live_record_plan_t *plan);
static void ngx_live_record_log_plan(ngx_live_record_ctx_t *ctx);
static void ngx_live_record_tc_host(ngx_str_t *tc_url, ngx_str_t *host);
static char *ngx_live_record_check_name(ngx_str_t *name);
static ngx_int_t ngx_live_record_stream_args(ngx_rtmp_session_t *s,
    ngx_live_record_ctx_t *ctx, ngx_rtmp_publish_t *v);

static u_char *ngx_live_record_copy_body(ngx_live_record_ctx_t *ctx,
    ngx_chain_t *in, size_t *len);
static void ngx_live_record_log_once(ngx_live_record_ctx_t *ctx,
    ngx_uint_t kind, ngx_uint_t level, const char *fmt, ...);
static u_char *ngx_live_record_track_name(ngx_uint_t track);
static void *ngx_live_record_seg_alloc(size_t size, void *data);
static void ngx_live_record_seg_free(void *p, void *data);
static void ngx_live_record_prepare(ngx_live_record_ctx_t *ctx);
static void ngx_live_record_dropped(ngx_live_record_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out);
static void ngx_live_record_frame(ngx_live_record_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out);
static void ngx_live_record_flush(ngx_live_record_ctx_t *ctx, int64_t base);
static ngx_int_t ngx_live_record_cut(ngx_live_record_ctx_t *ctx,
    ngx_uint_t reason, int64_t ts);
static ngx_int_t ngx_live_record_open(ngx_live_record_ctx_t *ctx,
    int64_t base);
static ngx_uint_t ngx_live_record_waiting(ngx_live_record_ctx_t *ctx);
static void ngx_live_record_open_failed(ngx_live_record_ctx_t *ctx);
static void ngx_live_record_retry_later(ngx_live_record_ctx_t *ctx);
static ngx_int_t ngx_live_record_space(ngx_live_record_ctx_t *ctx);
static u_char *ngx_live_record_codec_refused(u_char *buf, u_char *last,
    ngx_live_record_tag_t *tag);
static ngx_uint_t ngx_live_record_hls_refuses(ngx_live_record_ctx_t *ctx);
static void ngx_live_record_hls_refused(ngx_live_record_ctx_t *ctx);
static void ngx_live_record_stream_event(ngx_live_record_ctx_t *ctx,
    const char *type, const char *reason, u_char *message);
static void ngx_live_record_close(ngx_live_record_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t sync);
static ngx_int_t ngx_live_record_open_hls(ngx_live_record_ctx_t *ctx,
    int64_t base);
static void ngx_live_record_close_hls(ngx_live_record_ctx_t *ctx,
    ngx_uint_t reason, ngx_uint_t sync);
static void ngx_live_record_write(ngx_live_record_ctx_t *ctx,
    ngx_live_record_tag_t *tag, int64_t ts);


ngx_int_t
ngx_live_record_stream_start(ngx_rtmp_session_t *s, ngx_live_record_ctx_t *ctx,
    ngx_rtmp_publish_t *v)
{
    u_char                       *p;
    char                         *bad;
    ngx_str_t                     name, host;
    ngx_live_record_domain_t     *rule;
    ngx_live_record_template_t   *tpl;
    ngx_live_record_app_conf_t   *lacf;

    lacf = ngx_rtmp_get_module_app_conf(s, ngx_live_record_module);

    name.data = v->name;
    name.len = ngx_strlen(v->name);

    ngx_live_record_tc_host(&s->tc_url, &host);

    tpl = ngx_live_record_resolve(lacf, &s->app, &host, &name, &rule);
    if (tpl == NULL && !lacf->tasks_on) {
        return NGX_DECLINED;
    }

    bad = ngx_live_record_check_name(&name);

    if (bad == NULL) {
        bad = ngx_live_record_check_name(&s->app);
    }

    if (bad == NULL && host.len) {
        bad = ngx_live_record_check_name(&host);
    }

    if (bad) {
        ngx_log_error(NGX_LOG_ERR, s->connection->log, 0,
                      "live record: stream \"%V/%*s\" on \"%V\" refused for "
                      "recording: %s", &s->app,
                      ngx_min(name.len, NGX_LIVE_RECORD_MAX_NAME), name.data,
                      &host, bad);
        return NGX_DECLINED;
    }

    ngx_memzero(ctx, sizeof(ngx_live_record_ctx_t));

    ctx->s = s;
    ctx->lacf = lacf;
    ctx->conf_tpl = tpl;
    ctx->lmcf = ngx_rtmp_get_module_main_conf(s, ngx_live_record_module);

    p = ctx->strings;

    ctx->st.label.data = p;
    p = ngx_sprintf(p, "%V/%V", &s->app, &name);
    ctx->st.label.len = p - ctx->st.label.data;

    ctx->st.app.data = ctx->st.label.data;
    ctx->st.app.len = s->app.len;
    ctx->st.name.data = ctx->st.label.data + s->app.len + 1;
    ctx->st.name.len = name.len;

    ctx->st.domain.data = p;
    ctx->st.domain.len = host.len;
    ngx_strlow(p, host.data, host.len);

    if (ngx_live_record_stream_args(s, ctx, v) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_live_record_segmenter_init(&ctx->seg, ctx->st.tracks,
                                   ngx_live_record_seg_alloc,
                                   ngx_live_record_seg_free, NULL);

    ngx_queue_insert_tail(&ctx->lmcf->active, &ctx->queue);
    ctx->active = 1;

    ngx_live_record_session_start(ctx);
    ngx_live_record_set_rule(ctx, rule);

    ngx_live_record_apply_plan(ctx, ngx_live_record_plan(ctx));
    ngx_live_record_log_plan(ctx);

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, s->connection->log, 0,
                   "live record: \"%V\" publish: formats 0x%Xi, %V",
                   &ctx->st.label, ctx->formats, &ctx->rule);

    /* a part of this stream that waits on this worker goes on */

    if (ctx->formats & ~(1 << NGX_LIVE_RECORD_HLS)) {
        ctx->part_wait = ngx_live_record_part_take(ctx->lmcf, &ctx->st.label,
                                                   0);
    }

    /* or on another worker: asked for, the frames wait for it */

    if (ctx->part_wait == NULL
        && ngx_live_record_handover_request(ctx, ctx->waiting) != NGX_OK)
    {
        ngx_live_record_session_elsewhere(ctx);
    }

    if (ctx->formats & (1 << NGX_LIVE_RECORD_HLS)) {
        ctx->hls_wait = ngx_live_record_part_take(ctx->lmcf, &ctx->st.label,
                                                  1);
    }

    ctx->recorder = ngx_live_record_recorder_add(&ctx->st, ctx);
    ngx_live_record_recorder_update(ctx->recorder,
                                    ctx->plan ? &ctx->plan->json : NULL,
                                    NULL, NULL, ctx->formats);

    if (ctx->formats) {
        ngx_log_error(NGX_LOG_INFO, s->connection->log, 0,
                      "live record: \"%V\" recording with template \"%V\"%s"
                      "%V, session %V from part %ui%s", &ctx->st.label,
                      &ctx->tpl->name, ctx->st.task_id.len ? " of task " : "",
                      &ctx->st.task_id, &ctx->st.session,
                      ctx->part_wait ? ctx->part_wait->n : ctx->parts + 1,
                      ctx->part_wait ? " (waiting here)"
                      : ctx->take ? " (or the part asked for)" : "");

        ngx_live_record_session_lookup(ctx);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_RTMP, s->connection->log, 0,
                       "live record: \"%V\" waits for a record task",
                       &ctx->st.label);
    }

    return NGX_OK;
}


static void
ngx_live_record_set_rule(ngx_live_record_ctx_t *ctx,
    ngx_live_record_domain_t *d)
{
    u_char  *p;

    p = ctx->rule_buf;

    if (d) {
        p = ngx_live_record_rule_name(p, p + sizeof(ctx->rule_buf), d);

    } else if (ctx->lacf->inherited) {
        p = ngx_cpymem(p, "server", sizeof("server") - 1);

    } else {
        p = ngx_cpymem(p, "application", sizeof("application") - 1);
    }

    ctx->rule.data = ctx->rule_buf;
    ctx->rule.len = p - ctx->rule_buf;
}


/* takes the plan; without one the configured template records alone */

static void
ngx_live_record_apply_plan(ngx_live_record_ctx_t *ctx,
    ngx_live_record_plan_t *plan)
{
    ngx_live_record_plan_free(ctx->plan);
    ctx->plan = plan;

    if (plan == NULL) {
        ctx->tpl = ctx->conf_tpl;
        ctx->formats = ctx->tpl ? ctx->tpl->formats : 0;
        ngx_str_null(&ctx->st.sources);
        ngx_str_null(&ctx->st.task_id);
        ngx_str_null(&ctx->st.extension);

    } else {
        ctx->tpl = plan->tpl;
        ctx->formats = plan->formats;
        ctx->st.sources = plan->sources;
        ctx->st.task_id = plan->task_id;
        ctx->st.extension = plan->extension;
    }

    ctx->seg.recording = (ctx->formats != 0);
    ctx->seg.interval = ctx->tpl ? ctx->tpl->interval : 0;
}


static void
ngx_live_record_log_plan(ngx_live_record_ctx_t *ctx)
{
    ngx_live_record_plan_t  *plan;

    plan = ctx->plan;

    if (plan == NULL || ctx->conf_tpl == NULL || plan->ntasks == 0) {
        return;
    }

    ngx_log_error(NGX_LOG_INFO, ctx->s->connection->log, 0,
                  "live record: \"%V\": template \"%V\" and task \"%V\" "
                  "both record it: one recorder per format, settings of "
                  "template \"%V\"", &ctx->st.label, &ctx->conf_tpl->name,
                  &plan->task_id, &plan->tpl->name);
}


/* a task started or ended: the recorders follow at the next keyframe */

void
ngx_live_record_stream_replan(ngx_live_record_ctx_t *ctx)
{
    uint64_t                 now;
    ngx_uint_t               reason, same;
    ngx_live_record_plan_t  *plan, *old;

    old = ctx->plan;
    now = ngx_live_record_now_ms();

    if (old && old->generation == ngx_live_record_tasks_generation()
        && now < old->next)
    {
        /* no task changed and none starts or ends yet */
        goto update;
    }

    plan = ngx_live_record_plan(ctx);

    if (plan == NULL) {
        goto update;
    }

    if (old && plan->signature.len == old->signature.len
        && ngx_memcmp(plan->signature.data, old->signature.data,
                      old->signature.len) == 0)
    {
        /* the same plan: the shortcut above holds until this changes */
        old->generation = plan->generation;
        old->next = plan->next;
        ngx_live_record_plan_free(plan);
        goto update;
    }

    reason = (old && ngx_live_record_plan_task_ended(old, plan))
             ? NGX_LIVE_RECORD_REASON_TASK_END
             : NGX_LIVE_RECORD_REASON_TASK_START;

    /*
     * A task joining a recorder with the same settings extends it; a task
     * that ends gets its part closed, so that its recording ends there.
     */

    same = (plan->formats == ctx->formats && plan->tpl == ctx->tpl
            && reason == NGX_LIVE_RECORD_REASON_TASK_START);

    ngx_log_error(NGX_LOG_INFO, ctx->s->connection->log, 0,
                  "live record: \"%V\" plan changed (%s): %ui task(s)%s",
                  &ctx->st.label, ngx_live_record_reason_name(reason),
                  plan->ntasks,
                  plan->formats == 0 ? ", recording stops"
                  : same ? ", the recording goes on"
                  : ", a new part starts at the next keyframe");

    if (same) {
        if (ctx->part) {
            (void) ngx_live_record_part_add_sources(ctx->part, plan);
        }

        if (ctx->hls) {
            (void) ngx_live_record_part_add_sources(ctx->hls, plan);
        }

    } else if (plan->formats == 0) {
        ctx->seg.replan = 0;
        ngx_live_record_close(ctx, reason, 0);
        ngx_live_record_close_hls(ctx, reason, 0);
        ngx_live_record_segmenter_drop(&ctx->seg);

    } else if (ctx->part || ctx->hls) {
        /* the segmenter cuts at the next boundary */
        ctx->seg.replan = reason + 1;
    }

    ngx_live_record_apply_plan(ctx, plan);
    ngx_live_record_log_plan(ctx);

update:

    ngx_live_record_recorder_update(ctx->recorder,
                                    ctx->plan ? &ctx->plan->json : NULL,
                                    ctx->part, ctx->hls, ctx->formats);
}


static void
ngx_live_record_tc_host(ngx_str_t *tc_url, ngx_str_t *host)
{
    u_char  *p, *last, *end;

    p = tc_url->data;
    last = p + tc_url->len;

    host->len = 0;
    host->data = p;

    if (p == NULL) {
        return;
    }

    end = ngx_strlcasestrn(p, last, (u_char *) "://", 3 - 1);
    if (end == NULL) {
        return;
    }

    p = end + 3;

    if (p < last && *p == '[') {
        end = ngx_strlchr(p, last, ']');
        end = end ? end + 1 : last;

    } else {
        for (end = p; end < last; end++) {
            if (*end == ':' || *end == '/' || *end == '?') {
                break;
            }
        }
    }

    host->data = p;
    host->len = end - p;
}


static char *
ngx_live_record_check_name(ngx_str_t *name)
{
    u_char  *p, *last;

    if (name->len == 0) {
        return "empty name";
    }

    /* nginx-rtmp cuts names at 255 bytes: such a name may be cut */

    if (name->len >= NGX_LIVE_RECORD_MAX_NAME) {
        return "name of 255 bytes or more";
    }

    if (name->data[0] == '.') {
        return "name starts with \".\"";
    }

    /* it goes into every event and index entry: JSON wants UTF-8 */

    if (ngx_live_record_utf8_text(name->data, name->len) != NGX_OK) {
        return "name is not valid UTF-8";
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return "control character in name";
        }

        if (*p == '/' || *p == '\\') {
            return "path separator in name";
        }

        if (*p == '%') {
            return "percent-encoded character in name";
        }

        if (*p == '.' && p + 1 < last && p[1] == '.') {
            return "\"..\" in name";
        }
    }

    return NULL;
}


/*
 * The query string outlives the publish command (nginx-rtmp reuses its
 * buffer); bytes that are not UTF-8 are percent-encoded, as a browser
 * would send them, so that the events and index entries stay JSON.
 */

static ngx_int_t
ngx_live_record_stream_args(ngx_rtmp_session_t *s, ngx_live_record_ctx_t *ctx,
    ngx_rtmp_publish_t *v)
{
    size_t   len, size;
    u_char  *p;

    len = ngx_strlen(v->args);
    size = ngx_live_record_utf8_escape(NULL, v->args, len);

    p = ngx_pnalloc(s->connection->pool, size + 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_live_record_utf8_escape(p, v->args, len);
    p[size] = '\0';

    if (size != len) {
        ngx_log_error(NGX_LOG_WARN, s->connection->log, 0,
                      "live record: \"%V\": the query string is not "
                      "UTF-8, recorded percent-encoded as \"%s\"",
                      &ctx->st.label, p);
    }

    ctx->st.args.data = p;
    ctx->st.args.len = size;

    return NGX_OK;
}


void
ngx_live_record_stream_stop(ngx_live_record_ctx_t *ctx, ngx_uint_t reason,
    ngx_uint_t sync)
{
    if (!ctx->active) {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" stops: %s", &ctx->st.label,
                   ngx_live_record_reason_name(reason));

    ctx->active = 0;
    ctx->seg.replan = 0;

    /* frames held for the cluster's answer are recorded, without it */
    ngx_live_record_session_unhold(ctx);
    ngx_live_record_handover_cancel(ctx, reason, sync);

    ngx_live_record_close(ctx, reason, sync);
    ngx_live_record_close_hls(ctx, reason, sync);
    ngx_live_record_segmenter_drop(&ctx->seg);
    ngx_live_record_session_stop(ctx);

    ngx_queue_remove(&ctx->queue);

    ngx_live_record_recorder_delete(ctx->recorder);
    ctx->recorder = NULL;

    ngx_live_record_apply_plan(ctx, NULL);
    ngx_live_record_segmenter_free(&ctx->seg);

    if (ctx->buf) {
        ngx_free(ctx->buf);
        ctx->buf = NULL;
        ctx->buf_size = 0;
    }
}


void
ngx_live_record_stream_av(ngx_live_record_ctx_t *ctx, ngx_rtmp_header_t *h,
    ngx_chain_t *in)
{
    u_char                           *p;
    size_t                            len;
    ngx_int_t                         rc;
    ngx_live_record_tag_t             tag;
    ngx_live_record_segmenter_out_t   out;

    p = ngx_live_record_copy_body(ctx, in, &len);
    if (p == NULL) {
        return;
    }

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" %s message: %uz bytes, time %uD",
                   &ctx->st.label,
                   h->type == NGX_RTMP_MSG_VIDEO ? "video" : "audio",
                   len, h->timestamp);

    if (ngx_live_record_parse_tag(h->type, p, len, &tag) != NGX_OK) {
        ngx_live_record_log_once(ctx, NGX_LIVE_RECORD_LOG_MALFORMED,
                                 NGX_LOG_ERR, "malformed %s tag skipped",
                                 ngx_live_record_track_name(
                                     h->type == NGX_RTMP_MSG_VIDEO
                                     ? NGX_LIVE_RECORD_VIDEO
                                     : NGX_LIVE_RECORD_AUDIO));
        return;
    }

    ngx_live_record_prepare(ctx);

    rc = ngx_live_record_segmenter_push(&ctx->seg, &tag, h->timestamp, &out);

    if (out.flags & NGX_LIVE_RECORD_SEG_JUMP) {
        ngx_live_record_log_once(ctx, NGX_LIVE_RECORD_LOG_JUMP, NGX_LOG_ERR,
                                 "timestamp jumps by %D ms, recorded "
                                 "as continuous", out.jump);
    }

    if (out.flags & NGX_LIVE_RECORD_SEG_HEADER) {
        ngx_log_debug5(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                       "live record: \"%V\" %s track: %s, %uz bytes of "
                       "parameters%s", &ctx->st.label,
                       ngx_live_record_track_name(tag.track),
                       ngx_live_record_codec_name(tag.codec),
                       ctx->st.tracks[tag.track].extradata_len,
                       ctx->seg.changed ? ", a new part at the next boundary"
                                        : "");
    }

    switch (rc) {

    case NGX_OK:
        break;

    case NGX_AGAIN:
        ngx_log_debug4(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                       "live record: \"%V\" %s frame at %L ms held, "
                       "%ui held", &ctx->st.label,
                       ngx_live_record_track_name(tag.track), out.ts,
                       ctx->seg.npending);
        return;

    default: /* NGX_DECLINED, NGX_ERROR */
        ngx_live_record_dropped(ctx, &tag, &out);
        return;
    }

    if (out.flags & NGX_LIVE_RECORD_SEG_FLUSH) {
        ngx_live_record_flush(ctx, out.base);
        return;
    }

    if (out.flags & NGX_LIVE_RECORD_SEG_WRITE) {
        ngx_live_record_frame(ctx, &tag, &out);
    }
}


static u_char *
ngx_live_record_copy_body(ngx_live_record_ctx_t *ctx, ngx_chain_t *in,
    size_t *len)
{
    u_char       *p;
    size_t        n, size;
    ngx_chain_t  *cl;

    n = 0;

    for (cl = in; cl; cl = cl->next) {
        n += cl->buf->last - cl->buf->pos;
    }

    if (n > ctx->buf_size) {
        size = ngx_max(n, 2 * ctx->buf_size);

        p = ngx_alloc(size, ngx_cycle->log);
        if (p == NULL) {
            return NULL;
        }

        if (ctx->buf) {
            ngx_free(ctx->buf);
        }

        ctx->buf = p;
        ctx->buf_size = size;
    }

    *len = n;

    if (n == 0) {
        /* an empty message: no buffer yet, and nothing to copy into it */
        return (u_char *) "";
    }

    p = ctx->buf;

    for (cl = in; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    *len = n;

    return ctx->buf;
}


static void
ngx_live_record_log_once(ngx_live_record_ctx_t *ctx, ngx_uint_t kind,
    ngx_uint_t level, const char *fmt, ...)
{
    u_char   *p, text[NGX_MAX_ERROR_STR];
    va_list   args;

    if (ctx->logged & kind) {
        return;
    }

    ctx->logged |= kind;

    va_start(args, fmt);
    p = ngx_vslprintf(text, text + sizeof(text), fmt, args);
    va_end(args);

    ngx_log_error(level, ctx->s->connection->log, 0,
                  "live record: \"%V\": %*s", &ctx->st.label, p - text, text);
}


static u_char *
ngx_live_record_track_name(ngx_uint_t track)
{
    return (u_char *) (track == NGX_LIVE_RECORD_VIDEO ? "video" : "audio");
}


/* the segmenter holds frames and track parameters on the heap */

static void *
ngx_live_record_seg_alloc(size_t size, void *data)
{
    return ngx_alloc(size, ngx_cycle->log);
}


static void
ngx_live_record_seg_free(void *p, void *data)
{
    ngx_free(p);
}


/* what the segmenter cannot know: the retry timer and onMetaData */

static void
ngx_live_record_prepare(ngx_live_record_ctx_t *ctx)
{
    ngx_rtmp_codec_ctx_t  *codec;

    ctx->seg.paused = ngx_live_record_waiting(ctx);
    ctx->seg.announced = 0;

    codec = ngx_rtmp_get_module_ctx(ctx->s, ngx_rtmp_codec_module);

    if (codec && codec->video_codec_id) {
        ctx->seg.announced |= 1 << NGX_LIVE_RECORD_VIDEO;
    }

    if (codec && codec->audio_codec_id) {
        ctx->seg.announced |= 1 << NGX_LIVE_RECORD_AUDIO;
    }
}


/* bad input is logged once a stream; the rest only in a debug log */

static void
ngx_live_record_dropped(ngx_live_record_ctx_t *ctx,
    ngx_live_record_tag_t *tag, ngx_live_record_segmenter_out_t *out)
{
    u_char  *p, *q, what[64], text[128];

    switch (out->drop) {

    case NGX_LIVE_RECORD_SEG_DROP_CODEC:
        if (ctx->logged & (NGX_LIVE_RECORD_LOG_CODEC << tag->track)) {
            return;
        }

        /* refused, and said so: never a file passed off as complete */

        q = ngx_live_record_codec_refused(what, what + sizeof(what), tag);
        p = ngx_slprintf(text, text + sizeof(text) - 1,
                         "%s %*s cannot be recorded",
                         ngx_live_record_track_name(tag->track),
                         (size_t) (q - what), what);
        *p = '\0';

        ngx_live_record_log_once(ctx, NGX_LIVE_RECORD_LOG_CODEC << tag->track,
                                 NGX_LOG_ERR, "%s, track skipped", text);

        if (ctx->seg.recording) {
            /* a stream nothing records has nothing that failed */
            ngx_live_record_stream_event(ctx, "record_failed", "codec",
                                         text);
        }

        return;

    case NGX_LIVE_RECORD_SEG_DROP_BADHEADER:
        ngx_live_record_log_once(ctx, NGX_LIVE_RECORD_LOG_BADHEADER,
                                 NGX_LOG_ERR,
                                 "invalid %s sequence header skipped",
                                 ngx_live_record_track_name(tag->track));
        return;

    case NGX_LIVE_RECORD_SEG_DROP_BADMP3:
        ngx_live_record_log_once(ctx, NGX_LIVE_RECORD_LOG_BADHEADER,
                                 NGX_LOG_ERR,
                                 "invalid mp3 frame header skipped");
        return;

    case NGX_LIVE_RECORD_SEG_DROP_NOHEADER:
        ngx_live_record_log_once(ctx,
                                 NGX_LIVE_RECORD_LOG_NOHEADER << tag->track,
                                 NGX_LOG_ERR,
                                 "%s frames before the sequence header "
                                 "skipped",
                                 ngx_live_record_track_name(tag->track));
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" %s tag skipped: %s", &ctx->st.label,
                   ngx_live_record_track_name(tag->track),
                   ngx_live_record_segmenter_why(out->drop));
}


/* what a refused tag carried, for the log: "vp09", "codec id 2" */

static u_char *
ngx_live_record_codec_refused(u_char *buf, u_char *last,
    ngx_live_record_tag_t *tag)
{
    ngx_uint_t  i;
    u_char      c[4];

    if (tag->fourcc == NGX_LIVE_RECORD_FOURCC_MULTI) {
        return ngx_slprintf(buf, last, "multitrack (enhanced rtmp)");
    }

    if (tag->fourcc == 0) {
        return ngx_slprintf(buf, last, "codec id %ui", tag->codec);
    }

    for (i = 0; i < 4; i++) {
        c[i] = (u_char) (tag->fourcc >> (24 - 8 * i));

        if (c[i] < 0x20 || c[i] > 0x7e || c[i] == '"' || c[i] == '\\') {
            return ngx_slprintf(buf, last, "FourCC 0x%08xD", tag->fourcc);
        }
    }

    return ngx_slprintf(buf, last, "FourCC \"%*s\"", (size_t) 4, c);
}


/* a frame in a recording: the segmenter's cut and open, then the write */

static void
ngx_live_record_frame(ngx_live_record_ctx_t *ctx, ngx_live_record_tag_t *tag,
    ngx_live_record_segmenter_out_t *out)
{
    ngx_live_record_open_failed(ctx);

    if (out->flags & NGX_LIVE_RECORD_SEG_CUT) {
        ngx_log_debug4(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                       "live record: \"%V\" cut at %L ms (%s), part %ui "
                       "ends", &ctx->st.label, out->ts,
                       ngx_live_record_reason_name(out->reason),
                       ctx->part ? ctx->part->n : 0);

        if (ngx_live_record_cut(ctx, out->reason, out->ts) != NGX_OK) {
            /* the frame was the next part's first */
            ngx_log_debug1(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                           "live record: \"%V\" next part not open, frame "
                           "skipped", &ctx->st.label);
            return;
        }
    }

    if ((out->flags & NGX_LIVE_RECORD_SEG_OPEN) && ctx->part == NULL) {
        (void) ngx_live_record_open(ctx, out->ts);
    }

    ngx_log_debug5(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" %s frame at %L ms, key %ui, "
                   "to part %ui", &ctx->st.label,
                   ngx_live_record_track_name(tag->track), out->ts, tag->key,
                   ctx->part ? ctx->part->n : 0);

    ngx_live_record_write(ctx, tag, out->ts);

    if (ctx->part && ctx->part->write_failed) {
        ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                      "live record: \"%V\" part %ui closed at its last "
                      "good frame after a write error, the next part starts "
                      "when writes succeed again", &ctx->st.label,
                      ctx->part->n);

        ngx_live_record_close(ctx, NGX_LIVE_RECORD_REASON_WRITE_ERROR, 0);
        ngx_live_record_retry_later(ctx);
        ctx->wait_space = 1;
    }

    if (ctx->hls && ctx->hls->write_failed) {
        ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                      "live record: \"%V\" hls recording closed with what "
                      "it holds after a write error, a new one starts when "
                      "writes succeed again", &ctx->st.label);

        ngx_live_record_close_hls(ctx, NGX_LIVE_RECORD_REASON_WRITE_ERROR, 0);
        ngx_live_record_retry_later(ctx);
        ctx->hls_reopen = 1;
        ctx->wait_space = 1;
    }
}


/*
 * The thread pool could open none of a part's files: the part is let go
 * as if it had never opened, and a new one is tried later.
 */

static void
ngx_live_record_open_failed(ngx_live_record_ctx_t *ctx)
{
    if (ctx->part && ctx->part->open_failed) {
        ngx_log_error(NGX_LOG_ERR, ctx->s->connection->log, 0,
                      "live record: \"%V\" part %ui could not be opened, "
                      "trying again in %d s", &ctx->st.label, ctx->part->n,
                      NGX_LIVE_RECORD_RETRY_MS / 1000);

        ctx->parts--;
        ngx_live_record_stream_event(ctx, "record_failed", "open", NULL);
        ngx_live_record_close(ctx, NGX_LIVE_RECORD_REASON_WRITE_ERROR, 0);
        ngx_live_record_retry_later(ctx);
    }

    if (ctx->hls && ctx->hls->open_failed) {
        ngx_log_error(NGX_LOG_CRIT, ctx->s->connection->log, 0,
                      "live record: \"%V\" hls recording could not be "
                      "opened", &ctx->st.label);

        ngx_live_record_close_hls(ctx, NGX_LIVE_RECORD_REASON_WRITE_ERROR, 0);
    }
}


/* after a failure nothing new opens for a while: no retry on every frame */

static ngx_uint_t
ngx_live_record_waiting(ngx_live_record_ctx_t *ctx)
{
    return ctx->retry
           && (ngx_msec_int_t) (ctx->retry - ngx_current_msec) > 0;
}


static void
ngx_live_record_retry_later(ngx_live_record_ctx_t *ctx)
{
    ctx->retry = ngx_current_msec + NGX_LIVE_RECORD_RETRY_MS;

    if (ctx->retry == 0) {
        ctx->retry = 1;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" no new part for %d ms",
                   &ctx->st.label, NGX_LIVE_RECORD_RETRY_MS);
}


/*
 * Below live_record_min_free in the work path no part starts.  After a
 * write error none starts either until some room is back: a disk that
 * stays full would otherwise fail (and log) a new part every retry.
 */

static ngx_int_t
ngx_live_record_space(ngx_live_record_ctx_t *ctx)
{
    off_t           avail, need;
    struct statfs   fs;

    need = ctx->lacf->min_free;

    if (ctx->wait_space) {
        need = ngx_max(need, NGX_LIVE_RECORD_RESUME_FREE);
    }

    if (need == 0 || statfs((char *) ctx->lacf->work.data, &fs) == -1) {
        ctx->wait_space = 0;
        return NGX_OK;
    }

    avail = (off_t) fs.f_bavail * fs.f_bsize;

    if (avail >= need) {
        if (ctx->low_space) {
            ctx->low_space = 0;
            ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                          "live record: \"%V\": %O bytes free in \"%V\" "
                          "again, recording resumes", &ctx->st.label, avail,
                          &ctx->lacf->work);
        }

        ctx->wait_space = 0;

        return NGX_OK;
    }

    if (!ctx->low_space) {
        ctx->low_space = 1;

        if (ctx->wait_space && avail >= ctx->lacf->min_free) {
            /* record_failed (write_error) was sent already */
            ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                          "live record: \"%V\": only %O bytes free in "
                          "\"%V\" after a write error: recording resumes "
                          "with %O bytes free", &ctx->st.label, avail,
                          &ctx->lacf->work, need);

        } else {
            ngx_log_error(NGX_LOG_WARN, ctx->s->connection->log, 0,
                          "live record: \"%V\": only %O bytes free in "
                          "\"%V\", below live_record_min_free %O: no new "
                          "part starts", &ctx->st.label, avail,
                          &ctx->lacf->work, ctx->lacf->min_free);
            ngx_live_record_stream_event(ctx, "record_failed", "min_free",
                                         NULL);
        }
    }

    ngx_live_record_retry_later(ctx);

    return NGX_DECLINED;
}


/* the held frames are ready: the first part opens with them */

static void
ngx_live_record_flush(ngx_live_record_ctx_t *ctx, int64_t base)
{
    ngx_live_record_pending_t  *pf;

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" %ui frames held, recording starts "
                   "at %L ms", &ctx->st.label, ctx->seg.npending, base);

    (void) ngx_live_record_open(ctx, base);
    (void) ngx_live_record_open_hls(ctx, base);

    if (ctx->part || ctx->hls) {
        while ((pf = ngx_live_record_segmenter_release(&ctx->seg)) != NULL) {
            ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                           "live record: \"%V\" held %s frame at %L ms "
                           "released", &ctx->st.label,
                           ngx_live_record_track_name(pf->tag.track), pf->ts);

            ngx_live_record_write(ctx, &pf->tag, pf->ts);
        }
    }

    ngx_live_record_segmenter_drop(&ctx->seg);
}


/* the frames held for the session's answer may go now */

void
ngx_live_record_stream_unhold(ngx_live_record_ctx_t *ctx)
{
    int64_t  base;

    if (ngx_live_record_segmenter_unhold(&ctx->seg, &base) == NGX_OK) {
        ngx_live_record_flush(ctx, base);
    }
}


/* the segmenter cut here: what closes and what opens, by the reason */

static ngx_int_t
ngx_live_record_cut(ngx_live_record_ctx_t *ctx, ngx_uint_t reason, int64_t ts)
{
    switch (reason) {

    case NGX_LIVE_RECORD_REASON_PARAM_CHANGE:
        if (ctx->hls && ngx_live_record_hls_refuses(ctx)) {
            /* what it holds is done; the new video is refused, and said */
            ngx_live_record_close_hls(ctx, NGX_LIVE_RECORD_REASON_PARAM_CHANGE,
                                      0);
            ngx_live_record_hls_refused(ctx);

        } else if (ctx->hls
                   && ngx_live_record_hls_param_change(ctx->hls, &ctx->st)
                      != NGX_OK)
        {
            ngx_live_record_close_hls(ctx, NGX_LIVE_RECORD_REASON_PARAM_CHANGE,
                                      0);
        }

        if (ctx->part == NULL) {
            return NGX_OK;
        }

        break;

    case NGX_LIVE_RECORD_REASON_INTERVAL:
        break;

    default: /* TASK_START, TASK_END */

        /* an ended task's hls recording ends too, and may start again */

        if (ctx->hls
            && (!(ctx->formats & (1 << NGX_LIVE_RECORD_HLS))
                || reason == NGX_LIVE_RECORD_REASON_TASK_END))
        {
            ngx_live_record_close_hls(ctx, reason, 0);
        }

        ngx_live_record_close(ctx, reason, 0);

        if (ctx->hls == NULL) {
            (void) ngx_live_record_open_hls(ctx, ts);
        }

        return ngx_live_record_open(ctx, ts);
    }

    ngx_live_record_close(ctx, reason, 0);

    return ngx_live_record_open(ctx, ts);
}


static void
ngx_live_record_write(ngx_live_record_ctx_t *ctx, ngx_live_record_tag_t *tag,
    int64_t ts)
{
    if (ctx->part) {
        ngx_live_record_part_write(ctx->part, tag, ts);
    }

    if (ctx->hls) {
        ngx_live_record_part_write(ctx->hls, tag, ts);
    }
}


static ngx_int_t
ngx_live_record_open(ngx_live_record_ctx_t *ctx, int64_t base)
{
    ngx_uint_t               formats;
    ngx_live_record_part_t  *p;

    formats = ctx->formats & ~(1 << NGX_LIVE_RECORD_HLS);

    if (formats == 0) {
        return NGX_OK;
    }

    p = ctx->part_wait;

    if (p) {
        ctx->part_wait = NULL;
        ctx->parts = p->n;

        if (ngx_live_record_part_resume(p, ctx->tpl, formats, &ctx->st, base)
            == NGX_OK)
        {
            ctx->part = p;
            ngx_live_record_segmenter_opened(&ctx->seg,
                                             NGX_LIVE_RECORD_SEG_PART,
                                             p->base + p->shift,
                                             p->st.tracks);
            return NGX_OK;
        }

        /* it ended when its publisher left; this one starts the next */
        ngx_live_record_part_close(p, p->wait_reason, 0);
    }

    if (ngx_live_record_space(ctx) != NGX_OK) {
        ngx_log_debug2(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                       "live record: \"%V\" part %ui not opened: disk low",
                       &ctx->st.label, ctx->parts + 1);
        return NGX_DECLINED;
    }

    p = ngx_live_record_part_open(&ctx->st, ctx->tpl, ctx->lacf, ctx->lmcf,
                                  formats, ctx->parts + 1, base);
    if (p == NULL) {
        ngx_log_error(NGX_LOG_ERR, ctx->s->connection->log, 0,
                      "live record: \"%V\" part %ui could not be opened, "
                      "trying again in %d s", &ctx->st.label, ctx->parts + 1,
                      NGX_LIVE_RECORD_RETRY_MS / 1000);
        ngx_live_record_stream_event(ctx, "record_failed", "open", NULL);
        ngx_live_record_retry_later(ctx);
        return NGX_ERROR;
    }

    ctx->parts++;
    ctx->part = p;
    ngx_live_record_segmenter_opened(&ctx->seg, NGX_LIVE_RECORD_SEG_PART,
                                     p->base, p->st.tracks);

    ngx_log_debug4(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" part %ui open at %L ms, formats "
                   "0x%Xi", &ctx->st.label, p->n, base, formats);

    /* an hls recording ended by a write error starts again with it */

    if (ctx->hls_reopen && ctx->hls == NULL && ctx->hls_wait == NULL) {
        ctx->hls_reopen = 0;
        (void) ngx_live_record_open_hls(ctx, base);
    }

    return NGX_OK;
}


/* an hls recording starts with the first part, or goes on after a gap */

static ngx_int_t
ngx_live_record_open_hls(ngx_live_record_ctx_t *ctx, int64_t base)
{
    ngx_live_record_part_t  *p;

    if (!(ctx->formats & (1 << NGX_LIVE_RECORD_HLS)) || ctx->hls) {
        return NGX_OK;
    }

    p = ctx->hls_wait;

    if (p) {
        ctx->hls_wait = NULL;

        if (ngx_live_record_hls_resume(p, &ctx->st, base) == NGX_OK) {
            ctx->hls = p;
            ngx_live_record_segmenter_opened(&ctx->seg,
                                             NGX_LIVE_RECORD_SEG_HLS, base,
                                             p->st.tracks);

            ngx_log_debug2(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                           "live record: \"%V\" hls recording goes on at "
                           "%L ms", &ctx->st.label, base);
            return NGX_OK;
        }

        ngx_log_debug1(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                       "live record: \"%V\" hls recording cannot go on: "
                       "other parameters", &ctx->st.label);

        ngx_live_record_part_close(p, NGX_LIVE_RECORD_REASON_PARAM_CHANGE, 0);
    }

    if (ngx_live_record_space(ctx) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* named like the part it starts with */

    p = ngx_live_record_part_open(&ctx->st, ctx->tpl, ctx->lacf, ctx->lmcf,
                                  1 << NGX_LIVE_RECORD_HLS,
                                  ctx->part ? ctx->part->n : ctx->parts + 1,
                                  base);
    if (p == NULL) {
        if (ngx_live_record_hls_refuses(ctx)) {
            /* refused for its video codec, and said so by the part */
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_CRIT, ctx->s->connection->log, 0,
                      "live record: \"%V\" hls recording could not be "
                      "opened", &ctx->st.label);
        return NGX_ERROR;
    }

    ctx->hls = p;
    ngx_live_record_segmenter_opened(&ctx->seg, NGX_LIVE_RECORD_SEG_HLS, base,
                                     p->st.tracks);

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" hls recording %ui open at %L ms",
                   &ctx->st.label, p->n, base);

    return NGX_OK;
}


static void
ngx_live_record_close(ngx_live_record_ctx_t *ctx, ngx_uint_t reason,
    ngx_uint_t sync)
{
    ngx_uint_t               wait;
    ngx_live_record_part_t  *p;

    p = ctx->part_wait;

    if (p) {
        /* taken, but the publisher left before its first frames */
        ctx->part_wait = NULL;
        ngx_live_record_part_unwait(p, reason, sync);
    }

    p = ctx->part;

    if (p) {
        wait = p->tpl->continue_window
               && ngx_live_record_part_may_wait(p, reason, sync);

        ngx_log_debug4(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                       "live record: \"%V\" part %ui %s: %s",
                       &ctx->st.label, p->n, wait ? "pauses" : "closes",
                       ngx_live_record_reason_name(reason));

        ctx->part = NULL;
        ngx_live_record_segmenter_closed(&ctx->seg, NGX_LIVE_RECORD_SEG_PART);

        if (wait) {
            ngx_live_record_part_pause(p, reason);

        } else {
            ngx_live_record_part_close(p, reason, sync);
        }
    }
}


/*
 * With live_record_hls_continue an interrupted hls recording waits for
 * its publisher; shutdown and everything else finish it.
 */

static void
ngx_live_record_close_hls(ngx_live_record_ctx_t *ctx, ngx_uint_t reason,
    ngx_uint_t sync)
{
    ngx_uint_t               wait;
    ngx_live_record_part_t  *p;

    p = ctx->hls ? ctx->hls : ctx->hls_wait;

    if (p == NULL) {
        return;
    }

    ctx->hls = NULL;
    ctx->hls_wait = NULL;
    ngx_live_record_segmenter_closed(&ctx->seg, NGX_LIVE_RECORD_SEG_HLS);

    /* a recording whose files are not open yet has nothing to continue */

    wait = p->tpl->hls_continue && !sync && p->hls
           && (reason == NGX_LIVE_RECORD_REASON_UNPUBLISH
               || reason == NGX_LIVE_RECORD_REASON_DROP);

    ngx_log_debug3(NGX_LOG_DEBUG_RTMP, ctx->s->connection->log, 0,
                   "live record: \"%V\" hls recording %s: %s",
                   &ctx->st.label, wait ? "pauses" : "closes",
                   ngx_live_record_reason_name(reason));

    if (wait) {
        ngx_live_record_hls_pause(p, reason);

    } else {
        ngx_live_record_part_close(p, reason, sync);
    }
}


/* MPEG-TS cannot hold the stream's video (AV1) */

static ngx_uint_t
ngx_live_record_hls_refuses(ngx_live_record_ctx_t *ctx)
{
    return ctx->st.tracks[NGX_LIVE_RECORD_VIDEO].codec
           && !(ngx_live_record_format_tracks(NGX_LIVE_RECORD_HLS,
                                              ctx->st.tracks)
                & (1 << NGX_LIVE_RECORD_VIDEO));
}


static void
ngx_live_record_hls_refused(ngx_live_record_ctx_t *ctx)
{
    u_char  *p, text[128];

    p = ngx_slprintf(text, text + sizeof(text) - 1,
                     "%s video cannot be recorded as hls",
                     ngx_live_record_codec_name(
                         ctx->st.tracks[NGX_LIVE_RECORD_VIDEO].codec));
    *p = '\0';

    ngx_log_error(NGX_LOG_ERR, ctx->s->connection->log, 0,
                  "live record: \"%V\": %s, the hls recording ends",
                  &ctx->st.label, text);

    ngx_live_record_stream_event(ctx, "record_failed", "codec", text);
}


/* an event about the stream when no part exists to speak of */

static void
ngx_live_record_stream_event(ngx_live_record_ctx_t *ctx, const char *type,
    const char *reason, u_char *message)
{
    cJSON  *o;

    if (ctx->lacf->notify == NULL) {
        return;
    }

    o = cJSON_CreateObject();

    if (o == NULL
        || ngx_live_record_json_set(o, "app", &ctx->st.app) == NULL
        || ngx_live_record_json_set(o, "domain", &ctx->st.domain) == NULL
        || ngx_live_record_json_set(o, "stream_id", &ctx->st.name) == NULL
        || ngx_live_record_json_set(o, "stream_param", &ctx->st.args) == NULL
        || ngx_live_record_json_set(o, "session_id", &ctx->st.session)
           == NULL
        || (ctx->tpl ? ngx_live_record_json_set(o, "template",
                                                &ctx->tpl->name)
                     : cJSON_AddNullToObject(o, "template")) == NULL
        || (ctx->st.task_id.len
            ? ngx_live_record_json_set(o, "task_id", &ctx->st.task_id)
            : cJSON_AddNullToObject(o, "task_id")) == NULL
        || cJSON_AddNumberToObject(o, "part", ctx->parts + 1) == NULL
        || cJSON_AddStringToObject(o, "reason", reason) == NULL
        || (message
            && cJSON_AddStringToObject(o, "message", (char *) message)
               == NULL))
    {
        cJSON_Delete(o);
        return;
    }

    (void) ngx_live_record_notify_event(ctx->lmcf, ctx->lacf->notify, type,
                                        o);
}
