/* The pure inputs of the uploads, on memory (no socket, no loop): the
 * attachment list of a request (glm/attach: data URLs decoded and typed
 * there), the file typing behind it on raw bytes (glm/filetype: data-URL
 * decoding, type sniffing and resolution, the file name), and the
 * file_upload answer (glm/upload). Byte 0 picks what the rest is. */
#include <string.h>

#include <jansson.h>

#include "fuzz.h"
#include "glm/attach.h"
#include "glm/filetype.h"
#include "glm/upload.h"

static void bytes_helpers(const char *s, size_t n)
{
    char mime[128], out[256], name[256];
    unsigned char *data = NULL;
    size_t len = 0;
    if (filetype_data_url(s, n, mime, sizeof(mime), &data, &len) == 0) {
        FUZZ_ASSERT(strlen(mime) < sizeof(mime));
        (void)filetype_sniff(data, len);
        if (filetype_resolve(mime, data, len, "a.bin", out, sizeof(out)) == 0)
            FUZZ_ASSERT(strlen(out) < sizeof(out) && strlen(filetype_ext_for_mime(out)) > 0);
        free(data);
    }
    (void)filetype_sniff((const unsigned char *)s, n);
    char *z = strndup(s, n);
    (void)filetype_mime_for_name(z);
    filetype_filename(z, "image/png", name, sizeof(name));
    FUZZ_ASSERT(name[0] && strlen(name) < sizeof(name) && !strchr(name, '/'));
    filetype_filename(z, "", name, 8);
    FUZZ_ASSERT(strlen(name) < 8);
    if (filetype_resolve(z, (const unsigned char *)s, n, z, out, sizeof(out)) == 0)
        FUZZ_ASSERT(strlen(out) < sizeof(out));
    free(z);
    json_t *result = NULL;
    int is_image = 0;
    char err[256];
    if (upload_answer(200, s, n, &result, &is_image, err, sizeof(err)) == 0)
        FUZZ_ASSERT(json_is_object(result));
    json_decref(result);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        bytes_helpers(s, n);
        return 0;
    }
    /* A messages array as JSON: the attachments of its last message. */
    json_t *msgs = json_loadb(s, n, 0, NULL);
    struct upload_list *l = NULL;
    struct upload_error e;
    memset(&e, 0, sizeof(e));
    if (upload_list_parse(msgs, data[0] & 2 ? 2 : 16, data[0] & 4 ? 16 : 1 << 20, &l, &e) == 0)
        FUZZ_ASSERT(!l || upload_list_len(l) > 0);
    else
        FUZZ_ASSERT(e.status == 400 && e.code[0] && e.message[0]);
    upload_list_free(l);
    json_decref(msgs);
    return 0;
}
