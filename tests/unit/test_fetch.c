/* net/fetch: the SSRF guard as a pure function (no network at all), the
 * allow-list syntax, URL checks, and downloads against HTTP servers this test
 * runs on 127.0.0.1 (never any other address). */
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

/* ---- the guard, no network --------------------------------------------- */

static const char *refused(const char *ip)
{
    return fetch_ip_refusal(ip, 80, NULL, NULL, 80);
}

TEST(loopback_private_link_local_cgnat_and_unspecified_ipv4_are_refused)
{
    static const char *const bad[] = {
        "127.0.0.1", "127.1.2.3", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254",
        "192.168.0.1", "192.168.255.255", "100.64.0.1", "100.127.255.255", "169.254.169.254",
        "169.254.0.1", "0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255",
        "240.0.0.1", "192.0.2.10", "198.51.100.7", "203.0.113.9", "198.18.0.1", "192.0.0.8",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!refused(bad[i]))
            printf("# %s was allowed\n", bad[i]);
        CHECK(refused(bad[i]) != NULL);
    }
    CHECK_STR(refused("127.0.0.1"), "loopback");
    CHECK_STR(refused("10.1.2.3"), "private (RFC 1918)");
    CHECK_STR(refused("172.16.5.4"), "private (RFC 1918)");
    CHECK_STR(refused("192.168.1.1"), "private (RFC 1918)");
    CHECK_STR(refused("100.64.0.1"), "shared CGNAT (100.64.0.0/10)");
    CHECK_STR(refused("169.254.169.254"), "link-local");
    CHECK_STR(refused("0.0.0.0"), "unspecified (0.0.0.0/8)");
    CHECK_STR(refused("224.0.0.251"), "multicast");
    CHECK_STR(refused("255.255.255.255"), "broadcast");
}

TEST(ipv6_loopback_link_local_unique_local_multicast_and_mapped_are_refused)
{
    static const char *const bad[] = {
        "::1", "::", "fe80::1", "fe80::1%eth0", "febf::1", "fc00::1", "fd12:3456::1", "ff02::1",
        "ff0e::1", "[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1",
        "::ffff:169.254.169.254", "::ffff:0.0.0.0", "64:ff9b::127.0.0.1", "64:ff9b::a00:1",
        "2002:7f00:1::1", "2002:c0a8:101::", "2001:db8::1", "::127.0.0.1", "2001::1",
        "fec0::1", "100::1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (!refused(bad[i]))
            printf("# %s was allowed\n", bad[i]);
        CHECK(refused(bad[i]) != NULL);
    }
    CHECK_STR(refused("::1"), "loopback");
    CHECK_STR(refused("::"), "unspecified (::)");
    CHECK_STR(refused("fe80::1"), "link-local");
    CHECK_STR(refused("fc00::1"), "unique-local (fc00::/7)");
    CHECK_STR(refused("ff02::1"), "multicast");
    /* IPv4-mapped, NAT64 and 6to4 addresses are judged by their IPv4 part. */
    CHECK_STR(refused("[::ffff:127.0.0.1]"), "loopback");
    CHECK_STR(refused("::ffff:192.168.0.1"), "private (RFC 1918)");
    CHECK_STR(refused("64:ff9b::10.0.0.1"), "private (RFC 1918)");
    CHECK_STR(refused("2002:a9fe:a9fe::"), "link-local");
}

TEST(public_addresses_are_allowed)
{
    static const char *const good[] = {
        "8.8.8.8", "1.1.1.1", "93.184.216.34", "172.32.0.1", "172.15.255.255", "100.128.0.1",
        "100.63.255.255", "11.0.0.1", "192.169.0.1", "169.253.1.1", "223.255.255.255",
        "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8",
        "64:ff9b::808:808", "2002:808:808::1",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        const char *r = refused(good[i]);
        if (r)
            printf("# %s was refused: %s\n", good[i], r);
        CHECK(r == NULL);
    }
}

TEST(unparsable_addresses_are_refused)
{
    CHECK_STR(refused("localhost"), "not an IP address");
    CHECK_STR(refused(""), "not an IP address");
    CHECK_STR(refused("1.2.3"), "not an IP address");
    CHECK_STR(fetch_ip_refusal(NULL, 80, NULL, NULL, 80), "not an IP address");
}

TEST(the_sockaddr_form_checks_the_same_rules_and_the_port)
{
    struct sockaddr_in s4;
    memset(&s4, 0, sizeof(s4));
    s4.sin_family = AF_INET;
    s4.sin_port = htons(8080);
    inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
    CHECK_STR(fetch_addr_refusal((struct sockaddr *)&s4, NULL, "127.0.0.1", 8080), "loopback");
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof(s6));
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(8080);
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    CHECK_STR(fetch_addr_refusal((struct sockaddr *)&s6, NULL, "::ffff:127.0.0.1", 8080),
              "loopback");
    inet_pton(AF_INET6, "2606:4700:4700::1111", &s6.sin6_addr);
    CHECK(fetch_addr_refusal((struct sockaddr *)&s6, NULL, NULL, 0) == NULL);

    char err[256];
    struct fetch_allow *al = fetch_allow_parse("127.0.0.1:8080", err, sizeof(err));
    CHECK(al != NULL);
    CHECK(fetch_addr_refusal((struct sockaddr *)&s4, al, "127.0.0.1", 8080) == NULL);
    s4.sin_port = htons(8081);
    CHECK_STR(fetch_addr_refusal((struct sockaddr *)&s4, al, "127.0.0.1", 8081), "loopback");
    /* The mapped form of an allowed IPv4 address is allowed too. */
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &s6.sin6_addr);
    CHECK(fetch_addr_refusal((struct sockaddr *)&s6, al, NULL, 8080) == NULL);
    fetch_allow_free(al);
}

TEST(allow_list_addresses_ranges_ports_and_hosts_are_honoured)
{
    char err[256] = "";
    struct fetch_allow *al = fetch_allow_parse(
        " 10.1.0.0/16 , 127.0.0.1:9000,fd00::/8, [::1]:7000, files.lan, Intra.Example:8443, "
        "169.254.169.254, ::ffff:192.168.7.0/120",
        err, sizeof(err));
    CHECK(al != NULL);
    if (!al) {
        printf("# %s\n", err);
        return;
    }
    CHECK(fetch_ip_refusal("10.1.200.3", 80, al, NULL, 80) == NULL);
    CHECK_STR(fetch_ip_refusal("10.2.0.1", 80, al, NULL, 80), "private (RFC 1918)");
    CHECK(fetch_ip_refusal("127.0.0.1", 9000, al, NULL, 9000) == NULL);
    CHECK_STR(fetch_ip_refusal("127.0.0.1", 9001, al, NULL, 9001), "loopback");
    CHECK_STR(fetch_ip_refusal("127.0.0.2", 9000, al, NULL, 9000), "loopback");
    CHECK(fetch_ip_refusal("fd12::5", 443, al, NULL, 443) == NULL);
    CHECK_STR(fetch_ip_refusal("fc12::5", 443, al, NULL, 443), "unique-local (fc00::/7)");
    CHECK(fetch_ip_refusal("::1", 7000, al, NULL, 7000) == NULL);
    CHECK_STR(fetch_ip_refusal("::1", 7001, al, NULL, 7001), "loopback");
    CHECK(fetch_ip_refusal("169.254.169.254", 80, al, NULL, 80) == NULL);
    CHECK(fetch_ip_refusal("192.168.7.9", 80, al, NULL, 80) == NULL);
    CHECK_STR(fetch_ip_refusal("192.168.8.9", 80, al, NULL, 80), "private (RFC 1918)");
    /* Host entries match the URL's host, whatever the address. */
    CHECK(fetch_ip_refusal("192.168.1.5", 80, al, "files.lan", 80) == NULL);
    CHECK(fetch_ip_refusal("192.168.1.5", 80, al, "FILES.LAN", 1234) == NULL);
    CHECK_STR(fetch_ip_refusal("192.168.1.5", 80, al, "other.lan", 80), "private (RFC 1918)");
    CHECK_STR(fetch_ip_refusal("192.168.1.5", 80, al, "x.files.lan", 80), "private (RFC 1918)");
    CHECK(fetch_ip_refusal("10.9.9.9", 8443, al, "intra.example", 8443) == NULL);
    CHECK_STR(fetch_ip_refusal("10.9.9.9", 443, al, "intra.example", 443), "private (RFC 1918)");
    fetch_allow_free(al);

    al = fetch_allow_parse("", err, sizeof(err));
    CHECK(al != NULL);
    CHECK_STR(fetch_ip_refusal("127.0.0.1", 80, al, "localhost", 80), "loopback");
    fetch_allow_free(al);
    fetch_allow_free(NULL);
}

TEST(malformed_allow_list_entries_are_reported)
{
    static const char *const bad[] = {
        "10.0.0.0/33", "fd00::/129", "10.0.0.0/x", "nothing/8", "host:0", "host:70000",
        "host:abc", "[::1", "[::1]x", "[::1]:", "bad host", "a@b", "1.2.3.4:",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        struct fetch_allow *al = fetch_allow_parse(bad[i], err, sizeof(err));
        if (al)
            printf("# \"%s\" was accepted\n", bad[i]);
        CHECK(al == NULL);
        CHECK(err[0] != '\0');
        fetch_allow_free(al);
    }
}

TEST(only_http_and_https_urls_pass_the_url_check)
{
    char host[256], err[256];
    CHECK_INT(fetch_url_check("http://example.com/a.png", host, sizeof(host), err, sizeof(err)), 0);
    CHECK_STR(host, "example.com");
    CHECK_INT(fetch_url_check("HTTPS://[::1]:8443/x?y=1", host, sizeof(host), err, sizeof(err)), 0);
    CHECK_STR(host, "::1");
    CHECK_INT(fetch_url_check("file:///etc/passwd", host, sizeof(host), err, sizeof(err)), -1);
    CHECK(strstr(err, "file:") != NULL);
    CHECK_INT(fetch_url_check("gopher://127.0.0.1:70/", host, sizeof(host), err, sizeof(err)), -1);
    CHECK(strstr(err, "gopher:") != NULL);
    CHECK_INT(fetch_url_check("ftp://x/y", host, sizeof(host), err, sizeof(err)), -1);
    CHECK_INT(fetch_url_check("//example.com/a", host, sizeof(host), err, sizeof(err)), -1);
    CHECK_INT(fetch_url_check("http://", host, sizeof(host), err, sizeof(err)), -1);
    CHECK_INT(fetch_url_check("http://exa mple.com/", host, sizeof(host), err, sizeof(err)), -1);
}

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
    struct fetch_allow *al = fetch_allow_parse(allow, err, sizeof(err));
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
    fetch_allow_free(al);
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
    struct fetch_allow *al = fetch_allow_parse(allow, err, sizeof(err));
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
    fetch_allow_free(al);
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
