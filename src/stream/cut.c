#define _GNU_SOURCE /* memmem */
#include "stream/cut.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/openai.h"
#include "util/buf.h"
#include "util/xalloc.h"

/* ---- the stop cutter ---------------------------------------------------- */

struct stopcut {
    struct sink next;
    char *stops[STOPCUT_MAX];
    size_t lens[STOPCUT_MAX];
    size_t n, longest;
    struct buf hold;   /* text that may begin a stop string */
    struct buf work;   /* hold + the new piece */
    int halted;
};

static int sc_flush(struct stopcut *s)
{
    if (!s->hold.len)
        return ANSWER_GO;
    int rc = s->next.ops->text(s->next.self, s->hold.data, s->hold.len);
    buf_reset(&s->hold);
    if (rc != ANSWER_GO)
        s->halted = 1;
    return rc;
}

/* How many bytes at the end of w may begin a stop string. */
static size_t sc_tail(const struct stopcut *s, const char *w, size_t n)
{
    size_t max = s->longest - 1 < n ? s->longest - 1 : n;
    for (size_t k = max; k > 0; k--)
        for (size_t i = 0; i < s->n; i++)
            if (k < s->lens[i] && memcmp(w + n - k, s->stops[i], k) == 0)
                return k;
    return 0;
}

static int sc_text(void *self, const char *t, size_t n)
{
    struct stopcut *s = self;
    if (s->halted)
        return ANSWER_HALT;
    buf_reset(&s->work);
    if (buf_append(&s->work, s->hold.data ? s->hold.data : "", s->hold.len) < 0 ||
        buf_append(&s->work, t, n) < 0)
        return ANSWER_FULL;
    buf_reset(&s->hold);
    const char *w = s->work.data;
    size_t wn = s->work.len, at = wn, end = SIZE_MAX;
    int which = -1;
    /* The match that ends first, as a model writing token by token would
     * have stopped there (the same however the text is cut); of two that end
     * together, the longer. */
    for (size_t i = 0; i < s->n; i++) {
        const char *m = memmem(w, wn, s->stops[i], s->lens[i]);
        size_t e = m ? (size_t)(m - w) + s->lens[i] : SIZE_MAX;
        if (m && (e < end || (e == end && (size_t)(m - w) < at))) {
            at = (size_t)(m - w);
            end = e;
            which = (int)i;
        }
    }
    if (which >= 0) {
        int rc = at ? s->next.ops->text(s->next.self, w, at) : ANSWER_GO;
        s->halted = 1;
        if (rc != ANSWER_GO)
            return rc;
        rc = s->next.ops->finish(s->next.self, ANSWER_STOP, s->stops[which]);
        return rc == ANSWER_FULL ? ANSWER_FULL : ANSWER_HALT;
    }
    size_t keep = sc_tail(s, w, wn);
    int rc = wn > keep ? s->next.ops->text(s->next.self, w, wn - keep) : ANSWER_GO;
    if (rc != ANSWER_GO) {
        s->halted = 1;
        return rc;
    }
    if (buf_append(&s->hold, w + wn - keep, keep) < 0)
        return ANSWER_FULL;
    return ANSWER_GO;
}

static int sc_start(void *self)
{
    struct stopcut *s = self;
    return s->next.ops->start(s->next.self);
}

static int sc_reasoning(void *self, const char *t, size_t n)
{
    struct stopcut *s = self;
    return s->halted ? ANSWER_HALT : s->next.ops->reasoning(s->next.self, t, n);
}

static int sc_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct stopcut *s = self;
    if (s->halted)
        return ANSWER_HALT;
    int rc = sc_flush(s);
    return rc != ANSWER_GO ? rc : s->next.ops->tool_begin(s->next.self, index, id, name);
}

static int sc_tool_args(void *self, int index, const char *t, size_t n)
{
    struct stopcut *s = self;
    return s->halted ? ANSWER_HALT : s->next.ops->tool_args(s->next.self, index, t, n);
}

static int sc_tool_end(void *self, int index)
{
    struct stopcut *s = self;
    return s->halted ? ANSWER_HALT : s->next.ops->tool_end(s->next.self, index);
}

static int sc_finish(void *self, enum answer_finish why, const char *stop)
{
    struct stopcut *s = self;
    if (s->halted)
        return ANSWER_HALT;
    int rc = sc_flush(s);
    s->halted = 1;
    return rc != ANSWER_GO ? rc : s->next.ops->finish(s->next.self, why, stop);
}

static int sc_error(void *self, const struct answer_error *e)
{
    struct stopcut *s = self;
    if (s->halted)
        return ANSWER_HALT;
    s->halted = 1;
    return s->next.ops->error(s->next.self, e);
}

static int sc_usage(void *self, const struct answer_usage *u)
{
    struct stopcut *s = self;
    return s->next.ops->usage(s->next.self, u);
}

static const struct sink_ops stopcut_ops = {
    sc_start, sc_text, sc_reasoning, sc_tool_begin, sc_tool_args, sc_tool_end,
    sc_finish, sc_error, sc_usage,
};

struct stopcut *stopcut_new(const char *const *stops, size_t n, struct sink next)
{
    struct stopcut *s = xcalloc(1, sizeof(*s));
    s->next = next;
    s->longest = 1;
    for (size_t i = 0; i < n && s->n < STOPCUT_MAX; i++) {
        size_t len = strlen(stops[i]);
        if (!len || len > STOPCUT_MAX_LEN)
            continue;
        s->stops[s->n] = xstrdup(stops[i]);
        s->lens[s->n++] = len;
        if (len > s->longest)
            s->longest = len;
    }
    buf_init(&s->hold, STOPCUT_MAX_LEN);
    /* A piece is one frame's text: the renderer caps an answer, not a frame,
     * so the scratch buffer grows with the largest piece. */
    buf_init(&s->work, (size_t)1 << 30);
    return s;
}

void stopcut_free(struct stopcut *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->stops[i]);
    buf_cleanup(&s->hold);
    buf_cleanup(&s->work);
    free(s);
}

struct sink stopcut_sink(struct stopcut *s)
{
    struct sink k = { &stopcut_ops, s };
    return k;
}

/* ---- the length cutter -------------------------------------------------- */

struct lencut {
    struct sink next;
    long max, used, reasoning;
    int halted, cut;
};

/* The longest prefix of s (whole characters) that is worth at most room tokens. */
static size_t lc_fit(const char *s, size_t n, long room)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* the estimate only grows with the prefix */
        size_t mid = lo + (hi - lo + 1) / 2;
        if (usage_estimate(s, mid) <= room)
            lo = mid;
        else
            hi = mid - 1;
    }
    while (lo > 0 && lo < n && ((unsigned char)s[lo] & 0xC0) == 0x80)
        lo--;
    return lo;
}

static int lc_stop(struct lencut *l)
{
    l->halted = 1;
    l->cut = 1;
    int rc = l->next.ops->finish(l->next.self, ANSWER_LENGTH, NULL);
    return rc == ANSWER_FULL ? ANSWER_FULL : ANSWER_HALT;
}

static int lc_piece(struct lencut *l, int reasoning, const char *s, size_t n)
{
    if (l->halted)
        return ANSWER_HALT;
    long est = usage_estimate(s, n);
    const struct sink_ops *o = l->next.ops;
    if (l->used + est <= l->max) {
        l->used += est;
        if (reasoning)
            l->reasoning += est;
        int rc = reasoning ? o->reasoning(l->next.self, s, n) : o->text(l->next.self, s, n);
        if (rc != ANSWER_GO)
            l->halted = 1;
        return rc;
    }
    size_t k = lc_fit(s, n, l->max - l->used);
    if (k) {
        long e = usage_estimate(s, k);
        l->used += e;
        if (reasoning)
            l->reasoning += e;
        int rc = reasoning ? o->reasoning(l->next.self, s, k) : o->text(l->next.self, s, k);
        if (rc != ANSWER_GO) {
            l->halted = 1;
            return rc;
        }
    }
    return lc_stop(l);
}

static int lc_start(void *self)
{
    struct lencut *l = self;
    return l->next.ops->start(l->next.self);
}

static int lc_text(void *self, const char *s, size_t n)
{
    return lc_piece(self, 0, s, n);
}

static int lc_reasoning(void *self, const char *s, size_t n)
{
    return lc_piece(self, 1, s, n);
}

static int lc_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct lencut *l = self;
    if (l->halted)
        return ANSWER_HALT;
    if (l->used >= l->max)
        return lc_stop(l);
    return l->next.ops->tool_begin(l->next.self, index, id, name);
}

static int lc_tool_args(void *self, int index, const char *s, size_t n)
{
    struct lencut *l = self;
    if (l->halted)
        return ANSWER_HALT;
    l->used += usage_estimate(s, n); /* a call is sent whole */
    return l->next.ops->tool_args(l->next.self, index, s, n);
}

static int lc_tool_end(void *self, int index)
{
    struct lencut *l = self;
    return l->halted ? ANSWER_HALT : l->next.ops->tool_end(l->next.self, index);
}

static int lc_finish(void *self, enum answer_finish why, const char *stop)
{
    struct lencut *l = self;
    if (l->halted)
        return ANSWER_HALT;
    l->halted = 1;
    return l->next.ops->finish(l->next.self, why, stop);
}

static int lc_error(void *self, const struct answer_error *e)
{
    struct lencut *l = self;
    if (l->halted)
        return ANSWER_HALT;
    l->halted = 1;
    return l->next.ops->error(l->next.self, e);
}

static int lc_usage(void *self, const struct answer_usage *u)
{
    struct lencut *l = self;
    struct answer_usage v = *u;
    if (l->cut) {
        if (v.completion_tokens > l->used)
            v.completion_tokens = l->used;
        if (v.reasoning_tokens > l->reasoning)
            v.reasoning_tokens = l->reasoning;
    }
    return l->next.ops->usage(l->next.self, &v);
}

static const struct sink_ops lencut_ops = {
    lc_start, lc_text, lc_reasoning, lc_tool_begin, lc_tool_args, lc_tool_end,
    lc_finish, lc_error, lc_usage,
};

struct lencut *lencut_new(long max_tokens, struct sink next)
{
    struct lencut *l = xcalloc(1, sizeof(*l));
    l->next = next;
    l->max = max_tokens > 0 ? max_tokens : 0;
    return l;
}

void lencut_free(struct lencut *l)
{
    free(l);
}

struct sink lencut_sink(struct lencut *l)
{
    struct sink k = { &lencut_ops, l };
    return k;
}
