#include "net/curl_loop.h"

#include <stdlib.h>

#include <event2/event.h>

#include "log.h"
#include "util/xalloc.h"

struct curl_loop {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    unsigned running;
    struct curl_xfer *xfers;
    CURL *spare[CURL_LOOP_SPARE]; /* finished handles, reset, for the next transfer */
    unsigned nspare;
};


struct curl_xfer {
    CURL *easy;
    curl_done_fn *done;
    void *arg;
    struct curl_xfer *prev, *next; /* running transfers, for curl_loop_free */
};

static void xfer_unlink(struct curl_loop *l, struct curl_xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        l->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    l->running--;
}

struct curl_sock {
    struct event *ev;
    struct curl_loop *loop;
};

static void check_done(struct curl_loop *l)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(l->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        /* Copy out before removal: msg is invalid afterwards. */
        CURL *easy = msg->easy_handle;
        CURLcode result = msg->data.result;
        struct curl_xfer *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(l->multi, easy);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        xfer_unlink(l, x);
        curl_done_fn *done = x->done;
        void *arg = x->arg;
        free(x);
        done(arg, easy, result);
    }
}

static void socket_event_cb(evutil_socket_t fd, short what, void *arg)
{
    struct curl_loop *l = arg;
    int action = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int still;
    curl_multi_socket_action(l->multi, fd, action, &still);
    check_done(l);
}

static void timer_event_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct curl_loop *l = arg;
    int still;
    curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    check_done(l);
}

/* CURLMOPT_TIMERFUNCTION: only arms or disarms the one timer. */
static int timer_cb(CURLM *multi, long ms, void *arg)
{
    (void)multi;
    struct curl_loop *l = arg;
    if (ms < 0) {
        evtimer_del(l->timer);
    } else {
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        evtimer_add(l->timer, &tv);
    }
    return 0;
}

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *arg, void *sockp)
{
    (void)easy;
    struct curl_loop *l = arg;
    struct curl_sock *cs = sockp;
    if (what == CURL_POLL_REMOVE) {
        if (cs) {
            event_free(cs->ev);
            free(cs);
            curl_multi_assign(l->multi, s, NULL);
        }
        return 0;
    }
    short kind = (short)((what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0) |
                         EV_PERSIST);
    if (!cs) {
        cs = xcalloc(1, sizeof(*cs));
        cs->loop = l;
        curl_multi_assign(l->multi, s, cs);
    } else {
        event_free(cs->ev);
    }
    cs->ev = event_new(l->base, s, kind, socket_event_cb, l);
    event_add(cs->ev, NULL);
    return 0;
}

struct curl_loop *curl_loop_new(struct event_base *base)
{
    struct curl_loop *l = xcalloc(1, sizeof(*l));
    l->base = base;
    l->multi = curl_multi_init();
    if (!l->multi) {
        free(l);
        return NULL;
    }
    l->timer = evtimer_new(base, timer_event_cb, l);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    /* Many concurrent streams to one host: reuse connections (and HTTP/2
     * multiplexing where the upstream offers it). */
    curl_multi_setopt(l->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    /* Keep as many idle connections as there may be answers at once: with
     * a smaller cache every answer past it closed its connection and the
     * next opened a new one (at 500 concurrent streams nearly every call
     * connected afresh, and over TLS each would be a new handshake). Idle
     * ones go when the upstream closes them or after curl's 118 s. */
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 4096L);
    return l;
}

int curl_loop_add(struct curl_loop *l, CURL *easy, curl_done_fn *done, void *arg)
{
    struct curl_xfer *x = xcalloc(1, sizeof(*x));
    x->easy = easy;
    x->done = done;
    x->arg = arg;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(l->multi, easy) != CURLM_OK) {
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(x);
        return -1;
    }
    x->next = l->xfers;
    if (l->xfers)
        l->xfers->prev = x;
    l->xfers = x;
    l->running++;
    return 0;
}

void curl_loop_remove(struct curl_loop *l, CURL *easy)
{
    struct curl_xfer *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    if (!x)
        return;
    curl_multi_remove_handle(l->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    xfer_unlink(l, x);
    free(x);
}

CURL *curl_loop_easy(struct curl_loop *l)
{
    if (l->nspare > 0)
        return l->spare[--l->nspare];
    return curl_easy_init();
}

void curl_loop_easy_put(struct curl_loop *l, CURL *easy)
{
    if (!easy)
        return;
    if (l->nspare == CURL_LOOP_SPARE) {
        curl_easy_cleanup(easy);
        return;
    }
    /* Back to the defaults, keeping the handle's memory (its buffers). */
    curl_easy_reset(easy);
    l->spare[l->nspare++] = easy;
}

struct event_base *curl_loop_base(const struct curl_loop *l)
{
    return l->base;
}

unsigned curl_loop_running(const struct curl_loop *l)
{
    return l->running;
}

void curl_loop_free(struct curl_loop *l)
{
    if (!l)
        return;
    /* Owners should have stopped their transfers; whatever is left is
     * dropped without its done callback, and its easy handle cleaned up. */
    while (l->xfers) {
        CURL *easy = l->xfers->easy;
        curl_loop_remove(l, easy);
        curl_easy_cleanup(easy);
    }
    while (l->nspare > 0)
        curl_easy_cleanup(l->spare[--l->nspare]);
    curl_multi_cleanup(l->multi);
    event_free(l->timer);
    free(l);
}
