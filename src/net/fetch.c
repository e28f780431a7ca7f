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
#include "net/xfer.h"
#include "util/xalloc.h"

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
    const struct guard_allow *allow;
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
    const struct fetch_stream_cbs *stream; /* streamed: the body is handed on */
    int head_called;
    int stopped;                /* a stream callback said stop */
    int paused;
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
    if (!url || guard_url_parts(url, scheme, sizeof(scheme), host, hostlen, port, err, sizeof(err)) < 0) {
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
                           ? guard_addr_refusal(&a->addr, f->allow, host, port)
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
    const char *rule = guard_ip_refusal(primary_ip, primary_port, f->allow, host, port);
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
        if (!f->stream && cl > 0 && (curl_off_t)f->max >= cl)
            (void)reserve(f, (size_t)cl);
    }
    if (f->stream) {
        if (len > f->max - f->len) {
            f->too_big = 1;
            return CURL_WRITEFUNC_ERROR;
        }
        if (!f->head_called) {
            f->head_called = 1;
            long st = 0;
            curl_off_t cl = -1;
            char *ct = NULL;
            curl_easy_getinfo(f->easy, CURLINFO_RESPONSE_CODE, &st);
            curl_easy_getinfo(f->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
            curl_easy_getinfo(f->easy, CURLINFO_CONTENT_TYPE, &ct);
            if (f->stream->on_head(f->arg, st, ct ? ct : "", (long long)cl) < 0) {
                f->stopped = 1;
                return CURL_WRITEFUNC_ERROR;
            }
        }
        int rc = f->stream->on_data(f->arg, p, len);
        if (rc == FETCH_PAUSE) {
            f->paused = 1;
            return CURL_WRITEFUNC_PAUSE;
        }
        if (rc != FETCH_CONTINUE) {
            f->stopped = 1;
            return CURL_WRITEFUNC_ERROR;
        }
        f->len += len;
        return len;
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

static void done_cb(void *arg, CURL *easy, CURLcode code)
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
    } else if (f->stopped) {
        r.status = FETCH_FAILED;
        snprintf(r.error, sizeof(r.error), "the download from %s was stopped", f->url_host);
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
        if (f->stream && !f->head_called && f->stream->on_head(f->arg, r.http_status,
                                                               r.content_type, 0) < 0) {
            r.status = FETCH_FAILED; /* an empty body: the head is reported now */
            snprintf(r.error, sizeof(r.error), "the download from %s was stopped", f->url_host);
        }
        r.len = f->len;
        if (f->stream)
            goto report;
        if (!f->data)
            f->data = xmalloc(1);
        f->data[f->len] = '\0';
        r.data = f->data;
        r.len = f->len;
    }
report:
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

static struct fetch *start(struct curl_loop *l, const char *url, const struct fetch_opts *o,
                           const struct fetch_stream_cbs *stream, fetch_done_fn *done, void *arg)
{
    struct fetch *f = xcalloc(1, sizeof(*f));
    f->stream = stream;
    f->loop = l;
    f->done = done;
    f->arg = arg;
    f->max = o->max_bytes;
    f->timeout = o->timeout;
    f->max_redirects = o->max_redirects;
    f->allow = o->allow;
    snprintf(f->rid, sizeof(f->rid), "%s", o->rid ? o->rid : "");
    char err[256];
    if (guard_url_check(url, f->url_host, sizeof(f->url_host), err, sizeof(err)) < 0) {
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
    xfer_set_common(e, o->connect_timeout, o->timeout);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, stream ? 0L : o->timeout);
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

struct fetch *fetch_start(struct curl_loop *l, const char *url, const struct fetch_opts *o,
                          fetch_done_fn *done, void *arg)
{
    return start(l, url, o, NULL, done, arg);
}

struct fetch *fetch_stream(struct curl_loop *l, const char *url, const struct fetch_opts *o,
                           const struct fetch_stream_cbs *cbs, fetch_done_fn *done, void *arg)
{
    return start(l, url, o, cbs, done, arg);
}

void fetch_resume(struct fetch *f)
{
    if (!f || !f->paused || !f->easy)
        return;
    f->paused = 0;
    curl_easy_pause(f->easy, CURLPAUSE_CONT);
}

void fetch_cancel(struct fetch *f)
{
    if (!f)
        return;
    if (f->easy)
        curl_loop_remove(f->loop, f->easy);
    fetch_free(f);
}
