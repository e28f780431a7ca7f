/* The renderer, through the stream pipeline (the server's own chain: SSE,
 * render, the OpenAI writer): random frame sequences, in both profiles (and
 * auto), every think/search option, through the fast path or the DOM path
 * alone, streamed or collected. Byte 0 picks the options; byte 1 picks raw
 * mode (odd: the rest is newline-separated frame text, as the seeds from the
 * fixtures) or structured mode (the rest drives a generator of well-formed
 * frames whose texts grow like v1, jump like v2 deltas, and carry citation
 * markers and multi-byte characters), and streamed (bit 1 clear) or
 * collected, with or without the usage chunk (bit 2). Checks: the events come
 * in the sink's order; the text that comes out is valid UTF-8 (every input
 * string is), never more than max_answer, and nothing comes after the end;
 * a streamed answer is whole SSE events of JSON. */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "stream/openai.h"
#include "stream/pipeline.h"
#include "util/buf.h"

#define SLOTS 4

/* Text pieces a generated string is made of. */
static const char *const pieces[] = {
    "a", "Hello ", "中文", "！", "\n", "【", "0", "†source", "】", "【1†source】", "😀", "é",
    "turn0search1", "<think>", " ", "```",
};

static const char *pick(struct fuzz_in *in, const char *const *v, size_t n)
{
    return v[fuzz_byte(in) % n];
}
#define PICK(in, v) pick(in, v, sizeof(v) / sizeof(v[0]))

/* A text: the slot's text so far grown (v1), replaced (v2 delta), or kept. */
static const char *text(struct fuzz_in *in, struct buf *slot)
{
    unsigned how = fuzz_byte(in) % 3, k = fuzz_byte(in) % 6;
    if (how == 0)
        buf_reset(slot);
    for (unsigned i = 0; how != 2 && i < k; i++)
        if (buf_puts(slot, PICK(in, pieces)) < 0)
            break;
    return buf_cstr(slot);
}

static json_t *item(struct fuzz_in *in, struct buf *slots)
{
    static const char *const types[] = { "text", "think", "text_thinking", "code",
                                         "execution_output", "image", "quote_result",
                                         "tool_result", "browser_result", "" };
    static const char *const urls[] = { "https://a.cn/x.png", "http://b/y", "ftp://c", "" };
    const char *type = PICK(in, types);
    struct buf *slot = &slots[fuzz_byte(in) % SLOTS];
    json_t *it = json_pack("{s:s}", "type", type);
    if (!strcmp(type, "text") || !strcmp(type, "text_thinking"))
        json_object_set_new(it, "text", json_string(text(in, slot)));
    else if (!strcmp(type, "think"))
        json_object_set_new(it, "think", json_string(text(in, slot)));
    else if (!strcmp(type, "code"))
        json_object_set_new(it, "code", json_string(text(in, slot)));
    else if (!strcmp(type, "execution_output"))
        json_object_set_new(it, "content", json_string(text(in, slot)));
    else if (!strcmp(type, "image"))
        json_object_set_new(it, "image", json_pack("[{s:s}]", "image_url", PICK(in, urls)));
    return it;
}

static json_t *part(struct fuzz_in *in, struct buf *slots)
{
    static const char *const ids[] = { "a", "b", "c", "" };
    static const char *const st[] = { "init", "init", "finish", "intervene", "error" };
    json_t *p = json_pack("{s:s, s:s, s:[]}", "logic_id", PICK(in, ids), "status", PICK(in, st),
                          "content");
    if (fuzz_byte(in) & 1)
        json_object_del(p, "logic_id");
    unsigned n = fuzz_byte(in) % 3;
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(json_object_get(p, "content"), item(in, slots));
    if (fuzz_byte(in) % 4 == 0)
        json_object_set_new(p, "meta_data",
                            json_pack("{s:[{s:s, s:s}]}", "metadata_list", "title",
                                      text(in, &slots[0]), "url", "https://x.cn/1"));
    return p;
}

static char *frame(struct fuzz_in *in, struct buf *slots)
{
    static const char *const st[] = { "init", "init", "init", "finish", "error", "intervene" };
    json_t *f = json_pack("{s:s, s:s, s:s, s:[]}", "conversation_id", "670dd192ac7938d40c0003a1",
                          "assistant_id", "65940acff94777010aa6b796", "status", PICK(in, st),
                          "parts");
    unsigned n = fuzz_byte(in) % 3;
    for (unsigned i = 0; i < n; i++)
        json_array_append_new(json_object_get(f, "parts"), part(in, slots));
    if (fuzz_byte(in) % 8 == 0)
        json_object_set_new(f, "last_error", json_pack("{s:i, s:s}", "error_code", 10024,
                                                       "err_msg", "x"));
    char *s = json_dumps(f, JSON_COMPACT);
    json_decref(f);
    return s;
}

/* A stage between the pipeline and the writer that checks the events. */
struct check {
    struct sink next;
    size_t max, total;
    int started, ended;
};

static int ck_start(void *self)
{
    struct check *c = self;
    FUZZ_ASSERT(!c->started && !c->ended);
    c->started = 1;
    return c->next.ops->start(c->next.self);
}

static void ck_piece(struct check *c, const char *s, size_t n)
{
    FUZZ_ASSERT(c->started && !c->ended && n > 0);
    FUZZ_ASSERT(fuzz_utf8_valid(s, n));
    c->total += n;
    FUZZ_ASSERT(c->total <= c->max);
}

static int ck_text(void *self, const char *s, size_t n)
{
    struct check *c = self;
    ck_piece(c, s, n);
    return c->next.ops->text(c->next.self, s, n);
}

static int ck_reasoning(void *self, const char *s, size_t n)
{
    struct check *c = self;
    ck_piece(c, s, n);
    return c->next.ops->reasoning(c->next.self, s, n);
}

static int ck_finish(void *self, enum answer_finish why, const char *stop)
{
    struct check *c = self;
    FUZZ_ASSERT(c->started && !c->ended);
    FUZZ_ASSERT(why == ANSWER_STOP || why == ANSWER_CONTENT_FILTER);
    c->ended = 1;
    return c->next.ops->finish(c->next.self, why, stop);
}

static int ck_error(void *self, const struct answer_error *e)
{
    struct check *c = self;
    FUZZ_ASSERT(!c->ended);
    c->ended = 1;
    return c->next.ops->error(c->next.self, e);
}

static int ck_usage(void *self, const struct answer_usage *u)
{
    struct check *c = self;
    FUZZ_ASSERT(c->ended);
    FUZZ_ASSERT(u->reasoning_tokens <= u->completion_tokens);
    return c->next.ops->usage(c->next.self, u);
}

static const struct sink_ops check_ops = {
    .start = ck_start, .text = ck_text, .reasoning = ck_reasoning,
    .finish = ck_finish, .error = ck_error, .usage = ck_usage,
};

/* Streamed: what the writer wrote is whole events, each JSON or [DONE]. */
static void check_out(struct buf *out, int stream)
{
    const char *p = buf_cstr(out), *end = p + out->len;
    while (stream && p < end) {
        const char *e = strstr(p, "\n\n");
        FUZZ_ASSERT(e && strncmp(p, "data: ", 6) == 0);
        if (strncmp(p + 6, "[DONE]", 6) != 0) {
            json_t *o = json_loadb(p + 6, (size_t)(e - p - 6), 0, NULL);
            FUZZ_ASSERT(json_is_object(o));
            json_decref(o);
        }
        p = e + 2;
    }
    buf_reset(out);
}

static void set_id(void *arg, const char *id)
{
    openai_writer_set_id(arg, id);
}

/* One frame as an SSE event into the pipeline. */
static void feed(struct pipeline *p, struct buf *ev, const char *f, size_t n)
{
    buf_reset(ev);
    if (buf_puts(ev, "data: ") == 0 && buf_append(ev, f, n) == 0 && buf_puts(ev, "\n\n") == 0)
        (void)pipeline_feed(p, ev->data, ev->len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[] = { 64, 1024, 1 << 20 };
    struct fuzz_in in = { data, size };
    unsigned o = fuzz_byte(&in), mode = fuzz_byte(&in);
    int stream = !(mode & 2);
    struct render_opts opts = { (enum render_think)(o % 3), (enum render_search)(o / 3 % 3),
                                (enum render_profile)(o / 9 % 3), maxes[o / 27 % 3],
                                (int)(o / 81 % 2) };
    struct buf out, ev, slots[SLOTS];
    buf_init(&out, 8u << 20);
    buf_init(&ev, 1u << 20);
    struct openai_writer_opts wo = { "glm", 1, stream, (int)(mode & 4), opts.max_answer };
    struct openai_writer *w = openai_writer_new(&wo, &out);
    struct check c = { openai_writer_sink(w), opts.max_answer, 0, 0, 0 };
    struct pipeline_opts po = { opts, 1u << 20, stream, 5, set_id, w };
    struct pipeline *p = pipeline_new(&po, (struct sink){ &check_ops, &c });
    for (int i = 0; i < SLOTS; i++)
        buf_init(&slots[i], 1 << 16);
    while (in.n) {
        if (mode & 1) {
            const uint8_t *nl = memchr(in.p, '\n', in.n);
            size_t len = nl ? (size_t)(nl - in.p) : in.n;
            feed(p, &ev, (const char *)in.p, len);
            in.p += len + (nl != NULL);
            in.n -= len + (nl != NULL);
        } else {
            char *f = frame(&in, slots);
            feed(p, &ev, f, strlen(f));
            free(f);
        }
        check_out(&out, stream);
    }
    pipeline_end(p);
    FUZZ_ASSERT(pipeline_status(p) != PIPELINE_RUNNING);
    if (pipeline_status(p) == PIPELINE_FAILED) {
        const char *msg = NULL;
        (void)pipeline_render_error(p, &msg);
        struct answer_error e = { 502, NULL, "upstream_error", msg ? msg : "failed" };
        (void)pipeline_fail(p, &e);
    }
    check_out(&out, stream);
    (void)pipeline_conversation_id(p);
    pipeline_free(p);
    openai_writer_free(w);
    for (int i = 0; i < SLOTS; i++)
        buf_cleanup(&slots[i]);
    buf_cleanup(&out);
    buf_cleanup(&ev);
    return 0;
}
