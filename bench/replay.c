/* bench/replay: feeds a recorded upstream answer (an SSE transcript, as the
 * mock sends it) through the server's own stream path (stream/pipeline: the
 * same code api/chat.c runs), without any network, and reports the CPU time
 * of each stage:
 *
 *   sse     the SSE framer alone (the floor: every byte merely read once)
 *   render  the pipeline without a writer (frames -> content/reasoning)
 *   full    the pipeline with the OpenAI chunk writer (and the token
 *           estimate), as the server streams an answer
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
 * Prints one line: "<mode> bytes=N events=N out=N cpu_s=X digest=H" (events:
 * SSE events in sse mode, frames the renderer took in the others). The
 * digest (FNV-1a of the produced text: each text piece followed by "|", each
 * reasoning piece preceded by it) lets two builds be compared for
 * byte-identical output; in full mode sse=H is the FNV-1a of the chunks the
 * writer wrote. Also the program to run under callgrind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "stream/openai.h"
#include "stream/pipeline.h"
#include "stream/sse.h"
#include "util/buf.h"

enum mode { MODE_SSE, MODE_RENDER, MODE_FULL, MODE_TEXT, MODE_OPENAI };

struct run {
    enum mode mode;
    struct sink next;           /* after the digest tap: the writer, or none */
    unsigned long long text_digest;
    unsigned long long text_len;
    unsigned long events;
    unsigned long long produced;
    unsigned long long digest;
    unsigned long long sse_digest;
};

static void fnv(unsigned long long *h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *h ^= (unsigned char)s[i];
        *h *= 1099511628211ull;
    }
}

/* ---- the digest tap: a sink stage in front of the writer ---- */

static int tap_start(void *self)
{
    struct run *x = self;
    return x->next.ops ? x->next.ops->start(x->next.self) : ANSWER_GO;
}

static int tap_text(void *self, const char *s, size_t n)
{
    struct run *x = self;
    fnv(&x->text_digest, s, n);
    x->text_len += n;
    fnv(&x->digest, s, n);
    fnv(&x->digest, "|", 1);
    x->produced += n + 1;
    return x->next.ops ? x->next.ops->text(x->next.self, s, n) : ANSWER_GO;
}

static int tap_reasoning(void *self, const char *s, size_t n)
{
    struct run *x = self;
    fnv(&x->digest, "|", 1);
    fnv(&x->digest, s, n);
    x->produced += n + 1;
    return x->next.ops ? x->next.ops->reasoning(x->next.self, s, n) : ANSWER_GO;
}

static int tap_finish(void *self, enum answer_finish why, const char *stop)
{
    struct run *x = self;
    return x->next.ops ? x->next.ops->finish(x->next.self, why, stop) : ANSWER_GO;
}

static int tap_error(void *self, const struct answer_error *e)
{
    struct run *x = self;
    return x->next.ops ? x->next.ops->error(x->next.self, e) : ANSWER_GO;
}

static int tap_usage(void *self, const struct answer_usage *u)
{
    struct run *x = self;
    return x->next.ops ? x->next.ops->usage(x->next.self, u) : ANSWER_GO;
}

static const struct sink_ops tap_ops = {
    .start = tap_start,
    .text = tap_text,
    .reasoning = tap_reasoning,
    .finish = tap_finish,
    .error = tap_error,
    .usage = tap_usage,
};

/* sse and openai modes: the framer alone, or a server's reply read back. */
static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct run *x = arg;

    (void)event;
    x->events++;
    if (x->mode == MODE_SSE)
        return 0;
    /* data: {chunk} ... data: [DONE] */
    json_t *o = json_loadb(data, len, 0, NULL);
    json_t *c = json_object_get(
        json_object_get(json_array_get(json_object_get(o, "choices"), 0), "delta"), "content");
    if (json_is_string(c)) {
        fnv(&x->text_digest, json_string_value(c), json_string_length(c));
        x->text_len += json_string_length(c);
    }
    json_decref(o);
    return 0;
}

static void set_id(void *arg, const char *id)
{
    openai_writer_set_id(arg, id);
}

/* " sse=H" in full mode. */
static const char *sse_tail(const struct run *x, enum mode mode)
{
    static char tail[32];
    tail[0] = '\0';
    if (mode == MODE_FULL)
        snprintf(tail, sizeof(tail), " sse=%016llx", x->sse_digest);
    return tail;
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
        x.digest = x.text_digest = x.sse_digest = 14695981039346656037ull;
        struct buf out;
        buf_init(&out, 64u << 20);
        struct openai_writer_opts wo = { "glm-4", 1700000000, 1, 0, 8u << 20 };
        struct pipeline_opts po = {
            { RENDER_THINK_REASONING, RENDER_SEARCH_INLINE, profile, 8u << 20, dom_only },
            16u << 20, 1, 0, NULL, NULL,
        };
        double t0 = cpu_now();
        int rc = 0, state = 0;
        if (mode == MODE_SSE || mode == MODE_OPENAI) {
            struct sse_parser *p = sse_parser_new(16u << 20);
            for (size_t off = 0; off < len && rc == 0; off += chunk)
                rc = sse_feed(p, data + off, len - off < chunk ? len - off : chunk, on_event, &x);
            if (rc == 0)
                rc = sse_finish(p, on_event, &x);
            sse_parser_free(p);
        } else {
            struct openai_writer *w = NULL;
            if (mode == MODE_FULL) {
                w = openai_writer_new(&wo, &out);
                x.next = openai_writer_sink(w);
                po.on_conversation = set_id;
                po.arg = w;
            }
            struct sink tap = { &tap_ops, &x };
            struct pipeline *p = pipeline_new(&po, tap);
            for (size_t off = 0; off < len && rc == 0; off += chunk) {
                rc = pipeline_feed(p, data + off, len - off < chunk ? len - off : chunk);
                fnv(&x.sse_digest, out.data ? out.data : "", out.len);
                buf_reset(&out);
            }
            pipeline_end(p);
            fnv(&x.sse_digest, out.data ? out.data : "", out.len);
            state = pipeline_render_state(p);
            x.events = pipeline_frames(p);
            pipeline_free(p);
            openai_writer_free(w);
        }
        double t = cpu_now() - t0;
        buf_cleanup(&out);
        if (rc != 0)
            fprintf(stderr, "replay: sse error %d\n", rc);
        if (best < 0 || t < best)
            best = t;
        if (k < repeat - 1)
            continue;
        if (mode == MODE_TEXT || mode == MODE_OPENAI)
            printf("len=%llu text=%016llx\n", x.text_len, x.text_digest);
        else
            printf("%s bytes=%zu events=%lu out=%llu state=%d cpu_s=%.4f digest=%016llx%s\n",
                   mode == MODE_SSE ? "sse" : mode == MODE_RENDER ? "render" : "full", len,
                   x.events, x.produced, state, best, x.digest, sse_tail(&x, mode));
    }
    free(data);
    return 0;
}
