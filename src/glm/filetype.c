/* File types and names for attachments: see filetype.h. */
#include "glm/filetype.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/crypto.h"
#include "util/jstr.h"
#include "util/xalloc.h"

static const struct {
    const char *ext;
    const char *mime;
} types[] = {
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "bmp", "image/bmp" },
    { "tif", "image/tiff" },
    { "tiff", "image/tiff" },
    { "svg", "image/svg+xml" },
    { "heic", "image/heic" },
    { "pdf", "application/pdf" },
    { "doc", "application/msword" },
    { "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
    { "xls", "application/vnd.ms-excel" },
    { "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
    { "ppt", "application/vnd.ms-powerpoint" },
    { "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
    { "epub", "application/epub+zip" },
    { "zip", "application/zip" },
    { "rtf", "application/rtf" },
    { "txt", "text/plain" },
    { "md", "text/markdown" },
    { "markdown", "text/markdown" },
    { "csv", "text/csv" },
    { "tsv", "text/tab-separated-values" },
    { "html", "text/html" },
    { "htm", "text/html" },
    { "json", "application/json" },
    { "xml", "application/xml" },
    { "py", "text/x-python" },
    { "js", "text/javascript" },
    { "c", "text/x-c" },
    { "h", "text/x-c" },
    { "java", "text/x-java" },
    { "log", "text/plain" },
};
#define NTYPES (sizeof(types) / sizeof(types[0]))

/* The extension of the last path segment (query and fragment ignored). */
static int name_ext(const char *name, char *ext, size_t extlen)
{
    size_t end = strcspn(name, "?#");
    size_t start = end;
    while (start > 0 && name[start - 1] != '/')
        start--;
    const char *dot = NULL;
    for (size_t i = start; i < end; i++)
        if (name[i] == '.')
            dot = name + i;
    if (!dot || dot == name + start)
        return -1;
    size_t n = (size_t)(name + end - dot - 1);
    if (n == 0 || n >= extlen)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)dot[1 + i]))
            return -1;
        ext[i] = (char)tolower((unsigned char)dot[1 + i]);
    }
    ext[n] = '\0';
    return 0;
}

const char *filetype_mime_for_name(const char *name)
{
    char ext[16];
    if (!name)
        return NULL;
    const char *scheme = strstr(name, "://");
    if (scheme) {
        /* A URL: only its path counts ("http://example.com" has no extension). */
        name = strchr(scheme + 3, '/');
        if (!name)
            return NULL;
    }
    if (name_ext(name, ext, sizeof(ext)) < 0)
        return NULL;
    for (size_t i = 0; i < NTYPES; i++)
        if (strcmp(types[i].ext, ext) == 0)
            return types[i].mime;
    return NULL;
}

const char *filetype_ext_for_mime(const char *mime)
{
    for (size_t i = 0; i < NTYPES; i++)
        if (strcasecmp(types[i].mime, mime) == 0)
            return types[i].ext;
    return "bin";
}

/* Valid UTF-8 text without control characters other than whitespace; a
 * sequence cut by the end of the sample is fine. */
static int looks_like_text(const unsigned char *p, size_t n)
{
    if (n > 4096)
        n = 4096;
    size_t i = 0;
    if (n >= 3 && p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
        i = 3; /* BOM */
    while (i < n) {
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f')
                return 0;
            if (c == 0x7f)
                return 0;
            i++;
            continue;
        }
        size_t len;
        long cp = jstr_utf8_decode((const char *)p + i, n - i, &len);
        if (cp == JSTR_UTF8_CUT)
            return 1; /* the sample ends inside a character */
        if (cp == JSTR_UTF8_BAD)
            return 0;
        i += len;
    }
    return 1;
}

const char *filetype_sniff(const unsigned char *p, size_t n)
{
#define HAS(off, s) (n >= (off) + sizeof(s) - 1 && memcmp(p + (off), s, sizeof(s) - 1) == 0)
    if (HAS(0, "\x89PNG\r\n\x1a\n"))
        return "image/png";
    if (HAS(0, "\xff\xd8\xff"))
        return "image/jpeg";
    if (HAS(0, "GIF87a") || HAS(0, "GIF89a"))
        return "image/gif";
    if (HAS(0, "RIFF") && HAS(8, "WEBP"))
        return "image/webp";
    if (HAS(0, "BM") && n >= 14 && !p[6] && !p[7] && !p[8] && !p[9])
        return "image/bmp";
    if (HAS(0, "II*\0") || HAS(0, "MM\0*"))
        return "image/tiff";
    if (HAS(0, "%PDF-"))
        return "application/pdf";
    if (HAS(0, "PK\x03\x04"))
        return "application/zip";
    if (HAS(0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"))
        return "application/x-ole-storage";
    if (HAS(0, "{\\rtf"))
        return "application/rtf";
#undef HAS
    if (n > 0 && looks_like_text(p, n))
        return "text/plain";
    return NULL;
}

/* A declared type worth believing: "type/subtype" in safe characters (it ends
 * up in a multipart header), and not one of the "some bytes" types. */
static int declared_ok(const char *t)
{
    static const char *const generic[] = {
        "application/octet-stream", "binary/octet-stream", "application/unknown",
        "application/binary", "application/x-download", "application/force-download",
    };
    const char *slash = strchr(t, '/');
    if (!slash || slash == t || !slash[1] || strlen(t) > 100)
        return 0;
    for (const char *c = t; *c; c++)
        if (!isalnum((unsigned char)*c) && !strchr("/.+-_", *c))
            return 0;
    if (strchr(slash + 1, '/'))
        return 0;
    for (size_t i = 0; i < sizeof(generic) / sizeof(generic[0]); i++)
        if (strcasecmp(t, generic[i]) == 0)
            return 0;
    return 1;
}

int filetype_resolve(const char *declared, const unsigned char *p, size_t n, const char *name,
                     char *out, size_t outlen)
{
    char d[128] = "";
    if (declared) {
        size_t i = 0;
        while (declared[i] && declared[i] != ';' && i < sizeof(d) - 1) {
            d[i] = (char)tolower((unsigned char)declared[i]);
            i++;
        }
        while (i > 0 && isspace((unsigned char)d[i - 1]))
            i--;
        d[i] = '\0';
    }
    const char *t = declared_ok(d) ? d : NULL;
    if (!t) {
        const char *sniffed = filetype_sniff(p, n);
        const char *by_name = filetype_mime_for_name(name);
        t = sniffed;
        /* Containers say little: the extension tells which kind of them. */
        if (sniffed && by_name) {
            if (strcmp(sniffed, "text/plain") == 0 &&
                (strncmp(by_name, "text/", 5) == 0 || strstr(by_name, "json") ||
                 strstr(by_name, "xml")))
                t = by_name;
            else if (strcmp(sniffed, "application/zip") == 0 &&
                     (strstr(by_name, "openxmlformats") || strstr(by_name, "zip")))
                t = by_name;
            else if (strcmp(sniffed, "application/x-ole-storage") == 0 &&
                     (strstr(by_name, "ms-") || strstr(by_name, "msword")))
                t = by_name;
        }
        if (t && strcmp(t, "application/x-ole-storage") == 0)
            t = "application/msword";
        if (!t)
            t = by_name;
    }
    if (!t)
        return -1;
    snprintf(out, outlen, "%s", t);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

void filetype_filename(const char *name_or_url, const char *mime, char *out, size_t outlen)
{
    char seg[512] = "";
    size_t sn = 0;
    if (name_or_url && *name_or_url) {
        const char *s = name_or_url;
        size_t end = strlen(s);
        int is_url = strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
        if (is_url) {
            end = strcspn(s, "?#");
            const char *path = strchr(strstr(s, "//") + 2, '/');
            if (!path || path >= s + end)
                end = 0; /* no path: no name */
            else
                s = path;
            end = end ? end - (size_t)(s - name_or_url) : 0;
        }
        size_t start = end;
        while (start > 0 && s[start - 1] != '/' && (is_url || s[start - 1] != '\\'))
            start--;
        for (size_t i = start; i < end && sn < sizeof(seg) - 1; i++) {
            int c = (unsigned char)s[i];
            if (is_url && c == '%' && i + 2 < end && hexval(s[i + 1]) >= 0 &&
                hexval(s[i + 2]) >= 0) {
                c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
                i += 2;
            }
            seg[sn++] = (char)c;
        }
        seg[sn] = '\0';
    }
    /* Keep letters, digits, ".-_ " and UTF-8 sequences; the rest becomes "_". */
    char clean[256];
    size_t cn = 0;
    for (size_t i = 0; i < sn && cn < 120;) {
        unsigned char c = (unsigned char)seg[i];
        if (c >= 0x80) {
            size_t len = jstr_utf8_len(seg + i, sn - i);
            if (len && cn + len <= 120) {
                memcpy(clean + cn, seg + i, len);
                cn += len;
                i += len;
            } else {
                clean[cn++] = '_';
                i++;
            }
            continue;
        }
        clean[cn++] = isalnum(c) || c == '.' || c == '-' || c == '_' || c == ' ' ? (char)c : '_';
        i++;
    }
    clean[cn] = '\0';
    char *name = clean;
    while (*name == '.' || *name == ' ')
        name++;
    size_t nl = strlen(name);
    while (nl > 0 && (name[nl - 1] == ' ' || name[nl - 1] == '.'))
        name[--nl] = '\0';
    char hex[33];
    if (!nl) {
        crypto_random_hex(hex, 16);
        name = hex;
    }
    char ext[16];
    if (name_ext(name, ext, sizeof(ext)) == 0)
        snprintf(out, outlen, "%s", name);
    else
        snprintf(out, outlen, "%s.%s", name, filetype_ext_for_mime(mime ? mime : ""));
}

int filetype_data_url(const char *url, size_t len, char *mime, size_t mimelen,
                      unsigned char **data, size_t *n)
{
    *data = NULL;
    *n = 0;
    if (mimelen)
        mime[0] = '\0';
    if (len < 5 || strncasecmp(url, "data:", 5) != 0)
        return -1;
    const char *comma = memchr(url, ',', len);
    if (!comma)
        return -1;
    const char *h = url + 5, *he = comma;
    int b64 = 0;
    size_t first = strcspn(h, ";,");
    if (first > 0 && memchr(h, '/', first) && mimelen)
        snprintf(mime, mimelen, "%.*s", (int)(first < mimelen ? first : mimelen - 1), h);
    for (const char *p = h; p < he;) {
        const char *q = memchr(p, ';', (size_t)(he - p));
        const char *e = q ? q : he;
        if ((size_t)(e - p) == 6 && strncasecmp(p, "base64", 6) == 0)
            b64 = 1;
        p = q ? q + 1 : he;
    }
    const char *d = comma + 1;
    size_t dl = len - (size_t)(d - url);
    if (b64) {
        *data = crypto_base64_decode(d, dl, n);
        if (!*data) {
            /* Some clients wrap base64 in lines: try once without whitespace. */
            char *compact = xmalloc(dl + 1);
            size_t cl = 0;
            for (size_t i = 0; i < dl; i++)
                if (!isspace((unsigned char)d[i]))
                    compact[cl++] = d[i];
            if (cl != dl)
                *data = crypto_base64_decode(compact, cl, n);
            free(compact);
        }
        return *data ? 0 : -1;
    }
    unsigned char *out = xmalloc(dl + 1);
    size_t o = 0;
    for (size_t i = 0; i < dl; i++) {
        if (d[i] == '%' && i + 2 < dl && hexval(d[i + 1]) >= 0 && hexval(d[i + 2]) >= 0) {
            out[o++] = (unsigned char)(hexval(d[i + 1]) * 16 + hexval(d[i + 2]));
            i += 2;
        } else {
            out[o++] = (unsigned char)d[i];
        }
    }
    out[o] = '\0';
    *data = out;
    *n = o;
    return 0;
}
