#include "stream/pipeline.h"

#include <stdlib.h>
#include <string.h>

#include "stream/openai.h"
#include "stream/sse.h"
#include "util/xalloc.h"

struct pipeline {
    struct pipeline_opts o;
    struct sink head;
    struct sse_parser *sse;
    struct render *render;
    enum pipeline_status status;
    int broken;             /* an event passed max_event */
    int started;            /* start went through */
    int told_conversation;
    int has_text;
    int failed_sent;        /* pipeline_fail went through */
    struct answer_usage usage;
};

/* After an op: ANSWER_HALT ends the answer (the stage forwarded finish;
 * usage still goes through, for the stage to count what it let through),
 * ANSWER_FULL fails it. Returns 0 to go on. */
static int settle(struct pipeline *p, int rc)
{
    if (rc == ANSWER_GO)
        return 0;
    if (rc == ANSWER_HALT) {
        p->status = PIPELINE_DONE;
        if (p->head.ops->usage(p->head.self, &p->usage) == ANSWER_FULL)
            p->status = PIPELINE_FULL;
    } else {
        p->status = PIPELINE_FULL;
    }
    return -1;
}

static int start(struct pipeline *p)
{
    if (p->started)
        return 0;
    p->started = 1;
    return settle(p, p->head.ops->start(p->head.self));
}

/* The text the last frame added goes out, and is counted. */
static void relay(struct pipeline *p)
{
    const char *c, *r;
    size_t cl, rl;

    render_take(p->render, &c, &cl, &r, &rl);
    if (!cl && !rl)
        return;
    p->has_text = 1;
    long ct = cl ? usage_estimate(c, cl) : 0, rt = rl ? usage_estimate(r, rl) : 0;
    p->usage.completion_tokens += ct + rt;
    p->usage.reasoning_tokens += rt;
    if (start(p) < 0)
        return;
    if (rl && settle(p, p->head.ops->reasoning(p->head.self, r, rl)) < 0)
        return;
    if (cl)
        (void)settle(p, p->head.ops->text(p->head.self, c, cl));
}

/* After the renderer stopped: a complete answer is finished through the sink. */
static void conclude(struct pipeline *p)
{
    enum render_state st = render_get_state(p->render);

    if (p->status != PIPELINE_RUNNING || st == RENDER_RUNNING)
        return;
    if (st != RENDER_DONE && st != RENDER_FILTERED) {
        p->status = PIPELINE_FAILED;
        return;
    }
    if (start(p) < 0)
        return;
    enum answer_finish why = st == RENDER_DONE ? ANSWER_STOP : ANSWER_CONTENT_FILTER;
    if (settle(p, p->head.ops->finish(p->head.self, why, NULL)) < 0)
        return;
    p->status = PIPELINE_DONE;
    if (p->head.ops->usage(p->head.self, &p->usage) == ANSWER_FULL)
        p->status = PIPELINE_FULL;
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct pipeline *p = arg;

    if (p->status != PIPELINE_RUNNING)
        return 0; /* the answer is over: drain the rest */
    if (event[0] && strcmp(event, "message") != 0)
        return 0;
    if (render_frame(p->render, data, len) != 0)
        return 0; /* not JSON: a heartbeat */
    const char *conv = render_conversation_id(p->render);
    if (!p->told_conversation && conv[0]) {
        p->told_conversation = 1;
        if (p->o.on_conversation)
            p->o.on_conversation(p->o.arg, conv);
    }
    if (p->o.early_start && conv[0] && start(p) < 0)
        return 0;
    relay(p);
    conclude(p);
    return 0;
}

struct pipeline *pipeline_new(const struct pipeline_opts *o, struct sink head)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));

    p->o = *o;
    p->head = head;
    p->sse = sse_parser_new(o->max_event);
    p->render = render_new(&o->render);
    p->usage.prompt_tokens = o->prompt_tokens;
    p->status = PIPELINE_RUNNING;
    return p;
}

void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    sse_parser_free(p->sse);
    render_free(p->render);
    free(p);
}

int pipeline_feed(struct pipeline *p, const char *data, size_t len)
{
    if (p->broken)
        return SSE_TOO_LONG;
    int rc = sse_feed(p->sse, data, len, on_event, p);
    if (rc == SSE_TOO_LONG)
        p->broken = 1;
    return rc;
}

void pipeline_end(struct pipeline *p)
{
    if (!p->broken)
        (void)sse_finish(p->sse, on_event, p);
    if (p->status != PIPELINE_RUNNING)
        return;
    render_end(p->render);
    relay(p);
    conclude(p);
}

int pipeline_fail(struct pipeline *p, const struct answer_error *e)
{
    if (p->status == PIPELINE_DONE || p->failed_sent)
        return 0;
    p->failed_sent = 1;
    if (p->status == PIPELINE_RUNNING)
        p->status = PIPELINE_FAILED;
    return p->head.ops->error(p->head.self, e) == ANSWER_FULL ? -1 : 0;
}

enum pipeline_status pipeline_status(const struct pipeline *p)
{
    return p->status;
}

enum render_state pipeline_render_state(const struct pipeline *p)
{
    return render_get_state(p->render);
}

int pipeline_render_error(const struct pipeline *p, const char **message)
{
    return render_error(p->render, message);
}

const char *pipeline_conversation_id(const struct pipeline *p)
{
    return render_conversation_id(p->render);
}

unsigned long pipeline_frames(const struct pipeline *p)
{
    return render_frames(p->render);
}

int pipeline_has_text(const struct pipeline *p)
{
    return p->has_text;
}

struct answer_usage pipeline_usage(const struct pipeline *p)
{
    return p->usage;
}
