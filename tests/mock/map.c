#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct entry {
    struct entry *chain;  /* next in the same bucket */
    struct entry *order;  /* next in insertion order */
    char *key;
    void *value;
    uint64_t hash;
};

struct mock_map {
    struct entry **buckets;
    size_t nbuckets;      /* a power of two */
    size_t count;
    struct entry *first, *last;
    void (*free_value)(void *);
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

struct mock_map *mock_map_new(void (*free_value)(void *))
{
    struct mock_map *m = xcalloc(1, sizeof(*m));
    m->nbuckets = 64;
    m->buckets = xcalloc(m->nbuckets, sizeof(*m->buckets));
    m->free_value = free_value;
    return m;
}

void mock_map_free(struct mock_map *m)
{
    if (!m)
        return;
    struct entry *e = m->first;
    while (e) {
        struct entry *next = e->order;
        if (m->free_value)
            m->free_value(e->value);
        free(e->key);
        free(e);
        e = next;
    }
    free(m->buckets);
    free(m);
}

static struct entry *find(const struct mock_map *m, const char *key, uint64_t h)
{
    for (struct entry *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->chain)
        if (e->hash == h && strcmp(e->key, key) == 0)
            return e;
    return NULL;
}

void *mock_map_get(const struct mock_map *m, const char *key)
{
    struct entry *e = find(m, key, hash_str(key));
    return e ? e->value : NULL;
}

static void grow(struct mock_map *m)
{
    size_t n = m->nbuckets * 2;
    struct entry **b = xcalloc(n, sizeof(*b));
    for (struct entry *e = m->first; e; e = e->order) {
        e->chain = b[e->hash & (n - 1)];
        b[e->hash & (n - 1)] = e;
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void mock_map_put(struct mock_map *m, const char *key, void *value)
{
    uint64_t h = hash_str(key);
    struct entry *e = find(m, key, h);
    if (e) {
        if (m->free_value && e->value != value)
            m->free_value(e->value);
        e->value = value;
        return;
    }
    if (m->count + 1 > m->nbuckets / 4 * 3)
        grow(m);
    e = xcalloc(1, sizeof(*e));
    e->key = xstrdup(key);
    e->value = value;
    e->hash = h;
    e->chain = m->buckets[h & (m->nbuckets - 1)];
    m->buckets[h & (m->nbuckets - 1)] = e;
    if (m->last)
        m->last->order = e;
    else
        m->first = e;
    m->last = e;
    m->count++;
}

size_t mock_map_count(const struct mock_map *m)
{
    return m->count;
}

void mock_map_each(const struct mock_map *m,
                   void (*fn)(const char *key, void *value, void *arg), void *arg)
{
    for (struct entry *e = m->first; e; e = e->order)
        fn(e->key, e->value, arg);
}
