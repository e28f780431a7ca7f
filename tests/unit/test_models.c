#include <jansson.h>
#include <string.h>

#include "glm/models.h"
#include "test.h"

#define DEF "65940acff94777010aa6b796"
#define AGENT "65c046a531d3fcb034918abe"
#define OTHER "676411c38945bbc58a905d31"

static struct model_route route(const char *model, const char *table)
{
    struct model_route r;
    memset(&r, 0x5a, sizeof(r));
    CHECK_INT(models_resolve(model, DEF, table, MODELS_ERA_2025, &r), 0);
    return r;
}

static const char *mode_str(const char *m)
{
    return m ? m : "(null)";
}

TEST(plain_name_uses_the_default_assistant)
{
    struct model_route r = route("glm-4", NULL);
    CHECK_STR(r.assistant_id, DEF);
    CHECK(r.chat_mode == NULL);
    CHECK_INT(r.silent, 0);
    CHECK_INT(r.agent, 0);
    r = route("", "");
    CHECK_STR(r.assistant_id, DEF);
    r = route("gpt-4o", NULL);
    CHECK_STR(r.assistant_id, DEF);
}

TEST(agent_id_of_24_lowercase_alphanumerics)
{
    struct model_route r = route(AGENT, NULL);
    CHECK_STR(r.assistant_id, AGENT);
    CHECK_INT(r.agent, 1);
    CHECK(r.chat_mode == NULL);
    /* Not only hex: any lowercase letter counts. */
    r = route("zzzzzzzzzzzzzzzzzzzzzzzz", NULL);
    CHECK_STR(r.assistant_id, "zzzzzzzzzzzzzzzzzzzzzzzz");
    CHECK_INT(r.agent, 1);
    /* 64 is the longest id kept. */
    const char *id64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    r = route(id64, NULL);
    CHECK_STR(r.assistant_id, id64);
    CHECK_INT(r.agent, 1);
}

TEST(not_agent_ids)
{
    /* 23 characters. */
    struct model_route r = route("65c046a531d3fcb034918ab", NULL);
    CHECK_STR(r.assistant_id, DEF);
    CHECK_INT(r.agent, 0);
    /* Uppercase. */
    r = route("65C046A531D3FCB034918ABE", NULL);
    CHECK_STR(r.assistant_id, DEF);
    CHECK_INT(r.agent, 0);
    /* A dash. */
    r = route("65c046a531d3fcb0-34918abe", NULL);
    CHECK_STR(r.assistant_id, DEF);
    CHECK_INT(r.agent, 0);
    /* 65 characters do not fit an id. */
    r = route("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0", NULL);
    CHECK_STR(r.assistant_id, DEF);
    CHECK_INT(r.agent, 0);
}

TEST(think_and_zero_select_zero_mode)
{
    CHECK_STR(mode_str(route("glm-4-think", NULL).chat_mode), "zero");
    CHECK_STR(mode_str(route("glm-4-zero", NULL).chat_mode), "zero");
    CHECK_STR(mode_str(route("glm-zero-preview", NULL).chat_mode), "zero");
    CHECK_STR(route("glm-4-think", NULL).assistant_id, DEF);
    /* Case matters, as in the original. */
    CHECK(route("glm-4-Think", NULL).chat_mode == NULL);
}

TEST(deepresearch_wins_over_think)
{
    CHECK_STR(mode_str(route("glm-4-deepresearch", NULL).chat_mode), "deep_research");
    CHECK_STR(mode_str(route("deepresearch-think", NULL).chat_mode), "deep_research");
    CHECK_STR(mode_str(route("glm-4-zero-deepresearch", NULL).chat_mode), "deep_research");
}

TEST(silent_anywhere_in_the_name)
{
    struct model_route r = route("glm-4-silent", NULL);
    CHECK_INT(r.silent, 1);
    CHECK(r.chat_mode == NULL);
    r = route("glm-4-think-silent", NULL);
    CHECK_INT(r.silent, 1);
    CHECK_STR(mode_str(r.chat_mode), "zero");
    r = route("silent-glm", NULL);
    CHECK_INT(r.silent, 1);
    CHECK_INT(route("glm-4", NULL).silent, 0);
}

TEST(extra_table_entry_wins)
{
    const char *table = "glm-4=" OTHER ",my-agent=" AGENT ":deep_research," AGENT "=" OTHER;
    struct model_route r = route("glm-4", table);
    CHECK_STR(r.assistant_id, OTHER);
    CHECK(r.chat_mode == NULL);
    CHECK_INT(r.agent, 0);
    r = route("my-agent", table);
    CHECK_STR(r.assistant_id, AGENT);
    CHECK_STR(mode_str(r.chat_mode), "deep_research");
    /* An agent-looking name in the table is remapped, not used as an id. */
    r = route(AGENT, table);
    CHECK_STR(r.assistant_id, OTHER);
    CHECK_INT(r.agent, 0);
    /* Names not in the table follow the usual rules. */
    r = route("glm-4-plus", table);
    CHECK_STR(r.assistant_id, DEF);
    /* Prefixes do not match. */
    r = route("my-agen", table);
    CHECK_STR(r.assistant_id, DEF);
}

TEST(extra_table_chat_mode_overrides_the_name_rules)
{
    const char *table = "reader-think=" OTHER ":video, quiet-silent=" AGENT ", deep-x=" AGENT ":zero";
    struct model_route r = route("reader-think", table);
    CHECK_STR(mode_str(r.chat_mode), "video");
    /* Without a chat_mode the name rules still apply. */
    r = route("quiet-silent", table);
    CHECK_STR(r.assistant_id, AGENT);
    CHECK(r.chat_mode == NULL);
    CHECK_INT(r.silent, 1);
    r = route("deep-x", table);
    CHECK_STR(mode_str(r.chat_mode), "zero");
}

TEST(extra_table_allows_spaces_around_entries_and_a_trailing_comma)
{
    char err[256];
    CHECK_INT(models_table_check(" a = " AGENT " : zero , b=" OTHER ",", err, sizeof(err)), 0);
    CHECK_STR(err, "");
    struct model_route r = route("a", " a = " AGENT " : zero , b=" OTHER ",");
    CHECK_STR(r.assistant_id, AGENT);
    CHECK_STR(mode_str(r.chat_mode), "zero");
    CHECK_INT(models_table_check(NULL, err, sizeof(err)), 0);
    CHECK_INT(models_table_check("", err, sizeof(err)), 0);
    CHECK_INT(models_table_check("  ", err, sizeof(err)), 0);
}

static void check_bad(const char *table, const char *reason_part)
{
    char err[256] = "";
    CHECK_INT(models_table_check(table, err, sizeof(err)), -1);
    if (!strstr(err, reason_part))
        printf("# table \"%s\": reason \"%s\" lacks \"%s\"\n", table, err, reason_part);
    CHECK(strstr(err, reason_part) != NULL);
    struct model_route r;
    CHECK_INT(models_resolve("glm-4", DEF, table, MODELS_ERA_2025, &r), -1);
}

TEST(malformed_tables_are_rejected_with_a_reason)
{
    check_bad("glm-4", "no '='");
    check_bad("=" AGENT, "empty name");
    check_bad("  =" AGENT, "empty name");
    check_bad("a=", "assistant id");
    check_bad("a=65c046a531d3fcb034918ab", "assistant id");
    check_bad("a=65C046A531D3FCB034918ABE", "assistant id");
    check_bad("a=" AGENT "x-y", "assistant id");
    check_bad("a=" AGENT "=b", "assistant id");
    check_bad("a=" AGENT ":", "chat_mode");
    check_bad("a=" AGENT ":bogus", "unknown chat_mode");
    check_bad("a=" AGENT ",,b=" OTHER, "empty entry");
    check_bad(",a=" AGENT, "empty entry");
    check_bad("a=" AGENT ",a=" OTHER, "twice");
    check_bad("my model=" AGENT, "space");
    check_bad("a=" AGENT ",b", "no '='");
}

TEST(table_check_tolerates_a_null_or_tiny_error_buffer)
{
    CHECK_INT(models_table_check("broken", NULL, 0), -1);
    char e[4];
    CHECK_INT(models_table_check("broken", e, sizeof(e)), -1);
    CHECK_INT(strlen(e), 3);
}

/* The ids of the /v1/models answer, as a new jansson array. */
static json_t *list_ids(const char *table, struct buf *b)
{
    buf_reset(b);
    CHECK_INT(models_list_json(b, table, MODELS_ERA_2025, 1700000000), 0);
    json_t *o = json_loads(buf_cstr(b), 0, NULL);
    CHECK(o != NULL);
    CHECK_STR(json_string_value(json_object_get(o, "object")), "list");
    json_t *ids = json_array();
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(o, "data"), i, m) {
        CHECK_INT(json_object_size(m), 4);
        CHECK_STR(json_string_value(json_object_get(m, "object")), "model");
        CHECK_INT(json_integer_value(json_object_get(m, "created")), 1700000000);
        CHECK_STR(json_string_value(json_object_get(m, "owned_by")), "glm-free-api");
        json_array_append(ids, json_object_get(m, "id"));
    }
    json_decref(o);
    return ids;
}

static int has_id(json_t *ids, const char *id)
{
    int count = 0;
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v)
        count += strcmp(json_string_value(v), id) == 0;
    return count;
}

TEST(list_has_builtins_and_variants)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    json_t *ids = list_ids(NULL, &b);
    const char *base[] = { "glm-3-turbo", "glm-4", "glm-4-plus", "glm-4v", "glm-4-flash", "glm-4-air",
                           "glm-4.5", "glm-4.6", "glm-z1", "glm-v1", "glm-v1-vision" };
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        CHECK_INT(has_id(ids, base[i]), 1);
    const char *variants[] = { "-think", "-zero", "-deepresearch", "-silent", "-think-silent" };
    for (size_t i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof(name), "glm-4%s", variants[i]);
        CHECK_INT(has_id(ids, name), 1);
        snprintf(name, sizeof(name), "glm-4-plus%s", variants[i]);
        CHECK_INT(has_id(ids, name), 1);
    }
    /* Every listed name resolves, and its variant does what its name says. */
    size_t i;
    json_t *v;
    json_array_foreach(ids, i, v) {
        const char *id = json_string_value(v);
        struct model_route r = route(id, NULL);
        CHECK_STR(r.assistant_id, DEF);
        CHECK_INT(r.silent, strstr(id, "silent") != NULL);
        if (strstr(id, "-deepresearch"))
            CHECK_STR(mode_str(r.chat_mode), "deep_research");
        else if (strstr(id, "-think") || strstr(id, "-zero"))
            CHECK_STR(mode_str(r.chat_mode), "zero");
        else
            CHECK(r.chat_mode == NULL);
    }
    CHECK(json_array_size(ids) > 40);
    json_decref(ids);
    buf_cleanup(&b);
}

TEST(list_adds_extra_table_names_once)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    json_t *base = list_ids(NULL, &b);
    json_t *ids = list_ids("my\"agent=" AGENT ",glm-4=" OTHER ",glm-4-think=" OTHER ",x=" OTHER ":ppt", &b);
    CHECK_INT(json_array_size(ids), json_array_size(base) + 2);
    CHECK_INT(has_id(ids, "my\"agent"), 1);
    CHECK_INT(has_id(ids, "x"), 1);
    CHECK_INT(has_id(ids, "glm-4"), 1);
    CHECK_INT(has_id(ids, "glm-4-think"), 1);
    json_decref(ids);
    /* A malformed table adds nothing but does not hide the built-ins. */
    ids = list_ids("broken", &b);
    CHECK_INT(json_array_size(ids), json_array_size(base));
    json_decref(ids);
    json_decref(base);
    buf_cleanup(&b);
}

TEST(list_fails_cleanly_at_the_buffer_cap)
{
    struct buf b;
    buf_init(&b, 100);
    CHECK_INT(buf_puts(&b, "x"), 0);
    CHECK_INT(models_list_json(&b, NULL, MODELS_ERA_2025, 1), -1);
    CHECK_STR(buf_cstr(&b), "x");
    buf_cleanup(&b);
}

static struct model_route route26(const char *model, const char *table)
{
    struct model_route r;
    memset(&r, 0x5a, sizeof(r));
    CHECK_INT(models_resolve(model, DEF, table, MODELS_ERA_2026, &r), 0);
    return r;
}

static const char *eff(const struct model_route *r)
{
    return r->reasoning_effort ? r->reasoning_effort : "(null)";
}

TEST(today_s_names_choose_the_selected_model_and_the_reasoning_tier)
{
    static const struct {
        const char *name, *model, *mode, *effort;
        int silent;
    } cases[] = {
        { "glm-5.3", "glm-5.3", "", "low", 0 },
        { "glm-5.3-thinking", "glm-5.3", "thinking", "high", 0 },
        { "glm-5.3-deep-thinking", "glm-5.3", "deep_thinking", "max", 0 },
        { "glm-5.3-deepresearch", "glm-5.3", "deep_research", "(null)", 0 },
        { "glm-5.3-silent", "glm-5.3", "", "low", 1 },
        { "glm-5.3-thinking-silent", "glm-5.3", "thinking", "high", 1 },
        { "glm-5.3-flash", "glm-5.3-flash", "", "low", 0 },
        { "glm-5.3-flash-thinking", "glm-5.3-flash", "thinking", "high", 0 },
        { "glm-5.3-flash-deep-thinking", "glm-5.3-flash", "deep_thinking", "max", 0 },
        /* the old names are aliases of today's */
        { "glm-4", "glm-5.3", "", "low", 0 },
        { "glm-4-plus", "glm-5.3", "", "low", 0 },
        { "glm-4-think", "glm-5.3", "thinking", "high", 0 },
        { "glm-4-zero", "glm-5.3", "thinking", "high", 0 },
        { "glm-4-deepresearch", "glm-5.3", "deep_research", "(null)", 0 },
        { "glm-4-flash", "glm-5.3-flash", "", "low", 0 },
        { "glm-4-air-think", "glm-5.3-flash", "thinking", "high", 0 },
        { "glm-3-turbo", "glm-5.3-flash", "", "low", 0 },
        { "glm-z1", "glm-5.3", "", "low", 0 },
        { "gpt-4o", "glm-5.3", "", "low", 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct model_route r = route26(cases[i].name, NULL);
        CHECK_STR(r.assistant_id, DEF);
        CHECK_STR(r.selected_model, cases[i].model);
        CHECK_STR(mode_str(r.chat_mode), cases[i].mode);
        CHECK_STR(eff(&r), cases[i].effort);
        CHECK_INT(r.silent, cases[i].silent);
    }
    /* an agent picks its own model */
    struct model_route r = route26(AGENT, NULL);
    CHECK_STR(r.selected_model, "");
    CHECK(r.chat_mode == NULL);
}

TEST(reasoning_effort_overrides_the_tier_the_name_says)
{
    static const struct {
        const char *effort, *mode, *site_effort;
    } cases[] = {
        { "none", "", "low" }, { "minimal", "", "low" }, { "low", "thinking", "high" },
        { "medium", "thinking", "high" }, { "high", "thinking", "high" },
        { "xhigh", "deep_thinking", "max" }, { "max", "deep_thinking", "max" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct model_route r = route26("glm-5.3-thinking", NULL);
        CHECK_INT(models_apply_effort(&r, cases[i].effort, MODELS_ERA_2026), 0);
        CHECK_STR(mode_str(r.chat_mode), cases[i].mode);
        CHECK_STR(eff(&r), cases[i].site_effort);
    }
    struct model_route r = route26("glm-5.3", NULL);
    CHECK_INT(models_apply_effort(&r, "extreme", MODELS_ERA_2026), -1);
    CHECK_INT(models_apply_effort(&r, "", MODELS_ERA_2026), -1);
    r = route26("glm-5.3-deepresearch", NULL);
    CHECK_INT(models_apply_effort(&r, "none", MODELS_ERA_2026), 0);
    CHECK_STR(mode_str(r.chat_mode), "deep_research");
    r = route("glm-4", NULL);
    CHECK_INT(models_apply_effort(&r, "high", MODELS_ERA_2025), 0);
    CHECK_STR(mode_str(r.chat_mode), "zero");
    CHECK_INT(models_apply_effort(&r, "none", MODELS_ERA_2025), 0);
    CHECK(r.chat_mode == NULL);
}

TEST(the_extra_table_may_name_the_selected_model_and_the_effort)
{
    const char *table = "mine=" OTHER ":thinking:glm-5.3-flash:max, fast=" OTHER ":fast:glm-4.7, "
                        "plain=" OTHER;
    struct model_route r = route26("mine", table);
    CHECK_STR(r.assistant_id, OTHER);
    CHECK_STR(r.selected_model, "glm-5.3-flash");
    CHECK_STR(mode_str(r.chat_mode), "thinking");
    CHECK_STR(eff(&r), "max");
    r = route26("fast", table);
    CHECK_STR(mode_str(r.chat_mode), "");
    CHECK_STR(r.selected_model, "glm-4.7");
    CHECK_STR(eff(&r), "low");
    r = route26("plain", table);
    CHECK_STR(r.assistant_id, OTHER);
    char err[200];
    CHECK_INT(models_table_check("a=" OTHER ":thinking:GLM!", err, sizeof err), -1);
    CHECK(strstr(err, "selected_model") != NULL);
    CHECK_INT(models_table_check("a=" OTHER ":thinking:glm-5.3:huge", err, sizeof err), -1);
    CHECK(strstr(err, "reasoning_effort") != NULL);
    CHECK_INT(models_table_check("a=" OTHER ":thinking:glm-5.3:high:extra", err, sizeof err), -1);
}

TEST(the_2026_list_leads_with_today_s_models_and_the_2025_list_leaves_them_out)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    CHECK_INT(models_list_json(&b, NULL, MODELS_ERA_2026, 1), 0);
    json_t *o = json_loads(buf_cstr(&b), 0, NULL);
    json_t *data = json_object_get(o, "data");
    CHECK_STR(json_string_value(json_object_get(json_array_get(data, 0), "id")), "glm-5.3");
    int seen = 0;
    size_t i;
    json_t *m;
    json_array_foreach(data, i, m) {
        const char *id = json_string_value(json_object_get(m, "id"));
        seen += !strcmp(id, "glm-5.3-thinking") + !strcmp(id, "glm-5.3-deep-thinking") +
                !strcmp(id, "glm-5.3-flash-thinking") + !strcmp(id, "glm-5.3-deepresearch") +
                !strcmp(id, "glm-4") + !strcmp(id, "glm-4-think");
    }
    CHECK_INT(seen, 6);
    json_decref(o);
    json_t *ids = list_ids(NULL, &b);
    CHECK_INT(has_id(ids, "glm-5.3"), 0);
    json_decref(ids);
    buf_cleanup(&b);
}

TEST_MAIN()
