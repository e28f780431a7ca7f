/* The SSRF rules and the allow-list (see guard.h): pure functions on
 * addresses and URLs; net/fetch.c applies them to its transfers. */
#include "net/guard.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

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

struct guard_allow {
    struct allow_entry *v;
    size_t n;
};

void guard_allow_free(struct guard_allow *a)
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

struct guard_allow *guard_allow_parse(const char *list, char *err, size_t errlen)
{
    struct guard_allow *a = xcalloc(1, sizeof(*a));
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
            guard_allow_free(a);
            return NULL;
        }
        a->v = xrealloc(a->v, (a->n + 1) * sizeof(*a->v));
        a->v[a->n++] = ent;
    }
    return a;
}

static int allowed(const struct guard_allow *al, int family, const unsigned char *addr, int port,
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
                           const struct guard_allow *allow, const char *host, int url_port)
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

const char *guard_addr_refusal(const struct sockaddr *sa, const struct guard_allow *allow,
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

const char *guard_ip_refusal(const char *ip, int port, const struct guard_allow *allow,
                             const char *host, int url_port)
{
    int family;
    unsigned char a[16];
    if (!ip || parse_ip(ip, strlen(ip), &family, a) < 0)
        return "not an IP address";
    return refusal(family, a, port, allow, host, url_port);
}

/* ---- URLs --------------------------------------------------------------- */

int guard_url_parts(const char *url, char *scheme, size_t slen, char *host, size_t hlen, int *port,
                    char *err, size_t errlen)
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
    if (curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        int p = parse_port(pt, strlen(pt));
        *port = p > 0 ? p : 0;
    }
    rc = 0;
out:
    curl_free(sch);
    curl_free(h);
    curl_free(pt);
    curl_url_cleanup(u);
    return rc;
}

int guard_url_check(const char *url, char *host, size_t hostlen, char *err, size_t errlen)
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
    if (guard_url_parts(url, scheme, sizeof(scheme), host, hostlen, &port, err, errlen) < 0)
        return -1;
    return 0;
}
