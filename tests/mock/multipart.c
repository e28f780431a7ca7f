#include "multipart.h"

#include <string.h>
#include <strings.h>

#include "misc.h"

#define MAX_BOUNDARY 200

/* Copies the value of parameter key from a header value such as
 * `form-data; name="file"; filename="a.png"` into out. Returns 1 when found. */
static int header_param(const char *v, size_t len, const char *key, char *out, size_t outsz)
{
    const char *p = v, *end = v + len;
    size_t klen = strlen(key);
    while (p < end) {
        while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
            p++;
        const char *k = p;
        while (p < end && *p != '=' && *p != ';')
            p++;
        const char *kend = p;
        while (kend > k && (kend[-1] == ' ' || kend[-1] == '\t'))
            kend--;
        if (p >= end || *p != '=')
            continue;
        p++;
        size_t n = 0;
        int match = (size_t)(kend - k) == klen && strncasecmp(k, key, klen) == 0;
        if (p < end && *p == '"') {
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                if (match && n + 1 < outsz)
                    out[n++] = *p;
            }
            if (p < end)
                p++;
        } else {
            for (; p < end && *p != ';'; p++)
                if (match && n + 1 < outsz && *p != ' ' && *p != '\t')
                    out[n++] = *p;
        }
        if (match) {
            out[n] = '\0';
            return 1;
        }
    }
    return 0;
}

static int get_boundary(const char *ctype, char *out, size_t outsz)
{
    if (!ctype || strncasecmp(ctype, "multipart/", 10) != 0)
        return -1;
    const char *semi = strchr(ctype, ';');
    if (!semi || !header_param(semi, strlen(semi), "boundary", out, outsz) || !out[0])
        return -1;
    return 0;
}

/* Fills name/filename/content_type from the header block [h, hend). */
static void parse_headers(const char *h, const char *hend, char *name, size_t namesz,
                          struct mock_part *part)
{
    while (h < hend) {
        const char *eol = memchr(h, '\n', (size_t)(hend - h));
        const char *line_end = eol ? eol : hend;
        const char *le = line_end;
        if (le > h && le[-1] == '\r')
            le--;
        const char *colon = memchr(h, ':', (size_t)(le - h));
        if (colon) {
            size_t klen = (size_t)(colon - h);
            const char *v = colon + 1;
            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            if (klen == 19 && strncasecmp(h, "content-disposition", 19) == 0) {
                const char *semi = memchr(v, ';', (size_t)(le - v));
                if (semi) {
                    header_param(semi, (size_t)(le - semi), "name", name, namesz);
                    header_param(semi, (size_t)(le - semi), "filename", part->filename,
                                 sizeof(part->filename));
                }
            } else if (klen == 12 && strncasecmp(h, "content-type", 12) == 0) {
                size_t n = (size_t)(le - v);
                if (n >= sizeof(part->content_type))
                    n = sizeof(part->content_type) - 1;
                memcpy(part->content_type, v, n);
                part->content_type[n] = '\0';
            }
        }
        h = eol ? eol + 1 : hend;
    }
}

int mock_multipart_find(const char *content_type, const char *body, size_t len,
                        const char *field, struct mock_part *out)
{
    char boundary[MAX_BOUNDARY + 1];
    char delim[MAX_BOUNDARY + 5];
    if (get_boundary(content_type, boundary, sizeof(boundary)) < 0)
        return -1;
    /* delim is "\r\n--boundary"; the first delimiter may lack the CRLF. */
    size_t blen = strlen(boundary);
    memcpy(delim, "\r\n--", 4);
    memcpy(delim + 4, boundary, blen + 1);
    size_t dlen = blen + 4;

    const char *end = body + len, *p;
    if (len >= dlen - 2 && memcmp(body, delim + 2, dlen - 2) == 0)
        p = body + dlen - 2;
    else {
        p = mock_memfind(body, len, delim, dlen);
        if (!p)
            return -1;
        p += dlen;
    }
    for (;;) {
        /* p is just past a delimiter. */
        if (end - p >= 2 && p[0] == '-' && p[1] == '-')
            return -1; /* close delimiter: no such part */
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
            p += 2;
        else if (p < end && *p == '\n')
            p++;
        else
            return -1;
        const char *hend, *data;
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
            hend = p;
            data = p + 2;
        } else {
            hend = mock_memfind(p, (size_t)(end - p), "\r\n\r\n", 4);
            if (!hend)
                return -1;
            data = hend + 4;
        }
        const char *next = mock_memfind(data, (size_t)(end - data), delim, dlen);
        if (!next)
            return -1;
        char name[128] = "";
        memset(out, 0, sizeof(*out));
        parse_headers(p, hend, name, sizeof(name), out);
        if (strcmp(name, field) == 0) {
            out->data = data;
            out->len = (size_t)(next - data);
            return 0;
        }
        p = next + dlen;
    }
}
