/* Locks shared by the replicas through Redis (state = redis): the generation
 * lease of an account and the right to refresh it. A lock is a key
 * <prefix><name> set only if absent (SET NX PX) to "<replica> <nonce>", with
 * a TTL renewed while it is held, so that a crashed replica's locks expire by
 * themselves; it is released by a check-and-delete script that publishes the
 * name on <prefix>released. A replica that finds a lock taken waits for that
 * message (or the lock's TTL, whichever comes first) and tries again; its own
 * waiters try in the order they came (FIFO within a replica). */
#ifndef GLM_SHARED_H
#define GLM_SHARED_H

struct event_base;
struct redis;
struct shared;
struct shared_lock;

struct shared_opts {
    struct redis *cmd;     /* commands (the caller's; outlives the struct shared) */
    const char *sub_url;   /* a second link, in subscriber mode, is made to this URL */
    const char *prefix;
    const char *replica;   /* this replica's name: in lock values and /v1/accounts */
    int timeout_ms;
};

struct shared *shared_new(struct event_base *base, const struct shared_opts *o);
/* Locks still held are left to expire (their TTL); waiters are dropped
 * without a call. NULL is fine. */
void shared_free(struct shared *s);
const char *shared_replica(const struct shared *s);

enum shared_error {
    SHARED_OK,
    SHARED_UNAVAILABLE,   /* Redis could not be asked */
    SHARED_TIMEOUT,       /* another replica held it for all of wait_ms */
};

/* l is the held lock when err is SHARED_OK; detail says why not otherwise
 * (naming Redis or the holding replica). */
typedef void shared_lock_fn(void *arg, struct shared_lock *l, enum shared_error err,
                            const char *detail);

/* Takes the lock name (e.g. "lease:<account key>"), held for ttl_ms at a
 * time and renewed every third of it until shared_unlock. fn is called once,
 * never from inside this call. Before fn, shared_unlock cancels. */
struct shared_lock *shared_lock(struct shared *s, const char *name, long ttl_ms, long wait_ms,
                                shared_lock_fn *fn, void *arg);
/* Releases a held lock (or cancels a wait). NULL is fine. */
void shared_unlock(struct shared_lock *l);

/* Every lock whose name matches pattern (a Redis glob, e.g. "lease:*") and
 * who holds it: fn gets names[i] (without the prefix) and holders[i] (the
 * replica), or err. For /v1/accounts: a SCAN inside one script, capped at
 * 10,000 locks. */
typedef void shared_holders_fn(void *arg, const char *const *names, const char *const *holders,
                               int n, const char *err);
void shared_holders(struct shared *s, const char *pattern, shared_holders_fn *fn, void *arg);

/* Plain shared values under the prefix (e.g. "conv:<id>" -> the account key
 * that owns an upstream conversation). fn gets value NULL when none is
 * stored; the handle cancels the call until fn has run. */
struct shared_get;
typedef void shared_value_fn(void *arg, const char *value, const char *err);
struct shared_get *shared_get(struct shared *s, const char *name, shared_value_fn *fn, void *arg);
void shared_get_cancel(struct shared_get *g);
void shared_set(struct shared *s, const char *name, const char *value, long ttl_s);

/* Account health news between the replicas (on the same channel as the
 * lock releases): shared_tell publishes "what happened to account key" to
 * the others; fn is called for each such message from another replica. The
 * outcome is a small number the caller defines (enum account_outcome). */
typedef void shared_health_fn(void *arg, const char *key, int outcome, const char *reason);
void shared_on_health(struct shared *s, shared_health_fn *fn, void *arg);
void shared_tell(struct shared *s, const char *key, int outcome, const char *reason);

/* Locks this replica holds now, waits in progress (tests, metrics). */
unsigned shared_held(const struct shared *s);
unsigned shared_waiting(const struct shared *s);

#endif
