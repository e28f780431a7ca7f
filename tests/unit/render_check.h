/* Helpers of the renderer's unit tests (test_render.c, test_render_fast.c):
 * fixtures and frames fed into a render, and what came out. Include after
 * test.h. */
#ifndef GLM_RENDER_CHECK_H
#define GLM_RENDER_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/render.h"
#include "stream/sse.h"
#include "util/buf.h"

#define BIG (64u << 20)

static inline int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + k >= n)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* What one answer produced: the takes concatenated, and the end state. */
struct result {
    struct buf content;
    struct buf reasoning;
    int takes_valid_utf8;   /* every single take was valid UTF-8 by itself */
    int not_frames;         /* render_frame returned 1 */
    enum render_state state;
    const char *finish;
    int err_code;
    const char *err_msg;    /* valid until the render is freed (copied below) */
    char err_buf[128];
    char conv[64];
    char hid[64];           /* render_history_id */
    unsigned long frames;
};

static inline void result_init(struct result *res)
{
    memset(res, 0, sizeof(*res));
    buf_init(&res->content, BIG);
    buf_init(&res->reasoning, BIG);
    res->takes_valid_utf8 = 1;
}

static inline void result_cleanup(struct result *res)
{
    buf_cleanup(&res->content);
    buf_cleanup(&res->reasoning);
}

static inline void take_into(struct render *r, struct result *res)
{
    const char *c, *rs;
    size_t cn, rn;

    render_take(r, &c, &cn, &rs, &rn);
    if (!utf8_valid(c, cn) || !utf8_valid(rs, rn))
        res->takes_valid_utf8 = 0;
    if (buf_append(&res->content, c, cn) < 0 || buf_append(&res->reasoning, rs, rn) < 0)
        abort();
    /* A second take without a call in between gives nothing new. */
    render_take(r, &c, &cn, &rs, &rn);
    CHECK_INT(cn, 0);
    CHECK_INT(rn, 0);
}

static inline void result_finish(struct render *r, struct result *res)
{
    res->state = render_get_state(r);
    res->finish = render_finish_reason(r);
    res->err_code = render_error(r, &res->err_msg);
    snprintf(res->err_buf, sizeof(res->err_buf), "%s", res->err_msg ? res->err_msg : "");
    snprintf(res->conv, sizeof(res->conv), "%s", render_conversation_id(r));
    snprintf(res->hid, sizeof(res->hid), "%s", render_history_id(r));
    res->frames = render_frames(r);
}

struct feed_ctx {
    struct render *r;
    struct result *res;
};

static inline int frame_cb(void *arg, const char *event, const char *data, size_t n)
{
    struct feed_ctx *ctx = arg;

    CHECK_STR(event, "message");
    if (render_frame(ctx->r, data, n) != 0)
        ctx->res->not_frames++;
    take_into(ctx->r, ctx->res);
    return 0;
}

static inline struct render_opts opts_of(enum render_think think, enum render_search search,
                                         enum render_profile profile)
{
    struct render_opts o = { think, search, profile, BIG, 0 };
    return o;
}

static const struct render_opts O_DEFAULT = {
    RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, RENDER_PROFILE_AUTO, BIG, 0
};

/* A fixture through sse_feed (whole, or bytewise) into a new render. */
static inline void run_fixture(const char *name, const struct render_opts *o, int bytewise,
                               struct result *res)
{
    char path[256];
    size_t n;

    snprintf(path, sizeof(path), "tests/fixtures/%s", name);
    char *s = test_read_file(path, &n);
    result_init(res);
    CHECK(s != NULL);
    if (!s)
        return;

    struct render *r = render_new(o);
    struct sse_parser *p = sse_parser_new(1u << 20);
    struct feed_ctx ctx = { r, res };
    if (bytewise) {
        for (size_t i = 0; i < n; i++)
            CHECK_INT(sse_feed(p, s + i, 1, frame_cb, &ctx), 0);
    } else {
        CHECK_INT(sse_feed(p, s, n, frame_cb, &ctx), 0);
    }
    CHECK_INT(sse_finish(p, frame_cb, &ctx), 0);
    render_end(r);
    take_into(r, res);
    result_finish(r, res);
    CHECK(res->takes_valid_utf8);
    sse_parser_free(p);
    render_free(r);
    free(s);
}

/* Frames given as strings, straight into render; render_end when end. */
static inline void run_frames(const char *const *frames, size_t n, const struct render_opts *o,
                              int end, struct result *res)
{
    struct render *r = render_new(o);

    result_init(res);
    for (size_t i = 0; i < n; i++) {
        if (render_frame(r, frames[i], strlen(frames[i])) != 0)
            res->not_frames++;
        take_into(r, res);
    }
    if (end)
        render_end(r);
    take_into(r, res);
    result_finish(r, res);
    render_free(r);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Checks one fixture whole and bytewise against the expected answer. */
static inline void expect_fixture(const char *name, const struct render_opts *o,
                                  const char *content, const char *reasoning,
                                  enum render_state state)
{
    for (int bytewise = 0; bytewise <= 1; bytewise++) {
        struct result res;
        int failed = test_failed_checks;
        run_fixture(name, o, bytewise, &res);
        CHECK_STR(buf_cstr(&res.content), content);
        CHECK_STR(buf_cstr(&res.reasoning), reasoning);
        CHECK_INT(res.state, state);
        CHECK_INT(res.not_frames, 0);
        if (state == RENDER_DONE)
            CHECK_STR(res.finish, "stop");
        if (test_failed_checks != failed)
            printf("# in %s, bytewise=%d\n", name, bytewise);
        result_cleanup(&res);
    }
}

#endif
