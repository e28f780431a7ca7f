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
#ifndef GLM_API_VIDEO_JOB_H
#define GLM_API_VIDEO_JOB_H

#include <stddef.h>

#include <jansson.h>

struct account;
struct api_req;
struct store;

#define VIDEO_KIND "video"          /* the store's kind of these records */
#define VIDEO_MAX_JOBS 10000        /* jobs running in this process */

/* A running (or dormant) job: its record and what its next step needs. */
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

/* The store the records live in (the state store when it keeps jobs, else a
 * SQLite store of this module's in the data directory) and the jobs running. */
struct store *vjob_store(void);
size_t vjob_count(void);

/* A new running job for record rec (stolen) on account acct (a reference,
 * stolen; NULL for a dormant one); vjob_step starts it. */
struct vjob *vjob_new(json_t *rec, struct account *acct, const char *rid);
struct vjob *vjob_find(const char *id);
void vjob_free(struct vjob *j);
/* The job's next step; may end the job (and answer its waiter) before it
 * returns. */
void vjob_step(struct vjob *j);
/* Writes the job's record through to the store. */
void vjob_persist(struct vjob *j);
/* Starts polling a stored running job again (rec and the acct reference stolen). */
void vjob_resume(json_t *rec, struct account *acct, const char *rid);
/* Deletes the record's upstream chat in the background, with acct or one of
 * cands. */
void vjob_delete_upstream(json_t *rec, struct account *acct, struct account **cands, size_t n,
                          const char *rid);
/* Whether a record is still running (queued or in progress). */
int vjob_active(json_t *rec);
/* A string field of the job's record ("" when absent). */
const char *vjob_str(const struct vjob *j, const char *key);
size_t vjob_running_on(const struct account *acct);
/* OpenAI's video object for a record (a new reference). */
json_t *vjob_object(json_t *rec);
/* Replies with o as JSON (o stolen). */
void vjob_reply(struct api_req *a, int status, json_t *o);

#endif
