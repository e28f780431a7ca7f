/* bench/replay: feeds a recorded upstream answer (an SSE transcript, as the
 * mock sends it) through the server's own stream path, without any network,
 * and reports the CPU time of each stage:
 *
 *   sse     the SSE framer alone (the floor: every byte merely read once)
 *   render  framer + renderer (frames -> content/reasoning deltas)
 *   full    framer + renderer + OpenAI chunk JSON + token estimate, as in
 *           src/api/chat.c's relay()
 *
 * and two modes that check an answer's text rather than time it:
 *
 *   text    the content the renderer makes of the transcript
 *   openai  the content of a server's streamed reply (OpenAI chunks, read
 *           with jansson): the concatenated delta.content
 *
 * Both print "len=N text=H" (FNV-1a of the text), so a server's reply can be
 * compared with what the transcript says, byte for byte.
 *   replay [-m sse|render|full|text|openai] [-p auto|v1|v2] [-f 1|0] [-c chunk]
 *          [-r repeat] FILE
 *
 * -f 0 turns the renderer's fast path off (every frame through jansson), to
 * compare costs and check that both give the same digest.
 * Prints one line: "<mode> bytes=N events=N out=N cpu_s=X digest=H". The
 * digest (FNV-1a of the produced text) lets two builds be compared for
 * byte-identical output. Also the program to run under callgrind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "stream/openai.h"
#include "stream/render.h"
#include "stream/sse.h"
#include "util/buf.h"

enum mode { MODE_SSE, MODE_RENDER, MODE_FULL, MODE_TEXT, MODE_OPENAI };

struct run {
    enum mode mode;
    struct render *r;
    struct buf out;
    unsigned long long text_digest;
    unsigned long long text_len;
    unsigned long events;
    unsigned long long produced;
    unsigned long long digest;
    long tokens;
};

static void digest_add(struct run *x, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        x->digest ^= (unsigned char)s[i];
        x->digest *= 1099511628211ull;
    }
    x->produced += n;
}

static void text_add(struct run *x, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        x->text_digest ^= (unsigned char)s[i];
        x->text_digest *= 1099511628211ull;
    }
    x->text_len += n;
}

static void take(struct run *x)
{
    const char *c, *rs;
    size_t cl, rl;

    render_take(x->r, &c, &cl, &rs, &rl);
    text_add(x, c, cl);
    if (!cl && !rl)
        return;
    digest_add(x, c, cl);
    digest_add(x, "|", 1);
    digest_add(x, rs, rl);
    if (x->mode != MODE_FULL)
        return;
    struct openai_meta m = { render_conversation_id(x->r), "glm-4", 1700000000, 0 };
    x->tokens += usage_estimate(c, cl) + usage_estimate(rs, rl);
    buf_reset(&x->out);
    if (openai_sse_delta(&x->out, &m, c, cl, rs, rl) < 0)
        fprintf(stderr, "replay: chunk did not fit\n");
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct run *x = arg;

    x->events++;
    if (x->mode == MODE_SSE)
        return 0;
    if (x->mode == MODE_OPENAI) {
        /* data: {chunk} ... data: [DONE] */
        json_t *o = json_loadb(data, len, 0, NULL);
        json_t *c = json_object_get(
            json_object_get(json_array_get(json_object_get(o, "choices"), 0), "delta"), "content");
        if (json_is_string(c))
            text_add(x, json_string_value(c), json_string_length(c));
        json_decref(o);
        return 0;
    }
    if (event[0] && strcmp(event, "message") != 0)
        return 0;
    if (render_frame(x->r, data, len) == 0)
        take(x);
    return 0;
}

static double cpu_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t cap = 0, n = 0;

    if (!f)
        return NULL;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            char *p = realloc(data, cap);
            if (!p) {
                free(data);
                fclose(f);
                return NULL;
            }
            data = p;
        }
        size_t k = fread(data + n, 1, cap - n, f);
        if (!k)
            break;
        n += k;
    }
    fclose(f);
    *len = n;
    return data;
}

int main(int argc, char **argv)
{
    enum mode mode = MODE_FULL;
    enum render_profile profile = RENDER_PROFILE_AUTO;
    size_t chunk = 16384;
    int repeat = 1, dom_only = 0, i;

    for (i = 1; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "-m") == 0)
            mode = strcmp(v, "sse") == 0      ? MODE_SSE
                   : strcmp(v, "render") == 0 ? MODE_RENDER
                   : strcmp(v, "text") == 0   ? MODE_TEXT
                   : strcmp(v, "openai") == 0 ? MODE_OPENAI : MODE_FULL;
        else if (strcmp(argv[i], "-p") == 0)
            profile = strcmp(v, "v1") == 0   ? RENDER_PROFILE_V1
                      : strcmp(v, "v2") == 0 ? RENDER_PROFILE_V2 : RENDER_PROFILE_AUTO;
        else if (strcmp(argv[i], "-c") == 0)
            chunk = strtoul(v, NULL, 10);
        else if (strcmp(argv[i], "-r") == 0)
            repeat = atoi(v);
        else if (strcmp(argv[i], "-f") == 0)
            dom_only = atoi(v) == 0;
    }
    if (i != argc - 1 || !chunk || repeat < 1) {
        fprintf(stderr, "usage: replay [-m sse|render|full|text|openai] [-p auto|v1|v2] [-f 1|0] [-c chunk] "
                        "[-r repeat] FILE\n");
        return 2;
    }
    size_t len;
    char *data = slurp(argv[i], &len);
    if (!data) {
        fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
        return 1;
    }

    struct run x;
    double best = -1;
    for (int k = 0; k < repeat; k++) {
        memset(&x, 0, sizeof(x));
        x.mode = mode;
        x.digest = x.text_digest = 14695981039346656037ull;
        buf_init(&x.out, 64u << 20);
        struct render_opts ro = { RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, profile, 8u << 20,
                                  dom_only };
        double t0 = cpu_now();
        struct sse_parser *p = sse_parser_new(16u << 20);
        x.r = render_new(&ro);
        int rc = 0;
        for (size_t off = 0; off < len && rc == 0; off += chunk)
            rc = sse_feed(p, data + off, len - off < chunk ? len - off : chunk, on_event, &x);
        if (rc == 0)
            rc = sse_finish(p, on_event, &x);
        render_end(x.r);
        take(&x);
        int state = render_get_state(x.r);
        sse_parser_free(p);
        render_free(x.r);
        double t = cpu_now() - t0;
        buf_cleanup(&x.out);
        if (rc != 0)
            fprintf(stderr, "replay: sse error %d\n", rc);
        if (best < 0 || t < best)
            best = t;
        if (k < repeat - 1)
            continue;
        if (mode == MODE_TEXT || mode == MODE_OPENAI)
            printf("len=%llu text=%016llx\n", x.text_len, x.text_digest);
        else
            printf("%s bytes=%zu events=%lu out=%llu state=%d cpu_s=%.4f digest=%016llx\n",
                   mode == MODE_SSE ? "sse" : mode == MODE_RENDER ? "render" : "full", len,
                   x.events, x.produced, state, best, x.digest);
    }
    free(data);
    return 0;
}
