/* A multipart/form-data reader (RFC 7578), just enough for file_upload:
 * find one named part and report its filename, type and bytes. Pure: no I/O,
 * no allocation; results point into the caller's body. */
#ifndef MOCK_MULTIPART_H
#define MOCK_MULTIPART_H

#include <stddef.h>

struct mock_part {
    const char *data;        /* the part's bytes, borrowed from the body */
    size_t len;
    char filename[256];      /* "" when the part has none */
    char content_type[128];  /* "" when the part has none */
};

/* Finds the first part whose Content-Disposition name is field.
 * Returns 0 when found, -1 when the body is malformed, the Content-Type has no
 * boundary, or no such part exists. */
int mock_multipart_find(const char *content_type, const char *body, size_t len,
                        const char *field, struct mock_part *out);

#endif
