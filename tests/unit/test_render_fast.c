/* The renderer's fast path against its DOM path: random answers fed to two
 * renders, one reading frames with the scanner and one through jansson,
 * compared after every frame; every fixture both ways; and the fast path's
 * promises (only what is new is decoded, a reused view follows moved ids). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/render.h"
#include "util/buf.h"
#include "test.h"
#include "render_check.h"

/* ---- the fast path against the DOM path ----
 * The renderer reads frames with a purpose-built scanner that decodes only
 * what is new, and hands anything unusual to jansson. Both must give the
 * same answer byte for byte: random answers are fed to two renders, one with
 * the fast path and one without, and compared after every frame. */

struct rng {
    unsigned long long s;
};

static unsigned rnd(struct rng *g, unsigned n)
{
    g->s = g->s * 6364136223846793005ull + 1442695040888963407ull;
    return n ? (unsigned)((g->s >> 33) % n) : 0;
}

/* Characters that stress decoding: escapes, controls, quotes, multi-byte
 * UTF-8, astral characters (surrogate pairs), markers, U+0000. */
static const unsigned long gen_chars[] = {
    'a', 'b', 'Z', '0', '9', ' ', '.', '"', '\\', '/', '\n', '\t', '\b', '\f', '\r', 0x01, 0x1f,
    0x7f, 0xe9, 0x4e2d, 0x6587, 0x3010, 0x3011, 0x2020, 0x2028, 0xfffd, 0x1f600, 0x10ffff, '[',
    ']', 0x0,
};

static void put_utf8(struct buf *b, unsigned long cp)
{
    char t[4];
    size_t k;

    if (cp < 0x80) {
        t[0] = (char)cp;
        k = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xc0 | cp >> 6);
        t[1] = (char)(0x80 | (cp & 0x3f));
        k = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xe0 | cp >> 12);
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[2] = (char)(0x80 | (cp & 0x3f));
        k = 3;
    } else {
        t[0] = (char)(0xf0 | cp >> 18);
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        t[3] = (char)(0x80 | (cp & 0x3f));
        k = 4;
    }
    CHECK(buf_append(b, t, k) == 0);
}

static void put_u(struct rng *g, struct buf *b, unsigned long u)
{
    CHECK(buf_printf(b, rnd(g, 2) ? "\\u%04lx" : "\\u%04lX", u) == 0);
}

/* One character into a JSON string body, in a random valid spelling. */
static void put_json_char(struct rng *g, struct buf *b, unsigned long cp)
{
    static const char shorts[] = "\"\"\\\\//\bb\ff\nn\rr\tt";
    const char *sh = cp && cp < 0x80 ? strchr(shorts, (int)cp) : NULL;
    int must = cp < 0x20 || cp == '"' || cp == '\\';

    if (sh && ((sh - shorts) % 2) == 0 && (must || rnd(g, 4) == 0) && rnd(g, 3)) {
        CHECK(buf_putc(b, '\\') == 0 && buf_putc(b, sh[1]) == 0);
    } else if (must || rnd(g, 5) == 0) {
        if (cp >= 0x10000) {
            put_u(g, b, 0xd800 + ((cp - 0x10000) >> 10));
            put_u(g, b, 0xdc00 + ((cp - 0x10000) & 0x3ff));
        } else {
            put_u(g, b, cp);
        }
    } else {
        put_utf8(b, cp);
    }
}

struct gen_item {
    int type;               /* index in gen_types */
    unsigned long cps[400]; /* the item's text */
    size_t n, sent;         /* length; how much the last frame showed */
    struct buf raw;         /* the last value sent, as written */
    size_t raw_n;           /* how many characters raw holds */
};

struct gen_part {
    char logic[40];
    int finished;
    struct gen_item items[2];
    int nitems;
};

static const char *const gen_types[] = { "text", "think", "text_thinking", "code", "tool_calls" };

/* A string value of n characters: mostly the previous spelling of the
 * characters it repeats plus the new ones (the raw-prefix case), sometimes
 * spelled afresh. */
static void gen_value(struct rng *g, struct buf *f, struct gen_item *it, size_t from, size_t to)
{
    if (from == 0 && it->raw_n <= to && rnd(g, 5)) {
        for (size_t i = it->raw_n; i < to; i++)
            put_json_char(g, &it->raw, it->cps[i]);
        it->raw_n = to;
        CHECK(buf_append(f, it->raw.data ? it->raw.data : "", it->raw.len) == 0);
        return;
    }
    struct buf v;
    buf_init(&v, 1u << 20);
    for (size_t i = from; i < to; i++)
        put_json_char(g, &v, it->cps[i]);
    if (from == 0) {
        buf_reset(&it->raw);
        CHECK(buf_append(&it->raw, v.data ? v.data : "", v.len) == 0);
        it->raw_n = to;
    }
    CHECK(buf_append(f, v.data ? v.data : "", v.len) == 0);
    buf_cleanup(&v);
}

static void gen_ws(struct rng *g, struct buf *f)
{
    static const char *const ws[] = { " ", "\n", "\t", "\r\n ", "" };
    if (rnd(g, 6) == 0)
        CHECK(buf_puts(f, ws[rnd(g, 5)]) == 0);
}

/* A member name, sometimes escaped. */
static void gen_name(struct rng *g, struct buf *f, const char *name)
{
    gen_ws(g, f);
    CHECK(buf_putc(f, '"') == 0);
    for (const char *c = name; *c; c++) {
        if (rnd(g, 30) == 0)
            CHECK(buf_printf(f, "\\u%04x", (unsigned char)*c) == 0);
        else
            CHECK(buf_putc(f, *c) == 0);
    }
    CHECK(buf_putc(f, '"') == 0);
    gen_ws(g, f);
    CHECK(buf_putc(f, ':') == 0);
    gen_ws(g, f);
}

/* Members nobody reads, of every JSON kind. */
static void gen_noise(struct rng *g, struct buf *f)
{
    static const char *const vals[] = {
        "0", "-12", "3.25", "-0.5e3", "1E+2", "123456789012345678", "true", "false", "null",
        "{}", "[]", "{\"a\":[1,{\"b\":null},\"c\\u00e9\\n\"],\"d\":{}}", "\"x\\\"y\\\\\"",
        "[[[[[[1]]]]]]", "\"\\ud83d\\ude00\"", "1e99", "12345678901234567890", "1.5e300",
    };
    while (rnd(g, 3) == 0) {
        static const char *const names[] = { "meta_data", "model", "n", "role", "created_at" };
        gen_name(g, f, names[rnd(g, 5)]);
        CHECK(buf_puts(f, vals[rnd(g, sizeof(vals) / sizeof(vals[0]))]) == 0);
        CHECK(buf_putc(f, ',') == 0);
    }
}

/* One frame with the parts in `which`; values cumulative or deltas. gs
 * draws the shape (noise, spacing, spelling of names), g the values: a
 * stable gs gives frames that differ only inside their values. */
static void gen_frame(struct rng *gs, struct rng *g, struct buf *f, struct gen_part *parts,
                      int nparts, const int *which, int delta, const char *status)
{
    CHECK(buf_puts(f, "{") == 0);
    gen_noise(gs, f);
    gen_name(gs, f, "conversation_id");
    CHECK(buf_puts(f, rnd(gs, 8) ? "\"c0ffee\"," : "\"\\u0063x\",") == 0);
    if (rnd(gs, 10) == 0) {
        /* A first "parts" member that the second replaces. */
        gen_name(gs, f, "parts");
        CHECK(buf_puts(f, "[{\"logic_id\":\"zz\",\"content\":[{\"type\":\"text\",\"text\":\"junk\"}]}],") == 0);
    }
    gen_name(gs, f, "parts");
    CHECK(buf_putc(f, '[') == 0);
    int first = 1;
    for (int p = 0; p < nparts; p++) {
        if (!which[p])
            continue;
        struct gen_part *pt = &parts[p];
        if (!first)
            CHECK(buf_putc(f, ',') == 0);
        first = 0;
        if (rnd(gs, 25) == 0)
            CHECK(buf_puts(f, "7,") == 0); /* an element that is not an object */
        CHECK(buf_putc(f, '{') == 0);
        gen_noise(gs, f);
        if (pt->logic[0]) {
            gen_name(gs, f, "logic_id");
            CHECK(buf_printf(f, "\"%s\",", pt->logic) == 0);
        } else {
            gen_name(gs, f, "id");
            CHECK(buf_puts(f, "\"m1\",") == 0);
        }
        gen_name(gs, f, "status");
        CHECK(buf_printf(f, "\"%s\",", which[p] == 2 ? "finish" : "init") == 0);
        gen_name(gs, f, "content");
        CHECK(buf_putc(f, '[') == 0);
        for (int i = 0; i < pt->nitems; i++) {
            struct gen_item *it = &pt->items[i];
            if (i)
                CHECK(buf_putc(f, ',') == 0);
            if (rnd(gs, 40) == 0) {
                CHECK(buf_puts(f, "null,") == 0);
            }
            CHECK(buf_putc(f, '{') == 0);
            gen_noise(gs, f);
            const char *field = it->type == 1 ? "think" : it->type == 3 ? "code" : "text";
            if (rnd(gs, 12) == 0) {
                /* A duplicate the later member replaces. */
                gen_name(gs, f, field);
                CHECK(buf_puts(f, rnd(gs, 2) ? "\"old\\u00e9\"," : "42,") == 0);
            }
            gen_name(gs, f, "type");
            CHECK(buf_printf(f, "\"%s\",", gen_types[it->type]) == 0);
            gen_name(gs, f, field);
            CHECK(buf_putc(f, '"') == 0);
            size_t from = delta && which[p] != 2 ? it->sent : 0;
            gen_value(g, f, it, from, it->n);
            it->sent = it->n;
            CHECK(buf_putc(f, '"') == 0);
            gen_ws(gs, f);
            CHECK(buf_putc(f, '}') == 0);
        }
        CHECK(buf_puts(f, "]}") == 0);
    }
    CHECK(buf_puts(f, "],") == 0);
    gen_name(gs, f, "status");
    CHECK(buf_printf(f, "\"%s\"", status) == 0);
    gen_ws(gs, f);
    CHECK(buf_putc(f, '}') == 0);
    gen_ws(gs, f);
}

/* Breaks a frame the way a broken upstream could, or the way only the DOM
 * path reads. */
static void gen_mangle(struct rng *g, struct buf *f)
{
    static const char *const bad[] = {
        "\\x", "\\ud800", "\\udc00x", "\\ud800\\u0041", "\xff", "\xc0\x80", "\xed\xa0\x80",
        "\x01", "\\u12", "\xe4\xb8",
    };
    static const char *const tails[] = {
        ",\"n\":1e999}", ",\"n\":123456789012345678901234}", ",\"\\u0000k\":1}", "}}", ",}",
        " x}", ",\"n\":01}", ",\"n\":-}", ",\"n\":1.}", ",\"n\":tru}",
    };
    if (!f->len)
        return;
    switch (rnd(g, 4)) {
    case 0: { /* inside a string value: the first text value */
        char *q = strstr(f->data, "\"text\":\"");
        if (!q)
            return;
        size_t at = (size_t)(q - f->data) + 8, len = f->len;
        const char *b = bad[rnd(g, sizeof(bad) / sizeof(bad[0]))];
        char *tail = strdup(f->data + at);
        buf_truncate(f, at);
        CHECK(buf_puts(f, b) == 0 && buf_append(f, tail, len - at) == 0);
        free(tail);
        break;
    }
    case 1: /* cut short */
        buf_truncate(f, rnd(g, (unsigned)f->len));
        break;
    default: { /* a bad member at the end */
        char *e = strrchr(f->data, '}');
        if (!e)
            return;
        buf_truncate(f, (size_t)(e - f->data));
        CHECK(buf_puts(f, tails[rnd(g, sizeof(tails) / sizeof(tails[0]))]) == 0);
        break;
    }
    }
}

/* Frames only the DOM path takes, in the middle of an answer. */
static const char *const dom_frames[] = {
    "{\"parts\":[{\"logic_id\":\"img\",\"status\":\"finish\",\"content\":[{\"type\":\"image\","
    "\"image\":[{\"image_url\":\"https://x/1.png\"}]}]}],\"status\":\"init\"}",
    "{\"parts\":[{\"logic_id\":\"ex\",\"status\":\"finish\",\"content\":[{\"type\":"
    "\"execution_output\",\"content\":\"\\n42\"}]}],\"status\":\"init\"}",
    "{\"parts\":[{\"logic_id\":\"q\",\"status\":\"init\",\"content\":[{\"type\":\"quote_result\"}],"
    "\"meta_data\":{\"metadata_list\":[{\"title\":\"T\",\"url\":\"https://u\"}]}}],\"status\":\"init\"}",
    "ping",
    "[1,2]",
};

struct twin {
    struct render *r[2];
    struct result res[2];
};

static void twin_check(struct twin *t, const char *frame, size_t n, unsigned long answer)
{
    int rc[2];
    for (int k = 0; k < 2; k++) {
        rc[k] = render_frame(t->r[k], frame, n);
        take_into(t->r[k], &t->res[k]);
    }
    int failed = test_failed_checks;
    CHECK_INT(rc[0], rc[1]);
    CHECK_INT(t->res[0].content.len, t->res[1].content.len);
    CHECK_STR(buf_cstr(&t->res[0].content), buf_cstr(&t->res[1].content));
    CHECK_INT(t->res[0].reasoning.len, t->res[1].reasoning.len);
    CHECK_STR(buf_cstr(&t->res[0].reasoning), buf_cstr(&t->res[1].reasoning));
    CHECK_INT(render_get_state(t->r[0]), render_get_state(t->r[1]));
    CHECK_INT(render_frames(t->r[0]), render_frames(t->r[1]));
    CHECK_STR(render_conversation_id(t->r[0]), render_conversation_id(t->r[1]));
    if (test_failed_checks != failed)
        printf("# answer %lu, frame: %.*s\n", answer, (int)(n < 400 ? n : 400), frame);
}

static void gen_answer(struct rng *g, unsigned long answer, int *fast_frames_seen)
{
    struct render_opts o = {
        (enum render_think)rnd(g, 3), (enum render_search)rnd(g, 3),
        (enum render_profile)rnd(g, 3), rnd(g, 8) == 0 ? 40 + rnd(g, 200) : BIG, 0,
    };
    int delta = o.profile == RENDER_PROFILE_V2 || (o.profile == RENDER_PROFILE_AUTO && rnd(g, 2));
    struct twin t;
    for (int k = 0; k < 2; k++) {
        o.dom_only = k == 1;
        t.r[k] = render_new(&o);
        result_init(&t.res[k]);
    }

    struct gen_part parts[3];
    int nparts = 1 + (int)rnd(g, 3);
    memset(parts, 0, sizeof(parts));
    for (int p = 0; p < nparts; p++) {
        if (rnd(g, 6))
            snprintf(parts[p].logic, sizeof(parts[p].logic), "%s%d", rnd(g, 2) ? "L" : "\\u004c", p);
        parts[p].nitems = 1 + (int)rnd(g, 2);
        for (int i = 0; i < parts[p].nitems; i++) {
            parts[p].items[i].type = rnd(g, 4) ? (int)rnd(g, 2) * (int)rnd(g, 4) : 4;
            buf_init(&parts[p].items[i].raw, 1u << 20);
        }
    }

    struct buf f;
    buf_init(&f, 4u << 20);
    int nframes = 2 + (int)rnd(g, 25);
    int stable = rnd(g, 2);
    struct rng shape = { g->s ^ 0x9e3779b97f4a7c15ull };
    for (int k = 0; k < nframes; k++) {
        buf_reset(&f);
        int which[3] = { 0, 0, 0 };
        int p = (int)rnd(g, (unsigned)nparts);
        which[p] = 1;
        if (rnd(g, 5) == 0)
            which[rnd(g, (unsigned)nparts)] = 1;
        for (int q = 0; q < nparts; q++) {
            if (!which[q])
                continue;
            for (int i = 0; i < parts[q].nitems; i++) {
                struct gen_item *it = &parts[q].items[i];
                int grow = (int)rnd(g, 6);
                if (rnd(g, 3) == 0)
                    grow += 20;
                for (int c = 0; c < grow && it->n < 400; c++)
                    it->cps[it->n++] = gen_chars[rnd(g, sizeof(gen_chars) / sizeof(gen_chars[0]))];
                if (!delta && rnd(g, 20) == 0 && it->n > 2) {
                    it->n -= 2; /* a value that goes back: adds nothing */
                    it->raw_n = 0;
                }
            }
            if (rnd(g, 8) == 0 || k == nframes - 1)
                which[q] = 2;
        }
        const char *status = k == nframes - 1 && rnd(g, 4) ? "finish" : "init";
        struct rng gs = shape;
        gen_frame(stable ? &gs : g, g, &f, parts, nparts, which, delta && rnd(g, 10), status);
        if (rnd(g, 15) == 0)
            gen_mangle(g, &f);
        twin_check(&t, f.data, f.len, answer);
        if (render_get_state(t.r[0]) == RENDER_RUNNING && rnd(g, 12) == 0) {
            const char *d = dom_frames[rnd(g, sizeof(dom_frames) / sizeof(dom_frames[0]))];
            twin_check(&t, d, strlen(d), answer);
        }
        for (int q = 0; q < nparts; q++)
            if (which[q] == 2 && rnd(g, 2))
                parts[q].finished = 1;
    }
    *fast_frames_seen += (int)render_frames(t.r[0]);
    for (int k = 0; k < 2; k++) {
        render_end(t.r[k]);
        take_into(t.r[k], &t.res[k]);
        result_finish(t.r[k], &t.res[k]);
    }
    CHECK_STR(buf_cstr(&t.res[0].content), buf_cstr(&t.res[1].content));
    CHECK_STR(buf_cstr(&t.res[0].reasoning), buf_cstr(&t.res[1].reasoning));
    CHECK_INT(t.res[0].state, t.res[1].state);
    CHECK_INT(t.res[0].err_code, t.res[1].err_code);
    CHECK(t.res[0].takes_valid_utf8 == t.res[1].takes_valid_utf8);
    for (int k = 0; k < 2; k++) {
        result_cleanup(&t.res[k]);
        render_free(t.r[k]);
    }
    for (int p = 0; p < 3; p++)
        for (int i = 0; i < 2; i++)
            buf_cleanup(&parts[p].items[i].raw);
    buf_cleanup(&f);
}

TEST(the_fast_path_and_the_dom_path_give_the_same_answers_on_random_frames)
{
    struct rng g = { 20260514 };
    int seen = 0;
    for (unsigned long a = 0; a < 2000; a++)
        gen_answer(&g, a, &seen);
    CHECK(seen > 10000);
}

TEST(every_fixture_gives_the_same_answer_with_and_without_the_fast_path)
{
    static const char *const names[] = {
        "chat-plain.sse", "chat-multipart-search.sse", "chat-think.sse", "chat-drawing.sse",
        "chat-code-interpreter.sse", "chat-intervene.sse", "chat-file.sse",
        "chat-image-vision.sse", "chat-stream-error.sse", "chat-plain-v2-delta.sse",
    };
    for (size_t i = 0; i < N(names); i++) {
        for (int think = 0; think < 3; think++) {
            for (int prof = 0; prof < 3; prof++) {
                struct render_opts o = opts_of((enum render_think)think,
                                               (enum render_search)(prof % 3),
                                               (enum render_profile)prof);
                struct result res[2];
                for (int k = 0; k < 2; k++) {
                    o.dom_only = k == 1;
                    run_fixture(names[i], &o, 0, &res[k]);
                }
                int failed = test_failed_checks;
                CHECK_STR(buf_cstr(&res[0].content), buf_cstr(&res[1].content));
                CHECK_STR(buf_cstr(&res[0].reasoning), buf_cstr(&res[1].reasoning));
                CHECK_INT(res[0].state, res[1].state);
                CHECK_INT(res[0].frames, res[1].frames);
                CHECK_STR(res[0].conv, res[1].conv);
                if (test_failed_checks != failed)
                    printf("# in %s think=%d profile=%d\n", names[i], think, prof);
                for (int k = 0; k < 2; k++)
                    result_cleanup(&res[k]);
            }
        }
    }
}

TEST(a_v1_answer_decodes_only_what_is_new_in_each_frame)
{
    /* Every frame repeats the text so far, spelled the same way, with \u
     * escapes and surrogate pairs in it: the answer must come out whole and
     * once, and the same as through the DOM path. */
    struct buf frame, text, all[2];
    buf_init(&frame, 1u << 22);
    buf_init(&text, 1u << 22);
    struct render *r[2];
    for (int k = 0; k < 2; k++) {
        struct render_opts o = O_DEFAULT;
        o.dom_only = k == 1;
        r[k] = render_new(&o);
        buf_init(&all[k], 1u << 22);
    }
    static const char *const pieces[] = { "ab", "\\u4e2d", "\\ud83d\\ude00", "\\\"", "\\n", "é" };
    static const size_t decoded[] = { 2, 3, 4, 1, 1, 2 };
    size_t want = 0;
    for (int i = 0; i < 1000; i++) {
        want += decoded[i % 6];
        CHECK(buf_puts(&text, pieces[i % 6]) == 0);
        buf_reset(&frame);
        CHECK(buf_printf(&frame, "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"%s\",\"content\":"
                                 "[{\"type\":\"text\",\"text\":\"%s\"}]}],\"status\":\"%s\"}",
                         i == 999 ? "finish" : "init", text.data,
                         i == 999 ? "finish" : "init") == 0);
        for (int k = 0; k < 2; k++) {
            CHECK_INT(render_frame(r[k], frame.data, frame.len), 0);
            const char *c, *rs;
            size_t cn, rn;
            render_take(r[k], &c, &cn, &rs, &rn);
            CHECK(buf_append(&all[k], c, cn) == 0);
        }
    }
    CHECK_INT(all[0].len, want);
    CHECK_STR(all[0].data, all[1].data);
    CHECK_INT(render_get_state(r[0]), RENDER_DONE);
    for (int k = 0; k < 2; k++) {
        render_free(r[k]);
        buf_cleanup(&all[k]);
    }
    buf_cleanup(&frame);
    buf_cleanup(&text);
}

TEST(a_frame_that_differs_only_in_its_text_reads_the_ids_after_the_text)
{
    /* The fast path reuses its view of the last frame when only the text
     * differs. Here the ids come after the text, and the first two frames
     * are invalid (a bad escape), so the ids are first read from the third,
     * two reuses later, where they have moved. */
    static const char *const frames[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\","
        "\"text\":\"x\\q\"}]}],\"conversation_id\":\"c1\",\"assistant_id\":\"as\",\"status\":\"init\"}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\","
        "\"text\":\"xyz\\q\"}]}],\"conversation_id\":\"c1\",\"assistant_id\":\"as\",\"status\":\"init\"}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\","
        "\"text\":\"xyzabcd\"}]}],\"conversation_id\":\"c1\",\"assistant_id\":\"as\",\"status\":\"init\"}",
        "{\"parts\":[{\"logic_id\":\"a\",\"status\":\"init\",\"content\":[{\"type\":\"text\","
        "\"text\":\"xyzabcdefg\"}]}],\"conversation_id\":\"c1\",\"assistant_id\":\"as\",\"status\":\"finish\"}",
    };
    for (int fast = 1; fast >= 0; fast--) {
        struct result res;
        struct render_opts o = O_DEFAULT;
        o.dom_only = !fast;
        struct render *r = render_new(&o);
        result_init(&res);
        for (size_t i = 0; i < N(frames); i++) {
            CHECK_INT(render_frame(r, frames[i], strlen(frames[i])), i < 2 ? 1 : 0);
            take_into(r, &res);
        }
        CHECK_STR(render_conversation_id(r), "c1");
        CHECK_STR(render_assistant_id(r), "as");
        CHECK_STR(buf_cstr(&res.content), "xyzabcdefg");
        CHECK_INT(render_get_state(r), RENDER_DONE);
        render_free(r);
        result_cleanup(&res);
    }
}

TEST_MAIN()
