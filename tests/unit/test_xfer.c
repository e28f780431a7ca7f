/* net/xfer against a small HTTP server on loopback: a collected answer, a
 * streamed one, the body cap, a refused connection, pause and resume (the
 * same bytes come again), an abort from on_data, and a cancel that calls
 * nothing. */
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "http/server.h"
#include "net/curl_loop.h"
#include "net/xfer.h"
#include "test.h"
#include "test_loop.h"
#include "util/buf.h"

static struct event_base *base;
static struct curl_loop *loop;
static struct http_server *srv;
static int port;
static char url[128];

/* GET /json: a small JSON answer. GET /big: 64 KiB. GET /stream: a streamed
 * answer in three writes. */
static void handler(void *arg, struct http_req *r)
{
    (void)arg;
    const char *path = http_req_path(r);
    if (strcmp(path, "/stream") == 0) {
        http_req_start(r, 200, "text/event-stream");
        (void)http_req_write(r, "data: 1\n\n", 9);
        (void)http_req_write(r, "data: 2\n\n", 9);
        (void)http_req_write(r, "data: 3\n\n", 9);
        http_req_end(r);
    } else if (strcmp(path, "/big") == 0) {
        static char big[64 * 1024];
        memset(big, 'x', sizeof(big));
        http_req_respond(r, 200, "text/plain", big, sizeof(big));
    } else {
        http_req_respond(r, strcmp(path, "/json") == 0 ? 200 : 404, "application/json",
                         "{\"status\":0}", 12);
    }
}

/* What one transfer told. */
struct seen {
    int done;
    enum xfer_result res;
    long status;
    char ctype[64];
    struct buf body;            /* collected */
    struct buf data;            /* streamed */
    int pauses;                 /* on_data answers XFER_PAUSE this many times first */
    int abort_after;            /* on_data answers XFER_ABORT after this many calls; 0: never */
    int calls;
    struct xfer *x;
    char why[128];              /* xfer_error at the end */
};

static enum xfer_mode on_head(struct xfer *x, long status, const char *ctype, void *arg)
{
    (void)x;
    struct seen *s = arg;
    s->status = status;
    snprintf(s->ctype, sizeof(s->ctype), "%s", ctype);
    return strstr(ctype, "event-stream") ? XFER_STREAM : XFER_COLLECT;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct seen *s = arg;
    xfer_resume(s->x);
}

static int on_data(struct xfer *x, const char *data, size_t len, void *arg)
{
    struct seen *s = arg;
    s->calls++;
    if (s->pauses > 0) {
        s->pauses--;
        s->x = x;
        /* Resumed from the loop, never from inside the callback. */
        event_base_once(base, -1, EV_TIMEOUT, resume_cb, s, NULL);
        return XFER_PAUSE;
    }
    if (s->abort_after && s->calls >= s->abort_after)
        return XFER_ABORT;
    return buf_append(&s->data, data, len) < 0 ? XFER_ABORT : XFER_CONTINUE;
}

static void on_done(struct xfer *x, enum xfer_result res, long status, const char *body,
                    size_t len, void *arg)
{
    struct seen *s = arg;
    snprintf(s->why, sizeof(s->why), "%s", xfer_error(x));
    s->done++;
    s->res = res;
    s->status = status;
    if (buf_append(&s->body, body, len) < 0)
        abort();
}

static void setup(void)
{
    base = event_base_new();
    loop = curl_loop_new(base);
    struct http_server_opts o = { 0 };
    srv = http_server_new(base, &o, handler, NULL);
    port = http_server_listen(srv, "127.0.0.1", 0);
}

static void teardown(void)
{
    http_server_free(srv);
    curl_loop_free(loop);
    event_base_free(base);
}

static void seen_init(struct seen *s)
{
    memset(s, 0, sizeof(*s));
    buf_init(&s->body, 1 << 20);
    buf_init(&s->data, 1 << 20);
}

static void seen_cleanup(struct seen *s)
{
    buf_cleanup(&s->body);
    buf_cleanup(&s->data);
}

static int is_done(void *arg)
{
    return ((struct seen *)arg)->done > 0;
}

static int run_until_done(struct seen *s)
{
    return test_loop_until(base, is_done, s, 10);
}

static struct xfer *start(const char *path, size_t max_body, int stream, struct seen *s)
{
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    struct xfer_req r = {
        .method = "GET",
        .url = url,
        .connect_timeout = 5,
        .idle_timeout = 5,
        .max_body = max_body,
    };
    static const struct xfer_cbs collect = { NULL, NULL, on_done };
    static const struct xfer_cbs streamed = { on_head, on_data, on_done };
    return xfer_start(loop, &r, stream ? &streamed : &collect, s);
}

TEST(a_collected_answer_comes_whole_with_its_status)
{
    setup();
    struct seen s;
    seen_init(&s);
    CHECK(start("/json", 4096, 0, &s) != NULL);
    CHECK(run_until_done(&s));
    CHECK_INT(s.done, 1);
    CHECK_INT(s.res, XFER_OK);
    CHECK_INT(s.status, 200);
    CHECK_STR(buf_cstr(&s.body), "{\"status\":0}");
    seen_cleanup(&s);
    seen_init(&s);
    CHECK(start("/missing", 4096, 0, &s) != NULL);
    CHECK(run_until_done(&s));
    CHECK_INT(s.res, XFER_OK); /* any HTTP status is an answer */
    CHECK_INT(s.status, 404);
    seen_cleanup(&s);
    teardown();
}

TEST(a_streamed_answer_goes_to_on_data_and_on_done_gets_no_body)
{
    setup();
    struct seen s;
    seen_init(&s);
    CHECK(start("/stream", 4096, 1, &s) != NULL);
    CHECK(run_until_done(&s));
    CHECK_INT(s.res, XFER_OK);
    CHECK_STR(s.ctype, "text/event-stream");
    CHECK_STR(buf_cstr(&s.data), "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    CHECK_INT(s.body.len, 0);
    seen_cleanup(&s);
    teardown();
}

TEST(a_collected_body_over_its_cap_is_too_big)
{
    setup();
    struct seen s;
    seen_init(&s);
    CHECK(start("/big", 1024, 0, &s) != NULL);
    CHECK(run_until_done(&s));
    CHECK_INT(s.res, XFER_TOO_BIG);
    seen_cleanup(&s);
    teardown();
}

TEST(a_refused_connection_is_a_connect_failure_with_a_reason)
{
    setup();
    struct seen s;
    seen_init(&s);
    int live = port;
    http_server_free(srv); /* nothing listens there now */
    srv = NULL;
    port = live;
    CHECK(start("/json", 4096, 0, &s) != NULL);
    CHECK(run_until_done(&s));
    CHECK_INT(s.res, XFER_CONNECT);
    CHECK(s.why[0] != '\0');
    curl_loop_free(loop);
    event_base_free(base);
    seen_cleanup(&s);
}

TEST(paused_bytes_come_again_after_resume)
{
    setup();
    struct seen s;
    seen_init(&s);
    s.pauses = 2;
    CHECK(start("/stream", 4096, 1, &s) != NULL);
    CHECK(run_until_done(&s));
    CHECK_INT(s.res, XFER_OK);
    CHECK_STR(buf_cstr(&s.data), "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    CHECK(s.calls >= 3);
    seen_cleanup(&s);
    teardown();
}

TEST(on_data_can_abort_the_transfer)
{
    setup();
    struct seen s;
    seen_init(&s);
    s.abort_after = 1;
    CHECK(start("/stream", 4096, 1, &s) != NULL);
    CHECK(run_until_done(&s));
    CHECK_INT(s.res, XFER_ABORTED);
    CHECK_INT(s.data.len, 0);
    seen_cleanup(&s);
    teardown();
}

TEST(a_cancelled_transfer_calls_nothing)
{
    setup();
    struct seen s;
    seen_init(&s);
    struct xfer *x = start("/json", 4096, 0, &s);
    CHECK(x != NULL);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    xfer_cancel(x);
    for (int i = 0; i < 50; i++) {
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        usleep(1000);
    }
    CHECK_INT(s.done, 0);
    CHECK_INT(curl_loop_running(loop), 0);
    seen_cleanup(&s);
    teardown();
}

TEST_MAIN()
