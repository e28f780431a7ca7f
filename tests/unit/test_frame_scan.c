/* stream/frame_scan: views of frames checked against jansson (the oracle in
 * fuzz/frame_oracle.h): every frame of every fixture, frames with duplicate
 * members, escaped names, odd values and invalid JSON; a reused view follows
 * the strings that moved. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/frame_scan.h"
#include "test.h"
#include "../../fuzz/frame_oracle.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Scans one frame into a fresh view; checks it against jansson. Returns the
 * scanner's answer. */
static int scan_checked(const char *frame, size_t n)
{
    struct fview *fv = fview_new();
    CHECK_INT(fview_reuse(fv, frame, n), 0);
    int rc = fview_scan(fv, frame, n);
    const char *bad = frame_oracle(fv, rc, frame, n);
    CHECK(bad == NULL);
    if (bad)
        printf("# %s in: %.*s\n", bad, (int)(n < 300 ? n : 300), frame);
    fview_free(fv);
    return rc;
}

TEST(every_fixture_frame_is_taken_and_read_as_jansson_reads_it)
{
    static const char *const names[] = {
        "chat-plain.sse", "chat-multipart-search.sse", "chat-think.sse", "chat-drawing.sse",
        "chat-code-interpreter.sse", "chat-intervene.sse", "chat-file.sse",
        "chat-image-vision.sse", "chat-stream-error.sse", "chat-plain-v2-delta.sse",
    };
    int frames = 0;
    for (size_t i = 0; i < N(names); i++) {
        char path[256];
        size_t n;
        snprintf(path, sizeof(path), "tests/fixtures/%s", names[i]);
        char *s = test_read_file(path, &n);
        CHECK(s != NULL);
        if (!s)
            continue;
        for (char *line = strtok(s, "\n"); line; line = strtok(NULL, "\n")) {
            if (strncmp(line, "data:", 5) != 0)
                continue;
            const char *f = line + 5 + (line[5] == ' ');
            if (*f != '{')
                continue;
            frames++;
            if (scan_checked(f, strlen(f)) != 0)
                printf("# not taken in %s: %.120s\n", names[i], f);
        }
        free(s);
    }
    CHECK(frames > 90);
}

TEST(duplicate_members_escaped_names_and_odd_values_agree_with_jansson)
{
    static const char *const frames[] = {
        "{}",
        " { \"parts\" : [ ] , \"status\" : \"init\" } \n",
        "{\"status\":\"init\",\"status\":\"finish\"}",
        "{\"status\":\"init\",\"status\":7}",
        "{\"conversation_id\":\"c\\u0031\",\"assistant_id\":null}",
        "{\"parts\":[{\"logic_id\":\"a\"}],\"parts\":[1,{\"id\":\"b\",\"content\":[]}]}",
        "{\"parts\":[{\"content\":[{\"type\":\"text\",\"text\":\"x\",\"text\":\"yz\"}]}]}",
        "{\"parts\":[{\"content\":[{\"type\":\"text\",\"text\":\"x\",\"text\":5}]}]}",
        "{\"parts\":[{\"content\":[{\"\\u0074ype\":\"think\",\"\\u0074hink\":\"t\\u00e9\"}]}]}",
        "{\"parts\":[{\"content\":[{\"type\":\"code\",\"code\":\"a\\\\\\\"b\"}, 3, \"s\", null]}]}",
        "{\"parts\":[{\"content\":{\"type\":\"text\"}}],\"n\":[1.5e10,-0,true,false,{}]}",
        "{\"parts\":[{\"content\":[{\"type\":\"text\",\"text\":\"😀 \\ud83d\\ude00\"}]}]}",
        "{\"parts\":[{\"logic_id\":\"\\u0000\"}]}",
        "{\"a\\u0000\":1}",
        "{\"parts\":[{\"content\":[{\"type\":\"text\",\"text\":\"bad \\q\"}]}]}",
        "{\"parts\":[{\"content\":[{\"type\":\"text\",\"text\":\"bad \x01\"}]}]}",
        "{\"parts\":[{\"content\":[{\"type\":\"text\",\"text\":\"\\ud800\"}]}]}",
        "{\"x\":\"\xc0\xaf\"}",
        "{\"x\":1} {}",
        "{\"x\":01}",
        "{\"x\":1e400}",
        "{\"x\":123456789012345678901234}",
        "[1]",
        "{\"x\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
        "{\"parts\":[{\"content\":[{\"type\":\"text\",\"text\":\"unterminated}]}]}",
    };
    for (size_t i = 0; i < N(frames); i++)
        (void)scan_checked(frames[i], strlen(frames[i]));
    /* These the scanner takes; the rest it may leave to jansson. */
    CHECK_INT(scan_checked(frames[0], strlen(frames[0])), 0);
    CHECK_INT(scan_checked(frames[6], strlen(frames[6])), 0);
    CHECK_INT(scan_checked(frames[8], strlen(frames[8])), 0);
    CHECK(scan_checked(frames[18], strlen(frames[18])) != 0);
    CHECK(scan_checked(frames[22], strlen(frames[22])) != 0);
}

TEST(a_reused_view_follows_the_strings_that_moved)
{
    static const char *const frames[] = {
        "{\"parts\":[{\"logic_id\":\"a\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}],"
        "\"conversation_id\":\"c1\",\"status\":\"init\"}",
        "{\"parts\":[{\"logic_id\":\"a\",\"content\":[{\"type\":\"text\",\"text\":\"xyz\\\"q\"}]}],"
        "\"conversation_id\":\"c1\",\"status\":\"init\"}",
        "{\"parts\":[{\"logic_id\":\"a\",\"content\":[{\"type\":\"text\",\"text\":\"\"}]}],"
        "\"conversation_id\":\"c1\",\"status\":\"init\"}",
        /* Another shape: scanned afresh. */
        "{\"parts\":[{\"logic_id\":\"a\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}],"
        "\"conversation_id\":\"c2\",\"status\":\"finish\"}",
    };
    static const int reused[] = { 0, 1, 1, 0 };
    struct fview *fv = fview_new();
    for (size_t i = 0; i < N(frames); i++) {
        size_t n = strlen(frames[i]);
        int r = fview_reuse(fv, frames[i], n);
        CHECK_INT(r, reused[i]);
        int rc = r ? 0 : fview_scan(fv, frames[i], n);
        CHECK_INT(rc, 0);
        CHECK(frame_oracle(fv, rc, frames[i], n) == NULL);
        if (rc == 0)
            fview_keep_shape(fv, frames[i], n);
    }
    fview_free(fv);
}

TEST_MAIN()
