/* Private to the chat job (api/chat.c, api/chat_out.c): the job's struct and
 * the few functions the two files share. chat.c runs the request, the job,
 * the upstream call and the renderer; chat_out.c is the answer's last sink:
 * OpenAI's chunks or object (with tool calls), or another dialect's writer
 * (api/dialect.h), fed by the shaping stages or straight from the renderer. */
#ifndef GLM_API_CHAT_INT_H
#define GLM_API_CHAT_INT_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#include "api/chat_shape.h"
#include "api/dialect.h"
#include "api/job.h"
#include "glm/models.h"
#include "stream/answer.h"
#include "stream/openai.h"
#include "stream/render.h"
#include "turn.h"
#include "util/buf.h"

struct chat_job {
    struct job job;               /* the client, holders, state, accounts */
    /* the request */
    struct turn turn;             /* what the client asked; the strings below point into it */
    const char *model;
    int stream;
    int include_usage;
    const char *given_conv;       /* a valid conversation_id from the client, or NULL */
    struct model_route route;
    enum render_think think;
    char *prompt;
    long prompt_tokens;
    /* upstream */
    struct event *first_frame;    /* first-frame timer: fail over when it fires */
    struct event *linger;         /* after the last frame: stop waiting for the close */
    struct xfer *call;
    size_t stream_bytes;          /* bytes of that stream so far */
    int frame_too_long;           /* an event passed max_frame */
    struct sse_parser *sse;
    struct render *render;
    /* to the client */
    int started;                  /* SSE head and role chunk sent */
    int paused;
    struct buf out;               /* scratch for chunks */
    struct buf content;           /* non-stream: the whole answer */
    struct buf reasoning;
    long completion_tokens, reasoning_tokens;
    long long created;
    struct event *keepalive;
    int wrote_since_tick;
    int deleted;
    int delete_wanted;            /* the answer ended: delete from the loop, not from curl */
    int stop_wanted;              /* the client left mid-answer: stop_stream before the delete */
    /* attachments (glm/upload): uploaded with each account's token before its stream call */
    struct upload_list *uploads;  /* NULL when the last message carries none */
    struct upload_run *urun;
    json_t *files, *images;       /* the upload results for the stream body */
    struct account *upload_account; /* uploaded with; leased again for the stream */
    /* metrics */
    struct timespec call_t0;      /* the stream call was started */
    int first_text;               /* time to first token observed */
    /* shaping (tools, JSON output, stop, length): NULL when none is asked */
    struct chat_shape opts;
    struct toolcall_decl *decls;
    struct shape *shape;
    struct render_opts ro;
    int shaped_done;              /* the writer got finish (or error) */
    const char *finish_reason;    /* what it said, for finish_client */
    int cut_upstream;             /* the answer is complete early: abort the transfer */
    int repair_pending;           /* a repair turn follows this answer */
    int repaired;
    char *cont_conv;              /* the conversation the repair turn continues */
    struct account *repair_account; /* the account that conversation lives on */
    json_t *calls;                /* non-stream: the tool calls */
    char call_id[64], call_name[128];
    struct buf call_args;
    struct answer_usage usage;    /* as the stages let it through */
    /* another dialect (api/dialect.h): its writer makes the answer */
    const struct dialect *dialect;
    void *dctx;
    void *dw;                     /* the writer */
    int dstarted;                 /* its start op ran */
};

/* chat.c: the client side. */
/* Writes out to the client (a started stream). */
int chat_client_write(struct chat_job *j);
/* The HTTP stream's head and the writer's first event, once. */
void chat_stream_start(struct chat_job *j);
/* An error for the client through the job (an HTTP error before the stream
 * started, the dialect's error event after). */
void chat_client_error(struct chat_job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct openai_meta chat_meta(const struct chat_job *j);

/* chat_out.c: the answer's last sink. */
/* The sink the stages (or the renderer) end in: OpenAI's, or the dialect's. */
struct sink chat_out_sink(struct chat_job *j);
/* Non-stream: the collected tool calls into the completion object in b. */
void chat_put_tool_calls(struct chat_job *j, struct buf *b);
/* Another dialect: its writer's start op (once), renderer text when no stage
 * is asked for, and the end of a complete answer (finish unless a stage sent
 * it, usage, the closing events or the object, the dialect's done op). */
void chat_dialect_start(struct chat_job *j);
void chat_dialect_feed(struct chat_job *j, const char *c, size_t cl, const char *r, size_t rl);
void chat_dialect_finish(struct chat_job *j);

#endif
