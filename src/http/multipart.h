/* A multipart/form-data reader (RFC 7578) for request bodies: the parts'
 * names, filenames, types and bytes. Pure: no I/O, no allocation; the parts
 * point into the caller's body. Bounded: at most max parts, names and types
 * cut to their fields' sizes, part heads of at most 8 KiB. */
#ifndef GLM_HTTP_MULTIPART_H
#define GLM_HTTP_MULTIPART_H

#include <stddef.h>

struct mp_part {
    char name[128];          /* Content-Disposition name ("" when none) */
    char filename[256];      /* "" when the part has none */
    int has_filename;        /* a file (filename given, even empty) */
    char content_type[128];  /* lower case, without parameters; "" when none */
    const char *data;        /* borrowed from the body */
    size_t len;
};

/* 1 when content_type is multipart/form-data (with or without parameters). */
int multipart_is_form(const char *content_type);

/* Splits body into at most max parts (in order). Returns the number of parts,
 * or -1 with a reason in err: no boundary, no opening delimiter, a part
 * without its closing delimiter, a head too long, more than max parts. */
int multipart_parse(const char *content_type, const char *body, size_t len,
                    struct mp_part *parts, size_t max, char *err, size_t errlen);

/* The first part named name, or NULL. */
const struct mp_part *multipart_find(const struct mp_part *parts, size_t n, const char *name);

#endif
