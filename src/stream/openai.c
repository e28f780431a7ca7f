#include "stream/openai.h"

#include <stdint.h>
#include <string.h>

/* Decodes one UTF-8 character at s (n > 0 bytes available). Returns the code
 * point and sets *len, or returns -1 with *len = the length of the maximal
 * ill-formed subpart (Unicode's "U+FFFD substitution of maximal subparts",
 * the policy of browsers and Python), so each bad sequence becomes one
 * U+FFFD and the byte that broke it is looked at again. */
static long utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    long cp;
    *len = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        cp = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;          /* no overlong forms */
        else if (c == 0xED)
            hi = 0x9F;          /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        cp = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;          /* nothing above U+10FFFF */
    } else {
        return -1;
    }
    for (size_t i = 1; i <= need; i++) {
        if (i >= n || s[i] < lo || s[i] > hi)
            return -1;
        cp = (cp << 6) | (s[i] & 0x3F);
        *len = i + 1;
        lo = 0x80;
        hi = 0xBF;
    }
    return cp;
}

int json_append_string(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    size_t start = out->len, run = 0, i = 0;
    int rc = -1;
    if (buf_putc(out, '"') < 0)
        goto out;
    while (i < n) {
        unsigned char c = p[i];
        /* The common case: a run of bytes that go out as they are. */
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        size_t len = 1;
        long cp = c < 0x80 ? c : utf8_decode(p + i, n - i, &len);
        if (cp >= 0x80 && cp != 0x2028 && cp != 0x2029) {
            i += len;
            continue;
        }
        if (buf_append(out, s + run, i - run) < 0)
            goto out;
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t elen = 2;
        switch (cp) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case -1:
            /* U+FFFD, raw */
            memcpy(esc, "\xEF\xBF\xBD", 3);
            elen = 3;
            break;
        default:
            /* Other controls, and U+2028/U+2029, which JavaScript before
             * ES2019 does not accept raw inside a string literal. */
            esc[1] = 'u';
            esc[2] = hex[(cp >> 12) & 15];
            esc[3] = hex[(cp >> 8) & 15];
            esc[4] = hex[(cp >> 4) & 15];
            esc[5] = hex[cp & 15];
            elen = 6;
            break;
        }
        if (buf_append(out, esc, elen) < 0)
            goto out;
        i += len;
        run = i;
    }
    if (buf_append(out, s + run, n - run) < 0 || buf_putc(out, '"') < 0)
        goto out;
    rc = 0;
out:
    if (rc < 0)
        buf_truncate(out, start); /* leave out as it was, like a failed append */
    return rc;
}

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

static int chunk_close(struct buf *out, const char *finish_reason)
{
    if (buf_puts(out, ",\"logprobs\":null,\"finish_reason\":") < 0 ||
        put_str_or_null(out, finish_reason) < 0 || buf_puts(out, "}]}\n\n") < 0)
        return -1;
    return 0;
}

int openai_sse_role(struct buf *out, const struct openai_meta *m)
{
    size_t start = out->len;
    if (chunk_open(out, m) < 0 ||
        buf_puts(out, "{\"role\":\"assistant\",\"content\":\"\"}") < 0 ||
        chunk_close(out, NULL) < 0)
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
    if (buf_putc(out, '}') < 0 || chunk_close(out, NULL) < 0)
        return openai_fail(out, start);
    return 0;
}

int openai_sse_finish(struct buf *out, const struct openai_meta *m, const char *finish_reason)
{
    size_t start = out->len;
    if (chunk_open(out, m) < 0 || buf_puts(out, "{}") < 0 ||
        chunk_close(out, finish_reason ? finish_reason : "stop") < 0)
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
        json_append_string(out, content ? content : "", content ? content_len : 0) < 0)
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
            long cp = utf8_decode(p + i, n - i, &len);
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
