/* --migrate-state: copies every record of the SQLite account store into the
 * Redis one, once, then the process exits. A record Redis already has at
 * least as new is kept (store_redis_import). Runs the event loop itself
 * until every write is answered. */
#include "glm/store_migrate.h"

#include <stdio.h>

#include <event2/event.h>

#include "glm/store.h"
#include "log.h"
#include "net/redis.h"

struct migration {
    struct event_base *base;
    struct store *to;
    long sent, answered, written, kept, failed;
    char first_err[160];
};

static void imported(void *arg, int written, const char *err)
{
    struct migration *m = arg;
    m->answered++;
    if (err) {
        m->failed++;
        if (!m->first_err[0])
            snprintf(m->first_err, sizeof(m->first_err), "%s", err);
    } else if (written) {
        m->written++;
    } else {
        m->kept++;
    }
    if (m->answered == m->sent)
        event_base_loopbreak(m->base);
}

static int each(void *arg, const char *key, const char *token, long long updated)
{
    struct migration *m = arg;
    m->sent++;
    store_redis_import(m->to, key, token, updated, imported, m);
    return 0;
}

static void give_up(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

int store_migrate(struct event_base *base, struct store *from, struct store *to,
                  struct redis *r, int wait_ms)
{
    struct migration m = { .base = base, .to = to };
    struct timeval step = { 0, 50 * 1000 };
    for (int waited = 0; !redis_up(r) && waited < wait_ms; waited += 50) {
        event_base_loopexit(base, &step);
        event_base_dispatch(base);
    }
    if (!redis_up(r)) {
        LOG(LOG_ERROR, "migrate-state: Redis at %s did not answer within %d ms", redis_where(r),
            wait_ms);
        return 1;
    }
    long n = store_sqlite_each(from, each, &m);
    if (n < 0) {
        LOG(LOG_ERROR, "migrate-state: the SQLite account store could not be read");
        return 1;
    }
    if (m.sent > m.answered) {
        /* Each command has its own timeout; this only bounds the whole. */
        struct event *t = evtimer_new(base, give_up, base);
        struct timeval all = { wait_ms / 1000 + 60, 0 };
        evtimer_add(t, &all);
        event_base_dispatch(base);
        event_free(t);
    }
    if (m.failed || m.answered < m.sent) {
        LOG(LOG_ERROR, "migrate-state: %ld of %ld records not copied (%s)",
            m.failed + (m.sent - m.answered), m.sent, m.first_err[0] ? m.first_err : "no answer");
        return 1;
    }
    LOG(LOG_INFO, "migrate-state: %ld records read from SQLite: %ld copied into Redis at %s, %ld "
                  "kept (Redis had them as new or newer)", m.sent, m.written, redis_where(r),
        m.kept);
    return 0;
}
