/* POST /v1/responses (+ GET and DELETE /v1/responses/{id}) and POST
 * /v1/messages (+ /v1/messages/count_tokens): the OpenAI Responses API and
 * the Anthropic Messages API on the chat job.
 *
 * Each request is parsed into a turn (api/dialect_req.c), which is written
 * out as a Chat Completions body and run by chat_start with the dialect's
 * writer (stream/responses.c, stream/anthropic.c): the accounts, attachments,
 * prompt, tools, stop and length stages, failover and deletion are the chat
 * job's, not a copy. A stored response keeps its upstream conversation and
 * account (api/resp_store.c) for previous_response_id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "api/api.h"
#include "api/dialect.h"
#include "api/dialect_req.h"
#include "api/resp_store.h"
#include "app.h"
#include "config.h"
#include "glm/conversation.h"
#include "glm/session.h"
#include "http/server.h"
#include "log.h"
#include "stream/anthropic.h"
#include "stream/responses.h"
#include "util/crypto.h"
#include "util/xalloc.h"

/* ---- the turn as a Chat Completions body ------------------------------- */

static json_t *jstrn(struct turn_str s)
{
    return json_stringn(s.s ? s.s : "", s.s ? s.len : 0);
}

static json_t *part_json(const struct turn_part *p)
{
    switch (p->type) {
    case TURN_PART_TEXT:
        return json_pack("{s:s, s:o}", "type", "text", "text", jstrn(p->text));
    case TURN_PART_IMAGE:
        return json_pack("{s:s, s:{s:o}}", "type", "image_url", "image_url", "url", jstrn(p->url));
    case TURN_PART_FILE: {
        /* a URL goes as file_url; data (a data: URL or bare base64) as file_data */
        int is_url = p->url.len > 8 && (strncmp(p->url.s, "http://", 7) == 0 ||
                                        strncmp(p->url.s, "https://", 8) == 0);
        if (is_url)
            return json_pack("{s:s, s:{s:o}}", "type", "file", "file_url", "url", jstrn(p->url));
        json_t *f = json_pack("{s:o}", "file_data", jstrn(p->url));
        if (p->name.s)
            json_object_set_new(f, "filename", jstrn(p->name));
        return json_pack("{s:s, s:o}", "type", "file", "file", f);
    }
    default:
        return NULL;
    }
}

static const char *role_name(enum turn_role r)
{
    switch (r) {
    case TURN_ROLE_SYSTEM: return "system";
    case TURN_ROLE_ASSISTANT: return "assistant";
    case TURN_ROLE_TOOL: return "tool";
    default: return "user";
    }
}

/* One turn message: its parts, assistant tool calls as tool_calls, each tool
 * result as a message of its own. */
static void add_message(json_t *msgs, const struct turn_msg *m)
{
    json_t *content = json_array(), *calls = json_array();
    for (size_t i = 0; i < m->nparts; i++) {
        const struct turn_part *p = &m->parts[i];
        if (p->type == TURN_PART_TOOL_RESULT) {
            json_array_append_new(msgs, json_pack("{s:s, s:o, s:o}", "role", "tool",
                                                  "tool_call_id", jstrn(p->id), "content",
                                                  jstrn(p->text)));
        } else if (p->type == TURN_PART_TOOL_CALL) {
            json_array_append_new(calls, json_pack("{s:o, s:s, s:{s:o, s:o}}", "id", jstrn(p->id),
                                                   "type", "function", "function", "name",
                                                   jstrn(p->name), "arguments", jstrn(p->text)));
        } else {
            json_t *pj = part_json(p);
            if (pj)
                json_array_append_new(content, pj);
        }
    }
    if (json_array_size(content) || json_array_size(calls)) {
        json_t *o = json_pack("{s:s}", "role", m->role == TURN_ROLE_TOOL ? "user" : role_name(m->role));
        json_object_set(o, "content", json_array_size(content) ? content : json_null());
        if (json_array_size(calls))
            json_object_set(o, "tool_calls", calls);
        json_array_append_new(msgs, o);
    }
    json_decref(content);
    json_decref(calls);
}

static json_t *tools_json(const struct turn *t)
{
    json_t *tools = json_array();
    for (size_t i = 0; i < t->ntools; i++) {
        const struct turn_tool *tool = &t->tools[i];
        json_t *fn = json_pack("{s:o}", "name", jstrn(tool->name));
        if (tool->description.s)
            json_object_set_new(fn, "description", jstrn(tool->description));
        if (tool->parameters)
            json_object_set(fn, "parameters", tool->parameters);
        json_array_append_new(tools, json_pack("{s:s, s:o}", "type", "function", "function", fn));
    }
    return tools;
}

/* effort: OpenAI's reasoning_effort for the upstream tier, or NULL. */
static json_t *chat_body(const struct turn *t, const char *model, const char *effort,
                         const char *conversation)
{
    json_t *msgs = json_array();
    if (t->system.s)
        json_array_append_new(msgs, json_pack("{s:s, s:o}", "role", "system", "content",
                                              jstrn(t->system)));
    for (size_t i = 0; i < t->nmsgs; i++)
        add_message(msgs, &t->msgs[i]);
    json_t *b = json_pack("{s:s, s:o, s:b}", "model", model, "messages", msgs, "stream", t->stream);
    if (t->ntools) {
        json_object_set_new(b, "tools", tools_json(t));
        json_object_set_new(b, "parallel_tool_calls", json_boolean(t->parallel_tool_calls));
    }
    switch (t->tool_choice) {
    case TURN_TOOLS_AUTO: break;
    case TURN_TOOLS_NONE: json_object_set_new(b, "tool_choice", json_string("none")); break;
    case TURN_TOOLS_REQUIRED:
        if (t->ntools)
            json_object_set_new(b, "tool_choice", json_string("required"));
        break;
    case TURN_TOOLS_NAMED:
        json_object_set_new(b, "tool_choice", json_pack("{s:s, s:{s:o}}", "type", "function",
                                                        "function", "name",
                                                        jstrn(t->tool_choice_name)));
        break;
    }
    if (t->nstop) {
        json_t *stops = json_array();
        for (size_t i = 0; i < t->nstop; i++)
            json_array_append_new(stops, jstrn(t->stop[i]));
        json_object_set_new(b, "stop", stops);
    }
    if (t->max_tokens > 0)
        json_object_set_new(b, "max_tokens", json_integer(t->max_tokens));
    if (t->format == TURN_FORMAT_JSON_OBJECT)
        json_object_set_new(b, "response_format", json_pack("{s:s}", "type", "json_object"));
    else if (t->format == TURN_FORMAT_JSON_SCHEMA)
        json_object_set_new(b, "response_format",
                            json_pack("{s:s, s:{s:s, s:O}}", "type", "json_schema", "json_schema",
                                      "name", t->format_name.s ? t->format_name.s : "answer",
                                      "schema", t->format_schema));
    if (effort)
        json_object_set_new(b, "reasoning_effort", json_string(effort));
    if (conversation)
        json_object_set_new(b, "conversation_id", json_string(conversation));
    return b;
}

/* The model the chat job is asked for: today's site takes the tier from
 * reasoning_effort; the 2025 one only from the name, so "-think" is added
 * when reasoning is asked for and the name has no tier of its own. */
static void model_for(const char *model, enum dialect_think think, char *out, size_t outlen)
{
    int tiered = strstr(model, "think") || strstr(model, "zero") || strstr(model, "deepresearch");
    if ((think == DIALECT_THINK_ON || think == DIALECT_THINK_DEEP) && !tiered &&
        cfg.upstream_era == CFG_ERA_2025)
        snprintf(out, outlen, "%s-think", model);
    else
        snprintf(out, outlen, "%s", model);
}

static const char *effort_for(enum dialect_think think)
{
    switch (think) {
    case DIALECT_THINK_OFF: return "none";
    case DIALECT_THINK_ON: return "high";
    case DIALECT_THINK_DEEP: return "xhigh";
    default: return NULL;
    }
}

/* Runs the turn on the chat job (consumes dctx). */
static void run_turn(struct api_req *a, const struct turn *t, enum dialect_think think,
                     const char *conversation, const struct dialect *d, void *dctx)
{
    char model[160];
    model_for(t->model.s, think, model, sizeof model);
    json_t *b = chat_body(t, model, cfg.upstream_era == CFG_ERA_2025 ? NULL : effort_for(think),
                          conversation);
    if (!b) {
        d->dctx_free(dctx);
        api_error(a, 500, NULL, NULL, "the request could not be prepared");
        return;
    }
    chat_start(a, b, d, dctx);
    json_decref(b);
}

/* The body as JSON, or an error reply (NULL). */
static json_t *read_body(struct api_req *a)
{
    size_t len;
    const char *body = http_req_body(a->req, &len);
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr);
    if (!root)
        api_error(a, 400, NULL, "invalid_json", "the request body is not valid JSON: %s", jerr.text);
    return root;
}

static void reply_error(struct api_req *a, const struct api_error *e)
{
    api_error(a, e->status, e->param[0] ? e->param : NULL, e->code[0] ? e->code : NULL, "%s",
              e->message);
}

/* ---- Responses ----------------------------------------------------------- */

static struct resp_store *store;
static int stopping;

/* Conversation deletes waiting for an access token. */
struct pending_delete {
    struct pending_delete *next, **prev;
    struct session_wait *wait;
    char *assistant, *conversation;
};
static struct pending_delete *pending;

static void pending_free(struct pending_delete *p)
{
    if (p->next)
        p->next->prev = p->prev;
    *p->prev = p->next;
    free(p->assistant);
    free(p->conversation);
    free(p);
}

static void delete_with_token(void *arg, enum session_result res, const char *access,
                              const char *detail)
{
    struct pending_delete *p = arg;
    (void)detail;
    p->wait = NULL;
    if (res == SESSION_OK)
        glm_conversation_delete(access, p->assistant, p->conversation, "responses");
    pending_free(p);
}

/* A stored response leaves the store: its conversation goes too. */
static void on_drop(void *arg, const struct resp_entry *e, int by_client)
{
    (void)arg;
    (void)by_client;
    if (stopping || !e->conversation[0] || !e->account[0])
        return;
    struct pending_delete *p = xcalloc(1, sizeof(*p));
    p->assistant = xstrdup(e->assistant);
    p->conversation = xstrdup(e->conversation);
    p->next = pending;
    if (pending)
        pending->prev = &p->next;
    p->prev = &pending;
    pending = p;
    /* With the token cached, the callback runs (and frees p) before this returns. */
    struct session_wait *w = session_get(app.sessions, e->account, delete_with_token, p);
    if (w)
        p->wait = w;
}

static struct resp_store *responses_store(void)
{
    if (!store)
        store = resp_store_new((size_t)cfg.responses_max, cfg.responses_ttl, on_drop, NULL);
    return store;
}

void dialects_shutdown(void)
{
    stopping = 1;
    resp_store_free(store);
    store = NULL;
    while (pending) {
        session_wait_cancel(pending->wait);
        pending_free(pending);
    }
}

struct resp_ctx {
    char id[48];
    char owner[65];
    char model[160];
    char prev[80];
    char *instructions;
    long long created;
    int store;
};

static void *resp_writer_new(void *dctx, const struct dialect_answer *ans, struct buf *out)
{
    struct resp_ctx *c = dctx;
    struct responses_meta m = {
        .id = c->id, .model = c->model, .created = c->created, .stream = ans->stream,
        .max_answer = ans->max_answer, .previous_response_id = c->prev[0] ? c->prev : NULL,
        .instructions_json = c->instructions,
    };
    return responses_writer_new(&m, out);
}

static struct sink resp_sink(void *w)
{
    return responses_writer_sink(w);
}

static int resp_flush(void *w)
{
    return responses_writer_flush(w);
}

static int resp_object(void *w, struct buf *b)
{
    return responses_writer_object(w, b);
}

static void resp_free(void *w)
{
    responses_writer_free(w);
}

static void resp_done(void *dctx, const struct dialect_result *r)
{
    struct resp_ctx *c = dctx;
    if (!c->store)
        return;
    struct buf b;
    buf_init(&b, (size_t)cfg.max_answer * 2 + 65536);
    json_t *obj = NULL;
    if (responses_writer_object(r->writer, &b) == 0)
        obj = json_loadb(b.data, b.len, 0, NULL);
    buf_cleanup(&b);
    if (!obj)
        return;
    struct resp_entry e = {
        .id = c->id, .owner = c->owner, .conversation = r->conversation_id,
        .account = r->account_token ? r->account_token : "", .assistant = r->assistant_id,
        .model = c->model, .response = obj,
    };
    resp_store_put(responses_store(), &e, time(NULL));
    json_decref(obj);
}

static int resp_keep(void *dctx)
{
    return ((struct resp_ctx *)dctx)->store;
}

static void resp_ctx_free(void *dctx)
{
    struct resp_ctx *c = dctx;
    if (c)
        free(c->instructions);
    free(c);
}

static const struct dialect responses_dialect = {
    .writer_new = resp_writer_new,
    .sink = resp_sink,
    .flush = resp_flush,
    .object = resp_object,
    .writer_free = resp_free,
    .done = resp_done,
    .keep = resp_keep,
    .dctx_free = resp_ctx_free,
};

struct resolve_arg {
    const char *owner;
};

static json_t *resolve_item(void *arg, const char *item_id)
{
    const struct resolve_arg *r = arg;
    return resp_store_item(responses_store(), item_id, r->owner, time(NULL));
}

void responses_handle(struct api_req *a)
{
    json_t *root = read_body(a);
    if (!root)
        return;
    struct resp_ctx *c = xcalloc(1, sizeof(*c));
    api_owner(a, c->owner);
    struct resolve_arg ra = { c->owner };
    struct turn t;
    struct responses_req r;
    struct api_error e;
    if (responses_parse(root, &t, &r, resolve_item, &ra, &e) < 0) {
        json_decref(root);
        resp_ctx_free(c);
        reply_error(a, &e);
        return;
    }
    json_decref(root); /* the turn keeps it */
    const char *conversation = NULL;
    if (r.previous_response_id) {
        const struct resp_entry *prev =
            resp_store_get(responses_store(), r.previous_response_id, c->owner, time(NULL));
        if (!prev) {
            api_error(a, 400, "previous_response_id", "previous_response_not_found",
                      "previous_response_id '%.64s' is unknown: it expired (kept %ld s), was "
                      "deleted, was stored with store:false, or belongs to another key",
                      r.previous_response_id, cfg.responses_ttl);
            responses_req_free(&r);
            turn_free(&t);
            resp_ctx_free(c);
            return;
        }
        conversation = prev->conversation[0] ? prev->conversation : NULL;
        snprintf(c->prev, sizeof c->prev, "%s", r.previous_response_id);
    }
    char hex[25];
    crypto_random_hex(hex, 12);
    snprintf(c->id, sizeof c->id, "resp_%s", hex);
    snprintf(c->model, sizeof c->model, "%s", t.model.s);
    c->instructions = r.instructions_json;
    r.instructions_json = NULL;
    c->created = time(NULL);
    c->store = r.store;
    /* the conversation string lives in the store, which may drop it */
    char *conv = conversation ? xstrdup(conversation) : NULL;
    run_turn(a, &t, r.think, conv, &responses_dialect, c);
    free(conv);
    responses_req_free(&r);
    turn_free(&t);
}

void responses_get_handle(struct api_req *a, const char *id)
{
    char owner[65];
    api_owner(a, owner);
    const struct resp_entry *e = resp_store_get(responses_store(), id, owner, time(NULL));
    if (!e) {
        api_error(a, 404, NULL, "response_not_found",
                  "no stored response '%.64s' (expired, deleted, stored with store:false, or "
                  "made with another key)", id);
        return;
    }
    char *s = json_dumps(e->response, JSON_COMPACT | JSON_PRESERVE_ORDER);
    api_reply_json(a, 200, s ? s : "{}");
    free(s);
}

void responses_delete_handle(struct api_req *a, const char *id)
{
    char owner[65];
    api_owner(a, owner);
    if (resp_store_del(responses_store(), id, owner, time(NULL)) < 0) {
        api_error(a, 404, NULL, "response_not_found", "no stored response '%.64s'", id);
        return;
    }
    json_t *o = json_pack("{s:s, s:s, s:b}", "id", id, "object", "response", "deleted", 1);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    api_reply_json(a, 200, s ? s : "{}");
    free(s);
}

/* ---- Messages ------------------------------------------------------------ */

struct msg_ctx {
    char id[48];
    char model[160];
    long input_tokens;
};

static void *msg_writer_new(void *dctx, const struct dialect_answer *ans, struct buf *out)
{
    struct msg_ctx *c = dctx;
    struct anthropic_meta m = {
        .id = c->id, .model = c->model,
        .input_tokens = ans->prompt_tokens > c->input_tokens ? ans->prompt_tokens : c->input_tokens,
        .stream = ans->stream, .max_answer = ans->max_answer,
    };
    return anthropic_writer_new(&m, out);
}

static struct sink msg_sink(void *w)
{
    return anthropic_writer_sink(w);
}

static int msg_flush(void *w)
{
    return anthropic_writer_flush(w);
}

static int msg_object(void *w, struct buf *b)
{
    return anthropic_writer_object(w, b);
}

static int msg_ping(void *w)
{
    return anthropic_writer_ping(w);
}

static void msg_free(void *w)
{
    anthropic_writer_free(w);
}

static void msg_ctx_free(void *dctx)
{
    free(dctx);
}

static const struct dialect messages_dialect = {
    .writer_new = msg_writer_new,
    .sink = msg_sink,
    .flush = msg_flush,
    .object = msg_object,
    .ping = msg_ping,
    .writer_free = msg_free,
    .dctx_free = msg_ctx_free,
};

/* Anthropic clients send the key as x-api-key; the accounts code reads an
 * Authorization header. */
static void messages_prepare(struct api_req *a)
{
    a->anthropic = 1;
    const char *key = http_req_header(a->req, "x-api-key");
    const char *auth = http_req_header(a->req, "Authorization");
    if (key && *key && !(auth && *auth)) {
        size_t n = strlen(key) + 8;
        a->authorization = xmalloc(n);
        snprintf(a->authorization, n, "Bearer %s", key);
    }
}

void messages_handle(struct api_req *a)
{
    messages_prepare(a);
    json_t *root = read_body(a);
    if (!root)
        return;
    struct turn t;
    struct messages_req r;
    struct api_error e;
    int rc = messages_parse(root, 0, &t, &r, &e);
    json_decref(root);
    if (rc < 0) {
        reply_error(a, &e);
        return;
    }
    struct msg_ctx *c = xcalloc(1, sizeof(*c));
    char hex[25];
    crypto_random_hex(hex, 12);
    snprintf(c->id, sizeof c->id, "msg_%s", hex);
    snprintf(c->model, sizeof c->model, "%s", t.model.s);
    c->input_tokens = dialect_turn_tokens(&t);
    run_turn(a, &t, r.think, NULL, &messages_dialect, c);
    turn_free(&t);
}

/* Claude Code asks this dozens of times at start-up: answered here, from the
 * server's estimate, with no account and no upstream call. */
void messages_count_handle(struct api_req *a)
{
    messages_prepare(a);
    const char *auth = a->authorization ? a->authorization
                                        : http_req_header(a->req, "Authorization");
    if (*cfg.api_keys ? api_key_check(auth) < 0 : !(auth && *auth)) {
        api_error(a, 401, NULL, "invalid_api_key", "%s: send \"x-api-key: <%s>\"",
                  auth ? "invalid API key" : "missing API key",
                  *cfg.api_keys ? "one of this server's API keys" : "your chatglm_refresh_token");
        return;
    }
    json_t *root = read_body(a);
    if (!root)
        return;
    struct turn t;
    struct messages_req r;
    struct api_error e;
    int rc = messages_parse(root, 1, &t, &r, &e);
    json_decref(root);
    if (rc < 0) {
        reply_error(a, &e);
        return;
    }
    char body[64];
    snprintf(body, sizeof body, "{\"input_tokens\":%ld}", dialect_turn_tokens(&t));
    turn_free(&t);
    api_reply_json(a, 200, body);
}
