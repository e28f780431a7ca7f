/* stream/pipeline with the Chat Completions writer (stream/openai.c): every
 * fixture, streamed and collected, whole and byte by byte, gives exactly the
 * bytes that api/chat.c's hand-written chain gave (kept below as the
 * reference); errors, halting stages and the conversation id; the writer's
 * tool-call events in OpenAI's shape, parsed with jansson. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/openai.h"
#include "stream/pipeline.h"
#include "stream/sse.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_ANSWER (1u << 20)

static const char *const fixtures[] = {
    "chat-plain.sse", "chat-multipart-search.sse", "chat-think.sse", "chat-drawing.sse",
    "chat-code-interpreter.sse", "chat-intervene.sse", "chat-file.sse",
    "chat-image-vision.sse", "chat-stream-error.sse", "chat-plain-v2-delta.sse",
};

struct mode {
    int stream, include_usage;
    enum render_think think;
    enum render_search search;
};

/* ---- the reference: the chain as api/chat.c wrote it out before the pipeline ---- */

struct ref {
    const struct mode *m;
    struct render *r;
    struct buf out, content, reasoning;
    int started, terminal;
    long completion, reasoning_tokens, prompt;
};

static struct openai_meta ref_meta(struct ref *x)
{
    struct openai_meta m = { render_conversation_id(x->r), "glm-4", 1714000000,
                             x->m->include_usage };
    return m;
}

static void ref_start(struct ref *x)
{
    if (x->started)
        return;
    x->started = 1;
    struct openai_meta m = ref_meta(x);
    CHECK_INT(openai_sse_role(&x->out, &m), 0);
}

static void ref_relay(struct ref *x)
{
    const char *c, *r;
    size_t cl, rl;
    render_take(x->r, &c, &cl, &r, &rl);
    if (!cl && !rl)
        return;
    if (cl)
        x->completion += usage_estimate(c, cl);
    if (rl)
        x->reasoning_tokens += usage_estimate(r, rl);
    if (x->m->stream) {
        ref_start(x);
        struct openai_meta m = ref_meta(x);
        CHECK_INT(openai_sse_delta(&x->out, &m, c, cl, r, rl), 0);
    } else {
        CHECK(buf_append(&x->content, c, cl) == 0 && buf_append(&x->reasoning, r, rl) == 0);
    }
}

static void ref_finish(struct ref *x)
{
    enum render_state st = render_get_state(x->r);
    if (st != RENDER_DONE && st != RENDER_FILTERED)
        return; /* an error: chat.c words it itself */
    struct openai_meta m = ref_meta(x);
    struct openai_usage u = { x->prompt, x->completion + x->reasoning_tokens,
                              x->reasoning_tokens };
    const char *reason = render_finish_reason(x->r);
    if (x->m->stream) {
        ref_start(x);
        CHECK_INT(openai_sse_finish(&x->out, &m, reason), 0);
        if (x->m->include_usage)
            CHECK_INT(openai_sse_usage(&x->out, &m, &u), 0);
        CHECK_INT(openai_sse_done(&x->out), 0);
    } else {
        CHECK_INT(openai_completion(&x->out, &m, buf_cstr(&x->content), x->content.len,
                                    x->reasoning.data, x->reasoning.len, reason, &u),
                  0);
    }
}

static int ref_event(void *arg, const char *event, const char *data, size_t len)
{
    struct ref *x = arg;
    if (x->terminal || (event[0] && strcmp(event, "message") != 0))
        return 0;
    if (render_frame(x->r, data, len) != 0)
        return 0;
    if (x->m->stream && !x->started && render_conversation_id(x->r)[0])
        ref_start(x);
    ref_relay(x);
    if (render_get_state(x->r) != RENDER_RUNNING) {
        x->terminal = 1;
        ref_finish(x);
    }
    return 0;
}

static struct render_opts render_opts_of(const struct mode *m)
{
    struct render_opts o = { m->think, m->search, RENDER_PROFILE_AUTO, MAX_ANSWER, 0 };
    return o;
}

static void run_reference(const struct mode *m, const char *s, size_t n, struct buf *out)
{
    struct ref x;
    memset(&x, 0, sizeof(x));
    x.m = m;
    x.prompt = 7;
    struct render_opts ro = render_opts_of(m);
    x.r = render_new(&ro);
    buf_init(&x.out, 4 * MAX_ANSWER);
    buf_init(&x.content, 2 * MAX_ANSWER);
    buf_init(&x.reasoning, 2 * MAX_ANSWER);
    struct sse_parser *sp = sse_parser_new(1u << 20);
    CHECK_INT(sse_feed(sp, s, n, ref_event, &x), 0);
    (void)sse_finish(sp, ref_event, &x);
    if (!x.terminal) {
        render_end(x.r);
        ref_relay(&x);
        ref_finish(&x);
    }
    CHECK(buf_append(out, x.out.data, x.out.len) == 0);
    sse_parser_free(sp);
    render_free(x.r);
    buf_cleanup(&x.out);
    buf_cleanup(&x.content);
    buf_cleanup(&x.reasoning);
}

/* ---- the pipeline ---- */

static void set_id(void *arg, const char *id)
{
    openai_writer_set_id(arg, id);
}

/* Through the pipeline, in pieces of `step` bytes (0: whole); what the
 * writer wrote is moved to out after every feed, as the server does. */
static enum pipeline_status run_pipeline(const struct mode *m, const char *s, size_t n,
                                         size_t step, struct buf *out)
{
    struct buf wout;
    buf_init(&wout, 4 * MAX_ANSWER);
    struct openai_writer_opts wo = { "glm-4", 1714000000, m->stream, m->include_usage,
                                     MAX_ANSWER };
    struct openai_writer *w = openai_writer_new(&wo, &wout);
    struct pipeline_opts po = { render_opts_of(m), 1u << 20, m->stream, 7, set_id, w };
    struct pipeline *p = pipeline_new(&po, openai_writer_sink(w));
    if (!step)
        step = n;
    for (size_t off = 0; off < n; off += step) {
        CHECK_INT(pipeline_feed(p, s + off, n - off < step ? n - off : step), 0);
        CHECK(buf_append(out, wout.data, wout.len) == 0);
        buf_reset(&wout);
    }
    pipeline_end(p);
    CHECK(buf_append(out, wout.data, wout.len) == 0);
    enum pipeline_status st = pipeline_status(p);
    pipeline_free(p);
    openai_writer_free(w);
    buf_cleanup(&wout);
    return st;
}

TEST(every_fixture_gives_the_bytes_of_the_old_chain_streamed_and_collected)
{
    static const struct mode modes[] = {
        { 1, 0, RENDER_THINK_REASONING, RENDER_SEARCH_INLINE },
        { 1, 1, RENDER_THINK_INLINE, RENDER_SEARCH_INLINE },
        { 1, 1, RENDER_THINK_HIDDEN, RENDER_SEARCH_HIDDEN },
        { 0, 0, RENDER_THINK_REASONING, RENDER_SEARCH_FOOTER },
        { 0, 0, RENDER_THINK_INLINE, RENDER_SEARCH_FOOTER },
    };
    for (size_t i = 0; i < N(fixtures); i++) {
        char path[256];
        size_t n;
        snprintf(path, sizeof(path), "tests/fixtures/%s", fixtures[i]);
        char *s = test_read_file(path, &n);
        CHECK(s != NULL);
        if (!s)
            continue;
        for (size_t k = 0; k < N(modes); k++) {
            struct buf want, got, bytewise;
            buf_init(&want, 4 * MAX_ANSWER);
            buf_init(&got, 4 * MAX_ANSWER);
            buf_init(&bytewise, 4 * MAX_ANSWER);
            run_reference(&modes[k], s, n, &want);
            enum pipeline_status st = run_pipeline(&modes[k], s, n, 0, &got);
            (void)run_pipeline(&modes[k], s, n, 1, &bytewise);
            int failed = test_failed_checks;
            CHECK(want.len > 0 || st == PIPELINE_FAILED);
            CHECK_STR(buf_cstr(&got), buf_cstr(&want));
            CHECK_STR(buf_cstr(&bytewise), buf_cstr(&want));
            CHECK_INT(st, strcmp(fixtures[i], "chat-stream-error.sse") == 0 ? PIPELINE_FAILED
                                                                            : PIPELINE_DONE);
            if (test_failed_checks != failed)
                printf("# in %s, mode %zu\n", fixtures[i], k);
            buf_cleanup(&want);
            buf_cleanup(&got);
            buf_cleanup(&bytewise);
        }
        free(s);
    }
}

/* ---- errors, truncation, halting stages ---- */

static const char FRAME_CONV[] =
    "data: {\"conversation_id\":\"c1\",\"status\":\"init\",\"parts\":[]}\n\n";
static const char FRAME_TEXT[] =
    "data: {\"conversation_id\":\"c1\",\"status\":\"init\",\"parts\":[{\"logic_id\":\"a\","
    "\"status\":\"init\",\"content\":[{\"type\":\"text\",\"text\":\"Hello world\"}]}]}\n\n";

struct fixture_run {
    struct buf out;
    struct openai_writer *w;
    struct pipeline *p;
};

static void fr_open(struct fixture_run *f, int stream, struct sink *front)
{
    buf_init(&f->out, 1 << 20);
    struct openai_writer_opts wo = { "glm-4", 1714000000, stream, 1, MAX_ANSWER };
    f->w = openai_writer_new(&wo, &f->out);
    struct pipeline_opts po = {
        { RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, RENDER_PROFILE_AUTO, MAX_ANSWER, 0 },
        1u << 20, stream, 3, set_id, f->w,
    };
    f->p = pipeline_new(&po, front ? *front : openai_writer_sink(f->w));
}

static void fr_close(struct fixture_run *f)
{
    pipeline_free(f->p);
    openai_writer_free(f->w);
    buf_cleanup(&f->out);
}

TEST(a_streamed_answer_starts_at_the_conversation_id_and_a_cut_one_fails_with_an_event)
{
    struct fixture_run f;
    fr_open(&f, 1, NULL);
    CHECK_INT(pipeline_feed(f.p, FRAME_CONV, strlen(FRAME_CONV)), 0);
    CHECK(openai_writer_started(f.w));
    CHECK(strstr(buf_cstr(&f.out), "\"id\":\"c1\"") != NULL);
    CHECK(strstr(buf_cstr(&f.out), "\"role\":\"assistant\"") != NULL);
    CHECK(!pipeline_has_text(f.p));
    CHECK_INT(pipeline_frames(f.p), 1);
    CHECK_INT(pipeline_feed(f.p, FRAME_TEXT, strlen(FRAME_TEXT)), 0);
    CHECK(pipeline_has_text(f.p));
    CHECK(strstr(buf_cstr(&f.out), "\"content\":\"Hello world\"") != NULL);
    pipeline_end(f.p);
    CHECK_INT(pipeline_status(f.p), PIPELINE_FAILED);
    CHECK_INT(pipeline_render_state(f.p), RENDER_TRUNCATED);
    buf_reset(&f.out);
    struct answer_error e = { 502, NULL, "upstream_truncated", "cut" };
    CHECK_INT(pipeline_fail(f.p, &e), 0);
    CHECK_STR(buf_cstr(&f.out), "data: {\"error\":{\"message\":\"cut\",\"type\":\"upstream_error\","
                                "\"param\":null,\"code\":\"upstream_truncated\"}}\n\n"
                                "data: [DONE]\n\n");
    /* Once only. */
    CHECK_INT(pipeline_fail(f.p, &e), 0);
    CHECK_INT(f.out.len, strlen(buf_cstr(&f.out)));
    struct answer_usage u = pipeline_usage(f.p);
    CHECK_INT(u.prompt_tokens, 3);
    CHECK_INT(u.completion_tokens, 4); /* Hello(2) world(2) */
    CHECK_INT(u.reasoning_tokens, 0);
    fr_close(&f);
}

TEST(a_collected_answer_writes_nothing_until_it_is_complete)
{
    struct fixture_run f;
    fr_open(&f, 0, NULL);
    CHECK_INT(pipeline_feed(f.p, FRAME_TEXT, strlen(FRAME_TEXT)), 0);
    CHECK_INT(f.out.len, 0);
    CHECK(!openai_writer_started(f.w));
    const char *fin = "data: {\"conversation_id\":\"c1\",\"status\":\"finish\",\"parts\":[]}\n\n";
    CHECK_INT(pipeline_feed(f.p, fin, strlen(fin)), 0);
    CHECK_INT(pipeline_status(f.p), PIPELINE_DONE);
    json_t *o = json_loadb(f.out.data, f.out.len, 0, NULL);
    json_t *msg = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message");
    CHECK_STR(json_string_value(json_object_get(o, "id")), "c1");
    CHECK_STR(json_string_value(json_object_get(msg, "content")), "Hello world");
    CHECK(json_object_get(msg, "tool_calls") == NULL);
    json_decref(o);
    /* More bytes after the end are drained. */
    size_t len = f.out.len;
    CHECK_INT(pipeline_feed(f.p, FRAME_TEXT, strlen(FRAME_TEXT)), 0);
    CHECK_INT(f.out.len, len);
    fr_close(&f);
}

TEST(an_event_over_the_cap_breaks_the_pipeline)
{
    struct buf out;
    buf_init(&out, 1 << 16);
    struct openai_writer_opts wo = { "m", 1, 1, 0, MAX_ANSWER };
    struct openai_writer *w = openai_writer_new(&wo, &out);
    struct pipeline_opts po = {
        { RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, RENDER_PROFILE_AUTO, MAX_ANSWER, 0 },
        64, 1, 0, NULL, NULL,
    };
    struct pipeline *p = pipeline_new(&po, openai_writer_sink(w));
    CHECK_INT(pipeline_feed(p, FRAME_TEXT, strlen(FRAME_TEXT)), SSE_TOO_LONG);
    CHECK_INT(pipeline_feed(p, "\n\n", 2), SSE_TOO_LONG);
    pipeline_end(p);
    CHECK_INT(pipeline_status(p), PIPELINE_FAILED);
    pipeline_free(p);
    openai_writer_free(w);
    buf_cleanup(&out);
}

/* A stage that lets 5 bytes of text through, then finishes with "length"
 * and halts, as the length cutter does. */
struct halter {
    struct sink next;
    size_t left;
    int halted, usages;
};

static int h_start(void *self)
{
    struct halter *h = self;
    return h->next.ops->start(h->next.self);
}

static int h_text(void *self, const char *s, size_t n)
{
    struct halter *h = self;
    if (h->halted)
        return ANSWER_HALT;
    size_t k = n < h->left ? n : h->left;
    h->left -= k;
    int rc = k ? h->next.ops->text(h->next.self, s, k) : ANSWER_GO;
    if (rc != ANSWER_GO || h->left)
        return rc;
    h->halted = 1;
    rc = h->next.ops->finish(h->next.self, ANSWER_LENGTH, NULL);
    return rc == ANSWER_GO ? ANSWER_HALT : rc;
}

static int h_reasoning(void *self, const char *s, size_t n)
{
    struct halter *h = self;
    return h->next.ops->reasoning(h->next.self, s, n);
}

static int h_finish(void *self, enum answer_finish why, const char *stop)
{
    struct halter *h = self;
    return h->halted ? ANSWER_HALT : h->next.ops->finish(h->next.self, why, stop);
}

static int h_usage(void *self, const struct answer_usage *u)
{
    struct halter *h = self;
    h->usages++;
    return h->next.ops->usage(h->next.self, u);
}

static int h_error(void *self, const struct answer_error *e)
{
    struct halter *h = self;
    return h->next.ops->error(h->next.self, e);
}

static const struct sink_ops halter_ops = {
    .start = h_start, .text = h_text, .reasoning = h_reasoning,
    .finish = h_finish, .usage = h_usage, .error = h_error,
};

TEST(a_stage_that_halts_ends_the_answer_with_its_finish_and_the_usage)
{
    struct fixture_run f;
    struct halter h = { { NULL, NULL }, 5, 0, 0 };
    struct sink front = { &halter_ops, &h };
    buf_init(&f.out, 1 << 20);
    struct openai_writer_opts wo = { "glm-4", 1714000000, 1, 1, MAX_ANSWER };
    f.w = openai_writer_new(&wo, &f.out);
    h.next = openai_writer_sink(f.w);
    struct pipeline_opts po = {
        { RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, RENDER_PROFILE_AUTO, MAX_ANSWER, 0 },
        1u << 20, 1, 3, set_id, f.w,
    };
    f.p = pipeline_new(&po, front);
    CHECK_INT(pipeline_feed(f.p, FRAME_TEXT, strlen(FRAME_TEXT)), 0);
    CHECK_INT(pipeline_status(f.p), PIPELINE_DONE);
    CHECK_INT(h.usages, 1);
    const char *s = buf_cstr(&f.out);
    CHECK(strstr(s, "\"content\":\"Hello\"") != NULL);
    CHECK(strstr(s, "\"finish_reason\":\"length\"") != NULL);
    CHECK(strstr(s, "\"usage\":{") != NULL);
    CHECK(strcmp(s + strlen(s) - 14, "data: [DONE]\n\n") == 0);
    size_t len = f.out.len;
    pipeline_end(f.p);
    CHECK_INT(f.out.len, len);
    CHECK_INT(h.usages, 1);
    fr_close(&f);
}

/* ---- the writer's tool calls ---- */

/* The JSON of each "data: {...}" event of a stream; returns how many
 * ([DONE] is counted in *done). */
static int parse_chunks(const struct buf *b, json_t **v, int max, int *done)
{
    const char *p = buf_cstr(b);
    int n = 0;
    *done = 0;
    while (*p) {
        const char *end = strstr(p, "\n\n");
        if (strncmp(p, "data: ", 6) != 0 || !end)
            return -1;
        if (strncmp(p + 6, "[DONE]", 6) == 0)
            (*done)++;
        else if (n < max && !(v[n++] = json_loadb(p + 6, (size_t)(end - p - 6), 0, NULL)))
            return -1;
        p = end + 2;
    }
    return n;
}

static json_t *delta_of(json_t *chunk)
{
    return json_object_get(json_array_get(json_object_get(chunk, "choices"), 0), "delta");
}

static void feed_calls(struct sink s, int text)
{
    CHECK_INT(s.ops->start(s.self), ANSWER_GO);
    if (text)
        CHECK_INT(s.ops->text(s.self, "Let me look.", 12), ANSWER_GO);
    CHECK_INT(s.ops->tool_begin(s.self, 0, "call_abc", "get_weather"), ANSWER_GO);
    CHECK_INT(s.ops->tool_args(s.self, 0, "{\"city\":", 8), ANSWER_GO);
    CHECK_INT(s.ops->tool_args(s.self, 0, "\"Paris\"}", 8), ANSWER_GO);
    CHECK_INT(s.ops->tool_end(s.self, 0), ANSWER_GO);
    CHECK_INT(s.ops->tool_begin(s.self, 1, "call_def", "now"), ANSWER_GO);
    CHECK_INT(s.ops->tool_args(s.self, 1, "{}", 2), ANSWER_GO);
    CHECK_INT(s.ops->tool_end(s.self, 1), ANSWER_GO);
    CHECK_INT(s.ops->finish(s.self, ANSWER_TOOL_CALLS, NULL), ANSWER_GO);
    struct answer_usage u = { 10, 6, 0 };
    CHECK_INT(s.ops->usage(s.self, &u), ANSWER_GO);
}

TEST(streamed_tool_calls_have_openai_s_delta_shape)
{
    struct buf out;
    buf_init(&out, 1 << 16);
    struct openai_writer_opts wo = { "glm-4", 1714000000, 1, 0, MAX_ANSWER };
    struct openai_writer *w = openai_writer_new(&wo, &out);
    openai_writer_set_id(w, "c9");
    feed_calls(openai_writer_sink(w), 1);
    json_t *v[16];
    int done = 0, n = parse_chunks(&out, v, 16, &done);
    CHECK_INT(n, 8);
    CHECK_INT(done, 1);
    if (n == 8) {
        CHECK_STR(json_string_value(json_object_get(delta_of(v[0]), "role")), "assistant");
        CHECK_STR(json_string_value(json_object_get(delta_of(v[1]), "content")), "Let me look.");
        /* The first delta of a call: index, id, type, the whole name, arguments "". */
        json_t *tc = json_array_get(json_object_get(delta_of(v[2]), "tool_calls"), 0);
        CHECK_INT(json_integer_value(json_object_get(tc, "index")), 0);
        CHECK_STR(json_string_value(json_object_get(tc, "id")), "call_abc");
        CHECK_STR(json_string_value(json_object_get(tc, "type")), "function");
        json_t *fn = json_object_get(tc, "function");
        CHECK_STR(json_string_value(json_object_get(fn, "name")), "get_weather");
        CHECK_STR(json_string_value(json_object_get(fn, "arguments")), "");
        /* Later deltas: only index and a piece of arguments. */
        tc = json_array_get(json_object_get(delta_of(v[3]), "tool_calls"), 0);
        CHECK_INT(json_object_size(tc), 2);
        CHECK_INT(json_integer_value(json_object_get(tc, "index")), 0);
        CHECK_INT(json_object_size(json_object_get(tc, "function")), 1);
        CHECK_STR(json_string_value(json_object_get(json_object_get(tc, "function"), "arguments")),
                  "{\"city\":");
        tc = json_array_get(json_object_get(delta_of(v[5]), "tool_calls"), 0);
        CHECK_INT(json_integer_value(json_object_get(tc, "index")), 1);
        CHECK_STR(json_string_value(json_object_get(tc, "id")), "call_def");
        json_t *c7 = json_array_get(json_object_get(v[7], "choices"), 0);
        CHECK_STR(json_string_value(json_object_get(c7, "finish_reason")), "tool_calls");
        for (int i = 0; i < n; i++) {
            CHECK_STR(json_string_value(json_object_get(v[i], "id")), "c9");
            CHECK_STR(json_string_value(json_object_get(v[i], "object")), "chat.completion.chunk");
        }
    }
    for (int i = 0; i < n; i++)
        json_decref(v[i]);
    openai_writer_free(w);
    buf_cleanup(&out);
}

TEST(collected_tool_calls_are_message_tool_calls_with_null_content_without_text)
{
    for (int text = 0; text <= 1; text++) {
        struct buf out;
        buf_init(&out, 1 << 16);
        struct openai_writer_opts wo = { "glm-4", 1714000000, 0, 0, MAX_ANSWER };
        struct openai_writer *w = openai_writer_new(&wo, &out);
        feed_calls(openai_writer_sink(w), text);
        json_t *o = json_loadb(out.data, out.len, 0, NULL);
        CHECK(o != NULL);
        json_t *c0 = json_array_get(json_object_get(o, "choices"), 0);
        json_t *msg = json_object_get(c0, "message");
        CHECK_STR(json_string_value(json_object_get(o, "object")), "chat.completion");
        CHECK_STR(json_string_value(json_object_get(c0, "finish_reason")), "tool_calls");
        if (text)
            CHECK_STR(json_string_value(json_object_get(msg, "content")), "Let me look.");
        else
            CHECK(json_is_null(json_object_get(msg, "content")));
        json_t *calls = json_object_get(msg, "tool_calls");
        CHECK_INT(json_array_size(calls), 2);
        json_t *t0 = json_array_get(calls, 0), *t1 = json_array_get(calls, 1);
        CHECK_STR(json_string_value(json_object_get(t0, "id")), "call_abc");
        CHECK_STR(json_string_value(json_object_get(t0, "type")), "function");
        CHECK_STR(json_string_value(json_object_get(json_object_get(t0, "function"), "name")),
                  "get_weather");
        CHECK_STR(json_string_value(json_object_get(json_object_get(t0, "function"), "arguments")),
                  "{\"city\":\"Paris\"}");
        CHECK_STR(json_string_value(json_object_get(json_object_get(t1, "function"), "arguments")),
                  "{}");
        CHECK_INT(json_integer_value(json_object_get(json_object_get(o, "usage"), "total_tokens")),
                  16);
        json_decref(o);
        openai_writer_free(w);
        buf_cleanup(&out);
    }
}

TEST(the_writer_flushes_an_answer_that_got_no_usage_and_fails_on_a_full_buffer)
{
    struct buf out;
    buf_init(&out, 1 << 16);
    struct openai_writer_opts wo = { "glm-4", 1714000000, 1, 0, MAX_ANSWER };
    struct openai_writer *w = openai_writer_new(&wo, &out);
    struct sink s = openai_writer_sink(w);
    CHECK_INT(openai_writer_flush(w), 0);
    CHECK_INT(out.len, 0);
    CHECK_INT(s.ops->finish(s.self, ANSWER_STOP, NULL), ANSWER_GO);
    CHECK_INT(openai_writer_flush(w), 0);
    const char *t = buf_cstr(&out);
    CHECK(strcmp(t + strlen(t) - 14, "data: [DONE]\n\n") == 0);
    openai_writer_free(w);
    buf_cleanup(&out);

    buf_init(&out, 40);
    w = openai_writer_new(&wo, &out);
    s = openai_writer_sink(w);
    CHECK_INT(s.ops->start(s.self), ANSWER_FULL);
    CHECK_INT(out.len, 0);
    openai_writer_free(w);
    buf_cleanup(&out);
}

TEST_MAIN()
