#include "glm/store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "util/crypto.h"
#include "util/xalloc.h"

struct sqlite_store {
    struct store base;
    sqlite3 *db;
    sqlite3_stmt *get;
    sqlite3_stmt *put;
    sqlite3_stmt *del;
};

void store_key(const char *token, char out[65])
{
    crypto_sha256_hex(token, strlen(token), out);
}

/* SQLite answers at once: fn runs before this returns. */
static struct store_lookup *sq_lookup(struct store *s, const char *key, store_lookup_fn *fn,
                                      void *arg)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    char *out = NULL;
    sqlite3_bind_text(q->get, 1, key, -1, SQLITE_STATIC);
    if (sqlite3_step(q->get) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(q->get, 0);
        if (t && *t)
            out = xstrdup((const char *)t);
    }
    sqlite3_reset(q->get);
    sqlite3_clear_bindings(q->get);
    fn(arg, out, NULL);
    free(out);
    return NULL;
}

static void sq_cancel(struct store *s, struct store_lookup *l)
{
    (void)s;
    (void)l;
}

long store_sqlite_each(struct store *s,
                       int (*fn)(void *arg, const char *key, const char *token, long long updated),
                       void *arg)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->db, "SELECT key, token, updated FROM rotated ORDER BY key", -1, &st,
                           NULL) != SQLITE_OK)
        return -1;
    long n = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0);
        const char *t = (const char *)sqlite3_column_text(st, 1);
        if (!k || !t || !*t)
            continue;
        n++;
        if (fn(arg, k, t, (long long)sqlite3_column_int64(st, 2)) != 0)
            break;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? n : -1;
}

static int sq_put(struct store *s, const char *key, const char *token)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_bind_text(q->put, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q->put, 2, token, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q->put, 3, (sqlite3_int64)time(NULL));
    int rc = sqlite3_step(q->put);
    sqlite3_reset(q->put);
    sqlite3_clear_bindings(q->put);
    if (rc != SQLITE_DONE) {
        LOG(LOG_ERROR, "account store: write failed: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    return 0;
}

static int sq_forget(struct store *s, const char *key)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_bind_text(q->del, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q->del);
    sqlite3_reset(q->del);
    sqlite3_clear_bindings(q->del);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void sq_close(struct store *s)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_finalize(q->get);
    sqlite3_finalize(q->put);
    sqlite3_finalize(q->del);
    sqlite3_close(q->db);
    free(q);
}

static int check_cb(void *arg, int ncol, char **vals, char **names)
{
    (void)names;
    *(int *)arg = ncol == 1 && vals[0] && strcmp(vals[0], "ok") == 0;
    return 0;
}

static const struct store_ops sqlite_ops = { sq_lookup, sq_cancel, sq_put, sq_forget, sq_close };

struct store *store_open_sqlite(const char *data_dir, char *err, size_t errlen)
{
    struct sqlite_store *q = NULL;
    char path[4096];
    if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s: %s", data_dir, strerror(errno));
        return NULL;
    }
    snprintf(path, sizeof(path), "%s/accounts.db", data_dir);
    /* Create the file ourselves so that it is 0600 from the first byte. */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    close(fd);
    chmod(path, 0600);

    q = xcalloc(1, sizeof(*q));
    q->base.ops = &sqlite_ops;
    q->base.name = "SQLite";
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK)
        goto fail;
    sqlite3_busy_timeout(q->db, 2000);
    /* WAL with NORMAL sync: a write is an append to the log, well under a
     * millisecond, so doing it on the event loop is acceptable. */
    const char *setup =
        "PRAGMA journal_mode=WAL;"
        "PRAGMA synchronous=NORMAL;"
        "CREATE TABLE IF NOT EXISTS rotated ("
        " key TEXT PRIMARY KEY," /* sha256 hex of the token the user gave */
        " token TEXT NOT NULL,"  /* the refresh token to use now */
        " updated INTEGER NOT NULL);";
    if (sqlite3_exec(q->db, setup, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_prepare_v2(q->db, "SELECT token FROM rotated WHERE key = ?1", -1, &q->get, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(q->db,
                           "INSERT INTO rotated(key, token, updated) VALUES (?1, ?2, ?3) "
                           "ON CONFLICT(key) DO UPDATE SET token = ?2, updated = ?3",
                           -1, &q->put, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(q->db, "DELETE FROM rotated WHERE key = ?1", -1, &q->del, NULL) !=
            SQLITE_OK)
        goto fail;
    /* Prove it is writable now rather than losing a rotation later. */
    if (sqlite3_exec(q->db, "BEGIN IMMEDIATE; COMMIT;", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    int healthy = 0;
    if (sqlite3_exec(q->db, "PRAGMA quick_check;", check_cb, &healthy, NULL) != SQLITE_OK ||
        !healthy)
        goto fail;
    return &q->base;
fail:
    snprintf(err, errlen, "account store %s is unusable: %s", path,
             q->db ? sqlite3_errmsg(q->db) : "cannot open");
    sq_close(&q->base);
    return NULL;
}
