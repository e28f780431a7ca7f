/* glm/session against a refresh endpoint on loopback: the first get
 * refreshes and the next is answered from the cache before it returns;
 * concurrent gets share one refresh; the refresh token the site rotates to
 * is the one used next; a refused refresh token is REJECTED, a broken answer
 * FAILED, neither with the token in its detail. */
#include <string.h>

#include <event2/event.h>

#include "config.h"
#include "glm/session.h"
#include "http/server.h"
#include "log.h"
#include "net/curl_loop.h"
#include "test.h"
#include "test_loop.h"

static struct event_base *base;
static struct curl_loop *loop;
static struct http_server *srv;
static struct session_mgr *mgr;
static char last_auth[128];     /* the Authorization of the last refresh call */
static int refresh_calls;

/* The refresh endpoint: "Bearer good" rotates to good2; good2 stays; dead is
 * refused (40102); anything else gets a 500 page. */
static void handler(void *arg, struct http_req *r)
{
    (void)arg;
    if (strcmp(http_req_path(r), cfg.path_refresh) != 0) {
        http_req_respond(r, 404, "text/plain", "no", 2);
        return;
    }
    refresh_calls++;
    const char *auth = http_req_header(r, "Authorization");
    snprintf(last_auth, sizeof(last_auth), "%s", auth ? auth : "");
    static const char rotated[] =
        "{\"status\":0,\"result\":{\"access_token\":\"acc-1\",\"refresh_token\":\"good2\"}}";
    static const char same[] = "{\"status\":0,\"result\":{\"access_token\":\"acc-2\"}}";
    static const char refused[] = "{\"status\":40102,\"message\":\"refresh token invalid\"}";
    if (strcmp(last_auth, "Bearer good") == 0)
        http_req_respond(r, 200, "application/json", rotated, sizeof(rotated) - 1);
    else if (strcmp(last_auth, "Bearer good2") == 0)
        http_req_respond(r, 200, "application/json", same, sizeof(same) - 1);
    else if (strcmp(last_auth, "Bearer dead") == 0)
        http_req_respond(r, 401, "application/json", refused, sizeof(refused) - 1);
    else
        http_req_respond(r, 500, "text/html", "<html>down</html>", 17);
}

static void setup(void)
{
    static char *argv[] = { (char *)"test_session", NULL };
    int exit_now = 0, check_only = 0;
    log_set_level(LOG_ERROR);
    config_free();
    if (config_load(1, argv, &exit_now, &check_only) != 0)
        abort();
    base = event_base_new();
    loop = curl_loop_new(base);
    struct http_server_opts o = { 0 };
    srv = http_server_new(base, &o, handler, NULL);
    int port = http_server_listen(srv, "127.0.0.1", 0);
    char text[96];
    int n = snprintf(text, sizeof(text), "upstream = http://127.0.0.1:%d\n", port);
    if (config_parse_text(text, (size_t)n, "test") != 0)
        abort();
    mgr = session_mgr_new(loop, NULL);
    refresh_calls = 0;
    last_auth[0] = '\0';
}

static void teardown(void)
{
    session_mgr_free(mgr);
    http_server_free(srv);
    curl_loop_free(loop);
    event_base_free(base);
    config_free();
}

struct got {
    int calls;
    enum session_result res;
    char access[64];
    char detail[400];
};

static void on_token(void *arg, enum session_result res, const char *access, const char *detail)
{
    struct got *g = arg;
    g->calls++;
    g->res = res;
    snprintf(g->access, sizeof(g->access), "%s", access ? access : "");
    snprintf(g->detail, sizeof(g->detail), "%s", detail ? detail : "");
}

static int answered(void *arg)
{
    return ((struct got *)arg)->calls > 0;
}

static int wait_for(struct got *g)
{
    return test_loop_until(base, answered, g, 10);
}

TEST(the_first_get_refreshes_and_the_next_is_answered_from_the_cache)
{
    setup();
    struct got a = { 0 }, b = { 0 };
    CHECK(session_get(mgr, "good", on_token, &a) != NULL);
    CHECK_INT(a.calls, 0); /* never before it returns when a refresh is needed */
    CHECK(wait_for(&a));
    CHECK_INT(a.res, SESSION_OK);
    CHECK_STR(a.access, "acc-1");
    CHECK(session_get(mgr, "good", on_token, &b) == NULL);
    CHECK_INT(b.calls, 1);
    CHECK_STR(b.access, "acc-1");
    CHECK_INT(session_refreshes(mgr), 1);
    CHECK_INT(refresh_calls, 1);
    teardown();
}

TEST(concurrent_gets_share_one_refresh)
{
    setup();
    struct got a = { 0 }, b = { 0 }, c = { 0 };
    CHECK(session_get(mgr, "good", on_token, &a) != NULL);
    CHECK(session_get(mgr, "good", on_token, &b) != NULL);
    struct session_wait *w = session_get(mgr, "good", on_token, &c);
    CHECK(w != NULL);
    session_wait_cancel(w); /* a cancelled waiter is not called */
    CHECK(wait_for(&a) && wait_for(&b));
    CHECK_STR(a.access, "acc-1");
    CHECK_STR(b.access, "acc-1");
    CHECK_INT(c.calls, 0);
    CHECK_INT(refresh_calls, 1);
    teardown();
}

TEST(the_rotated_refresh_token_is_the_one_used_next)
{
    setup();
    struct got a = { 0 }, b = { 0 };
    CHECK(session_get(mgr, "good", on_token, &a) != NULL);
    CHECK(wait_for(&a));
    CHECK_STR(last_auth, "Bearer good");
    /* The site refused the access token (40103): the next get refreshes,
     * with the token the site rotated to. */
    session_invalidate(mgr, "good", "acc-1");
    CHECK(session_get(mgr, "good", on_token, &b) != NULL);
    CHECK(wait_for(&b));
    CHECK_INT(b.res, SESSION_OK);
    CHECK_STR(b.access, "acc-2");
    CHECK_STR(last_auth, "Bearer good2");
    CHECK_INT(refresh_calls, 2);
    teardown();
}

TEST(a_refused_refresh_token_is_rejected_and_a_broken_answer_failed)
{
    setup();
    struct got a = { 0 }, b = { 0 };
    CHECK(session_get(mgr, "dead", on_token, &a) != NULL);
    CHECK(wait_for(&a));
    CHECK_INT(a.res, SESSION_REJECTED);
    CHECK(a.detail[0] != '\0');
    CHECK(strstr(a.detail, "dead") == NULL);
    CHECK(session_get(mgr, "other-token", on_token, &b) != NULL);
    CHECK(wait_for(&b));
    CHECK_INT(b.res, SESSION_FAILED);
    CHECK(strstr(b.detail, "HTTP 500") != NULL);
    CHECK(strstr(b.detail, "other-token") == NULL);
    teardown();
}

TEST_MAIN()
