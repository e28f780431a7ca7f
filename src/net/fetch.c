#include "net/fetch.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "log.h"
#include "metrics.h"
#include "net/curl_loop.h"
#include "net/upcall.h"
#include "util/xalloc.h"

/* ---- address rules ------------------------------------------------------ */

struct range {
    unsigned char net[16];
    int bits;
    const char *rule;
};

/* First match wins. */
static const struct range v4_rules[] = {
    { { 0 }, 8, "unspecified (0.0.0.0/8)" },
    { { 10 }, 8, "private (RFC 1918)" },
    { { 100, 64 }, 10, "shared CGNAT (100.64.0.0/10)" },
    { { 127 }, 8, "loopback" },
    { { 169, 254 }, 16, "link-local" },
    { { 172, 16 }, 12, "private (RFC 1918)" },
    { { 192, 0, 0 }, 24, "reserved (IETF protocol assignments)" },
    { { 192, 0, 2 }, 24, "documentation (TEST-NET-1)" },
    { { 192, 88, 99 }, 24, "reserved (6to4 relay anycast)" },
    { { 192, 168 }, 16, "private (RFC 1918)" },
    { { 198, 18 }, 15, "benchmarking (198.18.0.0/15)" },
    { { 198, 51, 100 }, 24, "documentation (TEST-NET-2)" },
    { { 203, 0, 113 }, 24, "documentation (TEST-NET-3)" },
    { { 224 }, 4, "multicast" },
    { { 255, 255, 255, 255 }, 32, "broadcast" },
    { { 240 }, 4, "reserved (240.0.0.0/4)" },
};

/* IPv6 after the IPv4-mapped, NAT64 and 6to4 forms were checked by their
 * IPv4 part. Only global unicast (2000::/3) is left open. */
static const struct range v6_rules[] = {
    { { 0 }, 128, "unspecified (::)" },
    { { [15] = 1 }, 128, "loopback" },
    { { 0xfc }, 7, "unique-local (fc00::/7)" },
    { { 0xfe, 0x80 }, 10, "link-local" },
    { { 0xfe, 0xc0 }, 10, "site-local (deprecated)" },
    { { 0xff }, 8, "multicast" },
    { { 0x20, 0x01, 0x0d, 0xb8 }, 32, "documentation (2001:db8::/32)" },
    { { 0x3f, 0xff }, 20, "documentation (3fff::/20)" },
    { { 0x20, 0x01 }, 23, "reserved (IETF protocol assignments, Teredo)" },
    { { 0x20 }, 3, NULL }, /* global unicast: allowed */
    { { 0 }, 0, "reserved (outside global unicast 2000::/3)" },
};

static int prefix_match(const unsigned char *a, const unsigned char *net, int bits)
{
    int bytes = bits / 8, rest = bits % 8;
    if (memcmp(a, net, (size_t)bytes) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a[bytes] & mask) == (net[bytes] & mask);
}

static const char *v4_rule(const unsigned char *a)
{
    for (size_t i = 0; i < sizeof(v4_rules) / sizeof(v4_rules[0]); i++)
        if (prefix_match(a, v4_rules[i].net, v4_rules[i].bits))
            return v4_rules[i].rule;
    return NULL;
}

/* The IPv4 address inside an IPv6 one that carries it: IPv4-mapped
 * (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
 * Returns 1 and fills v4, else 0. */
static int v6_embedded_v4(const unsigned char *a, unsigned char v4[4])
{
    static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
    static const unsigned char nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
        memcpy(v4, a + 12, 4);
        return 1;
    }
    if (a[0] == 0x20 && a[1] == 0x02) {
        memcpy(v4, a + 2, 4);
        return 1;
    }
    return 0;
}

static const char *v6_rule(const unsigned char *a)
{
    for (size_t i = 0; i < sizeof(v6_rules) / sizeof(v6_rules[0]); i++)
        if (prefix_match(a, v6_rules[i].net, v6_rules[i].bits))
            return v6_rules[i].rule;
    return NULL;
}

/* ---- the allow-list ----------------------------------------------------- */

struct allow_entry {
    char *host;                 /* a host-name entry, or NULL for an address range */
    int family;                 /* AF_INET or AF_INET6 (mapped entries become AF_INET) */
    unsigned char net[16];
    int bits;
    int port;                   /* 0: any */
};

struct fetch_allow {
    struct allow_entry *v;
    size_t n;
};

void fetch_allow_free(struct fetch_allow *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i].host);
    free(a->v);
    free(a);
}

/* An address as text, IPv6 optionally in brackets and with a zone
 * ("fe80::1%eth0"). IPv4-mapped IPv6 addresses come back as IPv4. */
static int parse_ip(const char *s, size_t len, int *family, unsigned char out[16])
{
    char tmp[INET6_ADDRSTRLEN + 16];
    if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
        s++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = '\0';
    char *zone = strchr(tmp, '%');
    if (zone)
        *zone = '\0';
    memset(out, 0, 16);
    if (!zone && inet_pton(AF_INET, tmp, out) == 1) {
        *family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, tmp, out) != 1)
        return -1;
    static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
    if (memcmp(out, mapped, 12) == 0) {
        memmove(out, out + 12, 4);
        memset(out + 4, 0, 12);
        *family = AF_INET;
    } else {
        *family = AF_INET6;
    }
    return 0;
}

/* A decimal number from min to max, or -1. */
static int parse_uint(const char *s, size_t len, int min, int max)
{
    if (len == 0 || len > 5)
        return -1;
    int v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v >= min && v <= max ? v : -1;
}

static int parse_port(const char *s, size_t len)
{
    return parse_uint(s, len, 1, 65535);
}

static int host_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '-' && c != '.' && c != '_')
            return 0;
    }
    return 1;
}

static int parse_entry(const char *s, size_t len, struct allow_entry *e, char *err, size_t errlen)
{
    memset(e, 0, sizeof(*e));
    const char *slash = memchr(s, '/', len);
    if (slash) {
        size_t al = (size_t)(slash - s), bl = len - al - 1;
        int v6text = memchr(s, ':', al) != NULL;
        int bits = parse_uint(slash + 1, bl, 0, v6text ? 128 : 32);
        if (parse_ip(s, al, &e->family, e->net) < 0 || bits < 0 ||
            (v6text && e->family == AF_INET && bits < 96)) {
            snprintf(err, errlen, "\"%.*s\" is not a valid CIDR range", (int)len, s);
            return -1;
        }
        /* A mapped range ::ffff:a.b.c.d/n is the IPv4 range /n-96. */
        e->bits = v6text && e->family == AF_INET ? bits - 96 : bits;
        return 0;
    }
    /* "[v6]:port" or "[v6]" */
    if (s[0] == '[') {
        const char *close = memchr(s, ']', len);
        size_t rest = close ? len - (size_t)(close + 1 - s) : 0;
        if (!close || (rest && (close[1] != ':' || (e->port = parse_port(close + 2, rest - 1)) < 0)) ||
            parse_ip(s, (size_t)(close + 1 - s), &e->family, e->net) < 0) {
            snprintf(err, errlen, "\"%.*s\" is not a valid [IPv6]:port entry", (int)len, s);
            return -1;
        }
        e->bits = e->family == AF_INET ? 32 : 128;
        return 0;
    }
    /* A bare IPv6 address has several colons and no port. */
    const char *colon = memchr(s, ':', len);
    if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
        if (parse_ip(s, len, &e->family, e->net) < 0) {
            snprintf(err, errlen, "\"%.*s\" is not a valid IPv6 address", (int)len, s);
            return -1;
        }
        e->bits = e->family == AF_INET ? 32 : 128;
        return 0;
    }
    size_t hl = colon ? (size_t)(colon - s) : len;
    if (colon && (e->port = parse_port(colon + 1, len - hl - 1)) < 0) {
        snprintf(err, errlen, "\"%.*s\": the port must be a number from 1 to 65535", (int)len, s);
        return -1;
    }
    if (parse_ip(s, hl, &e->family, e->net) == 0) {
        e->bits = 32;
        return 0;
    }
    if (!host_name_ok(s, hl)) {
        snprintf(err, errlen, "\"%.*s\" is not a host name, an address or a CIDR range", (int)len,
                 s);
        return -1;
    }
    e->host = xstrndup(s, hl);
    return 0;
}

struct fetch_allow *fetch_allow_parse(const char *list, char *err, size_t errlen)
{
    struct fetch_allow *a = xcalloc(1, sizeof(*a));
    const char *p = list ? list : "";
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && isspace((unsigned char)e[-1]))
            e--;
        if (e == s)
            continue;
        struct allow_entry ent;
        if (parse_entry(s, (size_t)(e - s), &ent, err, errlen) < 0) {
            fetch_allow_free(a);
            return NULL;
        }
        a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
        a->v[a->n++] = ent;
    }
    return a;
}

static int allowed(const struct fetch_allow *al, int family, const unsigned char *addr, int port,
                   const char *host, int url_port)
{
    for (size_t i = 0; al && i < al->n; i++) {
        const struct allow_entry *e = &al->v[i];
        if (e->host) {
            if (host && strcasecmp(e->host, host) == 0 && (!e->port || e->port == url_port))
                return 1;
        } else if (e->family == family && prefix_match(addr, e->net, e->bits) &&
                   (!e->port || e->port == port)) {
            return 1;
        }
    }
    return 0;
}

static const char *refusal(int family, const unsigned char *addr16, int port,
                           const struct fetch_allow *allow, const char *host, int url_port)
{
    unsigned char a[16];
    memcpy(a, addr16, 16);
    static const unsigned char mapped[12] = { [10] = 0xff, [11] = 0xff };
    if (family == AF_INET6 && memcmp(a, mapped, 12) == 0) {
        memmove(a, a + 12, 4);
        family = AF_INET;
    }
    if (allowed(allow, family, a, port, host, url_port))
        return NULL;
    if (family == AF_INET)
        return v4_rule(a);
    unsigned char v4[4];
    if (v6_embedded_v4(a, v4)) {
        /* NAT64 and 6to4 reach the IPv4 address they carry: judge that one. */
        if (allowed(allow, AF_INET, v4, port, host, url_port))
            return NULL;
        return v4_rule(v4);
    }
    return v6_rule(a);
}

const char *fetch_addr_refusal(const struct sockaddr *sa, const struct fetch_allow *allow,
                               const char *host, int url_port)
{
    unsigned char a[16] = { 0 };
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;
        memcpy(a, &s4->sin_addr, 4);
        return refusal(AF_INET, a, ntohs(s4->sin_port), allow, host, url_port);
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(a, &s6->sin6_addr, 16);
        return refusal(AF_INET6, a, ntohs(s6->sin6_port), allow, host, url_port);
    }
    return "not an IP address";
}

const char *fetch_ip_refusal(const char *ip, int port, const struct fetch_allow *allow,
                             const char *host, int url_port)
{
    int family;
    unsigned char a[16];
    if (!ip || parse_ip(ip, strlen(ip), &family, a) < 0)
        return "not an IP address";
    return refusal(family, a, port, allow, host, url_port);
}

/* ---- URLs --------------------------------------------------------------- */

/* Scheme, host (brackets removed) and port of url. 0, or -1 with err. */
static int url_parts(const char *url, char *scheme, size_t slen, char *host, size_t hlen,
                     int *port, char *err, size_t errlen)
{
    int rc = -1;
    char *sch = NULL, *h = NULL, *pt = NULL;
    CURLU *u = curl_url();
    if (!u)
        abort();
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
        snprintf(err, errlen, "not a valid absolute URL");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &sch, 0) != CURLUE_OK) {
        snprintf(err, errlen, "the URL has no scheme");
        goto out;
    }
    snprintf(scheme, slen, "%s", sch);
    for (char *c = scheme; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !*h) {
        snprintf(err, errlen, "the URL has no host");
        goto out;
    }
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']')
        snprintf(host, hlen, "%.*s", (int)(n - 2), h + 1);
    else
        snprintf(host, hlen, "%s", h);
    *port = 0;
    if (curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT) == CURLUE_OK)
        *port = atoi(pt);
    rc = 0;
out:
    curl_free(sch);
    curl_free(h);
    curl_free(pt);
    curl_url_cleanup(u);
    return rc;
}

int fetch_url_check(const char *url, char *host, size_t hostlen, char *err, size_t errlen)
{
    char scheme[32];
    int port;
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        const char *colon = strchr(url, ':');
        size_t sl = colon ? (size_t)(colon - url) : 0;
        if (sl > 0 && sl < 20)
            snprintf(err, errlen, "the scheme %.*s: is not allowed: only http:// and https:// URLs "
                                  "can be fetched", (int)sl, url);
        else
            snprintf(err, errlen, "only http:// and https:// URLs can be fetched");
        return -1;
    }
    if (url_parts(url, scheme, sizeof(scheme), host, hostlen, &port, err, errlen) < 0)
        return -1;
    return 0;
}

/* ---- downloads ---------------------------------------------------------- */

struct fetch {
    struct curl_loop *loop;
    CURL *easy;
    struct event *deferred;     /* reports a failure found before the transfer */
    fetch_done_fn *done;
    void *arg;
    size_t max;
    long timeout;
    long max_redirects;
    const struct fetch_allow *allow;
    char rid[48];
    char url_host[256];
    unsigned char *data;
    size_t len, cap;
    int status_checked;
    int too_big;
    long bad_status;
    /* the first refusal by the guard */
    const char *rule;
    char refused_host[256];
    char refused_ip[64];
    struct fetch_result res;    /* for the deferred failure */
    char errbuf[CURL_ERROR_SIZE];
};

static void fetch_free(struct fetch *f)
{
    if (f->deferred)
        event_free(f->deferred);
    if (f->easy)
        curl_easy_cleanup(f->easy);
    free(f->data);
    free(f);
}

/* The host and port of the URL curl is working on now (after redirects). */
static void current_host(struct fetch *f, char *host, size_t hostlen, int *port)
{
    char *url = NULL, scheme[32], err[128];
    curl_easy_getinfo(f->easy, CURLINFO_EFFECTIVE_URL, &url);
    if (!url || url_parts(url, scheme, sizeof(scheme), host, hostlen, port, err, sizeof(err)) < 0) {
        host[0] = '\0';
        *port = 0;
    }
}

static void note_refusal(struct fetch *f, const char *rule, const char *host, const char *ip)
{
    if (f->rule)
        return;
    f->rule = rule;
    snprintf(f->refused_host, sizeof(f->refused_host), "%s", host);
    snprintf(f->refused_ip, sizeof(f->refused_ip), "%s", ip);
    LOGR(LOG_INFO, f->rid[0] ? f->rid : NULL, "fetch: refused %s (%s): %s address", host, ip, rule);
}

/* Every new connection, after DNS and on every redirect: the address about
 * to be connected to. */
static curl_socket_t opensocket_cb(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct fetch *f = arg;
    char host[256], ip[64] = "?";
    int port;
    current_host(f, host, sizeof(host), &port);
    const char *rule = purpose == CURLSOCKTYPE_IPCXN
                           ? fetch_addr_refusal(&a->addr, f->allow, host, port)
                           : "not an IP connection";
    if (rule) {
        if (a->family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)&a->addr)->sin_addr, ip, sizeof(ip));
        else if (a->family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)&a->addr)->sin6_addr, ip,
                      sizeof(ip));
        note_refusal(f, rule, host, ip);
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

/* Before every request, on a new or a reused connection. */
static int prereq_cb(void *arg, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    (void)local_ip;
    (void)local_port;
    struct fetch *f = arg;
    char host[256];
    int port;
    current_host(f, host, sizeof(host), &port);
    const char *rule = fetch_ip_refusal(primary_ip, primary_port, f->allow, host, port);
    if (rule) {
        note_refusal(f, rule, host, primary_ip);
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static int reserve(struct fetch *f, size_t want)
{
    if (want <= f->cap)
        return 0;
    if (want > f->max)
        return -1;
    size_t cap = f->cap ? f->cap : 16384;
    while (cap < want)
        cap = cap > f->max / 2 ? f->max : cap * 2;
    f->data = xrealloc(f->data, cap + 1);
    f->cap = cap;
    return 0;
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct fetch *f = arg;
    size_t len = size * n;
    if (!f->status_checked) {
        f->status_checked = 1;
        long st = 0;
        curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &st);
        if (st < 200 || st > 299) {
            f->bad_status = st;
            return CURL_WRITEFUNC_ERROR; /* an error page is not worth reading */
        }
        curl_off_t cl = -1;
        curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
        /* A known length: one allocation of the right size. */
        if (cl > 0 && (curl_off_t)f->max >= cl)
            (void)reserve(f, (size_t)cl);
    }
    if (len > f->max - f->len || reserve(f, f->len + len) < 0) {
        f->too_big = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    memcpy(f->data + f->len, p, len);
    f->len += len;
    return len;
}

static void finish(struct fetch *f, struct fetch_result *r)
{
    if (r->status == FETCH_REFUSED || r->status == FETCH_BAD_URL || r->status == FETCH_TOO_BIG)
        metrics_fetch_refused(r->status == FETCH_REFUSED   ? "forbidden-address"
                              : r->status == FETCH_BAD_URL ? "bad-url"
                                                           : "too-big");
    int handed = r->data != NULL;
    f->done(f->arg, r);
    if (handed && !r->data)
        f->data = NULL; /* the callback took it */
    fetch_free(f);
}

static void done_cb(CURL *easy, CURLcode code, void *arg)
{
    (void)easy;
    struct fetch *f = arg;
    struct fetch_result r;
    memset(&r, 0, sizeof(r));
    snprintf(r.host, sizeof(r.host), "%s", f->url_host);
    curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &r.http_status);
    char *ct = NULL;
    curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) {
        size_t i = 0;
        for (; ct[i] && ct[i] != ';' && i < sizeof(r.content_type) - 1; i++)
            r.content_type[i] = (char)tolower((unsigned char)ct[i]);
        while (i > 0 && isspace((unsigned char)r.content_type[i - 1]))
            i--;
        r.content_type[i] = '\0';
    }
    char cur[256];
    int port;
    current_host(f, cur, sizeof(cur), &port);
    if (f->rule && code != CURLE_OK) {
        /* (A refused address followed by an allowed one that worked is fine.) */
        r.status = FETCH_REFUSED;
        snprintf(r.host, sizeof(r.host), "%s", f->refused_host);
        int named = strcmp(f->refused_host, f->refused_ip) != 0;
        snprintf(r.error, sizeof(r.error),
                 "refused to fetch from %s: %s%s%sa forbidden address (rule: %s); this server "
                 "fetches from such addresses only when the setting fetch-allow lists them",
                 f->refused_host, named ? "it resolves to " : "", named ? f->refused_ip : "",
                 named ? ", " : "", f->rule);
    } else if (f->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        r.status = FETCH_TOO_BIG;
        snprintf(r.error, sizeof(r.error), "the file at %s is larger than the limit of %zu bytes "
                 "(setting max-file)", cur[0] ? cur : f->url_host, f->max);
    } else if (f->bad_status || (code == CURLE_OK && (r.http_status < 200 || r.http_status > 299))) {
        r.status = FETCH_HTTP;
        snprintf(r.error, sizeof(r.error), "%s answered HTTP %ld", cur[0] ? cur : f->url_host,
                 f->bad_status ? f->bad_status : r.http_status);
    } else if (code == CURLE_OPERATION_TIMEDOUT) {
        r.status = FETCH_TIMEOUT;
        snprintf(r.error, sizeof(r.error), "downloading from %s did not finish within %ld s "
                 "(setting fetch-timeout)", cur[0] ? cur : f->url_host, f->timeout);
    } else if (code == CURLE_TOO_MANY_REDIRECTS) {
        r.status = FETCH_FAILED;
        snprintf(r.error, sizeof(r.error), "%s redirected more than %ld times (setting "
                 "max-redirects)", f->url_host, f->max_redirects);
    } else if (code == CURLE_UNSUPPORTED_PROTOCOL) {
        r.status = FETCH_BAD_URL;
        snprintf(r.error, sizeof(r.error), "%s redirected to a URL that is not http:// or "
                 "https://", f->url_host);
    } else if (code != CURLE_OK) {
        r.status = FETCH_FAILED;
        snprintf(r.error, sizeof(r.error), "could not download from %s: %.200s",
                 cur[0] ? cur : f->url_host, f->errbuf[0] ? f->errbuf : curl_easy_strerror(code));
    } else {
        r.status = FETCH_OK;
        if (!f->data)
            f->data = xmalloc(1);
        f->data[f->len] = '\0';
        r.data = f->data;
        r.len = f->len;
    }
    if (r.status != FETCH_OK)
        LOGR(LOG_INFO, f->rid[0] ? f->rid : NULL, "fetch: %s", r.error);
    finish(f, &r);
}

static void deferred_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct fetch *f = arg;
    finish(f, &f->res);
}

struct fetch *fetch_start(struct curl_loop *l, const char *url, const struct fetch_opts *o,
                          fetch_done_fn *done, void *arg)
{
    struct fetch *f = xcalloc(1, sizeof(*f));
    f->loop = l;
    f->done = done;
    f->arg = arg;
    f->max = o->max_bytes;
    f->timeout = o->timeout;
    f->max_redirects = o->max_redirects;
    f->allow = o->allow;
    snprintf(f->rid, sizeof(f->rid), "%s", o->rid ? o->rid : "");
    char err[256];
    if (fetch_url_check(url, f->url_host, sizeof(f->url_host), err, sizeof(err)) < 0) {
        f->res.status = FETCH_BAD_URL;
        snprintf(f->res.host, sizeof(f->res.host), "%s", f->url_host);
        snprintf(f->res.error, sizeof(f->res.error), "%s", err);
        f->deferred = event_new(curl_loop_base(l), -1, 0, deferred_cb, f);
        event_active(f->deferred, EV_TIMEOUT, 0);
        return f;
    }
    f->easy = curl_easy_init();
    if (!f->easy) {
        fetch_free(f);
        return NULL;
    }
    CURL *e = f->easy;
    upcall_set_common(e, o->connect_timeout, o->timeout);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, o->timeout);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, o->max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, o->max_redirects);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, f);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, f);
    /* A proxy would hide the address really reached, and a pooled connection
     * would skip the socket check. */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "Mozilla/5.0 (compatible; glm-free-api)");
    if (curl_loop_add(l, e, done_cb, f) < 0) {
        fetch_free(f);
        return NULL;
    }
    return f;
}

void fetch_cancel(struct fetch *f)
{
    if (!f)
        return;
    if (f->easy)
        curl_loop_remove(f->loop, f->easy);
    fetch_free(f);
}
