
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_part.h"
#include "ngx_live_record_stream.h"
#include "ngx_live_record_tasks.h"
#include "ngx_live_record_index.h"


/*
 * What records a stream, and why: the template its application, server or
 * domain rule names, and the record tasks for it whose window is open.
 * One recorder per (stream, format): the formats are the union of all
 * sources; the settings (interval, path, hls, min_duration) are those of
 * the newest task's template, else the configured template's.
 */


#define NGX_LIVE_RECORD_PLAN_TICK  1000


static ngx_int_t ngx_live_record_rule_regex(ngx_conf_t *cf,
    ngx_live_record_domain_t *d);
static ngx_int_t ngx_live_record_plan_sources(ngx_live_record_plan_t *plan,
    ngx_live_record_template_t *conf, ngx_str_t *rule, ngx_array_t *tasks,
    ngx_live_record_template_t **tpls);
static ngx_int_t ngx_live_record_plan_describe(ngx_live_record_plan_t *plan,
    ngx_live_record_template_t *conf, ngx_str_t *rule, ngx_array_t *tasks,
    ngx_live_record_template_t **tpls);
static cJSON *ngx_live_record_formats_json(ngx_uint_t formats);


ngx_live_record_plan_t *
ngx_live_record_plan(ngx_live_record_ctx_t *ctx)
{
    u_char                       *p;
    size_t                        len;
    uint64_t                      now;
    ngx_uint_t                    i, n;
    ngx_pool_t                   *pool;
    ngx_array_t                  *tasks;
    ngx_live_record_plan_t       *plan;
    ngx_live_record_task_t       *t;
    ngx_live_record_template_t   *conf, **first, *tpl, *tpls[16];

    static ngx_str_t              none = ngx_null_string;

    pool = ngx_create_pool(2048, ngx_cycle->log);
    if (pool == NULL) {
        return NULL;
    }

    plan = ngx_pcalloc(pool, sizeof(ngx_live_record_plan_t));
    tasks = ngx_array_create(pool, 2, sizeof(ngx_live_record_task_t));

    if (plan == NULL || tasks == NULL) {
        goto failed;
    }

    plan->pool = pool;

    now = ngx_live_record_now_ms();

    plan->generation = ngx_live_record_tasks_generation();
    plan->next = (uint64_t) -1;

    if (ctx->lacf->tasks_on
        && ngx_live_record_tasks_match(&ctx->st.app, &ctx->st.name,
                                       &ctx->st.domain, now, tasks, pool,
                                       &plan->next)
           != NGX_OK)
    {
        goto failed;
    }

    conf = ctx->conf_tpl;
    plan->tpl = conf;
    plan->formats = conf ? conf->formats : 0;

    first = ctx->lmcf->templates.nelts ? ctx->lmcf->templates.elts : NULL;
    t = tasks->elts;
    len = 0;
    n = 0;

    /* tasks are in the order they were created: the newest 16 count */

    for (i = tasks->nelts > 16 ? tasks->nelts - 16 : 0;
         i < tasks->nelts;
         i++)
    {
        tpl = t[i].tpl.len ? ngx_live_record_template(ctx->lmcf, &t[i].tpl)
                           : NULL;

        if (tpl == NULL) {
            /* no template named, or one gone with a reload */
            tpl = conf ? conf : (first ? first[0] : NULL);
        }

        if (tpl == NULL) {
            ngx_log_error(NGX_LOG_ERR, ctx->s->connection->log, 0,
                          "live record: \"%V\": task \"%V\" cannot "
                          "record, no live_record_template is configured",
                          &ctx->st.label, &t[i].id);
            continue;
        }

        t[n] = t[i];
        tpls[n++] = tpl;

        len += t[i].id.len + 1;
        plan->formats |= tpl->formats;
        plan->tpl = tpl;
        plan->task_id = t[i].id;
        plan->extension = t[i].extension;
    }

    tasks->nelts = n;
    plan->ntasks = n;

    p = ngx_pnalloc(pool, NGX_INT_T_LEN + 2
                          + (conf ? conf->name.len : 0)
                          + (plan->tpl ? plan->tpl->name.len : 0) + len);
    if (p == NULL) {
        goto failed;
    }

    plan->signature.data = p;
    p = ngx_sprintf(p, "%ui|%V|%V", plan->formats,
                    conf ? &conf->name : &none,
                    plan->tpl ? &plan->tpl->name : &none);

    for (i = 0; i < tasks->nelts; i++) {
        p = ngx_sprintf(p, "|%V", &t[i].id);
    }

    plan->signature.len = p - plan->signature.data;

    if (ngx_live_record_plan_sources(plan, conf, &ctx->rule, tasks, tpls)
        != NGX_OK
        || ngx_live_record_plan_describe(plan, conf, &ctx->rule, tasks, tpls)
           != NGX_OK)
    {
        goto failed;
    }

    return plan;

failed:

    ngx_destroy_pool(pool);

    return NULL;
}


void
ngx_live_record_plan_free(ngx_live_record_plan_t *plan)
{
    if (plan) {
        ngx_destroy_pool(plan->pool);
    }
}


/* did a task of the old plan leave it */

ngx_uint_t
ngx_live_record_plan_task_ended(ngx_live_record_plan_t *old,
    ngx_live_record_plan_t *cur)
{
    u_char     *p, *last, *end;
    ngx_str_t   id;

    p = old->signature.data;
    last = p + old->signature.len;

    /* skip formats, template and settings */

    p = ngx_strlchr(p, last, '|');
    p = p ? ngx_strlchr(p + 1, last, '|') : NULL;
    p = p ? ngx_strlchr(p + 1, last, '|') : NULL;

    while (p && p < last) {
        id.data = p + 1;
        end = ngx_strlchr(id.data, last, '|');
        id.len = (end ? end : last) - id.data;

        if (!ngx_live_record_plan_has(cur, &id)) {
            return 1;
        }

        p = end;
    }

    return 0;
}


ngx_uint_t
ngx_live_record_plan_has(ngx_live_record_plan_t *plan, ngx_str_t *id)
{
    u_char  *p, *last;

    p = plan->signature.data;
    last = p + plan->signature.len;

    while (p && p < last) {
        p = ngx_strlchr(p, last, '|');

        if (p == NULL) {
            break;
        }

        p++;

        if ((size_t) (last - p) >= id->len
            && ngx_memcmp(p, id->data, id->len) == 0
            && (p + id->len == last || p[id->len] == '|'))
        {
            return 1;
        }
    }

    return 0;
}


/* the sources a part names in its index entry and callbacks */

static ngx_int_t
ngx_live_record_plan_sources(ngx_live_record_plan_t *plan,
    ngx_live_record_template_t *conf, ngx_str_t *rule, ngx_array_t *tasks,
    ngx_live_record_template_t **tpls)
{
    cJSON                   *a, *o;
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_live_record_task_t  *t;

    a = cJSON_CreateArray();
    if (a == NULL) {
        return NGX_ERROR;
    }

    if (conf) {
        o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);

        if (o == NULL
            || cJSON_AddStringToObject(o, "type", "template") == NULL
            || ngx_live_record_json_set(o, "template", &conf->name) == NULL
            || ngx_live_record_json_set(o, "rule", rule) == NULL)
        {
            cJSON_Delete(a);
            return NGX_ERROR;
        }
    }

    t = tasks->elts;

    for (i = 0; i < tasks->nelts; i++) {
        o = cJSON_CreateObject();
        cJSON_AddItemToArray(a, o);

        if (o == NULL
            || cJSON_AddStringToObject(o, "type", "task") == NULL
            || ngx_live_record_json_set(o, "task_id", &t[i].id) == NULL
            || ngx_live_record_json_set(o, "template", &tpls[i]->name)
               == NULL)
        {
            cJSON_Delete(a);
            return NGX_ERROR;
        }
    }

    rc = ngx_live_record_json_text(plan->pool, a, &plan->sources);

    cJSON_Delete(a);

    return rc;
}


/* for GET /streams: the first thing to check about a duplicate recording */

static ngx_int_t
ngx_live_record_plan_describe(ngx_live_record_plan_t *plan,
    ngx_live_record_template_t *conf, ngx_str_t *rule, ngx_array_t *tasks,
    ngx_live_record_template_t **tpls)
{
    u_char                  *p, *last;
    cJSON                   *o, *ids;
    ngx_int_t                rc;
    ngx_uint_t               i;
    ngx_live_record_task_t  *t;
    u_char                   why[1024];

    o = cJSON_CreateObject();
    ids = cJSON_CreateArray();

    if (o == NULL || ids == NULL) {
        cJSON_Delete(o);
        cJSON_Delete(ids);
        return NGX_ERROR;
    }

    cJSON_AddItemToObject(o, "tasks", ids);

    p = why;
    last = why + sizeof(why) - 1;

    if (conf) {
        p = ngx_slprintf(p, last, "template \"%V\" by the %V rule",
                         &conf->name, rule);

    } else {
        p = ngx_slprintf(p, last, "no template rule matches");
    }

    t = tasks->elts;

    for (i = 0; i < tasks->nelts; i++) {

        if (!cJSON_AddItemToArray(ids, ngx_live_record_json_str(&t[i].id))) {
            cJSON_Delete(o);
            return NGX_ERROR;
        }

        p = ngx_slprintf(p, last, "; task \"%V\" (template \"%V\") until "
                         "%uL", &t[i].id, &tpls[i]->name, t[i].end_ms / 1000);
    }

    if (plan->formats == 0) {
        p = ngx_slprintf(p, last, "; nothing to record");

    } else if (plan->task_id.len) {
        p = ngx_slprintf(p, last, "; one recorder per format, settings of "
                         "task \"%V\"", &plan->task_id);
    }

    *p = '\0';

    if ((conf ? ngx_live_record_json_set(o, "template", &conf->name)
              : cJSON_AddNullToObject(o, "template")) == NULL
        || (conf ? ngx_live_record_json_set(o, "rule", rule)
                 : cJSON_AddNullToObject(o, "rule")) == NULL
        || (plan->tpl ? ngx_live_record_json_set(o, "settings_template",
                                                 &plan->tpl->name)
                      : cJSON_AddNullToObject(o, "settings_template")) == NULL
        || (plan->task_id.len
            ? ngx_live_record_json_set(o, "settings_task", &plan->task_id)
            : cJSON_AddNullToObject(o, "settings_task")) == NULL
        || cJSON_AddStringToObject(o, "why", (char *) why) == NULL)
    {
        cJSON_Delete(o);
        return NGX_ERROR;
    }

    cJSON_AddItemToObject(o, "formats",
                          ngx_live_record_formats_json(plan->formats));

    rc = ngx_live_record_json_text(plan->pool, o, &plan->json);

    cJSON_Delete(o);

    return rc;
}


static cJSON *
ngx_live_record_formats_json(ngx_uint_t formats)
{
    cJSON       *a;
    ngx_uint_t   i;

    a = cJSON_CreateArray();

    for (i = 0; a && i < NGX_LIVE_RECORD_NFORMATS; i++) {
        if (formats & (1 << i)) {
            cJSON_AddItemToArray(a, cJSON_CreateString(
                                        i == NGX_LIVE_RECORD_HLS
                                        ? "hls"
                                        : ngx_live_record_format_ext(i)));
        }
    }

    return a;
}


/*
 * A part open while a task joins with the same settings goes on and
 * names the new source too: sources are only ever added to a part.
 */

ngx_int_t
ngx_live_record_part_add_sources(ngx_live_record_part_t *p,
    ngx_live_record_plan_t *plan)
{
    cJSON      *have, *add, *o, *h;
    ngx_int_t   rc;
    ngx_uint_t  found;

    have = p->st.sources.len
           ? cJSON_ParseWithLength((char *) p->st.sources.data,
                                   p->st.sources.len)
           : cJSON_CreateArray();
    add = cJSON_ParseWithLength((char *) plan->sources.data,
                                plan->sources.len);

    if (!cJSON_IsArray(have) || !cJSON_IsArray(add)) {
        rc = NGX_ERROR;
        goto done;
    }

    while ((o = cJSON_DetachItemFromArray(add, 0)) != NULL) {
        found = 0;

        cJSON_ArrayForEach(h, have) {
            if (cJSON_Compare(h, o, 1)) {
                found = 1;
                break;
            }
        }

        if (found) {
            cJSON_Delete(o);

        } else {
            cJSON_AddItemToArray(have, o);
        }
    }

    rc = ngx_live_record_json_text(p->pool, have, &p->st.sources);

    if (rc == NGX_OK && p->st.task_id.len == 0 && plan->task_id.len) {
        p->st.task_id.data = ngx_pstrdup(p->pool, &plan->task_id);
        p->st.task_id.len = p->st.task_id.data ? plan->task_id.len : 0;
        if (plan->extension.len) {
            p->st.extension.data = ngx_pstrdup(p->pool, &plan->extension);
            p->st.extension.len = p->st.extension.data
                                  ? plan->extension.len : 0;
        }
    }

    if (rc == NGX_OK) {
        ngx_live_record_sidecars_update(p);
    }

done:

    cJSON_Delete(have);
    cJSON_Delete(add);

    return rc;
}


/* every second: tasks that start or end, and the numbers /streams shows */

void
ngx_live_record_plan_tick(ngx_event_t *ev)
{
    ngx_queue_t                  *q, *next;
    ngx_live_record_ctx_t        *ctx;
    ngx_live_record_main_conf_t  *lmcf;

    lmcf = ev->data;

    for (q = ngx_queue_head(&lmcf->active);
         q != ngx_queue_sentinel(&lmcf->active);
         q = next)
    {
        next = ngx_queue_next(q);
        ctx = ngx_queue_data(q, ngx_live_record_ctx_t, queue);

        ngx_live_record_stream_replan(ctx);
    }

    if (!ngx_exiting && !ngx_terminate) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_PLAN_TICK);
    }
}


void
ngx_live_record_plan_start(ngx_live_record_main_conf_t *lmcf,
    ngx_cycle_t *cycle)
{
    if (ngx_live_record_shm(cycle, NULL) == NULL) {
        return;
    }

    lmcf->tick.handler = ngx_live_record_plan_tick;
    lmcf->tick.data = lmcf;
    lmcf->tick.log = cycle->log;
    lmcf->tick.cancelable = 1;

    ngx_add_timer(&lmcf->tick, NGX_LIVE_RECORD_PLAN_TICK);
}


/*
 * The template by rule, the most specific first, in the priority of the
 * service this module replaces: domain and stream, stream, domain; an
 * exact stream name over a regex, a rule naming the application over
 * one that does not, an exact host over a wildcard, the longest
 * wildcard; else the application's (live_record).
 */

ngx_live_record_template_t *
ngx_live_record_resolve(ngx_live_record_app_conf_t *lacf, ngx_str_t *app,
    ngx_str_t *host, ngx_str_t *name, ngx_live_record_domain_t **rule)
{
    size_t                     len, best_len;
    ngx_uint_t                 i, rank, best;
    ngx_live_record_domain_t  *d, *found;

    *rule = NULL;

    if (lacf->domains == NULL) {
        return lacf->tpl;
    }

    d = lacf->domains->elts;
    found = NULL;
    best = 0;
    best_len = 0;

    for (i = 0; i < lacf->domains->nelts; i++) {

        if (d[i].app.len && !ngx_live_record_str_eq(&d[i].app, app)) {
            continue;
        }

        if (d[i].is_regex) {
#if (NGX_PCRE)
            /* below 0: no match, or an error, which is no match either */
            if (ngx_regex_exec(d[i].regex, name, NULL, 0) < 0) {
                continue;
            }
#endif

        } else if (d[i].stream.len
                   && !ngx_live_record_str_eq(&d[i].stream, name))
        {
            continue;
        }

        len = 0;

        if (d[i].host.len) {
            if (!d[i].wildcard) {
                if (d[i].host.len != host->len
                    || ngx_strncasecmp(d[i].host.data, host->data,
                                       host->len)
                       != 0)
                {
                    continue;
                }

                len = (size_t) -1;

            } else {

                /* "*.example.com": host ends with ".example.com" */

                if (host->len <= d[i].host.len
                    || ngx_strncasecmp(host->data + host->len
                                       - d[i].host.len,
                                       d[i].host.data, d[i].host.len)
                       != 0)
                {
                    continue;
                }

                len = d[i].host.len;
            }
        }

        /* then an exact stream over a regex, then a named application */

        rank = (d[i].stream.len ? 8 : 0) + (d[i].host.len ? 4 : 0)
               + (d[i].stream.len && !d[i].is_regex ? 2 : 0)
               + (d[i].app.len ? 1 : 0);

        if (found == NULL || rank > best || (rank == best && len > best_len))
        {
            found = &d[i];
            best = rank;
            best_len = len;
        }
    }

    if (found) {
        *rule = found;
        return found->tpl;
    }

    return lacf->tpl;
}


char *
ngx_live_record_conf_domain(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_live_record_app_conf_t *lacf = conf;

    ngx_str_t                 *value, host;
    ngx_live_record_domain_t  *d;

    value = cf->args->elts;
    host = value[1];

    if (lacf->domains == NGX_CONF_UNSET_PTR) {
        lacf->domains = ngx_array_create(cf->pool, 4,
                                         sizeof(ngx_live_record_domain_t));
        if (lacf->domains == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    d = ngx_array_push(lacf->domains);
    if (d == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(d, sizeof(ngx_live_record_domain_t));

    if (host.len > 2 && host.data[0] == '*' && host.data[1] == '.') {
        d->wildcard = 1;
        host.data++;
        host.len--;
    }

    if (host.len == 0 || ngx_strlchr(host.data, host.data + host.len, '*')
        || ngx_strlchr(host.data, host.data + host.len, '/'))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid host \"%V\" in \"live_record_domain\", "
                           "expected a host name or *.suffix", &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_strlow(host.data, host.data, host.len);

    d->host = host;
    d->name = value[2];

    return NGX_CONF_OK;
}


/*
 * live_record_rule [domain=HOST] [app=NAME] [stream=NAME|~REGEX]
 *     TEMPLATE | off;
 * kept with the live_record_domain rules, which it outranks
 */

char *
ngx_live_record_conf_rule(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_live_record_app_conf_t *lacf = conf;

    ngx_str_t                 *value, v;
    ngx_uint_t                 i;
    ngx_live_record_domain_t  *d;

    value = cf->args->elts;

    if (lacf->domains == NGX_CONF_UNSET_PTR) {
        lacf->domains = ngx_array_create(cf->pool, 4,
                                         sizeof(ngx_live_record_domain_t));
        if (lacf->domains == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    d = ngx_array_push(lacf->domains);
    if (d == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(d, sizeof(ngx_live_record_domain_t));

    d->rule = 1;

    for (i = 1; i < cf->args->nelts - 1; i++) {

        if (ngx_strncmp(value[i].data, "stream=~", 8) == 0
            && d->stream.len == 0 && value[i].len > 8)
        {
            d->stream.data = value[i].data + 8;
            d->stream.len = value[i].len - 8;
            d->is_regex = 1;

            if (ngx_live_record_rule_regex(cf, d) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "stream=", 7) == 0
            && d->stream.len == 0 && value[i].len > 7)
        {
            d->stream.data = value[i].data + 7;
            d->stream.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "app=", 4) == 0
            && d->app.len == 0 && value[i].len > 4)
        {
            d->app.data = value[i].data + 4;
            d->app.len = value[i].len - 4;
            continue;
        }

        if (ngx_strncmp(value[i].data, "domain=", 7) == 0
            && d->host.len == 0)
        {
            v.data = value[i].data + 7;
            v.len = value[i].len - 7;

            if (v.len > 2 && v.data[0] == '*' && v.data[1] == '.') {
                d->wildcard = 1;
                v.data++;
                v.len--;
            }

            if (v.len && !ngx_strlchr(v.data, v.data + v.len, '*')
                && !ngx_strlchr(v.data, v.data + v.len, '/'))
            {
                ngx_strlow(v.data, v.data, v.len);
                d->host = v;
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\" in "
                           "\"live_record_rule\", expected domain=HOST "
                           "(a host name or *.suffix), app=NAME or "
                           "stream=NAME|~REGEX, each once", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (d->stream.len == 0 && d->app.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"live_record_rule\" needs stream=NAME, "
                           "stream=~REGEX or app=NAME (a domain alone is "
                           "\"live_record_domain\")");
        return NGX_CONF_ERROR;
    }

    d->name = value[cf->args->nelts - 1];

    return NGX_CONF_OK;
}


/* stream=~REGEX: PCRE, as nginx's own regexes, matched unanchored */

static ngx_int_t
ngx_live_record_rule_regex(ngx_conf_t *cf, ngx_live_record_domain_t *d)
{
#if (NGX_PCRE)
    u_char               errstr[NGX_MAX_CONF_ERRSTR];
    ngx_regex_compile_t  rc;

    ngx_memzero(&rc, sizeof(ngx_regex_compile_t));

    rc.pattern = d->stream;
    rc.pool = cf->pool;
    rc.err.len = NGX_MAX_CONF_ERRSTR;
    rc.err.data = errstr;

    if (ngx_regex_compile(&rc) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid regex in \"live_record_rule "
                           "stream=~%V\": %V", &d->stream, &rc.err);
        return NGX_ERROR;
    }

    d->regex = rc.regex;

    return NGX_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"live_record_rule stream=~%V\": this nginx is "
                       "built without PCRE, no regex can be used",
                       &d->stream);
    return NGX_ERROR;

#endif
}


/* "rule domain=H app=A stream=[~]S" or "domain [*]H", as configured */

u_char *
ngx_live_record_rule_name(u_char *p, u_char *last,
    ngx_live_record_domain_t *d)
{
    if (!d->rule) {
        return ngx_slprintf(p, last, "domain %s%V", d->wildcard ? "*" : "",
                            &d->host);
    }

    p = ngx_slprintf(p, last, "rule");

    if (d->host.len) {
        p = ngx_slprintf(p, last, " domain=%s%V", d->wildcard ? "*" : "",
                         &d->host);
    }

    if (d->app.len) {
        p = ngx_slprintf(p, last, " app=%V", &d->app);
    }

    if (d->stream.len) {
        p = ngx_slprintf(p, last, " stream=%s%V", d->is_regex ? "~" : "",
                         &d->stream);
    }

    return p;
}
