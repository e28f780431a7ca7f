/* for memmem() */
#define _GNU_SOURCE
#include "test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "glm/store.h"

/* A lookup, which SQLite answers before store_lookup returns: a new
 * string or NULL. */
struct got {
    int calls;
    char *token;
};

static void got_cb(void *arg, const char *token, const char *err)
{
    struct got *g = arg;
    g->calls++;
    g->token = token && !err ? strdup(token) : NULL;
}

static char *get_now(struct store *s, const char *key)
{
    struct got g = { 0, NULL };
    struct store_lookup *l = store_lookup(s, key, got_cb, &g);
    CHECK(l == NULL);
    CHECK_INT(g.calls, 1);
    return g.token;
}

/* A fresh directory for one test; the store creates data_dir inside it. */
struct tmp {
    char root[64];
    char dir[96];  /* root/data: not yet created */
    char db[128];  /* dir/accounts.db */
    char wal[128];
};

static void tmp_make(struct tmp *t)
{
    snprintf(t->root, sizeof(t->root), "/tmp/glm-store-test-XXXXXX");
    if (!mkdtemp(t->root))
        abort();
    snprintf(t->dir, sizeof(t->dir), "%s/data", t->root);
    snprintf(t->db, sizeof(t->db), "%s/accounts.db", t->dir);
    snprintf(t->wal, sizeof(t->wal), "%s/accounts.db-wal", t->dir);
}

static void tmp_remove(struct tmp *t)
{
    char p[160];
    static const char *const names[] = { "accounts.db", "accounts.db-wal", "accounts.db-shm",
                                         "accounts.db-journal", "junk" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", t->dir, names[i]);
        unlink(p);
    }
    rmdir(t->dir);
    unlink(t->dir); /* when a test made it a file */
    rmdir(t->root);
}

static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

/* Whether needle occurs in the database file or its write-ahead log. */
static int store_files_contain(const struct tmp *t, const char *needle)
{
    const char *paths[2] = { t->db, t->wal };
    int found = 0;
    for (int i = 0; i < 2; i++) {
        size_t len = 0;
        char *data = test_read_file(paths[i], &len);
        if (data && memmem(data, len, needle, strlen(needle)))
            found = 1;
        free(data);
    }
    return found;
}

TEST(store_key_is_the_sha256_hex_of_the_token)
{
    char key[65];
    store_key("abc", key);
    CHECK_STR(key, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    store_key("", key);
    CHECK_STR(key, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(open_creates_a_private_directory_and_file_whatever_the_umask)
{
    struct tmp t;
    tmp_make(&t);
    mode_t old = umask(0);
    char err[256] = "";
    struct store *s = store_open_sqlite(t.dir, err, sizeof(err));
    umask(old);
    CHECK(s != NULL);
    CHECK_STR(err, "");
    CHECK_INT(mode_of(t.dir), 0700);
    CHECK_INT(mode_of(t.db), 0600);
    store_close(s);
    tmp_remove(&t);
}

TEST(put_get_and_forget)
{
    struct tmp t;
    tmp_make(&t);
    char err[256];
    struct store *s = store_open_sqlite(t.dir, err, sizeof(err));
    CHECK(s != NULL);
    if (!s)
        return;
    char k1[65], k2[65];
    store_key("original-one", k1);
    store_key("original-two", k2);
    CHECK(get_now(s, k1) == NULL);
    CHECK_INT(store_put_rotated(s, k1, "rotated-1a"), 0);
    CHECK_INT(store_put_rotated(s, k2, "rotated-2a"), 0);
    char *v = get_now(s, k1);
    CHECK_STR(v, "rotated-1a");
    free(v);
    /* A second rotation replaces the first. */
    CHECK_INT(store_put_rotated(s, k1, "rotated-1b"), 0);
    v = get_now(s, k1);
    CHECK_STR(v, "rotated-1b");
    free(v);
    CHECK_INT(store_forget(s, k1), 0);
    CHECK(get_now(s, k1) == NULL);
    v = get_now(s, k2);
    CHECK_STR(v, "rotated-2a");
    free(v);
    CHECK_INT(store_forget(s, k1), 0); /* forgetting twice is fine */
    CHECK_INT(mode_of(t.db), 0600);
    if (mode_of(t.wal) >= 0)
        CHECK_INT(mode_of(t.wal), 0600);
    store_close(s);
    tmp_remove(&t);
}

TEST(reopening_keeps_the_rotated_tokens)
{
    struct tmp t;
    tmp_make(&t);
    char err[256], key[65];
    store_key("keep-me", key);
    struct store *s = store_open_sqlite(t.dir, err, sizeof(err));
    CHECK(s != NULL);
    CHECK_INT(store_put_rotated(s, key, "rotated-kept"), 0);
    store_close(s);

    s = store_open_sqlite(t.dir, err, sizeof(err));
    CHECK(s != NULL);
    char *v = get_now(s, key);
    CHECK_STR(v, "rotated-kept");
    free(v);
    store_close(s);
    tmp_remove(&t);
}

TEST(the_files_hold_the_hash_of_the_original_token_never_the_token)
{
    struct tmp t;
    tmp_make(&t);
    const char *original = "plain-original-refresh-token-7f3a9c";
    char err[256], key[65];
    store_key(original, key);
    struct store *s = store_open_sqlite(t.dir, err, sizeof(err));
    CHECK(s != NULL);
    CHECK_INT(store_put_rotated(s, key, "rotated-token-5e1d"), 0);
    /* While open (the row may still be in the write-ahead log) ... */
    CHECK(store_files_contain(&t, key));
    CHECK(store_files_contain(&t, "rotated-token-5e1d"));
    CHECK(!store_files_contain(&t, original));
    store_close(s);
    /* ... and after closing. */
    CHECK(store_files_contain(&t, key));
    CHECK(!store_files_contain(&t, original));
    tmp_remove(&t);
}

TEST(a_corrupt_file_is_an_error_and_is_left_alone)
{
    struct tmp t;
    tmp_make(&t);
    CHECK_INT(mkdir(t.dir, 0700), 0);
    static const char junk[] = "this is not an SQLite database, just some text that is long "
                               "enough to cover the header of one";
    int fd = open(t.db, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    for (int i = 0; fd >= 0 && i < 64; i++)
        CHECK(write(fd, junk, sizeof(junk) - 1) == (ssize_t)(sizeof(junk) - 1));
    if (fd >= 0)
        close(fd);
    char err[256] = "";
    struct store *s = store_open_sqlite(t.dir, err, sizeof(err));
    CHECK(s == NULL);
    CHECK(strstr(err, "accounts.db") != NULL);
    CHECK(strstr(err, "unusable") != NULL);
    size_t len = 0;
    char *data = test_read_file(t.db, &len);
    CHECK_INT(len, 64 * (sizeof(junk) - 1));
    CHECK(data && memcmp(data, junk, sizeof(junk) - 1) == 0);
    free(data);
    store_close(s);
    tmp_remove(&t);
}

TEST(a_data_dir_that_is_a_file_is_an_error)
{
    struct tmp t;
    tmp_make(&t);
    int fd = open(t.dir, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    char err[256] = "";
    CHECK(store_open_sqlite(t.dir, err, sizeof(err)) == NULL);
    CHECK(strstr(err, t.dir) != NULL);
    tmp_remove(&t);
}

TEST(a_data_dir_under_a_missing_parent_is_an_error)
{
    struct tmp t;
    tmp_make(&t);
    char deep[160];
    snprintf(deep, sizeof(deep), "%s/missing/data", t.root);
    char err[256] = "";
    CHECK(store_open_sqlite(deep, err, sizeof(err)) == NULL);
    CHECK(strstr(err, "cannot create data directory") != NULL);
    tmp_remove(&t);
}

TEST(a_null_store_keeps_nothing_and_fails_nothing)
{
    CHECK(get_now(NULL, "k") == NULL);
    CHECK_INT(store_put_rotated(NULL, "k", "v"), 0);
    CHECK_INT(store_forget(NULL, "k"), 0);
    store_close(NULL);
}

static void put_job(struct store *s, const char *id, const char *owner, long long created,
                    int active, long long expires)
{
    char data[128];
    snprintf(data, sizeof(data), "{\"id\":\"%s\"}", id);
    struct store_job j = { "video", id, owner, created, active, expires, data };
    CHECK_INT(store_job_put(s, &j), 0);
}

/* The ids of a list, comma-separated, into out. */
static void ids_of(struct store_texts *t, char *out, size_t outlen)
{
    out[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        const char *p = strstr(t->v[i], "\"id\":\"");
        size_t used = strlen(out);
        snprintf(out + used, outlen - used, "%s%.*s", i ? "," : "", p ? (int)strcspn(p + 6, "\"") : 1,
                 p ? p + 6 : "?");
    }
    store_texts_free(t);
}

TEST(jobs_are_kept_per_owner_listed_with_a_cursor_and_survive_a_reopen)
{
    struct tmp t;
    tmp_make(&t);
    char err[256], ids[256];
    struct store *s = store_open_sqlite(t.dir, err, sizeof(err));
    CHECK(s != NULL);
    if (!s)
        return;
    put_job(s, "v1", "alice", 100, 1, 0);
    put_job(s, "v2", "alice", 200, 0, 500);
    put_job(s, "v3", "alice", 200, 1, 0);
    put_job(s, "v4", "bob", 150, 0, 900);
    char *d = store_job_get(s, "video", "v1", "alice");
    CHECK_STR(d, "{\"id\":\"v1\"}");
    free(d);
    CHECK(store_job_get(s, "video", "v1", "bob") == NULL);  /* not bob's */
    CHECK(store_job_get(s, "image", "v1", "alice") == NULL); /* another kind */
    d = store_job_get(s, "video", "v4", NULL);
    CHECK(d != NULL);
    free(d);

    struct store_texts l;
    CHECK_INT(store_job_list(s, "video", "alice", NULL, 0, 10, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v3,v2,v1"); /* newest first; equal times by id */
    CHECK_INT(store_job_list(s, "video", "alice", NULL, 0, 2, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v3,v2");
    CHECK_INT(store_job_list(s, "video", "alice", "v2", 0, 2, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v1");
    CHECK_INT(store_job_list(s, "video", "alice", NULL, 1, 10, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v1,v2,v3");
    CHECK_INT(store_job_list(s, "video", "alice", "v1", 1, 10, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v2,v3");
    /* Another owner's id is no cursor. */
    CHECK_INT(store_job_list(s, "video", "alice", "v4", 0, 10, &l), 0);
    CHECK_INT(l.n, 0);
    CHECK_INT(store_job_list(s, "video", "bob", NULL, 0, 10, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v4");

    CHECK_INT(store_job_scan(s, "video", 0, 100, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v1,v3");
    CHECK_INT(store_job_scan(s, "video", 600, 100, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v2");

    /* Replacing: v1 is done now. */
    put_job(s, "v1", "alice", 100, 0, 0);
    CHECK_INT(store_job_scan(s, "video", 0, 100, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v3");
    store_close(s);

    s = store_open_sqlite(t.dir, err, sizeof(err));
    CHECK(s != NULL);
    if (!s)
        return;
    CHECK_INT(store_job_scan(s, "video", 0, 100, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v3");
    CHECK_INT(store_job_delete(s, "video", "v3"), 0);
    CHECK(store_job_get(s, "video", "v3", "alice") == NULL);
    CHECK_INT(store_job_list(s, "video", "alice", NULL, 0, 10, &l), 0);
    ids_of(&l, ids, sizeof(ids));
    CHECK_STR(ids, "v2,v1");
    store_close(s);
    tmp_remove(&t);
}

TEST(a_null_store_has_no_jobs)
{
    struct store_texts l;
    CHECK_INT(store_job_list(NULL, "video", "a", NULL, 0, 10, &l), -1);
    CHECK_INT(l.n, 0);
    CHECK(store_job_get(NULL, "video", "v", "a") == NULL);
}

TEST_MAIN()
