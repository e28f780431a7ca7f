/* mock-chatglm: a mock of the chatglm.cn web backend for the tests.
 *   mock-chatglm [--port N] [--host 127.0.0.1] [--fixtures DIR] [--quiet] [--fast]
 * Prints "listening on 127.0.0.1:<port>" once it accepts connections. See
 * tests/mock/README.md for the endpoints, scenarios and the control API. */
#include "mock.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>

#include "log.h"
#include "misc.h"
#include "util/buf.h"

#define MAX_BODY (128u << 20)
#define MAX_HEADERS (64u << 10)
#define MAX_RECORDED_BODY (1u << 20)
#define IDLE_TIMEOUT_S 600

/* Adds one upstream request to the record: method, path, lower-case headers,
 * the body as a (valid UTF-8) string and parsed when it is JSON. */
static void record(struct mock *m, struct evhttp_request *req, const char *path)
{
    json_t *headers = json_object();
    struct evkeyval *kv;
    struct buf b;
    buf_init(&b, MAX_RECORDED_BODY * 3);
    for (kv = evhttp_request_get_input_headers(req)->tqh_first; kv; kv = kv->next.tqe_next) {
        char name[256];
        size_t n = strlen(kv->key);
        if (n >= sizeof(name))
            continue;
        for (size_t i = 0; i <= n; i++)
            name[i] = (char)tolower((unsigned char)kv->key[i]);
        buf_reset(&b);
        json_t *prev = json_object_get(headers, name);
        if (prev && buf_printf(&b, "%s, ", json_string_value(prev)) < 0)
            continue;
        if (mock_utf8_sanitize(&b, kv->value, strlen(kv->value)) < 0)
            continue;
        json_object_set_new(headers, name, json_stringn(buf_cstr(&b), b.len));
    }
    size_t len;
    const char *body = mock_body(req, &len);
    json_t *parsed = len ? json_loadb(body, len, 0, NULL) : NULL;
    buf_reset(&b);
    int cut = len > MAX_RECORDED_BODY;
    if (mock_utf8_sanitize(&b, body, cut ? MAX_RECORDED_BODY : len) < 0)
        buf_reset(&b);
    json_t *rec = json_pack("{s:s, s:s, s:o, s:s%, s:o, s:I}", "method", mock_method_name(req),
                            "path", path, "headers", headers, "body", buf_cstr(&b), b.len,
                            "json", parsed ? parsed : json_null(), "ts",
                            (json_int_t)mock_now_ms());
    if (rec && cut)
        json_object_set_new(rec, "body_truncated", json_true());
    if (rec)
        mock_state_record(m->state, rec);
    buf_cleanup(&b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct mock *m = arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    if (!path || !*path)
        path = "/";
    if (!mock_utf8_valid(path, strlen(path))) {
        mock_reply_json(req, 400, json_pack("{s:i, s:s}", "status", 400, "message", "bad path"));
        return;
    }
    if (strncmp(path, "/_mock/", 7) == 0) {
        mock_control_handle(m, req, path);
        return;
    }
    LOG(LOG_INFO, "%s %s", mock_method_name(req), path);
    if (!m->fast) {
        record(m, req, path);
    } else {
        /* Benchmarks: every write leaves at once, as from a server that
         * flushes each event. With Nagle, a reused connection holds the
         * small frames until the reader's delayed ACK, 40 ms later. */
        int one = 1;
        struct bufferevent *bev =
            evhttp_connection_get_bufferevent(evhttp_request_get_connection(req));
        if (bev)
            setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    mock_upstream_handle(m, req, path);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    LOG(LOG_INFO, "signal %d: stopping", (int)sig);
    event_base_loopbreak(arg);
}

/* Only loopback addresses: the mock must never be reachable from outside. */
static int loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

static int bound_port(struct evhttp_bound_socket *bs)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: mock-chatglm [--port N] [--host 127.0.0.1] [--fixtures DIR] "
                "[--quiet] [--fast]\n");
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1", *dir = "tests/fixtures";
    long port = 0;
    int quiet = 0, rc = 1;
    struct mock m;
    struct event *sigterm = NULL, *sigint = NULL;
    char err[512];
    memset(&m, 0, sizeof(m));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(a, "--port") == 0 && has_value) {
            char *end;
            port = strtol(argv[++i], &end, 10);
            if (*end || port < 0 || port > 65535) {
                fprintf(stderr, "mock-chatglm: bad port %s\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--host") == 0 && has_value) {
            host = argv[++i];
        } else if (strcmp(a, "--fixtures") == 0 && has_value) {
            dir = argv[++i];
        } else if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
        } else if (strcmp(a, "--fast") == 0) {
            m.fast = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    if (!loopback(host)) {
        fprintf(stderr, "mock-chatglm: refusing to listen on %s: loopback only\n", host);
        return 2;
    }
    if (quiet)
        log_set_level(LOG_WARN);
    signal(SIGPIPE, SIG_IGN);

    m.fixtures = mock_fixtures_load(dir, err, sizeof(err));
    if (!m.fixtures) {
        fprintf(stderr, "mock-chatglm: %s\n", err);
        goto out;
    }
    static const char *const needed[] = {
        "stream-access-token-expired-40103", "refresh-token-revoked-40102",
        "refresh-bad-token-2024", "missing-signature-40001", "account-busy-10061",
        "unknown-assistant-id", "missing-assistant-id-validation-error",
        "fabricated-conversation-id-empty-body",
    };
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (!mock_fixtures_error(m.fixtures, needed[i])) {
            fprintf(stderr, "mock-chatglm: chat-error-json.txt lacks case %s\n", needed[i]);
            goto out;
        }
    }
    m.base = event_base_new();
    m.http = m.base ? evhttp_new(m.base) : NULL;
    if (!m.http) {
        fprintf(stderr, "mock-chatglm: cannot create the event loop\n");
        goto out;
    }
    m.state = mock_state_new();
    m.streams = mock_streams_new(m.base, m.state);
    evhttp_set_max_body_size(m.http, MAX_BODY);
    evhttp_set_max_headers_size(m.http, MAX_HEADERS);
    evhttp_set_timeout(m.http, IDLE_TIMEOUT_S);
    evhttp_set_allowed_methods(m.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                           EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(m.http, on_request, &m);
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(m.http, host, (unsigned short)port);
    int bound = bs ? bound_port(bs) : -1;
    if (bound < 0) {
        fprintf(stderr, "mock-chatglm: cannot listen on %s:%ld\n", host, port);
        goto out;
    }
    sigterm = evsignal_new(m.base, SIGTERM, on_signal, m.base);
    sigint = evsignal_new(m.base, SIGINT, on_signal, m.base);
    evsignal_add(sigterm, NULL);
    evsignal_add(sigint, NULL);
    printf("listening on %s%s%s:%d\n", strchr(host, ':') ? "[" : "", host,
           strchr(host, ':') ? "]" : "", bound);
    fflush(stdout);
    event_base_dispatch(m.base);
    rc = 0;
out:
    /* evhttp_free closes every connection; their close callbacks end the
     * streams still running, so nothing below touches a live request. */
    if (m.http)
        evhttp_free(m.http);
    mock_streams_free(m.streams);
    mock_state_free(m.state);
    mock_video_free();
    mock_fixtures_free(m.fixtures);
    if (sigterm)
        event_free(sigterm);
    if (sigint)
        event_free(sigint);
    if (m.base)
        event_base_free(m.base);
    libevent_global_shutdown();
    return rc;
}
