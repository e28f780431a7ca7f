/* A growable byte buffer with a hard cap chosen at creation (the curl dynbuf
 * model): an append that would pass the cap fails and leaves the buffer as it
 * was. The contents are always NUL-terminated, so data can be used as a C
 * string when it holds text. */
#ifndef GLM_BUF_H
#define GLM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;   /* NULL until the first append; see buf_cstr() */
    size_t len;
    size_t cap;   /* allocated, excluding the NUL */
    size_t max;   /* hard cap on len */
};

void buf_init(struct buf *b, size_t max);
void buf_cleanup(struct buf *b);            /* frees; the buffer can be reused */
void buf_reset(struct buf *b);              /* len = 0, keeps the memory */
/* 0 on success, -1 when the cap would be passed (nothing is appended). */
int buf_append(struct buf *b, const void *p, size_t n) __attribute__((warn_unused_result));
int buf_puts(struct buf *b, const char *s) __attribute__((warn_unused_result));
int buf_putc(struct buf *b, char c) __attribute__((warn_unused_result));
/* A decimal integer, without printf's format parsing (hot paths). */
int buf_put_ll(struct buf *b, long long v) __attribute__((warn_unused_result));
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), warn_unused_result));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((warn_unused_result));
/* Cuts the contents back to len bytes (len <= b->len): undoes appends. */
void buf_truncate(struct buf *b, size_t len);
/* Removes the first n bytes. */
void buf_drain(struct buf *b, size_t n);
/* Always a valid string, "" when empty. Borrowed. */
const char *buf_cstr(const struct buf *b);
/* Hands the memory to the caller (a NUL-terminated string, never NULL) and
 * resets the buffer. */
char *buf_take(struct buf *b, size_t *len);

#endif
