#include "glm/upload.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "app.h"
#include "config.h"
#include "glm/request.h"
#include "log.h"
#include "net/curl_loop.h"
#include "net/fetch.h"
#include "net/upcall.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/xalloc.h"

/* ---- types and names ---------------------------------------------------- */

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

const char *upload_mime_for_name(const char *name)
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

const char *upload_ext_for_mime(const char *mime)
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
        size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
        if (!len || (c >= 0xf0 && len != 4))
            return 0;
        for (size_t k = 1; k < len; k++) {
            if (i + k >= n)
                return 1;
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
        }
        i += len;
    }
    return 1;
}

const char *upload_sniff(const unsigned char *p, size_t n)
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

int upload_resolve_type(const char *declared, const unsigned char *p, size_t n, const char *name,
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
        const char *sniffed = upload_sniff(p, n);
        const char *by_name = upload_mime_for_name(name);
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

void upload_filename(const char *name_or_url, const char *mime, char *out, size_t outlen)
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
            size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 && c < 0xf0 ? 3
                       : c >= 0xc2 && c < 0xe0 ? 2 : 0;
            int ok = len && i + len <= sn;
            for (size_t k = 1; ok && k < len; k++)
                ok = ((unsigned char)seg[i + k] & 0xc0) == 0x80;
            if (ok && cn + len <= 120) {
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
        snprintf(out, outlen, "%s.%s", name, upload_ext_for_mime(mime ? mime : ""));
}

int upload_data_url(const char *url, size_t len, char *mime, size_t mimelen, unsigned char **data,
                    size_t *n)
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

/* JavaScript truthiness of width/height: glm-free-api's test. */
static int truthy(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) != 0;
    if (json_is_real(v))
        return json_real_value(v) != 0;
    if (json_is_string(v))
        return json_string_length(v) > 0;
    return json_is_true(v) || json_is_object(v) || json_is_array(v);
}

int upload_answer(long http_status, const char *body, size_t len, json_t **result, int *is_image,
                  char *err, size_t errlen)
{
    *result = NULL;
    *is_image = 0;
    json_t *root = json_loadb(body, len, 0, NULL);
    json_t *st = json_object_get(root, "status");
    json_t *msg = json_object_get(root, "message");
    json_t *res = json_object_get(root, "result");
    int rc = -1;
    char quoted[260] = "";
    if (json_is_string(msg))
        log_escape(json_string_value(msg), json_string_length(msg), quoted);
    if (http_status != 200 || !root) {
        snprintf(err, errlen, "chatglm.cn answered HTTP %ld%s%s%s", http_status,
                 quoted[0] ? " (" : "", quoted, quoted[0] ? ")" : "");
    } else if (json_is_integer(st) && json_integer_value(st) != 0) {
        snprintf(err, errlen, "chatglm.cn refused it (%lld%s%s)",
                 (long long)json_integer_value(st), quoted[0] ? ": " : "", quoted);
    } else if (!json_is_object(res) || !json_is_string(json_object_get(res, "file_url"))) {
        snprintf(err, errlen, "chatglm.cn answered without a file_url");
    } else {
        *is_image = truthy(json_object_get(res, "width")) || truthy(json_object_get(res, "height"));
        *result = json_incref(res);
        rc = 0;
    }
    json_decref(root);
    return rc;
}

/* ---- the list ----------------------------------------------------------- */

struct upload_item {
    char param[64];             /* where it was in the request */
    char *url;                  /* an http(s) URL, or NULL */
    char *given_name;           /* a filename sent with the data, or NULL */
    unsigned char *data;        /* the decoded data URL */
    size_t len;
    char mime[128];             /* resolved (data) */
};

struct upload_list {
    struct upload_item *v;
    size_t n;
};

size_t upload_list_len(const struct upload_list *l)
{
    return l ? l->n : 0;
}

void upload_list_free(struct upload_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].url);
        free(l->v[i].given_name);
        free(l->v[i].data);
    }
    free(l->v);
    free(l);
}

static int set_error(struct upload_error *e, int status, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int set_error(struct upload_error *e, int status, const char *code, const char *param,
                     const char *fmt, ...)
{
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* Decodes and types the data of one item. */
static int item_take_data(struct upload_item *it, const char *src, size_t len, int is_data_url,
                          size_t max_file, struct upload_error *err)
{
    char declared[128] = "";
    if (is_data_url) {
        if (upload_data_url(src, len, declared, sizeof(declared), &it->data, &it->len) < 0)
            return set_error(err, 400, "invalid_base64", it->param,
                             "%s: the data URL is not valid base64 (data:<type>;base64,<data>)",
                             it->param);
    } else {
        it->data = crypto_base64_decode(src, len, &it->len);
        if (!it->data)
            return set_error(err, 400, "invalid_base64", it->param,
                             "%s: file_data is not valid base64", it->param);
    }
    if (it->len == 0)
        return set_error(err, 400, "empty_file", it->param, "%s: the file is empty", it->param);
    if (it->len > max_file)
        return set_error(err, 400, "file_too_large", it->param,
                         "%s: the file has %zu bytes, more than the limit of %zu (setting "
                         "max-file)", it->param, it->len, max_file);
    if (upload_resolve_type(declared, it->data, it->len, it->given_name, it->mime,
                            sizeof(it->mime)) < 0)
        return set_error(err, 400, "unknown_file_type", it->param,
                         "%s: the type of the file cannot be told (no media type in the data URL "
                         "and unknown content)", it->param);
    return 0;
}

/* One content part; *found is set when it is an attachment. */
static int parse_part(const json_t *part, struct upload_item *it, int *found, size_t max_file,
                      struct upload_error *err)
{
    *found = 0;
    const char *type = json_string_value(json_object_get(part, "type"));
    json_t *src = NULL;
    if (type && strcmp(type, "image_url") == 0) {
        src = json_object_get(part, "image_url");
    } else if (type && strcmp(type, "file") == 0) {
        src = json_object_get(part, "file_url");
        json_t *file = json_object_get(part, "file");
        if (!src && json_is_object(file)) {
            *found = 1;
            json_t *fd = json_object_get(file, "file_data");
            json_t *fname = json_object_get(file, "filename");
            if (json_is_string(fname) && json_string_length(fname))
                it->given_name = xstrdup(json_string_value(fname));
            if (!json_is_string(fd) || !json_string_length(fd))
                return set_error(err, 400, "invalid_attachment", it->param,
                                 "%s: a file part needs file.file_data (uploaded files are not "
                                 "supported: send the data or a file_url)", it->param);
            const char *d = json_string_value(fd);
            size_t dl = json_string_length(fd);
            return item_take_data(it, d, dl, strncasecmp(d, "data:", 5) == 0, max_file, err);
        }
    } else {
        return 0;
    }
    *found = 1;
    if (json_is_object(src))
        src = json_object_get(src, "url");
    if (!json_is_string(src) || !json_string_length(src))
        return set_error(err, 400, "invalid_attachment", it->param,
                         "%s: expected {\"type\":\"%s\",\"%s\":{\"url\":\"http(s):// or data: "
                         "URL\"}}", it->param, type, strcmp(type, "file") == 0 ? "file_url"
                                                                            : "image_url");
    const char *url = json_string_value(src);
    size_t ul = json_string_length(src);
    if (strncasecmp(url, "data:", 5) == 0)
        return item_take_data(it, url, ul, 1, max_file, err);
    char host[256], why[256];
    if (fetch_url_check(url, host, sizeof(host), why, sizeof(why)) < 0)
        return set_error(err, 400, "invalid_url", it->param, "%s: %s", it->param, why);
    it->url = xstrdup(url);
    return 0;
}

int upload_list_parse(const json_t *messages, size_t max_attachments, size_t max_file,
                      struct upload_list **out, struct upload_error *err)
{
    *out = NULL;
    size_t nm = json_array_size(messages);
    if (nm == 0)
        return 0;
    json_t *content = json_object_get(json_array_get(messages, nm - 1), "content");
    if (!json_is_array(content))
        return 0;
    struct upload_list *l = xcalloc(1, sizeof(*l));
    size_t k;
    json_t *part;
    json_array_foreach(content, k, part) {
        struct upload_item it;
        memset(&it, 0, sizeof(it));
        snprintf(it.param, sizeof(it.param), "messages[%zu].content[%zu]", nm - 1, k);
        int found;
        int rc = parse_part(part, &it, &found, max_file, err);
        if (found && rc == 0 && l->n >= max_attachments)
            rc = set_error(err, 400, "too_many_attachments", it.param,
                           "the last message carries more than %zu files and images (setting "
                           "max-attachments)", max_attachments);
        if (rc < 0 || !found) {
            free(it.url);
            free(it.given_name);
            free(it.data);
            if (rc < 0) {
                upload_list_free(l);
                return -1;
            }
            continue;
        }
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = it;
    }
    if (l->n == 0) {
        upload_list_free(l);
        return 0;
    }
    *out = l;
    return 0;
}

/* ---- settings ----------------------------------------------------------- */

void upload_fetch_opts(struct fetch_opts *o, const char *rid)
{
    /* Parsed once per distinct setting; kept for the life of the process. */
    static struct fetch_allow *allow;
    static char *allow_text;
    if (!allow_text || strcmp(allow_text, cfg.fetch_allow ? cfg.fetch_allow : "") != 0) {
        char err[256];
        fetch_allow_free(allow);
        free(allow_text);
        allow_text = xstrdup(cfg.fetch_allow ? cfg.fetch_allow : "");
        allow = fetch_allow_parse(allow_text, err, sizeof(err));
        if (!allow)
            LOG(LOG_ERROR, "fetch-allow: %s (nothing is allowed)", err);
    }
    memset(o, 0, sizeof(*o));
    o->max_bytes = (size_t)cfg.max_file;
    o->connect_timeout = cfg.fetch_connect_timeout;
    o->timeout = cfg.fetch_timeout;
    o->max_redirects = cfg.max_redirects;
    o->allow = allow;
    o->rid = rid;
}

/* ---- the run ------------------------------------------------------------ */

struct upload_job {
    struct upload_run *run;
    const struct upload_item *item;
    struct fetch *fetch;
    struct upcall *call;
    unsigned char *owned;       /* a download */
    const unsigned char *data;  /* the bytes to upload (owned or the item's) */
    size_t len;
    size_t off;                 /* read position of the upload */
    char mime[128];
    char name[256];
    json_t *result;
    int is_image;
};

struct upload_run {
    struct upload_job *jobs;
    size_t n;
    int starting;               /* inside upload_run_start */
    char *access;
    char rid[48];
    CURL *mime_easy;            /* for curl_mime_init; lives as long as the run */
    upload_done_fn *done;
    void *arg;
    int failed;
    struct upload_error err;
    struct event *finish_ev;
};

static void run_free(struct upload_run *r)
{
    for (size_t i = 0; i < r->n; i++) {
        struct upload_job *j = &r->jobs[i];
        fetch_cancel(j->fetch);
        upcall_cancel(j->call);
        free(j->owned);
        json_decref(j->result);
    }
    free(r->jobs);
    if (r->mime_easy)
        curl_easy_cleanup(r->mime_easy);
    if (r->finish_ev)
        event_free(r->finish_ev);
    free(r->access);
    free(r);
}

void upload_run_cancel(struct upload_run *r)
{
    if (r)
        run_free(r);
}

static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct upload_run *r = arg;
    json_t *files = json_array(), *images = json_array();
    if (!r->failed)
        for (size_t i = 0; i < r->n; i++) {
            struct upload_job *j = &r->jobs[i];
            if (!j->is_image) {
                json_array_append(files, j->result);
                continue;
            }
            json_t *img = json_copy(j->result);
            json_object_set(img, "image_url", json_object_get(img, "file_url"));
            json_array_append_new(images, img);
        }
    r->done(r->arg, r->failed ? &r->err : NULL, files, images);
    json_decref(files);
    json_decref(images);
    run_free(r);
}

/* One job is over (well or not). After a failure the others stop at once;
 * when none is left running, done is called from the loop. */
static void job_over(struct upload_job *j)
{
    struct upload_run *r = j->run;
    int running = 0;
    for (size_t i = 0; i < r->n; i++) {
        struct upload_job *o = &r->jobs[i];
        if (r->failed) {
            fetch_cancel(o->fetch);
            o->fetch = NULL;
            upcall_cancel(o->call);
            o->call = NULL;
        }
        running |= o->fetch || o->call;
    }
    if (!running && !r->starting)
        event_active(r->finish_ev, EV_TIMEOUT, 0);
}

static void job_fail(struct upload_job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_fail(struct upload_job *j, int status, const char *code, const char *fmt, ...)
{
    struct upload_run *r = j->run;
    if (r->failed)
        return;
    r->failed = 1;
    r->err.status = status;
    snprintf(r->err.code, sizeof(r->err.code), "%s", code);
    snprintf(r->err.param, sizeof(r->err.param), "%s", j->item->param);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err.message, sizeof(r->err.message), fmt, ap);
    va_end(ap);
    LOGR(LOG_INFO, r->rid, "attachment %s: %s", j->item->param, r->err.message);
}

static size_t mime_read(char *buf, size_t size, size_t n, void *arg)
{
    struct upload_job *j = arg;
    size_t want = size * n, left = j->len - j->off;
    if (want > left)
        want = left;
    memcpy(buf, j->data + j->off, want);
    j->off += want;
    return want;
}

static int mime_seek(void *arg, curl_off_t offset, int origin)
{
    struct upload_job *j = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t)offset > j->len)
        return CURL_SEEKFUNC_CANTSEEK;
    j->off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

static void upload_done(struct upcall *c, enum upcall_result res, long status, const char *body,
                        size_t len, void *arg)
{
    struct upload_job *j = arg;
    j->call = NULL;
    char why[512];
    if (res == UPCALL_TIMEOUT)
        job_fail(j, 504, "upload_timeout", "%s: uploading %s to chatglm.cn timed out (%s)",
                 j->item->param, j->name, upcall_error(c));
    else if (res != UPCALL_OK)
        job_fail(j, 502, "upload_failed", "%s: uploading %s to chatglm.cn failed: %s",
                 j->item->param, j->name, upcall_error(c));
    else if (upload_answer(status, body, len, &j->result, &j->is_image, why, sizeof(why)) < 0)
        job_fail(j, 502, "upload_failed", "%s: chatglm.cn did not take %s: %s", j->item->param,
                 j->name, why);
    else
        LOGR(LOG_DEBUG, j->run->rid, "attachment %s uploaded as %s (%s, %zu bytes)",
             j->item->param, j->is_image ? "image" : "file", j->mime, j->len);
    job_over(j);
}

/* Starts the upload of j's bytes; on failure marks the run failed. */
static void upload_start(struct upload_job *j)
{
    struct upload_run *r = j->run;
    curl_mime *mime = curl_mime_init(r->mime_easy);
    curl_mimepart *part = mime ? curl_mime_addpart(mime) : NULL;
    if (!part || curl_mime_name(part, "file") != CURLE_OK ||
        curl_mime_filename(part, j->name) != CURLE_OK ||
        curl_mime_type(part, j->mime) != CURLE_OK ||
        curl_mime_data_cb(part, (curl_off_t)j->len, mime_read, mime_seek, NULL, j) != CURLE_OK) {
        curl_mime_free(mime);
        job_fail(j, 500, "upload_failed", "%s: could not build the upload", j->item->param);
        return;
    }
    struct buf url;
    buf_init(&url, 4096);
    (void)glm_url(&url, cfg.path_upload);
    char referer[600];
    snprintf(referer, sizeof(referer), "%s/", cfg.upstream);
    struct upcall_req req = {
        .method = "POST",
        .url = buf_cstr(&url),
        .headers = glm_headers(r->access, 0, referer, 0),
        .mime = mime,
        .connect_timeout = cfg.connect_timeout,
        .idle_timeout = cfg.idle_timeout,
        .max_body = 256 * 1024,
    };
    static const struct upcall_cbs cbs = { NULL, NULL, upload_done };
    j->off = 0;
    j->call = upcall_start(app.curl, &req, &cbs, j);
    buf_cleanup(&url);
    if (!j->call)
        job_fail(j, 500, "upload_failed", "%s: could not start the upload", j->item->param);
}

/* Names and types the bytes, then uploads them. */
static void prepare_and_upload(struct upload_job *j, const char *declared)
{
    const struct upload_item *it = j->item;
    if (j->len == 0) {
        job_fail(j, 400, "empty_file", "%s: the file at %s is empty", it->param,
                 it->url ? it->url : "the data URL");
        return;
    }
    if (it->url && upload_resolve_type(declared, j->data, j->len, it->url, j->mime,
                                       sizeof(j->mime)) < 0) {
        char host[256] = "", why[64];
        (void)fetch_url_check(it->url, host, sizeof(host), why, sizeof(why));
        job_fail(j, 400, "unknown_file_type",
                 "%s: the type of the file from %s cannot be told (Content-Type %s, unknown "
                 "content, no known extension)", it->param, host,
                 declared && *declared ? declared : "missing");
        return;
    }
    if (!it->url)
        snprintf(j->mime, sizeof(j->mime), "%s", it->mime);
    upload_filename(it->given_name ? it->given_name : it->url, j->mime, j->name, sizeof(j->name));
    upload_start(j);
}

static void fetched(void *arg, struct fetch_result *res)
{
    struct upload_job *j = arg;
    j->fetch = NULL;
    const char *param = j->item->param;
    switch (res->status) {
    case FETCH_OK:
        j->owned = res->data;
        res->data = NULL;
        j->data = j->owned;
        j->len = res->len;
        prepare_and_upload(j, res->content_type);
        if (j->call)
            return; /* the upload goes on */
        break;
    case FETCH_REFUSED:
        job_fail(j, 400, "fetch_refused", "%s: %s", param, res->error);
        break;
    case FETCH_BAD_URL:
        job_fail(j, 400, "invalid_url", "%s: %s", param, res->error);
        break;
    case FETCH_TOO_BIG:
        job_fail(j, 400, "file_too_large", "%s: %s", param, res->error);
        break;
    case FETCH_TIMEOUT:
        job_fail(j, 400, "fetch_timeout", "%s: %s", param, res->error);
        break;
    case FETCH_HTTP:
    case FETCH_FAILED:
        job_fail(j, 400, "fetch_failed", "%s: %s", param, res->error);
        break;
    }
    job_over(j);
}

struct upload_run *upload_run_start(struct upload_list *l, const char *access_token,
                                    const char *rid, upload_done_fn *done, void *arg)
{
    struct upload_run *r = xcalloc(1, sizeof(*r));
    r->n = l->n;
    r->jobs = xcalloc(r->n, sizeof(*r->jobs));
    r->access = xstrdup(access_token);
    snprintf(r->rid, sizeof(r->rid), "%s", rid ? rid : "");
    r->done = done;
    r->arg = arg;
    r->mime_easy = curl_easy_init();
    r->finish_ev = event_new(app.base, -1, 0, finish_cb, r);
    if (!r->mime_easy) {
        run_free(r);
        return NULL;
    }
    struct fetch_opts fo;
    upload_fetch_opts(&fo, r->rid);
    r->starting = 1;
    for (size_t i = 0; i < r->n && !r->failed; i++) {
        struct upload_job *j = &r->jobs[i];
        j->run = r;
        j->item = &l->v[i];
        if (j->item->url) {
            j->fetch = fetch_start(app.curl, j->item->url, &fo, fetched, j);
            if (!j->fetch)
                job_fail(j, 500, "fetch_failed", "%s: could not start the download",
                         j->item->param);
        } else {
            j->data = j->item->data;
            j->len = j->item->len;
            prepare_and_upload(j, j->item->mime);
        }
    }
    r->starting = 0;
    if (r->n)
        job_over(&r->jobs[0]); /* cancels the rest after a failure; finishes when none runs */
    else
        event_active(r->finish_ev, EV_TIMEOUT, 0);
    return r;
}
