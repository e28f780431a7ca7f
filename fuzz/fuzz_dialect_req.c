/* The Responses and Messages request parsers take any JSON a client sends:
 * whatever it is, each parse either fills a turn whose parts are all readable
 * or refuses with a 400 that names what is wrong, and frees everything. */
#include <string.h>

#include <jansson.h>

#include "api/dialect_req.h"
#include "fuzz.h"

static json_t *any_item(void *arg, const char *id)
{
    (void)id;
    return arg;
}

static void check_turn(const struct turn *t)
{
    FUZZ_ASSERT(t->model.s != NULL);
    for (size_t i = 0; i < t->nmsgs; i++)
        for (size_t k = 0; k < t->msgs[i].nparts; k++) {
            const struct turn_part *p = &t->msgs[i].parts[k];
            if (p->type == TURN_PART_TEXT || p->type == TURN_PART_TOOL_RESULT)
                FUZZ_ASSERT(p->text.s != NULL && strlen(p->text.s) <= p->text.len);
            if (p->type == TURN_PART_IMAGE)
                FUZZ_ASSERT(p->url.s != NULL);
        }
    FUZZ_ASSERT(t->nstop <= TURN_MAX_STOP);
    FUZZ_ASSERT(dialect_turn_tokens(t) >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body)
        return 0;
    /* an item_reference resolves to the body's "ref" member, whatever it is */
    json_t *ref = json_is_object(body) ? json_object_get(body, "ref") : NULL;
    struct turn t;
    struct responses_req r;
    struct messages_req m;
    struct api_error err;

    if (responses_parse(body, &t, &r, any_item, ref, &err) == 0) {
        check_turn(&t);
        responses_req_free(&r);
        turn_free(&t);
    } else {
        FUZZ_ASSERT(err.status == 400 && err.message[0]);
    }
    for (int count = 0; count < 2; count++) {
        if (messages_parse(body, count, &t, &m, &err) == 0) {
            check_turn(&t);
            turn_free(&t);
        } else {
            FUZZ_ASSERT(err.status == 400 && err.message[0]);
        }
    }
    json_decref(body);
    return 0;
}
