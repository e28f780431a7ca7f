/* SSE framer: whatever the bytes, no crash, and the same events (and the same
 * result) whether the input comes whole or cut into random pieces. The first
 * byte picks the event cap and the cutting. */
#include <string.h>

#include "fuzz.h"
#include "stream/sse.h"
#include "util/buf.h"

static int record(void *arg, const char *event, const char *data, size_t len)
{
    struct buf *log = arg;
    FUZZ_ASSERT(data[len] == '\0');
    FUZZ_ASSERT(buf_puts(log, event) == 0 && buf_putc(log, '\1') == 0 &&
                buf_append(log, data, len) == 0 && buf_putc(log, '\2') == 0);
    return 0;
}

/* seed 0: one feed; else pieces of 1 to 17 bytes. */
static int run(const char *s, size_t n, size_t cap, unsigned seed, struct buf *log)
{
    struct sse_parser *p = sse_parser_new(cap);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0;) {
        size_t k = n - i;
        if (seed) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 17;
            k = k > n - i ? n - i : k;
        }
        rc = sse_feed(p, s + i, k, record, log);
        i += k;
    }
    if (rc == 0)
        rc = sse_finish(p, record, log);
    sse_parser_free(p);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t caps[] = { 1, 16, 100, 1 << 20 };
    if (size < 1)
        return 0;
    size_t cap = caps[data[0] & 3];
    unsigned seed = (data[0] >> 2) + 1u;
    struct buf whole, cut;
    buf_init(&whole, 64u << 20);
    buf_init(&cut, 64u << 20);
    int rc1 = run((const char *)data + 1, size - 1, cap, 0, &whole);
    int rc2 = run((const char *)data + 1, size - 1, cap, seed, &cut);
    FUZZ_ASSERT(rc1 == rc2);
    FUZZ_ASSERT(whole.len == cut.len && memcmp(buf_cstr(&whole), buf_cstr(&cut), whole.len) == 0);
    buf_cleanup(&whole);
    buf_cleanup(&cut);
    return 0;
}
