#include "util/strlist.h"

#include <stdlib.h>

#include "util/xalloc.h"

size_t strlist_split(const char *s, char ***out)
{
    *out = NULL;
    if (!s)
        return 0;
    size_t n = 0, cap = 0;
    char **v = NULL;
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *b = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > b && e[-1] == ' ')
            e--;
        if (e > b) {
            if (n == cap) {
                cap = cap ? cap * 2 : 4;
                v = xrealloc(v, cap * sizeof(*v));
            }
            v[n++] = xstrndup(b, (size_t)(e - b));
        }
    }
    *out = v;
    return n;
}

void strlist_free(char **items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i]);
    free(items);
}
