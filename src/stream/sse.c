/* Incremental SSE framing. Every input byte is looked at once: a line that is
 * complete inside one feed is handled in place, and only the tail of a feed
 * (a line cut by the read boundary) is copied aside until its end arrives. */
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

/* When the callback stops the feed, the bytes after that event's blank line
 * are dropped; the parser itself stays consistent. */
int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn *fn, void *arg)
{
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

        size_t j = i;
        while (j < len && buf[j] != '\n' && buf[j] != '\r')
            j++;
        if (j == len) {
            if (buf_append(&p->line, buf + i, len - i) < 0)
                return sse_too_long(p);
            break;
        }

        const char *s = buf + i;
        size_t n = j - i;
        if (p->line.len) {
            if (buf_append(&p->line, s, n) < 0)
                return sse_too_long(p);
            s = p->line.data;
            n = p->line.len;
        } else if (n > p->max_line) {
            return sse_too_long(p);
        }
        p->after_cr = buf[j] == '\r';
        i = j + 1;

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
