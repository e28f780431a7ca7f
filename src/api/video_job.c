/* Video jobs: the engine behind api/videos.c (see api/video_job.h): the
 * records in the state store, a running job's steps on the event loop, the
 * upstream deletes, the sweeper, and resuming jobs at start-up. */
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

#define VIDEO_SWEEP_S 60


static struct vjob *jobs;
static size_t njobs;
static struct event *sweeper;
/* Where the records live: the state store when it keeps jobs, else (Redis
 * state, for now) a SQLite store of this module's in the data directory. */
static struct store *jstore;
static struct store *own_store;

/* ---- records -------------------------------------------------------------- */

const char *vjob_str(const struct vjob *j, const char *key)
{
    return json_string_value(json_object_get(j->rec, key));
}

static void rset_str(struct vjob *j, const char *key, const char *v)
{
    json_object_set_new(j->rec, key, v ? json_string(v) : json_null());
}

static void rset_int(struct vjob *j, const char *key, long long v)
{
    json_object_set_new(j->rec, key, json_integer(v));
}

int vjob_active(json_t *rec)
{
    const char *st = json_string_value(json_object_get(rec, "status"));
    return st && (strcmp(st, "queued") == 0 || strcmp(st, "in_progress") == 0);
}

static void persist_rec(json_t *rec)
{
    char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct store_job sj = {
        .kind = VIDEO_KIND,
        .id = json_string_value(json_object_get(rec, "id")),
        .owner = json_string_value(json_object_get(rec, "owner")),
        .created = json_integer_value(json_object_get(rec, "seq")),
        .active = vjob_active(rec),
        .expires = json_integer_value(json_object_get(rec, "expires_at")),
        .data = text,
    };
    if (store_job_put(jstore, &sj) < 0)
        LOG(LOG_WARN, "video %s: the job store did not take the update", sj.id);
    free(text);
}

void vjob_persist(struct vjob *j)
{
    persist_rec(j->rec);
}

/* "1440 × 960" -> "1440x960"; NULL when it is not two numbers. */
static void size_of(const char *res, char *out, size_t outlen)
{
    int w = 0, h = 0;
    out[0] = '\0';
    if (!res)
        return;
    const char *p = res;
    while (*p && (*p < '0' || *p > '9'))
        p++;
    w = atoi(p);
    while (*p >= '0' && *p <= '9')
        p++;
    while (*p && (*p < '0' || *p > '9'))
        p++;
    h = atoi(p);
    if (w > 0 && h > 0)
        snprintf(out, outlen, "%dx%d", w, h);
}

/* The OpenAI video object of a record. */
json_t *vjob_object(json_t *rec)
{
    json_t *o = json_object();
    static const char *const copy[] = { "id", "object", "model", "status", "progress",
                                        "created_at", "completed_at", "expires_at", "size",
                                        "seconds", "prompt", "remixed_from_video_id", "error" };
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        json_t *v = json_object_get(rec, copy[i]);
        json_object_set(o, copy[i], v ? v : json_null());
    }
    return o;
}

void vjob_reply(struct api_req *a, int status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    api_reply_json(a, status, s);
    free(s);
}

/* ---- owners and accounts -------------------------------------------------- */

size_t vjob_running_on(const struct account *acct)
{
    size_t n = 0;
    for (struct vjob *j = jobs; j; j = j->next)
        if (j->acct == acct && vjob_active(j->rec))
            n++;
    return n;
}

/* ---- the job's lifetime ---------------------------------------------------- */

static void unlink_job(struct vjob *j)
{
    for (struct vjob **p = &jobs; *p; p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            njobs--;
            return;
        }
}

void vjob_free(struct vjob *j)
{
    unlink_job(j);
    session_wait_cancel(j->wait);
    video_call_cancel(j->call);
    fetch_cancel(j->img_fetch);
    if (j->acct)
        accounts_unref(app.accounts, j->acct);
    if (j->waiter) {
        api_error(j->waiter, 503, NULL, "shutting_down", "the server is stopping");
        j->waiter = NULL;
    }
    if (j->wait_timer)
        event_free(j->wait_timer);
    if (j->timer)
        event_free(j->timer);
    json_decref(j->rec);
    free(j->access);
    free(j->image);
    free(j->image_url);
    free(j);
}

struct vjob *vjob_find(const char *id)
{
    for (struct vjob *j = jobs; j; j = j->next)
        if (strcmp(j->id, id) == 0)
            return j;
    return NULL;
}

static void schedule(struct vjob *j, long ms);

/* The synchronous call's answer, once the job ended. */
static void answer_waiter(struct vjob *j)
{
    struct api_req *a = j->waiter;
    if (!a)
        return;
    j->waiter = NULL;
    if (j->wait_timer)
        evtimer_del(j->wait_timer);
    if (strcmp(vjob_str(j, "status"), "completed") == 0) {
        json_t *item = json_pack("{s:s?, s:s?, s:s?, s:s?}", "url", vjob_str(j, "video_url"),
                                 "cover_url", vjob_str(j, "cover_url"), "duration", vjob_str(j, "duration"),
                                 "resolution", vjob_str(j, "resolution"));
        vjob_reply(a, 200, json_pack("{s:I, s:[o]}", "created",
                                         json_integer_value(json_object_get(j->rec, "created_at")),
                                         "data", item));
        return;
    }
    json_t *err = json_object_get(j->rec, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    int http = (int)json_integer_value(json_object_get(j->rec, "http_error"));
    api_error(a, http ? http : 502, NULL, code ? code : "video_failed", "%s", msg ? msg : "the video generation failed");
}

/* The job ended: it stays in the store until it expires. */
static void job_end(struct vjob *j)
{
    long long now = time(NULL);
    rset_int(j, "expires_at", now + cfg.video_keep);
    rset_str(j, "phase", "done");
    vjob_persist(j);
    answer_waiter(j);
    vjob_free(j);
}

static void job_fail(struct vjob *j, int http, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void job_fail(struct vjob *j, int http, const char *code, const char *fmt, ...)
{
    char msg[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    LOGR(LOG_INFO, j->rid, "video %s failed: %s: %s", j->id, code, msg);
    rset_str(j, "status", "failed");
    json_object_set_new(j->rec, "error", json_pack("{s:s, s:s}", "code", code, "message", msg));
    rset_int(j, "http_error", http);
    job_end(j);
}

static void job_complete(struct vjob *j)
{
    rset_str(j, "status", "completed");
    rset_int(j, "progress", 100);
    rset_int(j, "completed_at", time(NULL));
    LOGR(LOG_INFO, j->rid, "video %s completed", j->id);
    job_end(j);
}

static double job_age(struct vjob *j)
{
    return difftime(time(NULL), (time_t)json_integer_value(json_object_get(j->rec, "created_at")));
}

/* A call failed in a way worth retrying: the next step after a back-off,
 * unless the job is out of time. */
static void retry_later(struct vjob *j, const struct video_answer *ans)
{
    if (job_age(j) > cfg.video_timeout) {
        job_fail(j, 504, "upstream_timeout", "chatglm.cn did not finish the video within %ld s "
                 "(last answer: %s)", cfg.video_timeout, ans->message);
        return;
    }
    j->interval_ms = j->interval_ms * 2 > cfg.video_poll_max_ms ? cfg.video_poll_max_ms
                                                                 : j->interval_ms * 2;
    schedule(j, j->interval_ms);
}

static void on_access(void *arg, enum session_result res, const char *access, const char *detail);

/* An answer that is not OK, in any phase. Returns 1 when handled. */
static int not_ok(struct vjob *j, const struct video_answer *ans, int before_site)
{
    switch (ans->outcome) {
    case VIDEO_OK:
        return 0;
    case VIDEO_AUTH:
        if (!j->auth_retried && j->acct) {
            j->auth_retried = 1;
            session_invalidate(app.sessions, account_token(j->acct), j->access);
            free(j->access);
            j->access = NULL;
            struct session_wait *w = session_get(app.sessions, account_token(j->acct), on_access, j);
            if (w) /* else on_access ran already (and may have ended the job) */
                j->wait = w;
            return 1;
        }
        job_fail(j, 502, "account_refused", "chatglm.cn refused the account's token (%s)",
                 ans->message);
        return 1;
    case VIDEO_BUSY:
        if (before_site) {
            job_fail(j, 429, "account_busy", "chatglm.cn says the account is busy: %s",
                     ans->message);
            return 1;
        }
        retry_later(j, ans);
        return 1;
    case VIDEO_TRANSIENT:
        retry_later(j, ans);
        return 1;
    case VIDEO_REFUSED:
        job_fail(j, 400, "upstream_refused", "chatglm.cn refused the video: %s", ans->message);
        return 1;
    }
    return 0;
}

static void on_composite(void *arg, const struct video_answer *ans)
{
    struct vjob *j = arg;
    j->call = NULL;
    if (not_ok(j, ans, 0))
        return;
    const char *url = json_string_value(json_object_get(ans->result, "url"));
    if (!url) {
        job_fail(j, 502, "upstream_error", "chatglm.cn's audio composite answered no url");
        return;
    }
    rset_str(j, "video_url", url);
    job_complete(j);
}

static void on_status(void *arg, const struct video_answer *ans)
{
    struct vjob *j = arg;
    j->call = NULL;
    if (not_ok(j, ans, 0))
        return;
    struct video_status_info si;
    video_status_read(ans->result, &si);
    j->interval_ms = cfg.video_poll_ms;
    long long polls = json_integer_value(json_object_get(j->rec, "polls")) + 1;
    rset_int(j, "polls", polls);
    const char *state = si.state ? si.state : "";
    if (strcmp(state, "init") == 0 || strcmp(state, "processing") == 0) {
        if (job_age(j) > cfg.video_timeout) {
            job_fail(j, 504, "upstream_timeout", "chatglm.cn did not finish the video within "
                     "%ld s (setting video-timeout)", cfg.video_timeout);
            return;
        }
        int processing = state[0] == 'p';
        char was[16];
        snprintf(was, sizeof(was), "%s", vjob_str(j, "status"));
        long long progress = json_integer_value(json_object_get(j->rec, "progress"));
        if (processing) {
            /* The site gives no figure: creep towards 95. */
            long long p = progress < 10 ? 10 : progress + (95 - progress) / 5;
            rset_int(j, "progress", p);
        }
        rset_str(j, "status", processing ? "in_progress" : "queued");
        if (strcmp(was, vjob_str(j, "status")) != 0 || progress !=
            json_integer_value(json_object_get(j->rec, "progress")))
            vjob_persist(j);
        schedule(j, j->interval_ms);
        return;
    }
    if (strcmp(state, "finished") == 0 && si.video_url) {
        char size[32];
        size_of(si.resolution, size, sizeof(size));
        rset_str(j, "video_url", si.video_url);
        rset_str(j, "cover_url", si.cover_url);
        rset_str(j, "duration", si.duration);
        rset_str(j, "resolution", si.resolution);
        if (size[0])
            rset_str(j, "size", size);
        if (si.duration && atoi(si.duration) > 0) {
            char secs[16];
            snprintf(secs, sizeof(secs), "%d", atoi(si.duration));
            rset_str(j, "seconds", secs);
        }
        const char *audio = json_string_value(json_object_get(json_object_get(j->rec, "options"),
                                                              "audio_id"));
        if (audio && *audio) {
            rset_str(j, "phase", "composite");
            vjob_persist(j);
            vjob_step(j);
            return;
        }
        job_complete(j);
        return;
    }
    /* "failed" (moderation and the like) or anything unknown. */
    job_fail(j, 400, "video_generation_failed", "chatglm.cn could not make the video: %s",
             si.msg && *si.msg ? si.msg : state[0] ? state : "no reason given");
}

static void on_created(void *arg, const struct video_answer *ans)
{
    struct vjob *j = arg;
    j->call = NULL;
    if (not_ok(j, ans, 1))
        return;
    const char *chat = json_string_value(json_object_get(ans->result, "chat_id"));
    const char *conv = json_string_value(json_object_get(ans->result, "conversation_id"));
    if (!chat || strlen(chat) > 64) {
        job_fail(j, 502, "upstream_error", "chatglm.cn's video service answered without a "
                 "chat_id");
        return;
    }
    rset_str(j, "chat_id", chat);
    rset_str(j, "conversation_id", conv);
    rset_str(j, "phase", "poll");
    vjob_persist(j);
    LOGR(LOG_DEBUG, j->rid, "video %s: chat %s created", j->id, chat);
    schedule(j, cfg.video_poll_ms);
}

static void create(struct vjob *j)
{
    json_t *opt = json_object_get(j->rec, "options");
    const char *size = vjob_str(j, "requested_size");
    int w = 0, h = 0;
    if (size)
        sscanf(size, "%dx%d", &w, &h);
    struct video_options o = {
        .prompt = vjob_str(j, "prompt"),
        .source_id = vjob_str(j, "source_id"),
        .video_style = json_string_value(json_object_get(opt, "video_style")),
        .emotional_atmosphere = json_string_value(json_object_get(opt, "emotional_atmosphere")),
        .mirror_mode = json_string_value(json_object_get(opt, "mirror_mode")),
        .seconds = vjob_str(j, "requested_seconds") ? atoi(vjob_str(j, "requested_seconds")) : 0,
        .width = w,
        .height = h,
    };
    json_t *body = video_chat_body(&o);
    j->call = video_create(app.curl, j->access, body, j->rid, on_created, j);
    json_decref(body);
    if (!j->call)
        job_fail(j, 500, "internal_error", "could not start the create call");
}

static void on_uploaded(void *arg, const struct video_answer *ans)
{
    struct vjob *j = arg;
    j->call = NULL;
    if (not_ok(j, ans, 1))
        return;
    const char *src = json_string_value(json_object_get(ans->result, "source_id"));
    if (!src) {
        job_fail(j, 502, "upstream_error", "chatglm.cn's video upload answered no source_id");
        return;
    }
    rset_str(j, "source_id", src);
    free(j->image);
    j->image = NULL;
    rset_str(j, "phase", "create");
    vjob_step(j);
}

static void upload(struct vjob *j)
{
    j->call = video_upload(app.curl, j->access, j->image, j->image_len, j->image_mime,
                           j->image_name, j->rid, on_uploaded, j);
    if (!j->call)
        job_fail(j, 500, "internal_error", "could not start the image upload");
}

static void on_image(void *arg, struct fetch_result *r)
{
    struct vjob *j = arg;
    j->img_fetch = NULL;
    if (r->status != FETCH_OK) {
        job_fail(j, r->status == FETCH_REFUSED || r->status == FETCH_BAD_URL ? 400 : 502,
                 "image_download_failed", "could not download the first frame: %s", r->error);
        return;
    }
    if (filetype_resolve(r->content_type, r->data, r->len, j->image_url, j->image_mime,
                         sizeof(j->image_mime)) < 0 ||
        strncmp(j->image_mime, "image/", 6) != 0) {
        job_fail(j, 400, "invalid_image", "the first frame at %s is not an image", r->host);
        return;
    }
    filetype_filename(j->image_url, j->image_mime, j->image_name, sizeof(j->image_name));
    j->image = r->data;
    j->image_len = r->len;
    r->data = NULL;
    free(j->image_url);
    j->image_url = NULL;
    upload(j);
}

/* The next call of the job's phase. */
void vjob_step(struct vjob *j)
{
    if (!j->access) {
        struct session_wait *w = session_get(app.sessions, account_token(j->acct), on_access, j);
        if (w) /* else on_access ran already (and may have ended the job) */
            j->wait = w;
        return;
    }
    const char *phase = vjob_str(j, "phase");
    if (strcmp(phase, "upload") == 0) {
        if (j->image_url) {
            struct fetch_opts fo;
            upload_fetch_opts(&fo, j->rid);
            j->img_fetch = fetch_start(app.curl, j->image_url, &fo, on_image, j);
            if (!j->img_fetch)
                job_fail(j, 500, "internal_error", "could not start the image download");
        } else if (j->image) {
            upload(j);
        } else {
            job_fail(j, 500, "interrupted", "the server restarted before the first frame was "
                     "uploaded; create the video again");
        }
    } else if (strcmp(phase, "create") == 0) {
        create(j);
    } else if (strcmp(phase, "poll") == 0) {
        j->call = video_status(app.curl, j->access, vjob_str(j, "chat_id"), j->rid, on_status, j);
        if (!j->call)
            job_fail(j, 500, "internal_error", "could not start a status poll");
    } else if (strcmp(phase, "composite") == 0) {
        j->call = video_composite(
            app.curl, j->access, vjob_str(j, "chat_id"),
            json_string_value(json_object_get(json_object_get(j->rec, "options"), "audio_id")),
            j->rid, on_composite, j);
        if (!j->call)
            job_fail(j, 500, "internal_error", "could not start the audio composite");
    } else {
        job_fail(j, 500, "internal_error", "unknown phase %s", phase);
    }
}

static void on_access(void *arg, enum session_result res, const char *access, const char *detail)
{
    struct vjob *j = arg;
    j->wait = NULL;
    if (res != SESSION_OK) {
        if (res == SESSION_REJECTED)
            accounts_note(app.accounts, j->acct, ACCOUNT_REJECTED, detail);
        if (res == SESSION_REJECTED || job_age(j) > cfg.video_timeout) {
            job_fail(j, res == SESSION_REJECTED ? 401 : 502, "account_refused",
                     "could not get an access token from chatglm.cn: %s", detail);
            return;
        }
        struct video_answer ans = { .outcome = VIDEO_TRANSIENT, .code = -1 };
        snprintf(ans.message, sizeof(ans.message), "%s", detail ? detail : "refresh failed");
        retry_later(j, &ans);
        return;
    }
    free(j->access);
    j->access = xstrdup(access);
    vjob_step(j);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    vjob_step(arg);
}

static void schedule(struct vjob *j, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(j->timer, &tv);
}

/* A job in memory for rec (stolen), on account acct (a reference, stolen). */
struct vjob *vjob_new(json_t *rec, struct account *acct, const char *rid)
{
    struct vjob *j = xcalloc(1, sizeof(*j));
    j->rec = rec;
    j->acct = acct;
    snprintf(j->id, sizeof(j->id), "%s", vjob_str(j, "id"));
    snprintf(j->owner, sizeof(j->owner), "%s", vjob_str(j, "owner"));
    snprintf(j->rid, sizeof(j->rid), "%s", rid);
    j->interval_ms = cfg.video_poll_ms;
    j->timer = evtimer_new(app.base, timer_cb, j);
    j->next = jobs;
    jobs = j;
    njobs++;
    return j;
}

/* ---- deleting ------------------------------------------------------------- */

/* Background deletions, kept in a list so that a stop can cancel them. */
struct deleter {
    char chat[65];
    char rid[48];
    struct session_wait *wait;
    struct video_call *call;
    struct deleter *next;
};
static struct deleter *deleters;

static void deleter_free(struct deleter *d)
{
    for (struct deleter **p = &deleters; *p; p = &(*p)->next)
        if (*p == d) {
            *p = d->next;
            break;
        }
    session_wait_cancel(d->wait);
    video_call_cancel(d->call);
    free(d);
}

static void on_deleted_upstream(void *arg, const struct video_answer *ans)
{
    struct deleter *d = arg;
    d->call = NULL;
    if (ans->outcome == VIDEO_OK)
        LOGR(LOG_DEBUG, d->rid, "video chat %s deleted upstream", d->chat);
    deleter_free(d);
}

static void deleter_access(void *arg, enum session_result res, const char *access,
                           const char *detail)
{
    (void)detail;
    struct deleter *d = arg;
    d->wait = NULL;
    if (res == SESSION_OK)
        d->call = video_delete(app.curl, access, d->chat, d->rid, on_deleted_upstream, d);
    if (!d->call) {
        LOGR(LOG_WARN, d->rid, "could not delete video chat %s upstream", d->chat);
        deleter_free(d);
    }
}

/* Deletes rec's chat upstream (in the background) when its account is
 * known: from acct, the server-side accounts, or the client's accounts. */
void vjob_delete_upstream(json_t *rec, struct account *acct, struct account **cands, size_t n,
                            const char *rid)
{
    const char *chat = json_string_value(json_object_get(rec, "chat_id"));
    const char *key = json_string_value(json_object_get(rec, "account"));
    if (!chat || !key || strlen(chat) > 64)
        return;
    char k[65];
    for (size_t i = 0; !acct && i < app.nconfigured; i++) {
        store_key(account_token(app.configured[i]), k);
        if (strcmp(k, key) == 0)
            acct = app.configured[i];
    }
    for (size_t i = 0; !acct && i < n; i++) {
        store_key(account_token(cands[i]), k);
        if (strcmp(k, key) == 0)
            acct = cands[i];
    }
    if (!acct) {
        LOGR(LOG_INFO, rid, "video chat %s stays upstream: its account is not known now", chat);
        return;
    }
    struct deleter *d = xcalloc(1, sizeof(*d));
    snprintf(d->chat, sizeof(d->chat), "%s", chat);
    snprintf(d->rid, sizeof(d->rid), "%s", rid ? rid : "");
    d->next = deleters;
    deleters = d;
    struct session_wait *w = session_get(app.sessions, account_token(acct), deleter_access, d);
    if (w) /* else deleter_access ran already */
        d->wait = w;
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    struct store_texts t;
    if (store_job_scan(jstore, VIDEO_KIND, (long long)time(NULL), 100, &t) == 0) {
        for (size_t i = 0; i < t.n; i++) {
            json_t *rec = json_loads(t.v[i], 0, NULL);
            const char *id = json_string_value(json_object_get(rec, "id"));
            if (id && !vjob_find(id)) {
                vjob_delete_upstream(rec, NULL, NULL, 0, NULL);
                store_job_delete(jstore, VIDEO_KIND, id);
                LOG(LOG_DEBUG, "video %s expired", id);
            }
            json_decref(rec);
        }
        store_texts_free(&t);
    }
    struct timeval tv = { VIDEO_SWEEP_S, 0 };
    evtimer_add(sweeper, &tv);
}

/* ---- start-up and stop ---------------------------------------------------- */

static struct account *configured_by_key(const char *key)
{
    char k[65];
    for (size_t i = 0; key && i < app.nconfigured; i++) {
        store_key(account_token(app.configured[i]), k);
        if (strcmp(k, key) == 0)
            return accounts_get(app.accounts, account_token(app.configured[i]), 1);
    }
    return NULL;
}

/* Resumes a stored running job on acct (a reference, stolen). */
void vjob_resume(json_t *rec, struct account *acct, const char *rid)
{
    const char *phase = json_string_value(json_object_get(rec, "phase"));
    struct vjob *j = vjob_new(rec, acct, rid);
    LOGR(LOG_INFO, rid, "video %s: resuming (%s)", j->id, phase ? phase : "?");
    if (!phase || (strcmp(phase, "poll") != 0 && strcmp(phase, "composite") != 0)) {
        job_fail(j, 500, "interrupted", "the server restarted before the job reached "
                 "chatglm.cn; create the video again");
        return;
    }
    schedule(j, 0);
}

void videos_init(void)
{
    jstore = app.store;
    if (!store_has_jobs(jstore)) {
        char err[512];
        own_store = store_open_sqlite(cfg.data_dir, err, sizeof(err));
        if (!own_store)
            LOG(LOG_WARN, "video jobs will not be kept: %s", err);
        else
            LOG(LOG_INFO, "video jobs are kept in %s/accounts.db (this replica only): the %s "
                "state keeps no jobs yet", cfg.data_dir, app.store ? app.store->name : "no");
        jstore = own_store;
    }
    sweeper = evtimer_new(app.base, sweep_cb, NULL);
    sweep_cb(-1, 0, NULL);
    struct store_texts t;
    if (store_job_scan(jstore, VIDEO_KIND, 0, VIDEO_MAX_JOBS, &t) < 0)
        return;
    size_t resumed = 0, dormant = 0;
    for (size_t i = 0; i < t.n; i++) {
        json_t *rec = json_loads(t.v[i], 0, NULL);
        if (!json_is_object(rec)) {
            json_decref(rec);
            continue;
        }
        struct account *acct =
            configured_by_key(json_string_value(json_object_get(rec, "account")));
        if (acct) {
            vjob_resume(rec, acct, "");
            resumed++;
        } else {
            json_decref(rec); /* resumed when its client asks with its token */
            dormant++;
        }
    }
    store_texts_free(&t);
    if (resumed || dormant)
        LOG(LOG_INFO, "video jobs: %zu resumed, %zu waiting for their client's token", resumed,
            dormant);
}

void videos_free(void)
{
    while (jobs)
        vjob_free(jobs);
    while (deleters)
        deleter_free(deleters);
    if (sweeper)
        event_free(sweeper);
    sweeper = NULL;
    store_close(own_store);
    own_store = NULL;
    jstore = NULL;
}

size_t vjob_count(void)
{
    return njobs;
}

struct store *vjob_store(void)
{
    return jstore;
}
