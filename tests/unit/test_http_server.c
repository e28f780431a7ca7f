/* The HTTP server, driven over 127.0.0.1 by a client thread with blocking
 * sockets while the main thread runs the server's event loop. The client
 * thread only records what it received; every CHECK runs on the main thread
 * after the thread is joined. Server-side state is touched only by the loop
 * thread, except the two atomic counters the client waits on. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "http/server.h"
#include "log.h"
#include "test.h"

#define MAX_RESP 16
#define MAX_HELD 600

struct ctx;
typedef void handler_fn(struct ctx *x, struct http_req *r);
typedef void client_fn(struct ctx *x);

struct seen {
    char method[16], path[64], query[64], body[256];
    size_t body_len;
};

struct ctx {
    struct http_server_opts opts;
    handler_fn *handler;
    client_fn *client;
    int (*until)(struct ctx *x);          /* stop condition once the client is done */
    void (*after_free)(struct ctx *x);    /* runs after http_server_free */
    struct event_base *base;
    struct http_server *srv;
    int port;

    /* server side (loop thread) */
    int requests;
    struct seen seen[8];
    char hdr[64], peer[64];
    int hdr_missing_null, loopback;
    size_t conns_at[8];
    int closes, drains, rounds, write_rc, connected, slow_done_before_fast;
    size_t pending_max;
    struct http_req *held[MAX_HELD];
    int nheld;
    int end_all_on_close, end_on_close;
    size_t final_conns, final_rejected;
    atomic_int handled, closed;

    /* client side (client thread; read after join) */
    char *resp[MAX_RESP];
    int nresp;
    int eof[MAX_RESP];
    long elapsed_ms;
    long long bytes;
    int ok, fds[8], nfds;

    int done_pipe[2];
    int client_done;
    int timed_out;
};

static void ctx_init(struct ctx *x)
{
    memset(x, 0, sizeof(*x));
    x->opts.max_header = 8192;
    x->opts.max_body = 1 << 20;
    x->opts.header_timeout_ms = 2000;
    x->opts.keepalive_timeout_ms = 2000;
    x->opts.write_timeout_ms = 2000;
    x->opts.max_connections = 2000;
    x->write_rc = 99;
    x->connected = 99;
}

static void ctx_cleanup(struct ctx *x)
{
    for (int i = 0; i < x->nresp; i++)
        free(x->resp[i]);
}

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* ---- the loop side ------------------------------------------------------ */

static void dispatch(void *arg, struct http_req *r)
{
    struct ctx *x = arg;
    if (x->requests < 8) {
        struct seen *s = &x->seen[x->requests];
        size_t len;
        const char *body = http_req_body(r, &len);
        snprintf(s->method, sizeof(s->method), "%s", http_req_method(r));
        snprintf(s->path, sizeof(s->path), "%s", http_req_path(r));
        snprintf(s->query, sizeof(s->query), "%s", http_req_query(r));
        s->body_len = len;
        memcpy(s->body, body, len < sizeof(s->body) - 1 ? len + 1 : sizeof(s->body) - 1);
        x->conns_at[x->requests] = http_server_connections(x->srv);
    }
    x->requests++;
    x->handler(x, r);
}

static void done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ctx *x = arg;
    (void)fd;
    (void)what;
    x->client_done = 1;
}

static void poll_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ctx *x = arg;
    (void)fd;
    (void)what;
    if (x->client_done && (!x->until || x->until(x)))
        event_base_loopbreak(x->base);
}

static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    struct ctx *x = arg;
    (void)fd;
    (void)what;
    x->timed_out = 1;
    event_base_loopbreak(x->base);
}

static void *client_main(void *arg)
{
    struct ctx *x = arg;
    x->client(x);
    if (write(x->done_pipe[1], "x", 1) != 1)
        abort();
    return NULL;
}

static void run(struct ctx *x)
{
    x->base = event_base_new();
    x->srv = http_server_new(x->base, &x->opts, dispatch, x);
    x->port = http_server_listen(x->srv, "127.0.0.1", 0);
    CHECK(x->port > 0);
    CHECK(pipe(x->done_pipe) == 0);
    struct event *pe = event_new(x->base, x->done_pipe[0], EV_READ, done_cb, x);
    struct event *pl = event_new(x->base, -1, EV_PERSIST, poll_cb, x);
    struct event *guard = evtimer_new(x->base, guard_cb, x);
    struct timeval t5 = { 0, 5000 }, t4 = { 4, 0 };
    event_add(pe, NULL);
    event_add(pl, &t5);
    evtimer_add(guard, &t4);

    pthread_t th;
    CHECK(pthread_create(&th, NULL, client_main, x) == 0);
    event_base_dispatch(x->base);
    pthread_join(th, NULL);
    CHECK(!x->timed_out);

    x->final_conns = http_server_connections(x->srv);
    x->final_rejected = http_server_rejected(x->srv);
    http_server_free(x->srv);
    x->srv = NULL;
    if (x->after_free)
        x->after_free(x);
    for (int i = 0; i < x->nfds; i++)
        close(x->fds[i]);
    event_free(pe);
    event_free(pl);
    event_free(guard);
    close(x->done_pipe[0]);
    close(x->done_pipe[1]);
    event_base_free(x->base);
}

/* Runs fn(x, r) ms later from the loop. */
struct later {
    struct event *ev;
    handler_fn *fn;
    struct ctx *x;
    struct http_req *r;
};

static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    struct later *l = arg;
    (void)fd;
    (void)what;
    l->fn(l->x, l->r);
    event_free(l->ev);
    free(l);
}

static void later(struct ctx *x, int ms, handler_fn *fn, struct http_req *r)
{
    struct later *l = calloc(1, sizeof(*l));
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    l->fn = fn;
    l->x = x;
    l->r = r;
    l->ev = evtimer_new(x->base, later_cb, l);
    evtimer_add(l->ev, &tv);
}

static int until_no_conns(struct ctx *x)
{
    return http_server_connections(x->srv) == 0;
}

static int until_closed_and_no_conns(struct ctx *x)
{
    return x->closes > 0 && http_server_connections(x->srv) == 0;
}

/* ---- the client side ---------------------------------------------------- */

struct cli {
    int fd;
    size_t len;
    char buf[1 << 16];
};

static int cli_connect_buf(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = { 3, 0 };
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static struct cli *cli_new(int port)
{
    struct cli *k = calloc(1, sizeof(*k));
    k->fd = cli_connect_buf(port, 0);
    return k;
}

static void cli_free(struct cli *k)
{
    if (k->fd >= 0)
        close(k->fd);
    free(k);
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

static void send_str(int fd, const char *s)
{
    send_all(fd, s, strlen(s));
}

static void cli_send(struct cli *k, const char *s)
{
    send_str(k->fd, s);
}

static int cli_fill(struct cli *k)
{
    if (k->len == sizeof(k->buf))
        return -1;
    ssize_t n = recv(k->fd, k->buf + k->len, sizeof(k->buf) - k->len, 0);
    if (n > 0)
        k->len += (size_t)n;
    return (int)n;
}

/* The value of a header in a response head we wrote ourselves (exact case). */
static const char *head_find(const char *head, size_t len, const char *name)
{
    char *p = memmem(head, len, name, strlen(name));
    return p ? p + strlen(name) : NULL;
}

/* Reads exactly one response (1xx included) and returns its bytes, or NULL
 * when the connection ended or timed out first. */
static char *cli_response(struct cli *k, int head_req)
{
    char *e;
    while (!(e = memmem(k->buf, k->len, "\r\n\r\n", 4))) {
        if (cli_fill(k) <= 0)
            return NULL;
    }
    size_t head_len = (size_t)(e - k->buf) + 4, total;
    int status = atoi(k->buf + 9);
    const char *cl = head_find(k->buf, head_len, "\r\nContent-Length: ");
    if (status < 200 || status == 204 || status == 304 || head_req) {
        total = head_len;
    } else if (cl) {
        total = head_len + strtoul(cl, NULL, 10);
    } else if (head_find(k->buf, head_len, "\r\nTransfer-Encoding: chunked")) {
        size_t pos = head_len;
        for (;;) {
            char *lf;
            while (!(lf = memmem(k->buf + pos, k->len - pos, "\r\n", 2))) {
                if (cli_fill(k) <= 0)
                    return NULL;
            }
            size_t sz = strtoul(k->buf + pos, NULL, 16);
            pos = (size_t)(lf - k->buf) + 2 + sz + 2;
            while (k->len < pos) {
                if (cli_fill(k) <= 0)
                    return NULL;
            }
            if (!sz)
                break;
        }
        total = pos;
    } else {
        while (cli_fill(k) > 0)
            ;
        total = k->len;
    }
    while (k->len < total) {
        if (cli_fill(k) <= 0)
            return NULL;
    }
    char *r = malloc(total + 1);
    memcpy(r, k->buf, total);
    r[total] = '\0';
    memmove(k->buf, k->buf + total, k->len - total);
    k->len -= total;
    return r;
}

/* 1 when the server closed the connection (EOF or reset) with nothing more. */
static int cli_eof(struct cli *k)
{
    if (k->len)
        return 0;
    char ch;
    ssize_t n = recv(k->fd, &ch, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void x_resp(struct ctx *x, struct cli *k, int head_req)
{
    if (x->nresp < MAX_RESP)
        x->resp[x->nresp++] = cli_response(k, head_req);
}

static void wait_atomic(atomic_int *v, int want, int ms)
{
    long end = now_ms() + ms;
    while (atomic_load(v) < want && now_ms() < end)
        usleep(1000);
}

static const char *body_of(const char *resp)
{
    const char *p = resp ? strstr(resp, "\r\n\r\n") : NULL;
    return p ? p + 4 : "";
}

/* ---- handlers ----------------------------------------------------------- */

/* Answers with the body, or with the path when there is none. */
static void h_echo(struct ctx *x, struct http_req *r)
{
    size_t len;
    const char *body = http_req_body(r, &len);
    (void)x;
    if (!len) {
        body = http_req_path(r);
        len = strlen(body);
    }
    http_req_respond(r, 200, "text/plain", body, len);
}

static void on_close_rec(void *arg, struct http_req *r)
{
    struct ctx *x = arg;
    x->closes++;
    x->write_rc = http_req_write(r, "x", 1);
    x->connected = http_req_connected(r);
    atomic_fetch_add(&x->closed, 1);
    if (x->end_on_close)
        http_req_end(r);
}

/* ---- tests -------------------------------------------------------------- */

static void h_simple(struct ctx *x, struct http_req *r)
{
    const char *v = http_req_header(r, "x-foo");
    snprintf(x->hdr, sizeof(x->hdr), "%s", v ? v : "(null)");
    x->hdr_missing_null = http_req_header(r, "X-Missing") == NULL;
    snprintf(x->peer, sizeof(x->peer), "%s", http_req_peer(r));
    x->loopback = http_req_peer_is_loopback(r);
    http_req_add_header(r, "X-Test", "1");
    http_req_add_header(r, "X-Bad", "a\r\nInjected: 1"); /* refused */
    http_req_respond(r, 200, "text/plain", "hello", 5);
}

static void c_simple(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "GET /v1/models?x=1&y=2 HTTP/1.1\r\nHost: a\r\nX-Foo:  bar \r\n\r\n");
    x_resp(x, k, 0);
    cli_free(k);
}

TEST(simple_get_gets_exact_response_bytes)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_simple;
    x.client = c_simple;
    x.until = until_no_conns;
    run(&x);
    CHECK_INT(x.nresp, 1);
    CHECK_STR(x.resp[0], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                         "X-Test: 1\r\nConnection: keep-alive\r\n\r\nhello");
    CHECK_INT(x.requests, 1);
    CHECK_STR(x.seen[0].method, "GET");
    CHECK_STR(x.seen[0].path, "/v1/models");
    CHECK_STR(x.seen[0].query, "x=1&y=2");
    CHECK_INT(x.seen[0].body_len, 0);
    CHECK_STR(x.hdr, "bar");
    CHECK(x.hdr_missing_null);
    CHECK_STR(x.peer, "127.0.0.1");
    CHECK_INT(x.loopback, 1);
    CHECK_INT(x.final_conns, 0);
    ctx_cleanup(&x);
}

static void c_post(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\n"
                "Content-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":");
    usleep(30000); /* the body arrives in two reads */
    cli_send(k, "[1,2,3]}");
    x_resp(x, k, 0);
    cli_free(k);
}

TEST(post_with_content_length_body_arriving_in_pieces)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_echo;
    x.client = c_post;
    run(&x);
    CHECK_INT(x.requests, 1);
    CHECK_STR(x.seen[0].method, "POST");
    CHECK_STR(x.seen[0].body, "{\"a\":[1,2,3]}");
    CHECK_INT(x.seen[0].body_len, 13);
    CHECK_STR(body_of(x.resp[0]), "{\"a\":[1,2,3]}");
    ctx_cleanup(&x);
}

static void c_chunked(struct ctx *x)
{
    static const char body[] = "4\r\nWiki\r\n5;name=val\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n"
                               "0\r\nX-Trailer: yes\r\n\r\n";
    struct cli *k = cli_new(x->port);
    cli_send(k, "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (size_t i = 0; i < sizeof(body) - 1; i++) {
        send_all(k->fd, body + i, 1);
        if (i % 8 == 0)
            usleep(500);
    }
    x_resp(x, k, 0);
    /* the framing was consumed exactly: the connection goes on */
    cli_send(k, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, k, 0);
    cli_free(k);
}

TEST(chunked_request_body_is_decoded)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_echo;
    x.client = c_chunked;
    run(&x);
    CHECK_INT(x.requests, 2);
    CHECK_STR(x.seen[0].body, "Wikipedia in\r\n\r\nchunks.");
    CHECK_INT(x.seen[0].body_len, 23);
    CHECK_STR(body_of(x.resp[0]), "Wikipedia in\r\n\r\nchunks.");
    CHECK_STR(body_of(x.resp[1]), "/next");
    ctx_cleanup(&x);
}

static void c_expect(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    x_resp(x, k, 0); /* the 100 arrives before any body byte is sent */
    cli_send(k, "hello");
    x_resp(x, k, 0);
    cli_free(k);

    k = cli_new(x->port);
    cli_send(k, "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
    x_resp(x, k, 0);
    x->eof[0] = cli_eof(k);
    cli_free(k);
}

TEST(expect_100_continue_then_body_and_413_instead_when_too_big)
{
    struct ctx x;
    ctx_init(&x);
    x.opts.max_body = 1000;
    x.handler = h_echo;
    x.client = c_expect;
    run(&x);
    CHECK_INT(x.nresp, 3);
    CHECK_STR(x.resp[0], "HTTP/1.1 100 Continue\r\n\r\n");
    CHECK(x.resp[1] && strncmp(x.resp[1], "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK_STR(body_of(x.resp[1]), "hello");
    CHECK(x.resp[2] && strncmp(x.resp[2], "HTTP/1.1 413 ", 13) == 0);
    CHECK(x.eof[0]);
    CHECK_INT(x.requests, 1);
    ctx_cleanup(&x);
}

static void c_two(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "GET /one HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, k, 0);
    cli_send(k, "GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    x_resp(x, k, 0);
    x->eof[0] = cli_eof(k);
    cli_free(k);
}

TEST(keep_alive_serves_two_requests_on_one_connection)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_echo;
    x.client = c_two;
    run(&x);
    CHECK_INT(x.requests, 2);
    CHECK_INT(x.conns_at[0], 1);
    CHECK_INT(x.conns_at[1], 1);
    CHECK_STR(x.resp[0], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
                         "Connection: keep-alive\r\n\r\n/one");
    CHECK_STR(x.resp[1], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n"
                         "Connection: close\r\n\r\n/two");
    CHECK(x.eof[0]);
    ctx_cleanup(&x);
}

static void c_bytewise(struct ctx *x)
{
    static const char req[] = "POST /bytes?a=b HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n"
                              "\r\nhello world";
    struct cli *k = cli_new(x->port);
    for (size_t i = 0; i < sizeof(req) - 1; i++) {
        send_all(k->fd, req + i, 1);
        usleep(200);
    }
    x_resp(x, k, 0);

    /* 200 requests in one write; the last one closes */
    char *many = malloc(200 * 64);
    size_t len = 0;
    for (int i = 0; i < 200; i++)
        len += (size_t)sprintf(many + len, "GET /p%d HTTP/1.1\r\nHost: a\r\n%s\r\n", i,
                               i == 199 ? "Connection: close\r\n" : "");
    send_all(k->fd, many, len);
    free(many);
    for (int i = 0; i < 200; i++) {
        char want[16], *r = cli_response(k, 0);
        snprintf(want, sizeof(want), "/p%d", i);
        x->ok += r && strcmp(body_of(r), want) == 0;
        free(r);
    }
    x->eof[0] = cli_eof(k);
    cli_free(k);
}

TEST(request_fed_byte_by_byte_and_200_pipelined_requests)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_echo;
    x.client = c_bytewise;
    x.until = until_no_conns;
    run(&x);
    CHECK_STR(x.seen[0].path, "/bytes");
    CHECK_STR(x.seen[0].query, "a=b");
    CHECK_STR(body_of(x.resp[0]), "hello world");
    CHECK_INT(x.requests, 201);
    CHECK_INT(x.ok, 200);
    CHECK(x.eof[0]);
    ctx_cleanup(&x);
}

static void slow_reply(struct ctx *x, struct http_req *r)
{
    x->slow_done_before_fast = 1;
    http_req_respond(r, 200, "text/plain", "slow", 4);
}

static void h_pipe(struct ctx *x, struct http_req *r)
{
    if (strcmp(http_req_path(r), "/slow") == 0) {
        x->slow_done_before_fast = 0;
        later(x, 50, slow_reply, r);
        return;
    }
    if (strcmp(http_req_path(r), "/fast") == 0 && !x->slow_done_before_fast)
        x->slow_done_before_fast = -1; /* dispatched too early */
    h_echo(x, r);
}

static void c_pipe(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\n"
                "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
                "GET /fast HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, k, 0);
    x_resp(x, k, 0);
    x_resp(x, k, 0);
    cli_free(k);
}

TEST(pipelined_requests_get_their_responses_in_order)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_pipe;
    x.client = c_pipe;
    x.until = until_no_conns;
    run(&x);
    CHECK_INT(x.requests, 3);
    CHECK_STR(x.seen[0].path, "/slow");
    CHECK_STR(x.seen[1].body, "abc");
    CHECK_STR(x.seen[2].path, "/fast");
    CHECK_INT(x.slow_done_before_fast, 1);
    CHECK_STR(body_of(x.resp[0]), "slow");
    CHECK_STR(body_of(x.resp[1]), "abc");
    CHECK_STR(body_of(x.resp[2]), "/fast");
    ctx_cleanup(&x);
}

static void stream_second(struct ctx *x, struct http_req *r)
{
    (void)x;
    CHECK_INT(http_req_write(r, "data: b\n\n", 9), 0);
    CHECK_INT(http_req_write(r, "", 0), 0); /* not a terminating chunk */
    http_req_end(r);
}

static void h_stream(struct ctx *x, struct http_req *r)
{
    if (strcmp(http_req_path(r), "/stream") != 0) {
        h_echo(x, r);
        return;
    }
    http_req_set_callbacks(r, 0, NULL, on_close_rec, x);
    http_req_add_header(r, "X-Request-Id", "abc");
    http_req_start(r, 200, "text/event-stream");
    CHECK_INT(http_req_write(r, "data: a\n\n", 9), 0);
    later(x, 20, stream_second, r);
}

static void c_http10(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "GET /a HTTP/1.0\r\n\r\n");
    x_resp(x, k, 0);
    x->eof[0] = cli_eof(k);
    cli_free(k);

    k = cli_new(x->port);
    cli_send(k, "GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    x_resp(x, k, 0);
    cli_send(k, "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    x_resp(x, k, 0); /* close-delimited */
    x->eof[1] = 1;
    cli_free(k);
}

TEST(http10_closes_by_default_and_streams_close_delimited)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_stream;
    x.client = c_http10;
    x.until = until_no_conns;
    run(&x);
    CHECK_INT(x.requests, 3);
    CHECK_STR(x.resp[0], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                         "Connection: close\r\n\r\n/a");
    CHECK(x.eof[0]);
    CHECK_STR(x.resp[1], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                         "Connection: keep-alive\r\n\r\n/b");
    CHECK_STR(x.resp[2], "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         "X-Request-Id: abc\r\nConnection: close\r\n\r\ndata: a\n\ndata: b\n\n");
    CHECK_INT(x.closes, 0);
    ctx_cleanup(&x);
}

static void c_stream(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, k, 0);
    cli_send(k, "HEAD /head HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, k, 1);
    cli_send(k, "GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, k, 0);
    cli_free(k);
}

TEST(streamed_reply_has_exact_chunk_framing_and_head_has_no_body)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_stream;
    x.client = c_stream;
    x.until = until_no_conns;
    run(&x);
    CHECK_INT(x.requests, 3);
    CHECK_STR(x.resp[0], "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                         "Transfer-Encoding: chunked\r\nX-Request-Id: abc\r\n"
                         "Connection: keep-alive\r\n\r\n"
                         "9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n0\r\n\r\n");
    CHECK_STR(x.resp[1], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
                         "Connection: keep-alive\r\n\r\n");
    CHECK_STR(x.resp[2], "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n"
                         "Connection: keep-alive\r\n\r\n/after");
    CHECK_STR(x.seen[1].method, "HEAD");
    /* the request ended normally: the later close is not reported */
    CHECK_INT(x.closes, 0);
    ctx_cleanup(&x);
}

static void h_hold_stream(struct ctx *x, struct http_req *r)
{
    http_req_set_callbacks(r, 0, NULL, on_close_rec, x);
    if (strcmp(http_req_path(r), "/stream") == 0) {
        http_req_start(r, 200, "text/event-stream");
        http_req_write(r, "data: 1\n\n", 9);
    }
    if (x->nheld < MAX_HELD)
        x->held[x->nheld++] = r;
    atomic_fetch_add(&x->handled, 1);
}

static void c_close_mid_stream(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
    while (!memmem(k->buf, k->len, "data: 1", 7) && cli_fill(k) > 0)
        ;
    x->ok = memmem(k->buf, k->len, "data: 1", 7) != NULL;
    cli_free(k);
}

TEST(on_close_fires_when_client_leaves_mid_stream_and_writes_fail)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_hold_stream;
    x.client = c_close_mid_stream;
    x.until = until_closed_and_no_conns;
    x.end_on_close = 1;
    run(&x);
    CHECK(x.ok);
    CHECK_INT(x.closes, 1);
    CHECK_INT(x.write_rc, -1);
    CHECK_INT(x.connected, 0);
    CHECK_INT(x.final_conns, 0);
    ctx_cleanup(&x);
}

static void end_late(struct ctx *x, struct http_req *r)
{
    x->write_rc = http_req_write(r, "late", 4);
    http_req_respond(r, 200, "text/plain", "late", 4); /* frees the orphan */
    x->rounds = 1;
}

static void on_close_end_late(void *arg, struct http_req *r)
{
    struct ctx *x = arg;
    x->closes++;
    x->connected = http_req_connected(r);
    later(x, 20, end_late, r);
}

static void h_hold(struct ctx *x, struct http_req *r)
{
    http_req_set_callbacks(r, 0, NULL, on_close_end_late, x);
    atomic_fetch_add(&x->handled, 1);
}

static void c_close_early(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}");
    wait_atomic(&x->handled, 1, 2000);
    cli_free(k);
}

static int until_late_done(struct ctx *x)
{
    return x->rounds == 1;
}

TEST(on_close_fires_before_the_reply_started_and_orphan_ends_later)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_hold;
    x.client = c_close_early;
    x.until = until_late_done;
    run(&x);
    CHECK_INT(x.requests, 1);
    CHECK_INT(x.closes, 1);
    CHECK_INT(x.connected, 0);
    CHECK_INT(x.write_rc, -1);
    CHECK_INT(x.final_conns, 0);
    ctx_cleanup(&x);
}

#define DRAIN_PIECE 65536
#define DRAIN_PIECES 16 /* 1 MiB a round */
#define DRAIN_ROUNDS 8

static void drain_round(struct ctx *x, struct http_req *r)
{
    static char piece[DRAIN_PIECE];
    memset(piece, 'a', sizeof(piece));
    for (int i = 0; i < DRAIN_PIECES; i++)
        http_req_write(r, piece, sizeof(piece));
    if (http_req_pending(r) > x->pending_max)
        x->pending_max = http_req_pending(r);
    x->rounds++;
}

static void on_drain_next(void *arg, struct http_req *r)
{
    struct ctx *x = arg;
    x->drains++;
    if (x->rounds < DRAIN_ROUNDS)
        drain_round(x, r);
    else
        http_req_end(r);
}

static void h_drain(struct ctx *x, struct http_req *r)
{
    http_req_start(r, 200, "text/event-stream");
    http_req_set_callbacks(r, 64 * 1024, on_drain_next, on_close_rec, x);
    drain_round(x, r);
}

static void c_slow_reader(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    cli_send(k, "GET /big HTTP/1.1\r\nHost: a\r\n\r\n");
    usleep(200000); /* a slow reader: the server's output backs up */
    char tail[8] = "";
    long long total = 0;
    for (;;) {
        ssize_t n = recv(k->fd, k->buf, sizeof(k->buf), 0);
        if (n <= 0)
            break;
        total += n;
        if (n >= 7) {
            memcpy(tail, k->buf + n - 7, 7);
        } else {
            memmove(tail, tail + n, (size_t)(7 - n));
            memcpy(tail + 7 - n, k->buf, (size_t)n);
        }
        if (memcmp(tail, "\r\n0\r\n\r\n", 7) == 0)
            break;
    }
    x->bytes = total;
    cli_free(k);
}

TEST(on_drain_fires_after_a_slow_reader_catches_up)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_drain;
    x.client = c_slow_reader;
    x.until = until_no_conns;
    run(&x);
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                               "Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n";
    long long chunk = 5 + 2 + DRAIN_PIECE + 2; /* "10000\r\n" data "\r\n" */
    CHECK_INT(x.drains, DRAIN_ROUNDS);
    CHECK(x.pending_max > 64 * 1024);
    CHECK_INT(x.bytes, (long long)(sizeof(head) - 1) +
                           chunk * DRAIN_PIECES * DRAIN_ROUNDS + 5);
    CHECK_INT(x.closes, 0);
    ctx_cleanup(&x);
}

static void c_too_big(struct ctx *x)
{
    char big[600];
    memset(big, 'b', sizeof(big));

    struct cli *k = cli_new(x->port);
    cli_send(k, "POST /v1/chat/completions HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n");
    send_all(k->fd, big, 100); /* part of the body is on its way */
    x_resp(x, k, 0);
    x->eof[0] = cli_eof(k);
    cli_free(k);

    k = cli_new(x->port);
    cli_send(k, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n");
    x_resp(x, k, 0);
    cli_free(k);

    k = cli_new(x->port);
    cli_send(k, "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 2; i++) {
        cli_send(k, "258\r\n"); /* 600 bytes */
        send_all(k->fd, big, sizeof(big));
        cli_send(k, "\r\n");
    }
    x_resp(x, k, 0);
    x->eof[1] = cli_eof(k);
    cli_free(k);
}

TEST(oversized_bodies_get_413_with_json_error)
{
    struct ctx x;
    ctx_init(&x);
    x.opts.max_body = 1000;
    x.handler = h_echo;
    x.client = c_too_big;
    run(&x);
    static const char body[] = "{\"error\":{\"message\":\"request body is larger than the limit "
                               "of 1000 bytes\",\"type\":\"invalid_request_error\",\"param\":null,"
                               "\"code\":\"request_too_large\"}}";
    char want[512];
    snprintf(want, sizeof(want),
             "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s", sizeof(body) - 1, body);
    CHECK_INT(x.nresp, 3);
    CHECK_STR(x.resp[0], want);
    CHECK_STR(x.resp[1], want);
    CHECK_STR(x.resp[2], want);
    CHECK(x.eof[0]);
    CHECK(x.eof[1]);
    CHECK_INT(x.requests, 0);
    ctx_cleanup(&x);
}

static void c_huge_head(struct ctx *x)
{
    char big[3000];
    memset(big, 'h', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';

    struct cli *k = cli_new(x->port);
    cli_send(k, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: ");
    cli_send(k, big);
    cli_send(k, "\r\n\r\n");
    x_resp(x, k, 0);
    x->eof[0] = cli_eof(k);
    cli_free(k);

    k = cli_new(x->port); /* one endless line */
    cli_send(k, "GET /");
    cli_send(k, big);
    x_resp(x, k, 0);
    cli_free(k);

    k = cli_new(x->port); /* many small headers */
    cli_send(k, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 200; i++)
        cli_send(k, "X-Many: 0123456789\r\n");
    cli_send(k, "\r\n");
    x_resp(x, k, 0);
    cli_free(k);
}

TEST(oversized_head_gets_431)
{
    struct ctx x;
    ctx_init(&x);
    x.opts.max_header = 1024;
    x.handler = h_echo;
    x.client = c_huge_head;
    run(&x);
    CHECK_INT(x.nresp, 3);
    for (int i = 0; i < 3; i++) {
        CHECK(x.resp[i] &&
              strncmp(x.resp[i], "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46) == 0);
        CHECK(x.resp[i] && strstr(x.resp[i], "\r\nConnection: close\r\n"));
        CHECK_STR(body_of(x.resp[i]),
                  "{\"error\":{\"message\":\"request head is larger than the limit of 1024 bytes\","
                  "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"headers_too_large\"}}");
    }
    CHECK(x.eof[0]);
    CHECK_INT(x.requests, 0);
    ctx_cleanup(&x);
}

struct bad_case {
    const char *name;
    const char *req;
    size_t len; /* 0: strlen */
    int status;
};

static const struct bad_case bad_cases[] = {
    { "not http", "hello there\r\n\r\n", 0, 400 },
    { "tls hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, 400 },
    { "obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n  folded\r\n\r\n", 0, 400 },
    { "length and chunked",
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 400 },
    { "bad length", "POST / HTTP/1.1\r\nContent-Length: 12a\r\n\r\n", 0, 400 },
    { "negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0, 400 },
    { "conflicting lengths", "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      0, 400 },
    { "conflicting list", "POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n", 0, 400 },
    { "gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 0, 501 },
    { "nul byte", "GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 28, 400 },
    { "space in name", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 0, 400 },
    { "space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0, 400 },
    { "bare cr", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 0, 400 },
    { "control byte", "GET / HTTP/1.1\r\nX-A: a\x01" "b\r\n\r\n", 0, 400 },
    { "http/2", "GET / HTTP/2.0\r\n\r\n", 0, 505 },
    { "bad version", "GET / HTTQ/1.1\r\n\r\n", 0, 400 },
    { "unknown method", "BREW / HTTP/1.1\r\n\r\n", 0, 501 },
    { "space in target", "GET /a b HTTP/1.1\r\n\r\n", 0, 400 },
    { "relative target", "GET a HTTP/1.1\r\n\r\n", 0, 400 },
    { "unknown expect", "POST / HTTP/1.1\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx", 0, 417 },
    { "bad chunk size", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, 400 },
    { "chunk without crlf",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", 0, 400 },
    { "chunked in 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, 400 },
    /* accepted: blank lines first, equal duplicate lengths, absolute form */
    { "leading crlf", "\r\nPOST /ok HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      0, 200 },
    { "absolute form", "GET http://example.com/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n", 0,
      200 },
    { "bare lf lines", "GET /lf HTTP/1.1\nHost: a\n\n", 0, 200 },
};
#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

static int bad_status[N_BAD];
static int bad_json[N_BAD];

static void c_bad(struct ctx *x)
{
    for (size_t i = 0; i < N_BAD; i++) {
        const struct bad_case *b = &bad_cases[i];
        struct cli *k = cli_new(x->port);
        send_all(k->fd, b->req, b->len ? b->len : strlen(b->req));
        char *r = cli_response(k, 0);
        bad_status[i] = r ? atoi(r + 9) : -1;
        bad_json[i] = r && strstr(r, "\r\nContent-Type: application/json\r\n") &&
                      strstr(r, "\r\nConnection: close\r\n") &&
                      strstr(r, "\r\n\r\n{\"error\":{\"message\":\"") &&
                      strstr(r, "\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"") &&
                      cli_eof(k);
        free(r);
        cli_free(k);
    }
}

TEST(malformed_requests_get_json_errors)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_echo;
    x.client = c_bad;
    run(&x);
    for (size_t i = 0; i < N_BAD; i++) {
        if (bad_status[i] != bad_cases[i].status)
            printf("# case \"%s\": status %d, expected %d\n", bad_cases[i].name, bad_status[i],
                   bad_cases[i].status);
        CHECK_INT(bad_status[i], bad_cases[i].status);
        if (bad_cases[i].status != 200)
            CHECK(bad_json[i]);
    }
    CHECK_INT(x.requests, 3);
    CHECK_STR(x.seen[0].body, "abc");
    CHECK_STR(x.seen[1].path, "/abs");
    CHECK_STR(x.seen[1].query, "q=1");
    CHECK_STR(x.seen[2].path, "/lf");
    ctx_cleanup(&x);
}

static void c_slowloris(struct ctx *x)
{
    struct cli *k = cli_new(x->port);
    long t0 = now_ms();
    cli_send(k, "GET / HTTP/1.1\r\n");
    struct pollfd p = { .fd = k->fd, .events = POLLIN };
    while (now_ms() - t0 < 2000 && poll(&p, 1, 40) == 0)
        cli_send(k, "X-A: b\r\n"); /* always some progress, never the end */
    x_resp(x, k, 0);
    x->elapsed_ms = now_ms() - t0;
    x->eof[0] = cli_eof(k);
    cli_free(k);

    /* an idle keep-alive connection is closed after keepalive_timeout_ms */
    k = cli_new(x->port);
    cli_send(k, "GET /idle HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, k, 0);
    t0 = now_ms();
    x->eof[1] = cli_eof(k);
    x->bytes = now_ms() - t0;
    cli_free(k);
}

TEST(slowloris_gets_408_and_idle_keep_alive_is_closed)
{
    struct ctx x;
    ctx_init(&x);
    x.opts.header_timeout_ms = 200;
    x.opts.keepalive_timeout_ms = 150;
    x.handler = h_echo;
    x.client = c_slowloris;
    run(&x);
    CHECK(x.resp[0] && strncmp(x.resp[0], "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    CHECK(x.resp[0] && strstr(x.resp[0], "\"code\":\"request_timeout\""));
    CHECK(x.elapsed_ms >= 180 && x.elapsed_ms < 1500);
    CHECK(x.eof[0]);
    CHECK_STR(body_of(x.resp[1]), "/idle");
    CHECK(x.eof[1]);
    CHECK(x.bytes >= 100 && x.bytes < 1500);
    CHECK_INT(x.requests, 1);
    ctx_cleanup(&x);
}

static void h_flood(struct ctx *x, struct http_req *r)
{
    static char piece[65536];
    memset(piece, 'f', sizeof(piece));
    x->end_on_close = 1;
    http_req_set_callbacks(r, 0, NULL, on_close_rec, x);
    http_req_start(r, 200, "text/event-stream");
    for (int i = 0; i < 256; i++) /* 16 MiB: more than any socket buffer */
        http_req_write(r, piece, sizeof(piece));
    atomic_fetch_add(&x->handled, 1);
}

static void c_never_reads(struct ctx *x)
{
    int fd = cli_connect_buf(x->port, 4096);
    send_str(fd, "GET /flood HTTP/1.1\r\nHost: a\r\n\r\n");
    wait_atomic(&x->handled, 1, 2000);
    long t0 = now_ms();
    wait_atomic(&x->closed, 1, 3000);
    x->elapsed_ms = now_ms() - t0;
    close(fd);
}

TEST(write_timeout_drops_a_client_that_never_reads)
{
    struct ctx x;
    ctx_init(&x);
    x.opts.write_timeout_ms = 200;
    x.handler = h_flood;
    x.client = c_never_reads;
    x.until = until_closed_and_no_conns;
    run(&x);
    CHECK_INT(x.closes, 1);
    CHECK_INT(x.write_rc, -1);
    CHECK_INT(x.connected, 0);
    CHECK(x.elapsed_ms < 2000); /* a lower bound would race the client thread */
    CHECK_INT(x.final_conns, 0);
    ctx_cleanup(&x);
}

static void c_max_conns(struct ctx *x)
{
    struct cli *a = cli_new(x->port), *b = cli_new(x->port);
    cli_send(a, "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, a, 0);
    cli_send(b, "GET /b HTTP/1.1\r\nHost: a\r\n\r\n");
    x_resp(x, b, 0);
    struct cli *c = cli_new(x->port);
    cli_send(c, "GET /c HTTP/1.1\r\nHost: a\r\n\r\n");
    x->eof[0] = cli_eof(c);
    cli_free(c);
    cli_free(a);
    /* once the server has seen a go, a new client is served */
    for (int i = 0; i < 100 && !x->ok; i++) {
        struct cli *d = cli_new(x->port);
        cli_send(d, "GET /d HTTP/1.1\r\nHost: a\r\n\r\n");
        char *r = cli_response(d, 0);
        x->ok = r && strcmp(body_of(r), "/d") == 0;
        free(r);
        cli_free(d);
        if (!x->ok)
            usleep(10000);
    }
    cli_free(b);
}

TEST(max_connections_refuses_the_extra_client)
{
    struct ctx x;
    ctx_init(&x);
    x.opts.max_connections = 2;
    x.handler = h_echo;
    x.client = c_max_conns;
    x.until = until_no_conns;
    run(&x);
    CHECK_STR(body_of(x.resp[0]), "/a");
    CHECK_STR(body_of(x.resp[1]), "/b");
    CHECK(x.eof[0]);
    CHECK(x.ok);
    CHECK(x.final_rejected >= 1);
    CHECK_INT(x.final_conns, 0);
    ctx_cleanup(&x);
}

#define CROWD 500

static void c_crowd(struct ctx *x)
{
    static int fds[CROWD];
    int streams = 0;
    for (int i = 0; i < CROWD; i++) {
        fds[i] = cli_connect_buf(x->port, 0);
        switch (i % 4) {
        case 0:
            break; /* says nothing */
        case 1:
            send_str(fds[i], "GET / HT");
            break;
        case 2:
            send_str(fds[i], "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
            streams++;
            break;
        case 3:
            send_str(fds[i], "POST /e HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
            break;
        }
    }
    wait_atomic(&x->handled, streams, 3000);
    x->ok = atomic_load(&x->handled) == streams;
    for (int i = 0; i < CROWD; i++) {
        if (i % 8 == 0) { /* some leave with a reset */
            struct linger lg = { 1, 0 };
            setsockopt(fds[i], SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        close(fds[i]);
    }
}

static int until_crowd_gone(struct ctx *x)
{
    return x->closes == CROWD / 4 && http_server_connections(x->srv) == 0;
}

TEST(five_hundred_connections_opened_and_dropped_at_once)
{
    struct ctx x;
    ctx_init(&x);
    x.opts.max_connections = 1000;
    x.handler = h_hold_stream;
    x.end_on_close = 1;
    x.client = c_crowd;
    x.until = until_crowd_gone;
    run(&x);
    CHECK(x.ok);
    CHECK_INT(x.requests, CROWD / 4);
    CHECK_INT(x.closes, CROWD / 4);
    CHECK_INT(x.final_conns, 0);
    ctx_cleanup(&x);
}

static void on_close_end_all(void *arg, struct http_req *r)
{
    struct ctx *x = arg;
    (void)r;
    x->closes++;
    x->write_rc = http_req_write(r, "x", 1);
    /* ends every held request, including ones not yet notified */
    for (int i = 0; i < x->nheld; i++) {
        if (x->held[i])
            http_req_end(x->held[i]);
        x->held[i] = NULL;
    }
}

static void h_hold_for_free(struct ctx *x, struct http_req *r)
{
    http_req_start(r, 200, "text/event-stream");
    http_req_set_callbacks(r, 0, NULL, x->end_all_on_close ? on_close_end_all : on_close_rec, x);
    x->held[x->nheld++] = r;
    atomic_fetch_add(&x->handled, 1);
}

static void c_stay(struct ctx *x)
{
    for (int i = 0; i < 3; i++) {
        x->fds[i] = cli_connect_buf(x->port, 0);
        send_str(x->fds[i], "GET /s HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    x->nfds = 3;
    wait_atomic(&x->handled, 3, 2000);
}

static void end_held_after_free(struct ctx *x)
{
    for (int i = 0; i < x->nheld; i++) {
        if (x->held[i]) {
            x->rounds += http_req_write(x->held[i], "x", 1) == -1;
            http_req_end(x->held[i]);
        }
    }
}

TEST(server_free_notifies_open_requests_which_outlive_it)
{
    struct ctx x;
    ctx_init(&x);
    x.handler = h_hold_for_free;
    x.client = c_stay;
    x.after_free = end_held_after_free;
    run(&x);
    CHECK_INT(x.requests, 3);
    CHECK_INT(x.closes, 3);
    CHECK_INT(x.write_rc, -1);
    CHECK_INT(x.rounds, 3); /* writes after the free fail, ends free */
    ctx_cleanup(&x);

    ctx_init(&x);
    x.handler = h_hold_for_free;
    x.end_all_on_close = 1;
    x.client = c_stay;
    run(&x);
    CHECK_INT(x.requests, 3);
    CHECK_INT(x.closes, 1); /* the first on_close ended the other two */
    ctx_cleanup(&x);
}

__attribute__((constructor)) static void quiet(void)
{
    log_set_level(LOG_OFF);
    signal(SIGPIPE, SIG_IGN);
}

TEST_MAIN()
