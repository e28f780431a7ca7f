/* Attachments of a chat request (protocol spec 8.4): the files and images of
 * the last message, downloaded (http/https, through net/fetch and its SSRF
 * guard) or decoded (data: URLs), then uploaded to chatglm.cn's
 * assistant/file_upload as multipart (field "file", a filename with an
 * extension, the part's Content-Type; not signed), all of them at once on
 * the event loop. Each upload result becomes an item of the stream request's
 * "file" or "image" content item (spec 6.2): width or height set means image.
 *
 * Memory: a file is held once (the download or the decoded data URL) and the
 * upload reads it in place; nothing is written to disk. */
#ifndef GLM_UPLOAD_H
#define GLM_UPLOAD_H

#include <stddef.h>

#include <jansson.h>

struct fetch_opts;
struct upload_list;
struct upload_run;

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

/* files and images: arrays of file_upload results in attachment order
 * (images with image_url = file_url), borrowed for the call. err is NULL on
 * success. The run is freed when this returns. */
typedef void upload_done_fn(void *arg, const struct upload_error *err, json_t *files,
                            json_t *images);

/* Downloads what has to be downloaded and uploads everything with
 * access_token. The list is borrowed and must outlive the run. done is called
 * once, from the event loop (never before this returns), unless the run is
 * cancelled. Returns NULL only if nothing could be started. */
struct upload_run *upload_run_start(struct upload_list *l, const char *access_token,
                                    const char *rid, upload_done_fn *done, void *arg);
/* Stops every download and upload without calling done. Accepts NULL. */
void upload_run_cancel(struct upload_run *r);

/* The download settings (max-file, fetch-timeout, fetch-connect-timeout,
 * max-redirects, fetch-allow) for net/fetch; the allow-list is parsed once
 * and kept. */
void upload_fetch_opts(struct fetch_opts *o, const char *rid);

/* ---- pure helpers ------------------------------------------------------- */

/* Decodes a data: URL (base64 or percent-encoded). mime gets its media type
 * without parameters ("" when none). Returns 0 with a new buffer (free()),
 * -1 when it is not a data: URL or its base64 is invalid. */
int upload_data_url(const char *url, size_t len, char *mime, size_t mimelen, unsigned char **data,
                    size_t *n);
/* The MIME type the leading bytes show (PNG, JPEG, GIF, WebP, BMP, TIFF, PDF,
 * ZIP, OLE, RTF, UTF-8 text), or NULL. */
const char *upload_sniff(const unsigned char *p, size_t n);
/* By the extension of a file name or URL path; NULL when unknown. */
const char *upload_mime_for_name(const char *name);
/* A file extension (without the dot) for a MIME type; "bin" when unknown. */
const char *upload_ext_for_mime(const char *mime);
/* The type to upload with: the declared one (a data URL's or the
 * Content-Type) unless it is generic (octet-stream), else the bytes, refined
 * or replaced by the name's extension. Returns 0, or -1 when unknown. */
int upload_resolve_type(const char *declared, const unsigned char *p, size_t n, const char *name,
                        char *out, size_t outlen);
/* A safe file name: the given name or the last segment of a URL's path
 * (percent-decoded, unsafe characters replaced), else 32 random hex digits;
 * with an extension for mime when it has none. */
void upload_filename(const char *name_or_url, const char *mime, char *out, size_t outlen);
/* Reads a file_upload answer. Returns 0 with a new reference to the result
 * object and whether it is an image, or -1 with a reason in err. */
int upload_answer(long http_status, const char *body, size_t len, json_t **result, int *is_image,
                  char *err, size_t errlen);

#endif
