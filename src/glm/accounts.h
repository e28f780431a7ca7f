/* The account pool: chatglm.cn allows one generation per account at a time,
 * so an account is leased to one answer at a time. A request takes the
 * least recently used idle healthy account among those it may use; when all
 * are busy it waits in a bounded FIFO queue. Each account is ok, cooling
 * (after busy/transient failures: exponential back-off with jitter) or dead
 * (its refresh token was refused). */
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
    ACCOUNT_REJECTED,   /* the refresh token was refused */
};

enum lease_error {
    LEASE_OK,
    LEASE_ALL_DEAD,     /* every account the request may use is dead */
    LEASE_QUEUE_FULL,
    LEASE_TIMEOUT,      /* waited queue_wait_ms */
    LEASE_EXHAUSTED,    /* every usable account was already tried */
};

/* a is the leased account when err is LEASE_OK, else NULL. */
typedef void lease_fn(void *arg, struct account *a, enum lease_error err);

struct account_pool *accounts_new(struct event_base *base, size_t queue_max, long queue_wait_ms);
/* Waiters still queued are dropped without a call. */
void accounts_free(struct account_pool *p);

/* Finds or creates the account of a refresh token (the token as the user
 * gave it) and takes a reference to it; accounts_unref gives it back. Past
 * ACCOUNTS_MAX accounts, unreferenced idle ones that are not configured are
 * forgotten, oldest first, so that strangers' tokens cannot grow the pool
 * without bound. */
#define ACCOUNTS_MAX 10000
struct account *accounts_get(struct account_pool *p, const char *token, int configured);
void accounts_unref(struct account_pool *p, struct account *a);

/* Leases one of cands[0..n) that is not in tried[0..ntried). When one is free
 * now, fn is called before this returns and NULL is returned; otherwise the
 * request waits and the handle can cancel the wait. */
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
int account_configured(const struct account *a);
/* Finds an account without creating it. */
struct account *accounts_find(struct account_pool *p, const char *token);

size_t accounts_queue_len(const struct account_pool *p);
size_t accounts_count(const struct account_pool *p);
size_t accounts_busy(const struct account_pool *p);
/* {"object":"list","data":[{"id":fingerprint,"state","reason","since","in_flight",
 * "last_used","successes","failures","configured"}...]}. */
int accounts_json(const struct account_pool *p, struct buf *out);
/* The seconds a queued request should wait before retrying (Retry-After). */
long accounts_retry_after(const struct account_pool *p);

#endif
