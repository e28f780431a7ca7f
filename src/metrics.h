/* Process metrics for GET /metrics, in the Prometheus text format 0.0.4.
 *
 * Counters and histograms live here and are bumped by the modules that see
 * the events (router, chat, session, fetch). Gauges that other modules
 * already know (jobs, queue, connections, accounts) are not mirrored: the
 * caller of metrics_render passes their current values.
 *
 * Every label value must come from a small fixed set (route paths of the
 * routing table, status codes, reason words, account fingerprints); a
 * family stops growing at METRICS_MAX_SERIES and counts the rest under the
 * label value "other". Tokens never reach a label. Single-threaded, like
 * the event loop that calls it. */
#ifndef GLM_METRICS_H
#define GLM_METRICS_H

#include <stddef.h>

struct buf;

#define METRICS_MAX_SERIES 256

enum metrics_histogram {
    METRICS_UPSTREAM_LATENCY, /* s from sending the upstream stream call to its response head */
    METRICS_TTFT,             /* s from a chat request's arrival to its first answer text */
};

/* One answered HTTP request: route is the routing-table path (or "other"). */
void metrics_request(const char *route, int status);
/* Request bytes received from clients and reply bytes sent to them. */
void metrics_bytes_in(size_t n);
void metrics_bytes_out(size_t n);
/* Bytes received from chatglm.cn (stream answers). */
void metrics_upstream_bytes(size_t n);
/* An SSE reply started (+1) or ended (-1). */
void metrics_streams_add(int delta);
void metrics_observe(enum metrics_histogram h, double seconds);
/* A token refresh ended: result is "ok", "rejected", "failed" or "timeout". */
void metrics_refresh(const char *result);
/* A chat request moved on to another account: reason is "busy", "transient" or "rejected". */
void metrics_retry(const char *reason);
/* A user-given URL was not fetched: reason is a short fixed word ("private-address", ...). */
void metrics_fetch_refused(const char *reason);

/* The state of one account at render time. */
struct metrics_account {
    const char *fp;     /* fingerprint */
    const char *state;  /* "ok", "cooling", "dead" */
    const char *cause;  /* the last thing learnt: "busy", "transient", "refused", ... (or NULL) */
    double cooling_left; /* seconds, when cooling */
};

struct metrics_gauges {
    const char *version;
    long long start_time;            /* unix seconds */
    unsigned long chat_in_progress;  /* chat answers being produced */
    unsigned long queue_length;      /* requests waiting for an account */
    unsigned long connections;       /* open client connections */
    unsigned long connections_refused; /* refused over max-connections, so far */
    const struct metrics_account *accounts;
    size_t naccounts;
    int redis_used;                  /* state = redis (0: no Redis lines) */
    int redis_up;                    /* 1 up, 0 down */
    unsigned long redis_drops;       /* times the Redis link went down */
};

/* Appends the whole exposition. Returns 0, or -1 when out's cap was reached. */
int metrics_render(struct buf *out, const struct metrics_gauges *g);

/* Forgets every counter and histogram (tests). */
void metrics_reset(void);

#endif
