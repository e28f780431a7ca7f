/* net/fetch: downloads against HTTP servers this test runs on 127.0.0.1
 * (never any other address), behind the guard (whose rules, on their own,
 * are test_guard.c). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "net/curl_loop.h"
#include "net/fetch.h"
#include "test.h"

/* ---- downloads from servers on 127.0.0.1 -------------------------------- */

struct srv {
    struct evhttp *http;
    int port;
    int hits;
    int redirect_port;              /* /redirect goes to this port's /file */
    struct event *stream_ev;        /* /endless: a chunk every tick */
    struct evhttp_request *streaming; /* /endless or /hang */
    size_t streamed;
};

static struct event_base *base;
static struct curl_loop *loop;
static struct srv srv_a, srv_b;

static void stream_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct srv *s = arg;
    static char chunk[16384];
    if (!s->streaming)
        return;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, chunk, sizeof(chunk));
    evhttp_send_reply_chunk(s->streaming, b);
    evbuffer_free(b);
    s->streamed += sizeof(chunk);
    struct timeval tv = { 0, 1000 };
    evtimer_add(s->stream_ev, &tv);
}

static void stream_closed(struct evhttp_connection *c, void *arg)
{
    (void)c;
    struct srv *s = arg;
    /* A request detached from its dead connection is freed by ending it. */
    if (s->streaming && !evhttp_request_get_connection(s->streaming))
        evhttp_send_reply_end(s->streaming);
    s->streaming = NULL;
    evtimer_del(s->stream_ev);
}

static void handle(struct evhttp_request *req, void *arg)
{
    struct srv *s = arg;
    s->hits++;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *b = evbuffer_new();
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    if (strcmp(uri, "/file.txt") == 0) {
        evhttp_add_header(out, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(b, "hello from %d", s->port);
        evhttp_send_reply(req, 200, "OK", b);
    } else if (strcmp(uri, "/big") == 0) {
        static char big[1 << 20];
        evbuffer_add(b, big, sizeof(big));
        evhttp_send_reply(req, 200, "OK", b);
    } else if (strcmp(uri, "/endless") == 0 || strcmp(uri, "/hang") == 0) {
        /* /hang: the head, then nothing. */
        evhttp_send_reply_start(req, 200, "OK");
        s->streaming = req;
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), stream_closed, s);
        if (strcmp(uri, "/endless") == 0)
            stream_tick(-1, 0, s);
    } else if (strcmp(uri, "/redirect") == 0) {
        char loc[128];
        snprintf(loc, sizeof(loc), "http://127.0.0.1:%d/file.txt", s->redirect_port);
        evhttp_add_header(out, "Location", loc);
        evhttp_send_reply(req, 302, "Found", b);
    } else if (strcmp(uri, "/redirect-file") == 0) {
        evhttp_add_header(out, "Location", "file:///etc/passwd");
        evhttp_send_reply(req, 302, "Found", b);
    } else if (strcmp(uri, "/loop") == 0) {
        evhttp_add_header(out, "Location", "/loop");
        evhttp_send_reply(req, 302, "Found", b);
    } else {
        evhttp_send_reply(req, 404, "Not Found", b);
    }
    evbuffer_free(b);
}

static void srv_start(struct srv *s)
{
    memset(s, 0, sizeof(*s));
    s->http = evhttp_new(base);
    struct evhttp_bound_socket *h = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(h), (struct sockaddr *)&sin, &sl);
    s->port = ntohs(sin.sin_port);
    s->stream_ev = evtimer_new(base, stream_tick, s);
    evhttp_set_gencb(s->http, handle, s);
}

static void srv_stop(struct srv *s)
{
    event_free(s->stream_ev);
    evhttp_free(s->http);
}

struct outcome {
    int done;
    enum fetch_status status;
    long http_status;
    char *data;
    size_t len;
    char ctype[128];
    char error[512];
};

static void on_done(void *arg, struct fetch_result *r)
{
    struct outcome *o = arg;
    o->done = 1;
    o->status = r->status;
    o->http_status = r->http_status;
    o->len = r->len;
    snprintf(o->ctype, sizeof(o->ctype), "%s", r->content_type);
    snprintf(o->error, sizeof(o->error), "%s", r->error);
    if (r->data) {
        o->data = (char *)r->data; /* taken */
        r->data = NULL;
    }
}

/* Runs one fetch to its end (at most 8 s). */
static struct outcome run(const char *url, const char *allow, size_t max, long timeout)
{
    struct outcome o;
    memset(&o, 0, sizeof(o));
    char err[256];
    struct guard_allow *al = guard_allow_parse(allow, err, sizeof(err));
    struct fetch_opts opts = { max, 2, timeout, 3, al, "test" };
    struct fetch *f = fetch_start(loop, url, &opts, on_done, &o);
    CHECK(f != NULL);
    CHECK_INT(o.done, 0); /* never from inside fetch_start */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!o.done) {
        event_base_loop(base, EVLOOP_ONCE);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 8)
            break;
    }
    CHECK(o.done);
    if (!o.done)
        fetch_cancel(f);
    guard_allow_free(al);
    return o;
}

static void url(char *out, size_t n, const struct srv *s, const char *path)
{
    snprintf(out, n, "http://127.0.0.1:%d%s", s->port, path);
}

TEST(setup_loopback_servers)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base = event_base_new();
    loop = curl_loop_new(base);
    srv_start(&srv_a);
    srv_start(&srv_b);
    srv_a.redirect_port = srv_b.port;
    CHECK(srv_a.port > 0 && srv_b.port > 0);
}

TEST(an_allowed_loopback_server_is_fetched_whole)
{
    char u[128], allow[64];
    url(u, sizeof(u), &srv_a, "/file.txt");
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_a.port);
    struct outcome o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_OK);
    CHECK_INT(o.http_status, 200);
    char want[64];
    snprintf(want, sizeof(want), "hello from %d", srv_a.port);
    CHECK_STR(o.data, want);
    CHECK_INT(o.len, strlen(want));
    CHECK_STR(o.ctype, "text/plain");
    free(o.data);
}

TEST(loopback_is_refused_without_an_allow_list_and_the_server_is_never_asked)
{
    char u[128];
    int hits = srv_a.hits;
    url(u, sizeof(u), &srv_a, "/file.txt");
    struct outcome o = run(u, "", 1 << 20, 5);
    CHECK_INT(o.status, FETCH_REFUSED);
    CHECK(strstr(o.error, "127.0.0.1") != NULL);
    CHECK(strstr(o.error, "loopback") != NULL);
    CHECK(o.data == NULL);
    /* The IPv4-mapped spelling and another port of an allowed address too. */
    snprintf(u, sizeof(u), "http://[::ffff:127.0.0.1]:%d/file.txt", srv_a.port);
    o = run(u, "", 1 << 20, 5);
    CHECK_INT(o.status, FETCH_REFUSED);
    CHECK(strstr(o.error, "loopback") != NULL);
    char allow[64];
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_b.port);
    url(u, sizeof(u), &srv_a, "/file.txt");
    o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_REFUSED);
    CHECK_INT(srv_a.hits, hits);
}

TEST(localhost_is_refused_unless_its_name_is_allowed)
{
    char u[128], allow[64];
    int hits = srv_a.hits;
    snprintf(u, sizeof(u), "http://localhost:%d/file.txt", srv_a.port);
    struct outcome o = run(u, "", 1 << 20, 5);
    CHECK_INT(o.status, FETCH_REFUSED);
    CHECK(strstr(o.error, "localhost") != NULL);
    CHECK(strstr(o.error, "loopback") != NULL);
    CHECK_INT(srv_a.hits, hits);
    snprintf(allow, sizeof(allow), "localhost:%d", srv_a.port);
    o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_OK);
    CHECK_INT(srv_a.hits, hits + 1);
    free(o.data);
}

TEST(a_redirect_to_a_forbidden_port_is_refused_before_connecting)
{
    char u[128], allow[64];
    int hits_b = srv_b.hits;
    url(u, sizeof(u), &srv_a, "/redirect");
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_a.port);
    struct outcome o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_REFUSED);
    CHECK(strstr(o.error, "loopback") != NULL);
    CHECK_INT(srv_b.hits, hits_b);
    /* With both allowed, the redirect is followed. */
    snprintf(allow, sizeof(allow), "127.0.0.1:%d,127.0.0.1:%d", srv_a.port, srv_b.port);
    o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_OK);
    char want[64];
    snprintf(want, sizeof(want), "hello from %d", srv_b.port);
    CHECK_STR(o.data, want);
    CHECK_INT(srv_b.hits, hits_b + 1);
    free(o.data);
}

TEST(other_schemes_are_refused_first_and_after_a_redirect)
{
    char u[128], allow[64];
    int hits = srv_a.hits;
    struct outcome o = run("file:///etc/passwd", "", 1 << 20, 5);
    CHECK_INT(o.status, FETCH_BAD_URL);
    CHECK(strstr(o.error, "file:") != NULL);
    snprintf(u, sizeof(u), "gopher://127.0.0.1:%d/", srv_a.port);
    o = run(u, "127.0.0.1", 1 << 20, 5);
    CHECK_INT(o.status, FETCH_BAD_URL);
    CHECK_INT(srv_a.hits, hits);
    url(u, sizeof(u), &srv_a, "/redirect-file");
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_a.port);
    o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_BAD_URL);
    CHECK(o.data == NULL);
}

TEST(too_many_redirects_fail)
{
    char u[128], allow[64];
    url(u, sizeof(u), &srv_a, "/loop");
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_a.port);
    int hits = srv_a.hits;
    struct outcome o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_FAILED);
    CHECK(strstr(o.error, "redirected more than 3 times") != NULL);
    CHECK_INT(srv_a.hits, hits + 4);
}

TEST(a_body_over_the_cap_stops_the_download)
{
    char u[128], allow[64];
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_a.port);
    /* Known length: refused before the body. */
    url(u, sizeof(u), &srv_a, "/big");
    struct outcome o = run(u, allow, 65536, 5);
    CHECK_INT(o.status, FETCH_TOO_BIG);
    CHECK(strstr(o.error, "65536") != NULL);
    CHECK(o.data == NULL);
    /* Chunked without end: stopped by the count in the write callback. */
    url(u, sizeof(u), &srv_a, "/endless");
    srv_a.streamed = 0;
    o = run(u, allow, 65536, 5);
    CHECK_INT(o.status, FETCH_TOO_BIG);
    for (int i = 0; i < 50 && srv_a.streaming; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    CHECK(srv_a.streamed < (64u << 20));
    /* Exactly at the cap is fine. */
    url(u, sizeof(u), &srv_a, "/big");
    o = run(u, allow, 1 << 20, 5);
    CHECK_INT(o.status, FETCH_OK);
    CHECK_INT(o.len, 1 << 20);
    free(o.data);
}

TEST(error_statuses_and_timeouts_are_reported)
{
    char u[128], allow[64];
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_a.port);
    url(u, sizeof(u), &srv_a, "/missing");
    struct outcome o = run(u, allow, 65536, 5);
    CHECK_INT(o.status, FETCH_HTTP);
    CHECK_INT(o.http_status, 404);
    CHECK(strstr(o.error, "404") != NULL);
    CHECK(o.data == NULL);
    url(u, sizeof(u), &srv_a, "/hang");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    o = run(u, allow, 65536, 1);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    CHECK_INT(o.status, FETCH_TIMEOUT);
    CHECK(strstr(o.error, "1 s") != NULL);
    CHECK(t1.tv_sec - t0.tv_sec <= 3);
}

TEST(a_cancelled_fetch_calls_nothing)
{
    char u[128], allow[64];
    snprintf(allow, sizeof(allow), "127.0.0.1:%d", srv_a.port);
    url(u, sizeof(u), &srv_a, "/file.txt");
    char err[256];
    struct guard_allow *al = guard_allow_parse(allow, err, sizeof(err));
    struct outcome o;
    memset(&o, 0, sizeof(o));
    struct fetch_opts opts = { 65536, 2, 5, 3, al, NULL };
    struct fetch *f = fetch_start(loop, u, &opts, on_done, &o);
    event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    fetch_cancel(f);
    f = fetch_start(loop, "file:///x", &opts, on_done, &o);
    fetch_cancel(f);
    for (int i = 0; i < 20; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    CHECK_INT(o.done, 0);
    CHECK_INT(curl_loop_running(loop), 0);
    guard_allow_free(al);
    fetch_cancel(NULL);
}

TEST(teardown)
{
    srv_stop(&srv_a);
    srv_stop(&srv_b);
    curl_loop_free(loop);
    event_base_free(base);
    curl_global_cleanup();
    CHECK(1);
}

TEST_MAIN()
