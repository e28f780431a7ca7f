/* A small HTTP/1.1 server on libevent bufferevents, built for long streamed
 * answers: keep-alive, pipelining (one request at a time per connection),
 * Content-Length and chunked request bodies, "Expect: 100-continue", chunked
 * streamed replies, limits on head and body size with OpenAI-style JSON
 * errors, a head timeout (slowloris), an idle keep-alive timeout, a write
 * timeout (a client that stops reading), backpressure, and a close callback
 * that fires as soon as the client goes away, even before the reply started.
 *
 * Ownership: the server hands each complete request to the handler. From then
 * on the handler owns it until it calls http_req_respond() or http_req_end()
 * exactly once; after that the request must not be touched. If the client
 * goes away first, on_close is called (once); writes then become no-ops, but
 * the handler still ends the request (which then frees it). */
#ifndef GLM_HTTP_SERVER_H
#define GLM_HTTP_SERVER_H

#include <stddef.h>

struct event_base;
struct http_server;
struct http_req;

struct http_server_opts {
    size_t max_header;          /* bytes of request line + headers; over -> 431 */
    size_t max_body;            /* bytes of body; over -> 413 */
    int header_timeout_ms;      /* to receive a whole head (and body); -> 408 + close */
    int keepalive_timeout_ms;   /* idle connection between requests; -> close */
    int write_timeout_ms;       /* output pending with no progress; -> close, on_close */
    size_t max_connections;     /* over -> accept and close at once */
};
/* Zero sizes take defaults (64 KiB head, 1 MiB body); a timeout <= 0 is
 * disabled; max_connections 0 means no limit. */

typedef void http_handler_fn(void *arg, struct http_req *req);

struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *o,
                                    http_handler_fn *handler, void *arg);
/* Binds and listens; port 0 picks a free port. Returns the bound port, or -1
 * (errno set). May be called more than once (several addresses). */
int http_server_listen(struct http_server *s, const char *host, int port);
/* Stops accepting; connections in progress go on. */
void http_server_stop_accepting(struct http_server *s);
/* Number of open client connections. */
size_t http_server_connections(const struct http_server *s);
/* Connections refused (accepted and closed at once) over max_connections. */
size_t http_server_rejected(const struct http_server *s);
/* Closes every connection (requests still owned by handlers get on_close)
 * and frees the server. Those requests stay valid (writes fail) until their
 * handlers end them, even after the server is gone. Not to be called from
 * inside the handler. */
void http_server_free(struct http_server *s);

/* Request accessors: every string is borrowed and lives as long as the request. */
const char *http_req_method(const struct http_req *r);
const char *http_req_path(const struct http_req *r);   /* without the query */
const char *http_req_query(const struct http_req *r);  /* after '?', or "" */
/* Case-insensitive; NULL when absent. */
const char *http_req_header(const struct http_req *r, const char *name);
const char *http_req_body(const struct http_req *r, size_t *len); /* NUL-terminated */
const char *http_req_peer(const struct http_req *r);   /* client IP address */
int http_req_peer_is_loopback(const struct http_req *r);
/* 1 while the client is connected. */
int http_req_connected(const struct http_req *r);

/* Adds a response header (before respond/start). Both strings are copied. */
void http_req_add_header(struct http_req *r, const char *name, const char *value);

/* A complete reply with a body; ends the request. Content-Length is added. */
void http_req_respond(struct http_req *r, int status, const char *content_type,
                      const char *body, size_t len);

/* A streamed reply: the head now (chunked for HTTP/1.1, close-delimited for
 * HTTP/1.0), then any number of writes, then end. */
void http_req_start(struct http_req *r, int status, const char *content_type);
/* Queues bytes (copied). Returns 0, or -1 when the client is gone. */
int http_req_write(struct http_req *r, const char *data, size_t len);
void http_req_end(struct http_req *r);
/* Bytes queued for the client and not yet sent. */
size_t http_req_pending(const struct http_req *r);

/* on_drain: called when pending output falls to or below low_water after
 * having been above it (for resuming a paused upstream). on_close: the
 * client went away (or the write timeout fired) before the request ended.
 * Both may be NULL. arg is passed to both. Set them inside the handler: a
 * client that left before they were set is not reported (check
 * http_req_connected()). Either callback may end the request. */
void http_req_set_callbacks(struct http_req *r, size_t low_water,
                            void (*on_drain)(void *arg, struct http_req *r),
                            void (*on_close)(void *arg, struct http_req *r), void *arg);

/* Per-request user pointer (e.g. the request id string for logs). */
void http_req_set_data(struct http_req *r, void *data);
void *http_req_get_data(const struct http_req *r);

#endif
