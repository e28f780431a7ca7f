/* POST /v1/chat/completions: the Chat Completions dialect on a job.
 *
 * The body is parsed once into a turn (api/chat_req.c); the job (api/job.c)
 * owns the lifetime (holders, the one reap pass, the client watch) and the
 * account flow (api/attempt.c, shared with images.c); this file runs the
 * answer: attachments, prompt, the stream call, the shaping stages when
 * asked for, the relay to the client; the answer's last sink (OpenAI's chunks
 * or completion, or another dialect's writer) is api/chat_out.c's. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>
#include <jansson.h>

#include "api/api.h"
#include "api/chat_int.h"
#include "api/attempt.h"
#include "api/authcache.h"
#include "api/chat_req.h"
#include "api/job.h"
#include "api/chat_shape.h"
#include "api/dialect.h"
#include "app.h"
#include "config.h"
#include "glm/accounts.h"
#include "glm/answer.h"
#include "glm/conversation.h"
#include "glm/models.h"
#include "glm/prompt.h"
#include "glm/toolprompt.h"
#include "glm/request.h"
#include "glm/upload.h"
#include "http/server.h"
#include "log.h"
#include "metrics.h"
#include "net/xfer.h"
#include "stream/openai.h"
#include "stream/render.h"
#include "stream/shape.h"
#include "stream/sse.h"
#include "util/buf.h"
#include "util/xalloc.h"
#include "util/apierr.h"

static void delete_conversation(struct chat_job *j);
static void start_stream_call(struct chat_job *j);

/* ---- lifetime (the job's ops) ------------------------------------------ */

static void job_cancel_cb(void *self)
{
    struct chat_job *j = self;
    /* The site would go on generating (spec 12.6): stop it, then delete. */
    if (j->call && j->render && render_get_state(j->render) == RENDER_RUNNING &&
        render_history_id(j->render)[0] &&
        (cfg.stop_stream == CFG_STOP_TRUE ||
         (cfg.stop_stream == CFG_STOP_AUTO && cfg.upstream_era == CFG_ERA_2026)))
        j->stop_wanted = 1;
    if (j->stop_wanted)
        LOGR(LOG_DEBUG, j->job.rid, "client left mid-answer: stop_stream for %s",
             render_history_id(j->render));
    xfer_cancel(j->call);
    j->call = NULL;
    upload_run_cancel(j->urun);
    j->urun = NULL;
    job_release(&j->job, JOB_CALL | JOB_UPLOADS);
}

static void job_reap_cb(void *self)
{
    struct chat_job *j = self;
    if (j->delete_wanted)
        delete_conversation(j);
}

static void delete_conversation(struct chat_job *j)
{
    if (j->deleted || !j->render || !j->job.at.access)
        return;
    const char *conv = render_conversation_id(j->render);
    if (!conv[0])
        return;
    j->deleted = 1;
    attempt_owns(&j->job.at, conv);
    int keep = cfg.delete_policy == CFG_DELETE_NEVER ||
               (j->dialect && j->dialect->keep && j->dialect->keep(j->dctx)) ||
               (cfg.delete_policy == CFG_DELETE_UNLESS_CONTINUED && j->given_conv);
    if (j->stop_wanted)
        glm_conversation_stop(j->job.at.access, j->route.assistant_id,
                              render_history_id(j->render), keep ? NULL : conv, j->job.rid);
    else if (!keep)
        glm_conversation_delete(j->job.at.access, j->route.assistant_id, conv, j->job.rid);
}

static void job_free_cb(void *self)
{
    struct chat_job *j = self;
    delete_conversation(j);
    turn_free(&j->turn);
    free(j->prompt);
    sse_parser_free(j->sse);
    render_free(j->render);
    buf_cleanup(&j->out);
    buf_cleanup(&j->content);
    buf_cleanup(&j->reasoning);
    if (j->keepalive)
        event_free(j->keepalive);
    if (j->first_frame)
        event_free(j->first_frame);
    if (j->linger)
        event_free(j->linger);
    upload_list_free(j->uploads);
    json_decref(j->files);
    json_decref(j->images);
    shape_free(j->shape);
    chat_shape_cleanup(&j->opts);
    free(j->decls);
    free(j->cont_conv);
    json_decref(j->calls);
    buf_cleanup(&j->call_args);
    if (j->dialect) {
        j->dialect->writer_free(j->dw);
        j->dialect->dctx_free(j->dctx);
    }
    job_cleanup(&j->job);
    free(j);
}

/* ---- replies ----------------------------------------------------------- */

/* The job's error op: a real HTTP error before the stream started, one SSE
 * error event then [DONE] after. Ends the client side. */
static void job_error_cb(void *self, const struct api_error *e)
{
    struct chat_job *j = self;
    if (!j->started) {
        job_reply_error(&j->job, e);
    } else if (j->job.a && j->dialect) {
        LOGR(LOG_WARN, j->job.rid, "error inside the stream: %s", e->message);
        struct answer_error ae = { e->status, e->type, e->code[0] ? e->code : NULL, e->message };
        struct sink k = j->dialect->sink(j->dw);
        (void)k.ops->error(k.self, &ae);
        chat_client_write(j);
        api_end(j->job.a);
        job_replied(&j->job);
    } else if (j->job.a) {
        LOGR(LOG_WARN, j->job.rid, "error inside the stream: %s", e->message);
        buf_reset(&j->out);
        if (openai_sse_error(&j->out, e->message, api_error_type_for(e->status),
                             e->code[0] ? e->code : NULL) == 0 &&
            openai_sse_done(&j->out) == 0)
            (void)api_stream_write(j->job.a, j->out.data, j->out.len);
        api_end(j->job.a);
        job_replied(&j->job);
    }
}

void chat_client_error(struct chat_job *j, int status, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    job_vfailf(&j->job, status, code, fmt, ap);
    va_end(ap);
}

struct openai_meta chat_meta(const struct chat_job *j)
{
    struct openai_meta m = { render_conversation_id(j->render), j->model, j->created,
                             j->include_usage };
    return m;
}

static struct openai_usage job_usage(const struct chat_job *j)
{
    struct openai_usage u = { j->prompt_tokens, j->completion_tokens + j->reasoning_tokens,
                              j->reasoning_tokens };
    if (j->shape && j->usage.completion_tokens && j->usage.completion_tokens < u.completion_tokens) {
        u.completion_tokens = j->usage.completion_tokens; /* the length cutter's count */
        u.reasoning_tokens = j->usage.reasoning_tokens;
    }
    return u;
}

int chat_client_write(struct chat_job *j)
{
    if (!j->job.a || !j->out.len)
        return 0;
    j->wrote_since_tick = 1;
    int rc = api_stream_write(j->job.a, j->out.data, j->out.len);
    buf_reset(&j->out);
    return rc;
}

static void keepalive_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct chat_job *j = arg;
    if (j->job.a && j->started && !j->wrote_since_tick && !job_gone(&j->job)) {
        if (j->dialect && j->dialect->ping) {
            if (j->dialect->ping(j->dw) == 0)
                chat_client_write(j);
        } else {
            (void)api_stream_write(j->job.a, ": keep-alive\n\n", 14);
        }
    }
    j->wrote_since_tick = 0;
}

void chat_stream_start(struct chat_job *j)
{
    if (j->started || !j->job.a)
        return;
    j->started = 1;
    api_stream_start(j->job.a);
    if (j->dialect) {
        chat_dialect_start(j);
        chat_client_write(j);
    } else {
        struct openai_meta m = chat_meta(j);
        if (openai_sse_role(&j->out, &m) == 0)
            chat_client_write(j);
    }
    struct timeval tv = { cfg.keepalive_interval, 0 };
    j->keepalive = event_new(app.base, -1, EV_PERSIST, keepalive_cb, j);
    event_add(j->keepalive, &tv);
}

/* The answer is complete (or failed inside the stream): finish the client side. */
static void finish_client(struct chat_job *j)
{
    if (!j->job.a)
        return;
    /* A shaped answer the stages finished early is complete, whatever the
     * upstream was still sending. */
    enum render_state st = j->shaped_done ? RENDER_DONE : render_get_state(j->render);
    if (st == RENDER_FAILED) {
        const char *msg = NULL;
        int code = render_error(j->render, &msg);
        chat_client_error(j, 502, "upstream_error", "chatglm.cn stopped the answer with an error (%d: %s)",
                     code, msg ? msg : "unknown");
        return;
    }
    if (st == RENDER_TOO_LONG) {
        chat_client_error(j, 502, "answer_too_long",
                     "the answer passed the max-answer limit of %ld bytes and was cut",
                     cfg.max_answer);
        return;
    }
    if (st == RENDER_TRUNCATED || st == RENDER_RUNNING) {
        if (render_frames(j->render) == 0)
            chat_client_error(j, j->given_conv ? 404 : 502, "empty_answer",
                         j->given_conv ? "chatglm.cn sent an empty answer: conversation_id %s "
                                         "does not exist (or belongs to another account)"
                                       : "chatglm.cn sent an empty answer%s",
                         j->given_conv ? j->given_conv : "");
        else
            chat_client_error(j, 502, "upstream_truncated",
                         "chatglm.cn closed the stream before the answer was complete");
        return;
    }
    if (j->dialect) {
        chat_dialect_finish(j);
        return;
    }
    if (j->shape) { /* the stages may count less than was rendered (max_tokens) */
        struct answer_usage au = { j->prompt_tokens, j->completion_tokens + j->reasoning_tokens,
                                   j->reasoning_tokens };
        struct sink k = shape_sink(j->shape);
        (void)k.ops->usage(k.self, &au);
    }
    struct openai_meta m = chat_meta(j);
    struct openai_usage u = job_usage(j);
    const char *reason = j->finish_reason ? j->finish_reason : render_finish_reason(j->render);
    if (!reason)
        reason = "stop";
    if (j->stream) {
        chat_stream_start(j);
        int rc = openai_sse_finish(&j->out, &m, reason);
        if (rc == 0 && j->include_usage)
            rc = openai_sse_usage(&j->out, &m, &u);
        if (rc == 0)
            rc = openai_sse_done(&j->out);
        chat_client_write(j);
        api_end(j->job.a);
    } else {
        struct buf b;
        buf_init(&b, (size_t)cfg.max_answer * 2 + 65536);
        if (openai_completion(&b, &m, j->content.data ? j->content.data : "", j->content.len,
                              j->reasoning.data, j->reasoning.len, reason, &u) < 0) {
            buf_cleanup(&b);
            chat_client_error(j, 500, NULL, "the answer does not fit the reply buffer");
            return;
        }
        if (json_array_size(j->calls))
            chat_put_tool_calls(j, &b);
        api_reply(j->job.a, 200, "application/json; charset=utf-8", b.data, b.len);
        buf_cleanup(&b);
    }
    job_replied(&j->job);
}

/* After a stage answered ANSWER_HALT: a repair turn, or the answer is
 * complete early (a stop string, the length, the calls, the document). */
static void shaped_halt(struct chat_job *j, int rc)
{
    const char *msg;
    j->cut_upstream = 1;
    job_set_state(&j->job, JOB_COMPLETE);
    if (shape_problem(j->shape, &msg) != SHAPE_REPAIR_NONE && !j->repaired) {
        LOGR(LOG_INFO, j->job.rid, "a repair turn follows: %s", msg);
        j->repair_pending = 1;
        return;
    }
    if (rc == ANSWER_FULL)
        chat_client_error(j, 502, "answer_too_long", "the answer does not fit the reply buffer");
    finish_client(j);
    j->delete_wanted = 1;
    job_reap(&j->job);
}

static void shaped_feed(struct chat_job *j, const char *c, size_t cl, const char *r, size_t rl)
{
    struct sink k = shape_sink(j->shape);
    int rc = ANSWER_GO;
    if (rl)
        rc = k.ops->reasoning(k.self, r, rl);
    if (rc == ANSWER_GO && cl)
        rc = k.ops->text(k.self, c, cl);
    if (rc != ANSWER_GO && j->job.state != JOB_COMPLETE)
        shaped_halt(j, rc);
}

/* The upstream answer ended well: the stages finish it. 1 when a repair
 * turn follows instead. */
static int shaped_finish(struct chat_job *j)
{
    if (!j->shape || j->shaped_done || j->job.state == JOB_COMPLETE)
        return j->repair_pending;
    enum render_state st = render_get_state(j->render);
    if (st != RENDER_DONE && st != RENDER_FILTERED)
        return 0; /* failures are finish_client's to report */
    struct sink k = shape_sink(j->shape);
    (void)k.ops->finish(k.self, st == RENDER_FILTERED ? ANSWER_CONTENT_FILTER : ANSWER_STOP, NULL);
    const char *msg;
    if (!j->shaped_done && !j->repaired && shape_problem(j->shape, &msg) != SHAPE_REPAIR_NONE) {
        LOGR(LOG_INFO, j->job.rid, "a repair turn follows: %s", msg);
        j->repair_pending = 1;
        job_set_state(&j->job, JOB_COMPLETE);
        return 1;
    }
    return 0;
}

/* The repair turn: the same account and conversation, told what was wrong. */
static void start_repair(struct chat_job *j)
{
    const char *msg;
    enum shape_repair kind = shape_problem(j->shape, &msg);
    struct buf p;
    buf_init(&p, 64 * 1024);
    int rc = kind == SHAPE_REPAIR_JSON
                 ? toolprompt_repair_json(msg, j->opts.format == SHAPE_JSON_SCHEMA ? j->opts.schema
                                                                                  : NULL, &p)
                 : toolprompt_repair_call(msg, &p);
    if (rc < 0)
        buf_reset(&p);
    free(j->cont_conv);
    j->cont_conv = xstrdup(render_conversation_id(j->render));
    j->repair_account = j->job.at.account;
    free(j->prompt);
    j->prompt = buf_take(&p, NULL);
    j->repair_pending = 0;
    j->repaired = 1;
    j->cut_upstream = 0;
    shape_retry(j->shape);
    render_free(j->render);
    j->render = render_new(&j->ro);
    start_stream_call(j);
}

/* ---- the upstream stream ----------------------------------------------- */

/* Moves the renderer's new text to the client (stream) or the answer (non-stream). */
static void relay(struct chat_job *j)
{
    const char *c, *r;
    size_t cl, rl;
    render_take(j->render, &c, &cl, &r, &rl);
    if (!cl && !rl)
        return;
    if (!j->first_text) {
        j->first_text = 1;
        metrics_observe(METRICS_TTFT, attempt_elapsed(&j->job.at));
    }
    if (cl)
        j->completion_tokens += usage_estimate(c, cl);
    if (rl)
        j->reasoning_tokens += usage_estimate(r, rl);
    if (!j->job.a)
        return;
    if (j->shape) {
        shaped_feed(j, c, cl, r, rl);
    } else if (j->dialect) {
        chat_dialect_feed(j, c, cl, r, rl);
    } else if (j->stream) {
        chat_stream_start(j);
        struct openai_meta m = chat_meta(j);
        if (openai_sse_delta(&j->out, &m, c, cl, r, rl) == 0)
            chat_client_write(j);
    } else {
        /* render caps the answer at max_answer, and these caps are larger. */
        if (buf_append(&j->content, c, cl) < 0 || buf_append(&j->reasoning, r, rl) < 0)
            LOGR(LOG_WARN, j->job.rid, "answer buffer full");
    }
}

static void linger_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct chat_job *j = arg;
    /* The answer is complete but the upstream keeps the transfer open: stop
     * it so the account is free for the next answer. */
    if (j->call) {
        xfer_cancel(j->call);
        j->call = NULL;
        job_release(&j->job, JOB_CALL);
    }
    attempt_release(&j->job.at, ACCOUNT_DONE, NULL);
}

static int on_event(void *arg, const char *event, const char *data, size_t len)
{
    struct chat_job *j = arg;
    if (j->job.state == JOB_COMPLETE)
        return 0;
    if (event[0] && strcmp(event, "message") != 0)
        return 0;
    if (render_frame(j->render, data, len) != 0)
        return 0; /* not JSON: a heartbeat */
    if (j->first_frame)
        evtimer_del(j->first_frame);
    /* The stream starts at the first frame, so keep-alives flow while a long
     * tool call is held back; with JSON output it starts with the document,
     * so that a document that cannot be repaired is still an HTTP 502. */
    if (j->stream && !j->started && (!j->shape || j->opts.format == SHAPE_TEXT) &&
        render_conversation_id(j->render)[0])
        chat_stream_start(j);
    relay(j);
    if (render_get_state(j->render) != RENDER_RUNNING && j->job.state != JOB_COMPLETE) {
        if (shaped_finish(j))
            return 0; /* on_done starts the repair turn */
        job_set_state(&j->job, JOB_COMPLETE);
        finish_client(j);
        /* Inside curl's write callback no transfer may be started. */
        j->delete_wanted = 1;
        job_reap(&j->job);
        struct timeval tv = { 3, 0 };
        j->linger = evtimer_new(app.base, linger_cb, j);
        evtimer_add(j->linger, &tv);
    }
    return 0;
}

static enum xfer_mode on_head(struct xfer *c, long status, const char *ctype, void *arg)
{
    (void)c;
    struct chat_job *j = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    metrics_observe(METRICS_UPSTREAM_LATENCY, (double)(now.tv_sec - j->call_t0.tv_sec) +
                                                  (double)(now.tv_nsec - j->call_t0.tv_nsec) / 1e9);
    if (status == 200 && strstr(ctype, "text/event-stream")) {
        job_set_state(&j->job, JOB_STREAMING);
        return XFER_STREAM;
    }
    return XFER_COLLECT; /* an error answer: read it whole, then map it */
}

static int on_data(struct xfer *c, const char *data, size_t len, void *arg)
{
    (void)c;
    struct chat_job *j = arg;
    if (job_gone(&j->job) || j->cut_upstream)
        return XFER_ABORT;
    if (j->job.state == JOB_COMPLETE)
        return XFER_CONTINUE; /* the answer is complete: drain the rest */
    if (j->job.a && j->started && api_pending(j->job.a) > API_OUT_HIGH) {
        j->paused = 1;
        return XFER_PAUSE;
    }
    metrics_upstream_bytes(len); /* after the pause: paused data comes again */
    j->stream_bytes += len;
    int rc = sse_feed(j->sse, data, len, on_event, j);
    if (j->cut_upstream)
        return XFER_ABORT; /* complete early (stop, length, calls) or a repair turn follows */
    if (rc == SSE_TOO_LONG) {
        LOGR(LOG_WARN, j->job.rid, "upstream event over the max-frame limit (%ld bytes)", cfg.max_frame);
        j->frame_too_long = 1;
        return XFER_ABORT;
    }
    return XFER_CONTINUE;
}

static void job_drain_cb(void *self)
{
    struct chat_job *j = self;
    if (j->paused && j->call) {
        j->paused = 0;
        xfer_resume(j->call);
    }
}

/* Maps a non-SSE upstream answer: account trouble fails over (attempt), the
 * rest is reported to the client. */
static void upstream_error_answer(struct chat_job *j, long status, const char *body, size_t len)
{
    struct glm_answer ans;
    glm_answer_read(status, body, len, 1, &ans);
    if (attempt_answer(&j->job.at, &ans) == 0)
        return;
    attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
    if (ans.verdict == GLM_NOT_SSE) {
        if (j->route.agent)
            chat_client_error(j, 404, "model_not_found",
                         "chatglm.cn has no assistant (agent) with id %s", j->route.assistant_id);
        else
            chat_client_error(j, 502, "upstream_not_sse",
                         "chatglm.cn answered JSON instead of a stream (assistant %s)",
                         j->route.assistant_id);
        return;
    }
    /* The upstream's own message, quoted for the client (short, escaped). */
    char msg[260];
    log_escape(ans.message, strlen(ans.message), msg);
    chat_client_error(j, 502, "upstream_error", "chatglm.cn answered HTTP %ld%s%s%s", status,
                 msg[0] ? " (" : "", msg, msg[0] ? ")" : "");
}

static void on_done(struct xfer *c, enum xfer_result res, long status, const char *body,
                    size_t len, void *arg)
{
    struct chat_job *j = arg;
    j->call = NULL;
    job_release(&j->job, JOB_CALL);
    if (j->first_frame)
        evtimer_del(j->first_frame);
    if (job_gone(&j->job)) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        return;
    }
    if (j->repair_pending) {
        start_repair(j);
        return;
    }
    if (j->job.state == JOB_COMPLETE) {
        if (j->linger)
            evtimer_del(j->linger);
        enum render_state st = render_get_state(j->render);
        attempt_release(&j->job.at,
                        st == RENDER_DONE || st == RENDER_FILTERED ? ACCOUNT_DONE : ACCOUNT_NEUTRAL,
                        NULL);
        return;
    }
    int frames = j->render && render_frames(j->render) > 0;
    int streaming = j->job.state == JOB_STREAMING;
    if (streaming && frames) {
        /* The answer began: never start it again elsewhere. */
        (void)sse_finish(j->sse, on_event, j);
        if (j->job.state != JOB_COMPLETE) {
            render_end(j->render);
            relay(j);
        }
        if (j->repair_pending || (j->job.state != JOB_COMPLETE && shaped_finish(j))) {
            start_repair(j);
            return;
        }
        if (j->job.state != JOB_COMPLETE) {
            if (res == XFER_TIMEOUT && render_get_state(j->render) == RENDER_TRUNCATED)
                chat_client_error(j, 504, "upstream_timeout",
                             "chatglm.cn went silent for %ld s in the middle of the answer",
                             cfg.idle_timeout);
            else if (j->frame_too_long)
                chat_client_error(j, 502, "upstream_frame_too_long",
                             "an event from chatglm.cn passed the max-frame limit of %ld bytes",
                             cfg.max_frame);
            else if (res != XFER_OK && render_get_state(j->render) == RENDER_TRUNCATED)
                chat_client_error(j, 502, "upstream_truncated",
                             "the connection to chatglm.cn broke in the middle of the answer (%s)",
                             xfer_error(c));
            else
                finish_client(j);
            delete_conversation(j);
        }
        enum render_state st = render_get_state(j->render);
        attempt_release(&j->job.at, st == RENDER_DONE || st == RENDER_FILTERED ? ACCOUNT_DONE
                                : res == XFER_OK                            ? ACCOUNT_NEUTRAL
                                                                            : ACCOUNT_TRANSIENT,
                        NULL);
    } else if (streaming && res == XFER_OK) {
        /* An event stream with no frame at all. */
        (void)sse_finish(j->sse, on_event, j);
        if (j->job.state != JOB_COMPLETE && j->stream_bytes && !render_frames(j->render)) {
            /* Bytes without one frame in them: the site is broken (an empty
             * body is not: that is how it answers an unknown conversation). */
            attempt_fail(&j->job.at, ACCOUNT_TRANSIENT, 502, "upstream_garbage",
                         "chatglm.cn answered %zu bytes that hold no stream frame",
                         j->stream_bytes);
        } else if (j->job.state != JOB_COMPLETE) {
            attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
            finish_client(j);
        }
    } else if (res == XFER_OK) {
        upstream_error_answer(j, status, body, len);
    } else if (res == XFER_TIMEOUT) {
        attempt_fail(&j->job.at, ACCOUNT_TRANSIENT, 504, "upstream_timeout",
                     "chatglm.cn did not answer within %ld s", cfg.idle_timeout);
    } else if (res == XFER_ABORTED && streaming) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        chat_client_error(j, 502, "upstream_frame_too_long",
                     "an event from chatglm.cn passed the max-frame limit of %ld bytes", cfg.max_frame);
    } else {
        attempt_fail(&j->job.at, ACCOUNT_TRANSIENT, 502, "upstream_unreachable",
                     "could not reach chatglm.cn: %s", xfer_error(c));
    }
}

static void first_frame_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct chat_job *j = arg;
    if (!j->call || (j->render && render_frames(j->render) > 0))
        return;
    xfer_cancel(j->call);
    j->call = NULL;
    job_release(&j->job, JOB_CALL);
    attempt_fail(&j->job.at, ACCOUNT_TRANSIENT, 504, "upstream_timeout",
                 "chatglm.cn sent no answer within %ld s", cfg.first_frame_timeout);
}

static void start_stream_call(struct chat_job *j)
{
    /* A repair turn continues the answer's conversation, attachments sent. */
    const struct glm_stream_opts o = {
        .assistant_id = j->route.assistant_id,
        .conversation_id = j->cont_conv ? j->cont_conv : j->given_conv,
        .prompt = j->prompt,
        .chat_mode = j->route.chat_mode,
        .selected_model = j->route.selected_model,
        .reasoning_effort = j->route.reasoning_effort,
        .networking = 1,
        .files = j->cont_conv ? NULL : j->files,
        .images = j->cont_conv ? NULL : j->images,
    };
    static const struct xfer_cbs cbs = { on_head, on_data, on_done };
    /* Each try starts the answer afresh. */
    sse_parser_free(j->sse);
    j->sse = sse_parser_new((size_t)cfg.max_frame);
    job_set_state(&j->job, JOB_CALLING);
    clock_gettime(CLOCK_MONOTONIC, &j->call_t0);
    j->call = glm_stream_call(app.curl, j->job.at.access, &o, &cbs, j);
    if (!j->call) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        chat_client_error(j, 500, NULL, "could not start the upstream request");
        return;
    }
    job_hold(&j->job, JOB_CALL);
    if (!j->first_frame)
        j->first_frame = evtimer_new(app.base, first_frame_cb, j);
    struct timeval tv = { cfg.first_frame_timeout, 0 };
    evtimer_add(j->first_frame, &tv);
}

/* ---- attachments --------------------------------------------------------- */

static void on_relet(void *arg, struct account *a, enum lease_error err);

static void on_uploaded(void *arg, const struct upload_error *err, json_t *files, json_t *images)
{
    struct chat_job *j = arg;
    j->urun = NULL;
    job_release(&j->job, JOB_UPLOADS);
    if (job_gone(&j->job) || !j->job.a) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        job_reap(&j->job);
        return;
    }
    if (err) {
        /* Nothing was streamed yet: a plain error reply that names the part. */
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        api_error(j->job.a, err->status, err->param[0] ? err->param : NULL, err->code, "%s",
                  err->message);
        job_replied(&j->job);
        return;
    }
    json_decref(j->files);
    json_decref(j->images);
    j->files = json_incref(files);
    j->images = json_incref(images);
    /* The files belong to the account that uploaded them: generate with it. */
    struct account *acc = j->upload_account;
    job_hold(&j->job, JOB_LEASE);
    struct account_wait *w = accounts_lease(app.accounts, &acc, 1, NULL, 0, on_relet, j);
    if (w)
        j->job.at.lwait = w;
}

static void relet_shared(struct attempt *at)
{
    start_stream_call(at->job->self);
}

/* The account is leased again after the uploads (and across the replicas). */
static void on_relet(void *arg, struct account *a, enum lease_error err)
{
    struct chat_job *j = arg;
    j->job.at.lwait = NULL;
    job_release(&j->job, JOB_LEASE);
    if (err == LEASE_OK) {
        j->job.at.account = a;
        attempt_share(&j->job.at, relet_shared);
    } else {
        chat_client_error(j, err == LEASE_ALL_DEAD ? 401 : 429,
                     err == LEASE_ALL_DEAD ? "invalid_refresh_token" : "accounts_busy",
                     "the account that uploaded the attachments %s",
                     err == LEASE_ALL_DEAD ? "is dead now" : "stayed busy; retry later");
    }
    job_reap(&j->job);
}

/* attempt's start: files and images go up with this account's token, then
 * the stream call.
 * Uploads do not need the one-generation slot: the lease is given back while
 * they run and taken again for the stream. */
static void start_attachments(void *arg)
{
    struct chat_job *j = arg;
    if (j->cont_conv) {
        /* The repair turn was started again (a fresh token, or fail-over): it
         * can only continue its conversation on the account that holds it. */
        if (j->job.at.account != j->repair_account) {
            attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
            chat_client_error(j, 502, "repair_failed",
                         "the answer needed a repair turn (an invalid tool call or JSON "
                         "document), and the account of its conversation failed it");
            return;
        }
        start_stream_call(j);
        return;
    }
    if (!j->uploads) {
        start_stream_call(j);
        return;
    }
    j->upload_account = j->job.at.account;
    attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
    j->urun = upload_run_start(app.curl, j->uploads, j->job.at.access,
                               j->route.assistant_id, j->job.rid, on_uploaded, j);
    if (!j->urun) {
        attempt_release(&j->job.at, ACCOUNT_NEUTRAL, NULL);
        chat_client_error(j, 500, NULL, "could not start the attachment downloads");
        return;
    }
    job_hold(&j->job, JOB_UPLOADS);
}

/* ---- parsing the request ----------------------------------------------- */

/* The stages the request asks for (none: the answer goes straight out). */
static void shaped_setup(struct chat_job *j)
{
    const struct chat_shape *o = &j->opts;
    if (!chat_shape_active(o))
        return;
    size_t nd = 0;
    if (chat_shape_tools(o)) {
        j->decls = xcalloc(o->tools.n, sizeof(*j->decls));
        for (size_t i = 0; i < o->tools.n; i++) {
            const struct tool_def *t = &o->tools.tools[i];
            if (o->tools.choice == TOOL_CHOICE_NAMED && strcmp(t->name, o->tools.named) != 0)
                continue;
            j->decls[nd].name = t->name;
            j->decls[nd++].parameters = t->parameters;
        }
    }
    struct shape_opts so = {
        .tools = j->decls,
        .ntools = nd,
        .parallel = o->tools.parallel,
        .required = o->tools.choice == TOOL_CHOICE_REQUIRED || o->tools.choice == TOOL_CHOICE_NAMED,
        .json = o->format == SHAPE_JSON_OBJECT ? SHAPE_JSON_ANY_OBJECT
              : o->format == SHAPE_JSON_SCHEMA ? SHAPE_JSON_SCHEMA_DOC : SHAPE_JSON_NONE,
        .schema = o->schema,
        .stops = (const char *const *)o->stops,
        .nstops = o->nstops,
        .max_tokens = o->max_tokens,
        .max_answer = (size_t)cfg.max_answer,
    };
    struct sink w = chat_out_sink(j);
    j->shape = shape_new(&so, w);
}

static int has_tool_history(const json_t *msgs)
{
    size_t i;
    const json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *role = json_string_value(json_object_get(m, "role"));
        if (json_object_get(m, "tool_calls") || json_object_get(m, "function_call") ||
            (role && (strcmp(role, "tool") == 0 || strcmp(role, "function") == 0)))
            return 1;
    }
    return 0;
}

/* The messages to merge (a new reference): tool calls and results as text,
 * and the instructions for tools and JSON output first. */
static json_t *shaped_messages(struct chat_job *j, json_t *msgs)
{
    struct buf t;
    buf_init(&t, (size_t)TOOLS_MAX_TEXT + 65536);
    int told = chat_shape_instructions(&j->opts, &t) == 0 && t.len;
    if (!told && !has_tool_history(msgs)) {
        buf_cleanup(&t);
        return json_incref(msgs);
    }
    json_t *out = toolprompt_history(msgs);
    if (!out)
        out = json_incref(msgs);
    if (told)
        json_array_insert_new(out, 0, json_pack("{s:s, s:s%}", "role", "system", "content",
                                                buf_cstr(&t), t.len));
    buf_cleanup(&t);
    return out;
}

/* See api.h. */
struct account_set *chat_accounts(struct api_req *a)
{
    const char *auth = a->authorization ? a->authorization
                                        : http_req_header(a->req, "Authorization");
    if (*cfg.api_keys) {
        if (api_key_check(auth) < 0) {
            api_error(a, 401, NULL, "invalid_api_key",
                      "%s: send \"Authorization: Bearer <one of this server's API keys>\"",
                      auth ? "invalid API key" : "missing API key");
            return NULL;
        }
    } else {
        struct account_set *s = authcache_get(app.auth, app.accounts, auth);
        if (s)
            return s;
    }
    if (!app.configured_set) {
        api_error(a, 401, NULL, "missing_api_key",
                  "missing Authorization header: send \"Authorization: Bearer <your "
                  "chatglm_refresh_token>\" (the chatglm_refresh_token cookie of a logged-in "
                  "chatglm.cn browser; several accounts as token1,token2)");
        return NULL;
    }
    accounts_set_ref(app.configured_set);
    return app.configured_set;
}

/* chat_start up to the job: -1 when the request failed before it (answered;
 * dctx is still the caller's). */
static int chat_begin(struct api_req *a, const char *body, size_t len, json_t *parsed,
                      const struct dialect *d, void *dctx)
{
    struct turn turn;
    struct api_error e;
    turn_init(&turn);
    if ((parsed ? chat_req_from_json(parsed, &turn, &e) : chat_req_parse(body, len, &turn, &e)) < 0) {
        turn_free(&turn);
        api_error(a, e.status, e.param[0] ? e.param : NULL, e.code[0] ? e.code : NULL, "%s",
                  e.message);
        return -1;
    }
    json_t *root = turn.doc; /* borrowed from the turn */
    /* tools, response_format, stop, max_tokens and the refusals */
    struct chat_shape shp;
    struct api_error serr;
    if (chat_shape_parse(root, &shp, &serr) < 0) {
        chat_shape_cleanup(&shp);
        turn_free(&turn);
        api_error(a, serr.status, serr.param[0] ? serr.param : NULL, serr.code, "%s",
                  serr.message);
        return -1;
    }
    /* Attachments are read (data URLs decoded) before any account is used. */
    struct upload_list *uploads = NULL;
    struct upload_error uerr;
    if (upload_list_parse(json_object_get(root, "messages"), (size_t)cfg.max_attachments,
                          (size_t)cfg.max_file, &uploads, &uerr) < 0) {
        turn_free(&turn);
        api_error(a, uerr.status, uerr.param[0] ? uerr.param : NULL, uerr.code, "%s", uerr.message);
        chat_shape_cleanup(&shp);
        return -1;
    }
    snprintf(a->model, sizeof(a->model), "%s", turn.model.s);
    a->stream = turn.stream;

    struct account_set *cands = chat_accounts(a);
    if (!cands) {
        upload_list_free(uploads);
        chat_shape_cleanup(&shp);
        turn_free(&turn);
        return -1;
    }

    static const struct job_ops ops = {
        .cancel = job_cancel_cb,
        .reap = job_reap_cb,
        .error = job_error_cb,
        .drain = job_drain_cb,
        .free = job_free_cb,
    };
    struct chat_job *j = xcalloc(1, sizeof(*j));
    j->dialect = d;
    j->dctx = dctx;
    j->uploads = uploads;
    job_init(&j->job, a, &ops, j, cands, start_attachments);
    j->turn = turn;
    j->model = j->turn.model.s;
    j->stream = j->turn.stream;
    j->include_usage = j->turn.include_usage;
    j->given_conv = j->turn.conversation_id.s;
    j->created = time(NULL);
    buf_init(&j->out, (size_t)cfg.max_answer + 65536);
    buf_init(&j->content, (size_t)cfg.max_answer + 65536);
    buf_init(&j->reasoning, (size_t)cfg.max_answer + 65536);
    buf_init(&j->call_args, (size_t)cfg.max_answer + 65536);
    j->opts = shp; /* the job owns it now */

    if (models_resolve(j->model, cfg.default_assistant, cfg.models,
                       models_era_of(cfg.upstream_era), &j->route) < 0) {
        chat_client_error(j, 500, NULL, "the configured model table is malformed");
        return 0;
    }
    if (j->turn.effort.s)
        /* checked when the request was read: a known value */
        (void)models_apply_effort(&j->route, j->turn.effort.s, models_era_of(cfg.upstream_era));
    j->think = RENDER_THINK_REASONING;
    if (cfg.think_mode == CFG_THINK_INLINE)
        j->think = RENDER_THINK_INLINE;
    else if (cfg.think_mode == CFG_THINK_HIDDEN)
        j->think = RENDER_THINK_HIDDEN;
    switch (j->turn.reasoning) {
    case TURN_REASONING_DEFAULT: break;
    case TURN_REASONING_PARSED: j->think = RENDER_THINK_REASONING; break;
    case TURN_REASONING_RAW: j->think = RENDER_THINK_INLINE; break;
    case TURN_REASONING_HIDDEN: j->think = RENDER_THINK_HIDDEN; break;
    }
    if (j->route.silent)
        j->think = RENDER_THINK_HIDDEN;
    struct render_opts ro = {
        .think = j->think,
        .search = j->route.silent ? RENDER_SEARCH_HIDDEN
                : j->stream       ? RENDER_SEARCH_INLINE : RENDER_SEARCH_FOOTER,
        .profile = cfg.upstream_profile == CFG_PROFILE_V1   ? RENDER_PROFILE_V1
                 : cfg.upstream_profile == CFG_PROFILE_V2 ? RENDER_PROFILE_V2
                                                          : RENDER_PROFILE_AUTO,
        .max_answer = (size_t)cfg.max_answer,
    };
    j->render = render_new(&ro);
    j->ro = ro;
    shaped_setup(j);

    /* With tools, the messages the prompt shows are rewritten (tool calls and
     * results as text, the instructions first): they make a turn of their own. */
    json_t *msgs = shaped_messages(j, json_object_get(root, "messages"));
    struct turn shown;
    turn_init(&shown);
    turn_keep_doc(&shown, msgs);
    chat_req_messages(&shown, msgs);
    json_decref(msgs);
    struct buf p;
    buf_init(&p, (size_t)cfg.max_body * 2);
    int passthrough = j->given_conv || shown.nmsgs < 2;
    int merged = prompt_merge(&shown, passthrough, "<|sytstem|>", &p);
    turn_free(&shown);
    if (merged < 0) {
        buf_cleanup(&p);
        chat_client_error(j, 413, "prompt_too_long", "the messages are too long to send upstream");
        return 0;
    }
    j->prompt = buf_take(&p, NULL);
    j->prompt_tokens = usage_estimate(j->prompt, strlen(j->prompt));

    LOGR(LOG_DEBUG, j->job.rid, "chat model=%s assistant=%s mode=%s accounts=%zu stream=%d", j->model,
         j->route.assistant_id, j->route.chat_mode ? j->route.chat_mode : "-", j->job.at.ncands,
         j->stream);
    if (d) {
        struct dialect_answer ans = { j->model, j->created, j->prompt_tokens, j->stream,
                                      (size_t)cfg.max_answer };
        j->dw = d->writer_new(dctx, &ans, &j->out);
    }
    attempt_lease_for(&j->job.at, j->given_conv);
    return 0;
}

void chat_start(struct api_req *a, json_t *body, const struct dialect *d, void *dctx)
{
    if (chat_begin(a, NULL, 0, body, d, dctx) < 0)
        d->dctx_free(dctx);
}

void chat_handle(struct api_req *a)
{
    size_t len;
    const char *body = http_req_body(a->req, &len);
    chat_begin(a, body, len, NULL, NULL, NULL);
}
