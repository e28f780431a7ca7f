/* The account pool: chatglm.cn allows one generation per account at a time,
 * so an account is leased to one answer at a time. A request takes the
 * least recently used idle healthy account among those it may use (its
 * account set); when all are leased it waits in a bounded FIFO queue. Each
 * account is
 *   ok       usable;
 *   cooling  after 10061 (busy: a short fixed time, accounts_configure), a
 *            transient failure or a session the site refused although the
 *            refresh token is accepted (exponential back-off with jitter);
 *   dead     the refresh endpoint refused its refresh token. After the
 *            re-check time it may be leased once more (one refresh decides);
 *            a dead account nobody references is forgotten then.
 * A request whose every usable account cools for longer than the queue wait
 * is refused at once (LEASE_COOLING), not after waiting.
 *
 * Cost per request does not grow with the pool: each account set keeps its
 * accounts in lease order (cooling and dead ones out of it), so the pick is
 * the first one not leased, found within the accounts leased since it; grant,
 * release and waking a waiter touch only the sets the account is in. The
 * slow paths (why nothing is free, Retry-After, listing) walk the set. */
#ifndef GLM_ACCOUNTS_H
#define GLM_ACCOUNTS_H

#include <stddef.h>

#include "util/buf.h"

struct event_base;
struct account;
struct account_pool;
struct account_wait;

enum account_state { ACCOUNT_OK, ACCOUNT_COOLING, ACCOUNT_DEAD };

enum account_outcome {
    ACCOUNT_DONE,       /* an answer went through */
    ACCOUNT_NEUTRAL,    /* nothing learnt (cancelled, client left, a bad request) */
    ACCOUNT_BUSY,       /* 10061: another generation is running */
    ACCOUNT_TRANSIENT,  /* 40012, 5xx, network error, timeout */
    ACCOUNT_REJECTED,   /* the refresh endpoint refused the refresh token */
    ACCOUNT_REFUSED,    /* another call refused a fresh session (401 after a good refresh) */
};

enum lease_error {
    LEASE_OK,
    LEASE_ALL_DEAD,     /* every account the request may use is dead */
    LEASE_QUEUE_FULL,
    LEASE_TIMEOUT,      /* waited queue_wait_ms */
    LEASE_EXHAUSTED,    /* every usable account was already tried */
    LEASE_COOLING,      /* every usable account cools for longer than the queue wait */
};

/* a is the leased account when err is LEASE_OK, else NULL. */
typedef void lease_fn(void *arg, struct account *a, enum lease_error err);

struct account_pool *accounts_new(struct event_base *base, size_t queue_max, long queue_wait_ms);
/* Waiters still queued are dropped without a call; account sets still
 * referenced are freed too. */
void accounts_free(struct account_pool *p);
/* busy_cool_ms: how long 10061 cools an account; dead_recheck_ms: when a
 * dead account is tried again (or forgotten). Defaults 3 s and 30 min. */
#define ACCOUNTS_BUSY_COOL_MS 3000L
#define ACCOUNTS_DEAD_RECHECK_MS (30 * 60 * 1000L)
void accounts_configure(struct account_pool *p, long busy_cool_ms, long dead_recheck_ms);

/* Finds or creates the account of a refresh token (the token as the user
 * gave it) and takes a reference to it; accounts_unref gives it back. Past
 * ACCOUNTS_MAX accounts, unreferenced idle ones that are not configured are
 * forgotten, oldest first, so that strangers' tokens cannot grow the pool
 * without bound. */
#define ACCOUNTS_MAX 10000
struct account *accounts_get(struct account_pool *p, const char *token, int configured);
void accounts_unref(struct account_pool *p, struct account *a);

/* An account set: the accounts one request may use, each once, built once
 * (for the server-side accounts, for one Authorization list) and shared by
 * reference. It holds a reference to each account. */
struct account_set;
struct account_set *accounts_set_new(struct account_pool *p, struct account *const *v, size_t n);
void accounts_set_ref(struct account_set *s);
void accounts_set_unref(struct account_pool *p, struct account_set *s);
size_t accounts_set_size(const struct account_set *s);
struct account *accounts_set_at(const struct account_set *s, size_t i);
/* Seconds until the soonest cooling account of s is usable again (rounded
 * up, at least 1); without one, accounts_retry_after. */
long accounts_set_retry_after(const struct account_pool *p, const struct account_set *s);
/* The first account of s in lease order that is usable and not leased,
 * without leasing it (tests). */
struct account *accounts_set_idle_head(struct account_pool *p, const struct account_set *s);

/* Leases one of s that is not in tried[0..ntried). When one is free now, fn
 * is called before this returns and NULL is returned; otherwise the request
 * waits and the handle can cancel the wait. */
struct account_wait *accounts_lease_set(struct account_pool *p, struct account_set *s,
                                        struct account *const *tried, size_t ntried,
                                        lease_fn *fn, void *arg);
/* The same over cands[0..n) (a set made for this call). */
struct account_wait *accounts_lease(struct account_pool *p, struct account *const *cands,
                                    size_t n, struct account *const *tried, size_t ntried,
                                    lease_fn *fn, void *arg);
void accounts_wait_cancel(struct account_wait *w);
/* Ends a lease and records what was learnt. reason: short text, may be NULL. */
void accounts_release(struct account_pool *p, struct account *a, enum account_outcome o,
                      const char *reason);
/* Records health without a lease (e.g. a token check). */
void accounts_note(struct account_pool *p, struct account *a, enum account_outcome o,
                   const char *reason);

const char *account_token(const struct account *a);
const char *account_fp(const struct account *a);
enum account_state account_state(const struct account *a);
const char *account_state_name(enum account_state s);
/* Seconds of cooling left (0 unless cooling); a short word for the last
 * thing learnt ("new", "ok", "busy", "transient", "refused", "rejected"). */
double account_cooling_left(const struct account *a);
const char *account_cause(const struct account *a);
int account_configured(const struct account *a);
/* Finds an account without creating it. */
struct account *accounts_find(struct account_pool *p, const char *token);

size_t accounts_queue_len(const struct account_pool *p);
size_t accounts_count(const struct account_pool *p);
size_t accounts_busy(const struct account_pool *p);
/* {"object":"list","data":[{"id":fingerprint,"state","reason","cause",
 * "cooling_left","recheck_in" (dead only),"since","in_flight","last_used",
 * "successes","failures","configured"}...]}. */
int accounts_json(const struct account_pool *p, struct buf *out);
/* The seconds a queued request should wait before retrying (Retry-After). */
long accounts_retry_after(const struct account_pool *p);

#endif
