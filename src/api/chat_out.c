/* The chat job's answer, its last sink (see api/chat_int.h): OpenAI's
 * chunks or completion object, tool calls included, or another dialect's
 * writer behind a proxy that starts the client's stream and writes out each
 * event as the writer makes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api.h"
#include "api/chat_int.h"
#include "config.h"
#include "log.h"
#include "stream/shape.h"
#include "util/xalloc.h"

/* ---- the shaped answer (tools, JSON output, stop, length) --------------- */

/* Non-stream: the calls go into the message, whose content is null when the
 * model wrote no text. The object is small next to the work behind it, so it
 * is edited as JSON. */
void chat_put_tool_calls(struct chat_job *j, struct buf *b)
{
    json_t *o = json_loadb(b->data, b->len, 0, NULL);
    json_t *msg = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message");
    if (!msg) {
        json_decref(o);
        return;
    }
    json_object_set(msg, "tool_calls", j->calls);
    if (!j->content.len)
        json_object_set_new(msg, "content", json_null());
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (s) {
        buf_reset(b);
        if (buf_puts(b, s) < 0)
            LOGR(LOG_WARN, j->job.rid, "answer buffer full");
        free(s);
    }
}

/* The chat job as the last sink of the stages: OpenAI's chunks, or the
 * collected answer. */
static void put_delta(struct chat_job *j, const char *c, size_t cl, const char *r, size_t rl)
{
    if (!j->job.a)
        return;
    if (j->stream) {
        chat_stream_start(j);
        struct openai_meta m = chat_meta(j);
        if (openai_sse_delta(&j->out, &m, c, cl, r, rl) == 0)
            chat_client_write(j);
    } else if (buf_append(&j->content, c, cl) < 0 || buf_append(&j->reasoning, r, rl) < 0) {
        LOGR(LOG_WARN, j->job.rid, "answer buffer full");
    }
}

static int w_start(void *self)
{
    (void)self;
    return ANSWER_GO;
}

static int w_text(void *self, const char *s, size_t n)
{
    put_delta(self, s, n, NULL, 0);
    return ANSWER_GO;
}

static int w_reasoning(void *self, const char *s, size_t n)
{
    put_delta(self, NULL, 0, s, n);
    return ANSWER_GO;
}

static int w_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct chat_job *j = self;
    (void)index;
    snprintf(j->call_id, sizeof(j->call_id), "%s", id);
    snprintf(j->call_name, sizeof(j->call_name), "%s", name);
    buf_reset(&j->call_args);
    return ANSWER_GO;
}

static int w_tool_args(void *self, int index, const char *s, size_t n)
{
    struct chat_job *j = self;
    (void)index;
    return buf_append(&j->call_args, s, n) < 0 ? ANSWER_FULL : ANSWER_GO;
}

/* A call goes out whole: its first (and only) delta has the index, the id,
 * the type, the name and all of the arguments. */
static int w_tool_end(void *self, int index)
{
    struct chat_job *j = self;
    json_t *call = json_pack("{s:s, s:s, s:{s:s, s:s%}}", "id", j->call_id, "type", "function",
                             "function", "name", j->call_name, "arguments",
                             buf_cstr(&j->call_args), j->call_args.len);
    if (!call || !j->job.a) {
        json_decref(call);
        return ANSWER_GO;
    }
    if (!j->stream) {
        if (!j->calls)
            j->calls = json_array();
        json_array_append_new(j->calls, call);
        return ANSWER_GO;
    }
    chat_stream_start(j);
    json_t *tc = json_pack("{s:i}", "index", index);
    json_object_update(tc, call);
    json_decref(call);
    json_t *chunk = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:[o]}, s:n, s:n}]}", "id",
                              render_conversation_id(j->render), "object", "chat.completion.chunk",
                              "created", (json_int_t)j->created, "model", j->model, "choices",
                              "index", 0, "delta", "tool_calls", tc, "logprobs", "finish_reason");
    if (chunk && j->include_usage)
        json_object_set_new(chunk, "usage", json_null());
    char *s = chunk ? json_dumps(chunk, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(chunk);
    if (s && buf_printf(&j->out, "data: %s\n\n", s) == 0)
        chat_client_write(j);
    free(s);
    return ANSWER_GO;
}

static int w_finish(void *self, enum answer_finish why, const char *stop)
{
    static const char *const reasons[] = { "stop", "length", "tool_calls", "content_filter" };
    struct chat_job *j = self;
    (void)stop;
    j->shaped_done = 1;
    j->finish_reason = reasons[why];
    return ANSWER_GO;
}

static int w_error(void *self, const struct answer_error *e)
{
    struct chat_job *j = self;
    j->shaped_done = 1;
    chat_client_error(j, e->status, e->code, "%s", e->message);
    return ANSWER_GO;
}

static int w_usage(void *self, const struct answer_usage *u)
{
    struct chat_job *j = self;
    j->usage = *u;
    return ANSWER_GO;
}

static const struct sink_ops chat_writer_ops = {
    w_start, w_text, w_reasoning, w_tool_begin, w_tool_args, w_tool_end,
    w_finish, w_error, w_usage,
};

/* ---- another dialect's writer (api/dialect.h) --------------------------- */

static struct sink dialect_sink(const struct chat_job *j)
{
    return j->dialect->sink(j->dw);
}

/* The writer's start op, once (a streamed reply: after the HTTP head). */
void chat_dialect_start(struct chat_job *j)
{
    if (j->dstarted || !j->dw)
        return;
    j->dstarted = 1;
    struct sink k = dialect_sink(j);
    (void)k.ops->start(k.self);
}

/* Every event goes out as soon as the writer made it. */
static int dialect_began(struct chat_job *j)
{
    if (!j->job.a || !j->dw)
        return 0;
    if (j->stream)
        chat_stream_start(j);
    else
        chat_dialect_start(j);
    return 1;
}

static int dialect_sent(struct chat_job *j, int rc)
{
    chat_client_write(j);
    return rc;
}

static int d_start(void *self)
{
    dialect_began(self);
    return ANSWER_GO;
}

static int d_text(void *self, const char *s, size_t n)
{
    struct chat_job *j = self;
    if (!dialect_began(j))
        return ANSWER_GO;
    struct sink k = dialect_sink(j);
    return dialect_sent(j, k.ops->text(k.self, s, n));
}

static int d_reasoning(void *self, const char *s, size_t n)
{
    struct chat_job *j = self;
    if (!dialect_began(j))
        return ANSWER_GO;
    struct sink k = dialect_sink(j);
    return dialect_sent(j, k.ops->reasoning(k.self, s, n));
}

static int d_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct chat_job *j = self;
    if (!dialect_began(j))
        return ANSWER_GO;
    struct sink k = dialect_sink(j);
    return dialect_sent(j, k.ops->tool_begin(k.self, index, id, name));
}

static int d_tool_args(void *self, int index, const char *s, size_t n)
{
    struct chat_job *j = self;
    if (!dialect_began(j))
        return ANSWER_GO;
    struct sink k = dialect_sink(j);
    return dialect_sent(j, k.ops->tool_args(k.self, index, s, n));
}

static int d_tool_end(void *self, int index)
{
    struct chat_job *j = self;
    if (!dialect_began(j))
        return ANSWER_GO;
    struct sink k = dialect_sink(j);
    return dialect_sent(j, k.ops->tool_end(k.self, index));
}

static int d_finish(void *self, enum answer_finish why, const char *stop)
{
    struct chat_job *j = self;
    j->shaped_done = 1;
    if (!dialect_began(j))
        return ANSWER_GO;
    struct sink k = dialect_sink(j);
    return dialect_sent(j, k.ops->finish(k.self, why, stop));
}

static int d_error(void *self, const struct answer_error *e)
{
    struct chat_job *j = self;
    j->shaped_done = 1;
    chat_client_error(j, e->status, e->code, "%s", e->message);
    return ANSWER_GO;
}

static int d_usage(void *self, const struct answer_usage *u)
{
    struct chat_job *j = self;
    j->usage = *u;
    if (!dialect_began(j))
        return ANSWER_GO;
    struct sink k = dialect_sink(j);
    return dialect_sent(j, k.ops->usage(k.self, u));
}

static const struct sink_ops dialect_proxy_ops = {
    d_start, d_text, d_reasoning, d_tool_begin, d_tool_args, d_tool_end,
    d_finish, d_error, d_usage,
};

/* Text from the renderer when no stage is asked for. */
void chat_dialect_feed(struct chat_job *j, const char *c, size_t cl, const char *r, size_t rl)
{
    int rc = ANSWER_GO;
    if (rl)
        rc = d_reasoning(j, r, rl);
    if (rc == ANSWER_GO && cl)
        rc = d_text(j, c, cl);
    if (rc == ANSWER_FULL && j->job.state != JOB_COMPLETE) {
        j->cut_upstream = 1;
        job_set_state(&j->job, JOB_COMPLETE);
        chat_client_error(j, 502, "answer_too_long", "the answer does not fit the reply buffer");
        j->delete_wanted = 1;
        job_reap(&j->job);
    }
}

/* The answer is complete: finish (unless a stage did), usage, the closing
 * events or the whole object, then the dialect's done op. */
void chat_dialect_finish(struct chat_job *j)
{
    if (!j->shaped_done) {
        enum render_state st = render_get_state(j->render);
        (void)d_finish(j, st == RENDER_FILTERED ? ANSWER_CONTENT_FILTER : ANSWER_STOP, NULL);
    }
    struct answer_usage au = { j->prompt_tokens, j->completion_tokens + j->reasoning_tokens,
                               j->reasoning_tokens };
    struct sink u = j->shape ? shape_sink(j->shape) : (struct sink){ &dialect_proxy_ops, j };
    (void)u.ops->usage(u.self, &au);
    if (!j->job.a)
        return;
    dialect_began(j);
    if (j->dialect->flush(j->dw) < 0)
        LOGR(LOG_WARN, j->job.rid, "answer buffer full");
    if (j->stream) {
        chat_client_write(j);
        api_end(j->job.a);
    } else {
        struct buf b;
        buf_init(&b, (size_t)cfg.max_answer * 2 + 65536);
        if (j->dialect->object(j->dw, &b) < 0) {
            buf_cleanup(&b);
            chat_client_error(j, 500, NULL, "the answer does not fit the reply buffer");
            return;
        }
        api_reply(j->job.a, 200, "application/json; charset=utf-8", b.data, b.len);
        buf_cleanup(&b);
    }
    /* Before the client side lets go of the job: nothing of the job is read
     * after job_replied. */
    if (j->dialect->done) {
        struct dialect_result r = { render_conversation_id(j->render), j->route.assistant_id,
                                    j->job.at.token, j->dw };
        j->dialect->done(j->dctx, &r);
    }
    job_replied(&j->job);
}

struct sink chat_out_sink(struct chat_job *j)
{
    return (struct sink){ j->dialect ? &dialect_proxy_ops : &chat_writer_ops, j };
}
