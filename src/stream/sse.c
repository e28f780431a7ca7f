/* Incremental SSE framing. Line ends are found with memchr and every input
 * byte is searched once: a line that is complete inside one feed is handled
 * in place; a line cut by the read boundary is copied aside until its end
 * arrives, except a data line, whose value goes straight into the event's
 * data (so a long frame is copied once, not twice). */
#include "stream/sse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xalloc.h"

/* A line holds a field name on top of its value ("data: " and the like), so a
 * line may pass max_event by this much and still carry a value that fits. */
#define SSE_LINE_SLACK 64

struct sse_parser {
    struct buf line;    /* the start of a line cut by the end of a feed */
    struct buf data;    /* the current event's data lines, joined with "\n" */
    struct buf event;   /* the current event's "event:" value */
    size_t max_line;
    int in_data;        /* the line cut by the end of a feed is a data line whose
                         * value goes straight into data (not through line) */
    int has_data;       /* a data line was seen (an empty one counts) */
    int after_cr;       /* the last line ended with '\r': a '\n' next is part of that end */
    int broken;         /* a cap was passed; every later call fails */
};

struct sse_parser *sse_parser_new(size_t max_event)
{
    struct sse_parser *p = xcalloc(1, sizeof(*p));

    p->max_line = max_event > SIZE_MAX - SSE_LINE_SLACK ? SIZE_MAX : max_event + SSE_LINE_SLACK;
    buf_init(&p->line, p->max_line);
    buf_init(&p->data, max_event);
    buf_init(&p->event, max_event);
    return p;
}

void sse_parser_free(struct sse_parser *p)
{
    if (!p)
        return;
    buf_cleanup(&p->line);
    buf_cleanup(&p->data);
    buf_cleanup(&p->event);
    free(p);
}

static void sse_event_reset(struct sse_parser *p)
{
    buf_reset(&p->data);
    buf_reset(&p->event);
    p->has_data = 0;
}

/* A blank line ends the event; one without data lines is dropped, as the
 * SSE specification says. */
static int sse_dispatch(struct sse_parser *p, sse_event_fn *fn, void *arg)
{
    int rc = 0;

    if (p->has_data)
        rc = fn(arg, buf_cstr(&p->event), buf_cstr(&p->data), p->data.len);
    sse_event_reset(p);
    return rc;
}

static int sse_too_long(struct sse_parser *p)
{
    p->broken = 1;
    return SSE_TOO_LONG;
}

static int sse_line(struct sse_parser *p, const char *s, size_t n, sse_event_fn *fn, void *arg)
{
    if (n == 0)
        return sse_dispatch(p, fn, arg);
    if (s[0] == ':')
        return 0;

    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *val = colon ? colon + 1 : s + n;
    size_t val_len = (size_t)(s + n - val);

    if (val_len && val[0] == ' ') {
        val++;
        val_len--;
    }
    if (name_len == 4 && memcmp(s, "data", 4) == 0) {
        if (p->has_data && buf_putc(&p->data, '\n') < 0)
            return sse_too_long(p);
        if (buf_append(&p->data, val, val_len) < 0)
            return sse_too_long(p);
        p->has_data = 1;
    } else if (name_len == 5 && memcmp(s, "event", 5) == 0) {
        buf_reset(&p->event);
        if (buf_append(&p->event, val, val_len) < 0)
            return sse_too_long(p);
    }
    /* id, retry and unknown fields: nothing here needs them. */
    return 0;
}

/* A line cut by the end of a feed. A data line (by far the most common: a
 * frame is one long data line) has its value appended to the event's data
 * as it comes, so each byte is copied once; other lines wait in p->line. */
static int sse_hold(struct sse_parser *p, const char *s, size_t n)
{
    if (p->in_data)
        return buf_append(&p->data, s, n) < 0 ? sse_too_long(p) : 0;
    if (buf_append(&p->line, s, n) < 0)
        return sse_too_long(p);
    /* "data:" and the byte after it decide where the value starts. */
    if (p->line.len < 6 || memcmp(p->line.data, "data:", 5) != 0)
        return 0;
    size_t skip = p->line.data[5] == ' ' ? 6 : 5;
    if ((p->has_data && buf_putc(&p->data, '\n') < 0) ||
        buf_append(&p->data, p->line.data + skip, p->line.len - skip) < 0)
        return sse_too_long(p);
    p->has_data = 1;
    p->in_data = 1;
    buf_reset(&p->line);
    return 0;
}

/* The next '\n' or '\r' of a feed. memchr is much faster than a byte loop on
 * long lines; each answer is kept while it lies ahead, so no byte is searched
 * twice for the same character (a feed of many CR-ended lines must not be
 * searched to its end for a LF once per line). */
struct sse_next {
    const char *at;     /* NULL: none up to the end of the feed */
    int known;
};

static const char *next_of(struct sse_next *nx, const char *buf, size_t i, size_t len, int c)
{
    if (!nx->known || (nx->at && nx->at < buf + i)) {
        nx->at = memchr(buf + i, c, len - i);
        nx->known = 1;
    }
    return nx->at;
}

/* When the callback stops the feed, the bytes after that event's blank line
 * are dropped; the parser itself stays consistent. */
int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn *fn, void *arg)
{
    struct sse_next nlf = { NULL, 0 }, ncr = { NULL, 0 };
    size_t i = 0;

    if (p->broken)
        return SSE_TOO_LONG;
    while (i < len) {
        if (p->after_cr) {
            /* "\r\n" may be cut between two feeds: the '\n' ends nothing. */
            p->after_cr = 0;
            if (buf[i] == '\n') {
                i++;
                continue;
            }
        }

        const char *lf = next_of(&nlf, buf, i, len, '\n');
        const char *cr = next_of(&ncr, buf, i, len, '\r');
        const char *e = !lf ? cr : !cr ? lf : lf < cr ? lf : cr;
        if (!e)
            return sse_hold(p, buf + i, len - i);

        size_t j = (size_t)(e - buf);
        const char *s = buf + i;
        size_t n = j - i;
        p->after_cr = *e == '\r';
        i = j + 1;
        if (p->in_data) {
            /* The rest of a data line already going into data. */
            p->in_data = 0;
            if (buf_append(&p->data, s, n) < 0)
                return sse_too_long(p);
            continue;
        }
        if (p->line.len) {
            if (buf_append(&p->line, s, n) < 0)
                return sse_too_long(p);
            s = p->line.data;
            n = p->line.len;
        } else if (n > p->max_line) {
            return sse_too_long(p);
        }

        int rc = sse_line(p, s, n, fn, arg);
        buf_reset(&p->line);
        if (rc)
            return rc;
    }
    return 0;
}

int sse_finish(struct sse_parser *p, sse_event_fn *fn, void *arg)
{
    int rc = 0;

    if (p->broken)
        return SSE_TOO_LONG;
    p->after_cr = 0;
    p->in_data = 0; /* a data line without an end: its value is in data already */
    if (p->line.len) {
        /* The last line had no end: take it as if it had one. */
        rc = sse_line(p, p->line.data, p->line.len, fn, arg);
        buf_reset(&p->line);
    }
    if (rc == 0)
        rc = sse_dispatch(p, fn, arg);
    else
        sse_event_reset(p);
    return rc;
}
