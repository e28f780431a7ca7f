/* Routing: the route table, the URL prefix, CORS preflights, 404/405 and the
 * stop-time refusal. The request context itself is api/req.c. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "app.h"
#include "config.h"
#include "http/server.h"
#include "metrics.h"

struct route {
    const char *method;
    const char *path;
    void (*fn)(struct api_req *a);
};

static const struct route routes[] = {
    { "POST", "/v1/chat/completions", chat_handle },
    { "POST", "/v1/images/generations", images_handle },
    { "POST", "/v1/responses", responses_handle },
    { "POST", "/v1/messages", messages_handle },
    { "POST", "/v1/messages/count_tokens", messages_count_handle },
    { "POST", "/v1/videos/generations", videos_generations_handle },
    { "POST", "/v1/videos", videos_create_handle },
    { "GET", "/v1/videos", videos_handle },
    { "GET", "/v1/videos/", videos_handle },     /* a path ending in '/' names a prefix */
    { "DELETE", "/v1/videos/", videos_handle },
    { "GET", "/v1/models", models_handle },
    { "POST", "/token/check", token_check_handle },
    { "GET", "/v1/accounts", accounts_handle },
    { "GET", "/metrics", metrics_handle },
    { "GET", "/ping", ping_handle },
    { "GET", "/", web_page_handle },
    { "GET", "/web/app.css", web_asset_handle },
    { "GET", "/web/app.js", web_asset_handle },
};

static const char known_routes[] =
    "POST /v1/chat/completions, POST /v1/responses, POST /v1/messages, "
    "POST /v1/images/generations, /v1/videos, GET /v1/models, POST /token/check, "
    "GET /v1/accounts, GET /metrics, GET /ping and GET /";

/* A route's path is the request's path, or, ending in '/', a prefix of it. */
static int route_match(const char *path, const char *route)
{
    size_t n = strlen(route);
    if (n > 1 && route[n - 1] == '/')
        return strncmp(path, route, n) == 0 && path[n] != '\0';
    return strcmp(path, route) == 0;
}

/* The metrics label of a path: a route of the table, or "other", so that
 * scanners cannot grow the series without bound. */
static const char *route_label(const char *path)
{
    size_t pl = strlen(cfg.url_prefix);
    if (pl && strncmp(path, cfg.url_prefix, pl) == 0)
        path = path[pl] ? path + pl : "/";
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (route_match(path, routes[i].path))
            return routes[i].path;
    return "other";
}

void api_dispatch(void *arg, struct http_req *req)
{
    (void)arg;
    struct api_req *a = api_req_new(req);
    a->route = route_label(a->path);
    app.requests++;

    const char *method = http_req_method(req);
    const char *path = http_req_path(req);
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
        api_common_headers(a);
        http_req_add_header(req, "Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS");
        const char *want = http_req_header(req, "Access-Control-Request-Headers");
        http_req_add_header(req, "Access-Control-Allow-Headers",
                            want && *want ? want : "Authorization, Content-Type");
        http_req_add_header(req, "Access-Control-Max-Age", "86400");
        a->status = 204;
        http_req_respond(req, 204, NULL, NULL, 0);
        a->req = NULL;
        api_finish(a);
        return;
    }

    const char *allowed = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        if (!route_match(path, routes[i].path))
            continue;
        allowed = routes[i].method;
        if (strcmp(method, routes[i].method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
            routes[i].fn(a);
            return;
        }
    }
    /* GET /v1/models/{model}: the one route with a parameter. */
    if (!allowed && strncmp(path, "/v1/models/", 11) == 0 && path[11] && !strchr(path + 11, '/') &&
        (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)) {
        model_get_handle(a, path + 11);
        return;
    }
    /* GET and DELETE /v1/responses/{id}: a stored response. */
    if (!allowed && strncmp(path, "/v1/responses/", 14) == 0 && path[14] &&
        !strchr(path + 14, '/')) {
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
            responses_get_handle(a, path + 14);
            return;
        }
        if (strcmp(method, "DELETE") == 0) {
            responses_delete_handle(a, path + 14);
            return;
        }
        allowed = "GET";
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
