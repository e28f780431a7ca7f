/* Video generation: OpenAI's Videos API (POST/GET/DELETE /v1/videos,
 * GET /v1/videos/{id}/content) and the original's synchronous
 * POST /v1/videos/generations, on chatglm.cn's video service (glm/video.h).
 *
 * A video is a job of its own kind (DESIGN.md, last section): its record (a
 * JSON object) lives in the state store under "video", keyed by an owner, a
 * hash of the credential the client sent (the API key, or its chatglm
 * tokens), so a client only ever sees its own jobs. Every change of state is
 * written through, so a restarted server finds the running jobs and resumes
 * polling: at once when the job's account is a server-side one, else when
 * the client next asks for the job with its token. The record names its
 * account by store_key() of the refresh token, never the token.
 *
 * A running job is on the one event loop: an access token, the first frame
 * (downloaded through net/fetch's guard or decoded from a data URL, then
 * uploaded), the create call, then status polls on a timer (cfg.video_poll_ms,
 * doubled on each failed poll up to cfg.video_poll_max_ms, for at most
 * cfg.video_timeout s), then the optional audio composite. No account lease
 * is held: the site queues videos itself; cfg.video_max_running bounds the
 * running jobs of one account instead. The upstream chat is deleted with the
 * job, or when the job expires (cfg.video_keep after it ended).
 *
 * The content is streamed from the site's URL (net/fetch, guarded) to the
 * client with backpressure; the file is never held whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "api/api.h"
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

#define KIND "video"
#define VIDEO_MAX_PROMPT 8000
#define VIDEO_MAX_JOBS 10000       /* jobs running in this process */
#define VIDEO_LIST_MAX 100
#define VIDEO_SWEEP_S 60

struct vjob {
    char id[48];
    char owner[65];
    char rid[48];
    json_t *rec;                    /* the stored record */
    struct account *acct;           /* referenced; NULL while dormant */
    char *access;
    int auth_retried;
    struct session_wait *wait;
    struct video_call *call;
    struct fetch *img_fetch;
    unsigned char *image;           /* the first frame, until uploaded */
    size_t image_len;
    char image_mime[128];
    char image_name[160];
    char *image_url;                /* to download first */
    struct event *timer;
    long interval_ms;
    struct api_req *waiter;         /* POST /v1/videos/generations */
    struct event *wait_timer;
    struct vjob *next;
};

static struct vjob *jobs;
static size_t njobs;
static struct event *sweeper;
/* Where the records live: the state store when it keeps jobs, else (Redis
 * state, for now) a SQLite store of this module's in the data directory. */
static struct store *jstore;
static struct store *own_store;

/* ---- records -------------------------------------------------------------- */

static const char *rs(const struct vjob *j, const char *key)
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

static int rec_active(json_t *rec)
{
    const char *st = json_string_value(json_object_get(rec, "status"));
    return st && (strcmp(st, "queued") == 0 || strcmp(st, "in_progress") == 0);
}

static void persist_rec(json_t *rec)
{
    char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    struct store_job sj = {
        .kind = KIND,
        .id = json_string_value(json_object_get(rec, "id")),
        .owner = json_string_value(json_object_get(rec, "owner")),
        .created = json_integer_value(json_object_get(rec, "seq")),
        .active = rec_active(rec),
        .expires = json_integer_value(json_object_get(rec, "expires_at")),
        .data = text,
    };
    if (store_job_put(jstore, &sj) < 0)
        LOG(LOG_WARN, "video %s: the job store did not take the update", sj.id);
    free(text);
}

static void persist(struct vjob *j)
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
static json_t *video_object(json_t *rec)
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

static void reply_json_obj(struct api_req *a, int status, json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    api_reply_json(a, status, s);
    free(s);
}

/* ---- owners and accounts -------------------------------------------------- */

static size_t running_on(const struct account *acct)
{
    size_t n = 0;
    for (struct vjob *j = jobs; j; j = j->next)
        if (j->acct == acct && rec_active(j->rec))
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

static void job_free(struct vjob *j)
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

static struct vjob *find_job(const char *id)
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
    if (strcmp(rs(j, "status"), "completed") == 0) {
        json_t *item = json_pack("{s:s?, s:s?, s:s?, s:s?}", "url", rs(j, "video_url"),
                                 "cover_url", rs(j, "cover_url"), "duration", rs(j, "duration"),
                                 "resolution", rs(j, "resolution"));
        reply_json_obj(a, 200, json_pack("{s:I, s:[o]}", "created",
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
    persist(j);
    answer_waiter(j);
    job_free(j);
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

static void step(struct vjob *j);
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
        snprintf(was, sizeof(was), "%s", rs(j, "status"));
        long long progress = json_integer_value(json_object_get(j->rec, "progress"));
        if (processing) {
            /* The site gives no figure: creep towards 95. */
            long long p = progress < 10 ? 10 : progress + (95 - progress) / 5;
            rset_int(j, "progress", p);
        }
        rset_str(j, "status", processing ? "in_progress" : "queued");
        if (strcmp(was, rs(j, "status")) != 0 || progress !=
            json_integer_value(json_object_get(j->rec, "progress")))
            persist(j);
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
            persist(j);
            step(j);
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
    persist(j);
    LOGR(LOG_DEBUG, j->rid, "video %s: chat %s created", j->id, chat);
    schedule(j, cfg.video_poll_ms);
}

static void create(struct vjob *j)
{
    json_t *opt = json_object_get(j->rec, "options");
    const char *size = rs(j, "requested_size");
    int w = 0, h = 0;
    if (size)
        sscanf(size, "%dx%d", &w, &h);
    struct video_options o = {
        .prompt = rs(j, "prompt"),
        .source_id = rs(j, "source_id"),
        .video_style = json_string_value(json_object_get(opt, "video_style")),
        .emotional_atmosphere = json_string_value(json_object_get(opt, "emotional_atmosphere")),
        .mirror_mode = json_string_value(json_object_get(opt, "mirror_mode")),
        .seconds = rs(j, "requested_seconds") ? atoi(rs(j, "requested_seconds")) : 0,
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
    step(j);
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
static void step(struct vjob *j)
{
    if (!j->access) {
        struct session_wait *w = session_get(app.sessions, account_token(j->acct), on_access, j);
        if (w) /* else on_access ran already (and may have ended the job) */
            j->wait = w;
        return;
    }
    const char *phase = rs(j, "phase");
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
        j->call = video_status(app.curl, j->access, rs(j, "chat_id"), j->rid, on_status, j);
        if (!j->call)
            job_fail(j, 500, "internal_error", "could not start a status poll");
    } else if (strcmp(phase, "composite") == 0) {
        j->call = video_composite(
            app.curl, j->access, rs(j, "chat_id"),
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
    step(j);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    step(arg);
}

static void schedule(struct vjob *j, long ms)
{
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    evtimer_add(j->timer, &tv);
}

/* A job in memory for rec (stolen), on account acct (a reference, stolen). */
static struct vjob *job_new(json_t *rec, struct account *acct, const char *rid)
{
    struct vjob *j = xcalloc(1, sizeof(*j));
    j->rec = rec;
    j->acct = acct;
    snprintf(j->id, sizeof(j->id), "%s", rs(j, "id"));
    snprintf(j->owner, sizeof(j->owner), "%s", rs(j, "owner"));
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
static void delete_upstream(json_t *rec, struct account *acct, struct account **cands, size_t n,
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
    if (store_job_scan(jstore, KIND, (long long)time(NULL), 100, &t) == 0) {
        for (size_t i = 0; i < t.n; i++) {
            json_t *rec = json_loads(t.v[i], 0, NULL);
            const char *id = json_string_value(json_object_get(rec, "id"));
            if (id && !find_job(id)) {
                delete_upstream(rec, NULL, NULL, 0, NULL);
                store_job_delete(jstore, KIND, id);
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
static void resume(json_t *rec, struct account *acct, const char *rid)
{
    const char *phase = json_string_value(json_object_get(rec, "phase"));
    struct vjob *j = job_new(rec, acct, rid);
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
    if (store_job_scan(jstore, KIND, 0, VIDEO_MAX_JOBS, &t) < 0)
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
            resume(rec, acct, "");
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
        job_free(jobs);
    while (deleters)
        deleter_free(deleters);
    if (sweeper)
        event_free(sweeper);
    sweeper = NULL;
    store_close(own_store);
    own_store = NULL;
    jstore = NULL;
}

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
        else if (!chosen && running_on(c) < (size_t)cfg.video_max_running)
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
    if (njobs >= VIDEO_MAX_JOBS) {
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
    struct vjob *j = job_new(rec, acct, a->rid);
    j->image = r.image;
    j->image_len = r.image_len;
    r.image = NULL;
    snprintf(j->image_mime, sizeof(j->image_mime), "%s", r.image_mime);
    snprintf(j->image_name, sizeof(j->image_name), "%s", r.image_name);
    j->image_url = r.image_url;
    r.image_url = NULL;
    vreq_free(&r);
    persist(j);
    LOGR(LOG_INFO, j->rid, "video %s: model %s, account %s, %s", j->id, rs(j, "model"),
         account_fp(acct), j->image || j->image_url ? "with a first frame" : "text only");
    if (wait) {
        j->waiter = a;
        j->wait_timer = evtimer_new(app.base, wait_timeout_cb, j);
        struct timeval tv = { cfg.video_wait, 0 };
        evtimer_add(j->wait_timer, &tv);
        api_watch(a, waiter_gone, NULL, j);
    } else {
        reply_json_obj(a, 200, video_object(j->rec));
    }
    step(j); /* may end the job (and answer the waiter) before it returns */
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
    char *text = strlen(id) < 64 ? store_job_get(jstore, KIND, id, owner) : NULL;
    json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (!json_is_object(rec)) {
        json_decref(rec);
        api_error(a, 404, NULL, "video_not_found", "no video %s (of this client)", id);
        return NULL;
    }
    if (rec_active(rec) && !find_job(id)) {
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
            resume(json_deep_copy(rec), cands[0], a->rid);
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
    if (store_job_list(jstore, KIND, owner, after[0] ? after : NULL,
                       strcmp(order, "asc") == 0, (size_t)limit + 1, &t) < 0) {
        api_error(a, 503, NULL, "store_unavailable", "the job store is not available");
        return;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < t.n && i < (size_t)limit; i++) {
        json_t *rec = json_loads(t.v[i], 0, NULL);
        if (json_is_object(rec))
            json_array_append_new(data, video_object(rec));
        json_decref(rec);
    }
    int more = t.n > (size_t)limit;
    store_texts_free(&t);
    size_t n = json_array_size(data);
    json_t *first = n ? json_object_get(json_array_get(data, 0), "id") : NULL;
    json_t *last = n ? json_object_get(json_array_get(data, n - 1), "id") : NULL;
    reply_json_obj(a, 200, json_pack("{s:s, s:o, s:O?, s:O?, s:b}", "object", "list", "data",
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
    struct vjob *j = find_job(id);
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
    delete_upstream(rec, j ? j->acct : NULL, cands, n, a->rid);
    for (size_t i = 0; i < n; i++)
        accounts_unref(app.accounts, cands[i]);
    free(cands);
    if (j) {
        if (j->waiter) {
            api_error(j->waiter, 404, NULL, "video_deleted", "the video %s was deleted", id);
            j->waiter = NULL;
        }
        job_free(j);
    }
    store_job_delete(jstore, KIND, id);
    json_decref(rec);
    LOGR(LOG_INFO, a->rid, "video %s deleted", id);
    reply_json_obj(a, 200, json_pack("{s:s, s:s, s:b}", "id", id, "object", "video.deleted",
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
            struct vjob *j = find_job(id);
            json_t *cur = j ? j->rec : rec;
            reply_json_obj(a, 200, video_object(cur));
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
