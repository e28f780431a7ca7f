#include "stream/collect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* An answer with more items than this is not one a model writes; the cap
 * keeps a hostile upstream from growing the table without bound. */
#define COLLECT_MAX_ITEMS 256

void collect_init(struct collect *c, size_t max)
{
    memset(c, 0, sizeof *c);
    c->max = max;
}

void collect_cleanup(struct collect *c)
{
    for (int i = 0; i < c->n; i++)
        buf_cleanup(&c->items[i].text);
    free(c->items);
    memset(c, 0, sizeof *c);
}

struct collect_item *collect_last(struct collect *c)
{
    return c->n > 0 ? &c->items[c->n - 1] : NULL;
}

struct collect_item *collect_close(struct collect *c)
{
    if (!c->open)
        return NULL;
    c->open = 0;
    return collect_last(c);
}

struct collect_item *collect_item_for(struct collect *c, enum collect_kind kind, int *opened)
{
    struct collect_item *last = collect_last(c);

    *opened = 0;
    if (c->open && last && last->kind == kind && kind != COLLECT_TOOL)
        return last;
    if (c->n == COLLECT_MAX_ITEMS)
        return NULL;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->items = xrealloc(c->items, (size_t)c->cap * sizeof *c->items);
    }
    c->open = 1;
    struct collect_item *it = &c->items[c->n++];
    memset(it, 0, sizeof *it);
    it->kind = kind;
    buf_init(&it->text, c->max);
    *opened = 1;
    return it;
}

struct collect_item *collect_tool_begin(struct collect *c, int index, const char *id,
                                       const char *name)
{
    int opened;
    struct collect_item *it = collect_item_for(c, COLLECT_TOOL, &opened);

    if (!it)
        return NULL;
    it->index = index;
    snprintf(it->id, sizeof it->id, "%s", id);
    snprintf(it->name, sizeof it->name, "%s", name);
    return it;
}

int collect_append(struct collect *c, struct collect_item *it, const char *s, size_t n)
{
    if (n > c->max - c->used || buf_append(&it->text, s, n) < 0)
        return -1;
    c->used += n;
    return 0;
}

void collect_anthropic_id(const char *id, char *out, size_t outlen)
{
    if (strncmp(id, "toolu_", 6) == 0)
        snprintf(out, outlen, "%s", id);
    else
        snprintf(out, outlen, "toolu_%s", strncmp(id, "call_", 5) == 0 ? id + 5 : id);
}
