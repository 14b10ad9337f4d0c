
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * Small files: directories, atomic rewrites, whole reads, trees, secrets.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_live_record.h"


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
    ssize_t    n;
    ngx_fd_t   fd;
    ngx_str_t  name;

    name = *file;

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    secret->data = ngx_pnalloc(cf->pool, 1024);
    if (secret->data == NULL) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "%s: " ngx_open_file_n " \"%V\" failed",
                           what, &name);
        return NGX_ERROR;
    }

    n = ngx_read_fd(fd, secret->data, 1024);
    ngx_close_file(fd);

    while (n > 0 && (secret->data[n - 1] == '\n'
                     || secret->data[n - 1] == '\r'
                     || secret->data[n - 1] == ' '))
    {
        n--;
    }

    if (n <= 0 || n == 1024) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%s \"%V\" must hold 1 to 1023 bytes",
                           what, &name);
        return NGX_ERROR;
    }

    secret->len = n;

    return NGX_OK;
}
