#include "stream/openai.h"

#include <stdlib.h>
#include <string.h>

#include "stream/collect.h"
#include "util/apierr.h"
#include "util/jstr.h"
#include "util/xalloc.h"

/* Every writer below appends several pieces; on failure the buffer goes back
 * to where the writer started, so a caller never sees half an event. */
static int openai_fail(struct buf *out, size_t start)
{
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return -1;
}

static int put_str_or_null(struct buf *out, const char *s)
{
    return s ? json_append_string(out, s, strlen(s)) : buf_puts(out, "null");
}


/* {"id":ID,"object":OBJECT,"created":N,"model":M, */
static int openai_head(struct buf *out, const struct openai_meta *m, const char *object)
{
    const char *id = m->id ? m->id : "";
    const char *model = m->model ? m->model : "";
    if (buf_puts(out, "{\"id\":") < 0 || json_append_string(out, id, strlen(id)) < 0 ||
        buf_puts(out, ",\"object\":\"") < 0 || buf_puts(out, object) < 0 ||
        buf_puts(out, "\",\"created\":") < 0 || buf_put_ll(out, m->created) < 0 ||
        buf_puts(out, ",\"model\":") < 0 || json_append_string(out, model, strlen(model)) < 0 ||
        buf_putc(out, ',') < 0)
        return -1;
    return 0;
}

static int openai_usage_obj(struct buf *out, const struct openai_usage *u)
{
    static const struct openai_usage zero;
    if (!u)
        u = &zero;
    return buf_printf(out,
                      "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
                      "\"total_tokens\":%ld,\"completion_tokens_details\":{\"reasoning_tokens\":%ld}}",
                      u->prompt_tokens, u->completion_tokens,
                      u->prompt_tokens + u->completion_tokens, u->reasoning_tokens);
}

/* data: {head "choices":[{"index":0,"delta":<delta>,"logprobs":null,
 * "finish_reason":<finish>}]}\n\n, the delta written by the caller between
 * chunk_open and chunk_close. */
static int chunk_open(struct buf *out, const struct openai_meta *m)
{
    if (buf_puts(out, "data: ") < 0 || openai_head(out, m, "chat.completion.chunk") < 0 ||
        buf_puts(out, "\"choices\":[{\"index\":0,\"delta\":") < 0)
        return -1;
    return 0;
}

static int chunk_close(struct buf *out, const struct openai_meta *m, const char *finish_reason)
{
    if (buf_puts(out, ",\"logprobs\":null,\"finish_reason\":") < 0 ||
        put_str_or_null(out, finish_reason) < 0 ||
        buf_puts(out, m->usage_null ? "}],\"usage\":null}\n\n" : "}]}\n\n") < 0)
        return -1;
    return 0;
}

int openai_sse_role(struct buf *out, const struct openai_meta *m)
{
    size_t start = out->len;
    if (chunk_open(out, m) < 0 ||
        buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}") < 0 ||
        chunk_close(out, m, NULL) < 0)
        return openai_fail(out, start);
    return 0;
}

/* A delta chunk. head: the chunk's opening as chunk_open writes it, made
 * once (the writer keeps it: the id, model and created of a stream do not
 * change from chunk to chunk), or NULL to write it here. */
static int delta_chunk(struct buf *out, const struct openai_meta *m, const struct buf *head,
                       const char *content, size_t content_len, const char *reasoning,
                       size_t reasoning_len)
{
    size_t start = out->len;
    int has_content = content && content_len > 0;
    int has_reasoning = reasoning && reasoning_len > 0;
    if ((head ? buf_append(out, head->data, head->len) : chunk_open(out, m)) < 0 ||
        buf_putc(out, '{') < 0)
        return openai_fail(out, start);
    /* Both empty breaks the contract; an empty content delta is still valid. */
    if (has_content || !has_reasoning) {
        if (buf_puts(out, "\"content\":") < 0 ||
            json_append_string(out, has_content ? content : "", has_content ? content_len : 0) < 0)
            return openai_fail(out, start);
    }
    if (has_reasoning) {
        if (buf_puts(out, has_content ? ",\"reasoning_content\":" : "\"reasoning_content\":") < 0 ||
            json_append_string(out, reasoning, reasoning_len) < 0)
            return openai_fail(out, start);
    }
    if (buf_putc(out, '}') < 0 || chunk_close(out, m, NULL) < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_delta(struct buf *out, const struct openai_meta *m, const char *content,
                     size_t content_len, const char *reasoning, size_t reasoning_len)
{
    return delta_chunk(out, m, NULL, content, content_len, reasoning, reasoning_len);
}

int openai_sse_finish(struct buf *out, const struct openai_meta *m, const char *finish_reason)
{
    size_t start = out->len;
    if (chunk_open(out, m) < 0 || buf_puts(out, "{}") < 0 ||
        chunk_close(out, m, finish_reason ? finish_reason : "stop") < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_usage(struct buf *out, const struct openai_meta *m, const struct openai_usage *u)
{
    size_t start = out->len;
    if (buf_puts(out, "data: ") < 0 || openai_head(out, m, "chat.completion.chunk") < 0 ||
        buf_puts(out, "\"choices\":[],") < 0 || openai_usage_obj(out, u) < 0 ||
        buf_puts(out, "}\n\n") < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_error(struct buf *out, const char *message, const char *type, const char *code)
{
    size_t start = out->len;
    if (buf_puts(out, "data: ") < 0 || openai_error_body(out, message, type, NULL, code) < 0 ||
        buf_puts(out, "\n\n") < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_done(struct buf *out)
{
    return buf_puts(out, "data: [DONE]\n\n");
}

/* The chat.completion object; calls (may be NULL) adds message.tool_calls,
 * and then a message without text has "content":null. */
static int completion(struct buf *out, const struct openai_meta *m, const char *content,
                      size_t content_len, const char *reasoning, size_t reasoning_len,
                      const struct collect *calls, const char *finish_reason,
                      const struct openai_usage *u)
{
    size_t start = out->len;
    int ncalls = calls ? calls->n : 0;
    if (openai_head(out, m, "chat.completion") < 0 ||
        buf_puts(out, "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":") < 0)
        return openai_fail(out, start);
    if ((ncalls && !content_len ? buf_puts(out, "null") < 0
                                : json_append_string(out, content ? content : "",
                                                     content ? content_len : 0) < 0) ||
        buf_puts(out, ",\"refusal\":null") < 0)
        return openai_fail(out, start);
    if (reasoning && reasoning_len > 0 &&
        (buf_puts(out, ",\"reasoning_content\":") < 0 ||
         json_append_string(out, reasoning, reasoning_len) < 0))
        return openai_fail(out, start);
    for (int i = 0; i < ncalls; i++) {
        const struct collect_item *it = &calls->items[i];
        if (buf_puts(out, i ? ",{\"id\":" : ",\"tool_calls\":[{\"id\":") < 0 ||
            json_append_string(out, it->id, strlen(it->id)) < 0 ||
            buf_puts(out, ",\"type\":\"function\",\"function\":{\"name\":") < 0 ||
            json_append_string(out, it->name, strlen(it->name)) < 0 ||
            buf_puts(out, ",\"arguments\":") < 0 ||
            json_append_string(out, buf_cstr(&it->text), it->text.len) < 0 ||
            buf_puts(out, i == ncalls - 1 ? "}}]" : "}}") < 0)
            return openai_fail(out, start);
    }
    if (buf_puts(out, "},\"logprobs\":null,\"finish_reason\":") < 0 ||
        json_append_string(out, finish_reason ? finish_reason : "stop",
                           strlen(finish_reason ? finish_reason : "stop")) < 0 ||
        buf_puts(out, "}],") < 0 || openai_usage_obj(out, u) < 0 || buf_putc(out, '}') < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_completion(struct buf *out, const struct openai_meta *m, const char *content,
                      size_t content_len, const char *reasoning, size_t reasoning_len,
                      const char *finish_reason, const struct openai_usage *u)
{
    return completion(out, m, content, content_len, reasoning, reasoning_len, NULL,
                      finish_reason, u);
}

int openai_error_body(struct buf *out, const char *message, const char *type,
                      const char *param, const char *code)
{
    size_t start = out->len;
    if (buf_puts(out, "{\"error\":{\"message\":") < 0 ||
        put_str_or_null(out, message ? message : "") < 0 ||
        buf_puts(out, ",\"type\":") < 0 || put_str_or_null(out, type) < 0 ||
        buf_puts(out, ",\"param\":") < 0 || put_str_or_null(out, param) < 0 ||
        buf_puts(out, ",\"code\":") < 0 || put_str_or_null(out, code) < 0 ||
        buf_puts(out, "}}") < 0)
        return openai_fail(out, start);
    return 0;
}

/* ---- the Chat Completions writer ---- */

struct openai_writer {
    struct openai_writer_opts o;
    char *model, *id;
    struct buf *out;
    int started;            /* stream: the role chunk went out */
    int finished;           /* finish() came */
    int ended;              /* [DONE] or the object was written */
    enum answer_finish why;
    struct buf head;        /* streamed: a delta chunk's opening (chunk_open), while head_ok */
    int head_ok;
    struct buf content;     /* collected */
    struct buf reasoning;
    struct collect calls;
};

static const char *const finish_names[] = {
    [ANSWER_STOP] = "stop",
    [ANSWER_LENGTH] = "length",
    [ANSWER_TOOL_CALLS] = "tool_calls",
    [ANSWER_CONTENT_FILTER] = "content_filter",
};

static struct openai_meta writer_meta(const struct openai_writer *w)
{
    struct openai_meta m = { w->id, w->model, w->o.created, w->o.include_usage };
    return m;
}

static int go(int rc)
{
    return rc < 0 ? ANSWER_FULL : ANSWER_GO;
}

static int w_start(void *self)
{
    struct openai_writer *w = self;
    if (!w->o.stream || w->started)
        return ANSWER_GO;
    w->started = 1;
    struct openai_meta m = writer_meta(w);
    return go(openai_sse_role(w->out, &m));
}

static int w_delta(struct openai_writer *w, struct buf *keep, const char *c, size_t cn,
                   const char *r, size_t rn)
{
    if (!w->o.stream) {
        /* Both caps are far above what the renderer lets through. */
        return go(buf_append(keep, cn ? c : r, cn ? cn : rn));
    }
    if (w_start(w) != ANSWER_GO)
        return ANSWER_FULL;
    struct openai_meta m = writer_meta(w);
    if (!w->head_ok) {
        buf_reset(&w->head);
        if (chunk_open(&w->head, &m) < 0)
            return ANSWER_FULL;
        w->head_ok = 1;
    }
    return go(delta_chunk(w->out, &m, &w->head, c, cn, r, rn));
}

static int w_text(void *self, const char *s, size_t n)
{
    struct openai_writer *w = self;
    return n ? w_delta(w, &w->content, s, n, NULL, 0) : ANSWER_GO;
}

static int w_reasoning(void *self, const char *s, size_t n)
{
    struct openai_writer *w = self;
    return n ? w_delta(w, &w->reasoning, NULL, 0, s, n) : ANSWER_GO;
}

static int w_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct openai_writer *w = self;
    if (!w->o.stream)
        return collect_tool_begin(&w->calls, index, id, name) ? ANSWER_GO : ANSWER_FULL;
    if (w_start(w) != ANSWER_GO)
        return ANSWER_FULL;
    struct openai_meta m = writer_meta(w);
    size_t start = w->out->len;
    if (chunk_open(w->out, &m) < 0 || buf_puts(w->out, "{\"tool_calls\":[{\"index\":") < 0 ||
        buf_put_ll(w->out, index) < 0 || buf_puts(w->out, ",\"id\":") < 0 ||
        json_append_string(w->out, id, strlen(id)) < 0 ||
        buf_puts(w->out, ",\"type\":\"function\",\"function\":{\"name\":") < 0 ||
        json_append_string(w->out, name, strlen(name)) < 0 ||
        buf_puts(w->out, ",\"arguments\":\"\"}}]}") < 0 || chunk_close(w->out, &m, NULL) < 0)
        return go(openai_fail(w->out, start));
    return ANSWER_GO;
}

static int w_tool_args(void *self, int index, const char *s, size_t n)
{
    struct openai_writer *w = self;
    if (!n)
        return ANSWER_GO;
    if (!w->o.stream) {
        struct collect_item *it = collect_last(&w->calls);
        if (!it || it->kind != COLLECT_TOOL || it->index != index)
            return ANSWER_GO; /* no call of that index is open: a stage's bug */
        return go(collect_append(&w->calls, it, s, n));
    }
    struct openai_meta m = writer_meta(w);
    size_t start = w->out->len;
    if (chunk_open(w->out, &m) < 0 || buf_puts(w->out, "{\"tool_calls\":[{\"index\":") < 0 ||
        buf_put_ll(w->out, index) < 0 || buf_puts(w->out, ",\"function\":{\"arguments\":") < 0 ||
        json_append_string(w->out, s, n) < 0 || buf_puts(w->out, "}}]}") < 0 ||
        chunk_close(w->out, &m, NULL) < 0)
        return go(openai_fail(w->out, start));
    return ANSWER_GO;
}

static int w_tool_end(void *self, int index)
{
    struct openai_writer *w = self;
    (void)index;
    if (!w->o.stream)
        (void)collect_close(&w->calls);
    return ANSWER_GO;
}

static int w_finish(void *self, enum answer_finish why, const char *stop_seq)
{
    struct openai_writer *w = self;
    (void)stop_seq;
    if (w->finished || w->ended)
        return ANSWER_GO;
    w->finished = 1;
    w->why = why;
    if (!w->o.stream)
        return ANSWER_GO;
    if (w_start(w) != ANSWER_GO)
        return ANSWER_FULL;
    struct openai_meta m = writer_meta(w);
    return go(openai_sse_finish(w->out, &m, finish_names[why]));
}

static int w_usage(void *self, const struct answer_usage *u)
{
    struct openai_writer *w = self;
    struct openai_usage ou = { u->prompt_tokens, u->completion_tokens, u->reasoning_tokens };
    struct openai_meta m = writer_meta(w);
    if (!w->finished || w->ended)
        return ANSWER_GO;
    w->ended = 1;
    if (!w->o.stream)
        return go(completion(w->out, &m, buf_cstr(&w->content), w->content.len,
                             w->reasoning.data, w->reasoning.len, &w->calls,
                             finish_names[w->why], &ou));
    if (w->o.include_usage && openai_sse_usage(w->out, &m, &ou) < 0)
        return ANSWER_FULL;
    return go(openai_sse_done(w->out));
}

static int w_error(void *self, const struct answer_error *e)
{
    struct openai_writer *w = self;
    if (w->ended)
        return ANSWER_GO;
    w->ended = 1;
    if (!w->o.stream)
        return ANSWER_GO; /* the caller answers with an HTTP error */
    const char *type = e->type ? e->type : api_error_type_for(e->status);
    size_t start = w->out->len;
    if (openai_sse_error(w->out, e->message, type, e->code) < 0 || openai_sse_done(w->out) < 0)
        return go(openai_fail(w->out, start));
    return ANSWER_GO;
}

static const struct sink_ops openai_writer_ops = {
    .start = w_start,
    .text = w_text,
    .reasoning = w_reasoning,
    .tool_begin = w_tool_begin,
    .tool_args = w_tool_args,
    .tool_end = w_tool_end,
    .finish = w_finish,
    .error = w_error,
    .usage = w_usage,
};

struct openai_writer *openai_writer_new(const struct openai_writer_opts *o, struct buf *out)
{
    struct openai_writer *w = xcalloc(1, sizeof(*w));
    w->o = *o;
    w->model = xstrdup(o->model ? o->model : "");
    w->id = xstrdup("");
    w->out = out;
    buf_init(&w->head, 65536);
    buf_init(&w->content, o->max_answer + 65536);
    buf_init(&w->reasoning, o->max_answer + 65536);
    collect_init(&w->calls, o->max_answer + 65536);
    return w;
}

void openai_writer_free(struct openai_writer *w)
{
    if (!w)
        return;
    free(w->model);
    free(w->id);
    buf_cleanup(&w->head);
    buf_cleanup(&w->content);
    buf_cleanup(&w->reasoning);
    collect_cleanup(&w->calls);
    free(w);
}

struct sink openai_writer_sink(struct openai_writer *w)
{
    struct sink s = { &openai_writer_ops, w };
    return s;
}

void openai_writer_set_id(struct openai_writer *w, const char *id)
{
    free(w->id);
    w->id = xstrdup(id ? id : "");
    w->head_ok = 0;
}

int openai_writer_started(const struct openai_writer *w)
{
    return w->started;
}

int openai_writer_flush(struct openai_writer *w)
{
    static const struct answer_usage zero;
    return w_usage(w, &zero) == ANSWER_FULL ? -1 : 0;
}

/* CJK ideographs, kana, hangul, CJK punctuation and fullwidth forms: about
 * one token each in the GPT and GLM vocabularies. */
static int is_cjk(long cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) ||   /* Hangul Jamo */
           (cp >= 0x2E80 && cp <= 0x9FFF) ||   /* radicals, CJK punctuation, kana, ideographs */
           (cp >= 0xA000 && cp <= 0xA4CF) ||   /* Yi */
           (cp >= 0xAC00 && cp <= 0xD7AF) ||   /* Hangul syllables */
           (cp >= 0xF900 && cp <= 0xFAFF) ||   /* compatibility ideographs */
           (cp >= 0xFE30 && cp <= 0xFE4F) ||   /* CJK compatibility forms */
           (cp >= 0xFF00 && cp <= 0xFFEF) ||   /* fullwidth and halfwidth forms */
           (cp >= 0x20000 && cp <= 0x3FFFF);   /* ideograph extensions */
}

static int is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

long usage_estimate(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    long tokens = 0, halves = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (is_ascii_alnum(c)) {
            size_t run = 0;
            while (i < n && is_ascii_alnum(p[i])) {
                run++;
                i++;
            }
            tokens += (long)((run + 3) / 4);
        } else if (c < 0x80) {
            if (!(c == ' ' || (c >= '\t' && c <= '\r')))
                tokens++;
            i++;
        } else {
            size_t len;
            long cp = jstr_utf8_decode(s + i, n - i, &len);
            /* Refinement: characters outside the BMP that are not CJK (emoji,
             * mostly) are a whole token or more, never half. */
            if (is_cjk(cp) || cp >= 0x10000)
                tokens++;
            else
                halves++;
            i += len;
        }
    }
    return tokens + (halves + 1) / 2;
}
