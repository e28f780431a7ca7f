/* Routing, CORS, request ids, the access log and error replies. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "http/server.h"
#include "log.h"
#include "metrics.h"
#include "stream/openai.h"
#include "util/buf.h"
#include "util/crypto.h"
#include "util/xalloc.h"

struct route {
    const char *method;
    const char *path;
    void (*fn)(struct api_req *a);
};

static const struct route routes[] = {
    { "POST", "/v1/chat/completions", chat_handle },
    { "POST", "/v1/images/generations", images_handle },
    { "GET", "/v1/models", models_handle },
    { "POST", "/token/check", token_check_handle },
    { "GET", "/v1/accounts", accounts_handle },
    { "GET", "/metrics", metrics_handle },
    { "GET", "/ping", ping_handle },
    { "GET", "/", welcome_handle },
};

static const char known_routes[] =
    "POST /v1/chat/completions, POST /v1/images/generations, GET /v1/models, POST /token/check, "
    "GET /v1/accounts, GET /metrics, GET /ping and GET /";

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

/* The metrics label of a path: a route of the table, or "other", so that
 * scanners cannot grow the series without bound. */
static const char *route_label(const char *path)
{
    size_t pl = strlen(cfg.url_prefix);
    if (pl && strncmp(path, cfg.url_prefix, pl) == 0)
        path = path[pl] ? path + pl : "/";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (strcmp(path, routes[i].path) == 0)
            return routes[i].path;
    return "other";
}

static void finish(struct api_req *a)
{
    access_log(a);
    metrics_request(route_label(a->path), a->status);
    metrics_bytes_out(a->bytes_out);
    free(a);
}

static void add_common_headers(struct api_req *a)
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
    add_common_headers(a);
    a->client_gone = !http_req_connected(a->req);
    http_req_respond(a->req, status, content_type, body, len);
    finish(a);
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
    if (openai_error_body(&b, msg, openai_error_type(status), param, code) < 0) {
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
    add_common_headers(a);
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

void api_stream_end(struct api_req *a)
{
    a->client_gone = !http_req_connected(a->req);
    http_req_end(a->req);
    if (a->status == 200) /* 0: an orphan whose stream never started */
        metrics_streams_add(-1);
    finish(a);
}

size_t api_pending(const struct api_req *a)
{
    return http_req_pending(a->req);
}

int api_connected(const struct api_req *a)
{
    return http_req_connected(a->req);
}

static void close_trampoline(struct http_req *r, void *arg)
{
    (void)r;
    struct api_req *a = arg;
    if (a->on_close)
        a->on_close(a, a->cb_arg);
}

static void drain_trampoline(struct http_req *r, void *arg)
{
    (void)r;
    struct api_req *a = arg;
    if (a->on_drain)
        a->on_drain(a, a->cb_arg);
}

void api_watch(struct api_req *a, void (*on_close)(struct api_req *, void *),
               void (*on_drain)(struct api_req *, void *), void *arg)
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
    const char *p = authorization + 7;
    size_t n = 0, cap = 0;
    char **v = NULL;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *s = p;
        while (*p && *p != ',')
            p++;
        const char *e = p;
        while (e > s && e[-1] == ' ')
            e--;
        if (e > s) {
            if (n == cap) {
                cap = cap ? cap * 2 : 4;
                v = xrealloc(v, cap * sizeof(*v));
            }
            v[n++] = xstrndup(s, (size_t)(e - s));
        }
    }
    *out = v;
    return n;
}

void api_tokens_free(char **tokens, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(tokens[i]);
    free(tokens);
}

int api_key_check(const char *authorization)
{
    char **given, **keys;
    size_t ng = api_bearer_tokens(authorization, &given);
    /* Reuse the bearer splitter for the configured comma list. */
    char *list = xmalloc(strlen(cfg.api_keys) + 8);
    sprintf(list, "Bearer %s", cfg.api_keys);
    size_t nk = api_bearer_tokens(list, &keys);
    free(list);
    int ok = 0;
    if (ng == 1)
        for (size_t i = 0; i < nk; i++)
            ok |= crypto_equal(given[0], keys[i]);
    api_tokens_free(given, ng);
    api_tokens_free(keys, nk);
    return ok ? 0 : -1;
}

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

void api_dispatch(struct http_req *req, void *arg)
{
    (void)arg;
    struct api_req *a = xcalloc(1, sizeof(*a));
    a->req = req;
    clock_gettime(CLOCK_MONOTONIC, &a->t0);
    app.requests++;
    const char *given = http_req_header(req, "X-Request-Id");
    if (given && rid_ok(given)) {
        snprintf(a->rid, sizeof(a->rid), "%s", given);
    } else {
        char hex[17];
        crypto_random_hex(hex, 8);
        snprintf(a->rid, sizeof(a->rid), "req-%s", hex);
    }

    const char *method = http_req_method(req);
    const char *path = http_req_path(req);
    snprintf(a->method, sizeof(a->method), "%s", method);
    snprintf(a->path, sizeof(a->path), "%s", path);
    size_t body_len = 0;
    (void)http_req_body(req, &body_len);
    metrics_bytes_in(body_len);
    if (app.stopping) {
        /* A request on a kept-alive connection after SIGTERM: the answers in
         * flight may finish, new ones go elsewhere (a proxy retries them). */
        http_req_add_header(req, "Retry-After", "1");
        api_error(a, 503, NULL, "shutting_down",
                  "the server is shutting down; retry in a moment");
        return;
    }
    size_t pl = strlen(cfg.url_prefix);
    if (pl) {
        if (strncmp(path, cfg.url_prefix, pl) == 0 && (path[pl] == '/' || path[pl] == '\0')) {
            path += pl;
            if (!*path)
                path = "/";
        } else {
            api_error(a, 404, NULL, "unknown_url",
                      "Unknown request URL: %s %s. This server is served under %s: use %s%s",
                      method, path, cfg.url_prefix, cfg.url_prefix, "/v1/chat/completions");
            return;
        }
    }

    if (strcmp(method, "OPTIONS") == 0) {
        add_common_headers(a);
        http_req_add_header(req, "Access-Control-Allow-Methods", "GET, POST, OPTIONS");
        const char *want = http_req_header(req, "Access-Control-Request-Headers");
        http_req_add_header(req, "Access-Control-Allow-Headers",
                            want && *want ? want : "Authorization, Content-Type");
        http_req_add_header(req, "Access-Control-Max-Age", "86400");
        a->status = 204;
        http_req_respond(req, 204, NULL, NULL, 0);
        a->req = NULL;
        finish(a);
        return;
    }

    const char *allowed = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (strcmp(path, routes[i].path) != 0)
            continue;
        allowed = routes[i].method;
        if (strcmp(method, routes[i].method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            routes[i].fn(a);
            return;
        }
    }
    if (allowed) {
        http_req_add_header(req, "Allow", strcmp(allowed, "POST") == 0 ? "POST, OPTIONS"
                                                                         : "GET, HEAD, OPTIONS");
        api_error(a, 405, NULL, "method_not_allowed",
                  "Method %s is not allowed for %s. This server answers %s.", method, path,
                  known_routes);
        return;
    }
    api_error(a, 404, NULL, "unknown_url",
              "Unknown request URL: %s %s. This server answers %s (an OpenAI client's base URL "
              "is http://<host>:%ld%s/v1).",
              method, path, known_routes, cfg.port, cfg.url_prefix);
}
