/* The tool-call recogniser: any bytes, any split. Byte 0 picks the options
 * (parallel, strict, required, a small call cap), byte 1 seeds the cuts; in
 * the rest, \x01 switches to reasoning and \x02 back to text. Checks: the
 * events come in order (calls numbered from 0, begin/args/end, nothing after
 * finish); each call's joined arguments are a JSON object; the same events
 * whether fed whole or cut; and the content sent, fed again, holds no call
 * (no call markup reaches the content). */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "stream/toolcall.h"
#include "../tests/unit/sink_rec.h"

static struct toolcall_decl decls[3];

static void feed(const struct toolcall_opts *o, const char *s, size_t n, unsigned seed,
                 struct rec *r)
{
    rec_init(r);
    struct toolcall *t = toolcall_new(o, rec_sink(r));
    struct sink k = toolcall_sink(t);
    int rc = k.ops->start(k.self), reasoning = 0;
    size_t i = 0;
    while (i < n && rc == ANSWER_GO) {
        if (s[i] == '\x01' || s[i] == '\x02') {
            reasoning = s[i++] == '\x01';
            continue;
        }
        size_t e = i, cut = seed ? 1 + (seed = seed * 1103515245u + 12345u) % 13 : n;
        while (e < n && e - i < cut && s[e] != '\x01' && s[e] != '\x02')
            e++;
        rc = reasoning ? k.ops->reasoning(k.self, s + i, e - i) : k.ops->text(k.self, s + i, e - i);
        i = e;
    }
    if (rc == ANSWER_GO)
        k.ops->finish(k.self, ANSWER_STOP, NULL);
    FUZZ_ASSERT(!r->bad);
    toolcall_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static json_t *schema;
    if (!schema) {
        schema = json_loads("{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
                            "\"n\":{\"type\":\"integer\"}},\"required\":[\"city\"]}", 0, NULL);
        decls[0] = (struct toolcall_decl){ "get_weather", schema };
        decls[1] = (struct toolcall_decl){ "get_time", NULL };
        decls[2] = (struct toolcall_decl){ "a", NULL };
    }
    if (size < 2)
        return 0;
    unsigned o0 = data[0], seed = data[1] | 1;
    struct toolcall_opts o = { decls, 3, o0 & 1, (o0 >> 1) & 1, (o0 >> 2) & 1,
                               (o0 >> 3) & 1 ? 24 : 0, (o0 >> 4) & 1 ? 8 : 0 };
    const char *s = (const char *)data + 2;
    size_t n = size - 2;
    struct rec whole, cut, again;
    feed(&o, s, n, 0, &whole);
    feed(&o, s, n, seed, &cut);
    FUZZ_ASSERT(!whole.bad_json && !cut.bad_json);
    if (strcmp(buf_cstr(&whole.log), buf_cstr(&cut.log)) != 0)
        fprintf(stderr, "whole: %s\ncut:   %s\n", buf_cstr(&whole.log), buf_cstr(&cut.log));
    FUZZ_ASSERT(strcmp(buf_cstr(&whole.log), buf_cstr(&cut.log)) == 0);
    /* The content fed again (not strict, nothing required) holds no call. */
    o.strict = 0;
    o.required = 0;
    feed(&o, whole.text.data ? whole.text.data : "", whole.text.len, 0, &again);
    FUZZ_ASSERT(again.calls == 0);
    rec_cleanup(&whole);
    rec_cleanup(&cut);
    rec_cleanup(&again);
    return 0;
}
