/* glm/answer: the verdict on any body with any status, and the drawing
 * reader on any frame. Byte 0 picks the HTTP status and the stream flag; the
 * rest is the body, then the same bytes as one frame. Checks: a verdict in
 * range, a terminated message, URLs that start with http. */
#include <string.h>

#include "fuzz.h"
#include "glm/answer.h"

/* Reads every byte of each URL, so that ASan sees any slice out of bounds. */
static void on_url(void *arg, const char *url, size_t len)
{
    unsigned *sum = arg;
    for (size_t i = 0; i < len; i++)
        *sum += (unsigned char)url[i];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const long statuses[] = { 200, 401, 429, 400, 403, 500, 502, 404 };
    struct glm_answer a;
    glm_answer_read(statuses[data[0] & 7], (const char *)data + 1, size - 1, data[0] & 8, &a);
    FUZZ_ASSERT(a.verdict >= GLM_OK && a.verdict <= GLM_REFUSED);
    FUZZ_ASSERT(strlen(a.message) < sizeof(a.message));
    unsigned sum = 0;
    struct glm_draw d = { .on_url = on_url, .arg = &sum };
    (void)glm_draw_frame(&d, (const char *)data + 1, size - 1);
    FUZZ_ASSERT(strlen(d.conv) < sizeof(d.conv) && strlen(d.note) < sizeof(d.note));
    return 0;
}
