/* Small helpers shared by the mock's files: time, ids, text. */
#ifndef MOCK_MISC_H
#define MOCK_MISC_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Wall-clock milliseconds since the epoch. */
uint64_t mock_now_ms(void);
/* A fresh Mongo-style ObjectId (8 hex seconds, 10 hex per process, 6 hex
 * counter) into out[25]. */
void mock_objectid(char out[25]);
/* Two fresh ObjectIds that differ only by one in the counter, as a new
 * conversation's id and its first message id do upstream. */
void mock_objectid_pair(char first[25], char second[25]);
/* A random UUID v4 string into out[37]. */
void mock_uuid(char out[37]);
/* URL-safe base64 without padding. Returns a new string. */
char *mock_base64url(const void *data, size_t len);
/* First occurrence of needle in hay, or NULL. */
const char *mock_memfind(const char *hay, size_t hlen, const char *needle, size_t nlen);
/* Appends in[0..len) to out with every invalid UTF-8 sequence replaced by
 * U+FFFD, so the result is always a valid JSON string. */
int mock_utf8_sanitize(struct buf *out, const char *in, size_t len)
    __attribute__((warn_unused_result));
/* Whether in[0..len) is valid UTF-8. */
int mock_utf8_valid(const char *in, size_t len);

#endif
