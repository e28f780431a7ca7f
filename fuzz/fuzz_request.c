/* The OpenAI request: the body as a client sends it, through what
 * chat_handle() does before anything goes upstream: JSON parsing, the check,
 * the model route, the conversation id test, the prompt merge (the mode the
 * request selects) and the token estimate. Checks: the merged prompt is
 * valid UTF-8 and a check failure always names a code and a message. */
#include <string.h>

#include <jansson.h>

#include "api/chat_check.h"
#include "fuzz.h"
#include "glm/models.h"
#include "glm/prompt.h"
#include "stream/openai.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, 0, NULL);
    if (!root)
        return 0;
    struct chat_check_error err;
    if (chat_request_check(root, &err) < 0) {
        FUZZ_ASSERT(err.code[0] && err.message[0]);
        json_decref(root);
        return 0;
    }
    const char *model = json_string_value(json_object_get(root, "model"));
    struct model_route route;
    enum models_era era = size & 1 ? MODELS_ERA_2025 : MODELS_ERA_2026; /* both sites */
    FUZZ_ASSERT(models_resolve(model && *model ? model : "glm-4", "65940acff94777010aa6b796", "",
                               era, &route) == 0);
    const char *conv = json_string_value(json_object_get(root, "conversation_id"));
    int given = conv && prompt_conversation_id_valid(conv);
    json_t *msgs = json_object_get(root, "messages");
    struct buf p;
    buf_init(&p, 1 << 20);
    if (prompt_merge(msgs, given || json_array_size(msgs) < 2, "<|sytstem|>", &p) == 0) {
        FUZZ_ASSERT(fuzz_utf8_valid(buf_cstr(&p), p.len));
        FUZZ_ASSERT(usage_estimate(buf_cstr(&p), p.len) >= 0);
    }
    (void)prompt_last_has_attachment(msgs);
    buf_cleanup(&p);
    json_decref(root);
    return 0;
}
