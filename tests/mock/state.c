#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map.h"
#include "misc.h"
#include "util/crypto.h"
#include "util/xalloc.h"

/* Caps on the tables so a runaway client cannot grow the mock forever. */
#define MAX_TOKENS 200000
#define MAX_CONVS 200000
#define REFRESH_TTL 15552000L /* 180 days, as captured */

enum acct_state {
    ACCT_OK, ACCT_DEAD, ACCT_BUSY, ACCT_FLAKY,
    /* every refresh answers one fault (see enum mock_refresh) */
    ACCT_REFRESH_HTML, ACCT_REFRESH_EMPTY, ACCT_REFRESH_BADJSON, ACCT_REFRESH_500,
    ACCT_GUEST, /* refreshes succeed with "is_guest":true (a visitor's token) */
    ACCT_STATES
};

static const char *const acct_state_names[ACCT_STATES] = {
    "ok", "dead", "busy", "flaky", "refresh-html", "refresh-empty", "refresh-badjson", "refresh-500",
    "guest",
};

struct account {
    char uid[25];
    enum acct_state state;
    unsigned flaky_attempts;  /* refreshes since the account became flaky */
    int streams_open;
};

struct rtoken {
    struct account *acct;  /* borrowed from the accounts table */
    int rotated;           /* a refresh with it already issued a successor */
};

struct atoken {
    struct account *acct;
    uint64_t exp_ms;
};

struct conv {
    char uid[25];
    char *assistant_id;
    int deleted;
    int turns;
};

struct mock_state {
    struct mock_settings settings;
    unsigned epoch;
    struct mock_map *accounts;  /* uid -> account */
    struct mock_map *rtokens;   /* refresh token -> rtoken */
    struct mock_map *atokens;   /* access token -> atoken */
    struct mock_map *convs;     /* conversation id -> conv */
    json_t *records[MOCK_MAX_RECORDS];  /* a ring */
    size_t rec_start, rec_count;
    long streams_open, max_concurrent, overlaps, deletes, refreshes;
};

static void conv_free(void *p)
{
    struct conv *c = p;
    if (c)
        free(c->assistant_id);
    free(c);
}

static void tables_new(struct mock_state *s)
{
    s->accounts = mock_map_new(free);
    s->rtokens = mock_map_new(free);
    s->atokens = mock_map_new(free);
    s->convs = mock_map_new(conv_free);
}

static void tables_free(struct mock_state *s)
{
    /* Tokens point at accounts, so they go first. */
    mock_map_free(s->rtokens);
    mock_map_free(s->atokens);
    mock_map_free(s->accounts);
    mock_map_free(s->convs);
    for (size_t i = 0; i < s->rec_count; i++)
        json_decref(s->records[(s->rec_start + i) % MOCK_MAX_RECORDS]);
    s->rec_start = s->rec_count = 0;
}

static void settings_default(struct mock_settings *st)
{
    memset(st, 0, sizeof(*st));
    st->profile = MOCK_PROFILE_V1;
    st->signature = 1;
    st->access_ttl = 86400;
}

struct mock_state *mock_state_new(void)
{
    struct mock_state *s = xcalloc(1, sizeof(*s));
    settings_default(&s->settings);
    tables_new(s);
    return s;
}

void mock_state_free(struct mock_state *s)
{
    if (!s)
        return;
    tables_free(s);
    free(s);
}

void mock_state_reset(struct mock_state *s)
{
    tables_free(s);
    tables_new(s);
    settings_default(&s->settings);
    s->epoch++;
    s->max_concurrent = s->overlaps = s->deletes = s->refreshes = 0;
}

unsigned mock_state_epoch(const struct mock_state *s)
{
    return s->epoch;
}

const struct mock_settings *mock_state_settings(const struct mock_state *s)
{
    return &s->settings;
}

static int check_bool(json_t *v, const char *key, char *err, size_t errlen)
{
    if (json_is_boolean(v))
        return 0;
    snprintf(err, errlen, "%s must be true or false", key);
    return -1;
}

static int check_int(json_t *v, const char *key, long lo, long hi, char *err, size_t errlen)
{
    if (json_is_integer(v) && json_integer_value(v) >= lo && json_integer_value(v) <= hi)
        return 0;
    snprintf(err, errlen, "%s must be an integer from %ld to %ld", key, lo, hi);
    return -1;
}

int mock_state_configure(struct mock_state *s, json_t *patch, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    if (!json_is_object(patch)) {
        snprintf(err, errlen, "the body must be a JSON object");
        return -1;
    }
    json_object_foreach(patch, key, v) {
        int rc;
        if (strcmp(key, "profile") == 0) {
            const char *p = json_string_value(v);
            rc = p && (strcmp(p, "v1") == 0 || strcmp(p, "v2") == 0 || strcmp(p, "whole") == 0)
                     ? 0 : -1;
            if (rc < 0)
                snprintf(err, errlen, "profile must be \"v1\", \"v2\" or \"whole\"");
        } else if (strcmp(key, "space") == 0 || strcmp(key, "crlf") == 0 ||
                   strcmp(key, "ascii") == 0 || strcmp(key, "signature") == 0 ||
                   strcmp(key, "strict_rotation") == 0)
            rc = check_bool(v, key, err, errlen);
        else if (strcmp(key, "delay_ms") == 0)
            rc = check_int(v, key, 0, 600000, err, errlen);
        else if (strcmp(key, "access_ttl") == 0)
            rc = check_int(v, key, 0, 10L * 365 * 86400, err, errlen);
        else {
            snprintf(err, errlen, "unknown setting \"%.64s\"", key);
            rc = -1;
        }
        if (rc < 0)
            return -1;
    }
    struct mock_settings *st = &s->settings;
    json_object_foreach(patch, key, v) {
        if (strcmp(key, "profile") == 0)
            st->profile = strcmp(json_string_value(v), "v2") == 0      ? MOCK_PROFILE_V2
                        : strcmp(json_string_value(v), "whole") == 0 ? MOCK_PROFILE_WHOLE
                                                                     : MOCK_PROFILE_V1;
        else if (strcmp(key, "space") == 0)
            st->space = json_is_true(v);
        else if (strcmp(key, "crlf") == 0)
            st->crlf = json_is_true(v);
        else if (strcmp(key, "ascii") == 0)
            st->ascii = json_is_true(v);
        else if (strcmp(key, "signature") == 0)
            st->signature = json_is_true(v);
        else if (strcmp(key, "strict_rotation") == 0)
            st->strict_rotation = json_is_true(v);
        else if (strcmp(key, "delay_ms") == 0)
            st->delay_ms = (int)json_integer_value(v);
        else if (strcmp(key, "access_ttl") == 0)
            st->access_ttl = (long)json_integer_value(v);
    }
    return 0;
}

json_t *mock_state_settings_json(const struct mock_state *s)
{
    const struct mock_settings *st = &s->settings;
    return json_pack("{s:s, s:b, s:b, s:b, s:i, s:b, s:b, s:I}",
                     "profile", st->profile == MOCK_PROFILE_V2 ? "v2" : st->profile == MOCK_PROFILE_WHOLE ? "whole" : "v1",
                     "space", st->space, "crlf", st->crlf, "ascii", st->ascii,
                     "delay_ms", st->delay_ms, "signature", st->signature,
                     "strict_rotation", st->strict_rotation,
                     "access_ttl", (json_int_t)st->access_ttl);
}

/* A JWT-shaped token: header.payload.signature, base64url. Nobody verifies the
 * signature, so it is random bytes; jti makes every token unique. The claims
 * are the 2026 ones (spec 12.1): exp, uid and device_id, the account's own
 * (md5 of its uid: stable per account). */
static char *make_jwt(const char *uid, const char *type, long ttl)
{
    char sub[33], jti[33], device_id[33];
    crypto_md5_hex(uid, strlen(uid), device_id);
    unsigned char sig[32];
    crypto_random_hex(sub, 16);
    crypto_random_hex(jti, 16);
    for (size_t i = 0; i < sizeof(sig); i += 8) {
        uint64_t r = crypto_random_u64();
        memcpy(sig + i, &r, 8);
    }
    json_int_t now = (json_int_t)(mock_now_ms() / 1000);
    json_t *payload = json_pack("{s:s, s:I, s:I, s:I, s:s, s:s, s:s, s:s}", "sub", sub,
                                "exp", now + (json_int_t)ttl, "nbf", now, "iat", now,
                                "jti", jti, "uid", uid, "device_id", device_id, "type", type);
    char *pj = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *h = mock_base64url(header, sizeof(header) - 1);
    char *p = mock_base64url(pj, strlen(pj));
    char *g = mock_base64url(sig, sizeof(sig));
    size_t n = strlen(h) + strlen(p) + strlen(g) + 3;
    char *out = xmalloc(n);
    snprintf(out, n, "%s.%s.%s", h, p, g);
    free(h);
    free(p);
    free(g);
    free(pj);
    json_decref(payload);
    return out;
}

/* The refresh-token entry for token, creating its account when it is new.
 * The uid is derived from the token, so the same first token always maps to
 * the same account, even after a reset. */
static struct rtoken *rtoken_get(struct mock_state *s, const char *token)
{
    struct rtoken *rt = mock_map_get(s->rtokens, token);
    if (rt)
        return rt;
    char md5[33];
    crypto_md5_hex(token, strlen(token), md5);
    md5[24] = '\0';
    struct account *a = mock_map_get(s->accounts, md5);
    if (!a) {
        a = xcalloc(1, sizeof(*a));
        memcpy(a->uid, md5, 25);
        mock_map_put(s->accounts, a->uid, a);
    }
    rt = xcalloc(1, sizeof(*rt));
    rt->acct = a;
    mock_map_put(s->rtokens, token, rt);
    return rt;
}

enum mock_refresh mock_state_refresh(struct mock_state *s, const char *token, int rotate,
                                     struct mock_refresh_out *out)
{
    memset(out, 0, sizeof(*out));
    if (!token || !*token || strncmp(token, "dead", 4) == 0)
        return MOCK_REFRESH_REJECTED;
    if (!mock_map_get(s->rtokens, token) && mock_map_count(s->rtokens) >= MAX_TOKENS)
        return MOCK_REFRESH_FULL;
    struct rtoken *rt = rtoken_get(s, token);
    struct account *a = rt->acct;
    if (a->state == ACCT_DEAD || (s->settings.strict_rotation && rt->rotated))
        return MOCK_REFRESH_REJECTED;
    if (a->state == ACCT_FLAKY && ++a->flaky_attempts % 2 == 1)
        return MOCK_REFRESH_FLAKY;
    switch (a->state) {
    case ACCT_REFRESH_HTML: return MOCK_REFRESH_HTML;
    case ACCT_REFRESH_EMPTY: return MOCK_REFRESH_EMPTY;
    case ACCT_REFRESH_BADJSON: return MOCK_REFRESH_BADJSON;
    case ACCT_REFRESH_500: return MOCK_REFRESH_500;
    default: break;
    }
    if (mock_map_count(s->atokens) >= MAX_TOKENS ||
        (rotate && mock_map_count(s->rtokens) >= MAX_TOKENS))
        return MOCK_REFRESH_FULL;

    memcpy(out->uid, a->uid, 25);
    out->guest = a->state == ACCT_GUEST;
    out->access_token = make_jwt(a->uid, "access", s->settings.access_ttl);
    struct atoken *at = xcalloc(1, sizeof(*at));
    at->acct = a;
    at->exp_ms = mock_now_ms() + (uint64_t)s->settings.access_ttl * 1000u;
    mock_map_put(s->atokens, out->access_token, at);
    if (rotate) {
        out->refresh_token = make_jwt(a->uid, "refresh", REFRESH_TTL);
        struct rtoken *next = xcalloc(1, sizeof(*next));
        next->acct = a;
        mock_map_put(s->rtokens, out->refresh_token, next);
        rt->rotated = 1;
    }
    return MOCK_REFRESH_OK;
}

int mock_state_set_token(struct mock_state *s, const char *token, const char *state,
                         char uid[25])
{
    int st = -1;
    for (int i = 0; i < ACCT_STATES; i++)
        if (strcmp(state, acct_state_names[i]) == 0)
            st = i;
    if (st < 0 || !*token)
        return -1;
    struct account *a = rtoken_get(s, token)->acct;
    a->state = (enum acct_state)st;
    a->flaky_attempts = 0;
    memcpy(uid, a->uid, 25);
    return 0;
}

void mock_state_expire(struct mock_state *s)
{
    mock_map_free(s->atokens);
    s->atokens = mock_map_new(free);
}

const char *mock_state_access_uid(const struct mock_state *s, const char *token)
{
    struct atoken *at = token ? mock_map_get(s->atokens, token) : NULL;
    if (!at || mock_now_ms() >= at->exp_ms || at->acct->state == ACCT_DEAD)
        return NULL;
    return at->acct->uid;
}

int mock_state_stream_begin(struct mock_state *s, const char *uid)
{
    struct account *a = mock_map_get(s->accounts, uid);
    if (!a || a->state == ACCT_BUSY)
        return -1;
    if (a->streams_open > 0) {
        s->overlaps++;
        if (a->streams_open + 1 > s->max_concurrent)
            s->max_concurrent = a->streams_open + 1;
        return -1;
    }
    a->streams_open++;
    s->streams_open++;
    if (a->streams_open > s->max_concurrent)
        s->max_concurrent = a->streams_open;
    return 0;
}

void mock_state_stream_end(struct mock_state *s, const char *uid, unsigned epoch)
{
    s->streams_open--;
    if (epoch != s->epoch)
        return;
    struct account *a = mock_map_get(s->accounts, uid);
    if (a && a->streams_open > 0)
        a->streams_open--;
}

int mock_state_conv_add(struct mock_state *s, const char *id, const char *uid,
                        const char *assistant_id)
{
    if (mock_map_count(s->convs) >= MAX_CONVS)
        return -1;
    struct conv *c = xcalloc(1, sizeof(*c));
    snprintf(c->uid, sizeof(c->uid), "%s", uid);
    c->assistant_id = xstrdup(assistant_id);
    c->turns = 1;
    mock_map_put(s->convs, id, c);
    return 0;
}

int mock_state_conv_continue(struct mock_state *s, const char *id, const char *uid)
{
    struct conv *c = mock_map_get(s->convs, id);
    if (!c || strcmp(c->uid, uid) != 0)
        return 0;
    c->turns++;
    return 1;
}

void mock_state_conv_delete(struct mock_state *s, const char *id)
{
    s->deletes++;
    struct conv *c = mock_map_get(s->convs, id);
    if (c)
        c->deleted = 1;
}

void mock_state_count_refresh(struct mock_state *s)
{
    s->refreshes++;
}

void mock_state_record(struct mock_state *s, json_t *rec)
{
    if (s->rec_count == MOCK_MAX_RECORDS) {
        json_decref(s->records[s->rec_start]);
        s->records[s->rec_start] = rec;
        s->rec_start = (s->rec_start + 1) % MOCK_MAX_RECORDS;
        return;
    }
    s->records[(s->rec_start + s->rec_count) % MOCK_MAX_RECORDS] = rec;
    s->rec_count++;
}

json_t *mock_state_records_json(const struct mock_state *s)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < s->rec_count; i++)
        json_array_append(arr, s->records[(s->rec_start + i) % MOCK_MAX_RECORDS]);
    return arr;
}

json_t *mock_state_stats_json(const struct mock_state *s)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I}", "streams_open", (json_int_t)s->streams_open,
                     "max_concurrent_per_uid", (json_int_t)s->max_concurrent,
                     "overlaps", (json_int_t)s->overlaps, "deletes", (json_int_t)s->deletes,
                     "refreshes", (json_int_t)s->refreshes);
}

static void conv_to_json(const char *key, void *value, void *arg)
{
    struct conv *c = value;
    json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:b, s:i}", "id", key, "uid", c->uid,
                                         "assistant_id", c->assistant_id, "deleted", c->deleted,
                                         "turns", c->turns));
}

json_t *mock_state_conversations_json(const struct mock_state *s)
{
    json_t *arr = json_array();
    mock_map_each(s->convs, conv_to_json, arr);
    return arr;
}
