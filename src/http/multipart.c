#include "http/multipart.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MP_MAX_BOUNDARY 200
#define MP_MAX_HEAD 8192

static const char *memfind(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 0 || hlen < nlen)
        return NULL;
    const char *end = hay + hlen - nlen;
    for (const char *p = hay; p <= end; p++) {
        p = memchr(p, needle[0], (size_t)(end - p) + 1);
        if (!p)
            return NULL;
        if (memcmp(p, needle, nlen) == 0)
            return p;
    }
    return NULL;
}

/* The value of parameter key in a header value ("a; key=v; ..." or key="v"),
 * into out (cut to outlen-1). Returns 1 when present. */
static int header_param(const char *v, size_t vlen, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    size_t i = 0;
    out[0] = '\0';
    while (i < vlen) {
        /* to the next ';' (outside quotes) */
        int quoted = 0;
        while (i < vlen && (quoted || v[i] != ';')) {
            if (v[i] == '"')
                quoted = !quoted;
            else if (v[i] == '\\' && quoted)
                i++;
            i++;
        }
        if (i >= vlen)
            return 0;
        i++;
        while (i < vlen && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (vlen - i > klen && strncasecmp(v + i, key, klen) == 0 && v[i + klen] == '=') {
            i += klen + 1;
            size_t o = 0;
            if (i < vlen && v[i] == '"') {
                i++;
                while (i < vlen && v[i] != '"') {
                    if (v[i] == '\\' && i + 1 < vlen)
                        i++;
                    if (o + 1 < outlen)
                        out[o++] = v[i];
                    i++;
                }
            } else {
                while (i < vlen && v[i] != ';' && v[i] != ' ' && v[i] != '\t') {
                    if (o + 1 < outlen)
                        out[o++] = v[i];
                    i++;
                }
            }
            out[o] = '\0';
            return 1;
        }
    }
    return 0;
}

int multipart_is_form(const char *ct)
{
    if (!ct)
        return 0;
    while (*ct == ' ')
        ct++;
    return strncasecmp(ct, "multipart/form-data", 19) == 0 &&
           (ct[19] == '\0' || ct[19] == ';' || ct[19] == ' ');
}

/* One part's head: Content-Disposition and Content-Type lines. */
static int read_head(const char *h, size_t len, struct mp_part *p)
{
    size_t i = 0;
    while (i < len) {
        const char *line = h + i;
        const char *eol = memfind(line, len - i, "\r\n", 2);
        size_t ll = eol ? (size_t)(eol - line) : len - i;
        const char *colon = memchr(line, ':', ll);
        if (colon) {
            size_t nl = (size_t)(colon - line);
            const char *v = colon + 1;
            size_t vl = ll - nl - 1;
            while (vl && (*v == ' ' || *v == '\t')) {
                v++;
                vl--;
            }
            if (nl == 19 && strncasecmp(line, "Content-Disposition", 19) == 0) {
                header_param(v, vl, "name", p->name, sizeof(p->name));
                p->has_filename = header_param(v, vl, "filename", p->filename,
                                               sizeof(p->filename));
            } else if (nl == 12 && strncasecmp(line, "Content-Type", 12) == 0) {
                size_t o = 0;
                for (size_t k = 0; k < vl && v[k] != ';' && o + 1 < sizeof(p->content_type); k++)
                    p->content_type[o++] = (char)tolower((unsigned char)v[k]);
                while (o && p->content_type[o - 1] == ' ')
                    o--;
                p->content_type[o] = '\0';
            }
        }
        i += ll + 2;
    }
    return 0;
}

int multipart_parse(const char *content_type, const char *body, size_t len,
                    struct mp_part *parts, size_t max, char *err, size_t errlen)
{
    char b[MP_MAX_BOUNDARY + 1];
    char delim[MP_MAX_BOUNDARY + 8];
    if (!multipart_is_form(content_type) ||
        !header_param(content_type, strlen(content_type), "boundary", b, sizeof(b)) || !b[0] ||
        strlen(b) > 70) {
        snprintf(err, errlen, "the Content-Type is not multipart/form-data with a boundary");
        return -1;
    }
    /* "\r\n--boundary": the delimiter of every part but the first. */
    int dl = snprintf(delim, sizeof(delim), "\r\n--%s", b);
    size_t pos;
    if (len >= (size_t)dl - 2 && memcmp(body, delim + 2, (size_t)dl - 2) == 0) {
        pos = (size_t)dl - 2;
    } else {
        const char *first = memfind(body, len, delim, (size_t)dl);
        if (!first) {
            snprintf(err, errlen, "the body does not start with the multipart boundary");
            return -1;
        }
        pos = (size_t)(first - body) + (size_t)dl;
    }
    size_t n = 0;
    for (;;) {
        /* after a delimiter: "--" ends, else transport padding and CRLF */
        if (len - pos >= 2 && body[pos] == '-' && body[pos + 1] == '-')
            return (int)n;
        while (pos < len && (body[pos] == ' ' || body[pos] == '\t'))
            pos++;
        if (len - pos < 2 || body[pos] != '\r' || body[pos + 1] != '\n') {
            snprintf(err, errlen, "a multipart delimiter is not followed by a line end");
            return -1;
        }
        pos += 2;
        const char *hend = memfind(body + pos, len - pos > MP_MAX_HEAD ? MP_MAX_HEAD : len - pos,
                                   "\r\n\r\n", 4);
        size_t hlen;
        size_t dstart;
        if (len - pos >= 2 && body[pos] == '\r' && body[pos + 1] == '\n') {
            hlen = 0; /* a part without headers */
            dstart = pos + 2;
        } else if (hend) {
            hlen = (size_t)(hend - (body + pos));
            dstart = pos + hlen + 4;
        } else {
            snprintf(err, errlen, "a multipart part head is missing its end or longer than %d "
                     "bytes", MP_MAX_HEAD);
            return -1;
        }
        const char *end = memfind(body + dstart, len - dstart, delim, (size_t)dl);
        if (!end) {
            snprintf(err, errlen, "a multipart part is missing its closing boundary");
            return -1;
        }
        if (n == max) {
            snprintf(err, errlen, "more than %zu multipart parts", max);
            return -1;
        }
        struct mp_part *p = &parts[n++];
        memset(p, 0, sizeof(*p));
        read_head(body + pos, hlen, p);
        p->data = body + dstart;
        p->len = (size_t)(end - (body + dstart));
        pos = (size_t)(end - body) + (size_t)dl;
    }
}

const struct mp_part *multipart_find(const struct mp_part *parts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(parts[i].name, name) == 0)
            return &parts[i];
    return NULL;
}
