
/*
 * Copyright (C) ngx_live_record authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record_notify.h"


#define NGX_LIVE_RECORD_COPY_BUF  (256 * 1024)


static ngx_int_t ngx_live_record_copy(u_char *src, u_char *dst,
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

        (void) ngx_delete_file(f->work.data);
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


static ngx_int_t
ngx_live_record_copy(u_char *src, u_char *dst, ngx_log_t *log)
{
    size_t            len;
    u_char           *tmp;
    ngx_int_t         rc;
    ngx_copy_file_t   cf;

    len = ngx_strlen(dst);

    tmp = ngx_alloc(len + sizeof(".tmp"), log);
    if (tmp == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(tmp, dst, len), ".tmp", sizeof(".tmp"));

    cf.size = -1;
    cf.buf_size = NGX_LIVE_RECORD_COPY_BUF;
    cf.access = NGX_FILE_DEFAULT_ACCESS;
    cf.time = -1;
    cf.log = log;

    rc = ngx_copy_file(src, tmp, &cf);

    if (rc == NGX_OK && ngx_rename_file(tmp, dst) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_rename_file_n
                      " \"%s\" to \"%s\" failed", tmp, dst);
        rc = NGX_ERROR;
    }

    if (rc != NGX_OK) {
        (void) ngx_delete_file(tmp);
    }

    ngx_free(tmp);

    return rc;
}
