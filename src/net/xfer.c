#include "net/xfer.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "net/curl_loop.h"
#include "util/buf.h"
#include "util/xalloc.h"

struct xfer {
    struct curl_loop *loop;
    CURL *easy;
    struct curl_slist *headers;
    curl_mime *mime;
    char *body;
    struct xfer_cbs cbs;
    void *arg;
    int head_done;
    enum xfer_mode mode;
    int aborted;
    int too_big;
    int paused;
    int ever_paused;
    struct buf collected;
    struct timespec started;
    struct event *idle;         /* fires after idle_timeout s without a byte */
    struct timeval idle_tv;
    struct event_base *base;
    struct timeval last_byte;   /* the loop's cached time of the last byte */
    int got_bytes;              /* since the idle timer was armed */
    int timed_out;
    long first_byte_ms;
    char errbuf[CURL_ERROR_SIZE];
};

static void done_cb(void *arg, CURL *easy, CURLcode code);

static long ms_since(const struct timespec *t0)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

static void call_head(struct xfer *c)
{
    if (c->head_done)
        return;
    c->head_done = 1;
    long status = 0;
    const char *ctype = NULL;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->easy, CURLINFO_CONTENT_TYPE, &ctype);
    c->mode = XFER_COLLECT;
    if (c->cbs.on_head)
        c->mode = c->cbs.on_head(c, status, ctype ? ctype : "", c->arg);
    if (c->mode == XFER_STREAM && !c->cbs.on_data)
        c->mode = XFER_COLLECT;
}

/* A byte arrived: the idle timer is not re-armed per read (a heap update
 * on every frame); idle_cb moves it on when it fires. */
static void saw_bytes(struct xfer *c)
{
    c->got_bytes = 1;
    event_base_gettimeofday_cached(c->base, &c->last_byte);
}

/* The idle timer, armed for a whole period from now. */
static void idle_arm(struct xfer *c)
{
    c->got_bytes = 0;
    evtimer_add(c->idle, &c->idle_tv);
}

static size_t write_cb(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *c = arg;
    size_t len = size * n;
    saw_bytes(c);
    if (c->first_byte_ms < 0)
        c->first_byte_ms = ms_since(&c->started);
    call_head(c);
    switch (c->mode) {
    case XFER_STOP:
        c->aborted = 1;
        return CURL_WRITEFUNC_ERROR;
    case XFER_COLLECT:
        if (buf_append(&c->collected, p, len) < 0) {
            c->too_big = 1;
            return CURL_WRITEFUNC_ERROR;
        }
        return len;
    case XFER_STREAM:
        break;
    }
    int rc = c->cbs.on_data(c, p, len, c->arg);
    if (rc == XFER_PAUSE) {
        /* Waiting for our own client is not upstream silence. */
        c->paused = c->ever_paused = 1;
        evtimer_del(c->idle);
        return CURL_WRITEFUNC_PAUSE;
    }
    if (rc != XFER_CONTINUE) {
        c->aborted = 1;
        return CURL_WRITEFUNC_ERROR;
    }
    return len;
}

static size_t header_cb(char *p, size_t size, size_t n, void *arg)
{
    (void)p;
    struct xfer *c = arg;
    saw_bytes(c);
    return size * n;
}

/* Our own idle timer: libcurl's low-speed check is coarse before the first
 * byte. Runs from the event loop, so the transfer can be stopped here. */
/* a > b. (libevent's evutil_timercmp takes the operator as a macro
 * argument, which cppcheck cannot parse.) */
static int tv_later(const struct timeval *a, const struct timeval *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_usec > b->tv_usec;
}

static void idle_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct xfer *c = arg;
    if (c->got_bytes) {
        /* Bytes came meanwhile: wait until a whole period after the last. */
        struct timeval now, due, left;
        event_base_gettimeofday_cached(c->base, &now);
        evutil_timeradd(&c->last_byte, &c->idle_tv, &due);
        c->got_bytes = 0;
        if (tv_later(&due, &now)) {
            evutil_timersub(&due, &now, &left);
            if (tv_later(&left, &c->idle_tv)) /* the wall clock went back */
                left = c->idle_tv;
            evtimer_add(c->idle, &left);
            return;
        }
    }
    c->timed_out = 1;
    snprintf(c->errbuf, sizeof(c->errbuf), "no data for %ld s", (long)c->idle_tv.tv_sec);
    curl_loop_remove(c->loop, c->easy);
    done_cb(c, c->easy, CURLE_OPERATION_TIMEDOUT);
}

static enum xfer_result classify(struct xfer *c, CURLcode code)
{
    if (c->too_big)
        return XFER_TOO_BIG;
    if (c->timed_out)
        return XFER_TIMEOUT;
    if (c->aborted)
        return XFER_ABORTED;
    switch (code) {
    case CURLE_OK:
        return XFER_OK;
    case CURLE_OPERATION_TIMEDOUT:
        return XFER_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return XFER_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
        return XFER_TLS;
    default:
        return XFER_NETWORK;
    }
}

/* reuse: the handle ended a transfer cleanly and may serve the next one; one
 * that was stopped, failed or paused is not trusted to start clean. */
static void xfer_free(struct xfer *c, int reuse)
{
    if (c->idle)
        event_free(c->idle);
    if (reuse && !c->ever_paused)
        curl_loop_easy_put(c->loop, c->easy);
    else if (c->easy)
        curl_easy_cleanup(c->easy);
    free(c->headers);
    curl_mime_free(c->mime);
    free(c->body);
    buf_cleanup(&c->collected);
    free(c);
}

static void done_cb(void *arg, CURL *easy, CURLcode code)
{
    (void)easy;
    struct xfer *c = arg;
    enum xfer_result res = classify(c, code);
    if (res == XFER_OK)
        call_head(c); /* an empty body never reached write_cb */
    long status = 0;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    if (res != XFER_OK && !c->errbuf[0])
        snprintf(c->errbuf, sizeof(c->errbuf), "%s", curl_easy_strerror(code));
    c->cbs.on_done(c, res, status, buf_cstr(&c->collected), c->collected.len, c->arg);
    xfer_free(c, res == XFER_OK);
}

void xfer_set_common(CURL *easy, long connect_timeout, long idle_timeout)
{
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, connect_timeout);
    /* Idle timeout: less than one byte per second for that long. */
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, idle_timeout);
    curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can decode */
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
}

struct xfer *xfer_start(struct curl_loop *l, const struct xfer_req *r,
                        const struct xfer_cbs *cbs, void *arg)
{
    struct xfer *c = xcalloc(1, sizeof(*c));
    c->loop = l;
    c->cbs = *cbs;
    c->arg = arg;
    c->headers = r->headers;
    c->mime = r->mime;
    c->first_byte_ms = -1;
    buf_init(&c->collected, r->max_body ? r->max_body : 1 << 20);
    c->easy = curl_loop_easy(l);
    if (!c->easy) {
        xfer_free(c, 0);
        return NULL;
    }
    CURL *e = c->easy;
    xfer_set_common(e, r->connect_timeout, r->idle_timeout);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
    c->idle_tv.tv_sec = r->idle_timeout > 0 ? r->idle_timeout : 120;
    c->base = curl_loop_base(l);
    c->idle = evtimer_new(c->base, idle_cb, c);
    if (r->total_timeout > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT, r->total_timeout);
    if (!c->mime) {
        /* Our idle timer (idle_cb) does what the low-speed check does, for a
         * reply. Left on, curl re-arms that check's 1 s timer on every read
         * (a splay-tree update and a call of curl_loop's timer_cb per frame).
         * An upload keeps it: its progress is not seen by our timer. */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 0L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 0L);
    }
    if (c->mime) {
        curl_easy_setopt(e, CURLOPT_MIMEPOST, c->mime);
    } else if (strcmp(r->method, "POST") == 0) {
        c->body = xmemdup(r->body ? r->body : "", r->body ? r->body_len : 0);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(r->body ? r->body_len : 0));
    } else if (strcmp(r->method, "GET") != 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    }
    clock_gettime(CLOCK_MONOTONIC, &c->started);
    if (curl_loop_add(l, e, done_cb, c) < 0) {
        xfer_free(c, 0);
        return NULL;
    }
    idle_arm(c);
    return c;
}

void xfer_cancel(struct xfer *c)
{
    if (!c)
        return;
    curl_loop_remove(c->loop, c->easy);
    xfer_free(c, 0);
}

void xfer_resume(struct xfer *c)
{
    if (!c->paused)
        return;
    c->paused = 0;
    idle_arm(c);
    curl_easy_pause(c->easy, CURLPAUSE_CONT);
}

long xfer_first_byte_ms(const struct xfer *c)
{
    return c->first_byte_ms;
}

const char *xfer_error(const struct xfer *c)
{
    return c->errbuf;
}
