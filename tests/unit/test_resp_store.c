/* Stored responses: owners, expiry, eviction order, item lookup. */
#include <jansson.h>
#include <string.h>

#include "api/resp_store.h"
#include "test.h"

static char dropped[8][32];
static int ndropped, nby_client;

static void on_drop(void *arg, const struct resp_entry *e, int by_client)
{
    (void)arg;
    if (ndropped < 8)
        snprintf(dropped[ndropped], sizeof dropped[0], "%s", e->id);
    ndropped++;
    nby_client += by_client;
}

static void put(struct resp_store *s, const char *id, const char *owner, long long now)
{
    char text[256];
    snprintf(text, sizeof text,
             "{\"id\":\"%s\",\"output\":[{\"id\":\"msg_%s\",\"type\":\"message\"}]}", id, id);
    json_t *r = json_loads(text, 0, NULL);
    struct resp_entry e = { .id = id, .owner = owner, .conversation = "c1", .account = "ab12",
                            .model = "m", .response = r };
    resp_store_put(s, &e, now);
    json_decref(r);
}

TEST(an_entry_is_seen_only_by_its_owner_and_only_until_it_expires)
{
    ndropped = nby_client = 0;
    struct resp_store *s = resp_store_new(10, 60, on_drop, NULL);
    put(s, "resp_a", "alice", 1000);
    const struct resp_entry *e = resp_store_get(s, "resp_a", "alice", 1001);
    CHECK(e != NULL);
    if (e) {
        CHECK_STR(e->conversation, "c1");
        CHECK_INT(e->expires, 1060);
    }
    CHECK(resp_store_get(s, "resp_a", "bob", 1001) == NULL);
    CHECK(resp_store_item(s, "msg_resp_a", "alice", 1001) != NULL);
    CHECK(resp_store_item(s, "msg_resp_a", "bob", 1001) == NULL);
    CHECK(resp_store_get(s, "resp_a", "alice", 1060) == NULL);
    CHECK_INT(ndropped, 1);
    CHECK_INT(nby_client, 0);
    CHECK_INT(resp_store_count(s), 0);
    resp_store_free(s);
}

TEST(the_oldest_entry_is_evicted_first_when_the_store_is_full)
{
    ndropped = 0;
    struct resp_store *s = resp_store_new(2, 60, on_drop, NULL);
    put(s, "resp_1", "o", 1);
    put(s, "resp_2", "o", 2);
    put(s, "resp_3", "o", 3);
    CHECK_INT(resp_store_count(s), 2);
    CHECK_INT(ndropped, 1);
    CHECK_STR(dropped[0], "resp_1");
    CHECK(resp_store_get(s, "resp_2", "o", 4) != NULL);
    resp_store_free(s);
    CHECK_INT(ndropped, 3);
}

TEST(a_client_delete_is_reported_as_such_and_needs_the_owner)
{
    ndropped = nby_client = 0;
    struct resp_store *s = resp_store_new(4, 60, on_drop, NULL);
    put(s, "resp_x", "o", 1);
    CHECK_INT(resp_store_del(s, "resp_x", "other", 2), -1);
    CHECK_INT(resp_store_del(s, "resp_x", "o", 2), 0);
    CHECK_INT(nby_client, 1);
    CHECK_INT(resp_store_del(s, "resp_x", "o", 2), -1);
    resp_store_free(s);
}

TEST(putting_the_same_id_again_replaces_the_entry)
{
    ndropped = 0;
    struct resp_store *s = resp_store_new(4, 60, on_drop, NULL);
    put(s, "resp_r", "o", 1);
    put(s, "resp_r", "o", 5);
    CHECK_INT(resp_store_count(s), 1);
    const struct resp_entry *e = resp_store_get(s, "resp_r", "o", 6);
    CHECK(e && e->expires == 65);
    resp_store_free(s);
}

TEST_MAIN()
