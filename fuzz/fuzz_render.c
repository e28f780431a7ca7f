/* Renderer: random frame sequences, in both profiles (and auto), every
 * think/search option, through the fast path or the DOM path alone. Byte 0
 * picks the options; byte 1 picks raw mode (the
 * rest is newline-separated frame text, as the seeds from the fixtures) or
 * structured mode (the rest drives a generator of well-formed frames whose
 * texts grow like v1, jump like v2 deltas, and carry citation markers and
 * multi-byte characters). Checks: the text that comes out is valid UTF-8
 * (every input string is), never more than max_answer, and nothing comes
 * after a terminal state. */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "stream/render.h"
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

struct check {
    struct render *r;
    size_t max, total;
    int ended;
};

static void take(struct check *c)
{
    const char *t, *rs;
    size_t tl, rl;
    render_take(c->r, &t, &tl, &rs, &rl);
    FUZZ_ASSERT(fuzz_utf8_valid(t, tl) && fuzz_utf8_valid(rs, rl));
    FUZZ_ASSERT(!c->ended || (tl == 0 && rl == 0));
    c->total += tl + rl;
    FUZZ_ASSERT(c->total <= c->max);
    c->ended = render_get_state(c->r) != RENDER_RUNNING;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t maxes[] = { 64, 1024, 1 << 20 };
    struct fuzz_in in = { data, size };
    unsigned o = fuzz_byte(&in), mode = fuzz_byte(&in);
    struct render_opts opts = { (enum render_think)(o % 3), (enum render_search)(o / 3 % 3),
                                (enum render_profile)(o / 9 % 3), maxes[o / 27 % 3],
                                (int)(o / 81 % 2) };
    struct check c = { render_new(&opts), opts.max_answer, 0, 0 };
    struct buf slots[SLOTS];
    for (int i = 0; i < SLOTS; i++)
        buf_init(&slots[i], 1 << 16);
    while (in.n) {
        if (mode & 1) {
            const uint8_t *nl = memchr(in.p, '\n', in.n);
            size_t len = nl ? (size_t)(nl - in.p) : in.n;
            render_frame(c.r, (const char *)in.p, len);
            in.p += len + (nl != NULL);
            in.n -= len + (nl != NULL);
        } else {
            char *f = frame(&in, slots);
            render_frame(c.r, f, strlen(f));
            free(f);
        }
        take(&c);
    }
    render_end(c.r);
    c.ended = 0;
    take(&c);
    FUZZ_ASSERT(render_get_state(c.r) != RENDER_RUNNING);
    (void)render_finish_reason(c.r);
    (void)render_conversation_id(c.r);
    const char *msg = NULL;
    (void)render_error(c.r, &msg);
    for (int i = 0; i < SLOTS; i++)
        buf_cleanup(&slots[i]);
    render_free(c.r);
    return 0;
}
