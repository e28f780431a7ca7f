#include <jansson.h>

#include "stream/toolcall.h"
#include "test.h"
#include "sink_rec.h"

static json_t *weather_schema, *list_schema;
static struct toolcall_decl decls[3];

static void setup(void)
{
    if (weather_schema)
        return;
    weather_schema = json_loads(
        "{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"},"
        "\"days\":{\"type\":\"integer\"},\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},"
        "\"required\":[\"city\"]}", 0, NULL);
    list_schema = json_loads(
        "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":"
        "{\"type\":\"object\",\"properties\":{\"n\":{\"type\":\"number\"}},\"required\":[\"n\"]}}}}",
        0, NULL);
    decls[0].name = "get_weather";
    decls[0].parameters = weather_schema;
    decls[1].name = "get_time";
    decls[1].parameters = NULL;
    decls[2].name = "sum";
    decls[2].parameters = list_schema;
}

static struct toolcall_opts opts(void)
{
    setup();
    struct toolcall_opts o = { decls, 3, 1, 0, 0, 0, 0 };
    return o;
}

/* An input: text, with "\x01" switching to reasoning and "\x02" back. */
struct result {
    char log[4096];
    char problem[512];
    int bad;
};

/* Feeds in, cut at the positions of cuts (sorted, 0 = none), and finishes. */
static void feed(const struct toolcall_opts *o, const char *in, const size_t *cuts, size_t ncuts,
                 struct result *res)
{
    struct rec r;
    rec_init(&r);
    struct toolcall *t = toolcall_new(o, rec_sink(&r));
    struct sink s = toolcall_sink(t);
    s.ops->start(s.self);
    size_t n = strlen(in), pos = 0, c = 0;
    int reasoning = 0, rc = ANSWER_GO;
    while (pos < n && rc == ANSWER_GO) {
        size_t end = c < ncuts ? cuts[c++] : n;
        if (end > n)
            end = n;
        /* Pieces end at the cut or at a mode switch. */
        while (pos < end && rc == ANSWER_GO) {
            if (in[pos] == '\x01' || in[pos] == '\x02') {
                reasoning = in[pos] == '\x01';
                pos++;
                continue;
            }
            size_t e = pos;
            while (e < end && in[e] != '\x01' && in[e] != '\x02')
                e++;
            rc = reasoning ? s.ops->reasoning(s.self, in + pos, e - pos)
                           : s.ops->text(s.self, in + pos, e - pos);
            pos = e;
        }
    }
    if (rc == ANSWER_GO)
        s.ops->finish(s.self, ANSWER_STOP, NULL);
    snprintf(res->log, sizeof(res->log), "%s", buf_cstr(&r.log));
    snprintf(res->problem, sizeof(res->problem), "%s",
             toolcall_problem(t) ? toolcall_problem(t) : "");
    res->bad = r.bad || r.bad_json;
    toolcall_free(t);
    rec_cleanup(&r);
}

/* The log fed whole; checks that every split into two pieces and the
 * byte-by-byte feed give the same. */
static const char *run_all(const struct toolcall_opts *o, const char *in, struct result *whole)
{
    static char failed[5000];
    feed(o, in, NULL, 0, whole);
    size_t n = strlen(in);
    size_t *bytes = malloc((n + 1) * sizeof(*bytes));
    for (size_t i = 0; i < n; i++)
        bytes[i] = i + 1;
    struct result r;
    feed(o, in, bytes, n, &r);
    free(bytes);
    if (strcmp(r.log, whole->log) != 0 || strcmp(r.problem, whole->problem) != 0 || r.bad) {
        snprintf(failed, sizeof(failed), "bytewise: %s | %s", r.log, r.problem);
        return failed;
    }
    for (size_t k = 1; k < n; k++) {
        feed(o, in, &k, 1, &r);
        if (strcmp(r.log, whole->log) != 0 || strcmp(r.problem, whole->problem) != 0 || r.bad) {
            snprintf(failed, sizeof(failed), "cut at %zu: %s | %s", k, r.log, r.problem);
            return failed;
        }
    }
    return whole->bad ? "bad order" : NULL;
}

#define EXPECT(o, in, want)                                                  \
    do {                                                                     \
        struct result w_;                                                    \
        const char *f_ = run_all(&(o), in, &w_);                             \
        CHECK_STR(f_ ? f_ : "", "");                                         \
        CHECK_STR(w_.log, want);                                             \
    } while (0)

TEST(plain_text_passes_through)
{
    struct toolcall_opts o = opts();
    EXPECT(o, "Hello, a < b and <b>bold</b> <tool_x> <tool_cal", "T[Hello, a < b and <b>bold</b> <tool_x> <tool_cal]F:stop");
    EXPECT(o, "", "F:stop");
}

TEST(our_json_format_is_a_call_and_text_before_it_streams)
{
    struct toolcall_opts o = opts();
    EXPECT(o, "Let me check.\n<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\", \"days\": 2}}</tool_call>",
           "T[Let me check.\n]B0:get_weather A0:{\"city\":\"北京\",\"days\":2} E0 F:tool_calls");
    EXPECT(o, "<tool_call>\n{\"name\":\"get_time\",\"arguments\":\"{\\\"tz\\\":\\\"UTC\\\"}\"}\n</tool_call>",
           "B0:get_time A0:{\"tz\":\"UTC\"} E0 F:tool_calls");
    EXPECT(o, "<tool_call>{\"name\":\"get_time\"}</tool_call>", "B0:get_time A0:{} E0 F:tool_calls");
    EXPECT(o, "<tool_call>{\"name\":\"get_time\",\"parameters\":{\"x\":1.5}}</tool_call>",
           "B0:get_time A0:{\"x\":1.5} E0 F:tool_calls");
}

TEST(glm_native_format_is_a_call_with_typed_values)
{
    struct toolcall_opts o = opts();
    EXPECT(o, "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Paris</arg_value>\n"
              "<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>",
           "B0:get_weather A0:{\"city\":\"Paris\",\"days\":3} E0 F:tool_calls");
    /* A string parameter keeps its raw text even when it looks like JSON. */
    EXPECT(o, "<tool_call>get_weather<arg_key>city</arg_key><arg_value>123</arg_value></tool_call>",
           "B0:get_weather A0:{\"city\":\"123\"} E0 F:tool_calls");
    EXPECT(o, "<tool_call>sum\n<arg_key>items</arg_key>\n<arg_value>[{\"n\":1},{\"n\":2.5}]</arg_value>\n</tool_call>",
           "B0:sum A0:{\"items\":[{\"n\":1},{\"n\":2.5}]} E0 F:tool_calls");
    EXPECT(o, "<tool_call>get_time\n</tool_call>", "B0:get_time A0:{} E0 F:tool_calls");
    EXPECT(o, "<tool_call>get_weather {\"city\":\"Rome\"}</tool_call>",
           "B0:get_weather A0:{\"city\":\"Rome\"} E0 F:tool_calls");
    /* Unknown keys of a tool without a schema: JSON when it parses. */
    EXPECT(o, "<tool_call>get_time<arg_key>tz</arg_key><arg_value>UTC+1</arg_value><arg_key>n</arg_key><arg_value>true</arg_value></tool_call>",
           "B0:get_time A0:{\"tz\":\"UTC+1\",\"n\":true} E0 F:tool_calls");
}

TEST(text_after_the_last_call_is_not_sent_and_two_calls_are_two)
{
    struct toolcall_opts o = opts();
    EXPECT(o, "A<tool_call>{\"name\":\"get_time\"}</tool_call>\nThe time is noon.",
           "T[A]B0:get_time A0:{} E0 F:tool_calls");
    EXPECT(o, "<tool_call>{\"name\":\"get_time\"}</tool_call>\n\n<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n</tool_call>\n",
           "B0:get_time A0:{} E0 B1:get_weather A1:{\"city\":\"Oslo\"} E1 F:tool_calls");
    EXPECT(o, "<tool_call>[{\"name\":\"get_time\"},{\"name\":\"get_weather\",\"arguments\":{\"city\":\"X\"}}]</tool_call>",
           "B0:get_time A0:{} E0 B1:get_weather A1:{\"city\":\"X\"} E1 F:tool_calls");
    o.parallel = 0;
    EXPECT(o, "<tool_call>{\"name\":\"get_time\"}</tool_call><tool_call>{\"name\":\"get_time\"}</tool_call>",
           "B0:get_time A0:{} E0 F:tool_calls");
}

TEST(undeclared_names_and_markup_in_reasoning_are_text)
{
    struct toolcall_opts o = opts();
    EXPECT(o, "x<tool_call>rm_rf\n<arg_key>p</arg_key><arg_value>/</arg_value></tool_call>y",
           "T[x<tool_call>rm_rf\n<arg_key>p</arg_key><arg_value>/</arg_value></tool_call>y]F:stop");
    EXPECT(o, "<tool_call>{\"name\":\"nope\"}</tool_call>", "T[<tool_call>{\"name\":\"nope\"}</tool_call>]F:stop");
    EXPECT(o, "\x01I might <tool_call>get_time</tool_call>\x02" "Answer",
           "R[I might <tool_call>get_time</tool_call>]T[Answer]F:stop");
    EXPECT(o, "<think>maybe <tool_call>get_time</tool_call></think>\nNo.",
           "T[<think>maybe <tool_call>get_time</tool_call></think>\nNo.]F:stop");
    /* A call abandoned for a new one: the first is dropped. */
    EXPECT(o, "<tool_call>get_time <tool_call>get_time</tool_call>",
           "B0:get_time A0:{} E0 F:tool_calls");
}

TEST(invalid_calls_halt_in_strict_mode_and_are_text_otherwise)
{
    struct toolcall_opts o = opts();
    const char *bad = "ok <tool_call>get_weather\n<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>";
    EXPECT(o, bad, "T[ok <tool_call>get_weather\n<arg_key>days</arg_key>\n<arg_value>3</arg_value>\n</tool_call>]F:stop");
    o.strict = 1;
    struct result w;
    CHECK(run_all(&o, bad, &w) == NULL);
    CHECK_STR(w.log, "T[ok "); /* no finish: a repair turn follows */
    CHECK_STR(w.problem, "the call of get_weather is invalid: arguments: the required property \"city\" is missing");
    CHECK(run_all(&o, "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"a\",\"unit\":\"k\"}}</tool_call>", &w) == NULL);
    CHECK_STR(w.problem, "the call of get_weather is invalid: arguments.unit: expected one of [\"c\",\"f\"]");
    CHECK(run_all(&o, "<tool_call>{\"name\": \"get_weather\", \"arguments\": {\"city\": \"a\",}}</tool_call>", &w) == NULL);
    CHECK_STR(w.problem, "the call of get_weather is invalid: its markup is not valid JSON");
    CHECK(run_all(&o, "<tool_call>get_weather\n<arg_key>city</arg_key>x</tool_call>", &w) == NULL);
    CHECK_STR(w.problem, "the call of get_weather is invalid: expected <arg_value> after </arg_key>");
    CHECK_STR(w.log, "");
}

TEST(a_required_call_holds_text_and_its_absence_is_a_problem)
{
    struct toolcall_opts o = opts();
    o.required = 1;
    o.strict = 1;
    struct result w;
    CHECK(run_all(&o, "I will not call anything.", &w) == NULL);
    CHECK_STR(w.log, "");
    CHECK_STR(w.problem, "the answer holds no tool call, and one is required");
    EXPECT(o, "Sure!\n<tool_call>{\"name\":\"get_time\"}</tool_call>", "B0:get_time A0:{} E0 F:tool_calls");
    o.strict = 0; /* the repair answer: what fails now is text */
    EXPECT(o, "Still nothing.", "T[Still nothing.]F:stop");
}

TEST(an_unclosed_call_at_the_end_is_forgiven)
{
    struct toolcall_opts o = opts();
    EXPECT(o, "<tool_call>{\"name\":\"get_time\",\"arguments\":{}}", "B0:get_time A0:{} E0 F:tool_calls");
    EXPECT(o, "<tool_call>get_weather\n<arg_key>city</arg_key>\n<arg_value>Oslo</arg_value>\n",
           "B0:get_weather A0:{\"city\":\"Oslo\"} E0 F:tool_calls");
    EXPECT(o, "<tool_call>", "T[<tool_call>]F:stop");
}

TEST(a_call_over_the_cap_is_text)
{
    struct toolcall_opts o = opts();
    o.max_call = 16;
    EXPECT(o, "<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>",
           "T[<tool_call>{\"name\":\"get_time\",\"arguments\":{}}</tool_call>]F:stop");
}

TEST(retry_keeps_the_answer_and_drops_strictness)
{
    struct toolcall_opts o = opts();
    o.strict = 1;
    struct rec r;
    rec_init(&r);
    struct toolcall *t = toolcall_new(&o, rec_sink(&r));
    struct sink s = toolcall_sink(t);
    s.ops->start(s.self);
    const char *bad = "<tool_call>{\"name\":\"get_weather\",\"arguments\":{}}</tool_call>";
    CHECK_INT(s.ops->text(s.self, bad, strlen(bad)), ANSWER_HALT);
    CHECK(toolcall_problem(t) != NULL);
    CHECK_STR(toolcall_problem_tool(t), "get_weather");
    toolcall_retry(t);
    CHECK(toolcall_problem(t) == NULL);
    const char *good = "<tool_call>{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Oslo\"}}</tool_call>";
    CHECK_INT(s.ops->text(s.self, good, strlen(good)), ANSWER_GO);
    CHECK_INT(s.ops->finish(s.self, ANSWER_STOP, NULL), ANSWER_GO);
    CHECK_STR(buf_cstr(&r.log), "B0:get_weather A0:{\"city\":\"Oslo\"} E0 F:tool_calls");
    CHECK_INT(toolcall_sent(t), 1);
    CHECK(r.nids == 1 && strlen(r.ids[0]) == 29);
    toolcall_free(t);
    rec_cleanup(&r);
}

TEST(text_after_a_call_halts_the_upstream_and_a_halt_downstream_stops_the_stage)
{
    struct toolcall_opts o = opts();
    struct rec r;
    rec_init(&r);
    struct toolcall *t = toolcall_new(&o, rec_sink(&r));
    struct sink s = toolcall_sink(t);
    const char *in = "<tool_call>{\"name\":\"get_time\"}</tool_call>\n";
    CHECK_INT(s.ops->text(s.self, in, strlen(in)), ANSWER_GO);
    CHECK_INT(s.ops->text(s.self, "Now", 3), ANSWER_HALT);
    CHECK_STR(buf_cstr(&r.log), "B0:get_time A0:{} E0 F:tool_calls");
    CHECK_INT(s.ops->text(s.self, "more", 4), ANSWER_HALT);
    toolcall_free(t);
    rec_cleanup(&r);

    rec_init(&r);
    r.halt_after = 1;
    t = toolcall_new(&o, rec_sink(&r));
    s = toolcall_sink(t);
    CHECK_INT(s.ops->text(s.self, "a<b", 3), ANSWER_HALT);
    CHECK_INT(s.ops->text(s.self, "c", 1), ANSWER_HALT);
    CHECK_STR(buf_cstr(&r.log), "T[a");
    toolcall_free(t);
    rec_cleanup(&r);
}

TEST(ids_are_distinct)
{
    struct toolcall_opts o = opts();
    struct rec r;
    rec_init(&r);
    struct toolcall *t = toolcall_new(&o, rec_sink(&r));
    struct sink s = toolcall_sink(t);
    const char *in = "<tool_call>[{\"name\":\"get_time\"},{\"name\":\"get_time\"}]</tool_call>";
    s.ops->text(s.self, in, strlen(in));
    s.ops->finish(s.self, ANSWER_STOP, NULL);
    CHECK_INT(r.nids, 2);
    CHECK(strcmp(r.ids[0], r.ids[1]) != 0);
    CHECK(!r.bad);
    toolcall_free(t);
    rec_cleanup(&r);
}

TEST(a_fence_around_a_call_is_dropped_and_code_blocks_hold_no_calls)
{
    struct toolcall_opts o = opts();
    EXPECT(o, "Calling:\n```json\n<tool_call>{\"name\":\"get_time\"}</tool_call>\n```\n",
           "T[Calling:\n]B0:get_time A0:{} E0 F:tool_calls");
    EXPECT(o, "```xml\n<tool_call>get_time</tool_call>\n```", "B0:get_time A0:{} E0 F:tool_calls");
    /* A fenced code block that shows the markup is text. */
    EXPECT(o, "Example:\n```\nx\n<tool_call>get_time</tool_call>\n```\nDone.",
           "T[Example:\n```\nx\n<tool_call>get_time</tool_call>\n```\nDone.]F:stop");
    /* A call right after a code block closes it is a call. */
    EXPECT(o, "```py\nx = 1\n```\n<tool_call>get_time</tool_call>",
           "T[```py\nx = 1\n```\n]B0:get_time A0:{} E0 F:tool_calls");
    /* An indented fence, cut anywhere (a fuzz finding: the indentation was
     * forgotten when it came in a piece of its own). */
    EXPECT(o, "\t\t```\n<tool_call>get_time</tool_call>", "B0:get_time A0:{} E0 F:tool_calls");
    EXPECT(o, "\t```\t)\t\x01r\x02<tool_call>get_time</tool_call>",
           "T[\t```\t)\t]R[r]T[<tool_call>get_time</tool_call>]F:stop");
    /* Fences with no call after them go out as written. */
    EXPECT(o, "```js\nlet a;\n```\n``", "T[```js\nlet a;\n```\n``]F:stop");
}

TEST(long_indentation_keeps_its_place_before_reasoning)
{
    /* A fuzz finding: indentation past the held-fence cap went out before
     * the reasoning when fed whole, after it when cut. */
    struct toolcall_opts o = opts();
    char in[700], want[800];
    memset(in, '\t', 300);
    strcpy(in + 300, "\x01r\x02x");
    strcpy(want, "T[");
    memset(want + 2, '\t', 300);
    strcpy(want + 302, "]R[r]T[x]F:stop");
    EXPECT(o, in, want);
    /* A held fence line and indentation that pass the cap only together. */
    strcpy(in, "\t```hin\n");
    memset(in + 8, '\t', 200);
    strcpy(in + 208, "\x01r\x02x");
    strcpy(want, "R[r]T[\t```hin\n");
    memset(want + 14, '\t', 200);
    strcpy(want + 214, "x]F:stop");
    EXPECT(o, in, want);
}

TEST(a_required_call_may_be_bare_json)
{
    struct toolcall_opts o = opts();
    o.required = 1;
    o.strict = 1;
    EXPECT(o, "```json\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Oslo\"}}\n```",
           "B0:get_weather A0:{\"city\":\"Oslo\"} E0 F:tool_calls");
    EXPECT(o, " [{\"name\":\"get_time\"},{\"name\":\"get_time\",\"arguments\":{}}] ",
           "B0:get_time A0:{} E0 B1:get_time A1:{} E1 F:tool_calls");
    o.required = 0; /* not required: text */
    EXPECT(o, "{\"name\":\"get_time\"}", "T[{\"name\":\"get_time\"}]F:stop");
}

TEST_MAIN()
