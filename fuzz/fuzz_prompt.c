/* The prompt merger on any well-typed messages array, in both modes and with
 * a small output cap, plus the in-place stripper and the conversation id test
 * on raw bytes. Byte 0 picks the mode and cap; the rest is the messages
 * array as JSON. Checks: valid UTF-8 out, the cap is kept, and stripping only
 * ever shortens. */
#include <string.h>

#include <jansson.h>

#include "api/chat_req.h"
#include "fuzz.h"
#include "glm/prompt.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cap = data[0] & 2 ? 64 : 1 << 20;
    char *copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    (void)prompt_conversation_id_valid(copy);
    FUZZ_ASSERT(prompt_strip(copy, size - 1) <= size - 1);
    free(copy);

    json_t *msgs = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    json_t *root = json_pack("{s:o}", "messages", msgs);
    struct api_error err;
    struct turn t;
    turn_init(&t);
    if (root && chat_req_from_json(root, &t, &err) == 0) {
        struct buf p;
        buf_init(&p, cap);
        if (prompt_merge(&t, data[0] & 1, data[0] & 4 ? "<|system|>" : "<|sytstem|>", &p) == 0)
            FUZZ_ASSERT(fuzz_utf8_valid(buf_cstr(&p), p.len));
        FUZZ_ASSERT(p.len <= cap);
        buf_cleanup(&p);
    }
    turn_free(&t);
    json_decref(root);
    return 0;
}
