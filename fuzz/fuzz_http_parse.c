/* The pure HTTP/1.1 parser (http/parse), on memory: no socket, no loop.
 * Byte 0 picks the parser: even, the input is a request head; odd, a
 * chunk-size line. Oracles: a parsed head's strings are inside the input, its framing is one of the three, a refused head carries a
 * 4xx/5xx status, a code and a message; a chunk size parses only when the
 * line ends in LF. */
#include <string.h>

#include "fuzz.h"
#include "http/parse.h"

/* In the input, or one of the parser's constants ("" and the "/" of an
 * absolute-form target without a path). */
static int inside(const char *s, const char *base, size_t n)
{
    return !strcmp(s, "") || !strcmp(s, "/") || (s >= base && s < base + n + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    if (mode & 1) {
        uint64_t v;
        if (http_parse_chunk_size(p, n, &v) == 0)
            FUZZ_ASSERT(n >= 2 && p[n - 1] == '\n');
        return 0;
    }
    char *head = malloc(n + 1);
    FUZZ_ASSERT(head);
    memcpy(head, p, n);
    head[n] = '\0';
    struct http_head h;
    struct http_perr e;
    size_t max_body = (size_t)(mode >> 1) * 1000;
    if (http_parse_head(head, n, max_body, &h, &e) == 0) {
        FUZZ_ASSERT(inside(h.method, head, n) && inside(h.path, head, n) &&
                    inside(h.query, head, n));
        for (size_t i = 0; i < h.nhdrs; i++) {
            FUZZ_ASSERT(inside(h.hdrs[i].name, head, n) && inside(h.hdrs[i].value, head, n));
            (void)strlen(h.hdrs[i].value);
        }
        FUZZ_ASSERT(h.body == HTTP_BODY_NONE || h.body == HTTP_BODY_CHUNKED ||
                    (h.body == HTTP_BODY_LENGTH && h.content_length > 0 &&
                     h.content_length <= max_body));
    } else {
        FUZZ_ASSERT(e.status >= 400 && e.status < 600 && e.code && e.msg[0]);
    }
    http_head_cleanup(&h);
    free(head);
    return 0;
}
