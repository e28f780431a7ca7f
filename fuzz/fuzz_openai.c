/* The OpenAI writer gets text from upstream that may hold any bytes: whatever
 * they are, json_append_string must write a JSON string that parses, and
 * each delta chunk must be one SSE event of valid JSON. The token estimate
 * must not crash either. */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "stream/openai.h"
#include "util/buf.h"
#include "util/jstr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct buf b;
    buf_init(&b, 8 * size + 1024);
    FUZZ_ASSERT(json_append_string(&b, s, size) == 0);
    json_t *v = json_loadb(buf_cstr(&b), b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    FUZZ_ASSERT(json_is_string(v));
    json_decref(v);

    buf_reset(&b);
    if (size == 0) {
        buf_cleanup(&b);
        return 0;
    }
    struct openai_meta m = { "670dd192ac7938d40c0003a1", "glm-4", 1700000000, 0 };
    FUZZ_ASSERT(openai_sse_delta(&b, &m, s, size, s, size / 2) == 0);
    FUZZ_ASSERT(b.len > 8 && memcmp(b.data, "data: ", 6) == 0 &&
                memcmp(b.data + b.len - 2, "\n\n", 2) == 0);
    v = json_loadb(b.data + 6, b.len - 8, JSON_ALLOW_NUL, NULL);
    FUZZ_ASSERT(json_is_object(v));
    json_decref(v);
    FUZZ_ASSERT(usage_estimate(s, size) >= 0);
    buf_cleanup(&b);
    return 0;
}
