/* The request context every endpoint gets: one api_req with its id, timing
 * and the access-log fields, and the ways to answer (each ends the request,
 * writes the access-log line and frees the context). Built by the router
 * (api/router.c) around the HTTP server's request. */
#ifndef GLM_API_REQ_H
#define GLM_API_REQ_H

#include <stddef.h>
#include <time.h>

struct http_req;

struct api_req {
    struct http_req *req;
    char rid[48];             /* request id: the client's X-Request-Id if sane, else ours */
    struct timespec t0;
    char method[12];          /* copied: the request is gone when the log line is written */
    char path[160];
    const char *route;        /* metrics label: a path of the route table, or "other" */
    char model[80];           /* for the access log */
    int client_gone;
    int anthropic;            /* errors in Anthropic's envelope (the Messages API) */
    char *authorization;      /* owned: "Bearer <x-api-key>" when the client sent that instead */
    int stream;
    int status;
    size_t bytes_out;
    void (*on_close)(void *arg, struct api_req *a); /* the client left */
    void (*on_drain)(void *arg, struct api_req *a); /* output fell below the low mark */
    void *cb_arg;
};

/* Output above this many bytes pending: pause the upstream. */
#define API_OUT_HIGH (256 * 1024)
#define API_OUT_LOW (64 * 1024)

/* A new context for req (the request id, the clock and the copied method and
 * path are set; route is "other" until the router sets it). */
struct api_req *api_req_new(struct http_req *req);

void api_reply(struct api_req *a, int status, const char *content_type, const char *body,
               size_t len);
void api_reply_json(struct api_req *a, int status, const char *json);
/* An OpenAI error body; param and code may be NULL. */
void api_error(struct api_req *a, int status, const char *param, const char *code,
               const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The CORS and request-id headers every answer carries (before any reply). */
void api_common_headers(struct api_req *a);
/* Ends a request whose reply was sent by other means (http_req_respond):
 * the access-log line and metrics, then frees a. */
void api_finish(struct api_req *a);

/* Streamed replies (SSE): start, writes, end. */
void api_stream_start(struct api_req *a);
int api_stream_write(struct api_req *a, const char *data, size_t len);
/* Ends the request: a started stream, or an orphan whose client left before
 * any reply (nothing is sent then). */
void api_end(struct api_req *a);
size_t api_pending(const struct api_req *a);
int api_connected(const struct api_req *a);
/* Registers on_close / on_drain for this request. */
void api_watch(struct api_req *a, void (*on_close)(void *arg, struct api_req *a),
               void (*on_drain)(void *arg, struct api_req *a), void *arg);

/* Splits "Bearer t1,t2" into tokens; returns the count (0 when absent). The
 * strings are new; free with api_tokens_free. */
size_t api_bearer_tokens(const char *authorization, char ***out);
void api_tokens_free(char **tokens, size_t n);
/* 0 when authorization carries one of cfg.api_keys (constant-time compare). */
int api_key_check(const char *authorization);
/* Who a request is, for what it stores (stored responses, video jobs): a key
 * derived from the credential it presented (an API key, or its refresh
 * tokens; x-api-key too), never the credential itself; 64 hex + NUL. */
void api_owner(const struct api_req *a, char out[65]);

#endif
