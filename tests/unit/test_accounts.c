#include "test.h"

#include <event2/event.h>

#include <unistd.h>

#include "api/authcache.h"
#include "app.h"
#include "glm/accounts.h"
#include "util/buf.h"

/* authcache splits lists with api_bearer_tokens, whose module needs app. */
struct app app;

struct got {
    int calls;
    struct account *a;
    enum lease_error err;
    int order;
};

static int order_counter;

static void got_cb(void *arg, struct account *a, enum lease_error err)
{
    struct got *g = arg;
    g->calls++;
    g->a = a;
    g->err = err;
    g->order = ++order_counter;
}

TEST(least_recently_used_idle_account_is_leased)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct account *c[3] = { accounts_get(p, "t1", 1), accounts_get(p, "t2", 1),
                             accounts_get(p, "t3", 1) };
    CHECK(accounts_get(p, "t1", 0) == c[0]);
    CHECK_INT(accounts_count(p), 3);
    struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
    CHECK(accounts_lease(p, c, 3, NULL, 0, got_cb, &g1) == NULL);
    CHECK(accounts_lease(p, c, 3, NULL, 0, got_cb, &g2) == NULL);
    CHECK(accounts_lease(p, c, 3, NULL, 0, got_cb, &g3) == NULL);
    CHECK(g1.a && g2.a && g3.a && g1.a != g2.a && g2.a != g3.a && g1.a != g3.a);
    CHECK_INT(accounts_busy(p), 3);
    accounts_release(p, g2.a, ACCOUNT_DONE, NULL);
    accounts_release(p, g1.a, ACCOUNT_DONE, NULL);
    /* Both are idle again; g1's account was leased longest ago. */
    struct got g4 = { 0 };
    accounts_lease(p, c, 3, NULL, 0, got_cb, &g4);
    CHECK(g4.a == g1.a);
    accounts_release(p, g4.a, ACCOUNT_DONE, NULL);
    accounts_release(p, g3.a, ACCOUNT_DONE, NULL);
    accounts_free(p);
    event_base_free(base);
}

TEST(busy_accounts_make_requests_wait_in_fifo_order)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 5000);
    struct account *c[1] = { accounts_get(p, "only", 1) };
    struct got first = { 0 }, w1 = { 0 }, w2 = { 0 };
    accounts_lease(p, c, 1, NULL, 0, got_cb, &first);
    CHECK(first.a == c[0]);
    struct account_wait *h1 = accounts_lease(p, c, 1, NULL, 0, got_cb, &w1);
    struct account_wait *h2 = accounts_lease(p, c, 1, NULL, 0, got_cb, &w2);
    CHECK(h1 && h2);
    CHECK_INT(accounts_queue_len(p), 2);
    CHECK_INT(w1.calls + w2.calls, 0);
    accounts_release(p, first.a, ACCOUNT_DONE, NULL);
    CHECK_INT(w1.calls, 1);
    CHECK_INT(w2.calls, 0);
    accounts_release(p, w1.a, ACCOUNT_DONE, NULL);
    CHECK_INT(w2.calls, 1);
    CHECK(w1.order < w2.order);
    accounts_release(p, w2.a, ACCOUNT_DONE, NULL);
    accounts_free(p);
    event_base_free(base);
}

TEST(a_full_queue_refuses_and_a_cancelled_wait_is_never_called)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 1, 5000);
    struct account *c[1] = { accounts_get(p, "only", 1) };
    struct got first = { 0 }, w1 = { 0 }, w2 = { 0 };
    accounts_lease(p, c, 1, NULL, 0, got_cb, &first);
    struct account_wait *h1 = accounts_lease(p, c, 1, NULL, 0, got_cb, &w1);
    CHECK(accounts_lease(p, c, 1, NULL, 0, got_cb, &w2) == NULL);
    CHECK_INT(w2.err, LEASE_QUEUE_FULL);
    accounts_wait_cancel(h1);
    accounts_release(p, first.a, ACCOUNT_DONE, NULL);
    CHECK_INT(w1.calls, 0);
    accounts_free(p);
    event_base_free(base);
}

TEST(dead_accounts_are_skipped_and_all_dead_is_reported)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct account *c[2] = { accounts_get(p, "dead", 0), accounts_get(p, "alive", 0) };
    accounts_note(p, c[0], ACCOUNT_REJECTED, "refresh token rejected");
    CHECK_INT(account_state(c[0]), ACCOUNT_DEAD);
    struct got g = { 0 };
    for (int i = 0; i < 5; i++) {
        accounts_lease(p, c, 2, NULL, 0, got_cb, &g);
        CHECK(g.a == c[1]);
        accounts_release(p, g.a, ACCOUNT_DONE, NULL);
    }
    accounts_note(p, c[1], ACCOUNT_REJECTED, NULL);
    accounts_lease(p, c, 2, NULL, 0, got_cb, &g);
    CHECK(g.a == NULL);
    CHECK_INT(g.err, LEASE_ALL_DEAD);
    accounts_free(p);
    event_base_free(base);
}

TEST(failover_excludes_tried_accounts_until_none_is_left)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct account *c[2] = { accounts_get(p, "a", 0), accounts_get(p, "b", 0) };
    struct got g = { 0 };
    accounts_lease(p, c, 2, NULL, 0, got_cb, &g);
    struct account *first = g.a;
    accounts_release(p, first, ACCOUNT_TRANSIENT, "HTTP 500");
    CHECK_INT(account_state(first), ACCOUNT_COOLING);
    struct account *tried[2] = { first, NULL };
    accounts_lease(p, c, 2, tried, 1, got_cb, &g);
    CHECK(g.a && g.a != first);
    tried[1] = g.a;
    accounts_release(p, g.a, ACCOUNT_BUSY, "10061");
    accounts_lease(p, c, 2, tried, 2, got_cb, &g);
    CHECK(g.a == NULL);
    CHECK_INT(g.err, LEASE_EXHAUSTED);
    accounts_free(p);
    event_base_free(base);
}

TEST(a_cooling_account_serves_a_waiter_after_its_back_off)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 10000);
    struct account *c[1] = { accounts_get(p, "x", 0) };
    accounts_note(p, c[0], ACCOUNT_BUSY, "10061"); /* about 1 s */
    struct got g = { 0 };
    CHECK(accounts_lease(p, c, 1, NULL, 0, got_cb, &g) != NULL);
    CHECK_INT(g.calls, 0);
    event_base_dispatch(base); /* returns when the timer fired and nothing is pending */
    CHECK_INT(g.calls, 1);
    CHECK(g.a == c[0]);
    accounts_release(p, g.a, ACCOUNT_DONE, NULL);
    CHECK_INT(account_state(c[0]), ACCOUNT_OK);
    accounts_free(p);
    event_base_free(base);
}

TEST(a_wait_times_out)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 100);
    struct account *c[1] = { accounts_get(p, "x", 0) };
    struct got first = { 0 }, g = { 0 };
    accounts_lease(p, c, 1, NULL, 0, got_cb, &first);
    accounts_lease(p, c, 1, NULL, 0, got_cb, &g);
    event_base_dispatch(base);
    CHECK_INT(g.calls, 1);
    CHECK_INT(g.err, LEASE_TIMEOUT);
    accounts_release(p, first.a, ACCOUNT_DONE, NULL);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(accounts_json(p, &b), 0);
    CHECK(strstr(buf_cstr(&b), "\"state\":\"ok\"") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"x\"") == NULL); /* fingerprints only */
    buf_cleanup(&b);
    accounts_free(p);
    event_base_free(base);
}

TEST(unreferenced_strangers_are_forgotten_past_the_cap)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct account *kept = accounts_get(p, "kept", 0);     /* referenced */
    struct account *conf = accounts_get(p, "configured", 1);
    accounts_unref(p, conf);
    char tok[32];
    for (int i = 0; i < ACCOUNTS_MAX + 50; i++) {
        snprintf(tok, sizeof(tok), "stranger-%d", i);
        accounts_unref(p, accounts_get(p, tok, 0));
    }
    CHECK(accounts_count(p) <= ACCOUNTS_MAX);
    CHECK(accounts_find(p, "kept") == kept);
    CHECK(accounts_find(p, "configured") == conf);
    CHECK(accounts_find(p, "stranger-0") == NULL); /* the oldest went first */
    snprintf(tok, sizeof(tok), "stranger-%d", ACCOUNTS_MAX + 49);
    CHECK(accounts_find(p, tok) != NULL);
    accounts_free(p);
    event_base_free(base);
}

TEST(a_free_account_behind_waiters_is_granted_from_the_loop_not_inside_lease)
{
    /* Found by the soak: the grant used to run inside accounts_lease, which
     * freed the wait and then returned it; the caller kept a dangling handle. */
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 5000);
    struct account *a = accounts_get(p, "a", 0), *b = accounts_get(p, "b", 0);
    struct account *only_a[1] = { a }, *both[2] = { a, b };
    struct got holder = { 0 }, waiter = { 0 }, late = { 0 };
    accounts_lease(p, only_a, 1, NULL, 0, got_cb, &holder);
    CHECK(holder.a == a);
    CHECK(accounts_lease(p, only_a, 1, NULL, 0, got_cb, &waiter) != NULL);
    struct account_wait *h = accounts_lease(p, both, 2, NULL, 0, got_cb, &late);
    CHECK(h != NULL);
    CHECK_INT(late.calls, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CHECK_INT(late.calls, 1);
    CHECK(late.a == b);
    CHECK_INT(waiter.calls, 0);
    accounts_release(p, b, ACCOUNT_DONE, NULL);
    accounts_release(p, a, ACCOUNT_DONE, NULL);
    CHECK_INT(waiter.calls, 1);
    accounts_release(p, waiter.a, ACCOUNT_DONE, NULL);
    accounts_free(p);
    event_base_free(base);
}

/* ---- issue 12: the O(1) structures, busy, dead ------------------------- */

TEST(a_set_lists_its_idle_accounts_in_lease_order)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct account *c[4] = { accounts_get(p, "i1", 0), accounts_get(p, "i2", 0),
                             accounts_get(p, "i3", 0), accounts_get(p, "i1", 0) };
    struct account_set *s = accounts_set_new(p, c, 4);
    CHECK_INT(accounts_set_size(s), 3); /* i1 once */
    CHECK(accounts_set_idle_head(p, s) == c[0]); /* created first */
    struct got g1 = { 0 }, g2 = { 0 };
    accounts_lease_set(p, s, NULL, 0, got_cb, &g1);
    accounts_lease_set(p, s, NULL, 0, got_cb, &g2);
    CHECK(g1.a == c[0] && g2.a == c[1]);
    CHECK(accounts_set_idle_head(p, s) == c[2]); /* leased ones are passed over */
    accounts_release(p, g2.a, ACCOUNT_DONE, NULL);
    accounts_release(p, g1.a, ACCOUNT_DONE, NULL);
    /* Lease order, not release order: i3 (never leased), then i1, then i2. */
    CHECK(accounts_set_idle_head(p, s) == c[2]);
    struct got g3 = { 0 }, g4 = { 0 }, g5 = { 0 };
    accounts_lease_set(p, s, NULL, 0, got_cb, &g3);
    accounts_lease_set(p, s, NULL, 0, got_cb, &g4);
    accounts_lease_set(p, s, NULL, 0, got_cb, &g5);
    CHECK(g3.a == c[2] && g4.a == c[0] && g5.a == c[1]);
    CHECK(accounts_set_idle_head(p, s) == NULL);
    /* A cooling account leaves the list; a dead one too. */
    accounts_release(p, g3.a, ACCOUNT_TRANSIENT, "HTTP 500");
    accounts_release(p, g4.a, ACCOUNT_REJECTED, NULL);
    accounts_release(p, g5.a, ACCOUNT_DONE, NULL);
    CHECK(accounts_set_idle_head(p, s) == c[1]);
    accounts_note(p, c[2], ACCOUNT_DONE, "token check: live");
    CHECK(accounts_set_idle_head(p, s) == c[1]); /* back, at the tail */
    struct got g6 = { 0 }, g7 = { 0 };
    accounts_lease_set(p, s, NULL, 0, got_cb, &g6);
    accounts_lease_set(p, s, NULL, 0, got_cb, &g7);
    CHECK(g6.a == c[1] && g7.a == c[2]);
    accounts_release(p, g6.a, ACCOUNT_DONE, NULL);
    accounts_release(p, g7.a, ACCOUNT_DONE, NULL);
    accounts_set_unref(p, s);
    accounts_free(p);
    event_base_free(base);
}

TEST(an_account_leased_through_one_set_is_not_idle_in_another)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct account *a = accounts_get(p, "shared", 0), *b = accounts_get(p, "own", 0);
    struct account *va[1] = { a }, *vab[2] = { a, b };
    struct account_set *s1 = accounts_set_new(p, va, 1), *s2 = accounts_set_new(p, vab, 2);
    struct got g = { 0 };
    accounts_lease_set(p, s1, NULL, 0, got_cb, &g);
    CHECK(g.a == a);
    CHECK(accounts_set_idle_head(p, s2) == b);
    CHECK(accounts_set_idle_head(p, s1) == NULL);
    accounts_release(p, a, ACCOUNT_DONE, NULL);
    CHECK(accounts_set_idle_head(p, s1) == a);
    CHECK(accounts_set_idle_head(p, s2) == b); /* b was never leased: it goes first */
    accounts_set_unref(p, s1);
    accounts_set_unref(p, s2);
    accounts_unref(p, a);
    accounts_unref(p, b);
    CHECK_INT(accounts_count(p), 2);
    accounts_free(p);
    event_base_free(base);
}

TEST(busy_is_short_and_cooling_longer_than_the_queue_wait_is_refused_at_once)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    accounts_configure(p, 5000, 0);
    struct account *c[1] = { accounts_get(p, "busy", 0) };
    struct account_set *s = accounts_set_new(p, c, 1);
    accounts_note(p, c[0], ACCOUNT_BUSY, "10061");
    accounts_note(p, c[0], ACCOUNT_BUSY, "10061");
    accounts_note(p, c[0], ACCOUNT_BUSY, "10061"); /* no growth */
    CHECK(account_cooling_left(c[0]) > 4.0 && account_cooling_left(c[0]) <= 5.0);
    CHECK(strcmp(account_cause(c[0]), "busy") == 0);
    CHECK_INT(accounts_set_retry_after(p, s), 5);
    struct got g = { 0 };
    CHECK(accounts_lease_set(p, s, NULL, 0, got_cb, &g) == NULL);
    CHECK_INT(g.calls, 1);
    CHECK_INT(g.err, LEASE_COOLING);
    CHECK_INT(accounts_queue_len(p), 0);
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(accounts_json(p, &b), 0);
    CHECK(strstr(buf_cstr(&b), "\"state\":\"cooling\"") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"cause\":\"busy\"") != NULL);
    CHECK(strstr(buf_cstr(&b), "\"cooling_left\":4.") != NULL ||
          strstr(buf_cstr(&b), "\"cooling_left\":5.0") != NULL);
    buf_cleanup(&b);
    accounts_set_unref(p, s);
    accounts_free(p);
    event_base_free(base);
}

TEST(a_waiter_is_refused_when_its_leased_account_comes_back_cooling_past_its_deadline)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    accounts_configure(p, 5000, 0);
    struct account *c[1] = { accounts_get(p, "x", 0) };
    struct account_set *s = accounts_set_new(p, c, 1);
    struct got first = { 0 }, w = { 0 };
    accounts_lease_set(p, s, NULL, 0, got_cb, &first);
    CHECK(accounts_lease_set(p, s, NULL, 0, got_cb, &w) != NULL);
    accounts_release(p, first.a, ACCOUNT_BUSY, "10061");
    CHECK_INT(w.calls, 1); /* at once, not after the queue wait */
    CHECK_INT(w.err, LEASE_COOLING);
    accounts_set_unref(p, s);
    accounts_free(p);
    event_base_free(base);
}

TEST(a_dead_account_is_tried_once_more_after_the_recheck_time)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    accounts_configure(p, 0, 50);
    struct account *c[1] = { accounts_get(p, "conf", 1) };
    struct account_set *s = accounts_set_new(p, c, 1);
    accounts_note(p, c[0], ACCOUNT_REJECTED, NULL);
    struct got g = { 0 };
    accounts_lease_set(p, s, NULL, 0, got_cb, &g);
    CHECK_INT(g.err, LEASE_ALL_DEAD);
    usleep(80 * 1000);
    accounts_lease_set(p, s, NULL, 0, got_cb, &g);
    CHECK_INT(g.err, LEASE_OK);
    CHECK(g.a == c[0]);
    CHECK_INT(account_state(c[0]), ACCOUNT_DEAD); /* until the refresh says otherwise */
    accounts_release(p, g.a, ACCOUNT_DONE, "ok");
    CHECK_INT(account_state(c[0]), ACCOUNT_OK);
    /* Refused again: dead again, for another recheck time. */
    accounts_note(p, c[0], ACCOUNT_REJECTED, NULL);
    accounts_lease_set(p, s, NULL, 0, got_cb, &g);
    CHECK_INT(g.err, LEASE_ALL_DEAD);
    accounts_set_unref(p, s);
    accounts_free(p);
    event_base_free(base);
}

TEST(a_dead_stranger_is_forgotten_after_the_recheck_time)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    accounts_configure(p, 0, 50);
    struct account *a = accounts_get(p, "stranger", 0);
    accounts_note(p, a, ACCOUNT_REJECTED, NULL);
    accounts_unref(p, a);
    CHECK(accounts_find(p, "stranger") == a);
    usleep(80 * 1000);
    accounts_unref(p, accounts_get(p, "someone else", 0)); /* the pool looks at the time */
    CHECK(accounts_find(p, "stranger") == NULL);
    CHECK_INT(accounts_count(p), 1);
    accounts_free(p);
    event_base_free(base);
}

TEST(the_auth_cache_reuses_a_list_and_drops_the_least_recently_used)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct authcache *c = authcache_new(2, 100);
    CHECK(authcache_get(c, p, NULL) == NULL);
    CHECK(authcache_get(c, p, "Basic abc") == NULL);
    CHECK(authcache_get(c, p, "Bearer  , ") == NULL);
    struct account_set *a1 = authcache_get(c, p, "Bearer t1, t2,t1");
    CHECK_INT(accounts_set_size(a1), 2);
    struct account_set *a2 = authcache_get(c, p, "Bearer t1, t2,t1");
    CHECK(a1 == a2);
    CHECK_INT(authcache_hits(c), 1);
    CHECK_INT(authcache_misses(c), 1);
    struct account_set *b = authcache_get(c, p, "Bearer t3");
    accounts_set_unref(p, authcache_get(c, p, "Bearer t1, t2,t1")); /* a is the most recent */
    struct account_set *d = authcache_get(c, p, "Bearer t4");   /* drops b */
    CHECK_INT(authcache_count(c), 2);
    CHECK_INT(authcache_misses(c), 3);
    struct account_set *b2 = authcache_get(c, p, "Bearer t3");   /* parsed again: drops a */
    CHECK_INT(authcache_misses(c), 4);
    CHECK(accounts_set_at(b2, 0) == accounts_set_at(b, 0));    /* the same account */
    /* A set dropped from the cache lives on while a request holds it. */
    CHECK(accounts_set_at(a1, 0) == accounts_find(p, "t1"));
    accounts_set_unref(p, a1);
    accounts_set_unref(p, a2);
    accounts_set_unref(p, b);
    accounts_set_unref(p, b2);
    accounts_set_unref(p, d);
    authcache_free(c, p);
    accounts_free(p);
    event_base_free(base);
}

TEST(the_auth_cache_holds_a_bounded_number_of_accounts)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    struct authcache *c = authcache_new(10, 4);
    struct account_set *a = authcache_get(c, p, "Bearer a1,a2,a3");
    struct account_set *b = authcache_get(c, p, "Bearer b1,b2");    /* 5 > 4: drops a */
    CHECK_INT(authcache_count(c), 1);
    struct account_set *big = authcache_get(c, p, "Bearer c1,c2,c3,c4,c5"); /* never kept */
    CHECK_INT(authcache_count(c), 1);
    struct account_set *big2 = authcache_get(c, p, "Bearer c1,c2,c3,c4,c5");
    CHECK(big2 != big);
    CHECK(accounts_set_at(big2, 0) == accounts_set_at(big, 0));
    CHECK_INT(authcache_misses(c), 4);
    accounts_set_unref(p, a);
    accounts_set_unref(p, b);
    accounts_set_unref(p, big);
    accounts_set_unref(p, big2);
    authcache_free(c, p);
    accounts_free(p);
    event_base_free(base);
}

TEST(fingerprints_and_listings_never_hold_the_token)
{
    struct event_base *base = event_base_new();
    struct account_pool *p = accounts_new(base, 10, 1000);
    const char *tok = "abcdef0123456789-secret-refresh-token";
    struct account *a = accounts_get(p, tok, 0);
    CHECK_INT(strlen(account_fp(a)), 6);
    CHECK(strstr(tok, account_fp(a)) == NULL);
    struct account *hexy = accounts_get(p, "abcdef", 0); /* a token that looks like one */
    CHECK(strcmp(account_fp(hexy), "abcdef") != 0);
    struct buf b;
    buf_init(&b, 1 << 16);
    CHECK_INT(accounts_json(p, &b), 0);
    CHECK(strstr(buf_cstr(&b), "secret") == NULL);
    CHECK(strstr(buf_cstr(&b), "\"abcdef\"") == NULL);
    buf_cleanup(&b);
    accounts_unref(p, a);
    accounts_unref(p, hexy);
    accounts_free(p);
    event_base_free(base);
}

TEST_MAIN()
