/* glm/upload: the file_upload answer, and whole runs (downloads and multipart
 * uploads) against an HTTP server this test runs on 127.0.0.1. The pure
 * halves are test_filetype.c and test_attach.c. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "config.h"
#include "glm/upload.h"
#include "net/curl_loop.h"
#include "net/fetch.h"
#include "test.h"
#include "util/crypto.h"

static struct curl_loop *loop;

/* A 1x1 PNG. */
static const char PNG_B64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/* ---- the file_upload answer ------------------------------------------- */

TEST(the_upload_answer_says_image_or_file)
{
    json_t *r;
    int img;
    char err[256];
    const char *ok_img = "{\"status\":0,\"message\":\"success\",\"result\":{\"file_url\":\"https://s/a.png\","
                         "\"width\":10,\"height\":0,\"source_id\":\"x\"}}";
    CHECK_INT(upload_answer(200, ok_img, strlen(ok_img), &r, &img, err, sizeof(err)), 0);
    CHECK_INT(img, 1);
    CHECK_STR(json_string_value(json_object_get(r, "source_id")), "x");
    json_decref(r);
    const char *ok_file = "{\"status\":0,\"result\":{\"file_url\":\"https://s/a.pdf\",\"width\":0,"
                          "\"height\":0}}";
    CHECK_INT(upload_answer(200, ok_file, strlen(ok_file), &r, &img, err, sizeof(err)), 0);
    CHECK_INT(img, 0);
    json_decref(r);
    const char *refused = "{\"status\":40001,\"message\":\"bad request(40001)\"}";
    CHECK_INT(upload_answer(200, refused, strlen(refused), &r, &img, err, sizeof(err)), -1);
    CHECK(strstr(err, "40001") != NULL);
    CHECK(r == NULL);
    CHECK_INT(upload_answer(400, refused, strlen(refused), &r, &img, err, sizeof(err)), -1);
    CHECK(strstr(err, "HTTP 400") != NULL);
    const char *no_url = "{\"status\":0,\"result\":{\"width\":1}}";
    CHECK_INT(upload_answer(200, no_url, strlen(no_url), &r, &img, err, sizeof(err)), -1);
    CHECK_INT(upload_answer(200, "<html>", 6, &r, &img, err, sizeof(err)), -1);
}

/* ---- whole runs against a loopback server ------------------------------- */

/* The upload list of a messages array (NULL on error or none); rc in *rc. */
static struct upload_list *parse(const char *json, size_t max, size_t max_file, int *rc)
{
    json_t *m = json_loads(json, 0, NULL);
    struct upload_list *l = NULL;
    struct upload_error e;
    *rc = upload_list_parse(m, max, max_file, &l, &e);
    json_decref(m);
    return l;
}

struct upload_seen {
    char name[64];
    char filename[256];
    char ctype[128];
    char *data;
    size_t len;
};

static struct event_base *base;
static struct evhttp *http;
static int port;
static struct upload_seen seen[8];
static int nseen, file_hits, upload_status = 200;
static struct evhttp_request *hanging;

/* The "name", "filename" and Content-Type of the first part, and its bytes. */
static void read_multipart(struct evhttp_request *req, struct upload_seen *u)
{
    const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
    const char *b = ct ? strstr(ct, "boundary=") : NULL;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *body = (char *)evbuffer_pullup(in, -1);
    if (!b || !body)
        return;
    char delim[128];
    snprintf(delim, sizeof(delim), "--%s", b + 9);
    char *p = memmem(body, len, delim, strlen(delim));
    char *hend = p ? memmem(p, len - (size_t)(p - body), "\r\n\r\n", 4) : NULL;
    if (!hend)
        return;
    char head[1024];
    snprintf(head, sizeof(head), "%.*s", (int)(hend - p), p);
    char *s;
    if ((s = strstr(head, "name=\"")))
        sscanf(s + 6, "%63[^\"]", u->name);
    if ((s = strstr(head, "filename=\"")))
        sscanf(s + 10, "%255[^\"]", u->filename);
    if ((s = strstr(head, "Content-Type: ")))
        sscanf(s + 14, "%127[^\r]", u->ctype);
    char *data = hend + 4;
    char end[140];
    snprintf(end, sizeof(end), "\r\n%s", delim);
    char *e = memmem(data, len - (size_t)(data - body), end, strlen(end));
    if (!e)
        return;
    u->len = (size_t)(e - data);
    u->data = malloc(u->len + 1);
    memcpy(u->data, data, u->len);
    u->data[u->len] = '\0';
}

static void hang_closed(struct evhttp_connection *c, void *arg)
{
    (void)c;
    (void)arg;
    if (hanging && !evhttp_request_get_connection(hanging))
        evhttp_send_reply_end(hanging);
    hanging = NULL;
}

static void handle(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    struct evbuffer *out = evbuffer_new();
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    if (strcmp(uri, "/chatglm/backend-api/assistant/file_upload") == 0) {
        struct upload_seen *u = &seen[nseen < 8 ? nseen++ : 7];
        read_multipart(req, u);
        int image = strncmp(u->ctype, "image/", 6) == 0;
        evbuffer_add_printf(out, "{\"status\":%d,\"message\":\"success\",\"result\":{\"file_id\":\"id%d\","
                            "\"file_name\":\"%s\",\"file_size\":%zu,\"file_url\":\"https://sfile.test/%d\","
                            "\"width\":%d,\"height\":%d}}",
                            upload_status == 200 ? 0 : 40001, nseen, u->filename, u->len, nseen,
                            image ? 4 : 0, image ? 3 : 0);
        evhttp_add_header(h, "Content-Type", "application/json");
        evhttp_send_reply(req, upload_status, "OK", out);
    } else if (strcmp(uri, "/files/doc.txt") == 0) {
        file_hits++;
        evhttp_add_header(h, "Content-Type", "text/plain; charset=utf-8");
        evbuffer_add_printf(out, "第一行\nline two\n");
        evhttp_send_reply(req, 200, "OK", out);
    } else if (strcmp(uri, "/files/pic") == 0) {
        file_hits++;
        size_t n;
        unsigned char *png = crypto_base64_decode(PNG_B64, strlen(PNG_B64), &n);
        evhttp_add_header(h, "Content-Type", "application/octet-stream");
        evbuffer_add(out, png, n);
        free(png);
        evhttp_send_reply(req, 200, "OK", out);
    } else if (strcmp(uri, "/files/blob") == 0) {
        file_hits++;
        evhttp_add_header(h, "Content-Type", "application/octet-stream");
        evbuffer_add(out, "\x00\x01\x02\x03\xfe\xff", 6);
        evhttp_send_reply(req, 200, "OK", out);
    } else if (strcmp(uri, "/files/empty.txt") == 0) {
        file_hits++;
        evhttp_send_reply(req, 200, "OK", out);
    } else if (strcmp(uri, "/files/hang") == 0) {
        file_hits++;
        evhttp_send_reply_start(req, 200, "OK");
        hanging = req;
        evhttp_connection_set_closecb(evhttp_request_get_connection(req), hang_closed, NULL);
    } else {
        evhttp_send_reply(req, 404, "Not Found", out);
    }
    evbuffer_free(out);
}

static void set_str(char **field, const char *v)
{
    free(*field);
    *field = strdup(v);
}

TEST(setup_a_loopback_server_and_the_settings)
{
    char *argv[] = { (char *)"test_upload", NULL };
    int exit_now, check_only;
    CHECK_INT(config_load(1, argv, &exit_now, &check_only), 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    base = event_base_new();
    loop = curl_loop_new(base);
    http = evhttp_new(base);
    struct evhttp_bound_socket *hs = evhttp_bind_socket_with_handle(http, "127.0.0.1", 0);
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    getsockname(evhttp_bound_socket_get_fd(hs), (struct sockaddr *)&sin, &sl);
    port = ntohs(sin.sin_port);
    evhttp_set_gencb(http, handle, NULL);
    char v[128];
    snprintf(v, sizeof(v), "http://127.0.0.1:%d", port);
    set_str(&cfg.upstream, v);
    snprintf(v, sizeof(v), "127.0.0.1:%d", port);
    set_str(&cfg.fetch_allow, v);
    cfg.fetch_timeout = 2;
    /* The runs here are of file_upload (2025); chat_upload and its items are
     * checked end to end (tests/e2e/test/files.test.js). */
    cfg.upload_call = CFG_UPLOAD_FILE;
    CHECK(port > 0);
}

struct run_out {
    int done;
    int failed;
    struct upload_error err;
    char *files, *images;
};

static void run_done(void *arg, const struct upload_error *err, json_t *files, json_t *images)
{
    struct run_out *o = arg;
    o->done = 1;
    o->failed = err != NULL;
    if (err)
        o->err = *err;
    o->files = json_dumps(files, JSON_COMPACT | JSON_PRESERVE_ORDER);
    o->images = json_dumps(images, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

static struct run_out run(const char *parts)
{
    struct run_out o;
    memset(&o, 0, sizeof(o));
    char json[4096];
    snprintf(json, sizeof(json), "[{\"role\":\"user\",\"content\":[%s]}]", parts);
    int rc;
    struct upload_list *l = parse(json, 10, 1 << 20, &rc);
    CHECK_INT(rc, 0);
    CHECK(l != NULL);
    if (!l)
        return o;
    struct upload_run *r = upload_run_start(loop, l, "access-token", "65940acff94777010aa6b796", "rid-1", run_done, &o);
    CHECK(r != NULL);
    CHECK_INT(o.done, 0);
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!o.done) {
        event_base_loop(base, EVLOOP_ONCE);
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 8)
            break;
    }
    CHECK(o.done);
    if (!o.done)
        upload_run_cancel(r);
    upload_list_free(l);
    return o;
}

static void reset_seen(void)
{
    for (int i = 0; i < nseen; i++)
        free(seen[i].data);
    memset(seen, 0, sizeof(seen));
    nseen = 0;
}

static struct upload_seen *seen_named(const char *filename_suffix)
{
    for (int i = 0; i < nseen; i++) {
        size_t a = strlen(seen[i].filename), b = strlen(filename_suffix);
        if (a >= b && strcmp(seen[i].filename + a - b, filename_suffix) == 0)
            return &seen[i];
    }
    return NULL;
}

TEST(data_urls_and_downloads_are_uploaded_as_multipart_and_split_into_files_and_images)
{
    reset_seen();
    char parts[2048];
    snprintf(parts, sizeof(parts),
             "{\"type\":\"text\",\"text\":\"look\"},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,%s\"}},"
             "{\"type\":\"file\",\"file_url\":{\"url\":\"http://127.0.0.1:%d/files/doc.txt\"}},"
             "{\"type\":\"image_url\",\"image_url\":\"http://127.0.0.1:%d/files/pic\"}",
             PNG_B64, port, port);
    struct run_out o = run(parts);
    CHECK_INT(o.failed, 0);
    CHECK_INT(nseen, 3);
    struct upload_seen *doc = seen_named("doc.txt");
    struct upload_seen *pic = seen_named("pic.png");
    CHECK(doc && pic);
    if (doc && pic) {
        CHECK_STR(doc->name, "file");
        CHECK_STR(doc->filename, "doc.txt");
        CHECK_STR(doc->ctype, "text/plain");
        CHECK_STR(doc->data, "第一行\nline two\n");
        CHECK_STR(pic->ctype, "image/png");
        CHECK_INT(pic->len, 70);
        CHECK(memcmp(pic->data, "\x89PNG", 4) == 0);
    }
    /* The data URL: a random name with the extension of its type. */
    int data_i = -1;
    for (int i = 0; i < nseen; i++)
        if (&seen[i] != doc && &seen[i] != pic)
            data_i = i;
    CHECK(data_i >= 0);
    if (data_i >= 0) {
        CHECK_INT(strlen(seen[data_i].filename), 36);
        CHECK_STR(seen[data_i].filename + 32, ".png");
        CHECK_STR(seen[data_i].ctype, "image/png");
        CHECK_INT(seen[data_i].len, 70);
    }
    /* Files and images keep the order of the message; images get image_url. */
    json_t *files = json_loads(o.files, 0, NULL), *images = json_loads(o.images, 0, NULL);
    CHECK_INT(json_array_size(files), 1);
    CHECK_INT(json_array_size(images), 2);
    CHECK_STR(json_string_value(json_object_get(json_array_get(files, 0), "file_name")), "doc.txt");
    CHECK(json_object_get(json_array_get(files, 0), "image_url") == NULL);
    CHECK(json_string_value(json_object_get(json_array_get(images, 1), "file_name")) &&
          strcmp(json_string_value(json_object_get(json_array_get(images, 1), "file_name")),
                 "pic.png") == 0);
    for (size_t i = 0; i < 2; i++) {
        json_t *im = json_array_get(images, i);
        CHECK_STR(json_string_value(json_object_get(im, "image_url")),
                  json_string_value(json_object_get(im, "file_url")));
        CHECK_INT(json_integer_value(json_object_get(im, "width")), 4);
    }
    json_decref(files);
    json_decref(images);
    free(o.files);
    free(o.images);
}

TEST(one_failure_stops_the_others_and_reports_the_part)
{
    reset_seen();
    char parts[1024];
    snprintf(parts, sizeof(parts),
             "{\"type\":\"file\",\"file_url\":\"http://127.0.0.1:%d/files/hang\"},"
             "{\"type\":\"file\",\"file_url\":\"http://127.0.0.1:%d/files/blob\"}",
             port, port);
    struct run_out o = run(parts);
    CHECK_INT(o.failed, 1);
    CHECK_INT(o.err.status, 400);
    CHECK_STR(o.err.code, "unknown_file_type");
    CHECK_STR(o.err.param, "messages[0].content[1]");
    CHECK_STR(o.files, "[]");
    CHECK_INT(nseen, 0);
    /* The hanging download was dropped at once. */
    for (int i = 0; i < 50 && hanging; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    CHECK(hanging == NULL);
    CHECK_INT(curl_loop_running(loop), 0);
    free(o.files);
    free(o.images);

    snprintf(parts, sizeof(parts), "{\"type\":\"file\",\"file_url\":\"http://127.0.0.1:%d/files/empty.txt\"}",
             port);
    o = run(parts);
    CHECK_STR(o.err.code, "empty_file");
    free(o.files);
    free(o.images);
    snprintf(parts, sizeof(parts), "{\"type\":\"file\",\"file_url\":\"http://127.0.0.1:%d/files/nope.txt\"}",
             port);
    o = run(parts);
    CHECK_STR(o.err.code, "fetch_failed");
    CHECK(strstr(o.err.message, "404") != NULL);
    free(o.files);
    free(o.images);
}

TEST(a_refused_address_is_a_400_and_the_server_is_never_asked)
{
    set_str(&cfg.fetch_allow, "");
    int hits = file_hits;
    char parts[512];
    snprintf(parts, sizeof(parts), "{\"type\":\"file\",\"file_url\":\"http://127.0.0.1:%d/files/doc.txt\"}",
             port);
    struct run_out o = run(parts);
    CHECK_INT(o.err.status, 400);
    CHECK_STR(o.err.code, "fetch_refused");
    CHECK(strstr(o.err.message, "127.0.0.1") != NULL);
    CHECK(strstr(o.err.message, "loopback") != NULL);
    CHECK_INT(file_hits, hits);
    free(o.files);
    free(o.images);
    char v[64];
    snprintf(v, sizeof(v), "127.0.0.1:%d", port);
    set_str(&cfg.fetch_allow, v);
}

TEST(an_upload_chatglm_refuses_is_a_502)
{
    reset_seen();
    upload_status = 500;
    struct run_out o = run("{\"type\":\"file\",\"file_url\":\"data:text/plain;base64,aGk=\"}");
    upload_status = 200;
    CHECK_INT(o.err.status, 502);
    CHECK_STR(o.err.code, "upload_failed");
    CHECK(strstr(o.err.message, "HTTP 500") != NULL);
    free(o.files);
    free(o.images);
}

TEST(a_cancelled_run_calls_nothing)
{
    char json[512];
    snprintf(json, sizeof(json),
             "[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file_url\":"
             "\"http://127.0.0.1:%d/files/hang\"},{\"type\":\"file\",\"file_url\":"
             "\"data:text/plain;base64,aGk=\"}]}]", port);
    int rc;
    struct upload_list *l = parse(json, 10, 1 << 20, &rc);
    struct run_out o;
    memset(&o, 0, sizeof(o));
    struct upload_run *r = upload_run_start(loop, l, "t", NULL, NULL, run_done, &o);
    for (int i = 0; i < 5; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    upload_run_cancel(r);
    upload_run_cancel(NULL);
    for (int i = 0; i < 20; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    CHECK_INT(o.done, 0);
    CHECK_INT(curl_loop_running(loop), 0);
    upload_list_free(l);
}

TEST(teardown)
{
    reset_seen();
    for (int i = 0; i < 50 && hanging; i++)
        event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    evhttp_free(http);
    curl_loop_free(loop);
    event_base_free(base);
    curl_global_cleanup();
    config_free();
    CHECK(1);
}

TEST_MAIN()
