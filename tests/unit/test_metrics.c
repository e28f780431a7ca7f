#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "test.h"
#include "util/buf.h"

static char *render(const struct metrics_account *acc, size_t nacc)
{
    struct metrics_gauges g = { "1.2.3", 1700000000, 2, 3, 4, 5, acc, nacc, 0, 0, 0 };
    struct buf b;
    buf_init(&b, 1 << 20);
    if (metrics_render(&b, &g) < 0) {
        buf_cleanup(&b);
        return NULL;
    }
    return buf_take(&b, NULL);
}

/* The value of the sample line that starts with "series " exactly, or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static int name_char(char c, int first)
{
    return isalpha((unsigned char)c) || c == '_' || c == ':' || (!first && isdigit((unsigned char)c));
}

/* Checks text against the Prometheus text format 0.0.4 as far as we emit
 * it: "# HELP name text" and "# TYPE name kind" before a family's samples,
 * each family once, samples "name{l="v",...} value", label values escaped.
 * Returns NULL when fine, else the reason. */
static const char *format_error(const char *text, char *line_out, size_t cap)
{
    static char why[200];
    char typed[64][80];
    int ntyped = 0;
    const char *p = text;
    if (!*text || text[strlen(text) - 1] != '\n')
        return "does not end with a newline";
    while (*p) {
        const char *e = strchr(p, '\n');
        size_t len = (size_t)(e - p);
        snprintf(line_out, cap, "%.*s", (int)len, p);
        if (strncmp(p, "# HELP ", 7) == 0 || strncmp(p, "# TYPE ", 7) == 0) {
            const char *n = p + 7;
            size_t k = 0;
            while (n + k < e && name_char(n[k], k == 0))
                k++;
            if (k == 0 || n[k] != ' ')
                return "bad metric name in a comment";
            if (p[2] == 'T') {
                const char *kind = n + k + 1;
                size_t kl = (size_t)(e - kind);
                if (!((kl == 7 && !strncmp(kind, "counter", 7)) ||
                      (kl == 5 && !strncmp(kind, "gauge", 5)) ||
                      (kl == 9 && !strncmp(kind, "histogram", 9))))
                    return "unknown TYPE";
                for (int i = 0; i < ntyped; i++)
                    if (strlen(typed[i]) == k && !strncmp(typed[i], n, k))
                        return "TYPE given twice";
                if (ntyped == 64)
                    return "too many families for the checker";
                snprintf(typed[ntyped++], sizeof(typed[0]), "%.*s", (int)k, n);
            }
        } else if (*p == '#') {
            return "unexpected comment";
        } else {
            size_t k = 0;
            while (p + k < e && name_char(p[k], k == 0))
                k++;
            if (k == 0)
                return "bad sample name";
            /* The family: the name itself or without a histogram suffix. */
            int known = 0;
            for (int i = 0; i < ntyped && !known; i++) {
                size_t tl = strlen(typed[i]);
                if (strncmp(p, typed[i], tl) != 0)
                    continue;
                const char *rest = p + tl;
                size_t rl = k - tl;
                known = rl == 0 || (rl == 7 && !strncmp(rest, "_bucket", 7)) ||
                        (rl == 4 && !strncmp(rest, "_sum", 4)) ||
                        (rl == 6 && !strncmp(rest, "_count", 6));
                known = known && i == ntyped - 1; /* samples follow their own TYPE */
            }
            if (!known)
                return "sample before (or away from) its TYPE line";
            const char *q = p + k;
            if (*q == '{') {
                q++;
                for (;;) {
                    size_t ln = 0;
                    while (name_char(q[ln], ln == 0))
                        ln++;
                    if (!ln || q[ln] != '=' || q[ln + 1] != '"')
                        return "bad label";
                    q += ln + 2;
                    while (*q != '"') {
                        if (*q == '\n' || !*q)
                            return "unterminated label value";
                        if (*q == '\\') {
                            if (q[1] != '\\' && q[1] != '"' && q[1] != 'n')
                                return "bad escape in a label value";
                            q++;
                        }
                        q++;
                    }
                    q++;
                    if (*q == ',') {
                        q++;
                        continue;
                    }
                    if (*q != '}')
                        return "bad label list";
                    q++;
                    break;
                }
            }
            if (*q != ' ')
                return "no space before the value";
            q++;
            char *end;
            strtod(q, &end);
            if (end == q || end != e) {
                snprintf(why, sizeof(why), "bad value \"%.*s\"", (int)(e - q), q);
                return why;
            }
        }
        p = e + 1;
    }
    return NULL;
}

TEST(render_empty_registry_is_valid_text_format)
{
    metrics_reset();
    char *t = render(NULL, 0);
    CHECK(t != NULL);
    char line[512] = "";
    const char *err = format_error(t, line, sizeof(line));
    if (err)
        printf("# %s: %s\n", err, line);
    CHECK(err == NULL);
    CHECK(strstr(t, "# TYPE glm_http_requests_total counter\n") != NULL);
    CHECK(strstr(t, "glm_build_info{version=\"1.2.3\"} 1\n") != NULL);
    CHECK(sample(t, "glm_start_time_seconds") == 1700000000);
    CHECK(sample(t, "glm_chat_in_progress") == 2);
    CHECK(sample(t, "glm_queue_length") == 3);
    CHECK(sample(t, "glm_connections") == 4);
    CHECK(sample(t, "glm_connections_refused_total") == 5);
    CHECK(sample(t, "glm_time_to_first_token_seconds_count") == 0);
    free(t);
}

TEST(counters_move_and_stay_valid)
{
    metrics_reset();
    metrics_request("/v1/chat/completions", 200);
    metrics_request("/v1/chat/completions", 200);
    metrics_request("/v1/chat/completions", 429);
    metrics_request("/ping", 200);
    metrics_bytes_in(10);
    metrics_bytes_out(100);
    metrics_bytes_out(23);
    metrics_upstream_bytes(7);
    metrics_streams_add(1);
    metrics_streams_add(1);
    metrics_streams_add(-1);
    metrics_refresh("ok");
    metrics_refresh("ok");
    metrics_refresh("rejected");
    metrics_retry("busy");
    metrics_fetch_refused("private-address");
    char *t = render(NULL, 0);
    char line[512] = "";
    const char *err = format_error(t, line, sizeof(line));
    if (err)
        printf("# %s: %s\n", err, line);
    CHECK(err == NULL);
    CHECK(sample(t, "glm_http_requests_total{route=\"/v1/chat/completions\",status=\"200\"}") == 2);
    CHECK(sample(t, "glm_http_requests_total{route=\"/v1/chat/completions\",status=\"429\"}") == 1);
    CHECK(sample(t, "glm_http_requests_total{route=\"/ping\",status=\"200\"}") == 1);
    CHECK(sample(t, "glm_http_request_bytes_total") == 10);
    CHECK(sample(t, "glm_http_response_bytes_total") == 123);
    CHECK(sample(t, "glm_upstream_bytes_total") == 7);
    CHECK(sample(t, "glm_active_streams") == 1);
    CHECK(sample(t, "glm_token_refreshes_total{result=\"ok\"}") == 2);
    CHECK(sample(t, "glm_token_refreshes_total{result=\"rejected\"}") == 1);
    CHECK(sample(t, "glm_upstream_retries_total{reason=\"busy\"}") == 1);
    CHECK(sample(t, "glm_fetch_refusals_total{reason=\"private-address\"}") == 1);
    free(t);
    metrics_reset();
}

TEST(active_streams_never_go_negative)
{
    metrics_reset();
    metrics_streams_add(-1);
    char *t = render(NULL, 0);
    CHECK(sample(t, "glm_active_streams") == 0);
    free(t);
}

TEST(histogram_buckets_are_cumulative_with_sum_and_count)
{
    metrics_reset();
    metrics_observe(METRICS_TTFT, 0.01);
    metrics_observe(METRICS_TTFT, 0.05); /* on the bound: counts in le="0.05" */
    metrics_observe(METRICS_TTFT, 0.7);
    metrics_observe(METRICS_TTFT, 120);  /* only in +Inf */
    metrics_observe(METRICS_UPSTREAM_LATENCY, 0.2);
    char *t = render(NULL, 0);
    char line[512] = "";
    CHECK(format_error(t, line, sizeof(line)) == NULL);
    CHECK(sample(t, "glm_time_to_first_token_seconds_bucket{le=\"0.05\"}") == 2);
    CHECK(sample(t, "glm_time_to_first_token_seconds_bucket{le=\"0.5\"}") == 2);
    CHECK(sample(t, "glm_time_to_first_token_seconds_bucket{le=\"1\"}") == 3);
    CHECK(sample(t, "glm_time_to_first_token_seconds_bucket{le=\"60\"}") == 3);
    CHECK(sample(t, "glm_time_to_first_token_seconds_bucket{le=\"+Inf\"}") == 4);
    CHECK(sample(t, "glm_time_to_first_token_seconds_count") == 4);
    double sum = sample(t, "glm_time_to_first_token_seconds_sum");
    CHECK(sum > 120.759 && sum < 120.761);
    CHECK(sample(t, "glm_upstream_latency_seconds_bucket{le=\"0.1\"}") == 0);
    CHECK(sample(t, "glm_upstream_latency_seconds_bucket{le=\"0.25\"}") == 1);
    CHECK(sample(t, "glm_upstream_latency_seconds_count") == 1);
    free(t);
    metrics_reset();
}

TEST(accounts_by_state_and_fingerprint)
{
    metrics_reset();
    struct metrics_account acc[] = { { "a1b2c3", "ok", "ok", 0 },
                                     { "d4e5f6", "dead", "rejected", 0 },
                                     { "0099aa", "ok", NULL, 0 },
                                     { "77ee00", "cooling", "busy", 2.5 } };
    char *t = render(acc, 4);
    char line[512] = "";
    CHECK(format_error(t, line, sizeof(line)) == NULL);
    CHECK(sample(t, "glm_accounts{state=\"ok\"}") == 2);
    CHECK(sample(t, "glm_accounts{state=\"cooling\"}") == 1);
    /* Cooling: the time left and why; the others have no such series. */
    CHECK(sample(t, "glm_account_cooling_seconds{account=\"77ee00\",reason=\"busy\"}") == 2.5);
    CHECK(strstr(t, "glm_account_cooling_seconds{account=\"a1b2c3\"") == NULL);
    CHECK(sample(t, "glm_accounts{state=\"dead\"}") == 1);
    CHECK(sample(t, "glm_account_state{account=\"d4e5f6\",state=\"dead\"}") == 1);
    CHECK(sample(t, "glm_account_state{account=\"a1b2c3\",state=\"ok\"}") == 1);
    free(t);
}

TEST(label_values_are_escaped)
{
    metrics_reset();
    metrics_fetch_refused("a\"b\\c\nd");
    char *t = render(NULL, 0);
    char line[512] = "";
    CHECK(format_error(t, line, sizeof(line)) == NULL);
    CHECK(strstr(t, "glm_fetch_refusals_total{reason=\"a\\\"b\\\\c\\nd\"} 1\n") != NULL);
    free(t);
    metrics_reset();
}

TEST(series_are_bounded_and_the_rest_is_other)
{
    metrics_reset();
    char r[32];
    for (int i = 0; i < METRICS_MAX_SERIES + 50; i++) {
        snprintf(r, sizeof(r), "reason-%d", i);
        metrics_retry(r);
    }
    char *t = render(NULL, 0);
    size_t n = 0;
    for (const char *p = t; (p = strstr(p, "\nglm_upstream_retries_total{")); p++)
        n++;
    CHECK_INT(n, METRICS_MAX_SERIES);
    CHECK(sample(t, "glm_upstream_retries_total{reason=\"other\"}") == 51);
    CHECK(sample(t, "glm_upstream_retries_total{reason=\"reason-0\"}") == 1);
    free(t);
    metrics_reset();
}

TEST(the_redis_link_is_shown_only_when_redis_is_used)
{
    metrics_reset();
    char *text = render(NULL, 0);
    CHECK(text && !strstr(text, "glm_redis_up"));
    free(text);
    struct metrics_gauges g = { "x", 0, 0, 0, 0, 0, NULL, 0, 1, 0, 3 };
    struct buf b;
    buf_init(&b, 1 << 20);
    CHECK_INT(metrics_render(&b, &g), 0);
    text = buf_take(&b, NULL);
    CHECK(sample(text, "glm_redis_up") == 0);
    CHECK(sample(text, "glm_redis_link_drops_total") == 3);
    free(text);
}

TEST(render_reports_a_full_buffer)
{
    metrics_reset();
    struct metrics_gauges g = { "x", 0, 0, 0, 0, 0, NULL, 0, 0, 0, 0 };
    struct buf b;
    buf_init(&b, 100);
    CHECK_INT(metrics_render(&b, &g), -1);
    buf_cleanup(&b);
}

TEST(the_checker_itself_rejects_bad_text)
{
    char line[512];
    CHECK(format_error("x 1\n", line, sizeof(line)) != NULL);                       /* no TYPE */
    CHECK(format_error("# TYPE x counter\nx{a=\"b} 1\n", line, sizeof(line)) != NULL);
    CHECK(format_error("# TYPE x counter\nx one\n", line, sizeof(line)) != NULL);
    CHECK(format_error("# TYPE x counter\n# TYPE x counter\n", line, sizeof(line)) != NULL);
    CHECK(format_error("# TYPE x counter\nx 1", line, sizeof(line)) != NULL);
    CHECK(format_error("# TYPE x counter\nx{a=\"\\q\"} 1\n", line, sizeof(line)) != NULL);
    CHECK(format_error("# TYPE x histogram\nx_bucket{le=\"1\"} 1\n", line, sizeof(line)) == NULL);
}

TEST_MAIN()
