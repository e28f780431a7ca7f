#include "api/authcache.h"

#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "glm/accounts.h"
#include "util/crypto.h"
#include "util/strmap.h"
#include "util/xalloc.h"

struct entry {
    char key[65];               /* sha256 hex of the header */
    struct account_set *set;    /* one reference */
    struct strmap_node by_key;
    struct entry *prev, *next;  /* most recently used first */
};

struct authcache {
    struct strmap index;
    struct entry *head, *tail;
    size_t count, max;
    size_t tokens, max_tokens; /* accounts held by the cached sets */
    unsigned long hits, misses;
};

struct authcache *authcache_new(size_t max, size_t max_tokens)
{
    struct authcache *c = xcalloc(1, sizeof(*c));
    c->max = max ? max : 1;
    c->max_tokens = max_tokens;
    return c;
}

static void unlink_entry(struct authcache *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void push_front(struct authcache *c, struct entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head)
        c->head->prev = e;
    else
        c->tail = e;
    c->head = e;
}

static void drop(struct authcache *c, struct account_pool *p, struct entry *e)
{
    unlink_entry(c, e);
    strmap_del(&c->index, &e->by_key);
    c->count--;
    c->tokens -= accounts_set_size(e->set);
    accounts_set_unref(p, e->set);
    free(e);
}

void authcache_free(struct authcache *c, struct account_pool *p)
{
    if (!c)
        return;
    while (c->head)
        drop(c, p, c->head);
    strmap_free(&c->index);
    free(c);
}

struct account_set *authcache_get(struct authcache *c, struct account_pool *p,
                                  const char *authorization)
{
    if (!authorization)
        return NULL;
    char key[65];
    crypto_sha256_hex(authorization, strlen(authorization), key);
    struct strmap_node *n = strmap_get(&c->index, key);
    if (n) {
        struct entry *e = STRMAP_ENTRY(n, struct entry, by_key);
        c->hits++;
        if (c->head != e) {
            unlink_entry(c, e);
            push_front(c, e);
        }
        accounts_set_ref(e->set);
        return e->set;
    }
    char **tokens;
    size_t ntokens = api_bearer_tokens(authorization, &tokens);
    if (!ntokens)
        return NULL;
    c->misses++;
    struct account **v = xmalloc(ntokens * sizeof(*v));
    for (size_t i = 0; i < ntokens; i++)
        v[i] = accounts_get(p, tokens[i], 0);
    api_tokens_free(tokens, ntokens);
    struct account_set *s = accounts_set_new(p, v, ntokens);
    for (size_t i = 0; i < ntokens; i++) /* the set holds its own */
        accounts_unref(p, v[i]);
    free(v);
    size_t size = accounts_set_size(s);
    if (size > c->max_tokens)
        return s; /* not kept: the caller's reference is the only one */
    while (c->tail && (c->count >= c->max || c->tokens + size > c->max_tokens))
        drop(c, p, c->tail);
    struct entry *e = xcalloc(1, sizeof(*e));
    memcpy(e->key, key, sizeof(key));
    e->set = s; /* the new set's reference */
    strmap_put(&c->index, &e->by_key, e->key);
    push_front(c, e);
    c->count++;
    c->tokens += size;
    accounts_set_ref(s);
    return s;
}

size_t authcache_count(const struct authcache *c)
{
    return c->count;
}

unsigned long authcache_hits(const struct authcache *c)
{
    return c->hits;
}

unsigned long authcache_misses(const struct authcache *c)
{
    return c->misses;
}
