
/*
 * Copyright (C) ngx_live_record authors
 */


#ifndef _NGX_LIVE_RECORD_UTF8_H_INCLUDED_
#define _NGX_LIVE_RECORD_UTF8_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF.  "Text" is strict UTF-8 without NUL: what may become a JSON
 * string that every strict parser takes, and a C string that is not cut.
 */

size_t ngx_live_record_utf8_char(u_char *p, u_char *last);
ngx_int_t ngx_live_record_utf8_text(u_char *p, size_t len);
void ngx_live_record_utf8_fix(u_char *p, size_t len);
size_t ngx_live_record_utf8_escape(u_char *dst, u_char *src, size_t len);
ngx_int_t ngx_live_record_uri_text(u_char *p, size_t len);
ngx_int_t ngx_live_record_json_text_ok(u_char *p, size_t len);


#endif /* _NGX_LIVE_RECORD_UTF8_H_INCLUDED_ */
