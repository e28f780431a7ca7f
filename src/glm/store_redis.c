/* The account store in Redis: the same records as the SQLite store (the
 * refresh token the site rotated an account to, keyed by the sha256 of the
 * token the user gave), one hash per record:
 *   <prefix>rotated:<sha256 hex>  token <refresh token>  updated <unix s>
 * Everything goes through net/redis, asynchronously. */
#include "glm/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "net/redis.h"
#include "util/xalloc.h"

struct redis_store {
    struct store base;
    struct redis *r;
    char prefix[128];
};

struct store_lookup {
    struct redis_cmd *cmd;
    store_lookup_fn *fn;
    store_record_fn *record_fn;
    void *arg;
};

static void record_key(const struct redis_store *q, const char *key, char *out, size_t cap)
{
    snprintf(out, cap, "%srotated:%s", q->prefix, key);
}

static void lookup_done(void *arg, struct redisReply *reply, const char *err)
{
    struct store_lookup *l = arg;
    if (err)
        l->fn(l->arg, NULL, err);
    else if (reply->type == REDIS_REPLY_STRING && reply->len > 0)
        l->fn(l->arg, reply->str, NULL);
    else if (reply->type == REDIS_REPLY_NIL || reply->type == REDIS_REPLY_STRING)
        l->fn(l->arg, NULL, NULL);
    else
        l->fn(l->arg, NULL, "Redis answered the account lookup with an error");
    free(l);
}

/* A write whose result is only logged: the key's fingerprint-free label. */
static void write_done(void *arg, struct redisReply *reply, const char *err)
{
    (void)arg;
    if (err || reply->type == REDIS_REPLY_ERROR)
        LOG(LOG_ERROR, "account store (Redis): write failed: %s",
            err ? err : reply->str ? reply->str : "error");
}

static const char *field(const redisReply *r, size_t i)
{
    return r->type == REDIS_REPLY_ARRAY && i < r->elements &&
                   r->element[i]->type == REDIS_REPLY_STRING && r->element[i]->len > 0
               ? r->element[i]->str : NULL;
}

static void record_done(void *arg, struct redisReply *reply, const char *err)
{
    struct store_lookup *l = arg;
    if (!err && reply->type != REDIS_REPLY_ARRAY)
        err = "Redis answered the account lookup with an error";
    if (err) {
        l->record_fn(l->arg, NULL, NULL, 0, err);
    } else {
        const char *exp = field(reply, 2);
        l->record_fn(l->arg, field(reply, 0), field(reply, 1), exp ? atoll(exp) : 0, NULL);
    }
    free(l);
}

struct store_lookup *store_redis_read(struct store *s, const char *key, store_record_fn *fn,
                                      void *arg)
{
    struct redis_store *q = (struct redis_store *)s;
    char k[256];
    record_key(q, key, k, sizeof(k));
    struct store_lookup *l = xcalloc(1, sizeof(*l));
    l->record_fn = fn;
    l->arg = arg;
    l->cmd = redis_cmdf(q->r, record_done, l, "HMGET %s token access expires", k);
    return l;
}

void store_redis_write(struct store *s, const char *key, const char *token, const char *access,
                       long long expires)
{
    struct redis_store *q = (struct redis_store *)s;
    char k[256], now[24], exp[24];
    record_key(q, key, k, sizeof(k));
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    snprintf(exp, sizeof(exp), "%lld", expires);
    if (token)
        redis_cmdf(q->r, write_done, NULL, "HSET %s token %s access %s expires %s updated %s", k,
                   token, access, exp, now);
    else
        redis_cmdf(q->r, write_done, NULL, "HSET %s access %s expires %s", k, access, exp);
}

static struct store_lookup *rs_lookup(struct store *s, const char *key, store_lookup_fn *fn,
                                      void *arg)
{
    struct redis_store *q = (struct redis_store *)s;
    char k[256];
    record_key(q, key, k, sizeof(k));
    struct store_lookup *l = xcalloc(1, sizeof(*l));
    l->fn = fn;
    l->arg = arg;
    l->cmd = redis_cmdf(q->r, lookup_done, l, "HGET %s token", k);
    return l;
}

static void rs_cancel(struct store *s, struct store_lookup *l)
{
    (void)s;
    redis_cancel(l->cmd);
    free(l);
}

static int rs_put(struct store *s, const char *key, const char *token)
{
    struct redis_store *q = (struct redis_store *)s;
    char k[256], now[24];
    record_key(q, key, k, sizeof(k));
    snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
    redis_cmdf(q->r, write_done, NULL, "HSET %s token %s updated %s", k, token, now);
    return redis_up(q->r) ? 0 : -1;
}

static int rs_forget(struct store *s, const char *key)
{
    struct redis_store *q = (struct redis_store *)s;
    char k[256];
    record_key(q, key, k, sizeof(k));
    redis_cmdf(q->r, write_done, NULL, "DEL %s", k);
    return redis_up(q->r) ? 0 : -1;
}

static void rs_close(struct store *s)
{
    free(s);
}

/* No job ops yet: api/videos.c keeps its jobs in a SQLite store of its own. */
static const struct store_ops redis_ops = {
    .lookup = rs_lookup, .cancel = rs_cancel, .put_rotated = rs_put, .forget = rs_forget,
    .close = rs_close,
};

struct store *store_open_redis(struct redis *r, const char *prefix)
{
    struct redis_store *q = xcalloc(1, sizeof(*q));
    q->base.ops = &redis_ops;
    q->base.name = "Redis";
    q->r = r;
    snprintf(q->prefix, sizeof(q->prefix), "%s", prefix ? prefix : "");
    return &q->base;
}

struct import {
    void (*done)(void *arg, int written, const char *err);
    void *arg;
};

static void import_done(void *arg, struct redisReply *reply, const char *err)
{
    struct import *im = arg;
    if (!err && reply->type == REDIS_REPLY_ERROR)
        err = reply->str ? reply->str : "Redis refused the write";
    im->done(im->arg, !err && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1, err);
    free(im);
}

void store_redis_import(struct store *s, const char *key, const char *token, long long updated,
                        void (*done)(void *arg, int written, const char *err), void *arg)
{
    /* A record Redis has already, as new or newer, wins. */
    static const char script[] =
        "local u = tonumber(redis.call('HGET', KEYS[1], 'updated') or '-1') "
        "if u >= tonumber(ARGV[2]) then return 0 end "
        "redis.call('HSET', KEYS[1], 'token', ARGV[1], 'updated', ARGV[2]) return 1";
    struct redis_store *q = (struct redis_store *)s;
    char k[256], when[24];
    record_key(q, key, k, sizeof(k));
    snprintf(when, sizeof(when), "%lld", updated);
    struct import *im = xcalloc(1, sizeof(*im));
    im->done = done;
    im->arg = arg;
    redis_cmdf(q->r, import_done, im, "EVAL %s 1 %s %s %s", script, k, token, when);
}
