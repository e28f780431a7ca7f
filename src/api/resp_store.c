#include "api/resp_store.h"

#include <stdlib.h>
#include <string.h>

#include "util/strmap.h"
#include "util/xalloc.h"

/* Entries sit in an id index and in a list in insertion order (oldest
 * first): expiry and eviction take from the head, so both are O(1) per
 * entry. A replaced entry moves to the tail. */
struct node {
    struct resp_entry e;
    struct strmap_node by_id;
    struct node *prev, *next;
};

struct resp_store {
    struct strmap ids;
    struct node *head, *tail;
    size_t count, max;
    long ttl;
    resp_drop_fn on_drop;
    void *arg;
};

struct resp_store *resp_store_new(size_t max_entries, long ttl_seconds, resp_drop_fn on_drop,
                                  void *arg)
{
    struct resp_store *s = xcalloc(1, sizeof *s);
    strmap_init(&s->ids);
    s->max = max_entries ? max_entries : 1;
    s->ttl = ttl_seconds;
    s->on_drop = on_drop;
    s->arg = arg;
    return s;
}

static void unlink_node(struct resp_store *s, struct node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        s->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        s->tail = n->prev;
    n->prev = n->next = NULL;
}

static void drop(struct resp_store *s, struct node *n, int by_client)
{
    strmap_del(&s->ids, &n->by_id);
    unlink_node(s, n);
    s->count--;
    if (s->on_drop)
        s->on_drop(s->arg, &n->e, by_client);
    json_decref(n->e.response);
    free((char *)n->e.id);
    free((char *)n->e.owner);
    free((char *)n->e.conversation);
    free((char *)n->e.account);
    free((char *)n->e.assistant);
    free((char *)n->e.model);
    free(n);
}

void resp_store_free(struct resp_store *s)
{
    if (!s)
        return;
    while (s->head)
        drop(s, s->head, 0);
    strmap_free(&s->ids);
    free(s);
}

size_t resp_store_expire(struct resp_store *s, long long now)
{
    size_t n = 0;
    while (s->head && s->head->e.expires <= now) {
        drop(s, s->head, 0);
        n++;
    }
    return n;
}

static const char *dup(const char *s)
{
    return xstrdup(s ? s : "");
}

void resp_store_put(struct resp_store *s, const struct resp_entry *e, long long now)
{
    struct strmap_node *old = strmap_get(&s->ids, e->id);
    if (old)
        drop(s, STRMAP_ENTRY(old, struct node, by_id), 0);
    resp_store_expire(s, now);
    while (s->count >= s->max)
        drop(s, s->head, 0);
    struct node *n = xcalloc(1, sizeof *n);
    n->e.id = dup(e->id);
    n->e.owner = dup(e->owner);
    n->e.conversation = dup(e->conversation);
    n->e.account = dup(e->account);
    n->e.assistant = dup(e->assistant);
    n->e.model = dup(e->model);
    n->e.response = json_incref(e->response);
    n->e.created = now;
    n->e.expires = now + s->ttl;
    strmap_put(&s->ids, &n->by_id, n->e.id);
    n->prev = s->tail;
    if (s->tail)
        s->tail->next = n;
    else
        s->head = n;
    s->tail = n;
    s->count++;
}

static struct node *find(struct resp_store *s, const char *id, const char *owner, long long now)
{
    resp_store_expire(s, now);
    struct strmap_node *m = strmap_get(&s->ids, id);
    if (!m)
        return NULL;
    struct node *n = STRMAP_ENTRY(m, struct node, by_id);
    return strcmp(n->e.owner, owner ? owner : "") == 0 ? n : NULL;
}

const struct resp_entry *resp_store_get(struct resp_store *s, const char *id, const char *owner,
                                        long long now)
{
    struct node *n = find(s, id, owner, now);
    return n ? &n->e : NULL;
}

int resp_store_del(struct resp_store *s, const char *id, const char *owner, long long now)
{
    struct node *n = find(s, id, owner, now);
    if (!n)
        return -1;
    drop(s, n, 1);
    return 0;
}

json_t *resp_store_item(struct resp_store *s, const char *item_id, const char *owner,
                        long long now)
{
    resp_store_expire(s, now);
    /* Newest first: a client refers to recent turns. */
    for (struct node *n = s->tail; n; n = n->prev) {
        if (strcmp(n->e.owner, owner ? owner : "") != 0)
            continue;
        size_t i;
        json_t *item;
        json_array_foreach(json_object_get(n->e.response, "output"), i, item) {
            const char *id = json_string_value(json_object_get(item, "id"));
            if (id && strcmp(id, item_id) == 0)
                return item;
        }
    }
    return NULL;
}

size_t resp_store_count(const struct resp_store *s)
{
    return s->count;
}
