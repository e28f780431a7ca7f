#include "stream/responses.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/collect.h"
#include "util/jstr.h"
#include "util/xalloc.h"

struct responses_writer {
    struct responses_meta m;
    char id[80], model[160], prev[80];
    char *instructions;     /* raw JSON or NULL */
    struct buf *out;
    struct collect c;
    long long seq;          /* sequence_number of the next event */
    int started;
    int final_written;
    int failed;
    char err_code[48];
    char err_msg[512];
};

static int jstr(struct buf *b, const char *s)
{
    return json_append_string(b, s, strlen(s));
}

/* The id of item k: its type's prefix and the response id's random part. */
static void item_id(const struct responses_writer *w, const struct collect_item *it, char *out,
                    size_t outlen)
{
    static const char *const prefix[] = { "rs", "msg", "fc" };
    const char *tail = strncmp(w->id, "resp_", 5) == 0 ? w->id + 5 : w->id;
    snprintf(out, outlen, "%s_%s%02d", prefix[it->kind], tail, (int)(it - w->c.items));
}

static int output_index(const struct responses_writer *w, const struct collect_item *it)
{
    return (int)(it - w->c.items);
}

/* One item as the output array holds it; done says whether it is complete. */
static int item_json(const struct responses_writer *w, const struct collect_item *it, int done,
                     struct buf *b)
{
    char id[128];
    const char *status = done ? "completed" : "in_progress";

    item_id(w, it, id, sizeof id);
    switch (it->kind) {
    case COLLECT_REASONING:
        if (buf_puts(b, "{\"id\":") < 0 || jstr(b, id) < 0 ||
            buf_puts(b, ",\"type\":\"reasoning\",\"summary\":[") < 0)
            return -1;
        if (done && (buf_puts(b, "{\"type\":\"summary_text\",\"text\":") < 0 ||
                     json_append_string(b, buf_cstr(&it->text), it->text.len) < 0 ||
                     buf_putc(b, '}') < 0))
            return -1;
        return buf_puts(b, "]}");
    case COLLECT_TEXT:
        if (buf_puts(b, "{\"id\":") < 0 || jstr(b, id) < 0 ||
            buf_printf(b, ",\"type\":\"message\",\"status\":\"%s\",\"role\":\"assistant\",\"content\":[",
                       status) < 0)
            return -1;
        if (done && (buf_puts(b, "{\"type\":\"output_text\",\"text\":") < 0 ||
                     json_append_string(b, buf_cstr(&it->text), it->text.len) < 0 ||
                     buf_puts(b, ",\"annotations\":[],\"logprobs\":[]}") < 0))
            return -1;
        return buf_puts(b, "]}");
    case COLLECT_TOOL:
        if (buf_puts(b, "{\"id\":") < 0 || jstr(b, id) < 0 ||
            buf_printf(b, ",\"type\":\"function_call\",\"status\":\"%s\",\"call_id\":", status) < 0 ||
            jstr(b, it->id) < 0 || buf_puts(b, ",\"name\":") < 0 || jstr(b, it->name) < 0 ||
            buf_puts(b, ",\"arguments\":") < 0 ||
            json_append_string(b, done ? buf_cstr(&it->text) : "", done ? it->text.len : 0) < 0 ||
            buf_putc(b, '}') < 0)
            return -1;
        return 0;
    }
    return -1;
}

/* event: TYPE\ndata: {"type":TYPE,"sequence_number":N,<body>}\n\n; body is
 * written by the caller between ev_open and ev_close. */
static int ev_open(struct responses_writer *w, const char *type)
{
    struct buf *b = w->out;
    if (buf_puts(b, "event: ") < 0 || buf_puts(b, type) < 0 ||
        buf_puts(b, "\ndata: {\"type\":\"") < 0 || buf_puts(b, type) < 0 ||
        buf_puts(b, "\",\"sequence_number\":") < 0)
        return -1;
    return buf_put_ll(b, w->seq++);
}

static int ev_close(struct responses_writer *w)
{
    return buf_puts(w->out, "}\n\n");
}

static int ev_item(struct responses_writer *w, const char *type, const struct collect_item *it,
                   int done)
{
    if (ev_open(w, type) < 0 ||
        buf_printf(w->out, ",\"output_index\":%d,\"item\":", output_index(w, it)) < 0 ||
        item_json(w, it, done, w->out) < 0 || ev_close(w) < 0)
        return -1;
    return 0;
}

/* ,"item_id":ID,"output_index":N */
static int put_item_ref(struct responses_writer *w, const struct collect_item *it)
{
    char id[128];
    item_id(w, it, id, sizeof id);
    if (buf_puts(w->out, ",\"item_id\":") < 0 || jstr(w->out, id) < 0 ||
        buf_puts(w->out, ",\"output_index\":") < 0 || buf_put_ll(w->out, output_index(w, it)) < 0)
        return -1;
    return 0;
}

static int ev_text_part(struct responses_writer *w, const char *type, const struct collect_item *it,
                        int done)
{
    if (ev_open(w, type) < 0 || put_item_ref(w, it) < 0 ||
        buf_puts(w->out, ",\"content_index\":0,\"part\":{\"type\":\"output_text\",\"text\":") < 0 ||
        json_append_string(w->out, done ? buf_cstr(&it->text) : "", done ? it->text.len : 0) < 0 ||
        buf_puts(w->out, ",\"annotations\":[],\"logprobs\":[]}") < 0 || ev_close(w) < 0)
        return -1;
    return 0;
}

static int ev_summary_part(struct responses_writer *w, const char *type,
                           const struct collect_item *it, int done)
{
    if (ev_open(w, type) < 0 || put_item_ref(w, it) < 0 ||
        buf_puts(w->out, ",\"summary_index\":0,\"part\":{\"type\":\"summary_text\",\"text\":") < 0 ||
        json_append_string(w->out, done ? buf_cstr(&it->text) : "", done ? it->text.len : 0) < 0 ||
        buf_puts(w->out, "}") < 0 || ev_close(w) < 0)
        return -1;
    return 0;
}

/* The events that open an item of this kind (a call opens in tool_begin). */
static int item_opened(struct responses_writer *w, const struct collect_item *it)
{
    if (!w->m.stream)
        return 0;
    w->started = 1;
    if (ev_item(w, "response.output_item.added", it, 0) < 0)
        return -1;
    if (it->kind == COLLECT_TEXT)
        return ev_text_part(w, "response.content_part.added", it, 0);
    if (it->kind == COLLECT_REASONING)
        return ev_summary_part(w, "response.reasoning_summary_part.added", it, 0);
    return 0;
}

/* The events that close it: the full text again, then output_item.done with
 * the whole item (Codex reads items only from that event). */
static int item_closed(struct responses_writer *w, const struct collect_item *it)
{
    if (!w->m.stream || !it)
        return 0;
    switch (it->kind) {
    case COLLECT_TEXT:
        if (ev_open(w, "response.output_text.done") < 0 || put_item_ref(w, it) < 0 ||
            buf_puts(w->out, ",\"content_index\":0,\"text\":") < 0 ||
            json_append_string(w->out, buf_cstr(&it->text), it->text.len) < 0 ||
            buf_puts(w->out, ",\"logprobs\":[]") < 0 || ev_close(w) < 0 ||
            ev_text_part(w, "response.content_part.done", it, 1) < 0)
            return -1;
        break;
    case COLLECT_REASONING:
        if (ev_open(w, "response.reasoning_summary_text.done") < 0 || put_item_ref(w, it) < 0 ||
            buf_puts(w->out, ",\"summary_index\":0,\"text\":") < 0 ||
            json_append_string(w->out, buf_cstr(&it->text), it->text.len) < 0 ||
            ev_close(w) < 0 ||
            ev_summary_part(w, "response.reasoning_summary_part.done", it, 1) < 0)
            return -1;
        break;
    case COLLECT_TOOL:
        if (ev_open(w, "response.function_call_arguments.done") < 0 || put_item_ref(w, it) < 0 ||
            buf_puts(w->out, ",\"arguments\":") < 0 ||
            json_append_string(w->out, buf_cstr(&it->text), it->text.len) < 0 || ev_close(w) < 0)
            return -1;
        break;
    }
    return ev_item(w, "response.output_item.done", it, 1);
}

static int close_open_item(struct responses_writer *w)
{
    return item_closed(w, collect_close(&w->c));
}

static int put_delta(struct responses_writer *w, enum collect_kind kind, const char *s, size_t n)
{
    int opened;
    struct collect_item *last = collect_last(&w->c);

    if (n == 0)
        return ANSWER_GO;
    if (w->c.open && last && last->kind != kind && close_open_item(w) < 0)
        return ANSWER_FULL;
    struct collect_item *it = collect_item_for(&w->c, kind, &opened);
    if (!it || (opened && item_opened(w, it) < 0) || collect_append(&w->c, it, s, n) < 0)
        return ANSWER_FULL;
    if (!w->m.stream)
        return ANSWER_GO;
    const char *type = kind == COLLECT_TEXT ? "response.output_text.delta"
                                            : "response.reasoning_summary_text.delta";
    if (ev_open(w, type) < 0 || put_item_ref(w, it) < 0 ||
        buf_puts(w->out, kind == COLLECT_TEXT ? ",\"content_index\":0,\"delta\":"
                                              : ",\"summary_index\":0,\"delta\":") < 0 ||
        json_append_string(w->out, s, n) < 0 ||
        (kind == COLLECT_TEXT && buf_puts(w->out, ",\"logprobs\":[]") < 0) || ev_close(w) < 0)
        return ANSWER_FULL;
    return ANSWER_GO;
}

static const char *status_of(const struct responses_writer *w)
{
    if (w->failed)
        return "failed";
    if (!w->c.finished)
        return "in_progress";
    if (w->c.why == ANSWER_LENGTH || w->c.why == ANSWER_CONTENT_FILTER)
        return "incomplete";
    return "completed";
}

const char *responses_writer_status(const struct responses_writer *w)
{
    return status_of(w);
}

int responses_writer_started(const struct responses_writer *w)
{
    return w->started;
}

int responses_writer_object(struct responses_writer *w, struct buf *b)
{
    size_t start = b->len;
    const char *status = status_of(w);
    const struct answer_usage *u = &w->c.usage;
    int first = 1;

    if (buf_puts(b, "{\"id\":") < 0 || jstr(b, w->id) < 0 ||
        buf_printf(b, ",\"object\":\"response\",\"created_at\":%lld,\"status\":\"%s\"",
                   w->m.created, status) < 0 ||
        buf_puts(b, ",\"error\":") < 0)
        goto fail;
    if (w->failed) {
        if (buf_puts(b, "{\"code\":") < 0 || jstr(b, w->err_code[0] ? w->err_code : "server_error") < 0 ||
            buf_puts(b, ",\"message\":") < 0 || jstr(b, w->err_msg) < 0 || buf_putc(b, '}') < 0)
            goto fail;
    } else if (buf_puts(b, "null") < 0) {
        goto fail;
    }
    if (buf_puts(b, ",\"incomplete_details\":") < 0)
        goto fail;
    if (strcmp(status, "incomplete") == 0) {
        if (buf_printf(b, "{\"reason\":\"%s\"}",
                       w->c.why == ANSWER_LENGTH ? "max_output_tokens" : "content_filter") < 0)
            goto fail;
    } else if (buf_puts(b, "null") < 0) {
        goto fail;
    }
    if (buf_puts(b, ",\"instructions\":") < 0 ||
        buf_puts(b, w->instructions ? w->instructions : "null") < 0 ||
        buf_puts(b, ",\"model\":") < 0 || jstr(b, w->model) < 0 ||
        buf_puts(b, ",\"output\":[") < 0)
        goto fail;
    for (int i = 0; i < w->c.n; i++) {
        const struct collect_item *it = &w->c.items[i];
        int done = !(w->c.open && i == w->c.n - 1) || w->c.finished;
        if ((!first && buf_putc(b, ',') < 0) || item_json(w, it, done, b) < 0)
            goto fail;
        first = 0;
    }
    if (buf_puts(b, "],\"parallel_tool_calls\":true,\"previous_response_id\":") < 0 ||
        (w->prev[0] ? jstr(b, w->prev) : buf_puts(b, "null")) < 0 ||
        buf_puts(b, ",\"tool_choice\":\"auto\",\"tools\":[]") < 0)
        goto fail;
    if (w->c.has_usage || w->c.finished) {
        if (buf_printf(b,
                       ",\"usage\":{\"input_tokens\":%ld,\"input_tokens_details\":{\"cached_tokens\":0},"
                       "\"output_tokens\":%ld,\"output_tokens_details\":{\"reasoning_tokens\":%ld},"
                       "\"total_tokens\":%ld}",
                       u->prompt_tokens, u->completion_tokens, u->reasoning_tokens,
                       u->prompt_tokens + u->completion_tokens) < 0)
            goto fail;
    } else if (buf_puts(b, ",\"usage\":null") < 0) {
        goto fail;
    }
    if (buf_putc(b, '}') < 0)
        goto fail;
    return 0;
fail:
    buf_truncate(b, start);
    return -1;
}

/* response.completed / .incomplete / .failed with the whole response. */
static int write_final(struct responses_writer *w)
{
    if (w->final_written)
        return 0;
    w->final_written = 1;
    if (!w->m.stream)
        return 0;
    const char *status = status_of(w);
    char type[40];
    snprintf(type, sizeof type, "response.%s", status);
    if (ev_open(w, type) < 0 || buf_puts(w->out, ",\"response\":") < 0 ||
        responses_writer_object(w, w->out) < 0 || ev_close(w) < 0)
        return -1;
    return 0;
}

int responses_writer_flush(struct responses_writer *w)
{
    if (!w->c.finished && !w->failed)
        return 0;
    return write_final(w);
}

static int on_start(void *self)
{
    struct responses_writer *w = self;
    if (!w->m.stream)
        return ANSWER_GO;
    if (ev_open(w, "response.created") < 0 || buf_puts(w->out, ",\"response\":") < 0 ||
        responses_writer_object(w, w->out) < 0 || ev_close(w) < 0 ||
        ev_open(w, "response.in_progress") < 0 || buf_puts(w->out, ",\"response\":") < 0 ||
        responses_writer_object(w, w->out) < 0 || ev_close(w) < 0)
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
    struct responses_writer *w = self;

    if (close_open_item(w) < 0)
        return ANSWER_FULL;
    struct collect_item *it = collect_tool_begin(&w->c, index, id, name);
    if (!it)
        return ANSWER_FULL;
    return item_opened(w, it) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static int on_tool_args(void *self, int index, const char *s, size_t n)
{
    struct responses_writer *w = self;
    struct collect_item *it = collect_last(&w->c);

    (void)index;
    if (!it || !w->c.open || it->kind != COLLECT_TOOL || n == 0)
        return ANSWER_GO;
    if (collect_append(&w->c, it, s, n) < 0)
        return ANSWER_FULL;
    if (!w->m.stream)
        return ANSWER_GO;
    if (ev_open(w, "response.function_call_arguments.delta") < 0 || put_item_ref(w, it) < 0 ||
        buf_puts(w->out, ",\"delta\":") < 0 || json_append_string(w->out, s, n) < 0 ||
        ev_close(w) < 0)
        return ANSWER_FULL;
    return ANSWER_GO;
}

static int on_tool_end(void *self, int index)
{
    struct responses_writer *w = self;
    struct collect_item *it = collect_last(&w->c);

    (void)index;
    if (it && it->kind == COLLECT_TOOL && it->text.len == 0 &&
        collect_append(&w->c, it, "{}", 2) < 0)
        return ANSWER_FULL;
    return close_open_item(w) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static int on_finish(void *self, enum answer_finish why, const char *stop_seq)
{
    struct responses_writer *w = self;

    if (close_open_item(w) < 0)
        return ANSWER_FULL;
    w->c.finished = 1;
    w->c.why = why;
    snprintf(w->c.stop_seq, sizeof w->c.stop_seq, "%s", stop_seq ? stop_seq : "");
    return ANSWER_GO;
}

static int on_error(void *self, const struct answer_error *e)
{
    struct responses_writer *w = self;

    if (close_open_item(w) < 0)
        return ANSWER_FULL;
    w->failed = 1;
    snprintf(w->err_code, sizeof w->err_code, "%s", e->code ? e->code : "server_error");
    snprintf(w->err_msg, sizeof w->err_msg, "%s", e->message ? e->message : "");
    return write_final(w) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static int on_usage(void *self, const struct answer_usage *u)
{
    struct responses_writer *w = self;

    w->c.usage = *u;
    w->c.has_usage = 1;
    return write_final(w) < 0 ? ANSWER_FULL : ANSWER_GO;
}

static const struct sink_ops responses_ops = {
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

struct responses_writer *responses_writer_new(const struct responses_meta *m, struct buf *out)
{
    struct responses_writer *w = xcalloc(1, sizeof *w);

    w->m = *m;
    snprintf(w->id, sizeof w->id, "%s", m->id ? m->id : "resp_0");
    snprintf(w->model, sizeof w->model, "%s", m->model ? m->model : "");
    snprintf(w->prev, sizeof w->prev, "%s", m->previous_response_id ? m->previous_response_id : "");
    w->instructions = m->instructions_json ? xstrdup(m->instructions_json) : NULL;
    w->out = out;
    collect_init(&w->c, m->max_answer ? m->max_answer : (size_t)64 << 20);
    return w;
}

void responses_writer_free(struct responses_writer *w)
{
    if (!w)
        return;
    collect_cleanup(&w->c);
    free(w->instructions);
    free(w);
}

struct sink responses_writer_sink(struct responses_writer *w)
{
    return (struct sink){ &responses_ops, w };
}
