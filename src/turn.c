#include "turn.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* A copy the turn owns. */
struct turn_alloc {
    struct turn_alloc *next;
    char data[];
};

void turn_init(struct turn *t)
{
    memset(t, 0, sizeof(*t));
    t->parallel_tool_calls = 1;
}

void turn_free(struct turn *t)
{
    for (size_t i = 0; i < t->nmsgs; i++)
        free(t->msgs[i].parts);
    free(t->msgs);
    for (size_t i = 0; i < t->ntools; i++)
        json_decref(t->tools[i].parameters);
    free(t->tools);
    json_decref(t->format_schema);
    json_decref(t->doc);
    while (t->allocs) {
        struct turn_alloc *a = t->allocs;
        t->allocs = a->next;
        free(a);
    }
    turn_init(t);
}

void turn_keep_doc(struct turn *t, json_t *doc)
{
    json_incref(doc);
    json_decref(t->doc);
    t->doc = doc;
}

struct turn_str turn_strdup(struct turn *t, const char *s, size_t n)
{
    struct turn_alloc *a = xmalloc(sizeof(*a) + n + 1);
    if (n)
        memcpy(a->data, s, n);
    a->data[n] = '\0';
    a->next = t->allocs;
    t->allocs = a;
    struct turn_str r = { a->data, n };
    return r;
}

/* Grows an array of n elements to room for one more: capacity 4, then
 * doubling, so it is full when n is 0 or a power of two from 4 on. */
static void *grow(void *v, size_t n, size_t size)
{
    if (n == 0)
        return xrealloc(v, 4 * size);
    if (n >= 4 && (n & (n - 1)) == 0)
        return xrealloc(v, 2 * n * size);
    return v;
}

struct turn_msg *turn_add_msg(struct turn *t, enum turn_role role, struct turn_str role_name)
{
    t->msgs = grow(t->msgs, t->nmsgs, sizeof(*t->msgs));
    struct turn_msg *m = &t->msgs[t->nmsgs++];
    memset(m, 0, sizeof(*m));
    m->role = role;
    m->role_name = role_name;
    return m;
}

struct turn_part *turn_add_part(struct turn_msg *m, enum turn_part_type type)
{
    m->parts = grow(m->parts, m->nparts, sizeof(*m->parts));
    struct turn_part *p = &m->parts[m->nparts++];
    memset(p, 0, sizeof(*p));
    p->type = type;
    return p;
}

struct turn_tool *turn_add_tool(struct turn *t)
{
    t->tools = grow(t->tools, t->ntools, sizeof(*t->tools));
    struct turn_tool *tool = &t->tools[t->ntools++];
    memset(tool, 0, sizeof(*tool));
    return tool;
}

enum turn_role turn_role_of(const char *name)
{
    if (strcmp(name, "system") == 0 || strcmp(name, "developer") == 0)
        return TURN_ROLE_SYSTEM;
    if (strcmp(name, "user") == 0)
        return TURN_ROLE_USER;
    if (strcmp(name, "assistant") == 0)
        return TURN_ROLE_ASSISTANT;
    if (strcmp(name, "tool") == 0)
        return TURN_ROLE_TOOL;
    return TURN_ROLE_OTHER;
}

int turn_last_has_attachment(const struct turn *t)
{
    if (t->nmsgs == 0)
        return 0;
    const struct turn_msg *m = &t->msgs[t->nmsgs - 1];
    for (size_t i = 0; i < m->nparts; i++)
        if (m->parts[i].type == TURN_PART_IMAGE || m->parts[i].type == TURN_PART_FILE)
            return 1;
    return 0;
}
