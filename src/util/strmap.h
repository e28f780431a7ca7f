/* An index of objects by a string key: a chained hash table whose nodes live
 * inside the objects (no allocation per entry), for the account pool and the
 * token sessions, which are looked up on every request and may hold
 * thousands of entries. The key string belongs to the object and must not
 * change while indexed. */
#ifndef GLM_STRMAP_H
#define GLM_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap_node {
    struct strmap_node *next;
    const char *key;
    uint32_t hash;
};

struct strmap {
    struct strmap_node **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first insert */
    size_t count;
};

/* The object that embeds node as member. */
#define STRMAP_ENTRY(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

void strmap_init(struct strmap *m);
/* Frees the table, not the objects. */
void strmap_free(struct strmap *m);
/* The node with this key, or NULL. */
struct strmap_node *strmap_get(const struct strmap *m, const char *key);
/* Indexes node under key (which must not be indexed already). */
void strmap_put(struct strmap *m, struct strmap_node *node, const char *key);
/* Removes node, which must be indexed. */
void strmap_del(struct strmap *m, struct strmap_node *node);

#endif
