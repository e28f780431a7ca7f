#include "api/job.h"

#include <stdarg.h>
#include <stdio.h>

#include <event2/event.h>

#include "api/api.h"
#include "app.h"
#include "glm/accounts.h"
#include "http/server.h"
#include "log.h"

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *j = arg;
    if (j->state == JOB_GONE && j->a) {
        /* The client left: stop everything upstream right away. */
        if (j->ops->cancel)
            j->ops->cancel(j->self);
        attempt_cancel(&j->at);
        api_end(j->a); /* frees the orphaned request */
        j->a = NULL;
        j->holds &= ~JOB_CLIENT;
    }
    if (j->ops->reap)
        j->ops->reap(j->self);
    if (j->holds)
        return;
    attempt_release(&j->at, ACCOUNT_NEUTRAL, NULL);
    j->ops->free(j->self);
}

static void on_close(void *arg, struct api_req *a)
{
    (void)a;
    struct job *j = arg;
    if (j->state == JOB_GONE)
        return;
    j->state = JOB_GONE;
    LOGR(LOG_INFO, j->rid, "client went away; cancelling the upstream work");
    job_reap(j);
}

static void on_drain(void *arg, struct api_req *a)
{
    (void)a;
    struct job *j = arg;
    if (j->ops->drain)
        j->ops->drain(j->self);
}

void job_init(struct job *j, struct api_req *a, const struct job_ops *ops, void *self,
              struct account_set *cands, void (*start)(void *self))
{
    j->a = a;
    snprintf(j->rid, sizeof(j->rid), "%s", a->rid);
    j->holds = JOB_CLIENT;
    j->state = JOB_ACCOUNTS;
    j->ops = ops;
    j->self = self;
    j->reaper = event_new(app.base, -1, 0, reap_cb, j);
    attempt_init(&j->at, j, cands, start, self);
    app.jobs_running++;
    api_watch(a, on_close, on_drain, j);
}

void job_cleanup(struct job *j)
{
    app.jobs_running--;
    attempt_free(&j->at);
    event_free(j->reaper);
    j->reaper = NULL;
}

void job_hold(struct job *j, unsigned bits)
{
    j->holds |= bits;
}

void job_release(struct job *j, unsigned bits)
{
    unsigned before = j->holds;
    j->holds &= ~bits;
    if (before && !j->holds)
        job_reap(j);
}

void job_reap(struct job *j)
{
    event_active(j->reaper, EV_TIMEOUT, 0);
}

int job_gone(const struct job *j)
{
    return j->state == JOB_GONE;
}

void job_set_state(struct job *j, enum job_state s)
{
    if (j->state != JOB_GONE)
        j->state = s;
}

void job_replied(struct job *j)
{
    j->a = NULL;
    job_release(j, JOB_CLIENT);
}

void job_reply_error(struct job *j, const struct api_error *e)
{
    if (!j->a)
        return;
    if (e->status == 429 || e->status == 503) {
        char ra[24];
        snprintf(ra, sizeof(ra), "%ld",
                 e->retry_after > 0 ? (long)e->retry_after : accounts_retry_after(app.accounts));
        http_req_add_header(j->a->req, "Retry-After", ra);
    }
    api_error(j->a, e->status, e->param[0] ? e->param : NULL, e->code[0] ? e->code : NULL, "%s",
              e->message);
    job_replied(j);
}

void job_fail(struct job *j, const struct api_error *e)
{
    if (!j->a)
        return;
    if (j->ops->error)
        j->ops->error(j->self, e);
    else
        job_reply_error(j, e);
}

void job_vfailf(struct job *j, int status, const char *code, const char *fmt, va_list ap)
{
    struct api_error e;
    char msg[sizeof(e.message)];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    api_error_set(&e, status, NULL, code, NULL, "%s", msg);
    job_fail(j, &e);
}

void job_failf(struct job *j, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    job_vfailf(j, status, code, fmt, ap);
    va_end(ap);
}
