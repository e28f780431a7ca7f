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

#include "glm/attach.h"

struct curl_loop;
struct fetch_opts;
struct upload_run;

/* files and images: arrays of attachment items in attachment order
 * (upload_uses_chat_upload says which shape), borrowed for the call. err is NULL on
 * success. The run is freed when this returns. */
typedef void upload_done_fn(void *arg, const struct upload_error *err, json_t *files,
                            json_t *images);

/* Downloads what has to be downloaded and uploads everything with
 * access_token, on loop. The list is borrowed and must outlive the run. done is called
 * once, from the event loop (never before this returns), unless the run is
 * cancelled. Returns NULL only if nothing could be started. */
struct upload_run *upload_run_start(struct curl_loop *loop, struct upload_list *l,
                                    const char *access_token, const char *assistant_id,
                                    const char *rid, upload_done_fn *done, void *arg);
/* 1 when uploads go to chat_upload (upload-call, or upstream-era 2026 for
 * auto): signed, with from=chat and the chat's assistant_id, and the results
 * become the 2026 attachment items (spec 12.3, 12.5):
 *   image: {file_name, file_id, image_url, file_size, order, width, height}
 *   file:  {file_id, file_url, file_name, file_size, file_type, order,
 *           maxReadPercent:0, cover_images:[""], url, width:0, height:0}
 * Otherwise file_upload (spec 8.4) and its results as they are. */
int upload_uses_chat_upload(void);
/* Stops every download and upload without calling done. Accepts NULL. */
void upload_run_cancel(struct upload_run *r);

/* The download settings (max-file, fetch-timeout, fetch-connect-timeout,
 * max-redirects, fetch-allow) for net/fetch; the allow-list is parsed once
 * and kept. */
void upload_fetch_opts(struct fetch_opts *o, const char *rid);

/* Reads a file_upload answer. Returns 0 with a new reference to the result
 * object and whether it is an image, or -1 with a reason in err. */
int upload_answer(long http_status, const char *body, size_t len, json_t **result, int *is_image,
                  char *err, size_t errlen);

#endif
