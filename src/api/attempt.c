/* The account flow of a chat or image job: lease, access token, stream call,
 * fail-over. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "api/attempt.h"
#include "api/job.h"
#include "app.h"
#include "config.h"
#include "glm/answer.h"
#include "glm/session.h"
#include "glm/shared.h"
#include "glm/store.h"
#include "log.h"
#include "metrics.h"
#include "util/crypto.h"
#include "util/xalloc.h"

void attempt_init(struct attempt *at, struct job *job, struct account_set *cands,
                  void (*start)(void *self), void *self)
{
    *at = (struct attempt){ .job = job, .start = start, .self = self, .cands = cands,
                            .ncands = accounts_set_size(cands) };
    snprintf(at->rid, sizeof(at->rid), "%s", job->rid);
    clock_gettime(CLOCK_MONOTONIC, &at->t0);
}

void attempt_free(struct attempt *at)
{
    attempt_release(at, ACCOUNT_NEUTRAL, NULL);
    accounts_set_unref(app.accounts, at->cands);
    free(at->tried);
    free(at->token);
    free(at->access);
}

/* ---- lease and access token -------------------------------------------- */

static void on_token(void *arg, enum session_result res, const char *access, const char *detail)
{
    struct attempt *at = arg;
    at->wait = NULL;
    /* Possibly called from inside session_get: the reap pass checks the
     * holders later, from the loop. */
    job_release(at->job, JOB_TOKEN);
    switch (res) {
    case SESSION_OK:
        free(at->access);
        at->access = xstrdup(access);
        at->start(at->self);
        break;
    case SESSION_REJECTED:
        attempt_fail(at, ACCOUNT_REJECTED, 401, "invalid_refresh_token",
                     "chatglm.cn rejected the refresh token of account %s: it is invalid or "
                     "expired. Log in to chatglm.cn again and copy the chatglm_refresh_token "
                     "cookie.", at->fp);
        break;
    case SESSION_GUEST:
        /* A visitor's token works with a tiny quota and no account: not a
         * login, so the account is not used (spec 12.1, "Guests"). */
        attempt_fail(at, ACCOUNT_REJECTED, 401, "guest_token",
                     "the refresh token of account %s is a guest's (a visitor of chatglm.cn), "
                     "not a login. Log in to chatglm.cn and copy the chatglm_refresh_token "
                     "cookie of your account.", at->fp);
        break;
    case SESSION_TIMEOUT:
        attempt_fail(at, ACCOUNT_TRANSIENT, 504, "upstream_timeout", "%s", detail);
        break;
    case SESSION_FAILED:
        attempt_fail(at, ACCOUNT_TRANSIENT, 502, "upstream_error", "%s", detail);
        break;
    case SESSION_UNAVAILABLE:
        /* Not the account's fault, and every other account needs the store too. */
        attempt_release(at, ACCOUNT_NEUTRAL, NULL);
        job_failf(at->job, 503, "state_unavailable", "%s", detail);
        break;
    }
}

static void get_token(struct attempt *at)
{
    at->wait = NULL;
    job_hold(at->job, JOB_TOKEN);
    struct session_wait *w = session_get(app.sessions, at->token, on_token, at);
    /* on_token may already have run (cached token) and set a new wait. */
    if (w)
        at->wait = w;
}

/* No account is left: the job answers; a 429 or 503 says when the soonest
 * account of this request is usable again (Retry-After). */
static void report(struct attempt *at, struct api_error *e)
{
    e->retry_after = (int)accounts_set_retry_after(app.accounts, at->cands);
    job_fail(at->job, e);
}

static void reportf(struct attempt *at, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void reportf(struct attempt *at, int status, const char *code, const char *fmt, ...)
{
    struct api_error e;
    char msg[sizeof(e.message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_error_set(&e, status, NULL, code, NULL, "%s", msg);
    report(at, &e);
}

/* state = redis: the account's lease across the replicas came (or not). */
static void on_shared_lease(void *arg, struct shared_lock *l, enum shared_error err,
                            const char *detail)
{
    struct attempt *at = arg;
    at->swait = NULL;
    job_release(at->job, JOB_LEASE);
    if (err == SHARED_OK) {
        at->slease = l;
        at->then(at);
        return;
    }
    attempt_release(at, ACCOUNT_NEUTRAL, NULL);
    if (err == SHARED_UNAVAILABLE)
        job_failf(at->job, 503, "state_unavailable", "%s; retry in a moment", detail);
    else
        job_failf(at->job, 429, "accounts_busy",
                  "account %s stayed busy on another replica (%s) for %ld s; retry later",
                  at->fp, detail, cfg.queue_wait);
}

void attempt_share(struct attempt *at, void (*then)(struct attempt *at))
{
    if (!app.shared) {
        then(at);
        return;
    }
    /* One generation per account across every replica: this one's queue
     * picked the account, Redis says whether another has it. */
    char name[80];
    memcpy(name, "lease:", 6);
    store_key(at->token, name + 6);
    at->then = then;
    job_hold(at->job, JOB_LEASE);
    at->swait = shared_lock(app.shared, name, cfg.lease_ttl_ms, cfg.queue_wait * 1000,
                            on_shared_lease, at);
}

static void on_lease(void *arg, struct account *a, enum lease_error err)
{
    struct attempt *at = arg;
    at->lwait = NULL;
    job_release(at->job, JOB_LEASE);
    if (err == LEASE_OK) {
        at->account = a;
        free(at->token);
        at->token = xstrdup(account_token(a));
        crypto_fingerprint(at->token, at->fp);
        attempt_share(at, get_token);
    } else if (err == LEASE_ALL_DEAD) {
        reportf(at, 401, "invalid_refresh_token",
                "every account this request may use is dead (chatglm.cn rejected their "
                "refresh tokens): log in to chatglm.cn again and copy a new "
                "chatglm_refresh_token cookie");
    } else if (err == LEASE_COOLING && !at->last.status) {
        reportf(at, 429, "accounts_cooling",
                "every account this request may use is resting after chatglm.cn said it was "
                "busy or failed; the soonest is usable again in %ld s (see Retry-After)",
                accounts_set_retry_after(app.accounts, at->cands));
    } else if (err == LEASE_QUEUE_FULL || err == LEASE_TIMEOUT) {
        reportf(at, 429, "accounts_busy",
                err == LEASE_QUEUE_FULL
                    ? "every account is busy and the waiting queue is full; retry later"
                    : "every account stayed busy for %ld s; retry later (chatglm.cn allows "
                      "one answer at a time per account: more accounts serve more at once)",
                cfg.queue_wait);
    } else if (at->last.status) {
        /* Every usable account failed already: the last failure says why. */
        report(at, &at->last);
    } else {
        reportf(at, 502, "upstream_error", "no usable account is left for this request");
    }
}

void attempt_lease(struct attempt *at)
{
    job_hold(at->job, JOB_LEASE);
    struct account_wait *w = accounts_lease_set(app.accounts, at->cands, at->tried, at->ntried,
                                                on_lease, at);
    /* on_lease may already have run (an idle account) and left no wait. */
    if (w)
        at->lwait = w;
}

/* A conversation is owned for as long as the site keeps it, at most this. */
#define CONV_OWNER_TTL (30L * 86400)

static void on_owner(void *arg, const char *owner, const char *err)
{
    struct attempt *at = arg;
    at->pin = NULL;
    job_release(at->job, JOB_LEASE);
    if (owner && !err) {
        /* Every other candidate counts as tried: only the owner is leased. */
        struct account *own = NULL;
        for (size_t i = 0; i < at->ncands && !own; i++) {
            char key[65];
            store_key(account_token(accounts_set_at(at->cands, i)), key);
            if (strcmp(key, owner) == 0)
                own = accounts_set_at(at->cands, i);
        }
        if (own) {
            at->tried = xrealloc(at->tried, (at->ntried + at->ncands) * sizeof(*at->tried));
            for (size_t i = 0; i < at->ncands; i++)
                if (accounts_set_at(at->cands, i) != own)
                    at->tried[at->ntried++] = accounts_set_at(at->cands, i);
        }
    }
    /* Redis away: the lease below says so. */
    attempt_lease(at);
}

void attempt_lease_for(struct attempt *at, const char *conv)
{
    if (!app.shared || !conv || !*conv) {
        attempt_lease(at);
        return;
    }
    char name[160];
    snprintf(name, sizeof(name), "conv:%.120s", conv);
    job_hold(at->job, JOB_LEASE);
    at->pin = shared_get(app.shared, name, on_owner, at);
}

void attempt_owns(const struct attempt *at, const char *conv)
{
    if (!app.shared || !conv || !*conv || !at->token)
        return;
    char name[160], key[65];
    snprintf(name, sizeof(name), "conv:%.120s", conv);
    store_key(at->token, key);
    shared_set(app.shared, name, key, CONV_OWNER_TTL);
}

/* ---- failures ---------------------------------------------------------- */

void attempt_release(struct attempt *at, enum account_outcome o, const char *reason)
{
    shared_unlock(at->slease);
    at->slease = NULL;
    if (!at->account)
        return;
    if (app.shared && o != ACCOUNT_DONE && o != ACCOUNT_NEUTRAL) {
        /* The other replicas learn it too: their account cools or dies alike. */
        char key[65];
        store_key(account_token(at->account), key);
        shared_tell(app.shared, key, (int)o, reason);
    }
    accounts_release(app.accounts, at->account, o, reason);
    at->account = NULL;
}

void attempt_fail(struct attempt *at, enum account_outcome o, int status, const char *code,
                  const char *fmt, ...)
{
    char msg[sizeof(at->last.message)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_error_set(&at->last, status, NULL, code, NULL, "%s", msg);
    if (at->account) {
        at->tried = xrealloc(at->tried, (at->ntried + 1) * sizeof(*at->tried));
        at->tried[at->ntried++] = at->account;
    }
    attempt_release(at, o, at->last.message);
    /* The client left (its connection is gone) or was answered already. */
    struct api_req *client = at->job->a;
    if (!client || !api_connected(client))
        return;
    if (at->ntried < (size_t)cfg.failover_attempts && attempt_elapsed(at) < cfg.failover_time) {
        metrics_retry(o == ACCOUNT_BUSY       ? "busy"
                      : o == ACCOUNT_REJECTED ? "rejected"
                      : o == ACCOUNT_REFUSED  ? "refused"
                                              : "transient");
        LOGR(LOG_INFO, at->rid, "account %s failed (%s); trying another", at->fp, at->last.message);
        at->retried_auth = 0;
        attempt_lease(at);
        return;
    }
    report(at, &at->last);
}

void attempt_refused(struct attempt *at, long status, long long code)
{
    if (!at->retried_auth) {
        at->retried_auth = 1;
        LOGR(LOG_INFO, at->rid, "account %s: access token refused (%lld); refreshing once", at->fp,
             code);
        session_invalidate(app.sessions, at->token, at->access);
        get_token(at);
        return;
    }
    /* The refresh endpoint accepted the refresh token just now: the account
     * is not dead, the site refused the session it gave (it rests a while). */
    attempt_fail(at, ACCOUNT_REFUSED, 401, "session_refused",
                 "chatglm.cn refused the session of account %s (HTTP %ld, %lld) although its "
                 "login is valid (the refresh token was accepted just now). Retry in a moment; "
                 "if it keeps happening, open chatglm.cn in a browser with this account (the "
                 "site may want a check there), or log in again and copy a new "
                 "chatglm_refresh_token cookie.",
                 at->fp, status, code);
}

int attempt_answer(struct attempt *at, const struct glm_answer *ans)
{
    switch (ans->verdict) {
    case GLM_AUTH_REFUSED:
        attempt_refused(at, ans->http, ans->code);
        return 0;
    case GLM_BUSY:
        attempt_fail(at, ACCOUNT_BUSY, 429, "account_busy",
                     "chatglm.cn says the account is busy (10061: %s). The site allows one answer "
                     "at a time per account: retry shortly, or give several tokens.",
                     ans->message[0] ? ans->message : "请等待其他对话生成完毕");
        return 0;
    case GLM_TRANSIENT:
        if (ans->code == 40012)
            attempt_fail(at, ACCOUNT_TRANSIENT, 502, "upstream_rejected",
                         "chatglm.cn rejected the request transiently (40012); retry in a moment");
        else
            attempt_fail(at, ACCOUNT_TRANSIENT, 502, "upstream_error",
                         "chatglm.cn failed with HTTP %ld", ans->http);
        return 0;
    case GLM_BAD_REQUEST:
        attempt_release(at, ACCOUNT_NEUTRAL, NULL);
        job_failf(at->job, 502, "upstream_rejected",
                  "chatglm.cn refused the request (40001 bad request): the request signature "
                  "or format may have changed on the site (see sign-secret in the settings)");
        return 0;
    case GLM_OK:
    case GLM_NOT_SSE:
    case GLM_REFUSED:
        break;
    }
    return -1;
}

void attempt_cancel(struct attempt *at)
{
    accounts_wait_cancel(at->lwait);
    at->lwait = NULL;
    shared_unlock(at->swait);
    at->swait = NULL;
    shared_get_cancel(at->pin);
    at->pin = NULL;
    session_wait_cancel(at->wait);
    at->wait = NULL;
    job_release(at->job, JOB_LEASE | JOB_TOKEN);
    attempt_release(at, ACCOUNT_NEUTRAL, NULL);
}

double attempt_elapsed(const struct attempt *at)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - at->t0.tv_sec) + (double)(now.tv_nsec - at->t0.tv_nsec) / 1e9;
}

/* Health news from another replica about one of the server-side accounts
 * (a client's own token is known only where it was used). */
static void on_health(void *arg, const char *key, int outcome, const char *reason)
{
    (void)arg;
    if (outcome <= ACCOUNT_NEUTRAL || outcome > ACCOUNT_REFUSED)
        return;
    for (size_t i = 0; i < app.nconfigured; i++) {
        char k[65];
        store_key(account_token(app.configured[i]), k);
        if (strcmp(k, key) == 0) {
            char why[300];
            snprintf(why, sizeof(why), "another replica saw: %.250s", reason);
            accounts_note(app.accounts, app.configured[i], (enum account_outcome)outcome, why);
            return;
        }
    }
}

void attempt_share_health(void)
{
    if (app.shared)
        shared_on_health(app.shared, on_health, NULL);
}
