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
    sqlite3_stmt *jput, *jget, *jgetany, *jdel, *jcursor, *jactive, *jexpired;
    sqlite3_stmt *jlist[2][2]; /* [asc][after] */
};

void store_texts_free(struct store_texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

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

/* ---- jobs ---- */

static void done_stmt(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static int sq_job_put(struct store *s, const struct store_job *j)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_stmt *st = q->jput;
    sqlite3_bind_text(st, 1, j->kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, j->id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, j->owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, j->created);
    sqlite3_bind_int(st, 5, j->active ? 1 : 0);
    sqlite3_bind_int64(st, 6, j->expires);
    sqlite3_bind_text(st, 7, j->data, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    done_stmt(st);
    if (rc != SQLITE_DONE) {
        LOG(LOG_ERROR, "job store: write failed: %s", sqlite3_errmsg(q->db));
        return -1;
    }
    return 0;
}

static char *sq_job_get(struct store *s, const char *kind, const char *id, const char *owner)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_stmt *st = owner ? q->jget : q->jgetany;
    char *out = NULL;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (owner)
        sqlite3_bind_text(st, 3, owner, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t)
            out = xstrdup((const char *)t);
    }
    done_stmt(st);
    return out;
}

static int sq_job_delete(struct store *s, const char *kind, const char *id)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_bind_text(q->jdel, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q->jdel, 2, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q->jdel);
    done_stmt(q->jdel);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Collects column 0 of every row of st (bound by the caller), up to limit. */
static int collect_texts(sqlite3_stmt *st, size_t limit, struct store_texts *out)
{
    int rc;
    size_t cap = 0;
    while (out->n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (!t)
            continue;
        if (out->n == cap) {
            cap = cap ? cap * 2 : 16;
            out->v = xrealloc(out->v, cap * sizeof(*out->v));
        }
        out->v[out->n++] = xstrdup((const char *)t);
    }
    done_stmt(st);
    return 0;
}

static int sq_job_list(struct store *s, const char *kind, const char *owner, const char *after,
                       int asc, size_t limit, struct store_texts *out)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    long long created = 0;
    if (after) {
        /* The cursor's place; an unknown cursor (deleted job) lists nothing. */
        sqlite3_bind_text(q->jcursor, 1, kind, -1, SQLITE_STATIC);
        sqlite3_bind_text(q->jcursor, 2, after, -1, SQLITE_STATIC);
        sqlite3_bind_text(q->jcursor, 3, owner, -1, SQLITE_STATIC);
        int found = sqlite3_step(q->jcursor) == SQLITE_ROW;
        if (found)
            created = sqlite3_column_int64(q->jcursor, 0);
        done_stmt(q->jcursor);
        if (!found)
            return 0;
    }
    sqlite3_stmt *st = q->jlist[asc ? 1 : 0][after ? 1 : 0];
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, owner, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)(limit > 100000 ? 100000 : limit));
    if (after) {
        sqlite3_bind_int64(st, 4, created);
        sqlite3_bind_text(st, 5, after, -1, SQLITE_STATIC);
    }
    return collect_texts(st, limit, out);
}

static int sq_job_scan(struct store *s, const char *kind, long long expired_before, size_t limit,
                       struct store_texts *out)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_stmt *st = expired_before > 0 ? q->jexpired : q->jactive;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(limit > 100000 ? 100000 : limit));
    if (expired_before > 0)
        sqlite3_bind_int64(st, 3, expired_before);
    return collect_texts(st, limit, out);
}

static void sq_close(struct store *s)
{
    struct sqlite_store *q = (struct sqlite_store *)s;
    sqlite3_stmt *jobs[] = { q->jput, q->jget, q->jgetany, q->jdel, q->jcursor, q->jactive,
                             q->jexpired, q->jlist[0][0], q->jlist[0][1], q->jlist[1][0],
                             q->jlist[1][1] };
    for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]); i++)
        sqlite3_finalize(jobs[i]);
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

static const struct store_ops sqlite_ops = {
    sq_lookup, sq_cancel, sq_put, sq_forget, sq_close,
    sq_job_put, sq_job_get, sq_job_delete, sq_job_list, sq_job_scan,
};

static int prepare(struct sqlite_store *q, const char *sql, sqlite3_stmt **st)
{
    return sqlite3_prepare_v2(q->db, sql, -1, st, NULL) == SQLITE_OK ? 0 : -1;
}

#define JOB_ORDER(dir) " ORDER BY created " dir ", id " dir " LIMIT ?3"

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
        " updated INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS jobs ("
        " kind TEXT NOT NULL, id TEXT NOT NULL,"
        " owner TEXT NOT NULL,"   /* a hash of the client's credential */
        " created INTEGER NOT NULL, active INTEGER NOT NULL, expires INTEGER NOT NULL,"
        " data TEXT NOT NULL, PRIMARY KEY (kind, id));"
        "CREATE INDEX IF NOT EXISTS jobs_owner ON jobs(kind, owner, created, id);";
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
    if (prepare(q, "INSERT INTO jobs(kind, id, owner, created, active, expires, data) "
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(kind, id) DO UPDATE SET "
                   "owner = ?3, created = ?4, active = ?5, expires = ?6, data = ?7", &q->jput) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND id = ?2 AND owner = ?3", &q->jget) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND id = ?2", &q->jgetany) ||
        prepare(q, "DELETE FROM jobs WHERE kind = ?1 AND id = ?2", &q->jdel) ||
        prepare(q, "SELECT created FROM jobs WHERE kind = ?1 AND id = ?2 AND owner = ?3",
                &q->jcursor) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND active = 1 ORDER BY created, id "
                   "LIMIT ?2", &q->jactive) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND expires > 0 AND expires < ?3 "
                   "ORDER BY expires LIMIT ?2", &q->jexpired) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND owner = ?2" JOB_ORDER("DESC"),
                &q->jlist[0][0]) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND owner = ?2 AND (created < ?4 OR "
                   "(created = ?4 AND id < ?5))" JOB_ORDER("DESC"), &q->jlist[0][1]) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND owner = ?2" JOB_ORDER("ASC"),
                &q->jlist[1][0]) ||
        prepare(q, "SELECT data FROM jobs WHERE kind = ?1 AND owner = ?2 AND (created > ?4 OR "
                   "(created = ?4 AND id > ?5))" JOB_ORDER("ASC"), &q->jlist[1][1]))
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
