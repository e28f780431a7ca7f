#define _GNU_SOURCE /* memmem */
#include "glm/session.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "glm/answer.h"
#include "glm/request.h"
#include "glm/shared.h"
#include "glm/store.h"
#include "log.h"
#include "metrics.h"
#include "net/xfer.h"
#include "util/crypto.h"
#include "util/strmap.h"
#include "util/xalloc.h"

struct session_wait {
    struct session_entry *entry;
    session_fn *fn;
    void *arg;
    struct session_wait *next;
};

struct session_entry {
    struct session_mgr *mgr;
    char *original;        /* the refresh token as the user gave it (the key) */
    char *current;         /* the one to refresh with: rotated by the site */
    char key[65];          /* store key: sha256 of original */
    char fp[7];
    char *access;
    long long expires;     /* wall-clock seconds; 0 = no token */
    struct xfer *call;
    struct store_lookup *lookup; /* the store is asked for a rotated token */
    int loaded;            /* the store was asked (current is the one to use) */
    int refreshing;        /* from start_refresh to notify */
    int force;             /* this refresh must ask the site (a check) */
    struct shared_lock *rlock_wait; /* shared: waiting for the refresh lock */
    struct shared_lock *rlock;      /* shared: holding it */
    char *stale_access;    /* shared: an access token the site refused (40103) */
    int tried_original;    /* after the rotated token was refused */
    int guest;             /* the last refresh answer said "is_guest":true */
    struct session_wait *waiters;
    unsigned long long used;   /* last use, for forgetting old entries */
    struct strmap_node by_original;
    struct session_entry *next;
};

/* Past this many entries, idle ones are forgotten, oldest first: tokens
 * from strangers must not grow memory without bound. */
#define SESSIONS_MAX 10000

struct session_mgr {
    struct curl_loop *loop;
    struct store *store;
    struct shared *shared;     /* state = redis: refreshes under a shared lock */
    struct session_entry *entries;
    struct strmap index;       /* entries by original token */
    size_t count;
    unsigned long long clock;
    unsigned long refreshes;
};

static void start_refresh(struct session_entry *e);
static void do_refresh(struct session_entry *e);

struct session_mgr *session_mgr_new(struct curl_loop *loop, struct store *store)
{
    struct session_mgr *m = xcalloc(1, sizeof(*m));
    m->loop = loop;
    m->store = store;
    return m;
}

static void entry_free(struct session_entry *e)
{
    xfer_cancel(e->call);
    store_lookup_cancel(e->mgr->store, e->lookup);
    shared_unlock(e->rlock_wait);
    shared_unlock(e->rlock);
    free(e->stale_access);
    while (e->waiters) {
        struct session_wait *w = e->waiters;
        e->waiters = w->next;
        free(w);
    }
    free(e->original);
    free(e->current);
    free(e->access);
    free(e);
}

void session_mgr_share(struct session_mgr *m, struct shared *shared)
{
    m->shared = shared;
}

void session_mgr_free(struct session_mgr *m)
{
    if (!m)
        return;
    while (m->entries) {
        struct session_entry *e = m->entries;
        m->entries = e->next;
        entry_free(e);
    }
    strmap_free(&m->index);
    free(m);
}

static void evict_one(struct session_mgr *m)
{
    struct session_entry **victim = NULL;
    for (struct session_entry **pp = &m->entries; *pp; pp = &(*pp)->next) {
        struct session_entry *e = *pp;
        if (e->refreshing || e->call || e->lookup || e->waiters)
            continue;
        if (!victim || e->used < (*victim)->used)
            victim = pp;
    }
    if (!victim)
        return;
    struct session_entry *e = *victim;
    *victim = e->next;
    strmap_del(&m->index, &e->by_original);
    m->count--;
    entry_free(e);
}

static struct session_entry *entry_get(struct session_mgr *m, const char *token)
{
    struct strmap_node *n = strmap_get(&m->index, token);
    if (n) {
        struct session_entry *e = STRMAP_ENTRY(n, struct session_entry, by_original);
        e->used = ++m->clock;
        return e;
    }
    if (m->count >= SESSIONS_MAX)
        evict_one(m);
    struct session_entry *e = xcalloc(1, sizeof(*e));
    e->used = ++m->clock;
    m->count++;
    e->mgr = m;
    e->original = xstrdup(token);
    store_key(token, e->key);
    /* A token the site rotated earlier (maybe before a restart, maybe by
     * another replica) comes first: the store is asked before the first
     * refresh (start_refresh). */
    e->current = xstrdup(token);
    crypto_fingerprint(token, e->fp);
    e->next = m->entries;
    m->entries = e;
    strmap_put(&m->index, &e->by_original, e->original);
    return e;
}

long long session_expiry(long long now, long long exp)
{
    long long life = exp - now;
    if (life <= 0)
        return now;
    /* 10 minutes before exp (spec 12.1, S8); a short-lived token is used for
     * three quarters of its life. */
    return life > 40 * 60 ? exp - 10 * 60 : now + life * 3 / 4;
}

int session_jwt_device_id(const char *jwt, char *out, size_t outlen)
{
    if (!jwt || outlen == 0)
        return -1;
    out[0] = '\0';
    const char *dot1 = strchr(jwt, '.');
    if (!dot1)
        return -1;
    const char *dot2 = strchr(dot1 + 1, '.');
    size_t n = dot2 ? (size_t)(dot2 - dot1 - 1) : strlen(dot1 + 1);
    if (n > 4096)
        return -1;
    size_t plen;
    unsigned char *payload = crypto_base64_decode(dot1 + 1, n, &plen);
    if (!payload)
        return -1;
    /* A plain scan: the claim is hex (spec 12.1), so no escapes to undo;
     * anything else is not taken. */
    static const char key[] = "\"device_id\":\"";
    const char *p = memmem(payload, plen, key, sizeof(key) - 1);
    size_t len = 0;
    int rc = -1;
    if (p) {
        p += sizeof(key) - 1;
        const char *end = (const char *)payload + plen;
        while (p + len < end && isxdigit((unsigned char)p[len]) && len + 1 < outlen)
            len++;
        if (len >= 8 && p + len < end && p[len] == '"') {
            memcpy(out, p, len);
            out[len] = '\0';
            rc = 0;
        }
    }
    free(payload);
    return rc;
}

int session_jwt_exp(const char *jwt, long long *exp)
{
    const char *dot1 = strchr(jwt, '.');
    if (!dot1)
        return -1;
    const char *dot2 = strchr(dot1 + 1, '.');
    size_t n = dot2 ? (size_t)(dot2 - dot1 - 1) : strlen(dot1 + 1);
    size_t plen;
    unsigned char *payload = crypto_base64_decode(dot1 + 1, n, &plen);
    if (!payload)
        return -1;
    json_t *j = json_loadb((const char *)payload, plen, 0, NULL);
    free(payload);
    json_t *v = json_object_get(j, "exp");
    int rc = -1;
    if (json_is_integer(v)) {
        *exp = json_integer_value(v);
        rc = 0;
    } else if (json_is_real(v)) {
        *exp = (long long)json_real_value(v);
        rc = 0;
    }
    json_decref(j);
    return rc;
}

static struct session_wait *get(struct session_mgr *m, const char *refresh_token, session_fn *fn,
                                void *arg, int force)
{
    struct session_entry *e = entry_get(m, refresh_token);
    if (!force && e->access && time(NULL) < e->expires) {
        fn(arg, e->guest ? SESSION_GUEST : SESSION_OK, e->access,
           e->guest ? "the refresh token is a guest's (a visitor of chatglm.cn), not a login" : NULL);
        return NULL;
    }
    struct session_wait *w = xcalloc(1, sizeof(*w));
    w->entry = e;
    w->fn = fn;
    w->arg = arg;
    /* FIFO: append. */
    struct session_wait **pp = &e->waiters;
    while (*pp)
        pp = &(*pp)->next;
    *pp = w;
    if (!e->refreshing) {
        e->tried_original = 0;
        e->force = force;
        start_refresh(e);
    }
    return w;
}

struct session_wait *session_get(struct session_mgr *m, const char *refresh_token, session_fn *fn,
                                 void *arg)
{
    return get(m, refresh_token, fn, arg, 0);
}

struct session_wait *session_check(struct session_mgr *m, const char *refresh_token,
                                   session_fn *fn, void *arg)
{
    return get(m, refresh_token, fn, arg, 1);
}

void session_wait_cancel(struct session_wait *w)
{
    if (!w)
        return;
    for (struct session_wait **pp = &w->entry->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    free(w);
    /* The refresh itself goes on: its result is cached for the next request. */
}

void session_invalidate(struct session_mgr *m, const char *refresh_token,
                        const char *access_token)
{
    struct strmap_node *n = strmap_get(&m->index, refresh_token);
    struct session_entry *e = n ? STRMAP_ENTRY(n, struct session_entry, by_original) : NULL;
    if (e && e->access && (!access_token || strcmp(e->access, access_token) == 0)) {
        if (m->shared) {
            /* Redis may hold it too: the next refresh must not take it back. */
            free(e->stale_access);
            e->stale_access = e->access;
            e->access = NULL;
        }
        free(e->access);
        e->access = NULL;
        e->expires = 0;
    }
}

int session_is_guest(struct session_mgr *m, const char *refresh_token)
{
    struct strmap_node *n = strmap_get(&m->index, refresh_token);
    return n && STRMAP_ENTRY(n, struct session_entry, by_original)->guest;
}

unsigned long session_refreshes(const struct session_mgr *m)
{
    return m->refreshes;
}

/* Calls every waiter; each is unlinked before its callback so that callbacks
 * may start new gets (even on this entry) safely. */
static void notify(struct session_entry *e, enum session_result res, const char *detail)
{
    e->refreshing = 0;
    shared_unlock(e->rlock);
    e->rlock = NULL;
    while (e->waiters) {
        struct session_wait *w = e->waiters;
        e->waiters = w->next;
        session_fn *fn = w->fn;
        void *arg = w->arg;
        free(w);
        fn(arg, res, e->access, detail);
    }
}

static void refresh_done(struct xfer *c, enum xfer_result res, long status, const char *body,
                         size_t len, void *arg)
{
    struct session_entry *e = arg;
    e->call = NULL;
    char detail[400] = "";
    enum session_result out = SESSION_FAILED;
    json_t *j = NULL;

    if (res == XFER_TIMEOUT) {
        snprintf(detail, sizeof(detail), "the token refresh timed out");
        out = SESSION_TIMEOUT;
        goto out;
    }
    if (res != XFER_OK) {
        snprintf(detail, sizeof(detail), "the token refresh failed: %s", xfer_error(c));
        goto out;
    }
    j = json_loadb(body, len, 0, NULL);
    struct glm_answer ans;
    glm_answer_read_json(status, j, 0, &ans);
    long long code = ans.code;
    const char *message = ans.message;
    if (ans.verdict == GLM_AUTH_REFUSED) {
        out = SESSION_REJECTED;
        snprintf(detail, sizeof(detail), "chatglm.cn rejected the refresh token (HTTP %ld, %lld)",
                 status, code);
        goto out;
    }
    json_t *result = json_object_get(j, "result");
    json_t *at = json_object_get(result, "access_token");
    if (!json_is_string(at))
        at = json_object_get(result, "accessToken");
    if (status != 200 || !json_is_object(j) || code != 0 || !json_is_string(at) ||
        !json_string_length(at)) {
        /* Only the message field is quoted: a body may carry tokens. */
        char esc[260];
        log_escape(message, strlen(message), esc);
        snprintf(detail, sizeof(detail), "unexpected token refresh answer (HTTP %ld, %s%s%s)",
                 status, json_is_object(j) ? "message \"" : "not JSON",
                 json_is_object(j) ? esc : "", json_is_object(j) ? "\"" : "");
        goto out;
    }
    free(e->access);
    e->access = xstrdup(json_string_value(at));
    e->guest = json_is_true(json_object_get(result, "is_guest"));
    long long now = time(NULL), exp;
    if (session_jwt_exp(e->access, &exp) == 0)
        e->expires = session_expiry(now, exp);
    else
        e->expires = now + cfg.token_ttl;
    json_t *rt = json_object_get(result, "refresh_token");
    if (json_is_string(rt) && json_string_length(rt) && strcmp(json_string_value(rt), e->current)) {
        free(e->current);
        e->current = xstrdup(json_string_value(rt));
        if (e->mgr->shared)
            /* With its access token, in one write, under the refresh lock. */
            store_redis_write(e->mgr->store, e->key, e->current, e->access, e->expires);
        else if (store_put_rotated(e->mgr->store, e->key, e->current) < 0)
            LOG(LOG_ERROR, "account %s: the rotated refresh token could not be saved; it will be "
                           "lost at restart", e->fp);
        else
            LOG(LOG_INFO, "account %s: the site rotated its refresh token (saved)", e->fp);
    } else if (e->mgr->shared) {
        store_redis_write(e->mgr->store, e->key, NULL, e->access, e->expires);
    }
    out = SESSION_OK;
    if (e->guest) {
        out = SESSION_GUEST;
        snprintf(detail, sizeof(detail),
                 "the refresh token is a guest's (a visitor of chatglm.cn), not a login");
    }
out:
    json_decref(j);
    metrics_refresh(out == SESSION_OK || out == SESSION_GUEST ? "ok" : out == SESSION_REJECTED ? "rejected"
                    : out == SESSION_TIMEOUT ? "timeout" : "failed");
    /* A rotated token that is refused: the site may have restored the user's
     * original (or never really rotated), so try that once. */
    if (out == SESSION_REJECTED && strcmp(e->current, e->original) != 0 && !e->tried_original) {
        e->tried_original = 1;
        free(e->current);
        e->current = xstrdup(e->original);
        do_refresh(e);
        if (e->call)
            return;
    }
    if (out == SESSION_REJECTED) {
        /* An access token cached from before is of a login the site refused
         * now: the account's next use (a re-check) must refresh. */
        free(e->access);
        e->access = NULL;
        e->expires = 0;
    }
    if (out != SESSION_OK)
        LOG(LOG_WARN, "account %s: %s", e->fp, detail);
    notify(e, out, out == SESSION_OK ? NULL : detail);
}

static void store_unreachable(struct session_entry *e, const char *err)
{
    /* Refreshing with the user's token now could use one the site has
     * rotated out: better no answer than a dead account. */
    char detail[300];
    snprintf(detail, sizeof(detail), "the account store (%s) cannot be reached: %s; retry in a "
             "moment", e->mgr->store ? e->mgr->store->name : "none", err);
    LOG(LOG_WARN, "account %s: %s", e->fp, detail);
    notify(e, SESSION_UNAVAILABLE, detail);
}

/* The stored refresh token (if any) becomes the one to refresh with; -1
 * (and the waiters told) when the store could not answer. */
static int take_stored(struct session_entry *e, const char *token, const char *err)
{
    e->lookup = NULL;
    if (err) {
        store_unreachable(e, err);
        return -1;
    }
    if (token && strcmp(token, e->current) != 0) {
        free(e->current);
        e->current = xstrdup(token);
    }
    e->loaded = 1;
    return 0;
}

static void stored_token(void *arg, const char *token, const char *err)
{
    struct session_entry *e = arg;
    if (take_stored(e, token, err) == 0)
        do_refresh(e);
}

/* Shared: under the refresh lock, the record as the last refresher left it. */
static void record_read(void *arg, const char *token, const char *access, long long expires,
                        const char *err)
{
    struct session_entry *e = arg;
    if (take_stored(e, token, err) < 0)
        return;
    if (!e->force && access && expires > time(NULL) &&
        !(e->stale_access && strcmp(access, e->stale_access) == 0)) {
        /* Another replica refreshed a moment ago: its result serves. */
        free(e->access);
        e->access = xstrdup(access);
        e->expires = expires;
        notify(e, SESSION_OK, NULL);
        return;
    }
    do_refresh(e);
}

static void refresh_locked(void *arg, struct shared_lock *l, enum shared_error err,
                           const char *detail)
{
    struct session_entry *e = arg;
    e->rlock_wait = NULL;
    if (err != SHARED_OK) {
        char why[300];
        snprintf(why, sizeof(why), "the token refresh lock could not be taken: %s", detail);
        LOG(LOG_WARN, "account %s: %s", e->fp, why);
        notify(e, err == SHARED_UNAVAILABLE ? SESSION_UNAVAILABLE : SESSION_TIMEOUT, why);
        return;
    }
    e->rlock = l;
    e->lookup = store_redis_read(e->mgr->store, e->key, record_read, e);
}

static void start_refresh(struct session_entry *e)
{
    e->refreshing = 1;
    if (e->mgr->shared) {
        /* One refresh of an account at a time across the replicas: the
         * site rotates the refresh token, and the old one dies. */
        char name[80];
        memcpy(name, "refresh:", 8);
        memcpy(name + 8, e->key, sizeof(e->key));
        long ttl = (cfg.refresh_timeout + 5) * 1000;
        e->rlock_wait = shared_lock(e->mgr->shared, name, ttl, 2 * ttl, refresh_locked, e);
        return;
    }
    if (!e->loaded) {
        /* SQLite answers at once (stored_token runs inside), Redis later. */
        struct store_lookup *l = store_lookup(e->mgr->store, e->key, stored_token, e);
        if (!e->loaded && !e->call && e->refreshing)
            e->lookup = l;
        return;
    }
    do_refresh(e);
}

static void do_refresh(struct session_entry *e)
{
    const struct glm_call c = {
        .path = cfg.path_refresh,
        .token = e->current,
        .body = "{}",
        .body_len = 2,
        .idle_timeout = cfg.refresh_timeout,
        .total_timeout = cfg.refresh_timeout,
        .max_body = 256 * 1024,
    };
    static const struct xfer_cbs cbs = { .on_done = refresh_done };
    e->mgr->refreshes++;
    e->call = glm_call_start(e->mgr->loop, &c, &cbs, e);
    if (!e->call)
        notify(e, SESSION_FAILED, "could not start the token refresh");
}
