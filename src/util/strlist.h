/* Comma-separated lists ("a, b,,c"), as settings and the Authorization header
 * carry them: items are split on ',', spaces around each item are dropped and
 * empty items are skipped. */
#ifndef GLM_STRLIST_H
#define GLM_STRLIST_H

#include <stddef.h>

/* Splits s (NULL counts as empty) into *out; returns the number of items.
 * *out is NULL when there are none; otherwise the array and its strings are
 * new: free them with strlist_free. */
size_t strlist_split(const char *s, char ***out);
void strlist_free(char **items, size_t n);

#endif
