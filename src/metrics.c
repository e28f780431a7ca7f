#include "metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* A family of counters with up to two labels. Series are few (routes x
 * statuses, a handful of reasons), so a linear search is the simplest. */
struct series {
    char *v1, *v2;
    unsigned long long value;
};

struct family {
    const char *name, *help;
    const char *l1, *l2; /* label names; l2 may be NULL */
    struct series *s;
    size_t n, cap;
};

static struct family requests = { "glm_http_requests_total",
                                  "HTTP requests answered, by route and status code.",
                                  "route", "status", NULL, 0, 0 };
static struct family refreshes = { "glm_token_refreshes_total",
                                   "Refresh-token calls to chatglm.cn, by result.", "result", NULL,
                                   NULL, 0, 0 };
static struct family retries = { "glm_upstream_retries_total",
                                 "Chat requests moved on to another account before the answer "
                                 "began, by the reason the account failed.",
                                 "reason", NULL, NULL, 0, 0 };
static struct family fetch_refusals = { "glm_fetch_refusals_total",
                                        "User-given URLs that were not fetched, by reason.",
                                        "reason", NULL, NULL, 0, 0 };
static struct family *const families[] = { &requests, &refreshes, &retries, &fetch_refusals };
#define NFAMILIES (sizeof(families) / sizeof(families[0]))

/* Upper bounds in seconds, as text so that the output is exact. */
static const char *const bucket_text[] = { "0.05", "0.1", "0.25", "0.5", "1",
                                           "2.5",  "5",   "10",   "30",  "60" };
static const double bucket_le[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 };
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

struct histogram {
    const char *name, *help;
    unsigned long long bucket[NBUCKETS]; /* not cumulative; +Inf is count */
    unsigned long long count;
    double sum;
};

static struct histogram histograms[] = {
    [METRICS_UPSTREAM_LATENCY] = { "glm_upstream_latency_seconds",
                                   "Time from sending a chat call to chatglm.cn to its response "
                                   "head.", { 0 }, 0, 0 },
    [METRICS_TTFT] = { "glm_time_to_first_token_seconds",
                       "Time from a chat request's arrival to the first answer text.", { 0 }, 0,
                       0 },
};
#define NHISTOGRAMS (sizeof(histograms) / sizeof(histograms[0]))

static unsigned long long bytes_in, bytes_out, upstream_bytes;
static long streams;

static void family_add(struct family *f, const char *v1, const char *v2)
{
    for (size_t i = 0; i < f->n; i++) {
        struct series *s = &f->s[i];
        if (strcmp(s->v1, v1) == 0 && (!v2 || strcmp(s->v2, v2) == 0)) {
            s->value++;
            return;
        }
    }
    /* Full: the rest is counted together, so the output stays bounded. */
    if (f->n >= METRICS_MAX_SERIES - 1 && strcmp(v1, "other") != 0) {
        family_add(f, "other", v2 ? "other" : NULL);
        return;
    }
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->s = xrealloc(f->s, f->cap * sizeof(*f->s));
    }
    struct series *s = &f->s[f->n++];
    s->v1 = xstrdup(v1);
    s->v2 = v2 ? xstrdup(v2) : NULL;
    s->value = 1;
}

void metrics_request(const char *route, int status)
{
    char st[16];
    snprintf(st, sizeof(st), "%d", status);
    family_add(&requests, route, st);
}

void metrics_bytes_in(size_t n)
{
    bytes_in += n;
}

void metrics_bytes_out(size_t n)
{
    bytes_out += n;
}

void metrics_upstream_bytes(size_t n)
{
    upstream_bytes += n;
}

void metrics_streams_add(int delta)
{
    streams += delta;
    if (streams < 0)
        streams = 0;
}

void metrics_observe(enum metrics_histogram h, double seconds)
{
    if ((size_t)h >= NHISTOGRAMS)
        return;
    struct histogram *hg = &histograms[h];
    if (seconds < 0)
        seconds = 0;
    size_t i = 0;
    while (i < NBUCKETS && seconds > bucket_le[i])
        i++;
    if (i < NBUCKETS)
        hg->bucket[i]++;
    hg->count++;
    hg->sum += seconds;
}

void metrics_refresh(const char *result)
{
    family_add(&refreshes, result, NULL);
}

void metrics_retry(const char *reason)
{
    family_add(&retries, reason, NULL);
}

void metrics_fetch_refused(const char *reason)
{
    family_add(&fetch_refusals, reason, NULL);
}

void metrics_reset(void)
{
    for (size_t i = 0; i < NFAMILIES; i++) {
        struct family *f = families[i];
        for (size_t k = 0; k < f->n; k++) {
            free(f->s[k].v1);
            free(f->s[k].v2);
        }
        free(f->s);
        f->s = NULL;
        f->n = f->cap = 0;
    }
    for (size_t i = 0; i < NHISTOGRAMS; i++) {
        memset(histograms[i].bucket, 0, sizeof(histograms[i].bucket));
        histograms[i].count = 0;
        histograms[i].sum = 0;
    }
    bytes_in = bytes_out = upstream_bytes = 0;
    streams = 0;
}

/* ---- rendering ----------------------------------------------------------- */

/* A label value: backslash, double quote and newline escaped (format 0.0.4). */
static int put_label(struct buf *b, const char *name, const char *value)
{
    int rc = buf_printf(b, "%s=\"", name);
    for (const char *p = value; *p && rc == 0; p++) {
        if (*p == '\\')
            rc = buf_puts(b, "\\\\");
        else if (*p == '"')
            rc = buf_puts(b, "\\\"");
        else if (*p == '\n')
            rc = buf_puts(b, "\\n");
        else
            rc = buf_putc(b, *p);
    }
    return rc ? rc : buf_putc(b, '"');
}

static int put_head(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static int put_scalar(struct buf *b, const char *name, const char *type, const char *help,
                      unsigned long long v)
{
    int rc = put_head(b, name, type, help);
    return rc ? rc : buf_printf(b, "%s %llu\n", name, v);
}

static int put_family(struct buf *b, const struct family *f)
{
    int rc = put_head(b, f->name, "counter", f->help);
    for (size_t i = 0; i < f->n && rc == 0; i++) {
        const struct series *s = &f->s[i];
        rc = buf_printf(b, "%s{", f->name);
        if (rc == 0)
            rc = put_label(b, f->l1, s->v1);
        if (rc == 0 && f->l2) {
            rc = buf_putc(b, ',');
            if (rc == 0)
                rc = put_label(b, f->l2, s->v2);
        }
        if (rc == 0)
            rc = buf_printf(b, "} %llu\n", s->value);
    }
    return rc;
}

static int put_histogram(struct buf *b, const struct histogram *h)
{
    int rc = put_head(b, h->name, "histogram", h->help);
    unsigned long long cum = 0;
    for (size_t i = 0; i < NBUCKETS && rc == 0; i++) {
        cum += h->bucket[i];
        rc = buf_printf(b, "%s_bucket{le=\"%s\"} %llu\n", h->name, bucket_text[i], cum);
    }
    if (rc == 0)
        rc = buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", h->name,
                        h->count, h->name, h->sum, h->name, h->count);
    return rc;
}

static int put_accounts(struct buf *b, const struct metrics_gauges *g)
{
    static const char *const states[] = { "ok", "cooling", "dead" };
    int rc = put_head(b, "glm_accounts", "gauge", "Accounts known to the pool, by state.");
    for (size_t s = 0; s < 3 && rc == 0; s++) {
        unsigned long n = 0;
        for (size_t i = 0; i < g->naccounts; i++)
            n += strcmp(g->accounts[i].state, states[s]) == 0;
        rc = buf_printf(b, "glm_accounts{state=\"%s\"} %lu\n", states[s], n);
    }
    if (rc == 0)
        rc = put_head(b, "glm_account_state", "gauge",
                      "1 for the current state of each account (named by its fingerprint).");
    for (size_t i = 0; i < g->naccounts && rc == 0; i++) {
        rc = buf_puts(b, "glm_account_state{");
        if (rc == 0)
            rc = put_label(b, "account", g->accounts[i].fp);
        if (rc == 0)
            rc = buf_putc(b, ',');
        if (rc == 0)
            rc = put_label(b, "state", g->accounts[i].state);
        if (rc == 0)
            rc = buf_puts(b, "} 1\n");
    }
    if (rc == 0)
        rc = put_head(b, "glm_account_cooling_seconds", "gauge",
                      "Seconds until a cooling account is used again, with the reason it cools.");
    for (size_t i = 0; i < g->naccounts && rc == 0; i++) {
        if (strcmp(g->accounts[i].state, "cooling") != 0)
            continue;
        rc = buf_puts(b, "glm_account_cooling_seconds{");
        if (rc == 0)
            rc = put_label(b, "account", g->accounts[i].fp);
        if (rc == 0)
            rc = buf_putc(b, ',');
        if (rc == 0)
            rc = put_label(b, "reason", g->accounts[i].cause ? g->accounts[i].cause : "unknown");
        if (rc == 0)
            rc = buf_printf(b, "} %.1f\n", g->accounts[i].cooling_left);
    }
    return rc;
}

int metrics_render(struct buf *out, const struct metrics_gauges *g)
{
    int rc = put_head(out, "glm_build_info", "gauge", "The running version.");
    if (rc == 0) {
        rc = buf_puts(out, "glm_build_info{");
        if (rc == 0)
            rc = put_label(out, "version", g->version ? g->version : "");
        if (rc == 0)
            rc = buf_puts(out, "} 1\n");
    }
    if (rc == 0)
        rc = put_scalar(out, "glm_start_time_seconds", "gauge",
                        "Start time of the process since the epoch.",
                        (unsigned long long)g->start_time);
    if (rc == 0)
        rc = put_family(out, &requests);
    if (rc == 0)
        rc = put_scalar(out, "glm_http_request_bytes_total", "counter",
                        "Request body bytes received from clients.", bytes_in);
    if (rc == 0)
        rc = put_scalar(out, "glm_http_response_bytes_total", "counter",
                        "Reply bytes (bodies and streams) sent to clients.", bytes_out);
    if (rc == 0)
        rc = put_scalar(out, "glm_upstream_bytes_total", "counter",
                        "Answer bytes received from chatglm.cn.", upstream_bytes);
    if (rc == 0)
        rc = put_scalar(out, "glm_active_streams", "gauge",
                        "Streamed (SSE) replies in progress.", (unsigned long long)streams);
    if (rc == 0)
        rc = put_scalar(out, "glm_chat_in_progress", "gauge",
                        "Chat answers in progress, streamed or not.", g->chat_in_progress);
    if (rc == 0)
        rc = put_scalar(out, "glm_queue_length", "gauge",
                        "Requests waiting for a free account.", g->queue_length);
    if (rc == 0)
        rc = put_scalar(out, "glm_connections", "gauge", "Open client connections.",
                        g->connections);
    if (rc == 0)
        rc = put_scalar(out, "glm_connections_refused_total", "counter",
                        "Client connections refused over max-connections.",
                        g->connections_refused);
    if (rc == 0 && g->redis_used)
        rc = put_scalar(out, "glm_redis_up", "gauge",
                        "1 while the link to the shared state in Redis is up, 0 while it is down.",
                        (unsigned long)g->redis_up);
    if (rc == 0 && g->redis_used)
        rc = put_scalar(out, "glm_redis_link_drops_total", "counter",
                        "Times the link to Redis went down.", g->redis_drops);
    for (size_t i = 0; i < NHISTOGRAMS && rc == 0; i++)
        rc = put_histogram(out, &histograms[i]);
    if (rc == 0)
        rc = put_accounts(out, g);
    for (size_t i = 1; i < NFAMILIES && rc == 0; i++)
        rc = put_family(out, families[i]);
    return rc ? -1 : 0;
}
