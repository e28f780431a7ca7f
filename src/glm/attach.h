/* The attachments of an OpenAI chat request (protocol spec 8.4), read from
 * its messages into a list of uploads to make: URLs to download (checked by
 * the SSRF guard's URL rule) and decoded, typed data. Pure: no I/O; the
 * uploads themselves are glm/upload.h. */
#ifndef GLM_ATTACH_H
#define GLM_ATTACH_H

#include <stddef.h>

#include <jansson.h>

/* One attachment: a URL to download, or decoded data with its type. */
struct upload_item {
    char param[64];             /* where it was in the request */
    char *url;                  /* an http(s) URL, or NULL */
    char *given_name;           /* a filename sent with the data, or NULL */
    unsigned char *data;        /* the decoded data URL */
    size_t len;
    char mime[128];             /* resolved (data) */
};

struct upload_list {
    struct upload_item *v;
    size_t n;
};

/* Why attachments failed, ready for an OpenAI error reply. */
struct upload_error {
    int status;              /* 400 (the attachment), 502/504 (chatglm.cn) */
    char code[48];           /* invalid_base64, empty_file, unknown_file_type, file_too_large,
                                fetch_refused, fetch_timeout, fetch_failed, invalid_url,
                                invalid_attachment, too_many_attachments, upload_failed, ... */
    char param[64];          /* "messages[3].content[1]", or "" */
    char message[900];
};

/* Reads the attachments of the last message: {"type":"image_url","image_url":
 * {"url":U}} or "image_url":U, {"type":"file","file_url":{"url":U}} or
 * "file_url":U, and OpenAI's {"type":"file","file":{"file_data":D,
 * "filename":N}}; U is an http(s) URL or a data: URL, D a data: URL or plain
 * base64. Data URLs are decoded and typed here. Returns 0 with *out NULL when
 * there are none, 0 with a new list, or -1 with err filled (status 400). */
int upload_list_parse(const json_t *messages, size_t max_attachments, size_t max_file,
                      struct upload_list **out, struct upload_error *err);
size_t upload_list_len(const struct upload_list *l);
void upload_list_free(struct upload_list *l);

#endif
