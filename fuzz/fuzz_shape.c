/* The stop cutter, the length cutter and the JSON-output stage: any text, any
 * split. Byte 0 picks the stage, byte 1 the cuts, then up to 4 stop strings
 * (length-prefixed) or a max_tokens; the rest is the answer text. Checks:
 * stop: what goes out is the text up to the first match (the stop string
 * after it is in the input there), never holds a stop string, and is the same
 * whole or cut; length: what goes out is a prefix of the text whose estimate
 * is at most max_tokens; JSON: at most one text event, a JSON object that
 * parses, the same whole or cut. */
#define _GNU_SOURCE /* memmem */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "stream/cut.h"
#include "stream/jsonout.h"
#include "stream/openai.h"
#include "../tests/unit/sink_rec.h"

struct setup {
    unsigned kind;
    const char *stops[STOPCUT_MAX];
    char stopbuf[STOPCUT_MAX][32];
    size_t nstops;
    long max_tokens;
};

static void feed(const struct setup *su, const char *s, size_t n, unsigned seed, struct rec *r)
{
    rec_init(r);
    struct stopcut *sc = NULL;
    struct lencut *lc = NULL;
    struct jsonout *jo = NULL;
    struct sink k;
    if (su->kind == 0) {
        sc = stopcut_new(su->stops, su->nstops, rec_sink(r));
        k = stopcut_sink(sc);
    } else if (su->kind == 1) {
        lc = lencut_new(su->max_tokens, rec_sink(r));
        k = lencut_sink(lc);
    } else {
        struct jsonout_opts o = { NULL, su->kind == 3, 4096 };
        jo = jsonout_new(&o, rec_sink(r));
        k = jsonout_sink(jo);
    }
    int rc = k.ops->start(k.self);
    for (size_t i = 0; i < n && rc == ANSWER_GO;) {
        size_t cut = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 11 : n;
        if (cut > n - i)
            cut = n - i;
        rc = k.ops->text(k.self, s + i, cut);
        i += cut;
    }
    if (rc == ANSWER_GO)
        (void)k.ops->finish(k.self, ANSWER_STOP, NULL);
    FUZZ_ASSERT(!r->bad);
    stopcut_free(sc);
    lencut_free(lc);
    jsonout_free(jo);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = { data, size };
    struct setup su;
    memset(&su, 0, sizeof(su));
    su.kind = fuzz_byte(&in) % 4;
    unsigned seed = fuzz_byte(&in) | 1;
    if (su.kind == 0) {
        size_t ns = 1 + fuzz_byte(&in) % STOPCUT_MAX;
        for (size_t i = 0; i < ns; i++) {
            size_t len;
            const char *p = fuzz_bytes(&in, 8, &len);
            if (!len || memchr(p, '\0', len))
                continue;
            memcpy(su.stopbuf[su.nstops], p, len);
            su.stopbuf[su.nstops][len] = '\0';
            su.stops[su.nstops] = su.stopbuf[su.nstops];
            su.nstops++;
        }
        if (!su.nstops)
            return 0;
    } else if (su.kind == 1) {
        su.max_tokens = 1 + fuzz_byte(&in) % 64;
    }
    const char *s = (const char *)in.p;
    size_t n = in.n;
    struct rec whole, cut;
    feed(&su, s, n, 0, &whole);
    feed(&su, s, n, seed, &cut);
    const char *t = whole.text.data ? whole.text.data : "";
    size_t tn = whole.text.len;
    if (su.kind < 2) /* a prefix of the input */
        FUZZ_ASSERT(tn <= n && memcmp(t, s, tn) == 0);
    if (su.kind != 1 && strcmp(buf_cstr(&whole.log), buf_cstr(&cut.log)) != 0)
        fprintf(stderr, "whole: %s\ncut:   %s\n", buf_cstr(&whole.log), buf_cstr(&cut.log));
    if (su.kind == 0) {
        FUZZ_ASSERT(strcmp(buf_cstr(&whole.log), buf_cstr(&cut.log)) == 0);
        for (size_t i = 0; i < su.nstops; i++)
            FUZZ_ASSERT(!memmem(t, tn, su.stops[i], strlen(su.stops[i])));
        if (tn < n) { /* cut: a stop string begins right there */
            int found = 0;
            for (size_t i = 0; i < su.nstops; i++)
                found |= n - tn >= strlen(su.stops[i]) &&
                         memcmp(s + tn, su.stops[i], strlen(su.stops[i])) == 0;
            FUZZ_ASSERT(found);
        }
    } else if (su.kind == 1) {
        const char *c = cut.text.data ? cut.text.data : "";
        FUZZ_ASSERT(usage_estimate(t, tn) <= su.max_tokens);
        /* Cut into pieces, each piece's estimate is rounded up on its own:
         * never more in all than the limit. */
        FUZZ_ASSERT(usage_estimate(c, cut.text.len) <= su.max_tokens);
        FUZZ_ASSERT(cut.text.len <= n && memcmp(c, s, cut.text.len) == 0);
    } else {
        FUZZ_ASSERT(strcmp(buf_cstr(&whole.log), buf_cstr(&cut.log)) == 0);
        if (tn) {
            FUZZ_ASSERT(memmem(s, n, t, tn) != NULL); /* as the model wrote it */
            json_t *j = json_loadb(t, tn, 0, NULL);
            FUZZ_ASSERT(json_is_object(j));
            json_decref(j);
        }
    }
    rec_cleanup(&whole);
    rec_cleanup(&cut);
    return 0;
}
