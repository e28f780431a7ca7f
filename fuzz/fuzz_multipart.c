/* The multipart/form-data reader (http/multipart.c) on memory. The first
 * byte picks the boundary's form (plain, quoted, with other parameters) and
 * the part cap; the rest is the body. Oracles: every part lies inside the
 * body, its strings are NUL-terminated within their fields, the count is
 * within the cap; a refusal says why. */
#include <string.h>

#include "fuzz.h"
#include "http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const types[] = {
        "multipart/form-data; boundary=XyZ",
        "multipart/form-data; boundary=\"XyZ\"",
        "Multipart/Form-Data;charset=utf-8; boundary=XyZ; x=y",
        "multipart/form-data; boundary=",
    };
    const char *ct = types[data[0] & 3];
    size_t max = (size_t)(data[0] >> 2) % 9;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    struct mp_part parts[8];
    char err[160] = "";
    int n = multipart_parse(ct, body, len, parts, max, err, sizeof(err));
    if (n < 0) {
        FUZZ_ASSERT(err[0] != '\0');
        return 0;
    }
    FUZZ_ASSERT((size_t)n <= max);
    for (int i = 0; i < n; i++) {
        const struct mp_part *p = &parts[i];
        FUZZ_ASSERT(p->data >= body && p->data + p->len <= body + len);
        FUZZ_ASSERT(memchr(p->name, 0, sizeof(p->name)) && memchr(p->filename, 0, sizeof(p->filename)) &&
                    memchr(p->content_type, 0, sizeof(p->content_type)));
    }
    if (n > 0)
        FUZZ_ASSERT(multipart_find(parts, (size_t)n, parts[0].name) == &parts[0]);
    return 0;
}
