/* Allocation that never returns NULL: on exhaustion it logs and aborts, so error
 * paths only ever deal with I/O and protocol failures (the redis/jq policy). */
#ifndef GLM_XALLOC_H
#define GLM_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n) __attribute__((malloc));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc));
void *xrealloc(void *p, size_t n) __attribute__((warn_unused_result));
char *xstrdup(const char *s) __attribute__((malloc));
char *xstrndup(const char *s, size_t n) __attribute__((malloc));
/* Copies n bytes and adds a NUL after them. */
char *xmemdup(const void *p, size_t n) __attribute__((malloc));

#endif
