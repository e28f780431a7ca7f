#include "stream/cut.h"
#include "test.h"
#include "sink_rec.h"

/* Feeds in cut at every split into two pieces (and byte by byte); every
 * feed must give want. */
static void stop_all(const char *const *stops, size_t n, const char *in, const char *want)
{
    size_t len = strlen(in);
    for (size_t k = 0; k <= len + 1; k++) {
        struct rec r;
        rec_init(&r);
        struct stopcut *s = stopcut_new(stops, n, rec_sink(&r));
        struct sink k_ = stopcut_sink(s);
        int rc = k_.ops->start(k_.self);
        if (k == len + 1) { /* byte by byte */
            for (size_t i = 0; i < len && rc == ANSWER_GO; i++)
                rc = k_.ops->text(k_.self, in + i, 1);
        } else {
            if (k)
                rc = k_.ops->text(k_.self, in, k);
            if (rc == ANSWER_GO && k < len)
                rc = k_.ops->text(k_.self, in + k, len - k);
        }
        if (rc == ANSWER_GO)
            rc = k_.ops->finish(k_.self, ANSWER_STOP, NULL);
        else
            CHECK_INT(k_.ops->text(k_.self, "x", 1), ANSWER_HALT);
        CHECK_STR(buf_cstr(&r.log), want);
        CHECK(!r.bad);
        stopcut_free(s);
        rec_cleanup(&r);
    }
}

TEST(a_stop_string_cuts_the_text_in_any_split)
{
    const char *s1[] = { "END" };
    stop_all(s1, 1, "abcENDdef", "T[abc]F:stop:END");
    stop_all(s1, 1, "abcEN", "T[abcEN]F:stop");
    stop_all(s1, 1, "ENDx", "F:stop:END");
    stop_all(s1, 1, "EEND", "T[E]F:stop:END");
    const char *s2[] = { "\n\n", "。", "Observation:" };
    stop_all(s2, 3, "你好。再见", "T[你好]F:stop:。");
    stop_all(s2, 3, "a\nb Observation: x\n\n", "T[a\nb ]F:stop:Observation:");
    stop_all(s2, 3, "no match at all", "T[no match at all]F:stop");
    /* Two stop strings: the match that ends first wins (a fuzz finding). */
    const char *s3[] = { "abcd", "c", "@@@", "@" };
    stop_all(s3, 4, "xabcd", "T[xab]F:stop:c");
    stop_all(s3, 4, "x@@@", "T[x]F:stop:@");
}

TEST(text_is_held_only_while_it_may_begin_a_stop_string)
{
    const char *s1[] = { "STOP", "xy" };
    struct rec r;
    rec_init(&r);
    struct stopcut *s = stopcut_new(s1, 2, rec_sink(&r));
    struct sink k = stopcut_sink(s);
    CHECK_INT(k.ops->text(k.self, "abcST", 5), ANSWER_GO);
    CHECK_STR(buf_cstr(&r.log), "T[abc"); /* "ST" held: 2 < 4 - 1 */
    CHECK_INT(k.ops->text(k.self, "Ox", 2), ANSWER_GO);
    CHECK_STR(buf_cstr(&r.log), "T[abcSTO"); /* "x" may begin "xy" */
    CHECK_INT(k.ops->reasoning(k.self, "STOP", 4), ANSWER_GO); /* not searched */
    CHECK_INT(k.ops->tool_begin(k.self, 0, "call_aaaaaaaaaaaaaaaaaaaaaaaa", "f"), ANSWER_GO);
    CHECK_STR(buf_cstr(&r.log), "T[abcSTO]R[STOP]T[x]B0:f ");
    stopcut_free(s);
    rec_cleanup(&r);
}

static const char *len_run(long max, const char *const *pieces, char *out, size_t cap)
{
    struct rec r;
    rec_init(&r);
    struct lencut *l = lencut_new(max, rec_sink(&r));
    struct sink k = lencut_sink(l);
    int rc = k.ops->start(k.self);
    for (size_t i = 0; pieces[i] && rc == ANSWER_GO; i++)
        rc = pieces[i][0] == '~' ? k.ops->reasoning(k.self, pieces[i] + 1, strlen(pieces[i]) - 1)
                                 : k.ops->text(k.self, pieces[i], strlen(pieces[i]));
    if (rc == ANSWER_GO)
        k.ops->finish(k.self, ANSWER_STOP, NULL);
    struct answer_usage u = { 10, 1000, 500 };
    k.ops->usage(k.self, &u);
    snprintf(out, cap, "%s", buf_cstr(&r.log));
    lencut_free(l);
    rec_cleanup(&r);
    return out;
}

TEST(max_tokens_cuts_at_the_estimate)
{
    char out[256];
    const char *a[] = { "hello ", "world foo bar", NULL };
    CHECK_STR(len_run(3, a, out, sizeof(out)), "T[hello worl]F:length U:3");
    const char *b[] = { "你好世界", NULL };
    CHECK_STR(len_run(2, b, out, sizeof(out)), "T[你好]F:length U:2");
    const char *c[] = { "~think", "ab", NULL };
    CHECK_STR(len_run(5, c, out, sizeof(out)), "R[think]T[ab]F:stop U:1000");
    CHECK_STR(len_run(1, c, out, sizeof(out)), "R[thin]F:length U:1");
    const char *d[] = { "abcd", "efgh", NULL }; /* exactly at the limit: not cut */
    CHECK_STR(len_run(2, d, out, sizeof(out)), "T[abcdefgh]F:stop U:1000");
}

TEST(a_tool_call_is_never_cut)
{
    struct rec r;
    rec_init(&r);
    struct lencut *l = lencut_new(2, rec_sink(&r));
    struct sink k = lencut_sink(l);
    CHECK_INT(k.ops->tool_begin(k.self, 0, "call_aaaaaaaaaaaaaaaaaaaaaaaa", "f"), ANSWER_GO);
    CHECK_INT(k.ops->tool_args(k.self, 0, "{\"a\":\"long text here\"}", 22), ANSWER_GO);
    CHECK_INT(k.ops->tool_end(k.self, 0), ANSWER_GO);
    CHECK_INT(k.ops->tool_begin(k.self, 1, "call_bbbbbbbbbbbbbbbbbbbbbbbb", "g"), ANSWER_HALT);
    CHECK_STR(buf_cstr(&r.log), "B0:f A0:{\"a\":\"long text here\"} E0 F:length");
    lencut_free(l);
    rec_cleanup(&r);
}

TEST_MAIN()
