/* The request head and chunk-size parsers: see parse.h. Nothing here knows
 * of connections or sockets; errors come back as a status and a reason. */
#include "http/parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xalloc.h"

static int perr(struct http_perr *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int perr(struct http_perr *err, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    err->status = status;
    err->code = code;
    return -1;
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

int http_is_tchar(unsigned char ch)
{
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
        return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* Parses "a, b , c" token lists for one token, case-insensitively. */
static int token_list_has(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    const char *p = list;
    while (*p) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        size_t t = len;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t'))
            t--;
        if (t == n && strncasecmp(p, tok, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

/* Content-Length: 0 ok, -1 invalid, -2 too big for a size_t. A list of equal
 * values ("5, 5") is accepted as one value. */
static int parse_content_length(const char *v, uint64_t *out, int *have)
{
    const char *p = v;
    for (;;) {
        if (*p < '0' || *p > '9')
            return -1;
        uint64_t n = 0;
        int big = 0;
        for (; *p >= '0' && *p <= '9'; p++) {
            if (n > (UINT64_MAX - 9) / 10)
                big = 1;
            else
                n = n * 10 + (uint64_t)(*p - '0');
        }
        if (big || n > SIZE_MAX)
            n = UINT64_MAX;
        if (*have && *out != n)
            return -1;
        *out = n;
        *have = 1;
        p += strspn(p, " \t");
        if (!*p)
            break;
        if (*p != ',')
            return -1;
        p++;
        p += strspn(p, " \t");
    }
    return *out == UINT64_MAX ? -2 : 0;
}

static int parse_request_line(struct http_head *r, char *line, struct http_perr *err)
{
    static const char *const methods[] = { "GET", "POST", "OPTIONS", "PUT", "DELETE",
                                           "HEAD", "PATCH" };
    char *sp1 = strchr(line, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
        return perr(err, 400, "bad_request", "malformed request line");
    *sp1 = '\0';
    *sp2 = '\0';
    char *target = sp1 + 1;
    const char *version = sp2 + 1;

    for (const char *p = line; *p; p++) {
        if (!http_is_tchar((unsigned char)*p))
            return perr(err, 400, "bad_request", "malformed request method");
    }
    if (strcmp(version, "HTTP/1.1") == 0) {
        r->http10 = 0;
    } else if (strcmp(version, "HTTP/1.0") == 0) {
        r->http10 = 1;
    } else if (strncmp(version, "HTTP/", 5) == 0 && version[5] >= '0' && version[5] <= '9' &&
               version[6] == '.' && version[7] >= '0' && version[7] <= '9' && !version[8]) {
        if (version[5] != '1')
            return perr(err, 505, "http_version_not_supported",
                        "only HTTP/1.0 and HTTP/1.1 are supported");
        r->http10 = 0; /* a later 1.x speaks 1.1 to us */
    } else {
        return perr(err, 400, "bad_request", "malformed HTTP version in the request line");
    }
    size_t m = 0;
    while (m < sizeof(methods) / sizeof(methods[0]) && strcmp(line, methods[m]) != 0)
        m++;
    if (m == sizeof(methods) / sizeof(methods[0]))
        return perr(err, 501, "not_implemented", "unsupported request method %.32s", line);
    r->method = line;
    r->is_head = strcmp(line, "HEAD") == 0;

    for (const unsigned char *p = (const unsigned char *)target; *p; p++) {
        if (*p <= 0x20 || *p == 0x7f)
            return perr(err, 400, "bad_request", "malformed request target");
    }
    char *path = NULL;
    if (target[0] == '/') {
        path = target;
    } else if (strncasecmp(target, "http://", 7) == 0 || strncasecmp(target, "https://", 8) == 0) {
        /* absolute-form: keep what follows the authority */
        char *p = strstr(target, "//") + 2;
        p += strcspn(p, "/?");
        if (*p == '/') {
            path = p;
        } else {
            r->path = "/";
            if (*p == '?')
                r->query = p + 1;
            return 0;
        }
    } else if (strcmp(target, "*") == 0 && strcmp(r->method, "OPTIONS") == 0) {
        path = target;
    } else {
        return perr(err, 400, "bad_request", "malformed request target");
    }
    char *q = strchr(path, '?');
    if (q) {
        *q = '\0';
        r->query = q + 1;
    }
    r->path = path;
    return 0;
}

static int parse_header_line(struct http_head *r, char *line, size_t *cap, struct http_perr *err)
{
    if (*line == ' ' || *line == '\t')
        return perr(err, 400, "bad_request", "obsolete header line folding is not supported");
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
        return perr(err, 400, "bad_request", "malformed header line");
    for (const char *p = line; p < colon; p++) {
        if (!http_is_tchar((unsigned char)*p))
            return perr(err, 400, "bad_request", "invalid header name");
    }
    *colon = '\0';
    char *v = colon + 1;
    v += strspn(v, " \t");
    size_t vlen = strlen(v);
    while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
        v[--vlen] = '\0';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return perr(err, 400, "bad_request",
                        "invalid character in the value of header %.64s", line);
    }
    if (r->nhdrs == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        r->hdrs = xrealloc(r->hdrs, *cap * sizeof(*r->hdrs));
    }
    r->hdrs[r->nhdrs].name = line;
    r->hdrs[r->nhdrs].value = v;
    r->nhdrs++;
    return 0;
}

/* Decides framing, keep-alive and Expect from the parsed headers. */
static int read_semantics(struct http_head *r, size_t max_body, struct http_perr *err)
{
    int conn_close = 0, conn_keep = 0, n_te = 0, have_cl = 0;
    const char *te = NULL, *expect = NULL;
    uint64_t cl = 0;
    for (size_t i = 0; i < r->nhdrs; i++) {
        const char *name = r->hdrs[i].name, *v = r->hdrs[i].value;
        if (strcasecmp(name, "Connection") == 0) {
            conn_close |= token_list_has(v, "close");
            conn_keep |= token_list_has(v, "keep-alive");
        } else if (strcasecmp(name, "Transfer-Encoding") == 0) {
            te = v;
            n_te++;
        } else if (strcasecmp(name, "Content-Length") == 0) {
            int rc = parse_content_length(v, &cl, &have_cl);
            if (rc == -1)
                return perr(err, 400, "bad_request", "invalid or conflicting Content-Length");
        } else if (strcasecmp(name, "Expect") == 0) {
            expect = v;
        }
    }
    r->keep_alive = r->http10 ? conn_keep && !conn_close : !conn_close;

    if (te && have_cl)
        return perr(err, 400, "bad_request",
                    "both Content-Length and Transfer-Encoding are present");
    if (te && r->http10)
        return perr(err, 400, "bad_request", "Transfer-Encoding in an HTTP/1.0 request");
    if (te && (n_te > 1 || strcasecmp(te, "chunked") != 0))
        return perr(err, 501, "not_implemented", "only the chunked transfer coding is supported");
    if (expect && strcasecmp(expect, "100-continue") != 0)
        return perr(err, 417, "expectation_failed", "only \"Expect: 100-continue\" is supported");
    if (have_cl && cl > max_body)
        return perr(err, 413, "request_too_large",
                    "request body is larger than the limit of %zu bytes", max_body);
    if (te) {
        r->body = HTTP_BODY_CHUNKED;
    } else if (have_cl && cl > 0) {
        r->body = HTTP_BODY_LENGTH;
        r->content_length = cl;
    } else {
        r->body = HTTP_BODY_NONE;
    }
    r->expect_continue = expect != NULL;
    return 0;
}

int http_parse_head(char *head, size_t len, size_t max_body, struct http_head *r,
                    struct http_perr *err)
{
    memset(r, 0, sizeof(*r));
    r->method = r->path = r->query = "";
    if (memchr(head, '\0', len))
        return perr(err, 400, "bad_request", "NUL byte in the request head");
    char *line = head, *end = head + len;
    size_t cap = 0;
    int first = 1;
    while (line < end) {
        char *lf = memchr(line, '\n', (size_t)(end - line));
        if (!lf)
            lf = end; /* a last line without LF (the server always has one) */
        char *e = lf;
        if (e > line && e[-1] == '\r')
            e--;
        *e = '\0';
        if (memchr(line, '\r', (size_t)(e - line)))
            return perr(err, 400, "bad_request", "bare CR in the request head");
        if (e == line)
            break; /* the empty line that ends the head */
        int rc = first ? parse_request_line(r, line, err)
                       : parse_header_line(r, line, &cap, err);
        if (rc < 0)
            return -1;
        first = 0;
        line = lf + 1;
    }
    return read_semantics(r, max_body, err);
}

int http_parse_chunk_size(const char *p, size_t n, uint64_t *size)
{
    uint64_t v = 0;
    size_t i = 0, digits = 0;
    for (; i < n; i++, digits++) {
        char ch = p[i];
        int d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F')
            d = ch - 'A' + 10;
        else
            break;
        if (v > (UINT64_MAX >> 4))
            v = UINT64_MAX; /* saturate: too big whatever follows */
        else
            v = v * 16 + (uint64_t)d;
    }
    if (!digits)
        return -1;
    while (i < n && (p[i] == ' ' || p[i] == '\t'))
        i++;
    if (i < n && p[i] == ';') {
        /* extensions are ignored, but must not hide control bytes */
        for (i++; i < n && p[i] != '\r' && p[i] != '\n'; i++) {
            if ((unsigned char)p[i] < 0x20 && p[i] != '\t')
                return -1;
        }
    }
    if (i < n && p[i] == '\r')
        i++;
    if (i != n - 1 || p[i] != '\n')
        return -1;
    *size = v;
    return 0;
}

void http_head_cleanup(struct http_head *h)
{
    free(h->hdrs);
    h->hdrs = NULL;
    h->nhdrs = 0;
}
