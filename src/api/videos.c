/* The Videos API's HTTP side: POST /v1/videos (JSON or multipart), GET and
 * DELETE /v1/videos/{id}, GET /v1/videos/{id}/content (streamed through,
 * never held whole), GET /v1/videos, and the original's synchronous
 * POST /v1/videos/generations. The jobs themselves are api/video_job.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "api/api.h"
#include "api/video_job.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "glm/filetype.h"
#include "glm/session.h"
#include "glm/store.h"
#include "glm/upload.h"
#include "glm/video.h"
#include "http/multipart.h"
#include "http/server.h"
#include "log.h"
#include "metrics.h"
#include "net/fetch.h"
#include "util/crypto.h"
#include "util/xalloc.h"

#define VIDEO_MAX_PROMPT 8000
#define VIDEO_LIST_MAX 100

/* ---- requests ------------------------------------------------------------- */

struct vreq {
    const char *prompt;
    size_t prompt_len;
    char model[80];
    char seconds[16];
    char size[32];
    json_t *options;                /* video_style, emotional_atmosphere, mirror_mode, audio_id */
    unsigned char *image;           /* a decoded data URL or an uploaded file */
    size_t image_len;
    char image_mime[128];
    char image_name[160];
    char *image_url;
};

static void vreq_free(struct vreq *r)
{
    json_decref(r->options);
    free(r->image);
    free(r->image_url);
}

/* A model this endpoint serves: cogvideox, cogvideox-pro, or a name of the
 * model table (--models). */
static int model_ok(const char *m)
{
    if (strcmp(m, "cogvideox") == 0 || strcmp(m, "cogvideox-pro") == 0 ||
        strcmp(m, "cogvideox-flash") == 0)
        return 1;
    size_t n = strlen(m);
    for (const char *p = cfg.models; p && (p = strstr(p, m)); p += n)
        if ((p == cfg.models || p[-1] == ',' || p[-1] == ' ') && p[n] == '=')
            return 1;
    return 0;
}

/* An image given as a URL: data: URLs are decoded now. 0, or -1 after the
 * error reply. */
static int take_image_url(struct api_req *a, struct vreq *r, const char *url, size_t len,
                          const char *param)
{
    if (len >= 5 && strncmp(url, "data:", 5) == 0) {
        char declared[128];
        if (filetype_data_url(url, len, declared, sizeof(declared), &r->image, &r->image_len) < 0 ||
            !r->image_len) {
            api_error(a, 400, param, "invalid_image", "%s is not a valid base64 data URL", param);
            return -1;
        }
        if (r->image_len > (size_t)cfg.max_file) {
            api_error(a, 400, param, "file_too_large", "%s is larger than %ld bytes (setting "
                      "max-file)", param, cfg.max_file);
            return -1;
        }
        if (filetype_resolve(declared, r->image, r->image_len, NULL, r->image_mime,
                             sizeof(r->image_mime)) < 0 ||
            strncmp(r->image_mime, "image/", 6) != 0) {
            api_error(a, 400, param, "invalid_image", "%s is not an image", param);
            return -1;
        }
        filetype_filename(NULL, r->image_mime, r->image_name, sizeof(r->image_name));
        return 0;
    }
    char host[256], err[256];
    char *u = xstrndup(url, len);
    if (guard_url_check(u, host, sizeof(host), err, sizeof(err)) < 0) {
        free(u);
        api_error(a, 400, param, "invalid_url", "%s: %s", param, err);
        return -1;
    }
    r->image_url = u;
    return 0;
}

static int set_field(struct api_req *a, struct vreq *r, const char *name, const char *v,
                     size_t len)
{
    static const char *const exts[] = { "video_style", "emotional_atmosphere", "mirror_mode",
                                        "audio_id" };
    if (strcmp(name, "prompt") == 0) {
        r->prompt = v;
        r->prompt_len = len;
    } else if (strcmp(name, "model") == 0) {
        snprintf(r->model, sizeof(r->model), "%.*s", (int)(len < 79 ? len : 79), v);
    } else if (strcmp(name, "seconds") == 0) {
        snprintf(r->seconds, sizeof(r->seconds), "%.*s", (int)(len < 15 ? len : 15), v);
    } else if (strcmp(name, "size") == 0) {
        snprintf(r->size, sizeof(r->size), "%.*s", (int)(len < 31 ? len : 31), v);
    } else if (strcmp(name, "image_url") == 0 || strcmp(name, "input_reference[image_url]") == 0) {
        return take_image_url(a, r, v, len, name);
    } else {
        for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
            if (strcmp(name, exts[i]) == 0 && len && len < 200)
                json_object_set_new(r->options, name, json_stringn(v, len));
    }
    return 0;
}

/* Reads a JSON or multipart body into r. 0, or -1 after the error reply. */
static int read_request(struct api_req *a, struct vreq *r)
{
    memset(r, 0, sizeof(*r));
    r->options = json_object();
    size_t len;
    const char *body = http_req_body(a->req, &len);
    const char *ct = http_req_header(a->req, "Content-Type");
    if (multipart_is_form(ct)) {
        struct mp_part parts[32];
        char err[200];
        int n = multipart_parse(ct, body, len, parts, 32, err, sizeof(err));
        if (n < 0) {
            api_error(a, 400, NULL, "invalid_multipart", "%s", err);
            return -1;
        }
        for (int i = 0; i < n; i++) {
            const struct mp_part *p = &parts[i];
            if (strcmp(p->name, "input_reference") == 0 && p->has_filename) {
                if (!p->len) {
                    api_error(a, 400, "input_reference", "empty_file", "input_reference is empty");
                    return -1;
                }
                if (filetype_resolve(p->content_type, (const unsigned char *)p->data, p->len,
                                     p->filename, r->image_mime, sizeof(r->image_mime)) < 0 ||
                    strncmp(r->image_mime, "image/", 6) != 0) {
                    api_error(a, 400, "input_reference", "invalid_image",
                              "input_reference must be an image (PNG, JPEG, WebP...); chatglm.cn "
                              "takes a first frame only");
                    return -1;
                }
                free(r->image);
                r->image = (unsigned char *)xmemdup(p->data, p->len);
                r->image_len = p->len;
                filetype_filename(p->filename, r->image_mime, r->image_name,
                                  sizeof(r->image_name));
            } else if (!p->has_filename && set_field(a, r, p->name, p->data, p->len) < 0) {
                return -1;
            }
        }
        return 0;
    }
    json_error_t jerr;
    json_t *root = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(root)) {
        json_decref(root);
        api_error(a, 400, NULL, "invalid_json", "the request body must be a JSON object or "
                  "multipart/form-data (%s)", root ? "not an object" : jerr.text);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "input_reference") == 0 && json_is_object(v))
            v = json_object_get(v, "image_url"), key = "input_reference[image_url]";
        if (json_is_integer(v) && (strcmp(key, "seconds") == 0)) {
            char num[24];
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
            rc = set_field(a, r, key, num, strlen(num));
        } else if (json_is_string(v)) {
            rc = set_field(a, r, key, json_string_value(v), json_string_length(v));
        }
        if (rc < 0)
            break;
    }
    /* The prompt points into root: keep it as long as r. */
    if (rc == 0 && r->prompt) {
        json_object_set_new(r->options, "_prompt", json_stringn(r->prompt, r->prompt_len));
        r->prompt = json_string_value(json_object_get(r->options, "_prompt"));
    }
    json_decref(root);
    return rc;
}

/* Checks r. 0, or -1 after the error reply. */
static int validate(struct api_req *a, struct vreq *r)
{
    if (!r->prompt || !r->prompt_len) {
        api_error(a, 400, "prompt", "missing_required_parameter", "'prompt' is a required "
                  "property (a non-empty string)");
        return -1;
    }
    if (r->prompt_len > VIDEO_MAX_PROMPT || memchr(r->prompt, 0, r->prompt_len)) {
        api_error(a, 400, "prompt", "invalid_value", "'prompt' must be text of at most %d bytes",
                  VIDEO_MAX_PROMPT);
        return -1;
    }
    if (!r->model[0])
        snprintf(r->model, sizeof(r->model), "cogvideox");
    if (!model_ok(r->model)) {
        api_error(a, 400, "model", "model_not_found", "the model %s does not make videos here: "
                  "use cogvideox, cogvideox-pro or a name of the model table", r->model);
        return -1;
    }
    if (r->seconds[0] && (atoi(r->seconds) < 1 || atoi(r->seconds) > 60)) {
        api_error(a, 400, "seconds", "invalid_value", "'seconds' must be a number of seconds "
                  "such as \"5\" or \"10\"");
        return -1;
    }
    int w, h;
    char extra;
    if (r->size[0] && (sscanf(r->size, "%dx%d%c", &w, &h, &extra) != 2 || w < 1 || h < 1)) {
        api_error(a, 400, "size", "invalid_value", "'size' must be WIDTHxHEIGHT, e.g. 1280x720");
        return -1;
    }
    return 0;
}

/* Chooses the account: the first usable one of set with room for another
 * running video, with a reference of its own. Gives set back. NULL after
 * the error reply. */
static struct account *choose_account(struct api_req *a, struct account_set *set)
{
    struct account *chosen = NULL;
    size_t n = accounts_set_size(set), dead = 0;
    for (size_t i = 0; i < n; i++) {
        struct account *c = accounts_set_at(set, i);
        if (account_state(c) == ACCOUNT_DEAD)
            dead++;
        else if (!chosen && vjob_running_on(c) < (size_t)cfg.video_max_running)
            chosen = accounts_get(app.accounts, account_token(c), account_configured(c));
    }
    accounts_set_unref(app.accounts, set);
    if (!chosen && dead == n && n) {
        api_error(a, 401, NULL, "account_refused", "chatglm.cn refused every token given");
    } else if (!chosen) {
        http_req_add_header(a->req, "Retry-After", "30");
        api_error(a, 429, NULL, "too_many_video_jobs", "every account already runs %ld video "
                  "job%s (setting video-max-running); wait for one to finish",
                  cfg.video_max_running, cfg.video_max_running == 1 ? "" : "s");
    }
    return chosen;
}

static void waiter_gone(void *arg, struct api_req *a)
{
    struct vjob *j = arg;
    if (j->waiter == a) {
        j->waiter = NULL;
        LOGR(LOG_INFO, j->rid, "client left; video %s goes on as a job", j->id);
        api_end(a); /* frees the orphaned request */
    }
}

static void wait_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct vjob *j = arg;
    if (!j->waiter)
        return;
    api_error(j->waiter, 504, NULL, "video_timeout", "the video %s was not ready within %ld s "
              "(setting video-wait); it goes on: GET /v1/videos/%s", j->id, cfg.video_wait, j->id);
    j->waiter = NULL;
}

static void start_job(struct api_req *a, int wait)
{
    struct vreq r;
    if (read_request(a, &r) < 0 || validate(a, &r) < 0) {
        vreq_free(&r);
        return;
    }
    snprintf(a->model, sizeof(a->model), "%s", r.model);
    if (vjob_count() >= VIDEO_MAX_JOBS) {
        vreq_free(&r);
        api_error(a, 503, NULL, "too_many_video_jobs", "this server runs %d video jobs already",
                  VIDEO_MAX_JOBS);
        return;
    }
    struct account_set *set = chat_accounts(a);
    if (!set) {
        vreq_free(&r);
        return;
    }
    struct account *acct = choose_account(a, set);
    if (!acct) {
        vreq_free(&r);
        return;
    }
    char owner[65], akey[65], hex[33], id[48];
    api_owner(a, owner);
    store_key(account_token(acct), akey);
    crypto_random_hex(hex, 16);
    snprintf(id, sizeof(id), "video_%s", hex);
    long long now = time(NULL);
    json_t *rec = json_pack(
        "{s:s, s:s, s:s, s:s, s:i, s:I, s:n, s:n, s:s, s:s, s:s%, s:n, s:n, s:s, s:s, s:s, s:O,"
        " s:s, s:i}",
        "id", id, "object", "video", "model", r.model, "status", "queued", "progress", 0,
        "created_at", (json_int_t)now, "completed_at", "expires_at", "size",
        r.size[0] ? r.size : "1440x960", "seconds", r.seconds[0] ? r.seconds : "6", "prompt",
        r.prompt, r.prompt_len, "remixed_from_video_id", "error", "owner", owner, "account", akey,
        "account_fp", account_fp(acct), "options", r.options, "phase",
        r.image || r.image_url ? "upload" : "create", "polls", 0);
    json_object_del(json_object_get(rec, "options"), "_prompt"); /* copied into rec */
    /* The list order: creation in microseconds, strictly increasing here. */
    static long long last_seq;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long seq = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    last_seq = seq > last_seq ? seq : last_seq + 1;
    json_object_set_new(rec, "seq", json_integer(last_seq));
    if (r.size[0])
        json_object_set_new(rec, "requested_size", json_string(r.size));
    if (r.seconds[0])
        json_object_set_new(rec, "requested_seconds", json_string(r.seconds));
    struct vjob *j = vjob_new(rec, acct, a->rid);
    j->image = r.image;
    j->image_len = r.image_len;
    r.image = NULL;
    snprintf(j->image_mime, sizeof(j->image_mime), "%s", r.image_mime);
    snprintf(j->image_name, sizeof(j->image_name), "%s", r.image_name);
    j->image_url = r.image_url;
    r.image_url = NULL;
    vreq_free(&r);
    vjob_persist(j);
    LOGR(LOG_INFO, j->rid, "video %s: model %s, account %s, %s", j->id, vjob_str(j, "model"),
         account_fp(acct), j->image || j->image_url ? "with a first frame" : "text only");
    if (wait) {
        j->waiter = a;
        j->wait_timer = evtimer_new(app.base, wait_timeout_cb, j);
        struct timeval tv = { cfg.video_wait, 0 };
        evtimer_add(j->wait_timer, &tv);
        api_watch(a, waiter_gone, NULL, j);
    } else {
        vjob_reply(a, 200, vjob_object(j->rec));
    }
    vjob_step(j); /* may end the job (and answer the waiter) before it returns */
}

void videos_create_handle(struct api_req *a)
{
    start_job(a, 0);
}

void videos_generations_handle(struct api_req *a)
{
    start_job(a, 1);
}

/* Checks the credential as the other endpoints do. 0, or -1 after the reply. */
static int authorized(struct api_req *a)
{
    if (*cfg.api_keys && api_key_check(http_req_header(a->req, "Authorization")) < 0) {
        api_error(a, 401, NULL, "invalid_api_key", "invalid or missing API key");
        return -1;
    }
    if (!*cfg.api_keys && app.nconfigured == 0 && !http_req_header(a->req, "Authorization")) {
        api_error(a, 401, NULL, "missing_api_key", "missing Authorization header: send the "
                  "chatglm tokens the videos were made with");
        return -1;
    }
    return 0;
}

/* The stored record of id for this client, or NULL after a 404. A running
 * job that no one polls (the server restarted and its account is the
 * client's) is resumed with the client's token. */
static json_t *load(struct api_req *a, const char *id)
{
    char owner[65];
    api_owner(a, owner);
    char *text = strlen(id) < 64 ? store_job_get(vjob_store(), VIDEO_KIND, id, owner) : NULL;
    json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_object(rec)) {
        json_decref(rec);
        api_error(a, 404, NULL, "video_not_found", "no video %s (of this client)", id);
        return NULL;
    }
    if (vjob_active(rec) && !vjob_find(id)) {
        struct account **cands = NULL;
        size_t n = 0;
        char **tokens = NULL;
        size_t nt = *cfg.api_keys ? 0
                                  : api_bearer_tokens(http_req_header(a->req, "Authorization"),
                                                      &tokens);
        const char *key = json_string_value(json_object_get(rec, "account"));
        char k[65];
        for (size_t i = 0; i < nt && !n && key; i++) {
            store_key(tokens[i], k);
            if (strcmp(k, key) == 0) {
                cands = xmalloc(sizeof(*cands));
                cands[0] = accounts_get(app.accounts, tokens[i], 0);
                n = 1;
            }
        }
        if (nt)
            api_tokens_free(tokens, nt);
        if (n) {
            vjob_resume(json_deep_copy(rec), cands[0], a->rid);
            free(cands);
        }
    }
    return rec;
}

/* "/v1/videos/<id>[/content]" -> id; content set when it ends in /content. */
static int path_id(const char *path, char *id, size_t idlen, int *content)
{
    const char *p = strstr(path, "/v1/videos/");
    if (!p)
        return -1;
    p += strlen("/v1/videos/");
    size_t n = strcspn(p, "/");
    *content = strcmp(p + n, "/content") == 0;
    if (!n || n >= idlen || (p[n] && !*content))
        return -1;
    memcpy(id, p, n);
    id[n] = '\0';
    return 0;
}

/* GET /v1/videos */
static void list_handle(struct api_req *a)
{
    char owner[65];
    api_owner(a, owner);
    const char *q = http_req_query(a->req);
    char after[64] = "", order[8] = "desc";
    long limit = 20;
    /* a=b&c=d, no percent-decoding needed for ids and numbers */
    for (const char *p = q; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n > 6 && strncmp(p, "after=", 6) == 0 && n - 6 < sizeof(after))
            snprintf(after, sizeof(after), "%.*s", (int)(n - 6), p + 6);
        else if (n > 6 && strncmp(p, "limit=", 6) == 0)
            limit = atol(p + 6);
        else if (n > 6 && strncmp(p, "order=", 6) == 0 && n - 6 < sizeof(order))
            snprintf(order, sizeof(order), "%.*s", (int)(n - 6), p + 6);
        p += n + (p[n] == '&');
    }
    if (limit < 1 || limit > VIDEO_LIST_MAX) {
        api_error(a, 400, "limit", "invalid_value", "'limit' must be from 1 to %d",
                  VIDEO_LIST_MAX);
        return;
    }
    if (strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        api_error(a, 400, "order", "invalid_value", "'order' must be asc or desc");
        return;
    }
    struct store_texts t;
    if (store_job_list(vjob_store(), VIDEO_KIND, owner, after[0] ? after : NULL,
                       strcmp(order, "asc") == 0, (size_t)limit + 1, &t) < 0) {
        api_error(a, 503, NULL, "store_unavailable", "the job store is not available");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < t.n && i < (size_t)limit; i++) {
        json_t *rec = json_loads(t.v[i], 0, NULL);
        if (json_is_object(rec))
            json_array_append_new(data, vjob_object(rec));
        json_decref(rec);
    }
    int more = t.n > (size_t)limit;
    store_texts_free(&t);
    size_t n = json_array_size(data);
    json_t *first = n ? json_object_get(json_array_get(data, 0), "id") : NULL;
    json_t *last = n ? json_object_get(json_array_get(data, n - 1), "id") : NULL;
    vjob_reply(a, 200, json_pack("{s:s, s:o, s:O?, s:O?, s:b}", "object", "list", "data",
                                     data, "first_id", first, "last_id", last, "has_more", more));
}

/* GET /v1/videos/{id}/content: streamed from the site. */
struct relay {
    struct api_req *a;
    struct fetch *f;
    int started;
};

static int relay_head(void *arg, long status, const char *ctype, long long length)
{
    (void)status;
    (void)length;
    struct relay *r = arg;
    r->started = 1;
    r->a->status = 200;
    api_common_headers(r->a);
    http_req_add_header(r->a->req, "Cache-Control", "private, max-age=3600");
    http_req_start(r->a->req, 200, ctype && *ctype ? ctype : "application/octet-stream");
    metrics_streams_add(1);
    return 0;
}

static int relay_data(void *arg, const char *data, size_t len)
{
    struct relay *r = arg;
    /* A pause hands the same bytes again later: nothing is written then. */
    if (api_pending(r->a) > API_OUT_HIGH)
        return FETCH_PAUSE;
    return api_stream_write(r->a, data, len) < 0 ? FETCH_ABORT : FETCH_CONTINUE;
}

static void relay_done(void *arg, struct fetch_result *res)
{
    struct relay *r = arg;
    r->f = NULL;
    if (!r->started) {
        api_error(r->a, res->status == FETCH_HTTP && res->http_status == 404 ? 404 : 502,
                  NULL, "video_unavailable", "could not read the video from chatglm.cn: %s",
                  res->error);
    } else {
        if (res->status != FETCH_OK)
            LOGR(LOG_WARN, r->a->rid, "video content cut: %s", res->error);
        api_end(r->a);
    }
    free(r);
}

static void relay_drain(void *arg, struct api_req *a)
{
    (void)a;
    struct relay *r = arg;
    fetch_resume(r->f);
}

static void relay_close(void *arg, struct api_req *a)
{
    struct relay *r = arg;
    fetch_cancel(r->f);
    r->f = NULL;
    if (!r->started)
        a->status = 499;
    api_end(a);
    free(r);
}

static void content_handle(struct api_req *a, const char *id)
{
    json_t *rec = load(a, id);
    if (!rec)
        return;
    const char *q = http_req_query(a->req);
    const char *variant = strstr(q, "variant=");
    int thumb = variant && strncmp(variant + 8, "thumbnail", 9) == 0;
    if (variant && !thumb && strncmp(variant + 8, "video", 5) != 0) {
        json_decref(rec);
        api_error(a, 400, "variant", "invalid_value", "chatglm.cn makes a video and a thumbnail "
                  "only: variant=video or variant=thumbnail");
        return;
    }
    const char *status = json_string_value(json_object_get(rec, "status"));
    const char *url = json_string_value(json_object_get(rec, thumb ? "cover_url" : "video_url"));
    if (strcmp(status, "completed") != 0 || !url) {
        api_error(a, 404, NULL, "video_not_ready", "the video %s is %s: it has no content%s",
                  id, status, strcmp(status, "failed") == 0 ? "" : " yet");
        json_decref(rec);
        return;
    }
    struct relay *r = xcalloc(1, sizeof(*r));
    r->a = a;
    struct fetch_opts fo;
    upload_fetch_opts(&fo, a->rid);
    fo.max_bytes = (size_t)1 << 32 > (size_t)-1 ? (size_t)-1 : (size_t)1 << 32; /* 4 GiB */
    static const struct fetch_stream_cbs cbs = { relay_head, relay_data };
    api_watch(a, relay_close, relay_drain, r);
    r->f = fetch_stream(app.curl, url, &fo, &cbs, relay_done, r);
    json_decref(rec);
    if (!r->f) {
        api_watch(a, NULL, NULL, NULL);
        free(r);
        api_error(a, 500, NULL, "internal_error", "could not start the download");
    }
}

static void delete_handle(struct api_req *a, const char *id)
{
    json_t *rec = load(a, id);
    if (!rec)
        return;
    struct vjob *j = vjob_find(id);
    struct account **cands = NULL;
    size_t n = 0;
    if (!*cfg.api_keys) {
        char **tokens;
        size_t nt = api_bearer_tokens(http_req_header(a->req, "Authorization"), &tokens);
        if (nt) {
            cands = xmalloc(nt * sizeof(*cands));
            for (size_t i = 0; i < nt; i++)
                cands[n++] = accounts_get(app.accounts, tokens[i], 0);
            api_tokens_free(tokens, nt);
        }
    }
    if (j) {
        json_decref(rec);
        rec = json_incref(j->rec);
    }
    vjob_delete_upstream(rec, j ? j->acct : NULL, cands, n, a->rid);
    for (size_t i = 0; i < n; i++)
        accounts_unref(app.accounts, cands[i]);
    free(cands);
    if (j) {
        if (j->waiter) {
            api_error(j->waiter, 404, NULL, "video_deleted", "the video %s was deleted", id);
            j->waiter = NULL;
        }
        vjob_free(j);
    }
    store_job_delete(vjob_store(), VIDEO_KIND, id);
    json_decref(rec);
    LOGR(LOG_INFO, a->rid, "video %s deleted", id);
    vjob_reply(a, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "video.deleted",
                                     "deleted", 1));
}

/* GET, DELETE /v1/videos/{id}, GET /v1/videos/{id}/content and GET
 * /v1/videos (the router sends every /v1/videos/ path here). */
void videos_handle(struct api_req *a)
{
    snprintf(a->model, sizeof(a->model), "video");
    if (authorized(a) < 0)
        return;
    const char *method = http_req_method(a->req);
    int get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const char *path = http_req_path(a->req);
    if (get && (strstr(path, "/v1/videos") && strcmp(strstr(path, "/v1/videos"), "/v1/videos") == 0)) {
        list_handle(a);
        return;
    }
    char id[64];
    int content;
    if (path_id(path, id, sizeof(id), &content) < 0) {
        api_error(a, 404, NULL, "unknown_url", "Unknown request URL: %s %s", method, path);
        return;
    }
    if (content && get) {
        content_handle(a, id);
    } else if (!content && get) {
        json_t *rec = load(a, id);
        if (rec) {
            struct vjob *j = vjob_find(id);
            json_t *cur = j ? j->rec : rec;
            vjob_reply(a, 200, vjob_object(cur));
            json_decref(rec);
        }
    } else if (!content && strcmp(method, "DELETE") == 0) {
        delete_handle(a, id);
    } else {
        http_req_add_header(a->req, "Allow", content ? "GET, HEAD" : "GET, HEAD, DELETE");
        api_error(a, 405, NULL, "method_not_allowed", "Method %s is not allowed for %s", method,
                  path);
    }
}
