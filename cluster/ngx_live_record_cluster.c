
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <cjson/cJSON.h>
#include "ngx_live_record_cluster.h"
#include "ngx_live_record_notify.h"
#include "ngx_live_record_shm.h"


#define NGX_LIVE_RECORD_CLUSTER_TIMEOUT    10000
#define NGX_LIVE_RECORD_CLUSTER_HEARTBEAT  2000
#define NGX_LIVE_RECORD_CLUSTER_NODE_TTL   30       /* s of no heartbeat */
#define NGX_LIVE_RECORD_CLUSTER_MAX_CONNS  16
#define NGX_LIVE_RECORD_CLUSTER_ID_MAX     200


/*
 * Plain SQL that PostgreSQL 15 runs, no extensions: the same text goes to
 * the PostgreSQL-protocol distributed databases.  The advisory lock keeps
 * two nodes starting at once from racing on CREATE TABLE IF NOT EXISTS.
 * Ids compare bytewise (COLLATE "C"), as the local index sorts them.
 */

static const char  ngx_live_record_cluster_schema[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7305062541);"
    "CREATE TABLE IF NOT EXISTS live_record_schema ("
    " id integer PRIMARY KEY CHECK (id = 1),"
    " version integer NOT NULL);"
    "INSERT INTO live_record_schema (id, version) VALUES (1, 2)"
    " ON CONFLICT (id) DO UPDATE SET version = 2"
    " WHERE live_record_schema.version < 2;"
    "CREATE TABLE IF NOT EXISTS live_record_nodes ("
    " node_id text COLLATE \"C\" PRIMARY KEY,"
    " instance text NOT NULL,"
    " started_at timestamptz NOT NULL DEFAULT now(),"
    " heartbeat_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS live_record_files ("
    " file_id text COLLATE \"C\" PRIMARY KEY,"
    " node_id text NOT NULL,"
    " app text NOT NULL,"
    " stream_id text NOT NULL,"
    " session_id text NOT NULL,"
    " file_format text NOT NULL,"
    " start_time_ms bigint NOT NULL,"
    " end_time_ms bigint NOT NULL,"
    " store text NOT NULL,"
    " store_type text NOT NULL,"
    " entry text NOT NULL,"
    " indexed_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS live_record_live ("
    " node_id text COLLATE \"C\" PRIMARY KEY,"
    " streams text NOT NULL,"
    " updated_at timestamptz NOT NULL DEFAULT now());"
    "CREATE TABLE IF NOT EXISTS live_record_tasks ("
    " task_id text COLLATE \"C\" PRIMARY KEY,"
    " node_id text NOT NULL,"
    " app text NOT NULL,"
    " stream text NOT NULL,"
    " domain text NOT NULL,"
    " template text,"
    " extension text,"
    " start_time_ms bigint NOT NULL,"
    " end_time_ms bigint NOT NULL,"
    " created_time_ms bigint NOT NULL,"
    " stopped_time_ms bigint);"
    "CREATE INDEX IF NOT EXISTS live_record_files_stream"
    " ON live_record_files (app, stream_id, file_id);"
    "CREATE INDEX IF NOT EXISTS live_record_files_session"
    " ON live_record_files (session_id);"
    "CREATE TABLE IF NOT EXISTS live_record_sessions ("
    " stream_key text COLLATE \"C\" PRIMARY KEY,"
    " session_id text NOT NULL,"
    " node_id text NOT NULL,"
    " parts bigint NOT NULL,"
    " stopped_ms bigint NOT NULL,"
    " expire_at timestamptz NOT NULL);"
    "COMMIT;"
    "SELECT version FROM live_record_schema WHERE id = 1";

static const char  ngx_live_record_cluster_node_sql[] =
    "SELECT instance,"
    " extract(epoch FROM now() - heartbeat_at)::bigint"
    " FROM live_record_nodes WHERE node_id = $1";

static const char  ngx_live_record_cluster_beat_sql[] =
    "INSERT INTO live_record_nodes (node_id, instance) VALUES ($1, $2)"
    " ON CONFLICT (node_id) DO UPDATE SET instance = EXCLUDED.instance,"
    " heartbeat_at = now()";

static const char  ngx_live_record_cluster_live_sql[] =
    "INSERT INTO live_record_live (node_id, streams) VALUES ($1, $2)"
    " ON CONFLICT (node_id) DO UPDATE SET streams = EXCLUDED.streams,"
    " updated_at = now()";

static const char  ngx_live_record_cluster_insert_sql[] =
    "INSERT INTO live_record_files (file_id, node_id, app, stream_id,"
    " session_id, file_format, start_time_ms, end_time_ms, store,"
    " store_type, entry)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7::bigint, $8::bigint, $9, $10, $11)"
    " ON CONFLICT (file_id) DO NOTHING";


static ngx_int_t ngx_live_record_cluster_resolve(ngx_conf_t *cf,
    ngx_str_t *hosts, ngx_str_t *addrs);
static ngx_int_t ngx_live_record_cluster_version(PGresult *res);
static ngx_int_t ngx_live_record_cluster_setup(void *data, PGresult *res,
    const char *err);
static void ngx_live_record_cluster_beat(ngx_event_t *ev);
static void ngx_live_record_cluster_beat_now(ngx_live_record_cluster_t *cl,
    ngx_uint_t retry);
static void ngx_live_record_cluster_beat_done(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err);
static ngx_int_t ngx_live_record_cluster_part_done(ngx_live_record_done_t *v);
static ngx_int_t ngx_live_record_cluster_load(
    ngx_live_record_main_conf_t *lmcf, u_char *path, ngx_str_t *text);
static void ngx_live_record_cluster_inserted(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err);
static void ngx_live_record_cluster_quiet(void *arg, const char *message);
static ngx_uint_t ngx_live_record_cluster_nul(ngx_str_t *text);


static ngx_live_record_part_done_pt  next_part_done;

char *
ngx_live_record_cluster_conf(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_live_record_main_conf_t *lmcf = conf;

    char                       *errmsg;
    u_char                     *url, *p;
    ngx_int_t                   n;
    ngx_str_t                  *value, file, password, hosts, addrs, v;
    ngx_str_t                   host, port, db;
    ngx_uint_t                  i, k, nkeys;
    PQconninfoOption           *opts, *o;
    ngx_live_record_cluster_t  *cl;

    if (lmcf->cluster) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "postgresql://", 13) != 0
        && ngx_strncmp(value[1].data, "postgres://", 11) != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "live_record_cluster: \"%V\" is not a "
                           "postgresql:// URL", &value[1]);
        return NGX_CONF_ERROR;
    }

    cl = ngx_pcalloc(cf->pool, sizeof(ngx_live_record_cluster_t));
    if (cl == NULL) {
        return NGX_CONF_ERROR;
    }

    cl->url = value[1];
    cl->lmcf = lmcf;
    cl->pg.connections = 2;
    ngx_str_null(&password);

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password_file=", 14) == 0) {
            file.data = value[i].data + 14;
            file.len = value[i].len - 14;

            if (ngx_live_record_conf_secret(cf, &file, "live_record_cluster",
                                            &password)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            if (password.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "live_record_cluster: the password file "
                                   "\"%V\" is empty or too long", &file);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "connections=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);

            if (n < 1 || n > NGX_LIVE_RECORD_CLUSTER_MAX_CONNS) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "live_record_cluster: \"%V\": "
                                   "connections must be 1 to %d",
                                   &value[i],
                                   NGX_LIVE_RECORD_CLUSTER_MAX_CONNS);
                return NGX_CONF_ERROR;
            }

            cl->pg.connections = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "live_record_cluster: unknown parameter \"%V\"",
                           &value[i]);
        return NGX_CONF_ERROR;
    }

    url = ngx_pnalloc(cf->pool, value[1].len + 1);
    if (url == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_cpystrn(url, value[1].data, value[1].len + 1);

    errmsg = NULL;
    opts = PQconninfoParse((char *) url, &errmsg);

    if (opts == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "live_record_cluster: \"%V\": %s", &value[1],
                           errmsg ? errmsg : "out of memory");
        PQfreemem(errmsg);
        return NGX_CONF_ERROR;
    }

    nkeys = 0;

    for (o = opts; o->keyword; o++) {
        nkeys++;
    }

    /* and password, hostaddr, application_name; connect_timeout; NULL */

    cl->pg.keys = ngx_pcalloc(cf->pool, (nkeys + 5) * sizeof(char *));
    cl->pg.values = ngx_pcalloc(cf->pool, (nkeys + 5) * sizeof(char *));

    if (cl->pg.keys == NULL || cl->pg.values == NULL) {
        PQconninfoFree(opts);
        return NGX_CONF_ERROR;
    }

    k = 0;
    ngx_str_null(&hosts);
    ngx_str_null(&addrs);
    ngx_str_set(&port, "5432");
    ngx_str_null(&db);

    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0') {
            continue;
        }

        v.len = ngx_strlen(o->val);
        v.data = ngx_pnalloc(cf->pool, v.len + 1);

        if (v.data == NULL) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(v.data, (u_char *) o->val, v.len + 1);

        if (ngx_strcmp(o->keyword, "host") == 0) {
            hosts = v;

        } else if (ngx_strcmp(o->keyword, "hostaddr") == 0) {
            addrs = v;

        } else if (ngx_strcmp(o->keyword, "port") == 0) {
            port = v;

        } else if (ngx_strcmp(o->keyword, "dbname") == 0) {
            db = v;

        } else if (ngx_strcmp(o->keyword, "password") == 0 && password.len) {
            /* the file wins */
            continue;
        }

        cl->pg.keys[k] = (char *) ngx_pstrdup(cf->pool, &(ngx_str_t) {
                                         ngx_strlen(o->keyword) + 1,
                                         (u_char *) o->keyword });
        if (cl->pg.keys[k] == NULL) {
            PQconninfoFree(opts);
            return NGX_CONF_ERROR;
        }

        cl->pg.values[k++] = (char *) v.data;
    }

    PQconninfoFree(opts);

    if (password.len) {
        p = ngx_pnalloc(cf->pool, password.len + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(p, password.data, password.len + 1);
        cl->pg.keys[k] = "password";
        cl->pg.values[k++] = (char *) p;
    }

    /* libpq would look the name up in PQconnectPoll, blocking */

    if (hosts.len && addrs.len == 0) {
        if (ngx_live_record_cluster_resolve(cf, &hosts, &addrs) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        if (addrs.len) {
            cl->pg.keys[k] = "hostaddr";
            cl->pg.values[k++] = (char *) addrs.data;
        }
    }

    cl->pg.keys[k] = "application_name";
    cl->pg.values[k++] = "ngx_live_record";

    cl->nkeys = k;

    /* "host:port/db" for the logs; no user, no password */

    host = hosts.len ? hosts : (ngx_str_t) ngx_string("localhost");

    p = ngx_pnalloc(cf->pool, host.len + port.len + db.len + 2);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    cl->pg.name.data = p;
    p = ngx_sprintf(p, "%V:%V", &host, &port);

    if (db.len) {
        p = ngx_sprintf(p, "/%V", &db);
    }

    cl->pg.name.len = p - cl->pg.name.data;

    cl->pg.setup_sql = ngx_live_record_cluster_schema;
    cl->pg.setup = ngx_live_record_cluster_setup;
    cl->pg.data = cl;
    cl->pg.timeout = NGX_LIVE_RECORD_CLUSTER_TIMEOUT;

    /* a node id in use by another instance is refused at start */

    p = ngx_pnalloc(cf->pool, cf->cycle->hostname.len
                              + cf->cycle->conf_file.len + 1);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    cl->instance.data = p;
    p = ngx_sprintf(p, "%V:%V", &cf->cycle->hostname, &cf->cycle->conf_file);
    cl->instance.len = p - cl->instance.data;

    lmcf->cluster = cl;

    return NGX_CONF_OK;
}


/* "a,b" -> "1.2.3.4,5.6.7.8"; a socket directory keeps an empty entry */

static ngx_int_t
ngx_live_record_cluster_resolve(ngx_conf_t *cf, ngx_str_t *hosts,
    ngx_str_t *addrs)
{
    u_char     *p, *start, *end, *comma, *out;
    size_t      len;
    ngx_url_t   u;
    ngx_uint_t  any;

    out = ngx_pnalloc(cf->pool, (hosts->len + 1) * NGX_SOCKADDR_STRLEN);
    if (out == NULL) {
        return NGX_ERROR;
    }

    p = out;
    any = 0;
    start = hosts->data;
    end = hosts->data + hosts->len;

    for ( ;; ) {
        comma = ngx_strlchr(start, end, ',');
        len = (comma ? comma : end) - start;

        if (p != out) {
            *p++ = ',';
        }

        if (len && start[0] != '/' && start[0] != '@') {
            ngx_memzero(&u, sizeof(ngx_url_t));
            u.host.data = start;
            u.host.len = len;
            u.port = 5432;

            if (ngx_inet_resolve_host(cf->pool, &u) != NGX_OK
                || u.naddrs == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "live_record_cluster: host \"%*s\" not "
                                   "found", len, start);
                return NGX_ERROR;
            }

            p += ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                               NGX_SOCKADDR_STRLEN, 0);
            any = 1;
        }

        if (comma == NULL) {
            break;
        }

        start = comma + 1;
    }

    *p = '\0';

    if (any) {
        addrs->data = out;
        addrs->len = p - out;
    }

    return NGX_OK;
}


/*
 * In the master, before the workers start, blocking (as nginx resolves
 * names at this point): the schema is made or checked, and the node id
 * claimed.  An unreachable database only logs: recording does not wait
 * for it.
 */

ngx_int_t
ngx_live_record_cluster_init_module(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf)
{
    char                       *node, *inst;
    u_char                      msg[NGX_MAX_ERROR_STR / 2];
    PGconn                     *conn;
    PGresult                   *res;
    ngx_int_t                   version, rc;
    const char                 *params[2];
    ngx_live_record_cluster_t  *cl;

    cl = lmcf->cluster;

    if (cl == NULL) {
        return NGX_OK;
    }

    cl->pg.keys[cl->nkeys] = "connect_timeout";
    cl->pg.values[cl->nkeys] = "5";

    conn = PQconnectdbParams(cl->pg.keys, cl->pg.values, 0);

    cl->pg.keys[cl->nkeys] = NULL;
    cl->pg.values[cl->nkeys] = NULL;

    if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
        (void) ngx_live_record_pg_clean(conn ? PQerrorMessage(conn)
                                             : "out of memory",
                                        msg, sizeof(msg));
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "live record: cluster database %V is unreachable at "
                      "start: %s; recording goes on, the workers keep "
                      "trying", &cl->pg.name, msg);
        PQfinish(conn);
        return NGX_OK;
    }

    PQsetNoticeProcessor(conn, ngx_live_record_cluster_quiet, NULL);

    rc = NGX_OK;
    res = PQexec(conn, ngx_live_record_cluster_schema);

    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        (void) ngx_live_record_pg_clean(PQresultErrorMessage(res), msg,
                                        sizeof(msg));
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "live record: cluster database %V: the schema could "
                      "not be made: %s", &cl->pg.name, msg);
        goto done;
    }

    version = ngx_live_record_cluster_version(res);

    if (version != NGX_LIVE_RECORD_CLUSTER_SCHEMA) {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "live record: cluster database %V has schema "
                      "version %i, this module knows version %d: upgrade "
                      "the module on every node first", &cl->pg.name,
                      version, NGX_LIVE_RECORD_CLUSTER_SCHEMA);
        rc = NGX_ERROR;
        goto done;
    }

    PQclear(res);
    res = NULL;

    /* node_id and instance are not null-terminated in the pool */

    node = ngx_pnalloc(cycle->pool, lmcf->node_id.len + 1);
    inst = ngx_pnalloc(cycle->pool, cl->instance.len + 1);

    if (node == NULL || inst == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    ngx_cpystrn((u_char *) node, lmcf->node_id.data, lmcf->node_id.len + 1);
    ngx_cpystrn((u_char *) inst, cl->instance.data, cl->instance.len + 1);
    params[0] = node;
    params[1] = inst;

    res = PQexecParams(conn, ngx_live_record_cluster_node_sql, 1, NULL,
                       params, NULL, NULL, 0);

    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1
        && ngx_strcmp(PQgetvalue(res, 0, 0), inst) != 0
        && ngx_atoi((u_char *) PQgetvalue(res, 0, 1),
                    ngx_strlen(PQgetvalue(res, 0, 1)))
           < NGX_LIVE_RECORD_CLUSTER_NODE_TTL)
    {
        ngx_log_error(NGX_LOG_EMERG, cycle->log, 0,
                      "live record: live_record_node_id \"%V\" is in use "
                      "by \"%s\" (heartbeat %s s ago): node ids must be "
                      "unique in a cluster", &lmcf->node_id,
                      PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
        rc = NGX_ERROR;
        goto done;
    }

    PQclear(res);

    res = PQexecParams(conn, ngx_live_record_cluster_beat_sql, 2, NULL,
                       params, NULL, NULL, 0);

    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        (void) ngx_live_record_pg_clean(PQresultErrorMessage(res), msg,
                                        sizeof(msg));
        ngx_log_error(NGX_LOG_ERR, cycle->log, 0,
                      "live record: cluster database %V: the node row "
                      "could not be written: %s", &cl->pg.name, msg);
    }

done:

    PQclear(res);
    PQfinish(conn);

    return rc;
}


static ngx_int_t
ngx_live_record_cluster_version(PGresult *res)
{
    char  *v;

    if (PQntuples(res) != 1 || PQnfields(res) != 1) {
        return NGX_ERROR;
    }

    v = PQgetvalue(res, 0, 0);

    return ngx_atoi((u_char *) v, ngx_strlen(v));
}


ngx_int_t
ngx_live_record_cluster_postconfiguration(ngx_conf_t *cf,
    ngx_live_record_main_conf_t *lmcf)
{
    next_part_done = ngx_live_record_part_done;
    ngx_live_record_part_done = ngx_live_record_cluster_part_done;

    if (lmcf->cluster == NULL) {
        return NGX_OK;
    }

    return ngx_live_record_spool_loader(cf, lmcf,
                                        NGX_LIVE_RECORD_SPOOL_CLUSTER,
                                        ngx_live_record_cluster_load);
}


ngx_int_t
ngx_live_record_cluster_init_process(ngx_cycle_t *cycle,
    ngx_live_record_main_conf_t *lmcf)
{
    u_char                     *p;
    ngx_live_record_cluster_t  *cl;

    cl = lmcf->cluster;

    if (cl == NULL) {
        return NGX_OK;
    }

    p = ngx_pnalloc(cycle->pool, lmcf->spool.len
                                 + sizeof("/" NGX_LIVE_RECORD_SPOOL_CLUSTER
                                          "/"));
    if (p == NULL) {
        return NGX_ERROR;
    }

    cl->spool.data = p;
    p = ngx_sprintf(p, "%V/" NGX_LIVE_RECORD_SPOOL_CLUSTER "/%Z",
                    &lmcf->spool);

    if (ngx_live_record_create_dirs(cl->spool.data, cycle->log) != NGX_OK) {
        return NGX_ERROR;
    }

    cl->spool.len = p - cl->spool.data - 2;
    cl->spool.data[cl->spool.len] = '\0';

    ngx_live_record_cluster_spool_init(cl);

    if (ngx_live_record_cluster_tasks_init(cycle, cl) != NGX_OK) {
        return NGX_ERROR;
    }

    cl->client = ngx_live_record_pg_create(cycle, &cl->pg);
    if (cl->client == NULL) {
        return NGX_ERROR;
    }

    /* one heartbeat per node, not per worker */

    if (ngx_worker == 0) {
        cl->heartbeat.handler = ngx_live_record_cluster_beat;
        cl->heartbeat.data = cl;
        cl->heartbeat.log = cycle->log;
        cl->heartbeat.cancelable = 1;
        ngx_add_timer(&cl->heartbeat, NGX_LIVE_RECORD_CLUSTER_HEARTBEAT);
    }

    return NGX_OK;
}


void
ngx_live_record_cluster_exit_process(ngx_live_record_main_conf_t *lmcf)
{
    ngx_live_record_cluster_t  *cl;

    cl = lmcf->cluster;

    if (cl == NULL || cl->client == NULL) {
        return;
    }

    if (cl->heartbeat.timer_set) {
        ngx_del_timer(&cl->heartbeat);
    }

    ngx_live_record_cluster_tasks_exit(cl);
    ngx_live_record_pg_destroy(cl->client);
    cl->client = NULL;
}


ngx_live_record_pg_t *
ngx_live_record_cluster_client(ngx_live_record_main_conf_t *lmcf)
{
    ngx_live_record_cluster_t  *cl;

    cl = lmcf ? lmcf->cluster : NULL;

    return cl ? cl->client : NULL;
}


ngx_uint_t
ngx_live_record_cluster_backlog(ngx_live_record_main_conf_t *lmcf)
{
    ngx_live_record_pg_t  *pg;

    pg = ngx_live_record_cluster_client(lmcf);

    return pg ? ngx_live_record_pg_queued(pg) : 0;
}


/* every new connection: the schema, then its version */

static ngx_int_t
ngx_live_record_cluster_setup(void *data, PGresult *res, const char *err)
{
    ngx_live_record_cluster_t *cl = data;

    ngx_int_t  version;

    if (err) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: cluster database %V: the schema could "
                      "not be made: %s", &cl->pg.name, err);
        return NGX_ERROR;
    }

    version = ngx_live_record_cluster_version(res);

    if (version == NGX_LIVE_RECORD_CLUSTER_SCHEMA) {
        if (cl->heartbeat.timer_set) {
            /* the node is alive from now, not from the next beat */
            ngx_live_record_cluster_beat_now(cl, 1);
        }

        ngx_live_record_cluster_tasks_connected(cl);

        return NGX_OK;
    }

    if (!cl->refused) {
        ngx_log_error(NGX_LOG_ALERT, ngx_cycle->log, 0,
                      "live record: cluster database %V has schema "
                      "version %i, this module knows version %d: the "
                      "cluster is not used, rows wait in the spool; "
                      "upgrade the module", &cl->pg.name, version,
                      NGX_LIVE_RECORD_CLUSTER_SCHEMA);
        cl->refused = 1;
    }

    return NGX_ERROR;
}


static void
ngx_live_record_cluster_beat(ngx_event_t *ev)
{
    ngx_live_record_cluster_t *cl = ev->data;

    ngx_live_record_cluster_beat_now(cl, 0);

    if (!ngx_exiting && !ngx_terminate) {
        ngx_add_timer(ev, NGX_LIVE_RECORD_CLUSTER_HEARTBEAT);
    }
}


static void
ngx_live_record_cluster_beat_now(ngx_live_record_cluster_t *cl,
    ngx_uint_t retry)
{
    cJSON      *a;
    ngx_str_t   params[2];

    params[0] = cl->lmcf->node_id;
    params[1] = cl->instance;

    /* skipped while the database is away: a node without one is gone */

    (void) ngx_live_record_pg_query(cl->client,
                                    ngx_live_record_cluster_beat_sql, 2,
                                    params,
                                    ngx_live_record_cluster_beat_done, cl,
                                    retry);

    if (cl->live == NULL) {
        return;
    }

    /* the node's streams, as its GET /streams lists them */

    a = cl->live((ngx_cycle_t *) ngx_cycle, NULL, NULL);
    params[1].data = a ? (u_char *) cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);

    if (params[1].data == NULL) {
        return;
    }

    params[1].len = ngx_strlen(params[1].data);

    (void) ngx_live_record_pg_query(cl->client,
                                    ngx_live_record_cluster_live_sql, 2,
                                    params,
                                    ngx_live_record_cluster_beat_done, cl,
                                    retry);

    cJSON_free(params[1].data);
}


void
ngx_live_record_cluster_live_view(ngx_live_record_main_conf_t *lmcf,
    ngx_live_record_cluster_live_pt live)
{
    ngx_live_record_cluster_t  *cl;

    cl = lmcf->cluster;

    if (cl) {
        cl->live = live;
    }
}


static void
ngx_live_record_cluster_beat_done(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err)
{
    if (err) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "live record: cluster heartbeat: %s", err);
    }
}


/*
 * A delivered file: its index entry becomes a row.  The row is spooled
 * first, as notify spools an event, and its spool file removed once the
 * database has it: a row waits there through a database outage and a
 * restart.
 */

static ngx_int_t
ngx_live_record_cluster_part_done(ngx_live_record_done_t *v)
{
    u_char                     *path;
    ngx_int_t                   rc;
    ngx_str_t                   text;
    ngx_live_record_cluster_t  *cl;

    cl = v->lmcf->cluster;

    if (cl == NULL || cl->client == NULL || v->entry == NULL) {
        goto next;
    }

    text.data = (u_char *) cJSON_PrintUnformatted(v->entry);
    if (text.data == NULL) {
        goto failed;
    }

    text.len = ngx_strlen(text.data);

    path = ngx_alloc(cl->spool.len + v->file_id->len + NGX_INT64_LEN
                     + sizeof("/..json"), ngx_cycle->log);
    if (path == NULL) {
        cJSON_free(text.data);
        goto failed;
    }

    ngx_sprintf(path, "%V/%P.%V.json%Z", &cl->spool, ngx_pid, v->file_id);

    rc = ngx_live_record_cluster_spool(cl, v->file_id, &text, path);

    ngx_free(path);
    cJSON_free(text.data);

    if (rc != NGX_OK) {
        goto failed;
    }

    goto next;

failed:

    ngx_log_error(NGX_LOG_CRIT, ngx_cycle->log, 0,
                  "live record: \"%V\" %V: no cluster row", v->label,
                  v->file_id);

next:

    return next_part_done(v);
}


/* a row left by an earlier worker: "PID.FILE_ID.json", the entry */

static ngx_int_t
ngx_live_record_cluster_load(ngx_live_record_main_conf_t *lmcf, u_char *path,
    ngx_str_t *text)
{
    u_char                     *copy;
    size_t                      len;
    ngx_str_t                   id;
    ngx_live_record_cluster_t  *cl;

    cl = lmcf->cluster;

    if (cl == NULL || cl->client == NULL) {
        return NGX_DECLINED;
    }

    len = ngx_strlen(path);

    id.data = path + cl->spool.len + 1;
    id.data = ngx_strlchr(id.data, path + len, '.');

    if (id.data == NULL || len < sizeof(".json") - 1) {
        return NGX_ERROR;
    }

    id.data++;
    id.len = path + len - (sizeof(".json") - 1) - id.data;

    copy = ngx_alloc(len + 1, ngx_cycle->log);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(copy, path, len + 1);

    if (ngx_live_record_cluster_insert(cl, &id, text, copy) != NGX_OK) {
        ngx_free(copy);
        return NGX_ERROR;
    }

    ngx_live_record_stat_gauge(NGX_LIVE_RECORD_GAUGE_SPOOL_CLUSTER, 1);

    ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                  "live record: spooled cluster row %V queued", &id);

    return NGX_OK;
}


/*
 * The entry is checked as if hostile: a spool file can be damaged.  path
 * (NULL for none) is the spool file's, freed with the query.
 */

ngx_int_t
ngx_live_record_cluster_insert(ngx_live_record_cluster_t *cl, ngx_str_t *id,
    ngx_str_t *text, u_char *path)
{
    u_char                       start[NGX_INT64_LEN + 1];
    u_char                       end[NGX_INT64_LEN + 1];
    cJSON                       *e, *f;
    ngx_str_t                    v[11];
    ngx_uint_t                   i;
    const char                  *names[5] = { "app", "stream_id",
                                              "session_id", "file_format",
                                              "store" };
    ngx_live_record_app_conf_t **pc;

    if (ngx_live_record_valid_name(id, NGX_LIVE_RECORD_CLUSTER_ID_MAX)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: cluster row with an invalid file id "
                      "refused");
        return NGX_ERROR;
    }

    e = cJSON_ParseWithLength((char *) text->data, text->len);

    /*
     * cJSON's strings end at a NUL: an "app" of "a\u0000x" would go in
     * as "a", and jsonb refuses the entry's \u0000 anyway
     */

    if (!cJSON_IsObject(e) || ngx_live_record_cluster_nul(text)) {
        goto invalid;
    }

    v[0] = *id;
    v[1] = cl->lmcf->node_id;

    for (i = 0; i < 5; i++) {
        f = cJSON_GetObjectItemCaseSensitive(e, names[i]);

        if (!cJSON_IsString(f)) {
            goto invalid;
        }

        v[2 + i].data = (u_char *) f->valuestring;
        v[2 + i].len = ngx_strlen(f->valuestring);
    }

    /* the store's name as configured, a separate parameter below */
    v[8] = v[6];

    f = cJSON_GetObjectItemCaseSensitive(e, "start_time_ms");

    if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 1e15) {
        goto invalid;
    }

    v[6].data = start;
    v[6].len = ngx_sprintf(start, "%uL", (uint64_t) f->valuedouble) - start;

    f = cJSON_GetObjectItemCaseSensitive(e, "end_time_ms");

    if (f != NULL
        && (!cJSON_IsNumber(f) || f->valuedouble < 0
            || f->valuedouble > 1e15))
    {
        goto invalid;
    }

    v[7].data = end;
    v[7].len = ngx_sprintf(end, "%uL", f ? (uint64_t) f->valuedouble
                                         : (uint64_t) ngx_atoi(start,
                                                                v[6].len))
               - end;

    ngx_str_set(&v[9], "unknown");
    pc = cl->lmcf->stores.elts;

    for (i = 0; i < cl->lmcf->stores.nelts; i++) {
        if (ngx_live_record_str_eq(&pc[i]->store.name, &v[8])) {
            switch (pc[i]->store.type) {
            case NGX_LIVE_RECORD_STORE_HTTP:
                ngx_str_set(&v[9], "http");
                break;
            case NGX_LIVE_RECORD_STORE_S3:
                ngx_str_set(&v[9], "s3");
                break;
            default:
                ngx_str_set(&v[9], "local");
            }

            break;
        }
    }

    v[10] = *text;

    if (ngx_live_record_pg_query(cl->client,
                                 ngx_live_record_cluster_insert_sql, 11, v,
                                 ngx_live_record_cluster_inserted, path, 1)
        == NULL)
    {
        cJSON_Delete(e);
        return NGX_ERROR;
    }

    cJSON_Delete(e);

    return NGX_OK;

invalid:

    cJSON_Delete(e);

    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "live record: cluster row %V: the index entry is not "
                  "valid JSON with app, stream_id, session_id, "
                  "file_format, store and start_time_ms%s%s%s", id,
                  path ? "; left in \"" : "", path ? (char *) path : "",
                  path ? "\"" : "");

    return NGX_ERROR;
}


static void
ngx_live_record_cluster_inserted(ngx_live_record_pg_query_t *q,
    PGresult *res, const char *err)
{
    u_char  *path = q->data;

    if (res == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "live record: cluster row %s could not be written: "
                      "%s%s%s%s", q->values[0], err,
                      path ? "; it stays in \"" : "",
                      path ? (char *) path : "", path ? "\"" : "");
        ngx_free(path);
        return;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, ngx_cycle->log, 0,
                   "live record: cluster row %s written", q->values[0]);

    if (path == NULL) {
        return;
    }

    ngx_live_record_cluster_unspool(path);
}


static void
ngx_live_record_cluster_quiet(void *arg, const char *message)
{
}


/* a "\u0000" escape in JSON that cJSON took: backslashes are escapes */

static ngx_uint_t
ngx_live_record_cluster_nul(ngx_str_t *text)
{
    u_char  *p, *last;

    last = text->data + text->len;

    for (p = text->data; p < last; p++) {
        if (*p != '\\') {
            continue;
        }

        if (last - p >= 6 && ngx_strncmp(p + 1, "u0000", 5) == 0) {
            return 1;
        }

        p++;
    }

    return 0;
}
