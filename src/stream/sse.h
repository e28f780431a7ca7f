/* Incremental Server-Sent Events framing (no I/O, no allocation per event).
 * Bytes go in as they arrive, in pieces of any size; each complete event comes
 * out through the callback. Accepts "\n", "\r\n" and "\r" line ends,
 * "field:value" and "field: value" (one leading space is dropped), several
 * data lines per event (joined with "\n"), comment lines (": ...") and
 * unknown fields (ignored). */
#ifndef GLM_SSE_H
#define GLM_SSE_H

#include <stddef.h>

struct sse_parser;

/* One event. event is "" when there was no event: line (SSE's default type is
 * "message"); data is NUL-terminated and borrowed until the callback returns.
 * Return 0 to go on, non-zero to stop sse_feed (it then returns that value). */
typedef int sse_event_fn(void *arg, const char *event, const char *data, size_t data_len);

/* max_event caps the bytes of one event (its data lines together). */
struct sse_parser *sse_parser_new(size_t max_event);
void sse_parser_free(struct sse_parser *p);

/* Returns 0 when all bytes were consumed, SSE_TOO_LONG when an event passed the
 * cap (the parser is then unusable), or the callback's non-zero value. */
#define SSE_TOO_LONG (-2)
int sse_feed(struct sse_parser *p, const char *buf, size_t len, sse_event_fn *fn, void *arg);

/* At end of input: delivers a last event that had data but no blank line after
 * it (servers that close right after the last "data:" line). Returns as
 * sse_feed. */
int sse_finish(struct sse_parser *p, sse_event_fn *fn, void *arg);

#endif
