/* SSE framing: every fixture, fed whole, byte by byte and in random pieces,
 * must give the same events; line ends, fields, caps and the callback's stop. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/sse.h"
#include "util/buf.h"
#include "test.h"

#define CAP (1u << 20)

/* Every event of a run, written as "<event>\x01<data>\x02" into one buffer,
 * so two runs compare with one strcmp. */
struct events {
    struct buf log;
    int count;
    int stop_after;   /* 0: never stop */
};

static void events_init(struct events *ev)
{
    buf_init(&ev->log, 64u << 20);
    ev->count = 0;
    ev->stop_after = 0;
}

static int record_cb(void *arg, const char *event, const char *data, size_t data_len)
{
    struct events *ev = arg;

    CHECK(strlen(data) <= data_len);     /* NUL-terminated, length given */
    CHECK(data[data_len] == '\0');
    if (buf_puts(&ev->log, event) < 0 || buf_putc(&ev->log, '\x01') < 0 ||
        buf_append(&ev->log, data, data_len) < 0 || buf_putc(&ev->log, '\x02') < 0)
        return -100;
    ev->count++;
    if (ev->stop_after && ev->count == ev->stop_after)
        return 7;
    return 0;
}

/* piece: 0 = whole, 1 = one byte at a time, -1 = random sizes from seed. */
static int feed_all(const char *s, size_t n, long piece, unsigned seed, size_t cap,
                    struct events *ev)
{
    struct sse_parser *p = sse_parser_new(cap);
    size_t i = 0;
    int rc = 0;

    while (i < n && rc == 0) {
        size_t k = n - i;
        if (piece == 1)
            k = 1;
        else if (piece < 0) {
            seed = seed * 1103515245u + 12345u;
            k = 1 + (seed >> 16) % 97;
            if (k > n - i)
                k = n - i;
        }
        rc = sse_feed(p, s + i, k, record_cb, ev);
        i += k;
    }
    if (rc == 0)
        rc = sse_finish(p, record_cb, ev);
    sse_parser_free(p);
    return rc;
}

static const char *const fixtures[] = {
    "tests/fixtures/chat-plain.sse",
    "tests/fixtures/chat-multipart-search.sse",
    "tests/fixtures/chat-think.sse",
    "tests/fixtures/chat-drawing.sse",
    "tests/fixtures/chat-code-interpreter.sse",
    "tests/fixtures/chat-intervene.sse",
    "tests/fixtures/chat-file.sse",
    "tests/fixtures/chat-image-vision.sse",
    "tests/fixtures/chat-stream-error.sse",
    "tests/fixtures/chat-plain-v2-delta.sse",
};

static int count_substr(const char *s, const char *needle)
{
    int n = 0;
    for (const char *q = strstr(s, needle); q; q = strstr(q + 1, needle))
        n++;
    return n;
}

/* Line ends rewritten: "\n" becomes "\r\n" (crlf = 1) or "\r" (crlf = 2). */
static char *rewrite_eol(const char *s, size_t n, int crlf, size_t *out_len)
{
    char *o = malloc(2 * n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') {
            o[k++] = '\r';
            if (crlf == 1)
                o[k++] = '\n';
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    *out_len = k;
    return o;
}

TEST(every_fixture_gives_the_same_events_whole_bytewise_and_in_random_pieces)
{
    for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
        size_t n;
        char *s = test_read_file(fixtures[f], &n);
        CHECK(s != NULL);
        if (!s)
            continue;
        int frames = count_substr(s, "\ndata:") + (strncmp(s, "data:", 5) == 0);

        struct events whole;
        events_init(&whole);
        CHECK_INT(feed_all(s, n, 0, 0, CAP, &whole), 0);
        CHECK_INT(whole.count, frames);
        CHECK(frames >= 4);
        /* Every event is a "message" whose data is one JSON object. */
        CHECK_INT(count_substr(buf_cstr(&whole.log), "message\x01{"), frames);
        CHECK_INT(count_substr(buf_cstr(&whole.log), "}\x02"), frames);

        struct events bytewise;
        events_init(&bytewise);
        CHECK_INT(feed_all(s, n, 1, 0, CAP, &bytewise), 0);
        CHECK_STR(buf_cstr(&bytewise.log), buf_cstr(&whole.log));

        for (unsigned seed = 1; seed <= 5; seed++) {
            struct events rnd;
            events_init(&rnd);
            CHECK_INT(feed_all(s, n, -1, seed, CAP, &rnd), 0);
            CHECK_STR(buf_cstr(&rnd.log), buf_cstr(&whole.log));
            buf_cleanup(&rnd.log);
        }

        for (int eol = 1; eol <= 2; eol++) {
            size_t m;
            char *t = rewrite_eol(s, n, eol, &m);
            struct events a, b;
            events_init(&a);
            events_init(&b);
            CHECK_INT(feed_all(t, m, 1, 0, CAP, &a), 0);
            CHECK_INT(feed_all(t, m, -1, 42, CAP, &b), 0);
            CHECK_STR(buf_cstr(&a.log), buf_cstr(&whole.log));
            CHECK_STR(buf_cstr(&b.log), buf_cstr(&whole.log));
            buf_cleanup(&a.log);
            buf_cleanup(&b.log);
            free(t);
        }
        buf_cleanup(&whole.log);
        buf_cleanup(&bytewise.log);
        free(s);
    }
}

static const char *run(const char *input, struct events *ev)
{
    events_init(ev);
    int rc = feed_all(input, strlen(input), 0, 0, CAP, ev);
    CHECK_INT(rc, 0);
    return buf_cstr(&ev->log);
}

TEST(crlf_split_across_two_feeds_does_not_make_an_empty_line)
{
    struct sse_parser *p = sse_parser_new(CAP);
    struct events ev;
    events_init(&ev);
    CHECK_INT(sse_feed(p, "data: a\r", 8, record_cb, &ev), 0);
    CHECK_INT(sse_feed(p, "\ndata: b\r", 9, record_cb, &ev), 0);
    CHECK_INT(sse_feed(p, "\n", 1, record_cb, &ev), 0);
    CHECK_INT(ev.count, 0);
    CHECK_INT(sse_feed(p, "\r", 1, record_cb, &ev), 0);
    CHECK_INT(ev.count, 1);
    CHECK_INT(sse_feed(p, "\n", 1, record_cb, &ev), 0);   /* rest of that "\r\n" */
    CHECK_STR(buf_cstr(&ev.log), "\x01" "a\nb\x02");
    CHECK_INT(sse_finish(p, record_cb, &ev), 0);
    CHECK_INT(ev.count, 1);
    sse_parser_free(p);
    buf_cleanup(&ev.log);
}

TEST(lone_cr_and_lf_line_ends_both_work)
{
    struct events ev;
    CHECK_STR(run("data: x\r\rdata: y\n\n", &ev), "\x01x\x02\x01y\x02");
    buf_cleanup(&ev.log);
    /* "\n\r" is two line ends: the second is a blank line. */
    CHECK_STR(run("data: x\n\rdata: y\r\n\r\n", &ev), "\x01x\x02\x01y\x02");
    buf_cleanup(&ev.log);
}

TEST(event_names_with_and_without_space_and_absent)
{
    struct events ev;
    CHECK_STR(run("event:message\ndata:{}\n\nevent: message\ndata: {}\n\ndata: 1\n\n", &ev),
              "message\x01{}\x02message\x01{}\x02\x01" "1\x02");
    buf_cleanup(&ev.log);
    /* The name belongs to one event only. */
    CHECK_STR(run("event: add\ndata: 1\n\ndata: 2\n\n", &ev), "add\x01" "1\x02\x01" "2\x02");
    buf_cleanup(&ev.log);
}

TEST(data_lines_are_joined_with_newlines_and_one_leading_space_is_dropped)
{
    struct events ev;
    CHECK_STR(run("data: a\ndata:b\ndata:  c\ndata\ndata:\n\n", &ev), "\x01" "a\nb\n c\n\n\x02");
    buf_cleanup(&ev.log);
    CHECK_STR(run("data\n\n", &ev), "\x01\x02");   /* one empty data line is an event */
    CHECK_INT(ev.count, 1);
    buf_cleanup(&ev.log);
    CHECK_STR(run("data: a:b: c\n\n", &ev), "\x01" "a:b: c\x02");
    buf_cleanup(&ev.log);
}

TEST(events_without_data_comments_and_unknown_fields_are_not_delivered)
{
    struct events ev;
    CHECK_STR(run(": keepalive\n\nevent: ping\n\nid: 5\nretry: 100\nfoo: bar\n\n"
                  ": x\ndata: z\n: y\nid: 6\n\n\n\n", &ev),
              "\x01z\x02");
    CHECK_INT(ev.count, 1);
    buf_cleanup(&ev.log);
}

TEST(finish_delivers_an_event_left_without_blank_line)
{
    struct events ev;
    events_init(&ev);
    struct sse_parser *p = sse_parser_new(CAP);
    CHECK_INT(sse_feed(p, "data: 1\n\ndata: 2\n", 17, record_cb, &ev), 0);
    CHECK_INT(ev.count, 1);
    CHECK_INT(sse_finish(p, record_cb, &ev), 0);
    CHECK_STR(buf_cstr(&ev.log), "\x01" "1\x02\x01" "2\x02");
    /* A last line with no line end at all. */
    CHECK_INT(sse_feed(p, "data: 3", 7, record_cb, &ev), 0);
    CHECK_INT(sse_finish(p, record_cb, &ev), 0);
    CHECK_STR(buf_cstr(&ev.log), "\x01" "1\x02\x01" "2\x02\x01" "3\x02");
    /* Nothing pending: nothing delivered. */
    CHECK_INT(sse_finish(p, record_cb, &ev), 0);
    CHECK_INT(ev.count, 3);
    sse_parser_free(p);
    buf_cleanup(&ev.log);
}

TEST(an_event_past_the_cap_fails_and_the_parser_stays_failed)
{
    struct events ev;
    events_init(&ev);
    /* Exactly the cap fits: 8 bytes of data, two lines joined. */
    CHECK_INT(feed_all("data: abc\ndata: defg\n\n", 22, 0, 0, 8, &ev), 0);
    CHECK_STR(buf_cstr(&ev.log), "\x01" "abc\ndefg\x02");
    CHECK_INT(feed_all("data: abc\ndata: defgh\n\n", 23, 0, 0, 8, &ev), SSE_TOO_LONG);
    CHECK_INT(feed_all("data: abc\ndata: defgh\n\n", 23, 1, 0, 8, &ev), SSE_TOO_LONG);
    CHECK_INT(ev.count, 1);

    /* A line that never ends is capped too, fed whole or bytewise. */
    static char big[4096];
    memset(big, 'x', sizeof(big));
    memcpy(big, "data: ", 6);
    struct sse_parser *p = sse_parser_new(1000);
    CHECK_INT(sse_feed(p, big, sizeof(big), record_cb, &ev), SSE_TOO_LONG);
    CHECK_INT(sse_feed(p, "\n\n", 2, record_cb, &ev), SSE_TOO_LONG);
    CHECK_INT(sse_finish(p, record_cb, &ev), SSE_TOO_LONG);
    sse_parser_free(p);
    p = sse_parser_new(1000);
    int rc = 0;
    for (size_t i = 0; i < sizeof(big) && rc == 0; i++)
        rc = sse_feed(p, big + i, 1, record_cb, &ev);
    CHECK_INT(rc, SSE_TOO_LONG);
    sse_parser_free(p);
    /* A long comment line is capped as well (the same whole or bytewise). */
    memset(big, ':', 10);
    p = sse_parser_new(1000);
    CHECK_INT(sse_feed(p, big, sizeof(big), record_cb, &ev), SSE_TOO_LONG);
    sse_parser_free(p);
    CHECK_INT(ev.count, 1);
    buf_cleanup(&ev.log);
}

TEST(a_callback_stop_value_is_returned)
{
    struct events ev;
    events_init(&ev);
    ev.stop_after = 2;
    const char *in = "data: 1\n\ndata: 2\n\ndata: 3\n\n";
    struct sse_parser *p = sse_parser_new(CAP);
    CHECK_INT(sse_feed(p, in, strlen(in), record_cb, &ev), 7);
    CHECK_INT(ev.count, 2);
    /* The parser can go on with new input. */
    ev.stop_after = 0;
    CHECK_INT(sse_feed(p, "data: 4\n\n", 9, record_cb, &ev), 0);
    CHECK_STR(buf_cstr(&ev.log), "\x01" "1\x02\x01" "2\x02\x01" "4\x02");
    sse_parser_free(p);
    buf_cleanup(&ev.log);
    sse_parser_free(NULL);
}

TEST(a_large_event_fed_one_byte_at_a_time_takes_linear_time)
{
    /* 1 MiB of data: rescanning the held line on every byte would be ~10^12
     * steps and never finish; linear framing takes a moment. */
    size_t n = (1u << 20) + 8;
    char *s = malloc(n + 1);
    memcpy(s, "data: ", 6);
    for (size_t i = 6; i < n - 2; i++)
        s[i] = (char)('a' + i % 26);
    s[n - 2] = '\n';
    s[n - 1] = '\n';
    s[n] = '\0';
    struct events ev;
    events_init(&ev);
    CHECK_INT(feed_all(s, n, 1, 0, 2u << 20, &ev), 0);
    CHECK_INT(ev.count, 1);
    CHECK_INT(ev.log.len, n - 8 + 2);
    CHECK(memcmp(ev.log.data + 1, s + 6, n - 8) == 0);
    buf_cleanup(&ev.log);
    free(s);
}

/* A plain whole-input SSE reader, the reference for the incremental one. */
static void reference_events(const char *s, size_t n, struct events *ev)
{
    struct buf data, event;
    int has_data = 0;
    size_t i = 0;

    buf_init(&data, 64u << 20);
    buf_init(&event, 64u << 20);
    while (i <= n) {
        size_t j = i;
        while (j < n && s[j] != '\r' && s[j] != '\n')
            j++;
        if (j == n && i == n)
            break;
        const char *line = s + i;
        size_t len = j - i;
        if (j < n && s[j] == '\r' && j + 1 < n && s[j + 1] == '\n')
            j++;
        i = j + 1;
        if (len == 0) {
            if (has_data)
                (void)record_cb(ev, buf_cstr(&event), buf_cstr(&data), data.len);
            buf_reset(&data);
            buf_reset(&event);
            has_data = 0;
            continue;
        }
        if (line[0] == ':')
            continue;
        const char *colon = memchr(line, ':', len);
        size_t name = colon ? (size_t)(colon - line) : len;
        const char *v = colon ? colon + 1 : line + len;
        size_t vl = (size_t)(line + len - v);
        if (vl && v[0] == ' ') {
            v++;
            vl--;
        }
        if (name == 4 && memcmp(line, "data", 4) == 0) {
            if (has_data)
                CHECK(buf_putc(&data, '\n') == 0);
            CHECK(buf_append(&data, v, vl) == 0);
            has_data = 1;
        } else if (name == 5 && memcmp(line, "event", 5) == 0) {
            buf_reset(&event);
            CHECK(buf_append(&event, v, vl) == 0);
        }
    }
    if (has_data)
        (void)record_cb(ev, buf_cstr(&event), buf_cstr(&data), data.len);
    buf_cleanup(&data);
    buf_cleanup(&event);
}

TEST(random_streams_in_random_pieces_match_a_whole_input_reference)
{
    /* Lines built from pieces that stress the cut points: "data:" itself cut,
     * with and without its space, long values, CR / LF / CRLF, comments,
     * unknown fields, several data lines per event. */
    static const char *const bits[] = {
        "data:", "data: ", "da", "ta", ": ", "event:", "event: message", ":comment",
        "id: 7", "x", "yz", "{\"a\":1}", "data", "\r", "\n", "\r\n", "\n\n", "\r\n\r\n",
        " ", "数据", "dat",
    };
    unsigned seed = 12345;
    for (int round = 0; round < 400; round++) {
        struct buf in;
        buf_init(&in, 1u << 20);
        int nbits = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 60;
        for (int k = 0; k < nbits; k++) {
            seed = seed * 1103515245u + 12345u;
            unsigned pick = (seed >> 16) % (sizeof(bits) / sizeof(bits[0]) + 1);
            if (pick == sizeof(bits) / sizeof(bits[0])) {
                /* a long value */
                size_t len = 1 + (seed >> 8) % 3000;
                for (size_t q = 0; q < len; q++)
                    CHECK(buf_putc(&in, (char)('a' + q % 26)) == 0);
            } else {
                CHECK(buf_puts(&in, bits[pick]) == 0);
            }
        }
        struct events want, got;
        events_init(&want);
        reference_events(in.data, in.len, &want);
        for (long piece = -1; piece <= 1; piece++) {
            events_init(&got);
            CHECK_INT(feed_all(in.data, in.len, piece, seed, CAP, &got), 0);
            CHECK_INT(got.count, want.count);
            CHECK_INT(got.log.len, want.log.len);
            CHECK_STR(buf_cstr(&got.log), buf_cstr(&want.log));
            buf_cleanup(&got.log);
        }
        buf_cleanup(&want.log);
        buf_cleanup(&in);
    }
}

TEST(many_short_lines_in_one_large_feed_take_linear_time)
{
    /* 400,000 CR-ended lines and a single LF at the very end, in one feed:
     * searching the rest of the feed for a LF once per line would take
     * about 10^11 steps. */
    size_t lines = 400000, n = lines * 3 + 1;
    char *s = malloc(n);
    for (size_t i = 0; i < lines; i++)
        memcpy(s + 3 * i, i % 2 ? "\r\r\r" : ":x\r", 3);
    s[n - 1] = '\n';
    struct events ev;
    events_init(&ev);
    struct sse_parser *p = sse_parser_new(CAP);
    CHECK_INT(sse_feed(p, s, n, record_cb, &ev), 0);
    CHECK_INT(ev.count, 0);
    /* Also the other way round: LF-ended lines, one CR at the end. */
    for (size_t i = 0; i < lines; i++)
        memcpy(s + 3 * i, "d\n\n", 3);
    s[n - 1] = '\r';
    CHECK_INT(sse_feed(p, s, n, record_cb, &ev), 0);
    CHECK_INT(ev.count, 0);
    sse_parser_free(p);
    buf_cleanup(&ev.log);
    free(s);
}

TEST_MAIN()
