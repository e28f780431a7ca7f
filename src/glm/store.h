/* Persistent account state: the refresh token the site rotated each account
 * to, keyed by a hash of the token the user gave (never the plain original).
 * A small interface with one implementation (SQLite, embedded); a shared store
 * for several replicas can implement the same operations. */
#ifndef GLM_STORE_H
#define GLM_STORE_H

#include <stddef.h>

struct store;

struct store_ops {
    /* Returns a new string (free()) or NULL when nothing is stored. */
    char *(*get_rotated)(struct store *s, const char *key);
    /* 0, or -1 when the write failed (logged by the store). */
    int (*put_rotated)(struct store *s, const char *key, const char *token);
    int (*forget)(struct store *s, const char *key);
    void (*close)(struct store *s);
};

struct store {
    const struct store_ops *ops;
};

/* Opens data_dir/accounts.db, creating the directory (0700) and file (0600)
 * as needed, and checks the database is readable and writable. NULL on
 * error, with the reason in err. */
struct store *store_open_sqlite(const char *data_dir, char *err, size_t errlen);

/* The key of a user-given token: sha256 hex. */
void store_key(const char *token, char out[65]);

static inline char *store_get_rotated(struct store *s, const char *key)
{
    return s ? s->ops->get_rotated(s, key) : NULL;
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
