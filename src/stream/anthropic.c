#include "stream/anthropic.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/collect.h"
#include "util/jstr.h"
#include "util/xalloc.h"

struct anthropic_writer {
    struct anthropic_meta m;
    char id[80], model[160];
    struct buf *out;
    struct collect c;
    int closed;             /* message_delta + message_stop written */
    int failed;
    int tools;              /* tool_use blocks written */
};

static int jstr(struct buf *b, const char *s)
{
    return json_append_string(b, s, strlen(s));
}

const char *anthropic_error_type(int status)
{
    switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529:
    case 503: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

int anthropic_error_body(struct buf *out, const char *type, const char *message)
{
    size_t start = out->len;
    if (buf_puts(out, "{\"type\":\"error\",\"error\":{\"type\":") < 0 || jstr(out, type) < 0 ||
        buf_puts(out, ",\"message\":") < 0 || jstr(out, message ? message : "") < 0 ||
        buf_puts(out, "}}") < 0) {
        buf_truncate(out, start);
        return -1;
    }
    return 0;
}

static int ev(struct anthropic_writer *w, const char *name)
{
    struct buf *b = w->out;
    if (buf_puts(b, "event: ") < 0 || buf_puts(b, name) < 0 ||
        buf_puts(b, "\ndata: {\"type\":\"") < 0 || buf_puts(b, name) < 0)
        return -1;
    return buf_putc(b, '"');
}

static int ev_end(struct anthropic_writer *w)
{
    return buf_puts(w->out, "}\n\n");
}

static int block_index(const struct anthropic_writer *w, const struct collect_item *it)
{
    return (int)(it - w->c.items);
}

/* A tool call's input: the arguments as they are when they are an object
 * (the tool layer hands compact JSON), else {}. */
static int put_input(struct buf *b, const struct collect_item *it)
{
    const char *a = buf_cstr(&it->text);
    if (it->text.len >= 2 && a[0] == '{')
        return buf_append(b, a, it->text.len);
    return buf_puts(b, "{}");
}

static int block_json(const struct collect_item *it, int with_content, struct buf *b)
{
    char tid[80];
    switch (it->kind) {
    case COLLECT_REASONING:
        if (buf_puts(b, "{\"type\":\"thinking\",\"thinking\":") < 0 ||
            json_append_string(b, with_content ? buf_cstr(&it->text) : "",
                               with_content ? it->text.len : 0) < 0 ||
            buf_puts(b, ",\"signature\":\"\"}") < 0)
            return -1;
        return 0;
    case COLLECT_TEXT:
        if (buf_puts(b, "{\"type\":\"text\",\"text\":") < 0 ||
            json_append_string(b, with_content ? buf_cstr(&it->text) : "",
                               with_content ? it->text.len : 0) < 0 ||
            buf_putc(b, '}') < 0)
            return -1;
        return 0;
    case COLLECT_TOOL:
        collect_anthropic_id(it->id, tid, sizeof tid);
        if (buf_puts(b, "{\"type\":\"tool_use\",\"id\":") < 0 || jstr(b, tid) < 0 ||
            buf_puts(b, ",\"name\":") < 0 || jstr(b, it->name) < 0 ||
            buf_puts(b, ",\"input\":") < 0 ||
            (with_content ? put_input(b, it) : buf_puts(b, "{}")) < 0 || buf_putc(b, '}') < 0)
            return -1;
        return 0;
    }
    return -1;
}

static int block_start(struct anthropic_writer *w, const struct collect_item *it)
{
    if (!w->m.stream)
        return 0;
    if (ev(w, "content_block_start") < 0 ||
        buf_printf(w->out, ",\"index\":%d,\"content_block\":", block_index(w, it)) < 0 ||
        block_json(it, 0, w->out) < 0 || ev_end(w) < 0)
        return -1;
    return 0;
}

static int block_delta(struct anthropic_writer *w, const struct collect_item *it, const char *kind,
                       const char *field, const char *s, size_t n)
{
    if (ev(w, "content_block_delta") < 0 || buf_puts(w->out, ",\"index\":") < 0 ||
        buf_put_ll(w->out, block_index(w, it)) < 0 || buf_puts(w->out, ",\"delta\":{\"type\":\"") < 0 ||
        buf_puts(w->out, kind) < 0 || buf_puts(w->out, "\",\"") < 0 || buf_puts(w->out, field) < 0 ||
        buf_puts(w->out, "\":") < 0 ||
        json_append_string(w->out, s, n) < 0 || buf_putc(w->out, '}') < 0 || ev_end(w) < 0)
        return -1;
    return 0;
}

static int block_stop(struct anthropic_writer *w, const struct collect_item *it)
{
    if (!w->m.stream || !it)
        return 0;
    /* Clients that replay thinking blocks expect a signature event first. */
    if (it->kind == COLLECT_REASONING &&
        block_delta(w, it, "signature_delta", "signature", "", 0) < 0)
        return -1;
    if (ev(w, "content_block_stop") < 0 ||
        buf_printf(w->out, ",\"index\":%d", block_index(w, it)) < 0 || ev_end(w) < 0)
        return -1;
    return 0;
}

static int close_open(struct anthropic_writer *w)
{
    return block_stop(w, collect_close(&w->c));
}

static int put_delta(struct anthropic_writer *w, enum collect_kind kind, const char *s, size_t n)
{
    int opened;
    struct collect_item *last = collect_last(&w->c);

    if (n == 0)
        return ANSWER_GO;
    if (w->c.open && last && last->kind != kind && close_open(w) < 0)
        return ANSWER_FULL;
    struct collect_item *it = collect_item_for(&w->c, kind, &opened);
    if (!it || (opened && block_start(w, it) < 0) || collect_append(&w->c, it, s, n) < 0)
        return ANSWER_FULL;
    if (!w->m.stream)
        return ANSWER_GO;
    if (kind == COLLECT_TEXT)
        return block_delta(w, it, "text_delta", "text", s, n) < 0 ? ANSWER_FULL : ANSWER_GO;
    return block_delta(w, it, "thinking_delta", "thinking", s, n) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static const char *stop_reason(const struct anthropic_writer *w)
{
    switch (w->c.why) {
    case ANSWER_LENGTH: return "max_tokens";
    case ANSWER_TOOL_CALLS: return w->tools ? "tool_use" : "end_turn";
    case ANSWER_CONTENT_FILTER: return "refusal";
    case ANSWER_STOP: break;
    }
    return w->c.stop_seq[0] ? "stop_sequence" : "end_turn";
}

static int put_stop_sequence(struct anthropic_writer *w, struct buf *b)
{
    if (strcmp(stop_reason(w), "stop_sequence") == 0)
        return jstr(b, w->c.stop_seq);
    return buf_puts(b, "null");
}

int anthropic_writer_object(struct anthropic_writer *w, struct buf *b)
{
    size_t start = b->len;

    if (buf_puts(b, "{\"id\":") < 0 || jstr(b, w->id) < 0 ||
        buf_puts(b, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":") < 0 ||
        jstr(b, w->model) < 0 || buf_puts(b, ",\"content\":[") < 0)
        goto fail;
    for (int i = 0; i < w->c.n; i++)
        if ((i > 0 && buf_putc(b, ',') < 0) || block_json(&w->c.items[i], 1, b) < 0)
            goto fail;
    if (buf_puts(b, "],\"stop_reason\":") < 0 ||
        (w->c.finished ? buf_printf(b, "\"%s\"", stop_reason(w)) : buf_puts(b, "null")) < 0 ||
        buf_puts(b, ",\"stop_sequence\":") < 0 || put_stop_sequence(w, b) < 0 ||
        buf_printf(b, ",\"usage\":{\"input_tokens\":%ld,\"output_tokens\":%ld}}",
                   w->m.input_tokens, w->c.usage.completion_tokens) < 0)
        goto fail;
    return 0;
fail:
    buf_truncate(b, start);
    return -1;
}

static int write_close(struct anthropic_writer *w)
{
    if (w->closed)
        return 0;
    w->closed = 1;
    if (!w->m.stream)
        return 0;
    if (ev(w, "message_delta") < 0 ||
        buf_printf(w->out, ",\"delta\":{\"stop_reason\":\"%s\",\"stop_sequence\":", stop_reason(w)) < 0 ||
        put_stop_sequence(w, w->out) < 0 ||
        buf_printf(w->out, "},\"usage\":{\"output_tokens\":%ld}", w->c.usage.completion_tokens) < 0 ||
        ev_end(w) < 0 || ev(w, "message_stop") < 0 || ev_end(w) < 0)
        return -1;
    return 0;
}

int anthropic_writer_flush(struct anthropic_writer *w)
{
    if (!w->c.finished || w->failed)
        return 0;
    return write_close(w);
}

int anthropic_writer_ping(struct anthropic_writer *w)
{
    if (!w->m.stream || w->closed)
        return 0;
    return ev(w, "ping") < 0 || ev_end(w) < 0 ? -1 : 0;
}

int anthropic_writer_failed(const struct anthropic_writer *w)
{
    return w->failed;
}

static int on_start(void *self)
{
    struct anthropic_writer *w = self;
    if (!w->m.stream)
        return ANSWER_GO;
    if (ev(w, "message_start") < 0 || buf_puts(w->out, ",\"message\":{\"id\":") < 0 ||
        jstr(w->out, w->id) < 0 ||
        buf_puts(w->out, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":") < 0 ||
        jstr(w->out, w->model) < 0 ||
        buf_printf(w->out,
                   ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                   "\"usage\":{\"input_tokens\":%ld,\"output_tokens\":1}}",
                   w->m.input_tokens) < 0 ||
        ev_end(w) < 0)
        return ANSWER_FULL;
    return ANSWER_GO;
}

static int on_text(void *self, const char *s, size_t n)
{
    return put_delta(self, COLLECT_TEXT, s, n);
}

static int on_reasoning(void *self, const char *s, size_t n)
{
    return put_delta(self, COLLECT_REASONING, s, n);
}

static int on_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct anthropic_writer *w = self;

    if (close_open(w) < 0)
        return ANSWER_FULL;
    struct collect_item *it = collect_tool_begin(&w->c, index, id, name);
    if (!it)
        return ANSWER_FULL;
    w->tools++;
    return block_start(w, it) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static int on_tool_args(void *self, int index, const char *s, size_t n)
{
    struct anthropic_writer *w = self;
    struct collect_item *it = collect_last(&w->c);

    (void)index;
    if (!it || !w->c.open || it->kind != COLLECT_TOOL || n == 0)
        return ANSWER_GO;
    if (collect_append(&w->c, it, s, n) < 0)
        return ANSWER_FULL;
    if (w->m.stream && block_delta(w, it, "input_json_delta", "partial_json", s, n) < 0)
        return ANSWER_FULL;
    return ANSWER_GO;
}

static int on_tool_end(void *self, int index)
{
    (void)index;
    return close_open(self) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static int on_finish(void *self, enum answer_finish why, const char *stop_seq)
{
    struct anthropic_writer *w = self;

    if (close_open(w) < 0)
        return ANSWER_FULL;
    w->c.finished = 1;
    w->c.why = why;
    snprintf(w->c.stop_seq, sizeof w->c.stop_seq, "%s", stop_seq ? stop_seq : "");
    return ANSWER_GO;
}

static int on_error(void *self, const struct answer_error *e)
{
    struct anthropic_writer *w = self;

    w->failed = 1;
    w->closed = 1;
    if (!w->m.stream)
        return ANSWER_GO;
    if (ev(w, "error") < 0 || buf_puts(w->out, ",\"error\":{\"type\":") < 0 ||
        jstr(w->out, anthropic_error_type(e->status)) < 0 || buf_puts(w->out, ",\"message\":") < 0 ||
        jstr(w->out, e->message ? e->message : "") < 0 || buf_putc(w->out, '}') < 0 ||
        ev_end(w) < 0)
        return ANSWER_FULL;
    return ANSWER_GO;
}

static int on_usage(void *self, const struct answer_usage *u)
{
    struct anthropic_writer *w = self;

    w->c.usage = *u;
    w->c.has_usage = 1;
    if (w->failed)
        return ANSWER_GO;
    return write_close(w) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static const struct sink_ops anthropic_ops = {
    .start = on_start,
    .text = on_text,
    .reasoning = on_reasoning,
    .tool_begin = on_tool_begin,
    .tool_args = on_tool_args,
    .tool_end = on_tool_end,
    .finish = on_finish,
    .error = on_error,
    .usage = on_usage,
};

struct anthropic_writer *anthropic_writer_new(const struct anthropic_meta *m, struct buf *out)
{
    struct anthropic_writer *w = xcalloc(1, sizeof *w);

    w->m = *m;
    if (w->m.input_tokens < 1)
        w->m.input_tokens = 1;
    snprintf(w->id, sizeof w->id, "%s", m->id ? m->id : "msg_0");
    snprintf(w->model, sizeof w->model, "%s", m->model ? m->model : "");
    w->out = out;
    collect_init(&w->c, m->max_answer ? m->max_answer : (size_t)64 << 20);
    return w;
}

void anthropic_writer_free(struct anthropic_writer *w)
{
    if (!w)
        return;
    collect_cleanup(&w->c);
    free(w);
}

struct sink anthropic_writer_sink(struct anthropic_writer *w)
{
    return (struct sink){ &anthropic_ops, w };
}
