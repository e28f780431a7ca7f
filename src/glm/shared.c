#include "glm/shared.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "net/redis.h"
#include "util/crypto.h"
#include "util/xalloc.h"

/* Taken: {1}. Held by someone: {0, value, pttl}. */
static const char acquire_lua[] =
    "if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end "
    "return {0, redis.call('GET', KEYS[1]) or '', redis.call('PTTL', KEYS[1])}";
/* 1 when still ours (and extended), 0 when lost. */
static const char renew_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then "
    "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0";
/* Deletes it only when ours, and tells the other replicas. */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) "
    "redis.call('PUBLISH', ARGV[2], ARGV[3]) return 1 end return 0";

enum lock_state { LOCK_TRYING, LOCK_WAITING, LOCK_HELD, LOCK_ABANDONED };

struct shared_lock {
    struct shared *s;
    char name[200];
    char key[360];
    char value[160];         /* "<replica> <nonce>" */
    long ttl_ms;
    struct timespec deadline;
    shared_lock_fn *fn;
    void *arg;
    enum lock_state state;
    struct redis_cmd *cmd;
    struct event *timer;
    struct shared_lock *prev, *next; /* in s->locks, oldest first */
};

struct shared {
    struct event_base *base;
    struct redis *cmd;
    struct redis *sub;
    char prefix[128];
    char channel[160];
    char replica[96];
    struct shared_lock *head, *tail;
    unsigned held;
    shared_health_fn *on_health;
    void *health_arg;
};

static void lock_try(struct shared_lock *l);

static long ms_until(const struct timespec *t)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long)(t->tv_sec - now.tv_sec) * 1000 + (t->tv_nsec - now.tv_nsec) / 1000000;
}

static void arm(struct shared_lock *l, long ms)
{
    if (ms < 1)
        ms = 1;
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(l->timer, &tv);
}

static void lock_unlink_free(struct shared_lock *l)
{
    struct shared *s = l->s;
    if (l->prev)
        l->prev->next = l->next;
    else
        s->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        s->tail = l->prev;
    event_free(l->timer);
    free(l);
}

static void finish(struct shared_lock *l, enum shared_error err, const char *detail)
{
    shared_lock_fn *fn = l->fn;
    void *arg = l->arg;
    l->fn = NULL;
    if (err != SHARED_OK) {
        evtimer_del(l->timer);
        lock_unlink_free(l);
        fn(arg, NULL, err, detail);
        return;
    }
    l->state = LOCK_HELD;
    l->s->held++;
    arm(l, l->ttl_ms / 3);
    fn(arg, l, SHARED_OK, NULL);
}

static void logged_cb(void *arg, struct redisReply *reply, const char *err)
{
    (void)arg;
    if (err || reply->type == REDIS_REPLY_ERROR)
        LOG(LOG_WARN, "shared state: a lock release failed (%s); it expires by itself",
            err ? err : reply->str);
}

static void send_release(struct shared *s, const char *key, const char *value, const char *name)
{
    redis_cmdf(s->cmd, logged_cb, NULL, "EVAL %s 1 %s %s %s %s", release_lua, key, value,
               s->channel, name);
}

static void acquired(void *arg, struct redisReply *reply, const char *err)
{
    struct shared_lock *l = arg;
    l->cmd = NULL;
    int taken = !err && reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
                reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[0]->integer == 1;
    if (l->state == LOCK_ABANDONED) {
        if (taken)
            send_release(l->s, l->key, l->value, l->name);
        lock_unlink_free(l);
        return;
    }
    if (err || reply->type != REDIS_REPLY_ARRAY) {
        char detail[200];
        snprintf(detail, sizeof(detail), "the shared state in Redis cannot be reached (%s)",
                 err ? err : reply->type == REDIS_REPLY_ERROR ? reply->str : "odd answer");
        finish(l, SHARED_UNAVAILABLE, detail);
        return;
    }
    if (taken) {
        finish(l, SHARED_OK, NULL);
        return;
    }
    const char *holder = reply->elements >= 2 && reply->element[1]->type == REDIS_REPLY_STRING
                             ? reply->element[1]->str : "";
    long long pttl = reply->elements >= 3 && reply->element[2]->type == REDIS_REPLY_INTEGER
                         ? reply->element[2]->integer : -1;
    long left = ms_until(&l->deadline);
    if (left <= 0) {
        char who[100];
        size_t n = strcspn(holder, " ");
        snprintf(who, sizeof(who), "%.*s", (int)(n < 90 ? n : 90), holder);
        char detail[200];
        snprintf(detail, sizeof(detail), "held by replica %s", who[0] ? who : "(unknown)");
        finish(l, SHARED_TIMEOUT, detail);
        return;
    }
    /* Wait for the release message; the TTL is the fallback (a holder that
     * died publishes nothing). */
    l->state = LOCK_WAITING;
    long wait = pttl > 0 ? (long)pttl + 5 : l->ttl_ms;
    arm(l, wait < left ? wait : left);
}

static void renewed(void *arg, struct redisReply *reply, const char *err)
{
    (void)arg;
    if (!err && reply->type == REDIS_REPLY_INTEGER && reply->integer == 0)
        LOG(LOG_WARN, "shared state: a lock expired before it was renewed (Redis was away "
                      "longer than its TTL?)");
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct shared_lock *l = arg;
    if (l->state == LOCK_WAITING) {
        lock_try(l);
    } else if (l->state == LOCK_HELD) {
        char ttl[24];
        snprintf(ttl, sizeof(ttl), "%ld", l->ttl_ms);
        /* A late answer may come after the unlock: no argument to free. */
        redis_cmdf(l->s->cmd, renewed, NULL, "EVAL %s 1 %s %s %s", renew_lua, l->key, l->value,
                   ttl);
        arm(l, l->ttl_ms / 3);
    }
}

static void lock_try(struct shared_lock *l)
{
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%ld", l->ttl_ms);
    l->state = LOCK_TRYING;
    evtimer_del(l->timer);
    l->cmd = redis_cmdf(l->s->cmd, acquired, l, "EVAL %s 1 %s %s %s", acquire_lua, l->key,
                        l->value, ttl);
}

struct shared_lock *shared_lock(struct shared *s, const char *name, long ttl_ms, long wait_ms,
                                shared_lock_fn *fn, void *arg)
{
    struct shared_lock *l = xcalloc(1, sizeof(*l));
    l->s = s;
    snprintf(l->name, sizeof(l->name), "%s", name);
    snprintf(l->key, sizeof(l->key), "%s%s", s->prefix, name);
    char nonce[17];
    crypto_random_hex(nonce, 8);
    snprintf(l->value, sizeof(l->value), "%s %s", s->replica, nonce);
    l->ttl_ms = ttl_ms > 30 ? ttl_ms : 30;
    clock_gettime(CLOCK_MONOTONIC, &l->deadline);
    l->deadline.tv_sec += wait_ms / 1000;
    l->deadline.tv_nsec += (wait_ms % 1000) * 1000000L;
    if (l->deadline.tv_nsec >= 1000000000L) {
        l->deadline.tv_sec++;
        l->deadline.tv_nsec -= 1000000000L;
    }
    l->fn = fn;
    l->arg = arg;
    l->timer = evtimer_new(s->base, timer_cb, l);
    l->prev = s->tail;
    if (s->tail)
        s->tail->next = l;
    else
        s->head = l;
    s->tail = l;
    lock_try(l);
    return l;
}

void shared_unlock(struct shared_lock *l)
{
    if (!l)
        return;
    l->fn = NULL;
    evtimer_del(l->timer);
    switch (l->state) {
    case LOCK_TRYING:
        /* The SET may succeed yet: acquired() gives it back. */
        l->state = LOCK_ABANDONED;
        return;
    case LOCK_HELD:
        l->s->held--;
        send_release(l->s, l->key, l->value, l->name);
        break;
    case LOCK_WAITING:
    case LOCK_ABANDONED:
        break;
    }
    lock_unlink_free(l);
}

/* A lock was released somewhere: this replica's waiters for it try again, in
 * the order they came. */
/* "health <replica> <key> <outcome> <reason>" from another replica. */
static void health_message(struct shared *s, const char *msg, size_t len)
{
    char buf[600], replica[100], key[80];
    int outcome, used = 0;
    if (!s->on_health || len >= sizeof(buf))
        return;
    memcpy(buf, msg, len);
    buf[len] = 0;
    if (sscanf(buf, "health %99s %79s %d %n", replica, key, &outcome, &used) < 3 || !used)
        return;
    if (strcmp(replica, s->replica) == 0)
        return;
    s->on_health(s->health_arg, key, outcome, buf + used);
}

static void on_released(void *arg, const char *channel, const char *msg, size_t len)
{
    (void)channel;
    struct shared *s = arg;
    if (len > 7 && memcmp(msg, "health ", 7) == 0) {
        health_message(s, msg, len);
        return;
    }
    for (struct shared_lock *l = s->head; l; l = l->next)
        if (l->state == LOCK_WAITING && strlen(l->name) == len && memcmp(l->name, msg, len) == 0)
            lock_try(l);
}

/* The subscriber link came back: releases may have been missed meanwhile. */
static void on_sub_state(void *arg, int up)
{
    struct shared *s = arg;
    if (!up)
        return;
    for (struct shared_lock *l = s->head; l; l = l->next)
        if (l->state == LOCK_WAITING)
            lock_try(l);
}

struct shared *shared_new(struct event_base *base, const struct shared_opts *o)
{
    struct shared *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->cmd = o->cmd;
    snprintf(s->prefix, sizeof(s->prefix), "%s", o->prefix);
    snprintf(s->channel, sizeof(s->channel), "%sreleased", o->prefix);
    snprintf(s->replica, sizeof(s->replica), "%s", o->replica);
    struct redis_opts ro = {
        .url = o->sub_url,
        .label = "Redis (lock releases)",
        .timeout_ms = o->timeout_ms,
        .backoff_min_ms = 100,
        .backoff_max_ms = 5000,
        .on_state = on_sub_state,
        .state_arg = s,
    };
    char err[200];
    s->sub = redis_new(base, &ro, err, sizeof(err));
    if (s->sub)
        redis_subscribe(s->sub, s->channel, on_released, s);
    return s;
}

void shared_free(struct shared *s)
{
    if (!s)
        return;
    while (s->head) {
        struct shared_lock *l = s->head;
        if (l->state == LOCK_TRYING)
            redis_cancel(l->cmd);
        lock_unlink_free(l);
    }
    redis_free(s->sub);
    free(s);
}

const char *shared_replica(const struct shared *s)
{
    return s ? s->replica : "";
}

unsigned shared_held(const struct shared *s)
{
    return s ? s->held : 0;
}

unsigned shared_waiting(const struct shared *s)
{
    unsigned n = 0;
    for (const struct shared_lock *l = s ? s->head : NULL; l; l = l->next)
        n += l->state != LOCK_HELD;
    return n;
}

static const char holders_lua[] =
    "local out = {} local cursor = '0' repeat "
    "local r = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 1000) cursor = r[1] "
    "for _, k in ipairs(r[2]) do local v = redis.call('GET', k) "
    "if v then out[#out + 1] = k out[#out + 1] = v end end "
    "until cursor == '0' or #out >= 20000 return out";

struct holders_req {
    shared_holders_fn *fn;
    void *arg;
    size_t plen;
};

static void holders_cb(void *arg, struct redisReply *reply, const char *err)
{
    struct holders_req *h = arg;
    if (!err && reply->type != REDIS_REPLY_ARRAY)
        err = reply->type == REDIS_REPLY_ERROR ? reply->str : "Redis answered oddly";
    if (err) {
        h->fn(h->arg, NULL, NULL, 0, err);
        free(h);
        return;
    }
    int n = (int)(reply->elements / 2);
    const char **names = xcalloc((size_t)n + 1, sizeof(*names));
    const char **holders = xcalloc((size_t)n + 1, sizeof(*holders));
    char **copies = xcalloc((size_t)n + 1, sizeof(*copies));
    int k = 0;
    for (int i = 0; i < n; i++) {
        const redisReply *key = reply->element[2 * i], *val = reply->element[2 * i + 1];
        if (key->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING ||
            key->len < h->plen)
            continue;
        size_t len = strcspn(val->str, " ");
        copies[k] = xmalloc(len + 1);
        memcpy(copies[k], val->str, len);
        copies[k][len] = 0;
        names[k] = key->str + h->plen;
        holders[k] = copies[k];
        k++;
    }
    h->fn(h->arg, names, holders, k, NULL);
    for (int i = 0; i < k; i++)
        free(copies[i]);
    free(copies);
    free(names);
    free(holders);
    free(h);
}

void shared_holders(struct shared *s, const char *pattern, shared_holders_fn *fn, void *arg)
{
    struct holders_req *h = xcalloc(1, sizeof(*h));
    h->fn = fn;
    h->arg = arg;
    h->plen = strlen(s->prefix);
    char match[300];
    snprintf(match, sizeof(match), "%s%s", s->prefix, pattern);
    redis_cmdf(s->cmd, holders_cb, h, "EVAL %s 0 %s", holders_lua, match);
}

struct shared_get {
    struct redis_cmd *cmd;
    shared_value_fn *fn;
    void *arg;
};

static void value_cb(void *arg, struct redisReply *reply, const char *err)
{
    struct shared_get *g = arg;
    if (!err && reply->type == REDIS_REPLY_ERROR)
        err = reply->str;
    g->fn(g->arg, !err && reply->type == REDIS_REPLY_STRING ? reply->str : NULL, err);
    free(g);
}

struct shared_get *shared_get(struct shared *s, const char *name, shared_value_fn *fn, void *arg)
{
    struct shared_get *g = xcalloc(1, sizeof(*g));
    g->fn = fn;
    g->arg = arg;
    g->cmd = redis_cmdf(s->cmd, value_cb, g, "GET %s%s", s->prefix, name);
    return g;
}

void shared_get_cancel(struct shared_get *g)
{
    if (!g)
        return;
    redis_cancel(g->cmd);
    free(g);
}

void shared_set(struct shared *s, const char *name, const char *value, long ttl_s)
{
    redis_cmdf(s->cmd, logged_cb, NULL, "SET %s%s %s EX %ld", s->prefix, name, value, ttl_s);
}

void shared_on_health(struct shared *s, shared_health_fn *fn, void *arg)
{
    s->on_health = fn;
    s->health_arg = arg;
}

void shared_tell(struct shared *s, const char *key, int outcome, const char *reason)
{
    char msg[600];
    snprintf(msg, sizeof(msg), "health %s %s %d %.400s", s->replica, key, outcome,
             reason ? reason : "");
    /* The news, and the last of it per account for whoever looks (an hour). */
    redis_cmdf(s->cmd, logged_cb, NULL, "PUBLISH %s %s", s->channel, msg);
    redis_cmdf(s->cmd, logged_cb, NULL, "SET %shealth:%s %s EX 3600", s->prefix, key, msg + 7);
}
