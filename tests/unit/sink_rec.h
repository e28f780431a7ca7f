/* A sink that records every event as text, for the shape stages' tests:
 *   text and reasoning joined as "T[...]" and "R[...]" runs, then
 *   "B<i>:<name>" "A<i>:<args>" "E<i>" "F:<why>[:<stop>]" "X:<status>" "U:<tokens>".
 * Adjacent text (or reasoning) events are merged, so that the log does not
 * depend on how the input was split. Ids are checked and kept apart. */
#ifndef GLM_SINK_REC_H
#define GLM_SINK_REC_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "stream/answer.h"
#include "util/buf.h"

#define RECW(e)             \
    do {                    \
        if ((e) < 0)        \
            abort();        \
    } while (0)

struct rec {
    struct buf log;
    char last;           /* 'T' or 'R' while such a run is open */
    char ids[8][32];
    int nids;
    int bad;             /* an op came in the wrong order */
    int finished;
    int halt_after;      /* >0: answer ANSWER_HALT to the n-th text op */
    int texts;
    struct buf text;     /* the text events joined */
    struct buf args;     /* the current call's argument pieces joined */
    int calls;           /* tool_begin count */
    int bad_json;        /* a call's joined arguments were not a JSON object */
    int cur;             /* the open call's index, -1 when none */
};

static void rec_close(struct rec *r)
{
    if (r->last)
        RECW(buf_putc(&r->log, ']'));
    r->last = 0;
}

static int rec_run(struct rec *r, char kind, const char *s, size_t n)
{
    if (r->finished)
        r->bad = 1;
    if (r->last != kind) {
        rec_close(r);
        RECW(buf_putc(&r->log, kind));
        RECW(buf_putc(&r->log, '['));
        r->last = kind;
    }
    RECW(buf_append(&r->log, s, n));
    return ANSWER_GO;
}

static int rec_start(void *self)
{
    (void)self;
    return ANSWER_GO;
}

static int rec_text(void *self, const char *s, size_t n)
{
    struct rec *r = self;
    rec_run(r, 'T', s, n);
    if (r->cur >= 0)
        r->bad = 1;
    RECW(buf_append(&r->text, s, n));
    if (r->halt_after && ++r->texts >= r->halt_after)
        return ANSWER_HALT;
    return ANSWER_GO;
}

static int rec_reasoning(void *self, const char *s, size_t n)
{
    return rec_run(self, 'R', s, n);
}

static int rec_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct rec *r = self;
    rec_close(r);
    if (r->finished || strncmp(id, "call_", 5) != 0 || strlen(id) != 29)
        r->bad = 1;
    if (r->cur >= 0 || index != r->calls)
        r->bad = 1;
    r->cur = index;
    r->calls++;
    buf_reset(&r->args);
    if (r->nids < 8)
        snprintf(r->ids[r->nids++], sizeof(r->ids[0]), "%s", id);
    RECW(buf_printf(&r->log, "B%d:%s ", index, name));
    return ANSWER_GO;
}

static int rec_tool_args(void *self, int index, const char *s, size_t n)
{
    struct rec *r = self;
    if (index != r->cur)
        r->bad = 1;
    RECW(buf_append(&r->args, s, n));
    RECW(buf_printf(&r->log, "A%d:%.*s ", index, (int)n, s));
    return ANSWER_GO;
}

static int rec_tool_end(void *self, int index)
{
    struct rec *r = self;
    if (index != r->cur)
        r->bad = 1;
    r->cur = -1;
    json_t *j = json_loadb(buf_cstr(&r->args), r->args.len, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(j))
        r->bad_json = 1;
    json_decref(j);
    RECW(buf_printf(&r->log, "E%d ", index));
    return ANSWER_GO;
}

static int rec_finish(void *self, enum answer_finish why, const char *stop)
{
    struct rec *r = self;
    static const char *const names[] = { "stop", "length", "tool_calls", "content_filter" };
    rec_close(r);
    if (r->finished || r->cur >= 0 || (why == ANSWER_TOOL_CALLS) != (r->calls > 0))
        r->bad = 1;
    r->finished = 1;
    RECW(buf_printf(&r->log, "F:%s%s%s", names[why], stop ? ":" : "", stop ? stop : ""));
    return ANSWER_GO;
}

static int rec_error(void *self, const struct answer_error *e)
{
    struct rec *r = self;
    rec_close(r);
    r->finished = 1;
    RECW(buf_printf(&r->log, "X:%d:%s", e->status, e->message));
    return ANSWER_GO;
}

static int rec_usage(void *self, const struct answer_usage *u)
{
    struct rec *r = self;
    RECW(buf_printf(&r->log, " U:%ld", u->completion_tokens));
    return ANSWER_GO;
}

static const struct sink_ops rec_ops = {
    rec_start, rec_text, rec_reasoning, rec_tool_begin, rec_tool_args, rec_tool_end,
    rec_finish, rec_error, rec_usage,
};

static inline void rec_init(struct rec *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->log, 1 << 20);
    buf_init(&r->text, 1 << 20);
    buf_init(&r->args, 1 << 20);
    r->cur = -1;
}

static inline void rec_cleanup(struct rec *r)
{
    buf_cleanup(&r->log);
    buf_cleanup(&r->text);
    buf_cleanup(&r->args);
}

static inline struct sink rec_sink(struct rec *r)
{
    struct sink s = { &rec_ops, r };
    return s;
}

#endif
