/* Dialects other than Chat Completions (the Responses API, the Messages API)
 * run on the chat job: the same accounts, attachments, prompt, upstream call,
 * failover, shaping stages and deletion. What differs is only the answer's
 * wire format, which the dialect's writer (a sink, stream/answer.h) makes,
 * and what happens after a complete answer (a stored response). The error
 * envelope follows api_req.anthropic (api/req.h). */
#ifndef GLM_API_DIALECT_H
#define GLM_API_DIALECT_H

#include <stddef.h>

#include "stream/answer.h"
#include "util/buf.h"

struct api_req;

/* What a writer is made from. */
struct dialect_answer {
    const char *model;          /* as the client named it */
    long long created;
    long prompt_tokens;         /* the prompt's estimate */
    int stream;
    size_t max_answer;
};

/* A complete answer, for the dialect's done op. */
struct dialect_result {
    const char *conversation_id;    /* the upstream conversation ("" when none) */
    const char *assistant_id;
    const char *account_token;      /* the refresh token of the account it lives on */
    void *writer;
};

struct dialect {
    /* A writer for one answer; streamed events go into out. */
    void *(*writer_new)(void *dctx, const struct dialect_answer *ans, struct buf *out);
    struct sink (*sink)(void *w);
    /* Writes the closing events if they are due and not written yet. */
    int (*flush)(void *w);
    /* The whole answer object (a non-streamed reply's body). */
    int (*object)(void *w, struct buf *b);
    /* An event for a silent upstream (NULL: an SSE comment). */
    int (*ping)(void *w);
    void (*writer_free)(void *w);
    /* After a complete answer was sent (may be NULL). */
    void (*done)(void *dctx, const struct dialect_result *r);
    /* Whether the upstream conversation is kept for later (not deleted). */
    int (*keep)(void *dctx);
    void (*dctx_free)(void *dctx);
};

/* Runs a Chat Completions body (built by the dialect from its own request;
 * borrowed) on the chat job, answering through d's writer. Steals dctx
 * (freed with d->dctx_free when the job ends, or at once when the request
 * fails first). */
struct json_t;
void chat_start(struct api_req *a, struct json_t *body, const struct dialect *d, void *dctx);

#endif
