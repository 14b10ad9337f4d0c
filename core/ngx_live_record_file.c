
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * Small files: directories, atomic rewrites, whole reads, trees, secrets.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"


/* 1 to 1023 bytes, and blanks after them */
#define NGX_LIVE_RECORD_SECRET_MAX  4096


/*
 * ngx_create_full_path() cuts its argument at each slash in turn: it gets
 * a copy, as a thread may make the directories of a path that the event
 * loop reads meanwhile (a part's work path, in its sidecar)
 */

ngx_int_t
ngx_live_record_create_dirs(u_char *path, ngx_log_t *log)
{
    u_char     *copy;
    size_t      len;
    ngx_err_t   err;

    len = ngx_strlen(path);

    copy = ngx_alloc(len + 1, log);
    if (copy == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(copy, path, len + 1);

    err = ngx_create_full_path(copy, 0755);

    ngx_free(copy);

    if (err != 0) {
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "live record: creating directories for \"%s\" failed",
                      path);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Writes a small file so that readers see the old content or the new, never
 * a part: the data goes to PATH.tmp, which is then renamed to PATH.
 */

ngx_int_t
ngx_live_record_write_atomic(u_char *path, ngx_str_t *data, ngx_uint_t n,
    ngx_log_t *log)
{
    u_char      *tmp;
    size_t       len;
    ssize_t      written;
    ngx_fd_t     fd;
    ngx_err_t    err;
    ngx_uint_t   i, ok;

    len = ngx_strlen(path);

    tmp = ngx_alloc(len + sizeof(".tmp"), log);
    if (tmp == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(tmp, path, len), ".tmp", sizeof(".tmp"));

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_TRUNCATE,
                       NGX_FILE_DEFAULT_ACCESS);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_open_file_n " \"%s\" failed", tmp);
        ngx_free(tmp);
        return NGX_ERROR;
    }

    ok = 1;
    err = 0;

    for (i = 0; ok && i < n; i++) {
        written = ngx_write_fd(fd, data[i].data, data[i].len);
        ok = (written == (ssize_t) data[i].len);
        err = ngx_errno;
    }

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ok = 0;
        err = ngx_errno;
    }

    if (ok && ngx_rename_file(tmp, path) == NGX_FILE_ERROR) {
        ok = 0;
        err = ngx_errno;
    }

    if (!ok) {
        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "live record: writing \"%s\" failed", path);
        (void) ngx_delete_file(tmp);
    }

    ngx_free(tmp);

    return ok ? NGX_OK : NGX_ERROR;
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


u_char *
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


/* a key or secret of 1 to 1023 bytes in a file, trailing blanks dropped */

ngx_int_t
ngx_live_record_conf_secret(ngx_conf_t *cf, ngx_str_t *file,
    const char *what, ngx_str_t *secret)
{
    size_t     n;
    ngx_int_t  rc;
    ngx_str_t  name, text;

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    rc = ngx_live_record_read_file(name.data, NGX_LIVE_RECORD_SECRET_MAX,
                                   &text, cf->log);

    if (rc != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf,
                           (rc == NGX_DECLINED) ? NGX_ENOENT : 0,
                           "%s: " ngx_open_file_n " \"%V\" failed",
                           what, &name);
        return NGX_ERROR;
    }

    n = text.len;

    while (n > 0 && (text.data[n - 1] == '\n' || text.data[n - 1] == '\r'
                     || text.data[n - 1] == ' '))
    {
        n--;
    }

    secret->data = (n > 0 && n < 1024) ? ngx_pnalloc(cf->pool, n) : NULL;

    if (secret->data) {
        ngx_memcpy(secret->data, text.data, n);
        secret->len = n;
    }

    ngx_explicit_memzero(text.data, text.len);
    ngx_free(text.data);

    if (secret->data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%V\" must hold 1 to 1023 bytes",
                           what, &name);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * A small file read whole, null-terminated, into memory from ngx_alloc()
 * that the caller frees.  NGX_DECLINED: there is no such file (not
 * logged: it may be gone since a directory was read); NGX_ERROR: it could
 * not be read or is larger than max, logged.
 */

ngx_int_t
ngx_live_record_read_file(u_char *path, size_t max, ngx_str_t *text,
    ngx_log_t *log)
{
    off_t            size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_err_t        err;
    ngx_int_t        rc;
    ngx_file_info_t  fi;

    ngx_str_null(text);

    fd = ngx_open_file(path, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        err = ngx_errno;

        if (err == NGX_ENOENT) {
            return NGX_DECLINED;
        }

        ngx_log_error(NGX_LOG_CRIT, log, err,
                      "live record: " ngx_open_file_n " \"%s\" failed", path);
        return NGX_ERROR;
    }

    rc = NGX_ERROR;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_fd_info_n " \"%s\" failed", path);
        goto done;
    }

    size = ngx_file_size(&fi);

    if (size > (off_t) max) {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "live record: \"%s\" is %O bytes, more than the %uz "
                      "expected", path, size, max);
        goto done;
    }

    text->data = ngx_alloc((size_t) size + 1, log);
    if (text->data == NULL) {
        goto done;
    }

    n = ngx_read_fd(fd, text->data, (size_t) size);

    if (n != (ssize_t) size) {
        ngx_log_error(NGX_LOG_CRIT, log, ngx_errno,
                      "live record: " ngx_read_fd_n " \"%s\" failed", path);
        ngx_free(text->data);
        text->data = NULL;
        goto done;
    }

    text->len = (size_t) size;
    text->data[size] = '\0';
    rc = NGX_OK;

done:

    ngx_close_file(fd);

    return rc;
}
