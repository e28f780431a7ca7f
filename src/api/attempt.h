/* One request's way through the account pool, shared by every kind of job
 * (api/job.h): the accounts it may use, the lease of one of them and its
 * access token, the stream call with that token, and failing over to another
 * account when one fails before anything reached the client (while
 * --failover-attempts and --failover-time allow).
 *
 * A job embeds a struct attempt. The flow calls the job's start once per
 * account, when the lease and the access token are in. It never answers the
 * client: when no account is left it reports the failure to the job
 * (job_fail, a struct api_error whose retry_after names the soonest account
 * of this request), and the job answers. Its waits hold the job (JOB_LEASE,
 * JOB_TOKEN) like the job's own calls do.
 *
 * What a failure teaches about an account (dead, cooling, busy) is the
 * account pool's (glm/accounts.h, enum account_outcome); attempt passes it
 * on. */
#ifndef GLM_API_ATTEMPT_H
#define GLM_API_ATTEMPT_H

#include <stdarg.h>
#include <stddef.h>
#include <time.h>

#include "glm/accounts.h"
#include "util/apierr.h"

struct job;
struct session_wait;
struct shared_lock;
struct shared_get;

struct attempt {
    /* the job's */
    struct job *job;              /* holds the waits, hears the failures */
    void (*start)(void *self);    /* leased, with access: start the upstream call */
    void *self;                   /* start's argument */
    char rid[48];                 /* for logs */
    /* the accounts */
    struct account_set *cands;    /* accounts this request may use (a reference) */
    size_t ncands;                /* their count */
    struct account **tried;       /* accounts that failed it already */
    size_t ntried;
    struct account *account;      /* leased, or NULL */
    char *token;                  /* the refresh token of the last leased account */
    char fp[7];                   /* its fingerprint */
    char *access;                 /* its access token, once known */
    int retried_auth;             /* refreshed once after 40103 */
    struct timespec t0;           /* attempt_init: the request arrived */
    struct account_wait *lwait;
    struct shared_lock *swait;    /* state = redis: waiting for the shared lease */
    struct shared_lock *slease;   /* ... and holding it (with the local lease) */
    struct shared_get *pin;       /* state = redis: asking which account owns a conversation */
    void (*then)(struct attempt *at); /* after the shared lease (attempt_share) */
    struct session_wait *wait;
    struct api_error last;        /* the last failure (status 0: none), reported when no
                                     account is left */
};

/* Starts the clock. Steals the reference to cands (as chat_accounts gives
 * it). The job owns the attempt. */
void attempt_init(struct attempt *at, struct job *job, struct account_set *cands,
                  void (*start)(void *self), void *self);
/* Ends a lease still held (nothing learnt) and frees the rest; the waits
 * must be over. */
void attempt_free(struct attempt *at);

/* Leases an account not tried yet, then gets its access token, then calls
 * start; any of it may happen before this returns. */
void attempt_lease(struct attempt *at);
/* state = redis: takes the shared lease of at->account (leased locally, its
 * token in at->token), then calls then; on failure answers the client (503
 * when Redis is away, 429 when another replica kept it) and ends the local
 * lease. Without Redis, calls then at once. */
void attempt_share(struct attempt *at, void (*then)(struct attempt *at));
/* state = redis: a failure an account showed (busy, transient, rejected,
 * refused) is told to the other replicas by attempt_release, and what they
 * tell is noted on this replica's server-side accounts. Call once at start. */
void attempt_share_health(void);
/* attempt_lease for a request that continues conversation conv (NULL: a new
 * one): with state = redis, only the account that owns it (as recorded by
 * attempt_owns on any replica) is used, when it is one of the candidates. */
void attempt_lease_for(struct attempt *at, const char *conv);
/* The last leased account owns conversation conv now (state = redis: for the
 * other replicas; nothing otherwise). */
void attempt_owns(const struct attempt *at, const char *conv);
/* Ends the lease, if one is held, and records what the account taught us.
 * reason: short text, may be NULL. */
void attempt_release(struct attempt *at, enum account_outcome o, const char *reason);
/* The account failed the request before anything reached the client: ends
 * the lease with o, then, while the client waits (the job's reply has not
 * ended and its connection is up), tries another account if attempts and
 * time allow, else reports this failure to the job. */
void attempt_fail(struct attempt *at, enum account_outcome o, int status, const char *code,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* chatglm.cn refused the access token (HTTP status, its code): a fresh one
 * once per account (start is called again); refused again, attempt_fail
 * with ACCOUNT_REFUSED (the account cools: only the refresh endpoint can
 * say a refresh token is dead) and a 401 that says so. */
void attempt_refused(struct attempt *at, long status, long long code);
/* What a non-stream answer of the stream call means for the account flow
 * (glm/answer.c's verdict): a refused access token (attempt_refused), a busy
 * account or a transient failure (attempt_fail: another account), a request
 * the site refused as malformed (the job is told). Returns 0 when it handled
 * the answer, -1 for the verdicts the job maps itself (GLM_NOT_SSE,
 * GLM_REFUSED). */
struct glm_answer;
int attempt_answer(struct attempt *at, const struct glm_answer *ans);
/* The client left: cancels the waits and ends the lease, nothing learnt. */
void attempt_cancel(struct attempt *at);

/* Seconds since attempt_init. */
double attempt_elapsed(const struct attempt *at);

#endif
