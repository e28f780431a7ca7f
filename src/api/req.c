/* The request context: replies, streamed writes, the client watch, the access
 * log, and the credentials of the Authorization header. */
#include "api/req.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "glm/store.h"
#include "http/server.h"
#include "log.h"
#include "metrics.h"
#include "stream/anthropic.h"
#include "stream/openai.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/strlist.h"
#include "util/xalloc.h"
#include "util/apierr.h"

static int rid_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return n > 0 && n < 48;
}

struct api_req *api_req_new(struct http_req *req)
{
    struct api_req *a = xcalloc(1, sizeof(*a));
    a->req = req;
    a->route = "other";
    clock_gettime(CLOCK_MONOTONIC, &a->t0);
    const char *given = http_req_header(req, "X-Request-Id");
    if (given && rid_ok(given)) {
        snprintf(a->rid, sizeof(a->rid), "%s", given);
    } else {
        char hex[17];
        crypto_random_hex(hex, 8);
        snprintf(a->rid, sizeof(a->rid), "req-%s", hex);
    }
    snprintf(a->method, sizeof(a->method), "%s", http_req_method(req));
    snprintf(a->path, sizeof(a->path), "%s", http_req_path(req));
    return a;
}

static double elapsed_ms(const struct api_req *a)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - a->t0.tv_sec) * 1e3 + (double)(now.tv_nsec - a->t0.tv_nsec) / 1e6;
}

static void access_log(struct api_req *a)
{
    LOGR(LOG_INFO, a->rid, "%s %s %d %.1fms model=%s stream=%d bytes=%zu%s", a->method, a->path,
         a->status, elapsed_ms(a), a->model[0] ? a->model : "-", a->stream, a->bytes_out,
         a->client_gone ? " client-gone" : "");
}

void api_finish(struct api_req *a)
{
    access_log(a);
    metrics_request(a->route, a->status);
    metrics_bytes_out(a->bytes_out);
    free(a->authorization);
    free(a);
}

void api_common_headers(struct api_req *a)
{
    struct http_req *r = a->req;
    http_req_add_header(r, "X-Request-Id", a->rid);
    http_req_add_header(r, "Access-Control-Allow-Origin", "*");
    http_req_add_header(r, "Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
}

void api_reply(struct api_req *a, int status, const char *content_type, const char *body,
               size_t len)
{
    a->status = status;
    a->bytes_out += len;
    api_common_headers(a);
    a->client_gone = !http_req_connected(a->req);
    http_req_respond(a->req, status, content_type, body, len);
    api_finish(a);
}

void api_reply_json(struct api_req *a, int status, const char *json)
{
    api_reply(a, status, "application/json; charset=utf-8", json, strlen(json));
}

void api_error(struct api_req *a, int status, const char *param, const char *code,
               const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct buf b;
    buf_init(&b, 8192);
    if (a->anthropic) {
        if (anthropic_error_body(&b, anthropic_error_type(status), msg) < 0)
            abort();
    } else if (openai_error_body(&b, msg, api_error_type_for(status), param, code) < 0) {
        buf_reset(&b);
        if (buf_puts(&b, "{\"error\":{\"message\":\"error\",\"type\":\"server_error\","
                         "\"param\":null,\"code\":null}}") < 0)
            abort();
    }
    LOGR(status >= 500 ? LOG_WARN : LOG_INFO, a->rid, "error %d: %s", status, msg);
    api_reply(a, status, "application/json; charset=utf-8", b.data, b.len);
    buf_cleanup(&b);
}

void api_stream_start(struct api_req *a)
{
    a->status = 200;
    api_common_headers(a);
    http_req_add_header(a->req, "Cache-Control", "no-cache");
    http_req_add_header(a->req, "X-Accel-Buffering", "no");
    http_req_start(a->req, 200, "text/event-stream; charset=utf-8");
    metrics_streams_add(1);
}

int api_stream_write(struct api_req *a, const char *data, size_t len)
{
    if (http_req_write(a->req, data, len) < 0)
        return -1;
    a->bytes_out += len;
    return 0;
}

void api_end(struct api_req *a)
{
    a->client_gone = !http_req_connected(a->req);
    http_req_end(a->req);
    if (a->status == 200) /* 0: an orphan whose stream never started */
        metrics_streams_add(-1);
    api_finish(a);
}

size_t api_pending(const struct api_req *a)
{
    return http_req_pending(a->req);
}

int api_connected(const struct api_req *a)
{
    return http_req_connected(a->req);
}

static void close_trampoline(void *arg, struct http_req *r)
{
    (void)r;
    struct api_req *a = arg;
    if (a->on_close)
        a->on_close(a->cb_arg, a);
}

static void drain_trampoline(void *arg, struct http_req *r)
{
    (void)r;
    struct api_req *a = arg;
    if (a->on_drain)
        a->on_drain(a->cb_arg, a);
}

void api_watch(struct api_req *a, void (*on_close)(void *arg, struct api_req *a),
               void (*on_drain)(void *arg, struct api_req *a), void *arg)
{
    a->on_close = on_close;
    a->on_drain = on_drain;
    a->cb_arg = arg;
    http_req_set_callbacks(a->req, API_OUT_LOW, drain_trampoline, close_trampoline, a);
}

size_t api_bearer_tokens(const char *authorization, char ***out)
{
    *out = NULL;
    if (!authorization)
        return 0;
    while (*authorization == ' ')
        authorization++;
    if (strncasecmp(authorization, "Bearer ", 7) != 0)
        return 0;
    return strlist_split(authorization + 7, out);
}

void api_tokens_free(char **tokens, size_t n)
{
    strlist_free(tokens, n);
}

int api_key_check(const char *authorization)
{
    char **given, **keys;
    size_t ng = api_bearer_tokens(authorization, &given);
    size_t nk = strlist_split(cfg.api_keys, &keys);
    int ok = 0;
    if (ng == 1)
        for (size_t i = 0; i < nk; i++)
            ok |= crypto_equal(given[0], keys[i]);
    strlist_free(given, ng);
    strlist_free(keys, nk);
    return ok ? 0 : -1;
}

void api_owner(const struct api_req *a, char out[65])
{
    const char *auth = a->authorization ? a->authorization
                                        : http_req_header(a->req, "Authorization");
    const char *v = auth ? auth : "";
    while (*v == ' ')
        v++;
    if (strncasecmp(v, "Bearer ", 7) == 0)
        v += 7;
    while (*v == ' ')
        v++;
    char buf[600];
    if (!*v) {
        snprintf(buf, sizeof(buf), "anonymous");
    } else {
        /* long credentials: hash them first, the prefix only names the kind */
        char h[65];
        crypto_sha256_hex(v, strlen(v), h);
        snprintf(buf, sizeof(buf), "%s:%s", *cfg.api_keys ? "key" : "tokens", h);
    }
    store_key(buf, out);
}
