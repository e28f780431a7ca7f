#include "stream/openai.h"

#include <string.h>

#include "util/jstr.h"

/* Every writer below appends several pieces; on failure the buffer goes back
 * to where the writer started, so a caller never sees half an event. */
static int openai_fail(struct buf *out, size_t start)
{
    out->len = start;
    if (out->data)
        out->data[start] = '\0';
    return -1;
}

static int put_str_or_null(struct buf *out, const char *s)
{
    return s ? json_append_string(out, s, strlen(s)) : buf_puts(out, "null");
}

/* A decimal integer. Every chunk of a stream has one: printf's machinery
 * (format parsing, and buf_printf measuring first) cost more than the rest
 * of the chunk. */
static int put_ll(struct buf *out, long long v)
{
    char tmp[24];
    size_t i = sizeof(tmp);
    unsigned long long u = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;

    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    return buf_append(out, tmp + i, sizeof(tmp) - i);
}

/* {"id":ID,"object":OBJECT,"created":N,"model":M, */
static int openai_head(struct buf *out, const struct openai_meta *m, const char *object)
{
    const char *id = m->id ? m->id : "";
    const char *model = m->model ? m->model : "";
    if (buf_puts(out, "{\"id\":") < 0 || json_append_string(out, id, strlen(id)) < 0 ||
        buf_puts(out, ",\"object\":\"") < 0 || buf_puts(out, object) < 0 ||
        buf_puts(out, "\",\"created\":") < 0 || put_ll(out, m->created) < 0 ||
        buf_puts(out, ",\"model\":") < 0 || json_append_string(out, model, strlen(model)) < 0 ||
        buf_putc(out, ',') < 0)
        return -1;
    return 0;
}

static int openai_usage_obj(struct buf *out, const struct openai_usage *u)
{
    static const struct openai_usage zero;
    if (!u)
        u = &zero;
    return buf_printf(out,
                      "\"usage\":{\"prompt_tokens\":%ld,\"completion_tokens\":%ld,"
                      "\"total_tokens\":%ld,\"completion_tokens_details\":{\"reasoning_tokens\":%ld}}",
                      u->prompt_tokens, u->completion_tokens,
                      u->prompt_tokens + u->completion_tokens, u->reasoning_tokens);
}

/* data: {head "choices":[{"index":0,"delta":<delta>,"logprobs":null,
 * "finish_reason":<finish>}]}\n\n, the delta written by the caller between
 * chunk_open and chunk_close. */
static int chunk_open(struct buf *out, const struct openai_meta *m)
{
    if (buf_puts(out, "data: ") < 0 || openai_head(out, m, "chat.completion.chunk") < 0 ||
        buf_puts(out, "\"choices\":[{\"index\":0,\"delta\":") < 0)
        return -1;
    return 0;
}

static int chunk_close(struct buf *out, const struct openai_meta *m, const char *finish_reason)
{
    if (buf_puts(out, ",\"logprobs\":null,\"finish_reason\":") < 0 ||
        put_str_or_null(out, finish_reason) < 0 ||
        buf_puts(out, m->usage_null ? "}],\"usage\":null}\n\n" : "}]}\n\n") < 0)
        return -1;
    return 0;
}

int openai_sse_role(struct buf *out, const struct openai_meta *m)
{
    size_t start = out->len;
    if (chunk_open(out, m) < 0 ||
        buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}") < 0 ||
        chunk_close(out, m, NULL) < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_delta(struct buf *out, const struct openai_meta *m, const char *content,
                     size_t content_len, const char *reasoning, size_t reasoning_len)
{
    size_t start = out->len;
    int has_content = content && content_len > 0;
    int has_reasoning = reasoning && reasoning_len > 0;
    if (chunk_open(out, m) < 0 || buf_putc(out, '{') < 0)
        return openai_fail(out, start);
    /* Both empty breaks the contract; an empty content delta is still valid. */
    if (has_content || !has_reasoning) {
        if (buf_puts(out, "\"content\":") < 0 ||
            json_append_string(out, has_content ? content : "", has_content ? content_len : 0) < 0)
            return openai_fail(out, start);
    }
    if (has_reasoning) {
        if (buf_puts(out, has_content ? ",\"reasoning_content\":" : "\"reasoning_content\":") < 0 ||
            json_append_string(out, reasoning, reasoning_len) < 0)
            return openai_fail(out, start);
    }
    if (buf_putc(out, '}') < 0 || chunk_close(out, m, NULL) < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_finish(struct buf *out, const struct openai_meta *m, const char *finish_reason)
{
    size_t start = out->len;
    if (chunk_open(out, m) < 0 || buf_puts(out, "{}") < 0 ||
        chunk_close(out, m, finish_reason ? finish_reason : "stop") < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_usage(struct buf *out, const struct openai_meta *m, const struct openai_usage *u)
{
    size_t start = out->len;
    if (buf_puts(out, "data: ") < 0 || openai_head(out, m, "chat.completion.chunk") < 0 ||
        buf_puts(out, "\"choices\":[],") < 0 || openai_usage_obj(out, u) < 0 ||
        buf_puts(out, "}\n\n") < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_error(struct buf *out, const char *message, const char *type, const char *code)
{
    size_t start = out->len;
    if (buf_puts(out, "data: ") < 0 || openai_error_body(out, message, type, NULL, code) < 0 ||
        buf_puts(out, "\n\n") < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_done(struct buf *out)
{
    return buf_puts(out, "data: [DONE]\n\n");
}

int openai_completion(struct buf *out, const struct openai_meta *m, const char *content,
                      size_t content_len, const char *reasoning, size_t reasoning_len,
                      const char *finish_reason, const struct openai_usage *u)
{
    size_t start = out->len;
    if (openai_head(out, m, "chat.completion") < 0 ||
        buf_puts(out, "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":") < 0 ||
        json_append_string(out, content ? content : "", content ? content_len : 0) < 0 ||
        buf_puts(out, ",\"refusal\":null") < 0)
        return openai_fail(out, start);
    if (reasoning && reasoning_len > 0 &&
        (buf_puts(out, ",\"reasoning_content\":") < 0 ||
         json_append_string(out, reasoning, reasoning_len) < 0))
        return openai_fail(out, start);
    if (buf_puts(out, "},\"logprobs\":null,\"finish_reason\":") < 0 ||
        json_append_string(out, finish_reason ? finish_reason : "stop",
                           strlen(finish_reason ? finish_reason : "stop")) < 0 ||
        buf_puts(out, "}],") < 0 || openai_usage_obj(out, u) < 0 || buf_putc(out, '}') < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_error_body(struct buf *out, const char *message, const char *type,
                      const char *param, const char *code)
{
    size_t start = out->len;
    if (buf_puts(out, "{\"error\":{\"message\":") < 0 ||
        put_str_or_null(out, message ? message : "") < 0 ||
        buf_puts(out, ",\"type\":") < 0 || put_str_or_null(out, type) < 0 ||
        buf_puts(out, ",\"param\":") < 0 || put_str_or_null(out, param) < 0 ||
        buf_puts(out, ",\"code\":") < 0 || put_str_or_null(out, code) < 0 ||
        buf_puts(out, "}}") < 0)
        return openai_fail(out, start);
    return 0;
}

const char *openai_error_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    case 502:
    case 503: return "upstream_error";
    case 504: return "timeout_error";
    default: break;
    }
    /* 400, 404, 405, 413, 422 and every other client error. */
    if (status >= 400 && status < 500)
        return "invalid_request_error";
    return "server_error";
}

/* CJK ideographs, kana, hangul, CJK punctuation and fullwidth forms: about
 * one token each in the GPT and GLM vocabularies. */
static int is_cjk(long cp)
{
    return (cp >= 0x1100 && cp <= 0x115F) ||   /* Hangul Jamo */
           (cp >= 0x2E80 && cp <= 0x9FFF) ||   /* radicals, CJK punctuation, kana, ideographs */
           (cp >= 0xA000 && cp <= 0xA4CF) ||   /* Yi */
           (cp >= 0xAC00 && cp <= 0xD7AF) ||   /* Hangul syllables */
           (cp >= 0xF900 && cp <= 0xFAFF) ||   /* compatibility ideographs */
           (cp >= 0xFE30 && cp <= 0xFE4F) ||   /* CJK compatibility forms */
           (cp >= 0xFF00 && cp <= 0xFFEF) ||   /* fullwidth and halfwidth forms */
           (cp >= 0x20000 && cp <= 0x3FFFF);   /* ideograph extensions */
}

static int is_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

long usage_estimate(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    long tokens = 0, halves = 0;
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (is_ascii_alnum(c)) {
            size_t run = 0;
            while (i < n && is_ascii_alnum(p[i])) {
                run++;
                i++;
            }
            tokens += (long)((run + 3) / 4);
        } else if (c < 0x80) {
            if (!(c == ' ' || (c >= '\t' && c <= '\r')))
                tokens++;
            i++;
        } else {
            size_t len;
            long cp = jstr_utf8_decode(s + i, n - i, &len);
            /* Refinement: characters outside the BMP that are not CJK (emoji,
             * mostly) are a whole token or more, never half. */
            if (is_cjk(cp) || cp >= 0x10000)
                tokens++;
            else
                halves++;
            i += len;
        }
    }
    return tokens + (halves + 1) / 2;
}
