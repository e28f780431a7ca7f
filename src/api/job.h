/* One job's lifetime, the same for every kind of job (a chat answer, a
 * drawing): who holds it, the one way it is freed, the one watch on its
 * client.
 *
 * Holders are explicit bits. The client holds the job until its reply has
 * ended; each piece of upstream work (a lease or token wait, the stream
 * call, uploads, downloads) holds it while it runs. job_release() of the last
 * one, or the client leaving, schedules a reap pass: a zero-delay event, so
 * nothing is ever freed inside a curl, session, lease or server callback.
 * The reap pass is the only place a job is freed (STYLE.md rule 11):
 *   - the client left while it still held the job: the kind's cancel stops
 *     its upstream work at once, the account flow is cancelled, the orphaned
 *     request is ended;
 *   - then the kind's reap hook runs (work it deferred to the loop);
 *   - then, when no bit is left, the lease is ended and the kind frees
 *     itself (its free op), after which the job's own parts go.
 *
 * A job is embedded in the kind's struct (ops get the kind's pointer, self).
 * The account flow (api/attempt.c) reports to the job: job_fail(). */
#ifndef GLM_API_JOB_H
#define GLM_API_JOB_H

#include <stdarg.h>

#include "api/attempt.h"
#include "util/apierr.h"

struct api_req;
struct event;

enum job_hold {
    JOB_CLIENT = 1u << 0,   /* the client's reply has not ended */
    JOB_LEASE = 1u << 1,    /* waiting for an account */
    JOB_TOKEN = 1u << 2,    /* waiting for its access token */
    JOB_CALL = 1u << 3,     /* the upstream stream call runs */
    JOB_UPLOADS = 1u << 4,  /* attachments are uploaded */
    JOB_FETCHES = 1u << 5,  /* results are downloaded */
};

/* Where the upstream side is. GONE is final: whatever else was going on,
 * the client left and only clean-up remains. */
enum job_state {
    JOB_ACCOUNTS,   /* accounts, access token, attachments: nothing asked upstream yet */
    JOB_CALLING,    /* the stream call is started; no event stream yet */
    JOB_STREAMING,  /* the upstream answers with an event stream */
    JOB_COMPLETE,   /* the answer is complete: the rest of the stream is drained */
    JOB_GONE,       /* the client left */
};

struct job_ops {
    /* The client left: stop the kind's upstream work now (its calls,
     * uploads, downloads; job_release their bits). May be NULL. */
    void (*cancel)(void *self);
    /* Each reap pass, after cancel: work the kind deferred to the loop. May
     * be NULL. */
    void (*reap)(void *self);
    /* An error for the client (job_fail): the kind's way to send it (inside
     * a started stream, say). NULL: job_reply_error. */
    void (*error)(void *self, const struct api_error *e);
    /* The client's output fell below the low mark. May be NULL. */
    void (*drain)(void *self);
    /* Nothing holds the job: free the kind's parts and the struct that
     * embeds the job (job_cleanup first). */
    void (*free)(void *self);
};

struct job {
    struct api_req *a;          /* the client; NULL once its reply ended */
    char rid[48];
    unsigned holds;             /* enum job_hold bits */
    enum job_state state;
    const struct job_ops *ops;
    void *self;
    struct event *reaper;
    struct attempt at;          /* accounts, lease, access token, fail-over */
};

/* Starts a job for client a (held by JOB_CLIENT) and watches a: its leaving
 * cancels the job's work at once. Steals the reference to cands (as
 * chat_accounts gives it)
 * for the account flow; start is called with self once per leased account
 * with its access token. Counts the job in app.jobs_running. */
void job_init(struct job *j, struct api_req *a, const struct job_ops *ops, void *self,
              struct account_set *cands, void (*start)(void *self));
/* Frees the job's own parts (the account flow, the reaper); the kind's free
 * op calls it. */
void job_cleanup(struct job *j);

void job_hold(struct job *j, unsigned bits);
/* Drops bits; the last one schedules the reap pass. */
void job_release(struct job *j, unsigned bits);
/* Schedules a reap pass now. */
void job_reap(struct job *j);
/* Whether the client left (state GONE). */
int job_gone(const struct job *j);
/* Sets the upstream state (not out of GONE). */
void job_set_state(struct job *j, enum job_state s);

/* An error for the client, by the kind's error op; nothing when the reply
 * has ended already. */
void job_fail(struct job *j, const struct api_error *e);
void job_failf(struct job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void job_vfailf(struct job *j, int status, const char *code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
/* The plain error reply (OpenAI's envelope with the HTTP status; a 429 or
 * 503 says when to retry: e->retry_after, else the pool's default) and the
 * end of the client side. */
void job_reply_error(struct job *j, const struct api_error *e);
/* The kind ended the client's reply itself (api_reply, api_end): lets go of
 * the client. */
void job_replied(struct job *j);

#endif
