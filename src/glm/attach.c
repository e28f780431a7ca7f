/* The attachments of an OpenAI chat request: see attach.h. */
#include "glm/attach.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "glm/filetype.h"
#include "net/guard.h"
#include "util/crypto.h"
#include "util/xalloc.h"

size_t upload_list_len(const struct upload_list *l)
{
    return l ? l->n : 0;
}

void upload_list_free(struct upload_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].url);
        free(l->v[i].given_name);
        free(l->v[i].data);
    }
    free(l->v);
    free(l);
}

static int set_error(struct upload_error *e, int status, const char *code, const char *param,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int set_error(struct upload_error *e, int status, const char *code, const char *param,
                     const char *fmt, ...)
{
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->param, sizeof(e->param), "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

/* Decodes and types the data of one item. */
static int item_take_data(struct upload_item *it, const char *src, size_t len, int is_data_url,
                          size_t max_file, struct upload_error *err)
{
    char declared[128] = "";
    if (is_data_url) {
        if (filetype_data_url(src, len, declared, sizeof(declared), &it->data, &it->len) < 0)
            return set_error(err, 400, "invalid_base64", it->param,
                             "%s: the data URL is not valid base64 (data:<type>;base64,<data>)",
                             it->param);
    } else {
        it->data = crypto_base64_decode(src, len, &it->len);
        if (!it->data)
            return set_error(err, 400, "invalid_base64", it->param,
                             "%s: file_data is not valid base64", it->param);
    }
    if (it->len == 0)
        return set_error(err, 400, "empty_file", it->param, "%s: the file is empty", it->param);
    if (it->len > max_file)
        return set_error(err, 400, "file_too_large", it->param,
                         "%s: the file has %zu bytes, more than the limit of %zu (setting "
                         "max-file)", it->param, it->len, max_file);
    if (filetype_resolve(declared, it->data, it->len, it->given_name, it->mime,
                         sizeof(it->mime)) < 0)
        return set_error(err, 400, "unknown_file_type", it->param,
                         "%s: the type of the file cannot be told (no media type in the data URL "
                         "and unknown content)", it->param);
    return 0;
}

/* One content part; *found is set when it is an attachment. */
static int parse_part(const json_t *part, struct upload_item *it, int *found, size_t max_file,
                      struct upload_error *err)
{
    *found = 0;
    const char *type = json_string_value(json_object_get(part, "type"));
    json_t *src = NULL;
    if (type && strcmp(type, "image_url") == 0) {
        src = json_object_get(part, "image_url");
    } else if (type && strcmp(type, "file") == 0) {
        src = json_object_get(part, "file_url");
        json_t *file = json_object_get(part, "file");
        if (!src && json_is_object(file)) {
            *found = 1;
            json_t *fd = json_object_get(file, "file_data");
            json_t *fname = json_object_get(file, "filename");
            if (json_is_string(fname) && json_string_length(fname))
                it->given_name = xstrdup(json_string_value(fname));
            if (!json_is_string(fd) || !json_string_length(fd))
                return set_error(err, 400, "invalid_attachment", it->param,
                                 "%s: a file part needs file.file_data (uploaded files are not "
                                 "supported: send the data or a file_url)", it->param);
            const char *d = json_string_value(fd);
            size_t dl = json_string_length(fd);
            return item_take_data(it, d, dl, strncasecmp(d, "data:", 5) == 0, max_file, err);
        }
    } else {
        return 0;
    }
    *found = 1;
    if (json_is_object(src))
        src = json_object_get(src, "url");
    if (!json_is_string(src) || !json_string_length(src))
        return set_error(err, 400, "invalid_attachment", it->param,
                         "%s: expected {\"type\":\"%s\",\"%s\":{\"url\":\"http(s):// or data: "
                         "URL\"}}", it->param, type, strcmp(type, "file") == 0 ? "file_url"
                                                                            : "image_url");
    const char *url = json_string_value(src);
    size_t ul = json_string_length(src);
    if (strncasecmp(url, "data:", 5) == 0)
        return item_take_data(it, url, ul, 1, max_file, err);
    char host[256], why[256];
    if (guard_url_check(url, host, sizeof(host), why, sizeof(why)) < 0)
        return set_error(err, 400, "invalid_url", it->param, "%s: %s", it->param, why);
    it->url = xstrdup(url);
    return 0;
}

int upload_list_parse(const json_t *messages, size_t max_attachments, size_t max_file,
                      struct upload_list **out, struct upload_error *err)
{
    *out = NULL;
    size_t nm = json_array_size(messages);
    if (nm == 0)
        return 0;
    json_t *content = json_object_get(json_array_get(messages, nm - 1), "content");
    if (!json_is_array(content))
        return 0;
    struct upload_list *l = xcalloc(1, sizeof(*l));
    size_t k;
    json_t *part;
    json_array_foreach(content, k, part) {
        struct upload_item it;
        memset(&it, 0, sizeof(it));
        snprintf(it.param, sizeof(it.param), "messages[%zu].content[%zu]", nm - 1, k);
        int found;
        int rc = parse_part(part, &it, &found, max_file, err);
        if (found && rc == 0 && l->n >= max_attachments)
            rc = set_error(err, 400, "too_many_attachments", it.param,
                           "the last message carries more than %zu files and images (setting "
                           "max-attachments)", max_attachments);
        if (rc < 0 || !found) {
            free(it.url);
            free(it.given_name);
            free(it.data);
            if (rc < 0) {
                upload_list_free(l);
                return -1;
            }
            continue;
        }
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = it;
    }
    if (l->n == 0) {
        upload_list_free(l);
        return 0;
    }
    *out = l;
    return 0;
}
