
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_store.h"


#define NGX_LIVE_RECORD_COPY_BUF  (256 * 1024)


static ngx_int_t ngx_live_record_copy(u_char *src, u_char *dst,
    ngx_log_t *log);
static ngx_int_t ngx_live_record_copy_file(u_char *src, u_char *dst,
    ngx_log_t *log);
static ngx_int_t ngx_live_record_copy_dir(u_char *src, u_char *dst,
    ngx_log_t *log);
static u_char *ngx_live_record_join(u_char *dir, ngx_str_t *name,
    ngx_log_t *log);


ngx_live_record_part_done_pt  ngx_live_record_part_done;


/*
 * Moves a finished file into the local store.  The rename is atomic, so
 * the final name never shows a half-written file; across filesystems the
 * copy goes to a temporary name first.
 */

ngx_int_t
ngx_live_record_handoff(ngx_live_record_part_t *p, ngx_live_record_file_t *f)
{
    ngx_err_t        err;
    ngx_file_info_t  fi;

    if (ngx_live_record_create_dirs(f->store.data, p->log) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_rename_file(f->work.data, f->store.data) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (err != NGX_EXDEV) {
            ngx_log_error(NGX_LOG_CRIT, p->log, err,
                          "live record: \"%V\" part %ui: "
                          ngx_rename_file_n " \"%s\" to \"%s\" failed",
                          &p->st.label, p->n, f->work.data, f->store.data);
            return NGX_ERROR;
        }

        if (ngx_live_record_copy(f->work.data, f->store.data, p->log)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        (void) ngx_live_record_delete_tree(f->work.data, p->log);
    }

    if (ngx_file_info(f->store.data, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, p->log, ngx_errno,
                      "live record: \"%V\" part %ui: "
                      ngx_file_info_n " \"%s\" failed",
                      &p->st.label, p->n, f->store.data);
        return NGX_ERROR;
    }

    f->size = ngx_file_size(&fi);

    return NGX_OK;
}


ngx_int_t
ngx_live_record_create_dirs(u_char *path, ngx_log_t *log)
{
    ngx_err_t  err;

    err = ngx_create_full_path(path, 0755);

    if (err != 0) {
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "live record: creating directories for \"%s\" failed",
                      path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* across filesystems: a copy under a temporary name, then a rename */

static ngx_int_t
ngx_live_record_copy(u_char *src, u_char *dst, ngx_log_t *log)
{
    size_t           len;
    u_char          *tmp;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    if (ngx_file_info(src, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_file_info_n " \"%s\" failed", src);
        return NGX_ERROR;
    }

    len = ngx_strlen(dst);

    tmp = ngx_alloc(len + sizeof(".tmp"), log);
    if (tmp == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(tmp, dst, len), ".tmp", sizeof(".tmp"));

    rc = ngx_is_dir(&fi) ? ngx_live_record_copy_dir(src, tmp, log)
                         : ngx_live_record_copy_file(src, tmp, log);

    if (rc == NGX_OK && ngx_rename_file(tmp, dst) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_rename_file_n
                      " \"%s\" to \"%s\" failed", tmp, dst);
        rc = NGX_ERROR;
    }

    if (rc != NGX_OK) {
        (void) ngx_live_record_delete_tree(tmp, log);
    }

    ngx_free(tmp);

    return rc;
}


static ngx_int_t
ngx_live_record_copy_file(u_char *src, u_char *dst, ngx_log_t *log)
{
    ngx_copy_file_t  cf;

    cf.size = -1;
    cf.buf_size = NGX_LIVE_RECORD_COPY_BUF;
    cf.access = NGX_FILE_DEFAULT_ACCESS;
    cf.time = -1;
    cf.log = log;

    return ngx_copy_file(src, dst, &cf);
}


static ngx_int_t
ngx_live_record_copy_dir(u_char *src, u_char *dst, ngx_log_t *log)
{
    u_char     *from, *to;
    ngx_dir_t   dir;
    ngx_int_t   rc;
    ngx_str_t   name, dname;

    if (ngx_create_dir(dst, 0755) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_create_dir_n " \"%s\" failed", dst);
        return NGX_ERROR;
    }

    dname.data = src;
    dname.len = ngx_strlen(src);

    if (ngx_open_dir(&dname, &dir) == NGX_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_open_dir_n " \"%s\" failed", src);
        return NGX_ERROR;
    }

    rc = NGX_OK;

    while (rc == NGX_OK && ngx_read_dir(&dir) == NGX_OK) {
        name.data = ngx_de_name(&dir);
        name.len = ngx_de_namelen(&dir);

        if (name.data[0] == '.') {
            continue;
        }

        from = ngx_live_record_join(src, &name, log);
        to = ngx_live_record_join(dst, &name, log);

        rc = (from && to) ? ngx_live_record_copy_file(from, to, log)
                          : NGX_ERROR;

        ngx_free(from);
        ngx_free(to);
    }

    (void) ngx_close_dir(&dir);

    return rc;
}


/* a file, or a directory of files (an hls recording) */

ngx_int_t
ngx_live_record_delete_tree(u_char *path, ngx_log_t *log)
{
    u_char           *file;
    ngx_dir_t         dir;
    ngx_str_t         name, dname;
    ngx_file_info_t   fi;

    if (ngx_file_info(path, &fi) == NGX_FILE_ERROR) {
        return NGX_OK;
    }

    if (!ngx_is_dir(&fi)) {
        return (ngx_delete_file(path) == NGX_FILE_ERROR) ? NGX_ERROR : NGX_OK;
    }

    dname.data = path;
    dname.len = ngx_strlen(path);

    if (ngx_open_dir(&dname, &dir) == NGX_ERROR) {
        return NGX_ERROR;
    }

    while (ngx_read_dir(&dir) == NGX_OK) {
        name.data = ngx_de_name(&dir);
        name.len = ngx_de_namelen(&dir);

        if (name.len == 1 && name.data[0] == '.') {
            continue;
        }

        if (name.len == 2 && name.data[0] == '.' && name.data[1] == '.') {
            continue;
        }

        file = ngx_live_record_join(path, &name, log);

        if (file) {
            (void) ngx_delete_file(file);
            ngx_free(file);
        }
    }

    (void) ngx_close_dir(&dir);

    return (ngx_delete_dir(path) == NGX_FILE_ERROR) ? NGX_ERROR : NGX_OK;
}


static u_char *
ngx_live_record_join(u_char *dir, ngx_str_t *name, ngx_log_t *log)
{
    u_char  *p;
    size_t   len;

    len = ngx_strlen(dir);

    p = ngx_alloc(len + 1 + name->len + 1, log);
    if (p == NULL) {
        return NULL;
    }

    ngx_sprintf(p, "%s/%V%Z", dir, name);

    return p;
}
