/* The Responses and Messages writers: event order, event bodies and the final
 * objects, checked by parsing every event with jansson. */
#include <jansson.h>
#include <string.h>

#include "stream/anthropic.h"
#include "stream/responses.h"
#include "test.h"

/* Splits "event: T\ndata: J\n\n..." into parsed events; returns how many.
 * Each events[i] is a new reference; names are copied. */
struct ev {
    char name[64];
    json_t *data;
};

static int parse_events(const struct buf *b, struct ev *evs, int max)
{
    const char *p = buf_cstr(b);
    int n = 0;
    while (*p && n < max) {
        const char *nl = strchr(p, '\n');
        if (strncmp(p, "event: ", 7) != 0 || !nl)
            return -1;
        snprintf(evs[n].name, sizeof evs[n].name, "%.*s", (int)(nl - p - 7), p + 7);
        p = nl + 1;
        if (strncmp(p, "data: ", 6) != 0)
            return -1;
        const char *end = strstr(p, "\n\n");
        if (!end)
            return -1;
        evs[n].data = json_loadb(p + 6, (size_t)(end - p - 6), 0, NULL);
        if (!evs[n].data)
            return -1;
        n++;
        p = end + 2;
    }
    return n;
}

static void free_events(struct ev *evs, int n)
{
    for (int i = 0; i < n; i++)
        json_decref(evs[i].data);
}

static const char *sget(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void feed_reasoning_text(struct sink s)
{
    CHECK_INT(s.ops->start(s.self), ANSWER_GO);
    CHECK_INT(s.ops->reasoning(s.self, "think ", 6), ANSWER_GO);
    CHECK_INT(s.ops->reasoning(s.self, "more", 4), ANSWER_GO);
    CHECK_INT(s.ops->text(s.self, "Hello ", 6), ANSWER_GO);
    CHECK_INT(s.ops->text(s.self, "\"world\"", 7), ANSWER_GO);
    CHECK_INT(s.ops->finish(s.self, ANSWER_STOP, NULL), ANSWER_GO);
    struct answer_usage u = { 10, 5, 2 };
    CHECK_INT(s.ops->usage(s.self, &u), ANSWER_GO);
}

static void feed_tool(struct sink s)
{
    CHECK_INT(s.ops->start(s.self), ANSWER_GO);
    CHECK_INT(s.ops->text(s.self, "Let me look.", 12), ANSWER_GO);
    CHECK_INT(s.ops->tool_begin(s.self, 0, "call_abc", "get_weather"), ANSWER_GO);
    CHECK_INT(s.ops->tool_args(s.self, 0, "{\"city\":", 8), ANSWER_GO);
    CHECK_INT(s.ops->tool_args(s.self, 0, "\"Paris\"}", 8), ANSWER_GO);
    CHECK_INT(s.ops->tool_end(s.self, 0), ANSWER_GO);
    CHECK_INT(s.ops->finish(s.self, ANSWER_TOOL_CALLS, NULL), ANSWER_GO);
    struct answer_usage u = { 10, 7, 0 };
    CHECK_INT(s.ops->usage(s.self, &u), ANSWER_GO);
}

TEST(responses_stream_events_come_in_the_documented_order_with_increasing_sequence_numbers)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    struct responses_meta m = { .id = "resp_x1", .model = "glm-5.3", .created = 1700000000, .stream = 1 };
    struct responses_writer *w = responses_writer_new(&m, &out);
    feed_reasoning_text(responses_writer_sink(w));
    struct ev evs[64];
    int n = parse_events(&out, evs, 64);
    static const char *const want[] = {
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done", "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added", "response.content_part.added",
        "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    };
    CHECK_INT(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n && i < (int)(sizeof want / sizeof want[0]); i++) {
        CHECK_STR(evs[i].name, want[i]);
        CHECK_STR(sget(evs[i].data, "type"), want[i]);
        CHECK_INT(json_integer_value(json_object_get(evs[i].data, "sequence_number")), i);
    }
    if (n == 17) {
        json_t *done = json_object_get(evs[15].data, "item");
        CHECK_STR(sget(done, "type"), "message");
        CHECK_STR(sget(done, "status"), "completed");
        json_t *part = json_array_get(json_object_get(done, "content"), 0);
        CHECK_STR(sget(part, "text"), "Hello \"world\"");
        CHECK(json_is_array(json_object_get(part, "annotations")));
        json_t *resp = json_object_get(evs[16].data, "response");
        CHECK_STR(sget(resp, "status"), "completed");
        CHECK_INT(json_array_size(json_object_get(resp, "output")), 2);
        json_t *usage = json_object_get(resp, "usage");
        CHECK_INT(json_integer_value(json_object_get(usage, "input_tokens")), 10);
        CHECK_INT(json_integer_value(json_object_get(usage, "output_tokens")), 5);
        CHECK_INT(json_integer_value(json_object_get(usage, "total_tokens")), 15);
        CHECK_INT(json_integer_value(json_object_get(json_object_get(usage, "output_tokens_details"),
                                                     "reasoning_tokens")), 2);
        json_t *rs = json_array_get(json_object_get(resp, "output"), 0);
        CHECK_STR(sget(rs, "type"), "reasoning");
        CHECK_STR(sget(json_array_get(json_object_get(rs, "summary"), 0), "text"), "think more");
        /* the delta events name their item */
        CHECK_STR(sget(evs[11].data, "item_id"), sget(done, "id"));
        CHECK_STR(sget(evs[11].data, "delta"), "Hello ");
    }
    free_events(evs, n > 0 ? n : 0);
    responses_writer_free(w);
    buf_cleanup(&out);
}

TEST(responses_function_call_items_carry_call_id_name_and_the_joined_arguments)
{
    struct buf out, obj;
    buf_init(&out, 1 << 20);
    buf_init(&obj, 1 << 20);
    struct responses_meta m = { .id = "resp_y", .model = "glm-5.3", .created = 1, .stream = 1 };
    struct responses_writer *w = responses_writer_new(&m, &out);
    feed_tool(responses_writer_sink(w));
    struct ev evs[64];
    int n = parse_events(&out, evs, 64);
    CHECK(n > 0);
    int adds = 0, deltas = 0, argdone = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(evs[i].name, "response.function_call_arguments.delta") == 0)
            deltas++;
        if (strcmp(evs[i].name, "response.function_call_arguments.done") == 0) {
            argdone++;
            CHECK_STR(sget(evs[i].data, "arguments"), "{\"city\":\"Paris\"}");
        }
        if (strcmp(evs[i].name, "response.output_item.added") == 0)
            adds++;
    }
    CHECK_INT(adds, 2);
    CHECK_INT(deltas, 2);
    CHECK_INT(argdone, 1);
    CHECK_INT(responses_writer_object(w, &obj), 0);
    json_t *o = json_loads(buf_cstr(&obj), 0, NULL);
    CHECK(o != NULL);
    json_t *fc = json_array_get(json_object_get(o, "output"), 1);
    CHECK_STR(sget(fc, "type"), "function_call");
    CHECK_STR(sget(fc, "call_id"), "call_abc");
    CHECK_STR(sget(fc, "name"), "get_weather");
    CHECK_STR(sget(fc, "arguments"), "{\"city\":\"Paris\"}");
    CHECK_STR(sget(fc, "status"), "completed");
    CHECK_STR(sget(o, "status"), "completed");
    json_decref(o);
    free_events(evs, n > 0 ? n : 0);
    responses_writer_free(w);
    buf_cleanup(&out);
    buf_cleanup(&obj);
}

TEST(responses_length_limit_is_incomplete_and_an_error_is_response_failed)
{
    struct buf out, obj;
    buf_init(&out, 1 << 20);
    buf_init(&obj, 1 << 20);
    struct responses_meta m = { .id = "resp_z", .model = "m", .created = 1, .stream = 1 };
    struct responses_writer *w = responses_writer_new(&m, &out);
    struct sink s = responses_writer_sink(w);
    s.ops->start(s.self);
    s.ops->text(s.self, "abc", 3);
    s.ops->finish(s.self, ANSWER_LENGTH, NULL);
    CHECK_INT(responses_writer_flush(w), 0);
    CHECK(strstr(buf_cstr(&out), "event: response.incomplete\n") != NULL);
    CHECK_INT(responses_writer_object(w, &obj), 0);
    json_t *o = json_loads(buf_cstr(&obj), 0, NULL);
    CHECK_STR(sget(json_object_get(o, "incomplete_details"), "reason"), "max_output_tokens");
    json_decref(o);
    responses_writer_free(w);

    buf_reset(&out);
    w = responses_writer_new(&m, &out);
    s = responses_writer_sink(w);
    s.ops->start(s.self);
    s.ops->text(s.self, "abc", 3);
    struct answer_error e = { 502, "upstream_error", "upstream_failed", "the site failed" };
    s.ops->error(s.self, &e);
    CHECK(strstr(buf_cstr(&out), "event: response.failed\n") != NULL);
    CHECK_STR(responses_writer_status(w), "failed");
    /* the open message item was closed before the failure */
    CHECK(strstr(buf_cstr(&out), "response.output_item.done") != NULL);
    responses_writer_free(w);
    buf_cleanup(&out);
    buf_cleanup(&obj);
}

TEST(responses_non_streamed_writes_nothing_until_asked_for_the_object)
{
    struct buf out, obj;
    buf_init(&out, 1 << 20);
    buf_init(&obj, 1 << 20);
    struct responses_meta m = { .id = "resp_q", .model = "m", .created = 5, .stream = 0,
                                .instructions_json = "\"be brief\"" };
    struct responses_writer *w = responses_writer_new(&m, &out);
    feed_reasoning_text(responses_writer_sink(w));
    CHECK_INT(out.len, 0);
    CHECK_INT(responses_writer_object(w, &obj), 0);
    json_t *o = json_loads(buf_cstr(&obj), 0, NULL);
    CHECK(o != NULL);
    CHECK_STR(sget(o, "object"), "response");
    CHECK_STR(sget(o, "instructions"), "be brief");
    CHECK_INT(json_integer_value(json_object_get(o, "created_at")), 5);
    json_decref(o);
    responses_writer_free(w);
    buf_cleanup(&out);
    buf_cleanup(&obj);
}

TEST(anthropic_stream_has_message_start_blocks_message_delta_and_message_stop)
{
    struct buf out;
    buf_init(&out, 1 << 20);
    struct anthropic_meta m = { .id = "msg_1", .model = "glm-5.3", .input_tokens = 12, .stream = 1 };
    struct anthropic_writer *w = anthropic_writer_new(&m, &out);
    feed_reasoning_text(anthropic_writer_sink(w));
    struct ev evs[64];
    int n = parse_events(&out, evs, 64);
    static const char *const want[] = {
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_delta",
        "content_block_stop",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop",
    };
    CHECK_INT(n, (int)(sizeof want / sizeof want[0]));
    for (int i = 0; i < n && i < (int)(sizeof want / sizeof want[0]); i++) {
        CHECK_STR(evs[i].name, want[i]);
        CHECK_STR(sget(evs[i].data, "type"), want[i]);
    }
    if (n == 12) {
        json_t *msg = json_object_get(evs[0].data, "message");
        CHECK_INT(json_integer_value(json_object_get(json_object_get(msg, "usage"), "input_tokens")), 12);
        CHECK_STR(sget(json_object_get(evs[1].data, "content_block"), "type"), "thinking");
        CHECK_STR(sget(json_object_get(evs[2].data, "delta"), "type"), "thinking_delta");
        CHECK_STR(sget(json_object_get(evs[4].data, "delta"), "type"), "signature_delta");
        CHECK_INT(json_integer_value(json_object_get(evs[6].data, "index")), 1);
        CHECK_STR(sget(json_object_get(evs[7].data, "delta"), "text"), "Hello ");
        json_t *delta = json_object_get(evs[10].data, "delta");
        CHECK_STR(sget(delta, "stop_reason"), "end_turn");
        CHECK(json_is_null(json_object_get(delta, "stop_sequence")));
        CHECK_INT(json_integer_value(json_object_get(json_object_get(evs[10].data, "usage"),
                                                     "output_tokens")), 5);
    }
    free_events(evs, n > 0 ? n : 0);
    anthropic_writer_free(w);
    buf_cleanup(&out);
}

TEST(anthropic_tool_use_block_streams_input_json_and_stops_with_tool_use)
{
    struct buf out, obj;
    buf_init(&out, 1 << 20);
    buf_init(&obj, 1 << 20);
    struct anthropic_meta m = { .id = "msg_2", .model = "glm-5.3", .input_tokens = 3, .stream = 1 };
    struct anthropic_writer *w = anthropic_writer_new(&m, &out);
    feed_tool(anthropic_writer_sink(w));
    CHECK(strstr(buf_cstr(&out), "\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_abc\","
                                 "\"name\":\"get_weather\",\"input\":{}}") != NULL);
    CHECK(strstr(buf_cstr(&out), "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":"
                                 "\"{\\\"city\\\":\"}") != NULL);
    CHECK(strstr(buf_cstr(&out), "\"stop_reason\":\"tool_use\"") != NULL);
    CHECK_INT(anthropic_writer_object(w, &obj), 0);
    json_t *o = json_loads(buf_cstr(&obj), 0, NULL);
    CHECK(o != NULL);
    json_t *tu = json_array_get(json_object_get(o, "content"), 1);
    CHECK_STR(sget(tu, "type"), "tool_use");
    CHECK_STR(sget(tu, "id"), "toolu_abc");
    CHECK_STR(sget(json_object_get(tu, "input"), "city"), "Paris");
    CHECK_STR(sget(o, "stop_reason"), "tool_use");
    json_decref(o);
    anthropic_writer_free(w);
    buf_cleanup(&out);
    buf_cleanup(&obj);
}

TEST(anthropic_stop_sequence_and_max_tokens_and_errors)
{
    struct buf out, obj;
    buf_init(&out, 1 << 20);
    buf_init(&obj, 1 << 20);
    struct anthropic_meta m = { .id = "msg_3", .model = "x", .input_tokens = 0, .stream = 0 };
    struct anthropic_writer *w = anthropic_writer_new(&m, &out);
    struct sink s = anthropic_writer_sink(w);
    s.ops->start(s.self);
    s.ops->text(s.self, "one two", 7);
    s.ops->finish(s.self, ANSWER_STOP, "END");
    CHECK_INT(anthropic_writer_flush(w), 0);
    CHECK_INT(out.len, 0);
    CHECK_INT(anthropic_writer_object(w, &obj), 0);
    json_t *o = json_loads(buf_cstr(&obj), 0, NULL);
    CHECK_STR(sget(o, "stop_reason"), "stop_sequence");
    CHECK_STR(sget(o, "stop_sequence"), "END");
    /* input_tokens is never 0 */
    CHECK_INT(json_integer_value(json_object_get(json_object_get(o, "usage"), "input_tokens")), 1);
    json_decref(o);
    anthropic_writer_free(w);

    m.stream = 1;
    buf_reset(&out);
    w = anthropic_writer_new(&m, &out);
    s = anthropic_writer_sink(w);
    s.ops->start(s.self);
    struct answer_error e = { 429, "rate_limit_error", NULL, "busy" };
    s.ops->error(s.self, &e);
    CHECK(strstr(buf_cstr(&out), "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                                 "\"rate_limit_error\",\"message\":\"busy\"}}\n\n") != NULL);
    CHECK(anthropic_writer_failed(w));
    anthropic_writer_free(w);

    buf_reset(&out);
    CHECK_INT(anthropic_error_body(&out, anthropic_error_type(413), "too big"), 0);
    CHECK_STR(buf_cstr(&out), "{\"type\":\"error\",\"error\":{\"type\":\"request_too_large\","
                              "\"message\":\"too big\"}}");
    CHECK_STR(anthropic_error_type(529), "overloaded_error");
    CHECK_STR(anthropic_error_type(500), "api_error");
    buf_cleanup(&out);
    buf_cleanup(&obj);
}

TEST(writers_fail_cleanly_when_the_output_cap_is_reached)
{
    struct buf out;
    buf_init(&out, 64);
    struct responses_meta m = { .id = "resp_c", .model = "m", .created = 1, .stream = 1 };
    struct responses_writer *w = responses_writer_new(&m, &out);
    struct sink s = responses_writer_sink(w);
    CHECK_INT(s.ops->start(s.self), ANSWER_FULL);
    responses_writer_free(w);
    buf_cleanup(&out);
}

TEST_MAIN()
