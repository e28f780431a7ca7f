/* The OpenAI request: the body as a client sends it, through what
 * chat_handle() does before anything goes upstream: the parse into a turn,
 * the model route, the conversation id test, the prompt merge (the mode the
 * request selects) and the token estimate. Checks: the merged prompt is
 * valid UTF-8 and a check failure always names a code and a message. */
#include <string.h>

#include <jansson.h>

#include "api/chat_req.h"
#include "fuzz.h"
#include "glm/models.h"
#include "glm/prompt.h"
#include "stream/openai.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct turn t;
    struct api_error err;
    turn_init(&t);
    if (chat_req_parse((const char *)data, size, &t, &err) < 0) {
        FUZZ_ASSERT(err.status == 400 && err.code[0] && err.message[0]);
        turn_free(&t);
        return 0;
    }
    struct model_route route;
    enum models_era era = size & 1 ? MODELS_ERA_2025 : MODELS_ERA_2026; /* both sites */
    FUZZ_ASSERT(models_resolve(t.model.s, "65940acff94777010aa6b796", "", era, &route) == 0);
    struct buf p;
    buf_init(&p, 1 << 20);
    if (prompt_merge(&t, t.conversation_id.s || t.nmsgs < 2, "<|sytstem|>", &p) == 0) {
        FUZZ_ASSERT(fuzz_utf8_valid(buf_cstr(&p), p.len));
        FUZZ_ASSERT(usage_estimate(buf_cstr(&p), p.len) >= 0);
    }
    (void)turn_last_has_attachment(&t);
    buf_cleanup(&p);
    turn_free(&t);
    return 0;
}
