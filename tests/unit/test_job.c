/* The job's lifetime (api/job.c) against a real HTTP server on loopback: a
 * job lives until its last holder lets go and is freed once, from the loop;
 * a client that leaves cancels the work at once; errors go out through the
 * kind's error op or as a plain reply (a 429 with Retry-After). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "api/req.h"
#include "api/job.h"
#include "app.h"
#include "glm/accounts.h"
#include "http/server.h"
#include "log.h"
#include "test.h"
#include "util/xalloc.h"

struct app app;

/* A kind of job that only counts what the job asks of it. */
struct tjob {
    struct job job;
    int cancels, reaps, errors, frees;
    int release_on_cancel;     /* cancel lets go of JOB_CALL */
};

static struct tjob *current;   /* the job of the last request */
static struct tjob last;       /* its counters, kept after it is freed */
static int use_error_op;

static void t_cancel(void *self)
{
    struct tjob *t = self;
    t->cancels++;
    if (t->release_on_cancel)
        job_release(&t->job, JOB_CALL);
}

static void t_reap(void *self)
{
    struct tjob *t = self;
    t->reaps++;
}

static void t_error(void *self, const struct api_error *e)
{
    struct tjob *t = self;
    t->errors++;
    api_reply(t->job.a, 418, "text/plain", e->message, strlen(e->message));
    job_replied(&t->job);
}

static void t_free(void *self)
{
    struct tjob *t = self;
    t->frees++;
    last = *t;
    current = NULL;
    job_cleanup(&t->job);
    free(t);
}

static void never_start(void *self)
{
    (void)self;
    abort();
}

static void handler(void *arg, struct http_req *r)
{
    (void)arg;
    static const struct job_ops plain = { t_cancel, t_reap, NULL, NULL, t_free };
    static const struct job_ops with_error = { t_cancel, t_reap, t_error, NULL, t_free };
    struct api_req *a = xcalloc(1, sizeof(*a));
    a->req = r;
    snprintf(a->rid, sizeof(a->rid), "test");
    clock_gettime(CLOCK_MONOTONIC, &a->t0);
    snprintf(a->method, sizeof(a->method), "%s", http_req_method(r));
    snprintf(a->path, sizeof(a->path), "%s", http_req_path(r));
    a->route = "other";
    struct tjob *t = xcalloc(1, sizeof(*t));
    job_init(&t->job, a, use_error_op ? &with_error : &plain, t,
             accounts_set_new(app.accounts, NULL, 0), never_start);
    current = t;
    memset(&last, 0, sizeof(last));
}

/* ---- a loop, a server and one client on loopback ------------------------ */

static struct http_server *srv;
static int port;

static void setup(void)
{
    log_set_level(LOG_ERROR);
    app.base = event_base_new();
    app.accounts = accounts_new(app.base, 16, 1000);
    struct http_server_opts o = { 0 };
    srv = http_server_new(app.base, &o, handler, NULL);
    port = http_server_listen(srv, "127.0.0.1", 0);
    current = NULL;
    use_error_op = 0;
}

static void teardown(void)
{
    http_server_free(srv);
    accounts_free(app.accounts);
    app.accounts = NULL;
    event_base_free(app.base);
    app.base = NULL;
}

/* Runs the loop until cond() holds or 10 s passed (valgrind is slow);
 * returns cond(). */
static int spin(int (*cond)(void))
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        event_base_loop(app.base, EVLOOP_NONBLOCK);
        if (cond())
            return 1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10)
            return 0;
        usleep(1000);
    }
}

/* Connects and sends a POST; returns the socket (non-blocking). */
static int client_send(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        abort();
    static const char req[] =
        "POST /job HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}";
    if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
        abort();
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static char got[8192];
static size_t got_len;
static int got_fd = -1;

static int cond_started(void)
{
    return current != NULL;
}

static int cond_gone(void)
{
    return current && current->job.state == JOB_GONE;
}

static int cond_freed(void)
{
    return last.frees > 0;
}

/* Reads what the server sent; true once the reply head and body are in. */
static int cond_reply(void)
{
    ssize_t n;
    while ((n = read(got_fd, got + got_len, sizeof(got) - 1 - got_len)) > 0)
        got_len += (size_t)n;
    got[got_len] = '\0';
    const char *body = strstr(got, "\r\n\r\n");
    const char *cl = strstr(got, "Content-Length: ");
    return body && cl && got_len - (size_t)(body + 4 - got) >= (size_t)atol(cl + 16);
}

static void read_reply(int fd)
{
    got_len = 0;
    got_fd = fd;
    CHECK(spin(cond_reply));
}

/* ---- the tests ------------------------------------------------------------ */

TEST(a_job_lives_until_its_last_holder_lets_go_and_is_freed_once)
{
    setup();
    int fd = client_send();
    CHECK(spin(cond_started));
    struct tjob *t = current;
    CHECK_INT(t->job.holds, JOB_CLIENT);
    CHECK_INT(t->job.state, JOB_ACCOUNTS);
    job_hold(&t->job, JOB_CALL);
    job_set_state(&t->job, JOB_STREAMING);
    job_failf(&t->job, 502, "upstream_error", "it broke");
    CHECK(t->job.a == NULL);
    CHECK_INT(t->job.holds, JOB_CALL);
    read_reply(fd);
    CHECK(strncmp(got, "HTTP/1.1 502", 12) == 0);
    CHECK(strstr(got, "\"code\":\"upstream_error\"") != NULL);
    CHECK(strstr(got, "it broke") != NULL);
    /* The call still holds it: passes of the loop do not free it. */
    for (int i = 0; i < 20; i++)
        event_base_loop(app.base, EVLOOP_NONBLOCK);
    CHECK(current == t);
    CHECK_INT(t->frees, 0);
    job_release(&t->job, JOB_CALL);
    CHECK(current == t); /* never inside the caller's callback */
    CHECK(spin(cond_freed));
    CHECK_INT(last.frees, 1);
    CHECK_INT(last.cancels, 0);
    CHECK(last.reaps >= 1);
    CHECK_INT(app.jobs_running, 0);
    close(fd);
    teardown();
}

TEST(a_client_that_leaves_cancels_the_work_at_once)
{
    setup();
    int fd = client_send();
    CHECK(spin(cond_started));
    struct tjob *t = current;
    t->release_on_cancel = 1;
    job_hold(&t->job, JOB_CALL);
    job_set_state(&t->job, JOB_CALLING);
    close(fd);
    CHECK(spin(cond_freed));
    CHECK_INT(last.cancels, 1);
    CHECK_INT(last.frees, 1);
    CHECK_INT(last.job.state, JOB_GONE);
    CHECK_INT(app.jobs_running, 0);
    teardown();
}

TEST(the_state_stays_gone_once_the_client_left)
{
    setup();
    int fd = client_send();
    CHECK(spin(cond_started));
    struct tjob *t = current;
    job_hold(&t->job, JOB_CALL); /* released by hand below, not by cancel */
    close(fd);
    CHECK(spin(cond_gone));
    job_set_state(&t->job, JOB_COMPLETE);
    CHECK_INT(t->job.state, JOB_GONE);
    CHECK(job_gone(&t->job));
    /* Wait for the reap pass that ends the orphan, then let go. */
    for (int i = 0; i < 50 && t->job.a; i++) {
        event_base_loop(app.base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
    CHECK(t->job.a == NULL);
    CHECK_INT(t->cancels, 1);
    CHECK_INT(t->frees, 0);
    job_release(&t->job, JOB_CALL);
    CHECK(spin(cond_freed));
    teardown();
}

TEST(an_error_goes_through_the_kinds_error_op)
{
    setup();
    use_error_op = 1;
    int fd = client_send();
    CHECK(spin(cond_started));
    struct tjob *t = current;
    struct api_error e;
    api_error_set(&e, 500, NULL, NULL, NULL, "teapot");
    job_fail(&t->job, &e);
    CHECK_INT(t->errors, 1);
    job_fail(&t->job, &e); /* the reply has ended: nothing more */
    CHECK_INT(t->errors, 1);
    read_reply(fd);
    CHECK(strncmp(got, "HTTP/1.1 418", 12) == 0);
    CHECK(strstr(got, "teapot") != NULL);
    CHECK(spin(cond_freed));
    close(fd);
    teardown();
}

TEST(a_429_says_when_to_retry)
{
    setup();
    int fd = client_send();
    CHECK(spin(cond_started));
    struct api_error e;
    api_error_set(&e, 429, NULL, "accounts_busy", NULL, "busy");
    e.retry_after = 7;
    job_fail(&current->job, &e);
    read_reply(fd);
    CHECK(strncmp(got, "HTTP/1.1 429", 12) == 0);
    CHECK(strstr(got, "Retry-After: 7\r\n") != NULL);
    CHECK(strstr(got, "\"type\":\"rate_limit_error\"") != NULL);
    CHECK(spin(cond_freed));
    close(fd);
    teardown();
}

TEST_MAIN()
