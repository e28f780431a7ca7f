/* The inputs of the multipart upload builder (glm/upload): the attachment
 * list of a request (data URLs decoded and typed there), and the pure helpers
 * behind it on raw bytes: data-URL decoding, type sniffing and resolution,
 * the file name, and the file_upload answer. Byte 0 picks what the rest is. */
#include <string.h>

#include <jansson.h>

#include "app.h"
#include "fuzz.h"
#include "glm/upload.h"

/* The upload runner refers to the process context (main.c); the pure parts
 * fuzzed here never touch it. */
struct app app;

static void bytes_helpers(const char *s, size_t n)
{
    char mime[128], out[256], name[256];
    unsigned char *data = NULL;
    size_t len = 0;
    if (upload_data_url(s, n, mime, sizeof(mime), &data, &len) == 0) {
        FUZZ_ASSERT(strlen(mime) < sizeof(mime));
        (void)upload_sniff(data, len);
        if (upload_resolve_type(mime, data, len, "a.bin", out, sizeof(out)) == 0)
            FUZZ_ASSERT(strlen(out) < sizeof(out) && strlen(upload_ext_for_mime(out)) > 0);
        free(data);
    }
    (void)upload_sniff((const unsigned char *)s, n);
    char *z = strndup(s, n);
    (void)upload_mime_for_name(z);
    upload_filename(z, "image/png", name, sizeof(name));
    FUZZ_ASSERT(name[0] && strlen(name) < sizeof(name) && !strchr(name, '/'));
    upload_filename(z, "", name, 8);
    FUZZ_ASSERT(strlen(name) < 8);
    if (upload_resolve_type(z, (const unsigned char *)s, n, z, out, sizeof(out)) == 0)
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
