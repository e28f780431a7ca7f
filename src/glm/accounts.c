#include "glm/accounts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "util/crypto.h"
#include "util/jstr.h"
#include "util/strmap.h"
#include "util/xalloc.h"

#define COOL_BASE_MS 2000L
#define COOL_BUSY_BASE_MS 1000L
#define COOL_MAX_MS (5 * 60 * 1000L)

struct account {
    char *token;
    char fp[7];
    int configured;
    enum account_state state;
    char reason[160];
    long long since;          /* wall seconds of the last state change */
    long long cool_until_ms;  /* monotonic */
    int backoff;              /* consecutive failures */
    int leased;
    unsigned long long last_seq; /* order of the last lease (or of creation) */
    long long last_used_wall;
    unsigned long successes, failures;
    unsigned refs;
    struct strmap_node by_token;
    struct account *next;
};

struct account_wait {
    struct account_pool *pool;
    struct account **cands;
    size_t n;
    struct account **tried;
    size_t ntried;
    lease_fn *fn;
    void *arg;
    long long deadline_ms;
    struct account_wait *prev, *next;
};

struct account_pool {
    struct event_base *base;
    struct account *accounts;
    struct strmap index;       /* accounts by token */
    size_t count;
    size_t busy;
    struct account_wait *head, *tail;
    size_t queued;
    size_t queue_max;
    long queue_wait_ms;
    struct event *timer;
    struct event *pump_soon;   /* serves the queue from the loop, not from a caller */
    int pumping, repump;
    unsigned long long seq;
};

static long long now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pump(struct account_pool *p);

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

struct account_pool *accounts_new(struct event_base *base, size_t queue_max, long queue_wait_ms)
{
    struct account_pool *p = xcalloc(1, sizeof(*p));
    p->base = base;
    p->queue_max = queue_max;
    p->queue_wait_ms = queue_wait_ms;
    p->timer = evtimer_new(base, timer_cb, p);
    p->pump_soon = event_new(base, -1, 0, timer_cb, p);
    return p;
}

static void wait_free(struct account_wait *w)
{
    free(w->cands);
    free(w->tried);
    free(w);
}

static void unlink_wait(struct account_pool *p, struct account_wait *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        p->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        p->tail = w->prev;
    p->queued--;
}

void accounts_free(struct account_pool *p)
{
    if (!p)
        return;
    while (p->head) {
        struct account_wait *w = p->head;
        unlink_wait(p, w);
        wait_free(w);
    }
    while (p->accounts) {
        struct account *a = p->accounts;
        p->accounts = a->next;
        free(a->token);
        free(a);
    }
    strmap_free(&p->index);
    event_free(p->timer);
    event_free(p->pump_soon);
    free(p);
}

struct account *accounts_find(struct account_pool *p, const char *token)
{
    struct strmap_node *n = strmap_get(&p->index, token);
    return n ? STRMAP_ENTRY(n, struct account, by_token) : NULL;
}

static void evict_one(struct account_pool *p)
{
    struct account **victim = NULL;
    for (struct account **pp = &p->accounts; *pp; pp = &(*pp)->next) {
        struct account *a = *pp;
        if (a->refs || a->configured || a->leased)
            continue;
        if (!victim || a->last_seq < (*victim)->last_seq)
            victim = pp;
    }
    if (!victim)
        return;
    struct account *a = *victim;
    *victim = a->next;
    strmap_del(&p->index, &a->by_token);
    p->count--;
    free(a->token);
    free(a);
}

void accounts_unref(struct account_pool *p, struct account *a)
{
    (void)p;
    if (a && a->refs)
        a->refs--;
}

struct account *accounts_get(struct account_pool *p, const char *token, int configured)
{
    struct account *a = accounts_find(p, token);
    if (a) {
        a->configured |= configured;
        a->refs++;
        return a;
    }
    if (p->count >= ACCOUNTS_MAX)
        evict_one(p);
    a = xcalloc(1, sizeof(*a));
    a->refs = 1;
    a->last_seq = ++p->seq; /* newcomers count as used now: evicted last */
    a->token = xstrdup(token);
    crypto_fingerprint(token, a->fp);
    a->configured = configured;
    a->since = time(NULL);
    snprintf(a->reason, sizeof(a->reason), "new");
    a->next = p->accounts;
    p->accounts = a;
    strmap_put(&p->index, &a->by_token, a->token);
    p->count++;
    return a;
}

static int in_list(struct account *a, struct account *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == a)
            return 1;
    return 0;
}

/* A cooling account whose back-off has passed is ok again. */
static void refresh_state(struct account *a, long long now)
{
    if (a->state == ACCOUNT_COOLING && now >= a->cool_until_ms) {
        a->state = ACCOUNT_OK;
        a->since = time(NULL);
    }
}

enum pick { PICK_FOUND, PICK_WAIT, PICK_DEAD, PICK_NONE };

/* The least recently used usable account; else why none. */
static enum pick pick(struct account *const *cands, size_t n, struct account *const *tried,
                      size_t ntried, struct account **out)
{
    long long now = now_ms();
    struct account *best = NULL;
    int waitable = 0, left = 0;
    for (size_t i = 0; i < n; i++) {
        struct account *a = cands[i];
        if (in_list(a, tried, ntried) || in_list(a, cands, i)) /* tried, or a duplicate */
            continue;
        left++;
        refresh_state(a, now);
        if (a->state == ACCOUNT_DEAD)
            continue;
        if (a->leased || a->state == ACCOUNT_COOLING) {
            waitable = 1;
            continue;
        }
        if (!best || a->last_seq < best->last_seq)
            best = a;
    }
    if (best) {
        *out = best;
        return PICK_FOUND;
    }
    if (waitable)
        return PICK_WAIT;
    return left ? PICK_DEAD : PICK_NONE;
}

static void grant(struct account_pool *p, struct account *a)
{
    a->leased = 1;
    a->last_seq = ++p->seq;
    a->last_used_wall = time(NULL);
    p->busy++;
}

/* Arms the timer for the next queue deadline or cooling expiry. */
static void arm_timer(struct account_pool *p)
{
    long long next = -1, now = now_ms();
    for (struct account_wait *w = p->head; w; w = w->next) {
        if (next < 0 || w->deadline_ms < next)
            next = w->deadline_ms;
        for (size_t i = 0; i < w->n; i++) {
            struct account *a = w->cands[i];
            if (a->state == ACCOUNT_COOLING && !a->leased && (next < 0 || a->cool_until_ms < next))
                next = a->cool_until_ms;
        }
    }
    if (next < 0) {
        evtimer_del(p->timer);
        return;
    }
    long long d = next - now;
    if (d < 1)
        d = 1;
    struct timeval tv = { d / 1000, (d % 1000) * 1000 };
    evtimer_add(p->timer, &tv);
}

/* Serves the queue in FIFO order. Callbacks may lease or release again: a
 * call made while pumping just asks for another round. */
static void pump(struct account_pool *p)
{
    if (p->pumping) {
        p->repump = 1;
        return;
    }
    p->pumping = 1;
    do {
        p->repump = 0;
        long long now = now_ms();
        struct account_wait *w = p->head;
        while (w) {
            struct account_wait *next = w->next;
            struct account *a = NULL;
            enum pick r = pick(w->cands, w->n, w->tried, w->ntried, &a);
            enum lease_error err = LEASE_OK;
            if (r == PICK_FOUND)
                grant(p, a);
            else if (r == PICK_DEAD)
                err = w->ntried ? LEASE_EXHAUSTED : LEASE_ALL_DEAD;
            else if (r == PICK_NONE)
                err = LEASE_EXHAUSTED;
            else if (now >= w->deadline_ms)
                err = LEASE_TIMEOUT;
            else {
                w = next;
                continue;
            }
            unlink_wait(p, w);
            lease_fn *fn = w->fn;
            void *arg = w->arg;
            wait_free(w);
            fn(arg, err == LEASE_OK ? a : NULL, err);
            /* The callback may have changed the queue: start over. */
            p->repump = 1;
            break;
        }
    } while (p->repump);
    p->pumping = 0;
    arm_timer(p);
}

struct account_wait *accounts_lease(struct account_pool *p, struct account *const *cands,
                                    size_t n, struct account *const *tried, size_t ntried,
                                    lease_fn *fn, void *arg)
{
    struct account *a = NULL;
    /* Waiters queued earlier go first: only pick now when nobody waits. */
    enum pick r = pick(cands, n, tried, ntried, &a);
    if (r == PICK_FOUND && !p->head) {
        grant(p, a);
        fn(arg, a, LEASE_OK);
        return NULL;
    }
    if (r == PICK_DEAD || r == PICK_NONE) {
        fn(arg, NULL, r == PICK_NONE || ntried ? LEASE_EXHAUSTED : LEASE_ALL_DEAD);
        return NULL;
    }
    if (p->queued >= p->queue_max) {
        fn(arg, NULL, LEASE_QUEUE_FULL);
        return NULL;
    }
    struct account_wait *w = xcalloc(1, sizeof(*w));
    w->pool = p;
    w->cands = xmalloc((n ? n : 1) * sizeof(*w->cands));
    memcpy(w->cands, cands, n * sizeof(*cands));
    w->n = n;
    w->tried = xmalloc((ntried ? ntried : 1) * sizeof(*w->tried));
    if (ntried)
        memcpy(w->tried, tried, ntried * sizeof(*tried));
    w->ntried = ntried;
    w->fn = fn;
    w->arg = arg;
    w->deadline_ms = now_ms() + p->queue_wait_ms;
    w->prev = p->tail;
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->queued++;
    if (r == PICK_FOUND)
        /* Free now, but behind earlier waiters. Not pumped here: the grant
         * could serve and free w before the caller has stored it. */
        event_active(p->pump_soon, EV_TIMEOUT, 0);
    else
        arm_timer(p);
    return w;
}

void accounts_wait_cancel(struct account_wait *w)
{
    if (!w)
        return;
    struct account_pool *p = w->pool;
    unlink_wait(p, w);
    wait_free(w);
    arm_timer(p);
}

static long jitter(long ms)
{
    /* +-25 % so that accounts cooling together do not come back together. */
    long spread = ms / 2;
    return ms - ms / 4 + (spread ? (long)(crypto_random_u64() % (unsigned long)spread) : 0);
}

void accounts_note(struct account_pool *p, struct account *a, enum account_outcome o,
                   const char *reason)
{
    (void)p;
    long long wall = time(NULL);
    switch (o) {
    case ACCOUNT_NEUTRAL:
        return;
    case ACCOUNT_DONE:
        a->successes++;
        a->backoff = 0;
        if (a->state != ACCOUNT_OK) {
            a->state = ACCOUNT_OK;
            a->since = wall;
        }
        snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "ok");
        return;
    case ACCOUNT_BUSY:
    case ACCOUNT_TRANSIENT: {
        a->failures++;
        long base = o == ACCOUNT_BUSY ? COOL_BUSY_BASE_MS : COOL_BASE_MS;
        long ms = base << (a->backoff < 8 ? a->backoff : 8);
        if (ms > COOL_MAX_MS)
            ms = COOL_MAX_MS;
        a->backoff++;
        a->state = ACCOUNT_COOLING;
        a->cool_until_ms = now_ms() + jitter(ms);
        a->since = wall;
        snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "failure");
        LOG(LOG_INFO, "account %s cooling for %.1f s: %s", a->fp,
            (double)(a->cool_until_ms - now_ms()) / 1000.0, a->reason);
        return;
    }
    case ACCOUNT_REJECTED:
        a->failures++;
        a->state = ACCOUNT_DEAD;
        a->since = wall;
        snprintf(a->reason, sizeof(a->reason), "%s",
                 reason ? reason : "refresh token rejected");
        LOG(LOG_WARN, "account %s is dead: %s", a->fp, a->reason);
        return;
    }
}

void accounts_release(struct account_pool *p, struct account *a, enum account_outcome o,
                      const char *reason)
{
    if (a->leased) {
        a->leased = 0;
        p->busy--;
    }
    accounts_note(p, a, o, reason);
    pump(p);
}

const char *account_token(const struct account *a)
{
    return a->token;
}

const char *account_fp(const struct account *a)
{
    return a->fp;
}

enum account_state account_state(const struct account *a)
{
    if (a->state == ACCOUNT_COOLING && now_ms() >= a->cool_until_ms)
        return ACCOUNT_OK;
    return a->state;
}

const char *account_state_name(enum account_state s)
{
    return s == ACCOUNT_OK ? "ok" : s == ACCOUNT_COOLING ? "cooling" : "dead";
}

int account_configured(const struct account *a)
{
    return a->configured;
}

size_t accounts_queue_len(const struct account_pool *p)
{
    return p->queued;
}

size_t accounts_count(const struct account_pool *p)
{
    return p->count;
}

size_t accounts_busy(const struct account_pool *p)
{
    return p->busy;
}

long accounts_retry_after(const struct account_pool *p)
{
    long s = (long)(p->queue_wait_ms / 1000 / 4);
    return s < 1 ? 1 : s;
}

int accounts_json(const struct account_pool *p, struct buf *out)
{
    int rc = buf_puts(out, "{\"object\":\"list\",\"data\":[");
    for (struct account *a = p->accounts; a && rc == 0; a = a->next) {
        enum account_state st = account_state(a);
        rc = buf_printf(out, "%s{\"id\":\"%s\",\"state\":\"%s\",\"reason\":", a == p->accounts ? "" : ",",
                        a->fp, account_state_name(st));
        if (rc == 0)
            rc = json_append_string(out, a->reason, strlen(a->reason));
        if (rc == 0)
            rc = buf_printf(out,
                            ",\"since\":%lld,\"in_flight\":%d,\"last_used\":%lld,\"successes\":%lu,"
                            "\"failures\":%lu,\"configured\":%s}",
                            a->since, a->leased, a->last_used_wall, a->successes, a->failures,
                            a->configured ? "true" : "false");
    }
    if (rc == 0)
        rc = buf_puts(out, "]}");
    return rc;
}
