/* Persistent account state: the refresh token the site rotated each account
 * to, keyed by a hash of the token the user gave (never the plain original).
 * A small interface with two implementations: SQLite (embedded, the default)
 * and Redis (shared by several replicas, glm/store_redis.c). Lookups are
 * asynchronous because Redis is: SQLite answers before store_lookup returns,
 * Redis later, on the event loop. */
#ifndef GLM_STORE_H
#define GLM_STORE_H

#include <stddef.h>

struct store;
struct store_lookup;
struct redis;

/* token: the stored one (borrowed for the call) or NULL when none is stored;
 * err: NULL, or why the store could not answer (then token is NULL). */
typedef void store_lookup_fn(void *arg, const char *token, const char *err);

struct store_ops {
    /* Calls fn once. Returns NULL when fn has run already, else a handle for
     * cancel (invalid once fn has run). */
    struct store_lookup *(*lookup)(struct store *s, const char *key, store_lookup_fn *fn,
                                   void *arg);
    void (*cancel)(struct store *s, struct store_lookup *l);
    /* 0 when written (SQLite) or sent (Redis: a failure is logged later), -1
     * when the write failed (logged by the store). */
    int (*put_rotated)(struct store *s, const char *key, const char *token);
    int (*forget)(struct store *s, const char *key);
    void (*close)(struct store *s);
};

struct store {
    const struct store_ops *ops;
    const char *name;     /* "SQLite", "Redis": in messages */
};

/* Opens data_dir/accounts.db, creating the directory (0700) and file (0600)
 * as needed, and checks the database is readable and writable. NULL on
 * error, with the reason in err. */
struct store *store_open_sqlite(const char *data_dir, char *err, size_t errlen);

/* Keeps the rotated tokens in Redis under prefix ("glm:" makes keys
 * glm:rotated:<sha256 hex>, hashes of token and updated). r stays the
 * caller's; the store only sends commands on it. */
struct store *store_open_redis(struct redis *r, const char *prefix);

/* Every record of a SQLite store, for --migrate-state: fn returns 0 to go on.
 * Returns the number of records visited, or -1 on a read error. */
long store_sqlite_each(struct store *s,
                       int (*fn)(void *arg, const char *key, const char *token, long long updated),
                       void *arg);
/* Writes one record with its time into a Redis store unless Redis has a
 * record at least as new; calls done(arg, written, err) once (later). */
void store_redis_import(struct store *s, const char *key, const char *token, long long updated,
                        void (*done)(void *arg, int written, const char *err), void *arg);

/* The whole record of an account in a Redis store, for a refresh made under
 * the shared refresh lock: the refresh token to use, and the access token
 * another replica got with its expiry (unix s), each NULL/0 when absent. */
typedef void store_record_fn(void *arg, const char *token, const char *access,
                             long long expires, const char *err);
struct store_lookup *store_redis_read(struct store *s, const char *key, store_record_fn *fn,
                                      void *arg);
/* Writes token (when not NULL), access and expires in one command, so
 * another replica never sees a rotated token without its access token. */
void store_redis_write(struct store *s, const char *key, const char *token, const char *access,
                       long long expires);

/* The key of a user-given token: sha256 hex. */
void store_key(const char *token, char out[65]);

/* A store that is NULL answers "nothing stored" at once. */
static inline struct store_lookup *store_lookup(struct store *s, const char *key,
                                                store_lookup_fn *fn, void *arg)
{
    if (!s) {
        fn(arg, NULL, NULL);
        return NULL;
    }
    return s->ops->lookup(s, key, fn, arg);
}
static inline void store_lookup_cancel(struct store *s, struct store_lookup *l)
{
    if (s && l)
        s->ops->cancel(s, l);
}
static inline int store_put_rotated(struct store *s, const char *key, const char *token)
{
    return s ? s->ops->put_rotated(s, key, token) : 0;
}
static inline int store_forget(struct store *s, const char *key)
{
    return s ? s->ops->forget(s, key) : 0;
}
static inline void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

#endif
