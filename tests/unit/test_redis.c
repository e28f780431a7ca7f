/* net/redis: the URL parser, and the client against a real redis-server
 * (tests/unit/redis_server.h): connect, commands, AUTH and SELECT, the
 * command timeout, and reconnecting after the server was stopped and started.
 * Waits are bounded but generous (valgrind runs this too). */
#include "test.h"

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "glm/shared.h"
#include "glm/store.h"
#include "net/redis.h"
#include "redis_server.h"

/* ---- URL ------------------------------------------------------------- */

TEST(url_tcp_forms)
{
    struct redis_url u;
    char err[200];
    CHECK_INT(redis_url_parse("redis://127.0.0.1:6380/2", &u, err, sizeof(err)), 0);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK_INT(u.port, 6380);
    CHECK_INT(u.db, 2);
    CHECK_STR(u.password, "");
    CHECK_INT(redis_url_parse("redis://redis", &u, err, sizeof(err)), 0);
    CHECK_STR(u.host, "redis");
    CHECK_INT(u.port, 6379);
    CHECK_INT(u.db, 0);
    CHECK_INT(redis_url_parse("redis://:s%40cret@h:1/0", &u, err, sizeof(err)), 0);
    CHECK_STR(u.password, "s@cret");
    CHECK_STR(u.user, "");
    CHECK_INT(redis_url_parse("redis://app:pw@h/3", &u, err, sizeof(err)), 0);
    CHECK_STR(u.user, "app");
    CHECK_STR(u.password, "pw");
    CHECK_INT(redis_url_parse("redis://[::1]:7000/1", &u, err, sizeof(err)), 0);
    CHECK_STR(u.host, "::1");
    CHECK_INT(u.port, 7000);
    char where[200];
    redis_url_describe(&u, where, sizeof(where));
    CHECK_STR(where, "[::1]:7000 db 1");
}

TEST(url_unix_forms)
{
    struct redis_url u;
    char err[200];
    CHECK_INT(redis_url_parse("unix:/run/redis/redis.sock", &u, err, sizeof(err)), 0);
    CHECK(u.is_unix);
    CHECK_STR(u.path, "/run/redis/redis.sock");
    CHECK_INT(redis_url_parse("unix:///tmp/r.sock?db=4&password=x", &u, err, sizeof(err)), 0);
    CHECK_STR(u.path, "/tmp/r.sock");
    CHECK_INT(u.db, 4);
    CHECK_STR(u.password, "x");
    CHECK_INT(redis_url_parse("redis+unix:///tmp/r.sock", &u, err, sizeof(err)), 0);
    CHECK_STR(u.path, "/tmp/r.sock");
}

TEST(url_errors_never_quote_the_password)
{
    struct redis_url u;
    char err[200];
    static const char *const bad[] = {
        "http://h", "redis://", "redis://:hunter2@", "redis://h:0", "redis://h:65536",
        "redis://h:x", "redis://h/x", "redis://h/1?x=1", "rediss://:hunter2@h", "unix:",
        "unix:rel.sock", "unix:/s?foo=1", "redis://[::1", "redis://h:12:13",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        int rc = redis_url_parse(bad[i], &u, err, sizeof(err));
        if (rc != -1)
            printf("# accepted: %s\n", bad[i]);
        CHECK_INT(rc, -1);
        CHECK(err[0]);
        CHECK(!strstr(err, "hunter2"));
    }
}

/* ---- the client ------------------------------------------------------ */

static struct test_redis srv;
static struct event_base *base;

struct probe {
    int calls;
    int type;          /* reply type, -1 when none */
    char str[256];
    char err[128];
    long long integer;
};

static void probe_cb(void *arg, struct redisReply *reply, const char *err)
{
    struct probe *p = arg;
    p->calls++;
    p->type = reply ? reply->type : -1;
    snprintf(p->str, sizeof(p->str), "%s", reply && reply->str ? reply->str : "");
    p->integer = reply ? reply->integer : 0;
    snprintf(p->err, sizeof(p->err), "%s", err ? err : "");
}

struct states {
    int ups, downs;
};

static void on_state(void *arg, int up)
{
    struct states *s = arg;
    if (up)
        s->ups++;
    else
        s->downs++;
}

static int *watch_flag;
static int watch_want;

/* Runs the loop until *flag >= want or ms pass; returns whether it got there. */
static int run_until(int *flag, int want, int ms)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    watch_flag = flag;
    watch_want = want;
    while (*flag < want) {
        struct timeval tv = { 0, 20 * 1000 };
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 > ms)
            break;
    }
    return *flag >= want;
}

static int server_ready(void)
{
    if (!test_redis_available()) {
        printf("# SKIP redis-server is not installed (%s)\n", test_redis_bin());
        return 0;
    }
    if (!base)
        base = event_base_new();
    if (!srv.pid && test_redis_start(&srv) < 0) {
        printf("# redis-server did not start\n");
        test_failed_checks++;
        return 0;
    }
    return 1;
}

static struct redis *client(const char *url, struct states *st, int timeout_ms)
{
    struct redis_opts o = {
        .url = url, .label = "Redis (test)", .timeout_ms = timeout_ms,
        .backoff_min_ms = 50, .backoff_max_ms = 200, .on_state = on_state, .state_arg = st,
    };
    char err[200];
    struct redis *r = redis_new(base, &o, err, sizeof(err));
    if (!r)
        printf("# redis_new: %s\n", err);
    return r;
}

/* A client that is up, or NULL (the test then returns). */
static struct redis *connected(struct states *st, int timeout_ms)
{
    if (!server_ready())
        return NULL;
    struct redis *r = client(srv.url, st, timeout_ms);
    int up = r && run_until(&st->ups, 1, 10000);
    CHECK(up);
    if (!up) {
        redis_free(r);
        return NULL;
    }
    return r;
}

TEST(connects_and_answers_commands)
{
    if (!server_ready())
        return;
    struct states st = { 0, 0 };
    struct redis *r = client(srv.url, &st, 5000);
    CHECK(r != NULL);
    if (!r)
        return;
    CHECK(run_until(&st.ups, 1, 10000));
    CHECK(redis_up(r));
    struct probe set = { 0 }, get = { 0 };
    redis_cmdf(r, probe_cb, &set, "SET %s %s", "glm:test:k", "v1");
    const char *argv[] = { "GET", "glm:test:k" };
    redis_cmdv(r, probe_cb, &get, 2, argv, NULL);
    /* Never called from inside the call that sent the command. */
    CHECK_INT(set.calls + get.calls, 0);
    CHECK(run_until(&get.calls, 1, 10000));
    CHECK_INT(set.calls, 1);
    CHECK_STR(set.str, "OK");
    CHECK_INT(get.type, REDIS_REPLY_STRING);
    CHECK_STR(get.str, "v1");
    CHECK_STR(get.err, "");
    /* An error reply is a reply. */
    struct probe bad = { 0 };
    redis_cmdf(r, probe_cb, &bad, "INCR %s", "glm:test:k");
    CHECK(run_until(&bad.calls, 1, 10000));
    CHECK_INT(bad.type, REDIS_REPLY_ERROR);
    /* A cancelled command's callback is not called. */
    struct probe gone = { 0 }, after = { 0 };
    redis_cancel(redis_cmdf(r, probe_cb, &gone, "PING"));
    redis_cmdf(r, probe_cb, &after, "PING");
    CHECK(run_until(&after.calls, 1, 10000));
    CHECK_INT(gone.calls, 0);
    redis_free(r);
}

TEST(select_and_auth_from_the_url)
{
    if (!server_ready())
        return;
    struct states st = { 0, 0 };
    struct redis *admin = client(srv.url, &st, 5000);
    CHECK(run_until(&st.ups, 1, 10000));
    struct probe p = { 0 };
    redis_cmdf(admin, probe_cb, &p, "CONFIG SET requirepass %s", "pa:ss@word");
    CHECK(run_until(&p.calls, 1, 10000));
    CHECK_STR(p.str, "OK");

    char url[160];
    snprintf(url, sizeof(url), "redis://:pa%%3Ass%%40word@127.0.0.1:%d/3", srv.port);
    struct states st2 = { 0, 0 };
    struct redis *r = client(url, &st2, 5000);
    CHECK(run_until(&st2.ups, 1, 10000));
    struct probe set = { 0 };
    redis_cmdf(r, probe_cb, &set, "SET %s %s", "glm:test:db3", "x");
    CHECK(run_until(&set.calls, 1, 10000));
    CHECK_STR(set.str, "OK");
    /* It went to db 3: db 0 does not have it. */
    struct probe sel = { 0 }, get = { 0 };
    redis_cmdf(admin, probe_cb, &sel, "AUTH %s", "pa:ss@word");
    redis_cmdf(admin, probe_cb, &get, "EXISTS %s", "glm:test:db3");
    CHECK(run_until(&get.calls, 1, 10000));
    CHECK_INT(get.integer, 0);

    /* A wrong password: the link does not come up, and says so. */
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%d/0", srv.port);
    struct states st3 = { 0, 0 };
    struct redis *w = client(url, &st3, 5000);
    int never = 0;
    run_until(&never, 1, 400);
    CHECK_INT(st3.ups, 0);
    CHECK(!redis_up(w));
    struct probe down = { 0 };
    redis_cmdf(w, probe_cb, &down, "PING");
    CHECK(run_until(&down.calls, 1, 10000));
    CHECK_STR(down.err, "Redis is unreachable");
    redis_free(w);

    struct probe un = { 0 };
    redis_cmdf(admin, probe_cb, &un, "CONFIG SET requirepass %s", "");
    CHECK(run_until(&un.calls, 1, 10000));
    CHECK_STR(un.str, "OK");
    redis_free(r);
    redis_free(admin);
}

TEST(a_command_that_outlives_its_timeout_fails_and_the_link_recovers)
{
    struct states st = { 0, 0 };
    struct redis *r = connected(&st, 300);
    if (!r)
        return;
    struct probe slow = { 0 }, behind = { 0 };
    /* BLPOP on an empty list holds the connection for 5 s. */
    redis_cmdf(r, probe_cb, &slow, "BLPOP %s %d", "glm:test:empty", 5);
    redis_cmdf(r, probe_cb, &behind, "PING");
    CHECK(run_until(&behind.calls, 1, 4000));
    CHECK_INT(slow.calls, 1);
    CHECK_STR(slow.err, "the Redis command timed out");
    CHECK(behind.err[0] != 0);
    CHECK(st.downs >= 1);
    /* It reconnects by itself and works again. */
    CHECK(run_until(&st.ups, 2, 10000));
    struct probe ok = { 0 };
    redis_cmdf(r, probe_cb, &ok, "PING");
    CHECK(run_until(&ok.calls, 1, 4000));
    CHECK_STR(ok.str, "PONG");
    redis_free(r);
}

TEST(reconnects_after_the_server_is_stopped_and_started)
{
    struct states st = { 0, 0 };
    struct redis *r = connected(&st, 2000);
    if (!r)
        return;
    unsigned long drops = redis_drops(r);
    test_redis_stop(&srv);
    CHECK(run_until(&st.downs, 1, 10000));
    CHECK(!redis_up(r));
    CHECK_INT(redis_drops(r), drops + 1);
    struct probe down = { 0 };
    redis_cmdf(r, probe_cb, &down, "PING");
    CHECK(run_until(&down.calls, 1, 5000));
    CHECK_STR(down.err, "Redis is unreachable");
    /* Some failed attempts while it is away, then it is back. */
    int never = 0;
    run_until(&never, 1, 500);
    CHECK(test_redis_start(&srv) == 0);
    CHECK(run_until(&st.ups, 2, 15000));
    struct probe ok = { 0 };
    redis_cmdf(r, probe_cb, &ok, "PING");
    CHECK(run_until(&ok.calls, 1, 5000));
    CHECK_STR(ok.str, "PONG");
    redis_free(r);
}

struct inbox {
    int n;
    char last[64];
};

static void on_message(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)channel;
    struct inbox *in = arg;
    in->n++;
    snprintf(in->last, sizeof(in->last), "%.*s", (int)len, msg);
}

TEST(a_subscriber_link_gets_messages_again_after_a_reconnect)
{
    if (!server_ready())
        return;
    struct states st = { 0, 0 }, sst = { 0, 0 };
    struct redis *pub = client(srv.url, &st, 2000);
    struct redis *sub = client(srv.url, &sst, 2000);
    struct inbox in = { 0, "" };
    redis_subscribe(sub, "glm:test:chan", on_message, &in);
    CHECK(run_until(&st.ups, 1, 10000));
    CHECK(run_until(&sst.ups, 1, 10000));
    /* Publish until the SUBSCRIBE has gone through. */
    for (int i = 0; i < 100 && in.n == 0; i++) {
        struct probe p = { 0 };
        redis_cmdf(pub, probe_cb, &p, "PUBLISH %s %s", "glm:test:chan", "hello");
        run_until(&p.calls, 1, 2000);
        int never = 0;
        run_until(&never, 1, 30);
    }
    CHECK(in.n >= 1);
    CHECK_STR(in.last, "hello");
    test_redis_stop(&srv);
    CHECK(run_until(&sst.downs, 1, 10000));
    CHECK(test_redis_start(&srv) == 0);
    CHECK(run_until(&sst.ups, 2, 15000));
    CHECK(run_until(&st.ups, 2, 15000));
    int before = in.n;
    for (int i = 0; i < 100 && in.n == before; i++) {
        struct probe p = { 0 };
        redis_cmdf(pub, probe_cb, &p, "PUBLISH %s %s", "glm:test:chan", "again");
        run_until(&p.calls, 1, 2000);
        int never = 0;
        run_until(&never, 1, 30);
    }
    CHECK(in.n > before);
    CHECK_STR(in.last, "again");
    redis_free(sub);
    redis_free(pub);
}

/* ---- the account store in Redis ----------------------------------------- */

struct looked {
    int calls;
    char token[128];
    char err[128];
};

static void looked_cb(void *arg, const char *token, const char *err)
{
    struct looked *l = arg;
    l->calls++;
    snprintf(l->token, sizeof(l->token), "%s", token ? token : "");
    snprintf(l->err, sizeof(l->err), "%s", err ? err : "");
}

static struct looked lookup_wait(struct store *s, const char *key)
{
    struct looked l = { 0, "", "" };
    struct store_lookup *h = store_lookup(s, key, looked_cb, &l);
    CHECK(h != NULL);           /* Redis answers later, never inside */
    CHECK_INT(l.calls, 0);
    CHECK(run_until(&l.calls, 1, 10000));
    return l;
}

static void import_cb(void *arg, int written, const char *err)
{
    int *out = arg;
    *out = err ? 3 : written ? 2 : 1;
}

TEST(the_redis_store_keeps_the_same_records_as_sqlite)
{
    struct states st = { 0, 0 };
    struct redis *r = connected(&st, 2000);
    if (!r)
        return;
    struct store *s = store_open_redis(r, "glm:t1:");
    CHECK_STR(s->name, "Redis");
    char key[65];
    store_key("user-token-1", key);
    struct looked l = lookup_wait(s, key);
    CHECK_STR(l.token, "");
    CHECK_STR(l.err, "");
    CHECK_INT(store_put_rotated(s, key, "rotated-1"), 0);
    l = lookup_wait(s, key);
    CHECK_STR(l.token, "rotated-1");
    /* The record is a hash under prefix + "rotated:" + key, with its time. */
    struct probe p = { 0 };
    redis_cmdf(r, probe_cb, &p, "HGET glm:t1:rotated:%s updated", key);
    CHECK(run_until(&p.calls, 1, 10000));
    CHECK(atoll(p.str) > 1700000000);
    /* A cancelled lookup does not call back. */
    struct looked gone = { 0, "", "" };
    store_lookup_cancel(s, store_lookup(s, key, looked_cb, &gone));
    /* Import: an older record does not replace a newer one; a newer does. */
    int res = 0;
    store_redis_import(s, key, "older", 1000, import_cb, &res);
    CHECK(run_until(&res, 1, 10000));
    CHECK_INT(res, 1);
    l = lookup_wait(s, key);
    CHECK_STR(l.token, "rotated-1");
    res = 0;
    store_redis_import(s, key, "newer", 4000000000LL, import_cb, &res);
    CHECK(run_until(&res, 1, 10000));
    CHECK_INT(res, 2);
    l = lookup_wait(s, key);
    CHECK_STR(l.token, "newer");
    CHECK_INT(gone.calls, 0);
    CHECK_INT(store_forget(s, key), 0);
    l = lookup_wait(s, key);
    CHECK_STR(l.token, "");
    /* Redis away: the lookup says so (and does not answer "nothing stored"). */
    test_redis_stop(&srv);
    CHECK(run_until(&st.downs, 1, 10000));
    l = lookup_wait(s, key);
    CHECK_STR(l.token, "");
    CHECK_STR(l.err, "Redis is unreachable");
    CHECK_INT(store_put_rotated(s, key, "lost"), -1);
    CHECK(test_redis_start(&srv) == 0);
    CHECK(run_until(&st.ups, 2, 15000));
    store_close(s);
    redis_free(r);
}

/* ---- locks shared by replicas -------------------------------------------- */

struct taken {
    int calls;
    struct shared_lock *l;
    enum shared_error err;
    char detail[200];
    int order;
};

static int take_seq;

static void taken_cb(void *arg, struct shared_lock *l, enum shared_error err, const char *detail)
{
    struct taken *t = arg;
    t->calls++;
    t->l = l;
    t->err = err;
    t->order = ++take_seq;
    snprintf(t->detail, sizeof(t->detail), "%s", detail ? detail : "");
}

static struct shared *replica(struct redis *r, const char *name)
{
    struct shared_opts o = { .cmd = r, .sub_url = srv.url, .prefix = "glm:t2:", .replica = name,
                             .timeout_ms = 2000 };
    return shared_new(base, &o);
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

struct holders_out {
    int calls, n;
    char name[64], holder[64];
};

static void holders_cb(void *arg, const char *const *names, const char *const *holders, int n,
                       const char *err)
{
    struct holders_out *o = arg;
    o->calls++;
    o->n = err ? -1 : n;
    if (n > 0) {
        snprintf(o->name, sizeof(o->name), "%s", names[0]);
        snprintf(o->holder, sizeof(o->holder), "%s", holders[0]);
    }
}

TEST(a_lock_is_held_by_one_replica_and_passes_on_release_in_fifo_order)
{
    struct states st = { 0, 0 };
    struct redis *r = connected(&st, 2000);
    if (!r)
        return;
    struct shared *a = replica(r, "replica-a"), *b = replica(r, "replica-b");
    int never = 0;
    run_until(&never, 1, 300); /* the subscriber links come up */
    struct taken ta = { 0 }, tb1 = { 0 }, tb2 = { 0 }, late = { 0 };
    shared_lock(a, "lease:x", 20000, 15000, taken_cb, &ta);
    CHECK(run_until(&ta.calls, 1, 10000));
    CHECK_INT(ta.err, SHARED_OK);
    CHECK_INT(shared_held(a), 1);
    shared_lock(b, "lease:x", 20000, 15000, taken_cb, &tb1);
    shared_lock(b, "lease:x", 20000, 15000, taken_cb, &tb2);
    run_until(&never, 1, 300);
    CHECK_INT(tb1.calls + tb2.calls, 0);
    CHECK_INT(shared_waiting(b), 2);
    struct holders_out ho = { 0 };
    shared_holders(a, "lease:*", holders_cb, &ho);
    CHECK(run_until(&ho.calls, 1, 10000));
    CHECK_INT(ho.n, 1);
    CHECK_STR(ho.name, "lease:x");
    CHECK_STR(ho.holder, "replica-a");
    /* A waiter with a short wait gives up, naming the holder. */
    shared_lock(b, "lease:x", 20000, 100, taken_cb, &late);
    CHECK(run_until(&late.calls, 1, 10000));
    CHECK_INT(late.err, SHARED_TIMEOUT);
    CHECK_STR(late.detail, "held by replica replica-a");
    /* The release is published: the first waiter of b gets it long before the TTL. */
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    shared_unlock(ta.l);
    CHECK(run_until(&tb1.calls, 1, 15000));
    CHECK(ms_since(&t0) < 10000);
    CHECK_INT(tb1.err, SHARED_OK);
    CHECK_INT(tb2.calls, 0);
    shared_unlock(tb1.l);
    CHECK(run_until(&tb2.calls, 1, 15000));
    CHECK_INT(tb2.err, SHARED_OK);
    CHECK(tb1.order < tb2.order);
    /* Cancelling a wait: no call. */
    struct taken gone = { 0 };
    shared_unlock(shared_lock(a, "lease:x", 20000, 15000, taken_cb, &gone));
    shared_unlock(tb2.l);
    run_until(&never, 1, 200);
    CHECK_INT(gone.calls, 0);
    CHECK_INT(shared_held(a) + shared_held(b), 0);
    shared_free(b);
    shared_free(a);
    redis_free(r);
}

TEST(a_crashed_holders_lock_expires_by_its_ttl)
{
    struct states st = { 0, 0 };
    struct redis *r = connected(&st, 2000);
    if (!r)
        return;
    struct shared *a = replica(r, "replica-a"), *b = replica(r, "replica-b");
    struct taken ta = { 0 }, tb = { 0 };
    shared_lock(a, "lease:crash", 600, 15000, taken_cb, &ta);
    CHECK(run_until(&ta.calls, 1, 10000));
    CHECK_INT(ta.err, SHARED_OK);
    /* a "dies": no release, no more renewals. */
    shared_free(a);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    shared_lock(b, "lease:crash", 600, 15000, taken_cb, &tb);
    CHECK(run_until(&tb.calls, 1, 15000));
    CHECK_INT(tb.err, SHARED_OK);
    CHECK(ms_since(&t0) >= 100);
    /* While held, renewals keep it past its TTL. */
    int never = 0;
    run_until(&never, 1, 1500);
    struct probe p = { 0 };
    redis_cmdf(r, probe_cb, &p, "GET %s", "glm:t2:lease:crash");
    CHECK(run_until(&p.calls, 1, 10000));
    CHECK(strncmp(p.str, "replica-b ", 10) == 0);
    shared_unlock(tb.l);
    shared_free(b);
    redis_free(r);
}

TEST(without_redis_a_lock_is_refused_at_once_naming_redis)
{
    struct states st = { 0, 0 };
    struct redis *r = connected(&st, 2000);
    if (!r)
        return;
    struct shared *a = replica(r, "replica-a");
    test_redis_stop(&srv);
    CHECK(run_until(&st.downs, 1, 10000));
    struct taken t = { 0 };
    shared_lock(a, "lease:z", 2000, 15000, taken_cb, &t);
    CHECK(run_until(&t.calls, 1, 10000));
    CHECK_INT(t.err, SHARED_UNAVAILABLE);
    CHECK(strstr(t.detail, "Redis") != NULL);
    CHECK(test_redis_start(&srv) == 0);
    CHECK(run_until(&st.ups, 2, 15000));
    shared_free(a);
    redis_free(r);
}

TEST(zz_cleanup)
{
    test_redis_cleanup(&srv);
    if (base)
        event_base_free(base);
    base = NULL;
}

TEST_MAIN()
