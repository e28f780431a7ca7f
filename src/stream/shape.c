#include "stream/shape.h"

#include <stdlib.h>

#include "stream/cut.h"
#include "stream/jsonout.h"
#include "util/xalloc.h"

struct shape {
    struct toolcall *tc;
    struct jsonout *jo;
    struct stopcut *sc;
    struct lencut *lc;
    struct sink head;
};

struct shape *shape_new(const struct shape_opts *o, struct sink writer)
{
    if (!o->ntools && o->json == SHAPE_JSON_NONE && !o->nstops && o->max_tokens <= 0)
        return NULL;
    struct shape *s = xcalloc(1, sizeof(*s));
    struct sink next = writer;
    /* Built from the writer back to the head. */
    if (o->max_tokens > 0) {
        s->lc = lencut_new(o->max_tokens, next);
        next = lencut_sink(s->lc);
    }
    if (o->nstops) {
        s->sc = stopcut_new(o->stops, o->nstops, next);
        next = stopcut_sink(s->sc);
    }
    if (o->json != SHAPE_JSON_NONE) {
        struct jsonout_opts jo = { o->json == SHAPE_JSON_SCHEMA_DOC ? o->schema : NULL, 1,
                                   o->max_answer };
        s->jo = jsonout_new(&jo, next);
        next = jsonout_sink(s->jo);
    }
    if (o->ntools) {
        struct toolcall_opts to = { o->tools, o->ntools, o->parallel, 1, o->required, 0,
                                    o->max_answer };
        s->tc = toolcall_new(&to, next);
        next = toolcall_sink(s->tc);
    }
    s->head = next;
    return s;
}

void shape_free(struct shape *s)
{
    if (!s)
        return;
    toolcall_free(s->tc);
    jsonout_free(s->jo);
    stopcut_free(s->sc);
    lencut_free(s->lc);
    free(s);
}

struct sink shape_sink(struct shape *s)
{
    return s->head;
}

enum shape_repair shape_problem(const struct shape *s, const char **msg)
{
    const char *m = s->tc ? toolcall_problem(s->tc) : NULL;
    if (m) {
        *msg = m;
        return SHAPE_REPAIR_CALL;
    }
    m = s->jo ? jsonout_problem(s->jo) : NULL;
    if (m) {
        *msg = m;
        return SHAPE_REPAIR_JSON;
    }
    *msg = NULL;
    return SHAPE_REPAIR_NONE;
}

void shape_retry(struct shape *s)
{
    if (s->tc)
        toolcall_retry(s->tc);
    if (s->jo)
        jsonout_retry(s->jo);
}

int shape_calls(const struct shape *s)
{
    return s->tc ? toolcall_sent(s->tc) : 0;
}
