/* The pure half of the HTTP/1.1 server: parsing a request head (request line,
 * header lines, and what they say about framing, keep-alive and Expect) and a
 * chunk-size line, on memory, with no connection and no socket. On failure a
 * parse function returns -1 and fills a struct http_perr with the status to
 * answer (400, 413, 417, 501, 505), an OpenAI-style error code and a message;
 * the server turns that into its error reply (http/server.c). */
#ifndef GLM_HTTP_PARSE_H
#define GLM_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

struct http_hdr {
    const char *name;
    const char *value;
};

enum http_body { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED };

/* A parsed head. Every string points into the head the parser was given
 * (split in place), so they live as long as it does; hdrs is a new array
 * (free it with http_head_cleanup). */
struct http_head {
    const char *method, *path, *query; /* query: after '?', or "" */
    struct http_hdr *hdrs;
    size_t nhdrs;
    int http10;
    int is_head;          /* the method is HEAD */
    int keep_alive;       /* the client allows another request after this one */
    int expect_continue;  /* "Expect: 100-continue" */
    enum http_body body;
    uint64_t content_length; /* HTTP_BODY_LENGTH: bytes to read (> 0) */
};

struct http_perr {
    int status;           /* the status to answer */
    const char *code;     /* OpenAI-style error code, a static string */
    char msg[256];
};

/* Parses the head in head[0..len): lines ending in LF (or CRLF), up to the
 * first empty line or the end. head must be writable and NUL-terminated at
 * len; it is split in place. A declared Content-Length over max_body is an
 * error (413). Returns 0, or -1 with *err filled (h then holds what was parsed
 * so far and still needs http_head_cleanup). */
int http_parse_head(char *head, size_t len, size_t max_body, struct http_head *h,
                    struct http_perr *err);
void http_head_cleanup(struct http_head *h);

/* Parses one chunk-size line of n bytes, LF included ("1a;ext=x\r\n"):
 * extensions are ignored. 0 and *size set, or -1 when malformed. A size too
 * big for 64 bits saturates at UINT64_MAX. */
int http_parse_chunk_size(const char *p, size_t n, uint64_t *size);

/* 1 when ch may appear in a token (a method or a header name, RFC 9110 5.6.2). */
int http_is_tchar(unsigned char ch);
/* The reason phrase of a status ("Not Found"), "Unknown" when not listed. */
const char *http_reason(int status);

#endif
