#include "stream/jsonout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/jschema.h"
#include "util/xalloc.h"

struct jsonout {
    struct sink next;
    struct jsonout_opts o;
    char open;               /* '{', or '[' for an array schema */
    struct buf text;
    size_t cand;             /* where the candidate document begins */
    size_t pos;              /* scanned up to here */
    int active;              /* a candidate is open */
    int depth, in_str, esc;
    int halted;
    int calls;               /* tool calls came: the answer is theirs, not a document */
    char bad[400];           /* the first schema failure, for the message */
    char problem[512];
};

static void reset_scan(struct jsonout *j, size_t from)
{
    j->active = 0;
    j->depth = j->in_str = j->esc = 0;
    j->pos = from;
}

/* A candidate [cand, end) closed: 1 when it is the document (sent). */
static int try_doc(struct jsonout *j, size_t end, int *rc)
{
    const char *s = j->text.data + j->cand;
    size_t n = end - j->cand;
    json_error_t err;
    json_t *doc = json_loadb(s, n, 0, &err);
    if (!doc)
        return 0;
    char msg[300];
    int ok = !j->o.schema ? json_is_object(doc)
                          : jschema_check(j->o.schema, doc, "the document", msg, sizeof(msg)) == 0;
    if (!ok && !j->bad[0])
        snprintf(j->bad, sizeof(j->bad), "%s",
                 j->o.schema ? msg : "the document is not a JSON object");
    json_decref(doc);
    if (!ok)
        return 0;
    j->halted = 1;
    *rc = j->next.ops->text(j->next.self, s, n);
    if (*rc == ANSWER_GO)
        *rc = j->next.ops->finish(j->next.self, ANSWER_STOP, NULL);
    if (*rc == ANSWER_GO)
        *rc = ANSWER_HALT;
    return 1;
}

/* Scans the kept text from pos. */
static int scan(struct jsonout *j)
{
    int rc = ANSWER_GO;
    while (j->pos < j->text.len) {
        const char *s = j->text.data;
        if (!j->active) {
            const char *p = memchr(s + j->pos, j->open, j->text.len - j->pos);
            if (!p) {
                j->pos = j->text.len;
                break;
            }
            j->cand = (size_t)(p - s);
            j->active = 1;
            j->depth = 0;
            j->pos = j->cand;
        }
        char c = s[j->pos++];
        if (j->in_str) {
            if (j->esc)
                j->esc = 0;
            else if (c == '\\')
                j->esc = 1;
            else if (c == '"')
                j->in_str = 0;
            continue;
        }
        if (c == '"') {
            j->in_str = 1;
        } else if (c == '{' || c == '[') {
            j->depth++;
        } else if (c == '}' || c == ']') {
            if (--j->depth == 0) {
                if (try_doc(j, j->pos, &rc))
                    return rc;
                reset_scan(j, j->cand + 1); /* not it: look again after its start */
            }
        }
    }
    return rc;
}

static int jo_start(void *self)
{
    struct jsonout *j = self;
    return j->next.ops->start(j->next.self);
}

static int jo_text(void *self, const char *s, size_t n)
{
    struct jsonout *j = self;
    if (j->halted)
        return ANSWER_HALT;
    /* Up to the cap, scanned as it comes: a document found before the cap
     * is sent however the text was cut. */
    while (n) {
        size_t room = j->text.max - j->text.len, k = n < room ? n : room;
        if (!k || buf_append(&j->text, s, k) < 0)
            return ANSWER_FULL;
        int rc = scan(j);
        if (j->halted || rc != ANSWER_GO)
            return rc;
        s += k;
        n -= k;
    }
    return ANSWER_GO;
}

static int jo_reasoning(void *self, const char *s, size_t n)
{
    struct jsonout *j = self;
    return j->halted ? ANSWER_HALT : j->next.ops->reasoning(j->next.self, s, n);
}

static int jo_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct jsonout *j = self;
    j->calls = 1;
    return j->halted ? ANSWER_HALT : j->next.ops->tool_begin(j->next.self, index, id, name);
}

static int jo_tool_args(void *self, int index, const char *s, size_t n)
{
    struct jsonout *j = self;
    return j->halted ? ANSWER_HALT : j->next.ops->tool_args(j->next.self, index, s, n);
}

static int jo_tool_end(void *self, int index)
{
    struct jsonout *j = self;
    return j->halted ? ANSWER_HALT : j->next.ops->tool_end(j->next.self, index);
}

static int jo_finish(void *self, enum answer_finish why, const char *stop)
{
    struct jsonout *j = self;
    if (j->halted)
        return ANSWER_HALT;
    if (j->calls) {
        j->halted = 1;
        return j->next.ops->finish(j->next.self, why, stop);
    }
    /* An unclosed candidate may hide a good document after its start. */
    while (j->active) {
        reset_scan(j, j->cand + 1);
        int rc = scan(j);
        if (j->halted)
            return rc == ANSWER_HALT ? ANSWER_GO : rc;
    }
    j->halted = 1;
    if (j->bad[0])
        snprintf(j->problem, sizeof(j->problem), "the answer's JSON does not match the schema: %s",
                 j->bad);
    else
        snprintf(j->problem, sizeof(j->problem), "the answer holds no JSON %s",
                 j->open == '[' ? "array" : "object");
    if (j->o.strict)
        return ANSWER_HALT;
    struct answer_error e = { 502, "upstream_error", "invalid_json_output", j->problem };
    return j->next.ops->error(j->next.self, &e);
}

static int jo_error(void *self, const struct answer_error *e)
{
    struct jsonout *j = self;
    if (j->halted)
        return ANSWER_HALT;
    j->halted = 1;
    return j->next.ops->error(j->next.self, e);
}

static int jo_usage(void *self, const struct answer_usage *u)
{
    struct jsonout *j = self;
    return j->next.ops->usage(j->next.self, u);
}

static const struct sink_ops jsonout_ops = {
    jo_start, jo_text, jo_reasoning, jo_tool_begin, jo_tool_args, jo_tool_end,
    jo_finish, jo_error, jo_usage,
};

struct jsonout *jsonout_new(const struct jsonout_opts *o, struct sink next)
{
    struct jsonout *j = xcalloc(1, sizeof(*j));
    j->next = next;
    j->o = *o;
    const json_t *t = json_object_get(o->schema, "type");
    j->open = json_is_string(t) && strcmp(json_string_value(t), "array") == 0 ? '[' : '{';
    buf_init(&j->text, o->max ? o->max : (size_t)4 << 20);
    return j;
}

void jsonout_free(struct jsonout *j)
{
    if (!j)
        return;
    buf_cleanup(&j->text);
    free(j);
}

struct sink jsonout_sink(struct jsonout *j)
{
    struct sink k = { &jsonout_ops, j };
    return k;
}

const char *jsonout_problem(const struct jsonout *j)
{
    return j->o.strict && j->problem[0] ? j->problem : NULL;
}

void jsonout_retry(struct jsonout *j)
{
    buf_reset(&j->text);
    reset_scan(j, 0);
    j->halted = 0;
    j->bad[0] = '\0';
    j->problem[0] = '\0';
    j->calls = 0;
    j->o.strict = 0;
}
