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
#define COOL_MAX_MS (5 * 60 * 1000L)
#define BUSY_COOL_MAX_MS (60 * 1000L)

/* One account in one set. A set's list holds its usable accounts (ok, or
 * dead with the re-check due), leased or not, in the order of their last
 * lease: the head was leased longest ago. */
struct member {
    struct account *a;
    struct account_set *set;
    struct member *prev, *next;     /* in set->head..tail while a->listed */
    struct member *aprev, *anext;   /* a->members */
};

struct account_set {
    struct member *m;
    size_t n;
    struct member *head, *tail;
    size_t nidle;                   /* listed and not leased */
    unsigned refs;
    struct account_set *prev, *next; /* p->sets */
};

struct account {
    char *token;
    char fp[7];
    int configured;
    enum account_state state;
    char reason[160];
    const char *cause;
    long long since;          /* wall seconds of the last state change */
    long long wake_ms;        /* monotonic: cooling ends, or the dead re-check is due */
    size_t heap_i;            /* 1 + index in p->heap; 0 when not there */
    int recheck;              /* dead, but due for one more try */
    int listed;               /* in the lists of its sets */
    int backoff;              /* consecutive transient failures */
    int leased;
    unsigned mark;
    unsigned long long last_seq; /* order of the last lease (or of creation) */
    long long last_used_wall;
    unsigned long successes, failures;
    unsigned refs;
    struct member *members;
    struct strmap_node by_token;
    struct account *prev, *next;
};

struct account_wait {
    struct account_pool *pool;
    struct account_set *set;
    struct account **tried;
    size_t ntried;
    lease_fn *fn;
    void *arg;
    long long deadline_ms;
    unsigned long gen;        /* p->gen when the set was last looked at whole */
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
    long busy_cool_ms;
    long dead_recheck_ms;
    struct event *timer;
    struct event *pump_soon;   /* serves the queue from the loop, not from a caller */
    int pumping, repump;
    unsigned long long seq;
    unsigned mark;
    unsigned long gen;         /* bumped when an account cools or dies */
    struct account **heap;    /* cooling and dead accounts by wake_ms */
    size_t nheap, heapcap;
    struct account_set *sets;
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
    p->busy_cool_ms = ACCOUNTS_BUSY_COOL_MS;
    p->dead_recheck_ms = ACCOUNTS_DEAD_RECHECK_MS;
    p->timer = evtimer_new(base, timer_cb, p);
    p->pump_soon = event_new(base, -1, 0, timer_cb, p);
    return p;
}

void accounts_configure(struct account_pool *p, long busy_cool_ms, long dead_recheck_ms)
{
    if (busy_cool_ms > 0)
        p->busy_cool_ms = busy_cool_ms < BUSY_COOL_MAX_MS ? busy_cool_ms : BUSY_COOL_MAX_MS;
    if (dead_recheck_ms > 0)
        p->dead_recheck_ms = dead_recheck_ms;
}

/* ---- the wake heap: cooling and dead accounts by wake_ms ----------------- */

static void heap_set(struct account_pool *p, size_t i, struct account *a)
{
    p->heap[i] = a;
    a->heap_i = i + 1;
}

static void heap_up(struct account_pool *p, size_t i)
{
    struct account *a = p->heap[i];
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (p->heap[up]->wake_ms <= a->wake_ms)
            break;
        heap_set(p, i, p->heap[up]);
        i = up;
    }
    heap_set(p, i, a);
}

static void heap_down(struct account_pool *p, size_t i)
{
    struct account *a = p->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= p->nheap)
            break;
        if (c + 1 < p->nheap && p->heap[c + 1]->wake_ms < p->heap[c]->wake_ms)
            c++;
        if (p->heap[c]->wake_ms >= a->wake_ms)
            break;
        heap_set(p, i, p->heap[c]);
        i = c;
    }
    heap_set(p, i, a);
}

static void heap_remove(struct account_pool *p, struct account *a)
{
    if (!a->heap_i)
        return;
    size_t i = a->heap_i - 1;
    a->heap_i = 0;
    struct account *last = p->heap[--p->nheap];
    if (i == p->nheap)
        return;
    p->heap[i] = last;
    last->heap_i = i + 1;
    heap_up(p, i);
    heap_down(p, last->heap_i - 1);
}

static void heap_put(struct account_pool *p, struct account *a, long long wake_ms)
{
    heap_remove(p, a);
    a->wake_ms = wake_ms;
    if (p->nheap == p->heapcap) {
        p->heapcap = p->heapcap ? p->heapcap * 2 : 16;
        p->heap = xrealloc(p->heap, p->heapcap * sizeof(*p->heap));
    }
    heap_set(p, p->nheap++, a);
    heap_up(p, p->nheap - 1);
}

/* ---- set lists ------------------------------------------------------------ */

static void member_link_tail(struct member *m)
{
    struct account_set *s = m->set;
    m->next = NULL;
    m->prev = s->tail;
    if (s->tail)
        s->tail->next = m;
    else
        s->head = m;
    s->tail = m;
}

static void member_unlink(struct member *m)
{
    struct account_set *s = m->set;
    if (m->prev)
        m->prev->next = m->next;
    else
        s->head = m->next;
    if (m->next)
        m->next->prev = m->prev;
    else
        s->tail = m->prev;
    m->prev = m->next = NULL;
}

/* Puts a into the lists of its sets (at the tail) or takes it out. */
static void set_listed(struct account *a, int on)
{
    if (a->listed == on)
        return;
    a->listed = on;
    for (struct member *m = a->members; m; m = m->anext) {
        if (on)
            member_link_tail(m);
        else
            member_unlink(m);
        if (!a->leased) {
            if (on)
                m->set->nidle++;
            else
                m->set->nidle--;
        }
    }
}

/* ---- accounts ------------------------------------------------------------- */

static void account_forget(struct account_pool *p, struct account *a)
{
    heap_remove(p, a);
    if (a->prev)
        a->prev->next = a->next;
    else
        p->accounts = a->next;
    if (a->next)
        a->next->prev = a->prev;
    strmap_del(&p->index, &a->by_token);
    p->count--;
    free(a->token);
    free(a);
}

/* Cooling accounts whose time is over are ok again; dead ones whose
 * re-check is due may be leased once more, or are forgotten when nothing
 * references them. */
static void wake(struct account_pool *p)
{
    if (!p->nheap || p->heap[0]->wake_ms > now_ms())
        return;
    long long now = now_ms();
    while (p->nheap && p->heap[0]->wake_ms <= now) {
        struct account *a = p->heap[0];
        heap_remove(p, a);
        if (a->state == ACCOUNT_COOLING) {
            a->state = ACCOUNT_OK;
            a->since = time(NULL);
        } else if (a->state == ACCOUNT_DEAD) {
            if (!a->refs && !a->configured && !a->leased && !a->members) {
                account_forget(p, a);
                continue;
            }
            a->recheck = 1;
        }
        set_listed(a, 1);
    }
}

struct account *accounts_find(struct account_pool *p, const char *token)
{
    struct strmap_node *n = strmap_get(&p->index, token);
    return n ? STRMAP_ENTRY(n, struct account, by_token) : NULL;
}

/* Only past ACCOUNTS_MAX accounts (strangers' tokens): a walk of the pool. */
static void evict_one(struct account_pool *p)
{
    struct account *victim = NULL;
    for (struct account *a = p->accounts; a; a = a->next) {
        if (a->refs || a->configured || a->leased || a->members)
            continue;
        if (!victim || a->last_seq < victim->last_seq)
            victim = a;
    }
    if (victim)
        account_forget(p, victim);
}

void accounts_unref(struct account_pool *p, struct account *a)
{
    if (!a || !a->refs)
        return;
    a->refs--;
    /* A dead stranger past its re-check time is forgotten with its last user. */
    if (!a->refs && a->state == ACCOUNT_DEAD && a->recheck && !a->configured && !a->leased &&
        !a->members)
        account_forget(p, a);
}

struct account *accounts_get(struct account_pool *p, const char *token, int configured)
{
    wake(p);
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
    a->listed = 1; /* in no set yet */
    a->cause = "new";
    snprintf(a->reason, sizeof(a->reason), "new");
    a->next = p->accounts;
    if (a->next)
        a->next->prev = a;
    p->accounts = a;
    strmap_put(&p->index, &a->by_token, a->token);
    p->count++;
    return a;
}

/* ---- account sets --------------------------------------------------------- */

static int by_last_seq(const void *x, const void *y)
{
    const struct member *a = *(struct member *const *)x, *b = *(struct member *const *)y;
    return a->a->last_seq < b->a->last_seq ? -1 : a->a->last_seq > b->a->last_seq;
}

struct account_set *accounts_set_new(struct account_pool *p, struct account *const *v, size_t n)
{
    struct account_set *s = xcalloc(1, sizeof(*s));
    s->refs = 1;
    s->m = xcalloc(n ? n : 1, sizeof(*s->m));
    unsigned mark = ++p->mark;
    for (size_t i = 0; i < n; i++) {
        struct account *a = v[i];
        if (a->mark == mark) /* given twice */
            continue;
        a->mark = mark;
        a->refs++;
        struct member *m = &s->m[s->n++];
        m->a = a;
        m->set = s;
        m->anext = a->members;
        if (a->members)
            a->members->aprev = m;
        a->members = m;
    }
    /* The list in lease order. */
    struct member **order = xmalloc((s->n ? s->n : 1) * sizeof(*order));
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].a->listed)
            order[k++] = &s->m[i];
    qsort(order, k, sizeof(*order), by_last_seq);
    for (size_t i = 0; i < k; i++) {
        member_link_tail(order[i]);
        if (!order[i]->a->leased)
            s->nidle++;
    }
    free(order);
    s->next = p->sets;
    if (s->next)
        s->next->prev = s;
    p->sets = s;
    return s;
}

void accounts_set_ref(struct account_set *s)
{
    s->refs++;
}

static void set_free(struct account_pool *p, struct account_set *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        p->sets = s->next;
    if (s->next)
        s->next->prev = s->prev;
    for (size_t i = 0; i < s->n; i++) {
        struct member *m = &s->m[i];
        struct account *a = m->a;
        if (m->aprev)
            m->aprev->anext = m->anext;
        else
            a->members = m->anext;
        if (m->anext)
            m->anext->aprev = m->aprev;
    }
    for (size_t i = 0; i < s->n; i++)
        accounts_unref(p, s->m[i].a);
    free(s->m);
    free(s);
}

void accounts_set_unref(struct account_pool *p, struct account_set *s)
{
    if (s && --s->refs == 0)
        set_free(p, s);
}

size_t accounts_set_size(const struct account_set *s)
{
    return s->n;
}

struct account *accounts_set_at(const struct account_set *s, size_t i)
{
    return i < s->n ? s->m[i].a : NULL;
}

/* ---- picking -------------------------------------------------------------- */

static int in_list(struct account *a, struct account *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == a)
            return 1;
    return 0;
}

/* The least recently leased usable account of s not leased and not tried:
 * the walk passes only accounts leased (or tried) since that one. */
static struct account *pick_idle(const struct account_set *s, struct account *const *tried,
                                 size_t ntried)
{
    if (!s->nidle)
        return NULL;
    for (struct member *m = s->head; m; m = m->next)
        if (!m->a->leased && !in_list(m->a, tried, ntried))
            return m->a;
    return NULL;
}

struct account *accounts_set_idle_head(struct account_pool *p, const struct account_set *s)
{
    wake(p);
    return pick_idle(s, NULL, 0);
}

enum pick { PICK_FOUND, PICK_WAIT, PICK_COOLING, PICK_DEAD, PICK_NONE };

/* Why nothing is free (a walk of the set): waiting helps while an account
 * is leased or cools until deadline_ms. */
static enum pick why_none(const struct account_set *s, struct account *const *tried,
                          size_t ntried, long long deadline_ms)
{
    int left = 0, leased = 0, cooling = 0;
    long long soonest = -1;
    for (size_t i = 0; i < s->n; i++) {
        struct account *a = s->m[i].a;
        if (in_list(a, tried, ntried))
            continue;
        left++;
        if (a->leased) {
            leased = 1;
        } else if (a->state == ACCOUNT_COOLING) {
            cooling = 1;
            if (soonest < 0 || a->wake_ms < soonest)
                soonest = a->wake_ms;
        }
    }
    if (leased)
        return PICK_WAIT;
    if (cooling)
        return soonest > deadline_ms ? PICK_COOLING : PICK_WAIT;
    return left ? PICK_DEAD : PICK_NONE;
}

static void grant(struct account_pool *p, struct account *a)
{
    a->leased = 1;
    a->last_seq = ++p->seq;
    a->last_used_wall = time(NULL);
    if (a->listed)
        for (struct member *m = a->members; m; m = m->anext) {
            member_unlink(m);
            member_link_tail(m);
            m->set->nidle--;
        }
    p->busy++;
}

static enum lease_error pick_error(enum pick r, size_t ntried)
{
    switch (r) {
    case PICK_DEAD:
        return ntried ? LEASE_EXHAUSTED : LEASE_ALL_DEAD;
    case PICK_NONE:
        return LEASE_EXHAUSTED;
    case PICK_COOLING:
        return LEASE_COOLING;
    default:
        return LEASE_OK;
    }
}

/* Arms the timer for the next queue deadline (the head's: every wait is
 * as long) or wake-up. */
static void arm_timer(struct account_pool *p)
{
    if (!p->head) {
        evtimer_del(p->timer);
        return;
    }
    long long next = p->head->deadline_ms;
    if (p->nheap && p->heap[0]->wake_ms < next)
        next = p->heap[0]->wake_ms;
    long long d = next - now_ms();
    if (d < 1)
        d = 1;
    struct timeval tv = { d / 1000, (d % 1000) * 1000 };
    evtimer_add(p->timer, &tv);
}

static void wait_free(struct account_pool *p, struct account_wait *w)
{
    accounts_set_unref(p, w->set);
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

/* Serves the queue in FIFO order. Callbacks may lease or release again: a
 * call made while pumping just asks for another round. A waiter looks at
 * its whole set only when an account cooled or died since it last did. */
static void pump(struct account_pool *p)
{
    if (p->pumping) {
        p->repump = 1;
        return;
    }
    p->pumping = 1;
    do {
        p->repump = 0;
        wake(p);
        long long now = now_ms();
        struct account_wait *w = p->head;
        while (w) {
            struct account_wait *next = w->next;
            struct account *a = pick_idle(w->set, w->tried, w->ntried);
            enum lease_error err = LEASE_OK;
            if (a) {
                grant(p, a);
            } else {
                enum pick r = PICK_WAIT;
                if (w->gen != p->gen) {
                    w->gen = p->gen;
                    r = why_none(w->set, w->tried, w->ntried, w->deadline_ms);
                }
                if (r != PICK_WAIT)
                    err = pick_error(r, w->ntried);
                else if (now >= w->deadline_ms)
                    err = LEASE_TIMEOUT;
                else {
                    w = next;
                    continue;
                }
            }
            unlink_wait(p, w);
            lease_fn *fn = w->fn;
            void *arg = w->arg;
            wait_free(p, w);
            fn(arg, err == LEASE_OK ? a : NULL, err);
            /* The callback may have changed the queue: start over. */
            p->repump = 1;
            break;
        }
    } while (p->repump);
    p->pumping = 0;
    arm_timer(p);
}

struct account_wait *accounts_lease_set(struct account_pool *p, struct account_set *s,
                                        struct account *const *tried, size_t ntried,
                                        lease_fn *fn, void *arg)
{
    wake(p);
    long long deadline = now_ms() + p->queue_wait_ms;
    struct account *a = pick_idle(s, tried, ntried);
    /* Waiters queued earlier go first: only pick now when nobody waits. */
    if (a && !p->head) {
        grant(p, a);
        fn(arg, a, LEASE_OK);
        return NULL;
    }
    if (!a) {
        enum pick r = why_none(s, tried, ntried, deadline);
        if (r != PICK_WAIT) {
            fn(arg, NULL, pick_error(r, ntried));
            return NULL;
        }
    }
    if (p->queued >= p->queue_max) {
        fn(arg, NULL, LEASE_QUEUE_FULL);
        return NULL;
    }
    struct account_wait *w = xcalloc(1, sizeof(*w));
    w->pool = p;
    w->set = s;
    accounts_set_ref(s);
    w->tried = xmalloc((ntried ? ntried : 1) * sizeof(*w->tried));
    if (ntried)
        memcpy(w->tried, tried, ntried * sizeof(*tried));
    w->ntried = ntried;
    w->fn = fn;
    w->arg = arg;
    w->deadline_ms = deadline;
    w->gen = p->gen;
    w->prev = p->tail;
    if (p->tail)
        p->tail->next = w;
    else
        p->head = w;
    p->tail = w;
    p->queued++;
    if (a)
        /* Free now, but behind earlier waiters. Not pumped here: the grant
         * could serve and free w before the caller has stored it. */
        event_active(p->pump_soon, EV_TIMEOUT, 0);
    else
        arm_timer(p);
    return w;
}

struct account_wait *accounts_lease(struct account_pool *p, struct account *const *cands,
                                    size_t n, struct account *const *tried, size_t ntried,
                                    lease_fn *fn, void *arg)
{
    struct account_set *s = accounts_set_new(p, cands, n);
    struct account_wait *w = accounts_lease_set(p, s, tried, ntried, fn, arg);
    accounts_set_unref(p, s);
    return w;
}

void accounts_free(struct account_pool *p)
{
    if (!p)
        return;
    while (p->head) {
        struct account_wait *w = p->head;
        unlink_wait(p, w);
        wait_free(p, w);
    }
    while (p->sets)
        set_free(p, p->sets);
    while (p->accounts) {
        struct account *a = p->accounts;
        p->accounts = a->next;
        free(a->token);
        free(a);
    }
    free(p->heap);
    strmap_free(&p->index);
    event_free(p->timer);
    event_free(p->pump_soon);
    free(p);
}

void accounts_wait_cancel(struct account_wait *w)
{
    if (!w)
        return;
    struct account_pool *p = w->pool;
    unlink_wait(p, w);
    wait_free(p, w);
    arm_timer(p);
}

/* ---- what was learnt ------------------------------------------------------ */

static long jitter(long ms)
{
    /* +-25 % so that accounts cooling together do not come back together. */
    long spread = ms / 2;
    return ms - ms / 4 + (spread ? (long)(crypto_random_u64() % (unsigned long)spread) : 0);
}

static void cool(struct account_pool *p, struct account *a, long ms, const char *cause,
                 const char *reason)
{
    a->failures++;
    a->state = ACCOUNT_COOLING;
    a->recheck = 0;
    a->since = time(NULL);
    a->cause = cause;
    snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "failure");
    set_listed(a, 0);
    heap_put(p, a, now_ms() + ms);
    p->gen++;
    LOG(LOG_INFO, "account %s cooling for %.1f s: %s", a->fp, (double)ms / 1000.0, a->reason);
}

void accounts_note(struct account_pool *p, struct account *a, enum account_outcome o,
                   const char *reason)
{
    switch (o) {
    case ACCOUNT_NEUTRAL:
        return;
    case ACCOUNT_DONE:
        a->successes++;
        a->backoff = 0;
        if (a->state != ACCOUNT_OK) {
            a->state = ACCOUNT_OK;
            a->since = time(NULL);
        }
        a->recheck = 0;
        a->cause = "ok";
        heap_remove(p, a);
        set_listed(a, 1);
        snprintf(a->reason, sizeof(a->reason), "%s", reason ? reason : "ok");
        return;
    case ACCOUNT_BUSY:
        /* Another generation runs on the account: it ends in seconds. */
        cool(p, a, p->busy_cool_ms, "busy", reason);
        return;
    case ACCOUNT_TRANSIENT:
    case ACCOUNT_REFUSED: {
        long ms = COOL_BASE_MS << (a->backoff < 8 ? a->backoff : 8);
        if (ms > COOL_MAX_MS)
            ms = COOL_MAX_MS;
        a->backoff++;
        cool(p, a, jitter(ms), o == ACCOUNT_REFUSED ? "refused" : "transient", reason);
        return;
    }
    case ACCOUNT_REJECTED:
        a->failures++;
        a->state = ACCOUNT_DEAD;
        a->recheck = 0;
        a->since = time(NULL);
        a->cause = "rejected";
        snprintf(a->reason, sizeof(a->reason), "%s",
                 reason ? reason : "refresh token rejected");
        set_listed(a, 0);
        heap_put(p, a, now_ms() + p->dead_recheck_ms);
        p->gen++;
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
        if (a->listed)
            for (struct member *m = a->members; m; m = m->anext)
                m->set->nidle++;
    }
    accounts_note(p, a, o, reason);
    pump(p);
}

/* ---- reading -------------------------------------------------------------- */

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
    if (a->state == ACCOUNT_COOLING && now_ms() >= a->wake_ms)
        return ACCOUNT_OK;
    return a->state;
}

const char *account_state_name(enum account_state s)
{
    return s == ACCOUNT_OK ? "ok" : s == ACCOUNT_COOLING ? "cooling" : "dead";
}

double account_cooling_left(const struct account *a)
{
    if (a->state != ACCOUNT_COOLING)
        return 0;
    long long left = a->wake_ms - now_ms();
    return left > 0 ? (double)left / 1000.0 : 0;
}

const char *account_cause(const struct account *a)
{
    return a->cause ? a->cause : "new";
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

long accounts_set_retry_after(const struct account_pool *p, const struct account_set *s)
{
    long long soonest = -1, now = now_ms();
    for (size_t i = 0; s && i < s->n; i++) {
        const struct account *a = s->m[i].a;
        if (a->state == ACCOUNT_COOLING && a->wake_ms > now && (soonest < 0 || a->wake_ms < soonest))
            soonest = a->wake_ms;
    }
    if (soonest < 0)
        return accounts_retry_after(p);
    long sec = (long)((soonest - now + 999) / 1000);
    return sec < 1 ? 1 : sec;
}

int accounts_json(const struct account_pool *p, struct buf *out)
{
    int rc = buf_puts(out, "{\"object\":\"list\",\"data\":[");
    long long now = now_ms();
    for (struct account *a = p->accounts; a && rc == 0; a = a->next) {
        enum account_state st = account_state(a);
        rc = buf_printf(out, "%s{\"id\":\"%s\",\"state\":\"%s\",\"reason\":", a == p->accounts ? "" : ",",
                        a->fp, account_state_name(st));
        if (rc == 0)
            rc = json_append_string(out, a->reason, strlen(a->reason));
        if (rc == 0)
            rc = buf_printf(out, ",\"cause\":\"%s\",\"cooling_left\":%.1f", account_cause(a),
                            st == ACCOUNT_COOLING ? account_cooling_left(a) : 0.0);
        if (rc == 0 && st == ACCOUNT_DEAD)
            rc = buf_printf(out, ",\"recheck_in\":%lld",
                            a->recheck || a->wake_ms <= now ? 0 : (a->wake_ms - now + 999) / 1000);
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
