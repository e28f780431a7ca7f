#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* FNV-1a: keys are tokens the server chose to accept, not attacker-tuned
 * input it must defend a table against; chains stay short at load <= 1. */
static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void strmap_init(struct strmap *m)
{
    memset(m, 0, sizeof(*m));
}

void strmap_free(struct strmap *m)
{
    free(m->buckets);
    strmap_init(m);
}

struct strmap_node *strmap_get(const struct strmap *m, const char *key)
{
    if (!m->nbuckets)
        return NULL;
    uint32_t h = hash_str(key);
    for (struct strmap_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && strcmp(n->key, key) == 0)
            return n;
    return NULL;
}

static void grow(struct strmap *m)
{
    size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
    struct strmap_node **b = xcalloc(nb, sizeof(*b));
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct strmap_node *n = m->buckets[i];
        while (n) {
            struct strmap_node *next = n->next;
            n->next = b[n->hash & (nb - 1)];
            b[n->hash & (nb - 1)] = n;
            n = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = nb;
}

void strmap_put(struct strmap *m, struct strmap_node *node, const char *key)
{
    if (m->count >= m->nbuckets)
        grow(m);
    node->key = key;
    node->hash = hash_str(key);
    struct strmap_node **head = &m->buckets[node->hash & (m->nbuckets - 1)];
    node->next = *head;
    *head = node;
    m->count++;
}

void strmap_del(struct strmap *m, struct strmap_node *node)
{
    for (struct strmap_node **pp = &m->buckets[node->hash & (m->nbuckets - 1)]; *pp;
         pp = &(*pp)->next) {
        if (*pp == node) {
            *pp = node->next;
            m->count--;
            return;
        }
    }
}
