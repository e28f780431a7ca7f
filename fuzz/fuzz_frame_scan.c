/* The frame scanner (stream/frame_scan.c) on memory, with jansson as the
 * oracle. The input is one or two frames separated by a newline: the first is
 * scanned and its shape kept; the second is read through fview_reuse (when
 * its shape matches: only the text value differs) or scanned afresh. Each
 * view the scanner takes must say what jansson says of the same bytes. */
#include <string.h>

#include "frame_oracle.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nl = memchr(s, '\n', size);
    size_t n1 = nl ? (size_t)(nl - s) : size;
    struct fview *fv = fview_new();

    FUZZ_ASSERT(fview_reuse(fv, s, n1) == 0);
    int rc = fview_scan(fv, s, n1);
    const char *bad = frame_oracle(fv, rc, s, n1);
    if (bad)
        fprintf(stderr, "first frame: %s\n", bad);
    FUZZ_ASSERT(!bad);
    if (rc == 0)
        fview_keep_shape(fv, s, n1);
    if (nl) {
        const char *s2 = nl + 1;
        size_t n2 = size - n1 - 1;
        rc = fview_reuse(fv, s2, n2) ? 0 : fview_scan(fv, s2, n2);
        bad = frame_oracle(fv, rc, s2, n2);
        if (bad)
            fprintf(stderr, "second frame: %s\n", bad);
        FUZZ_ASSERT(!bad);
    }
    fview_free(fv);
    return 0;
}
