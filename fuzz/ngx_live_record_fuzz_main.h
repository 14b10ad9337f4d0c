
/*
 * Copyright (C) ngx_live_record authors
 */


/*
 * The fuzz targets' plain-program main(), for runs without libFuzzer
 * (t/fuzz.t, t/mp4_writer.t): included at the end of a target after
 * NGX_LIVE_RECORD_FUZZ_NAME, the name its messages start with.
 */


#ifdef NGX_LIVE_RECORD_FUZZ_MAIN

/*
 * A plain program: runs each file named on the command line, and each file
 * in a directory named there (not recursing; names starting with "." or
 * "README" are skipped), through LLVMFuzzerTestOneInput() once.
 */

static ngx_int_t ngx_live_record_fuzz_run_path(char *path, ngx_uint_t *n);
static ngx_int_t ngx_live_record_fuzz_run_file(char *path);


int
main(int argc, char **argv)
{
    int         i;
    ngx_uint_t  n;

    n = 0;

    for (i = 1; i < argc; i++) {
        if (ngx_live_record_fuzz_run_path(argv[i], &n) != NGX_OK) {
            return 1;
        }
    }

    printf(NGX_LIVE_RECORD_FUZZ_NAME ": %lu inputs run\n", (unsigned long) n);

    return 0;
}


static ngx_int_t
ngx_live_record_fuzz_run_path(char *path, ngx_uint_t *n)
{
    DIR            *dir;
    char           *name;
    size_t          len;
    ngx_int_t       rc;
    struct stat     st;
    struct dirent  *de;

    if (stat(path, &st) == -1) {
        fprintf(stderr,
                NGX_LIVE_RECORD_FUZZ_NAME ": stat(\"%s\") failed (%s)\n",
                path, strerror(errno));
        return NGX_ERROR;
    }

    if (!S_ISDIR(st.st_mode)) {
        (*n)++;
        return ngx_live_record_fuzz_run_file(path);
    }

    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr,
                NGX_LIVE_RECORD_FUZZ_NAME ": opendir(\"%s\") failed (%s)\n",
                path, strerror(errno));
        return NGX_ERROR;
    }

    rc = NGX_OK;

    while (rc == NGX_OK && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.'
            || ngx_strncmp(de->d_name, "README", 6) == 0)
        {
            continue;
        }

        len = strlen(path) + 1 + strlen(de->d_name) + 1;

        name = malloc(len);
        if (name == NULL) {
            rc = NGX_ERROR;
            break;
        }

        snprintf(name, len, "%s/%s", path, de->d_name);

        if (stat(name, &st) == 0 && S_ISREG(st.st_mode)) {
            (*n)++;
            rc = ngx_live_record_fuzz_run_file(name);
        }

        free(name);
    }

    closedir(dir);

    return rc;
}


static ngx_int_t
ngx_live_record_fuzz_run_file(char *path)
{
    FILE     *f;
    u_char   *buf, *p;
    size_t    len, size, n;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr,
                NGX_LIVE_RECORD_FUZZ_NAME ": fopen(\"%s\") failed (%s)\n",
                path, strerror(errno));
        return NGX_ERROR;
    }

    len = 0;
    size = 4096;
    buf = malloc(size);

    while (buf != NULL) {
        n = fread(buf + len, 1, size - len, f);
        len += n;

        if (len < size) {
            break;
        }

        size *= 2;
        p = realloc(buf, size);

        if (p == NULL) {
            free(buf);
        }

        buf = p;
    }

    if (buf == NULL || ferror(f)) {
        fprintf(stderr, NGX_LIVE_RECORD_FUZZ_NAME ": reading \"%s\" failed\n",
                path);
        free(buf);
        fclose(f);
        return NGX_ERROR;
    }

    fclose(f);

    (void) LLVMFuzzerTestOneInput(buf, len);

    free(buf);

    return NGX_OK;
}

#endif /* NGX_LIVE_RECORD_FUZZ_MAIN */
