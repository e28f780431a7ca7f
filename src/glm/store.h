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

/* A job kept across restarts (a video generation): the store keeps its JSON
 * text and the few fields it is looked up by, and knows nothing else of it. */
struct store_job {
    const char *kind;           /* "video" */
    const char *id;
    const char *owner;          /* who may see it: a hash of the client's credential */
    long long created;          /* lists are ordered by it, then by id (any clock) */
    int active;                 /* still running: a restarted server resumes it */
    long long expires;          /* unix s after which it is swept; 0 = never */
    const char *data;           /* JSON text */
};

/* Job lists: texts (the data of each job), new strings; free with
 * store_texts_free. */
struct store_texts {
    char **v;
    size_t n;
};
void store_texts_free(struct store_texts *t);

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
    /* Jobs, synchronous; NULL in a store that keeps none (Redis, for now:
     * api/videos.c then keeps its jobs in a SQLite store of its own).
     * put inserts or replaces (by kind and id); 0 or -1. */
    int (*job_put)(struct store *s, const struct store_job *j);
    /* The data of a job of owner (any owner when owner is NULL), new string,
     * or NULL. */
    char *(*job_get)(struct store *s, const char *kind, const char *id, const char *owner);
    int (*job_delete)(struct store *s, const char *kind, const char *id);
    /* Up to limit jobs of owner, newest first (asc: oldest first), starting
     * after the job named after (NULL: from the start). 0 or -1. */
    int (*job_list)(struct store *s, const char *kind, const char *owner, const char *after,
                    int asc, size_t limit, struct store_texts *out);
    /* Every active job of kind (oldest first), or, with expired_before > 0,
     * every job whose expiry is before it. 0 or -1. */
    int (*job_scan)(struct store *s, const char *kind, long long expired_before,
                    size_t limit, struct store_texts *out);
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
/* Whether s keeps jobs. */
static inline int store_has_jobs(const struct store *s)
{
    return s && s->ops->job_put;
}
static inline int store_job_put(struct store *s, const struct store_job *j)
{
    return s && s->ops->job_put ? s->ops->job_put(s, j) : -1;
}
static inline char *store_job_get(struct store *s, const char *kind, const char *id,
                                  const char *owner)
{
    return s && s->ops->job_get ? s->ops->job_get(s, kind, id, owner) : NULL;
}
static inline int store_job_delete(struct store *s, const char *kind, const char *id)
{
    return s && s->ops->job_delete ? s->ops->job_delete(s, kind, id) : -1;
}
static inline int store_job_list(struct store *s, const char *kind, const char *owner,
                                 const char *after, int asc, size_t limit, struct store_texts *out)
{
    out->v = NULL;
    out->n = 0;
    return s && s->ops->job_list ? s->ops->job_list(s, kind, owner, after, asc, limit, out) : -1;
}
static inline int store_job_scan(struct store *s, const char *kind, long long expired_before,
                                 size_t limit, struct store_texts *out)
{
    out->v = NULL;
    out->n = 0;
    return s && s->ops->job_scan ? s->ops->job_scan(s, kind, expired_before, limit, out) : -1;
}
static inline void store_close(struct store *s)
{
    if (s)
        s->ops->close(s);
}

#endif
