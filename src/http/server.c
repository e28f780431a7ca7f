/* The HTTP/1.1 server: one bufferevent and one timer per connection, a
 * hand-written request parser, and requests that outlive their connection.
 *
 * Lifetimes. A connection (struct conn) owns its socket, its timer and the
 * request being read. Once a request is handed to the handler, the handler
 * owns it; the connection only points at it. When the client goes away first,
 * the request is "orphaned" (r->conn = NULL, c->req = NULL), the connection is
 * freed, and only then is on_close called, so that the callback may end the
 * request (which frees it) or do anything else. User code is only ever called
 * last, with nothing of ours left to touch afterwards, except the handler,
 * which runs inside conn_process() guarded by c->busy: a conn_free() asked for
 * meanwhile is deferred until the handler returns. The next pipelined request
 * is never started from inside http_req_respond()/http_req_end() when those
 * are called from outside the handler; a zero-delay timer does it.
 *
 * Writing. The bufferevent's writing is off while its output is empty: what
 * a request adds is written by conn_flush_cb, an event made active (no
 * system call, no timer) that runs later in the same loop pass, so that all
 * a pass adds leaves in one writev() and nothing waits for the next pass.
 * Only output the socket did not take at once turns the bufferevent's
 * writing on (its write event, with the write timeout); its write callback
 * turns it off again once the output is empty. Before, every event of a
 * stream armed the write event and its timeout (two epoll_ctl calls and a
 * timer), waited for one more epoll_wait() and was written in the next pass. */
#include "http/server.h"
#include "http/parse.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "log.h"
#include "util/buf.h"
#include "util/jstr.h"
#include "util/xalloc.h"

#define DEFAULT_MAX_HEADER (64u * 1024)
#define DEFAULT_MAX_BODY (1024u * 1024)
#define LISTEN_BACKLOG 1024
#define MAX_CHUNK_LINE 4096          /* a chunk-size line with its extensions */
#define MAX_OUT_HEADERS (64u * 1024) /* headers added by the handler */
#define LINGER_MS 2000               /* read-and-discard after an error reply */
#define ACCEPT_RETRY_MS 500          /* after EMFILE and friends */

#define ADD_LIT(out, s) evbuffer_add((out), (s), sizeof(s) - 1)

enum conn_state {
    CS_HEAD,     /* reading a request head (or waiting for its first byte) */
    CS_BODY,     /* reading its body */
    CS_HANDLER,  /* the handler owns c->req */
    CS_IDLE,     /* between two requests */
    CS_CLOSING,  /* flushing the last reply, then close */
    CS_LINGER,   /* write side shut; discarding input until EOF or the timer */
};

enum conn_timer { CT_NONE, CT_KICK, CT_HEADER, CT_KEEPALIVE, CT_LINGER };
enum body_mode { BM_NONE, BM_LENGTH, BM_CHUNKED };
enum chunk_state { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER };

struct http_req {
    struct conn *conn;  /* NULL once orphaned */
    char *head;         /* the head, split in place; h's strings point in */
    struct http_head h; /* method, path, headers, version, keep-alive, framing */
    struct buf body;
    struct buf out_hdrs;
    char peer[INET6_ADDRSTRLEN];
    int loopback;
    int started;        /* the head of a streamed reply was written */
    int chunked;        /* the streamed reply uses chunked framing */
    int no_body;        /* HEAD, 1xx, 204, 304: nothing after the head */
    int above;          /* pending output went above low_water */
    size_t low_water;
    void (*on_drain)(void *arg, struct http_req *r);
    void (*on_close)(void *arg, struct http_req *r);
    void *cb_arg;
    void *data;
    /* Only while http_server_free() is calling on_close callbacks: ending a
     * request unlinks it so it is not notified after being freed. */
    struct http_req *nnext, **nprev;
};

struct conn {
    struct http_server *srv;
    struct conn *prev, *next;
    struct bufferevent *bev;
    struct event *timer;
    struct event *flush; /* made active to write the output later in this pass */
    enum conn_timer tkind;
    enum conn_state state;
    struct http_req *req;   /* being read (CS_BODY) or owned by the handler */
    struct buf head;        /* the lines of the head read so far */
    size_t scan;            /* input bytes already searched for LF */
    size_t skipped;         /* empty lines before the request line */
    enum body_mode bmode;
    enum chunk_state chunk;
    size_t remaining;       /* body or chunk bytes still to come */
    size_t trailer;         /* trailer bytes read */
    int got_bytes;          /* a byte of the current request has arrived */
    int read_paused;
    int eof;
    int linger;             /* unread input may follow: shut down gently */
    int busy;               /* inside the handler */
    int dead;               /* freed while busy: free when the handler returns */
    char peer[INET6_ADDRSTRLEN];
    int loopback;
};

struct http_server {
    struct event_base *base;
    struct http_server_opts o;
    http_handler_fn *handler;
    void *arg;
    struct evconnlistener **lis;
    size_t nlis;
    struct event *retry;
    struct conn *conns;
    size_t nconns;
    size_t rejected;
};

static void conn_process(struct conn *c);
static void conn_free(struct conn *c);
static void conn_flush_later(struct conn *c);

/* ---- small helpers ---------------------------------------------------- */



static int status_has_no_body(int status)
{
    return status < 200 || status == 204 || status == 304;
}

static struct evbuffer *conn_out(const struct conn *c)
{
    return bufferevent_get_output(c->bev);
}

static struct evbuffer *conn_in(const struct conn *c)
{
    return bufferevent_get_input(c->bev);
}

/* Moves n bytes (known to be there) from the input to b, whose cap the
 * caller checked. */
static void conn_move(struct conn *c, struct buf *b, size_t n)
{
    struct evbuffer *in = conn_in(c);
    while (n) {
        struct evbuffer_iovec v[8];
        int k = evbuffer_peek(in, (ev_ssize_t)n, NULL, v, 8);
        size_t moved = 0;
        for (int i = 0; i < k && i < 8 && moved < n; i++) {
            size_t take = v[i].iov_len < n - moved ? v[i].iov_len : n - moved;
            if (buf_append(b, v[i].iov_base, take) < 0)
                abort(); /* the caller checked the cap: a bug */
            moved += take;
        }
        if (!moved)
            break;
        evbuffer_drain(in, moved);
        n -= moved;
    }
    c->scan = 0;
}

/* Length of the line at the front of the input, LF included, looking at no
 * more than limit bytes; 0 when no LF is there yet. c->scan remembers how far
 * we already looked, so a line arriving byte by byte is scanned once. */
static size_t conn_line(struct conn *c, size_t limit)
{
    struct evbuffer *in = conn_in(c);
    size_t avail = evbuffer_get_length(in);
    size_t end = avail < limit ? avail : limit;
    if (c->scan >= end)
        return 0;
    struct evbuffer_ptr from, to;
    if (evbuffer_ptr_set(in, &from, c->scan, EVBUFFER_PTR_SET) < 0 ||
        evbuffer_ptr_set(in, &to, end, EVBUFFER_PTR_SET) < 0)
        return 0;
    struct evbuffer_ptr f = evbuffer_search_range(in, "\n", 1, &from, &to);
    if (f.pos < 0) {
        c->scan = end;
        return 0;
    }
    c->scan = 0;
    return (size_t)f.pos + 1;
}

/* ---- writing ------------------------------------------------------------ */

static void conn_write_cb(struct bufferevent *bev, void *arg);

/* Output was added: write it later in this loop pass, unless the
 * bufferevent is writing (then it goes after what is queued). */
static void conn_flush_later(struct conn *c)
{
    if (!(bufferevent_get_enabled(c->bev) & EV_WRITE))
        event_active(c->flush, EV_WRITE, 0);
}

static void conn_flush_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    struct evbuffer *out = conn_out(c);
    if (c->dead || (bufferevent_get_enabled(c->bev) & EV_WRITE) || !evbuffer_get_length(out))
        return;
    /* The socket bufferevent keeps its output's front frozen but for its
     * own writes; this is one of them. */
    evbuffer_unfreeze(out, 1);
    evbuffer_write(out, bufferevent_getfd(c->bev));
    evbuffer_freeze(out, 1);
    if (evbuffer_get_length(out)) {
        /* The socket is full, or failed: the bufferevent writes the rest
         * when it can, or reports the error to conn_event_cb. */
        bufferevent_enable(c->bev, EV_WRITE);
        return;
    }
    /* All sent: what the write callback does after the bufferevent wrote. */
    conn_write_cb(c->bev, c);
}

/* ---- the timer ---------------------------------------------------------- */

static void conn_timer_start(struct conn *c, enum conn_timer kind, int ms)
{
    if (ms <= 0 && kind != CT_KICK) {
        /* that timeout is disabled */
        c->tkind = CT_NONE;
        evtimer_del(c->timer);
        return;
    }
    if (ms < 0)
        ms = 0;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    c->tkind = kind;
    evtimer_add(c->timer, &tv);
}

static void conn_timer_stop(struct conn *c)
{
    c->tkind = CT_NONE;
    evtimer_del(c->timer);
}

static int conn_linger_ms(const struct conn *c)
{
    int t = c->srv->o.header_timeout_ms;
    return t > 0 && t < LINGER_MS ? t : LINGER_MS;
}

/* ---- requests ----------------------------------------------------------- */

static struct http_req *req_new(struct conn *c)
{
    struct http_req *r = xcalloc(1, sizeof(*r));
    r->conn = c;
    r->h.method = r->h.path = "";
    r->h.query = "";
    buf_init(&r->body, c->srv->o.max_body);
    buf_init(&r->out_hdrs, MAX_OUT_HEADERS);
    memcpy(r->peer, c->peer, sizeof(r->peer));
    r->loopback = c->loopback;
    return r;
}

static void req_free(struct http_req *r)
{
    if (!r)
        return;
    if (r->nprev) {
        *r->nprev = r->nnext;
        if (r->nnext)
            r->nnext->nprev = r->nprev;
    }
    free(r->head);
    free(r->h.hdrs);
    buf_cleanup(&r->body);
    buf_cleanup(&r->out_hdrs);
    free(r);
}

const char *http_req_header(const struct http_req *r, const char *name)
{
    for (size_t i = 0; r && i < r->h.nhdrs; i++) {
        if (strcasecmp(r->h.hdrs[i].name, name) == 0)
            return r->h.hdrs[i].value;
    }
    return NULL;
}

/* ---- closing ------------------------------------------------------------ */

/* Frees the connection now (or, inside the handler, when it returns). A
 * request the handler owns must have been orphaned by the caller. */
static void conn_free(struct conn *c)
{
    if (!c)
        return;
    if (c->busy) {
        c->dead = 1;
        conn_timer_stop(c);
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    struct http_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    if (c->req) {
        if (c->state == CS_HANDLER) {
            /* Callers orphan first; never leave the handler a dangling conn. */
            c->req->conn = NULL;
        } else {
            req_free(c->req);
        }
    }
    buf_cleanup(&c->head);
    event_free(c->timer);
    event_free(c->flush);
    bufferevent_free(c->bev);
    free(c);
}

/* The client is gone (or must be dropped): free the connection, then tell
 * the handler if it owns a request. Nothing here touches c after the free. */
static void conn_drop(struct conn *c)
{
    struct http_req *r = NULL;
    if (c->state == CS_HANDLER && c->req) {
        r = c->req;
        c->req = NULL;
        r->conn = NULL;
    }
    conn_free(c);
    if (r && r->on_close)
        r->on_close(r->cb_arg, r);
}

/* The last reply is flushed: close, after a short read-and-discard period
 * when the client may still be sending (an immediate close with unread input
 * makes the kernel send a reset, which can destroy the reply in flight). */
static void conn_flushed_close(struct conn *c)
{
    if (c->eof || !c->linger || c->busy) {
        conn_free(c);
        return;
    }
    shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    c->state = CS_LINGER;
    evbuffer_drain(conn_in(c), evbuffer_get_length(conn_in(c)));
    if (c->read_paused) {
        c->read_paused = 0;
        bufferevent_enable(c->bev, EV_READ);
    }
    conn_timer_start(c, CT_LINGER, conn_linger_ms(c));
}

static void conn_close_after_flush(struct conn *c)
{
    c->state = CS_CLOSING;
    conn_timer_stop(c);
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    size_t unread = evbuffer_get_length(conn_in(c));
    if (unread) {
        c->linger = 1;
        evbuffer_drain(conn_in(c), unread);
    }
    /* Otherwise the write callback sees the output empty and closes. */
    if (!evbuffer_get_length(conn_out(c)))
        conn_flushed_close(c);
}

/* Answers with an OpenAI-style JSON error and closes once it is sent. */
static void conn_fail(struct conn *c, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void conn_fail(struct conn *c, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    LOG(LOG_INFO, "http: %d to %s: %s", status, c->peer, msg);

    struct buf b;
    buf_init(&b, 2048);
    int rc = buf_puts(&b, "{\"error\":{\"message\":");
    rc = rc ? rc : json_append_string(&b, msg, strlen(msg));
    rc = rc ? rc : buf_printf(&b, ",\"type\":\"invalid_request_error\",\"param\":null,"
                                  "\"code\":\"%s\"}}", code);
    if (rc == 0) {
        evbuffer_add_printf(conn_out(c),
                            "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                            "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                            status, http_reason(status), b.len);
        evbuffer_add(conn_out(c), b.data, b.len);
        conn_flush_later(c);
    }
    buf_cleanup(&b);

    if (c->state != CS_HANDLER) {
        req_free(c->req);
        c->req = NULL;
    }
    buf_cleanup(&c->head);
    /* The rest of the request is unread: the client may still be sending. */
    c->linger = 1;
    conn_close_after_flush(c);
}

/* ---- reading a request -------------------------------------------------- */

static void conn_begin_request(struct conn *c)
{
    c->state = CS_HEAD;
    c->got_bytes = 0;
    c->scan = 0;
    c->skipped = 0;
    c->bmode = BM_NONE;
    c->remaining = 0;
    c->trailer = 0;
    buf_reset(&c->head);
    conn_timer_start(c, CT_HEADER, c->srv->o.header_timeout_ms);
}






/* The head is complete in c->head: parse it into a new request, decide its
 * framing, and say "100 Continue" when the client waits for it. */
static int conn_parse_head(struct conn *c)
{
    size_t len = c->head.len;
    struct http_req *r = req_new(c);
    c->req = r;
    r->head = buf_take(&c->head, NULL);
    struct http_perr err;
    if (http_parse_head(r->head, len, c->srv->o.max_body, &r->h, &err) < 0) {
        conn_fail(c, err.status, err.code, "%s", err.msg);
        return -1;
    }
    switch (r->h.body) {
    case HTTP_BODY_CHUNKED:
        c->bmode = BM_CHUNKED;
        c->chunk = CH_SIZE;
        break;
    case HTTP_BODY_LENGTH:
        c->bmode = BM_LENGTH;
        c->remaining = (size_t)r->h.content_length;
        break;
    case HTTP_BODY_NONE:
        c->bmode = BM_NONE;
        break;
    }
    if (r->h.expect_continue && !r->h.http10 && c->bmode != BM_NONE)
    {
        ADD_LIT(conn_out(c), "HTTP/1.1 100 Continue\r\n\r\n");
        conn_flush_later(c);
    }
    return 0;
}

/* 1 head complete, 0 more needed, -1 failed (an error reply is queued). */
static int conn_read_head(struct conn *c)
{
    struct evbuffer *in = conn_in(c);
    size_t max = c->srv->o.max_header;
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        if (!avail)
            return 0;
        c->got_bytes = 1;
        if (c->head.len == 0) {
            /* Fail fast on what is not HTTP (a TLS hello, a stray protocol). */
            unsigned char ch;
            evbuffer_copyout(in, &ch, 1);
            if (ch != '\r' && ch != '\n' && !http_is_tchar(ch)) {
                conn_fail(c, 400, "bad_request", "malformed request line");
                return -1;
            }
        }
        size_t room = max - c->head.len;
        size_t n = conn_line(c, room + 1);
        if (!n) {
            if (avail > room) {
                conn_fail(c, 431, "headers_too_large",
                          "request head is larger than the limit of %zu bytes", max);
                return -1;
            }
            return 0;
        }
        if (n > room) {
            conn_fail(c, 431, "headers_too_large",
                      "request head is larger than the limit of %zu bytes", max);
            return -1;
        }
        unsigned char two[2] = { 0, 0 };
        evbuffer_copyout(in, two, n < 2 ? n : 2);
        int empty = n == 1 || (n == 2 && two[0] == '\r');
        if (empty && c->head.len == 0) {
            /* RFC 9112 2.2: ignore empty lines before the request line */
            evbuffer_drain(in, n);
            c->scan = 0;
            c->skipped += n;
            if (c->skipped > max) {
                conn_fail(c, 400, "bad_request", "malformed request line");
                return -1;
            }
            continue;
        }
        conn_move(c, &c->head, n);
        if (empty) {
            if (conn_parse_head(c) < 0)
                return -1;
            c->state = CS_BODY;
            return 1;
        }
    }
}

static void conn_fail_body_size(struct conn *c)
{
    conn_fail(c, 413, "request_too_large", "request body is larger than the limit of %zu bytes",
              c->srv->o.max_body);
}


/* 1 body complete, 0 more needed, -1 failed (an error reply is queued). */
static int conn_read_body(struct conn *c)
{
    struct evbuffer *in = conn_in(c);
    struct http_req *r = c->req;
    size_t max = c->srv->o.max_body;

    if (c->bmode == BM_NONE)
        return 1;
    if (c->bmode == BM_LENGTH) {
        size_t avail = evbuffer_get_length(in);
        size_t n = avail < c->remaining ? avail : c->remaining;
        conn_move(c, &r->body, n);
        c->remaining -= n;
        return c->remaining == 0;
    }
    for (;;) {
        size_t avail = evbuffer_get_length(in);
        switch (c->chunk) {
        case CH_SIZE: {
            size_t n = conn_line(c, MAX_CHUNK_LINE);
            if (!n) {
                if (avail >= MAX_CHUNK_LINE) {
                    conn_fail(c, 400, "bad_request", "chunk size line too long");
                    return -1;
                }
                return 0;
            }
            const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
            uint64_t size = 0;
            if (!p || http_parse_chunk_size(p, n, &size) < 0) {
                conn_fail(c, 400, "bad_request", "malformed chunk size in the request body");
                return -1;
            }
            evbuffer_drain(in, n);
            c->scan = 0;
            if (size == 0) {
                c->chunk = CH_TRAILER;
                c->trailer = 0;
            } else if (size > max - r->body.len) {
                conn_fail_body_size(c);
                return -1;
            } else {
                c->remaining = (size_t)size;
                c->chunk = CH_DATA;
            }
            break;
        }
        case CH_DATA: {
            size_t n = avail < c->remaining ? avail : c->remaining;
            if (!n)
                return 0;
            conn_move(c, &r->body, n);
            c->remaining -= n;
            if (c->remaining)
                return 0;
            c->chunk = CH_DATA_END;
            break;
        }
        case CH_DATA_END: {
            unsigned char two[2];
            if (!avail)
                return 0;
            evbuffer_copyout(in, two, avail < 2 ? 1 : 2);
            if (two[0] == '\n') {
                evbuffer_drain(in, 1);
            } else if (two[0] == '\r' && avail < 2) {
                return 0;
            } else if (two[0] == '\r' && two[1] == '\n') {
                evbuffer_drain(in, 2);
            } else {
                conn_fail(c, 400, "bad_request", "missing CRLF after chunk data");
                return -1;
            }
            c->scan = 0;
            c->chunk = CH_SIZE;
            break;
        }
        case CH_TRAILER: {
            size_t room = c->srv->o.max_header - c->trailer;
            size_t n = conn_line(c, room + 1);
            if (!n || n > room) {
                if (n > room || avail > room) {
                    conn_fail(c, 431, "headers_too_large",
                              "request trailers are larger than the limit of %zu bytes",
                              c->srv->o.max_header);
                    return -1;
                }
                return 0;
            }
            unsigned char two[2] = { 0, 0 };
            evbuffer_copyout(in, two, n < 2 ? n : 2);
            evbuffer_drain(in, n);
            c->scan = 0;
            c->trailer += n;
            if (n == 1 || (n == 2 && two[0] == '\r'))
                return 1; /* trailers are ignored */
            break;
        }
        }
    }
}

/* Hands the complete request to the handler. */
static void conn_dispatch(struct conn *c)
{
    struct http_server *s = c->srv;
    c->state = CS_HANDLER;
    conn_timer_stop(c);
    c->busy++;
    s->handler(s->arg, c->req);
    c->busy--;
}

/* Reads and serves requests for as long as whole ones are in the input. */
static void conn_process(struct conn *c)
{
    for (;;) {
        switch (c->state) {
        case CS_IDLE:
            if (!evbuffer_get_length(conn_in(c))) {
                conn_timer_start(c, CT_KEEPALIVE, c->srv->o.keepalive_timeout_ms);
                return;
            }
            conn_begin_request(c);
            break;
        case CS_HEAD:
            if (conn_read_head(c) <= 0)
                return;
            break;
        case CS_BODY:
            if (conn_read_body(c) <= 0)
                return;
            conn_dispatch(c);
            if (c->dead) {
                conn_free(c);
                return;
            }
            break;
        default:
            return;
        }
    }
}

/* ---- bufferevent callbacks ---------------------------------------------- */

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    const struct http_server_opts *o = &c->srv->o;
    switch (c->state) {
    case CS_HANDLER:
        /* Pipelined bytes wait for the current request to end; bound them.
         * (While reading is paused, a vanished client is noticed by the
         * write timeout instead.) */
        if (evbuffer_get_length(in) > o->max_header + o->max_body) {
            bufferevent_disable(bev, EV_READ);
            c->read_paused = 1;
        }
        return;
    case CS_CLOSING:
    case CS_LINGER:
        if (evbuffer_get_length(in)) {
            c->linger = 1;
            evbuffer_drain(in, evbuffer_get_length(in));
        }
        return;
    default:
        conn_process(c);
        return;
    }
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *out = bufferevent_get_output(bev);
    if (!evbuffer_get_length(out))
        bufferevent_disable(bev, EV_WRITE); /* its event is already deleted */
    if (c->state == CS_CLOSING) {
        if (!evbuffer_get_length(out))
            conn_flushed_close(c);
        return;
    }
    struct http_req *r = c->req;
    if (c->state != CS_HANDLER || !r || !r->above || evbuffer_get_length(out) > r->low_water)
        return;
    r->above = 0;
    /* Last thing: on_drain may end r, which may free c. */
    if (r->on_drain)
        r->on_drain(r->cb_arg, r);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED)
        return;
    if ((what & BEV_EVENT_EOF) && !(what & (BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
        c->eof = 1;
        switch (c->state) {
        case CS_CLOSING:
            return; /* the write callback closes once the reply is out */
        case CS_HEAD:
        case CS_IDLE:
            /* between requests: finish sending what is queued, then close */
            if (!(c->state == CS_HEAD && c->got_bytes) &&
                evbuffer_get_length(bufferevent_get_output(bev))) {
                conn_close_after_flush(c);
                return;
            }
            break;
        default:
            break;
        }
        LOG(LOG_DEBUG, "http: %s closed the connection", c->peer);
    } else if (what & BEV_EVENT_TIMEOUT) {
        LOG(LOG_INFO, "http: %s stopped reading: closing after %d ms without progress",
            c->peer, c->srv->o.write_timeout_ms);
    } else {
        LOG(LOG_DEBUG, "http: %s connection error: %s", c->peer,
            evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    conn_drop(c);
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    (void)fd;
    (void)what;
    enum conn_timer kind = c->tkind;
    c->tkind = CT_NONE;
    switch (kind) {
    case CT_KICK:
        conn_process(c);
        break;
    case CT_HEADER:
        if (c->state != CS_HEAD && c->state != CS_BODY)
            break;
        if (c->got_bytes)
            conn_fail(c, 408, "request_timeout", "the request was not received within %d ms",
                      c->srv->o.header_timeout_ms);
        else
            conn_close_after_flush(c);
        break;
    case CT_KEEPALIVE:
        if (c->state == CS_IDLE)
            conn_close_after_flush(c);
        break;
    case CT_LINGER:
        conn_free(c);
        break;
    case CT_NONE:
        break;
    }
}

/* ---- ending a request --------------------------------------------------- */

/* The handler is done with the request on connection c (which may be NULL). */
static void conn_request_done(struct conn *c, int keep)
{
    if (!c)
        return;
    c->req = NULL;
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    if (c->read_paused) {
        c->read_paused = 0;
        bufferevent_enable(c->bev, EV_READ);
    }
    if (!keep) {
        conn_close_after_flush(c);
        return;
    }
    c->state = CS_IDLE;
    if (c->busy)
        return; /* conn_process() goes on with the next request */
    /* Never start the next request (and call the handler) from inside the
     * caller's respond/end: do it from the loop. */
    if (evbuffer_get_length(conn_in(c)))
        conn_timer_start(c, CT_KICK, 0);
    else
        conn_timer_start(c, CT_KEEPALIVE, c->srv->o.keepalive_timeout_ms);
}

static void req_write_head(struct http_req *r, int status, const char *ctype, int streamed,
                           size_t len)
{
    struct evbuffer *out = conn_out(r->conn);
    evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status, http_reason(status));
    if (ctype && !strpbrk(ctype, "\r\n"))
        evbuffer_add_printf(out, "Content-Type: %s\r\n", ctype);
    if (!status_has_no_body(status)) {
        if (!streamed)
            evbuffer_add_printf(out, "Content-Length: %zu\r\n", len);
        else if (r->chunked || (r->h.is_head && !r->h.http10))
            ADD_LIT(out, "Transfer-Encoding: chunked\r\n");
    }
    if (r->out_hdrs.len)
        evbuffer_add(out, r->out_hdrs.data, r->out_hdrs.len);
    buf_cleanup(&r->out_hdrs);
    if (r->h.keep_alive)
        ADD_LIT(out, "Connection: keep-alive\r\n\r\n");
    else
        ADD_LIT(out, "Connection: close\r\n\r\n");
}

static void req_finish(struct http_req *r)
{
    struct conn *c = r->conn;
    int keep = r->h.keep_alive;
    req_free(r);
    conn_request_done(c, keep);
}

void http_req_respond(struct http_req *r, int status, const char *content_type,
                      const char *body, size_t len)
{
    if (!r)
        return;
    if (r->conn && r->started) {
        LOG(LOG_ERROR, "http: http_req_respond after http_req_start; ending the stream");
        http_req_end(r);
        return;
    }
    if (r->conn) {
        req_write_head(r, status, content_type, 0, len);
        if (len && !r->h.is_head && !status_has_no_body(status))
            evbuffer_add(conn_out(r->conn), body, len);
        conn_flush_later(r->conn);
    }
    req_finish(r);
}

void http_req_start(struct http_req *r, int status, const char *content_type)
{
    if (!r || r->started)
        return;
    r->started = 1;
    r->no_body = r->h.is_head || status_has_no_body(status);
    r->chunked = !r->h.http10 && !r->no_body;
    /* HTTP/1.0 has no chunking: the end of the reply is the close. */
    if (r->h.http10 && !r->no_body)
        r->h.keep_alive = 0;
    if (r->conn) {
        req_write_head(r, status, content_type, 1, 0);
        conn_flush_later(r->conn);
    }
}

int http_req_write(struct http_req *r, const char *data, size_t len)
{
    if (!r || !r->conn)
        return -1;
    if (!r->started) {
        LOG(LOG_ERROR, "http: http_req_write before http_req_start");
        return -1;
    }
    if (r->no_body || !len)
        return 0; /* an empty chunk would end the reply */
    struct evbuffer *out = conn_out(r->conn);
    if (r->chunked) {
        /* The size line by hand: a stream writes one chunk per event. */
        char line[2 * sizeof(size_t) + 2];
        size_t i = sizeof(line) - 2;
        line[i] = '\r';
        line[i + 1] = '\n';
        for (size_t v = len; v; v >>= 4)
            line[--i] = "0123456789abcdef"[v & 15];
        evbuffer_add(out, line + i, sizeof(line) - i);
        evbuffer_add(out, data, len);
        ADD_LIT(out, "\r\n");
    } else {
        evbuffer_add(out, data, len);
    }
    conn_flush_later(r->conn);
    if (evbuffer_get_length(out) > r->low_water)
        r->above = 1;
    return 0;
}

void http_req_end(struct http_req *r)
{
    if (!r)
        return;
    if (r->conn && !r->started) {
        static const char msg[] = "{\"error\":{\"message\":\"the request ended without a reply\","
                                  "\"type\":\"server_error\",\"param\":null,\"code\":null}}";
        LOG(LOG_ERROR, "http: http_req_end without a reply; answering 500");
        http_req_respond(r, 500, "application/json", msg, sizeof(msg) - 1);
        return;
    }
    if (r->conn && r->chunked) {
        ADD_LIT(conn_out(r->conn), "0\r\n\r\n");
        conn_flush_later(r->conn);
    }
    req_finish(r);
}

size_t http_req_pending(const struct http_req *r)
{
    return r && r->conn ? evbuffer_get_length(conn_out(r->conn)) : 0;
}

void http_req_set_callbacks(struct http_req *r, size_t low_water,
                            void (*on_drain)(void *arg, struct http_req *r),
                            void (*on_close)(void *arg, struct http_req *r), void *arg)
{
    if (!r)
        return;
    r->low_water = low_water;
    r->on_drain = on_drain;
    r->on_close = on_close;
    r->cb_arg = arg;
    if (r->conn) {
        /* The write callback then runs whenever output falls to low_water. */
        bufferevent_setwatermark(r->conn->bev, EV_WRITE, low_water, 0);
        r->above = evbuffer_get_length(conn_out(r->conn)) > low_water;
    }
}

void http_req_add_header(struct http_req *r, const char *name, const char *value)
{
    if (!r || r->started)
        return;
    if (!*name || strpbrk(name, "\r\n: \t") || strpbrk(value, "\r\n")) {
        LOG(LOG_WARN, "http: refusing a response header with a bad name or value");
        return;
    }
    if (buf_printf(&r->out_hdrs, "%s: %s\r\n", name, value) < 0)
        LOG(LOG_WARN, "http: response headers over %u bytes; dropping %s", MAX_OUT_HEADERS, name);
}

/* ---- accessors ------------------------------------------------------------ */

const char *http_req_method(const struct http_req *r) { return r->h.method; }
const char *http_req_path(const struct http_req *r) { return r->h.path; }
const char *http_req_query(const struct http_req *r) { return r->h.query; }
const char *http_req_peer(const struct http_req *r) { return r->peer; }
int http_req_peer_is_loopback(const struct http_req *r) { return r->loopback; }
int http_req_connected(const struct http_req *r) { return r && r->conn != NULL; }
void http_req_set_data(struct http_req *r, void *data) { r->data = data; }
void *http_req_get_data(const struct http_req *r) { return r->data; }

const char *http_req_body(const struct http_req *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return buf_cstr(&r->body);
}

/* ---- the server ----------------------------------------------------------- */

static void peer_describe(const struct sockaddr *sa, char out[INET6_ADDRSTRLEN], int *loopback)
{
    *loopback = 0;
    strcpy(out, "?");
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, out, INET6_ADDRSTRLEN);
        *loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out, INET6_ADDRSTRLEN);
            *loopback = in6->sin6_addr.s6_addr[12] == 127;
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, out, INET6_ADDRSTRLEN);
            *loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        }
    }
}

static void srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    struct http_server *s = arg;
    (void)l;
    (void)salen;
    if (s->o.max_connections && s->nconns >= s->o.max_connections) {
        s->rejected++;
        LOG(LOG_WARN, "http: %zu connections open: refusing one more", s->nconns);
        evutil_closesocket(fd);
        return;
    }
    struct bufferevent *bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    /* SSE events are small and must leave at once */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    struct conn *c = xcalloc(1, sizeof(*c));
    c->srv = s;
    c->bev = bev;
    c->timer = evtimer_new(s->base, conn_timer_cb, c);
    c->flush = event_new(s->base, -1, 0, conn_flush_cb, c);
    if (!c->timer || !c->flush)
        abort(); /* only fails on OOM */
    buf_init(&c->head, s->o.max_header);
    peer_describe(sa, c->peer, &c->loopback);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;

    bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    if (s->o.write_timeout_ms > 0) {
        /* libevent's write timeout restarts whenever a write makes progress,
         * which is exactly "output pending and nothing sent for that long". */
        struct timeval tv = { s->o.write_timeout_ms / 1000, (s->o.write_timeout_ms % 1000) * 1000 };
        bufferevent_set_timeouts(bev, NULL, &tv);
    }
    bufferevent_enable(bev, EV_READ); /* writing: see conn_flush_later */
    conn_begin_request(c);
    LOG(LOG_DEBUG, "http: connection from %s (%zu open)", c->peer, s->nconns);
}

static void srv_retry_cb(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *s = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < s->nlis; i++)
        evconnlistener_enable(s->lis[i]);
}

static void srv_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct http_server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    (void)l;
    LOG(LOG_ERROR, "http: accept: %s", evutil_socket_error_to_string(err));
    if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        /* The pending connection stays queued and would wake us at once
         * forever: pause accepting for a while instead of spinning. */
        for (size_t i = 0; i < s->nlis; i++)
            evconnlistener_disable(s->lis[i]);
        struct timeval tv = { ACCEPT_RETRY_MS / 1000, (ACCEPT_RETRY_MS % 1000) * 1000 };
        evtimer_add(s->retry, &tv);
    }
}

struct http_server *http_server_new(struct event_base *base, const struct http_server_opts *o,
                                    http_handler_fn *handler, void *arg)
{
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->o = *o;
    if (!s->o.max_header)
        s->o.max_header = DEFAULT_MAX_HEADER;
    if (!s->o.max_body)
        s->o.max_body = DEFAULT_MAX_BODY;
    s->handler = handler;
    s->arg = arg;
    s->retry = evtimer_new(base, srv_retry_cb, s);
    if (!s->retry)
        abort();
    /* libevent writes with writev(): a client that resets mid-reply would
     * otherwise kill the process with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return s;
}

int http_server_listen(struct http_server *s, const char *host, int port)
{
    struct addrinfo hints, *res = NULL;
    char ps[16];
    int rc = -1, err = 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(ps, sizeof(ps), "%d", port);
    if (host && (!*host || strcmp(host, "*") == 0))
        host = NULL;
    int gai = getaddrinfo(host, ps, &hints, &res);
    if (gai) {
        err = gai == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
        LOG(LOG_ERROR, "http: cannot resolve %s: %s", host ? host : "*", gai_strerror(gai));
        goto out;
    }
    struct evconnlistener *l =
        evconnlistener_new_bind(s->base, srv_accept_cb, s,
                                LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                LISTEN_BACKLOG, res->ai_addr, (int)res->ai_addrlen);
    if (!l) {
        err = errno;
        goto out;
    }
    evconnlistener_set_error_cb(l, srv_accept_error_cb);
    s->lis = xrealloc(s->lis, (s->nlis + 1) * sizeof(*s->lis));
    s->lis[s->nlis++] = l;

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&ss, &sl) < 0) {
        err = errno;
        goto out;
    }
    if (ss.ss_family == AF_INET)
        rc = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else
        rc = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
out:
    if (res)
        freeaddrinfo(res);
    if (rc < 0)
        errno = err;
    return rc;
}

void http_server_stop_accepting(struct http_server *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nlis; i++)
        evconnlistener_free(s->lis[i]);
    free(s->lis);
    s->lis = NULL;
    s->nlis = 0;
    evtimer_del(s->retry);
}

size_t http_server_connections(const struct http_server *s)
{
    return s ? s->nconns : 0;
}

size_t http_server_rejected(const struct http_server *s)
{
    return s ? s->rejected : 0;
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    http_server_stop_accepting(s);
    /* First free every connection, collecting the requests handlers own,
     * then notify: an on_close may end other requests of the list, which
     * unlink themselves as they are freed. */
    struct http_req *pending = NULL;
    struct conn *next;
    for (struct conn *c = s->conns; c; c = next) {
        next = c->next; /* conn_free() calls no user code: next stays valid */
        if (c->busy)
            abort(); /* freeing the server from inside its handler: a bug */
        if (c->state == CS_HANDLER && c->req) {
            struct http_req *r = c->req;
            c->req = NULL;
            r->conn = NULL;
            r->nnext = pending;
            if (pending)
                pending->nprev = &r->nnext;
            r->nprev = &pending;
            pending = r;
        }
        conn_free(c);
    }
    while (pending) {
        struct http_req *r = pending;
        pending = r->nnext;
        if (pending)
            pending->nprev = &pending;
        r->nnext = NULL;
        r->nprev = NULL;
        if (r->on_close)
            r->on_close(r->cb_arg, r);
    }
    event_free(s->retry);
    free(s);
}
