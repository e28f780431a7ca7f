#include "stream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "util/buf.h"
#include "util/xalloc.h"

#define OUT_HIGH (256u << 10)     /* stop writing while the socket has this much queued */
#define MAX_PENDING (512u << 20)  /* one frame after id substitution */
#define ENDLESS_MS 10

struct mock_streams {
    struct event_base *base;
    struct mock_state *state;
    struct mock_stream *first;
};

struct mock_stream {
    struct mock_streams *owner;
    struct mock_stream *prev, *next;
    struct evhttp_request *req;
    struct evhttp_connection *evcon;  /* NULL once the client is gone */
    struct event *timer;
    struct event *watch;              /* stall-before: the client's socket */
    struct evbuffer *chunk;
    enum mock_stream_mode mode;
    struct mock_answer *answer;
    struct mock_endless *endless;
    size_t next_frame, frames_sent;
    struct buf pending;               /* the frame being written */
    size_t pending_off;
    char from[3][65], to[3][65];      /* id substitutions */
    int delay_ms, trickle_ms, trickle_frame_ms, close_after;
    int cut_reset, cut_in_chunk, stall_after;
    size_t big_frame;                 /* bytes of the extra frame still to send, 0 when sent */
    int waiting_drain;
    int resume_ms;                    /* pause before writing again after the drain */
    char uid[25];
    unsigned epoch;
};

struct mock_streams *mock_streams_new(struct event_base *base, struct mock_state *state)
{
    struct mock_streams *ss = xcalloc(1, sizeof(*ss));
    ss->base = base;
    ss->state = state;
    return ss;
}

/* Releases everything the stream holds except the request and connection,
 * which the caller has dealt with. */
static void stream_free(struct mock_stream *s)
{
    struct mock_streams *ss = s->owner;
    if (s->prev)
        s->prev->next = s->next;
    else
        ss->first = s->next;
    if (s->next)
        s->next->prev = s->prev;
    mock_state_stream_end(ss->state, s->uid, s->epoch);
    if (s->timer)
        event_free(s->timer);
    if (s->watch)
        event_free(s->watch);
    if (s->chunk)
        evbuffer_free(s->chunk);
    mock_answer_unref(s->answer);
    mock_endless_free(s->endless);
    buf_cleanup(&s->pending);
    free(s);
}

void mock_streams_free(struct mock_streams *ss)
{
    if (!ss)
        return;
    while (ss->first)
        stream_free(ss->first);
    free(ss);
}

static void schedule(struct mock_stream *s, int ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(s->timer, &tv);
}

static size_t out_queued(struct mock_stream *s)
{
    return evbuffer_get_length(bufferevent_get_output(evhttp_connection_get_bufferevent(s->evcon)));
}

/* The client left. For a request evhttp detached from its dying connection
 * (it was mid-reply), evhttp_send_reply_end() is what frees it; an attached
 * one is freed with the connection. */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    struct mock_stream *s = arg;
    (void)evcon;
    s->evcon = NULL;
    if (evhttp_request_get_connection(s->req) == NULL)
        evhttp_send_reply_end(s->req);
    LOG(LOG_INFO, "stream: client left after %zu frames", s->frames_sent);
    stream_free(s);
}

/* Ends the stream by dropping the connection ourselves (close-mid, and a
 * client that left while stall-before never answered). */
static void cut(struct mock_stream *s)
{
    struct evhttp_connection *evcon = s->evcon;
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    if (s->cut_in_chunk) {
        /* A chunk that promises 0x2000 bytes and delivers a few: the socket's
         * queue is empty here, so this small write goes out whole. */
        static const char partial[] = "2000\r\nevent:message\ndata: {\"id\":\"";
        if (send(fd, partial, sizeof(partial) - 1, MSG_NOSIGNAL) < 0)
            LOG(LOG_WARN, "stream: cannot write the partial chunk: %s", strerror(errno));
    }
    if (s->cut_reset) {
        /* Linux disconnects a TCP socket connected to AF_UNSPEC with a RST
         * (no FIN first, as evhttp's own close would send); the descriptor
         * stays valid for evhttp to close. */
        struct sockaddr sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_family = AF_UNSPEC;
        if (connect(fd, &sa, sizeof(sa)) < 0)
            LOG(LOG_WARN, "stream: cannot reset the connection: %s", strerror(errno));
    }
    evhttp_connection_set_closecb(evcon, NULL, NULL);
    stream_free(s);
    evhttp_connection_free(evcon);  /* also frees the request */
}

static void finish(struct mock_stream *s)
{
    evhttp_connection_set_closecb(s->evcon, NULL, NULL);
    evhttp_send_reply_end(s->req);
    stream_free(s);
}

static void on_drained(struct evhttp_connection *evcon, void *arg)
{
    struct mock_stream *s = arg;
    (void)evcon;
    if (s->waiting_drain) {
        s->waiting_drain = 0;
        schedule(s, s->resume_ms);
    }
}

/* Appends frame bytes to the pending buffer with every quoted template id
 * replaced by its substitute. */
static int substitute(struct mock_stream *s, const char *p, size_t len)
{
    const char *end = p + len;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q)
            return buf_append(&s->pending, p, (size_t)(end - p));
        if (buf_append(&s->pending, p, (size_t)(q + 1 - p)) < 0)
            return -1;
        p = q + 1;
        for (int k = 0; k < 3; k++) {
            size_t n = strlen(s->from[k]);
            if (n && (size_t)(end - p) > n && memcmp(p, s->from[k], n) == 0 && p[n] == '"') {
                if (buf_puts(&s->pending, s->to[k]) < 0)
                    return -1;
                p += n;
                break;
            }
        }
    }
    return 0;
}

/* Loads the next frame into pending. 1 when there is none left, -1 on error. */
static int load_frame(struct mock_stream *s)
{
    buf_reset(&s->pending);
    s->pending_off = 0;
    if (s->big_frame && s->frames_sent == 1) {
        /* One frame over any line cap: a JSON object with a long string. */
        size_t n = s->big_frame;
        s->big_frame = 0;
        if (buf_puts(&s->pending, "event:message\ndata: {\"pad\":\"") < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (buf_putc(&s->pending, 'x') < 0)
                return -1;
        return buf_puts(&s->pending, "\"}\n\n");
    }
    if (s->mode == MOCK_STREAM_ENDLESS) {
        struct buf raw;
        buf_init(&raw, MAX_PENDING);
        int rc = mock_endless_next(s->endless, &raw);
        if (rc == 0)
            rc = substitute(s, buf_cstr(&raw), raw.len);
        buf_cleanup(&raw);
        return rc;
    }
    if (s->next_frame == mock_answer_nframes(s->answer))
        return 1;
    size_t len;
    const char *p = mock_answer_frame(s->answer, s->next_frame++, &len);
    return substitute(s, p, len);
}

static void pump(struct mock_stream *s)
{
    for (;;) {
        if (s->pending_off == s->pending.len) {
            if (s->mode == MOCK_STREAM_STALL && s->frames_sent >= (size_t)s->stall_after)
                return; /* idle until the client leaves */
            if (s->mode == MOCK_STREAM_CLOSE_MID && s->frames_sent >= (size_t)s->close_after) {
                /* Cut only once the frames have left our buffer. */
                if (out_queued(s) > 0) {
                    s->waiting_drain = 1;
                    s->resume_ms = 0;
                    return;
                }
                /* A reset drops what the kernel has not sent yet: wait until
                 * the peer has acknowledged every byte, so that exactly the
                 * frames before the cut arrive. */
                int unacked = 0;
                if (s->cut_reset &&
                    ioctl(bufferevent_getfd(evhttp_connection_get_bufferevent(s->evcon)),
                          SIOCOUTQ, &unacked) == 0 && unacked > 0) {
                    schedule(s, 2);
                    return;
                }
                LOG(LOG_INFO, "stream: cutting the connection after %zu frames", s->frames_sent);
                cut(s);
                return;
            }
            int rc = load_frame(s);
            if (rc != 0) {
                if (rc < 0)
                    LOG(LOG_WARN, "stream: frame too large, ending the answer");
                finish(s);
                return;
            }
        }
        size_t n = s->pending.len - s->pending_off;
        if (s->mode == MOCK_STREAM_TRICKLE && n > 1)
            n = 1;
        evbuffer_add(s->chunk, buf_cstr(&s->pending) + s->pending_off, n);
        evhttp_send_reply_chunk_with_cb(s->req, s->chunk, on_drained, s);
        s->pending_off += n;
        if (s->mode == MOCK_STREAM_TRICKLE) {
            int frame_done = s->pending_off == s->pending.len;
            s->frames_sent += frame_done;
            schedule(s, frame_done ? s->trickle_frame_ms : s->trickle_ms);
            return;
        }
        s->frames_sent++;
        int wait_ms = 0;
        if (s->mode == MOCK_STREAM_ENDLESS)
            wait_ms = s->delay_ms > ENDLESS_MS ? s->delay_ms : ENDLESS_MS;
        else if (s->next_frame < mock_answer_nframes(s->answer))
            wait_ms = s->delay_ms;
        /* A client that reads slowly (or not at all) holds us back instead
         * of growing the socket's queue. */
        if (out_queued(s) > OUT_HIGH) {
            s->waiting_drain = 1;
            s->resume_ms = wait_ms;
            return;
        }
        if (wait_ms > 0) {
            schedule(s, wait_ms);
            return;
        }
    }
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

/* stall-before only: evhttp does not read the socket before the reply starts,
 * so watch it ourselves to learn that the client left. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct mock_stream *s = arg;
    char c;
    (void)what;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK);
    if (r > 0) {
        event_del(s->watch); /* the client sent more; stop before spinning */
        return;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    LOG(LOG_INFO, "stream: client left before the headers");
    cut(s);
}

void mock_stream_start(struct mock_streams *ss, struct evhttp_request *req,
                       const struct mock_stream_spec *spec)
{
    struct mock_stream *s = xcalloc(1, sizeof(*s));
    s->owner = ss;
    s->next = ss->first;
    if (ss->first)
        ss->first->prev = s;
    ss->first = s;
    s->req = req;
    s->evcon = evhttp_request_get_connection(req);
    s->mode = spec->mode;
    s->answer = spec->answer ? mock_answer_ref(spec->answer) : NULL;
    s->endless = spec->endless;
    s->delay_ms = spec->delay_ms;
    s->trickle_ms = spec->trickle_ms;
    s->trickle_frame_ms = spec->trickle_frame_ms;
    s->close_after = spec->close_after;
    s->cut_reset = spec->cut_reset;
    s->cut_in_chunk = spec->cut_in_chunk;
    s->stall_after = spec->stall_after > 0 ? spec->stall_after : 1;
    s->big_frame = spec->big_frame;
    snprintf(s->uid, sizeof(s->uid), "%s", spec->uid);
    s->epoch = spec->epoch;
    buf_init(&s->pending, MAX_PENDING);
    s->chunk = evbuffer_new();
    s->timer = evtimer_new(ss->base, on_timer, s);
    const char *from[3], *to[3] = { spec->conv_id, spec->msg_id, spec->assistant_id };
    if (s->answer) {
        from[0] = mock_answer_conv_id(s->answer);
        from[1] = mock_answer_msg_id(s->answer);
        from[2] = mock_answer_assistant_id(s->answer);
    } else {
        from[0] = mock_generated_conv_id();
        from[1] = mock_generated_msg_id();
        from[2] = mock_generated_assistant_id();
    }
    for (int k = 0; k < 3; k++) {
        if (!to[k] || !from[k][0])
            continue;
        snprintf(s->from[k], sizeof(s->from[k]), "%s", from[k]);
        snprintf(s->to[k], sizeof(s->to[k]), "%s", to[k]);
    }
    evhttp_connection_set_closecb(s->evcon, on_close, s);
    evutil_socket_t fd = bufferevent_getfd(evhttp_connection_get_bufferevent(s->evcon));
    if (s->mode == MOCK_STREAM_TRICKLE) {
        /* Without it the kernel would merge the single bytes again. */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    if (s->mode == MOCK_STREAM_STALL_BEFORE) {
        s->watch = event_new(ss->base, fd, EV_READ | EV_PERSIST, on_watch, s);
        event_add(s->watch, NULL);
        return;
    }
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    if (spec->close_connection)
        evhttp_add_header(h, "Connection", "close");
    evhttp_send_reply_start(req, 200, "OK");
    schedule(s, 0);
}
