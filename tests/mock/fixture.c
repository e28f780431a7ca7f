#include "fixture.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "misc.h"
#include "util/xalloc.h"

#define MAX_FIXTURE_FILE (16u << 20)
#define MAX_FIXTURE_ANSWER (64u << 20)
#define MAX_LONG_ANSWER (512u << 20)  /* the largest generated answer */
#define MAX_LONG_FRAMES 100000
#define MAX_LONG_CHARS 100000
#define ENDLESS_STEP 8                /* characters added per endless frame */
#define ENDLESS_MAX_CHARS 65536       /* v1 endless frames stop growing here */
#define FRAME_OVERHEAD 700            /* JSON around the text of one frame */

#define GEN_CONV_ID "6600000000000000000000a1"
#define GEN_MSG_ID "6600000000000000000000a2"
#define GEN_ASSISTANT_ID "65940acff94777010aa6b796"

/* Text of generated answers: ASCII and Chinese mixed, no markers. */
static const char gen_pattern[] =
    "这是一个用于长回答测试的生成文本，Generated text for long answers. 0123456789 ";

struct frame {
    const char *raw;   /* the frame's bytes in the file, blank line included */
    size_t raw_len;
    char *event;       /* NULL when the frame has no event line */
    char *data;        /* data lines joined by "\n"; NULL when none */
    json_t *json;      /* data parsed, when it is a JSON object */
};

struct fixture {
    char *name;
    char *text;
    size_t len;
    struct frame *frames;
    size_t nframes;
    int native_v2;     /* already in profile v2: never converted */
    char conv_id[25], msg_id[25], assistant_id[65];
};

struct mock_fixtures {
    struct fixture *fx;
    size_t nfx;
    struct mock_error_case *errors;
    size_t nerrors;
    struct mock_answer *long_cache;
    long cache_frames, cache_chars;
    struct mock_settings cache_st;
};

struct mock_answer {
    int refs;
    struct buf data;
    size_t *ends;      /* frame i is [ends[i-1], ends[i]) */
    size_t nframes, cap;
    char conv_id[25], msg_id[25], assistant_id[65];
};

struct mock_endless {
    int v2;
    unsigned long k;        /* frames produced */
    struct buf text;        /* v1: the cumulative text, escaped */
    size_t text_chars;
    size_t pat;             /* position in gen_pattern */
    struct gen_tmpl *tmpl;
};

/* ---- loading ---------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    char *data = NULL;
    if (!fp)
        return NULL;
    struct buf b;
    buf_init(&b, MAX_FIXTURE_FILE);
    char tmp[65536];
    size_t n;
    int rc = 0;
    while (rc == 0 && (n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
        rc = buf_append(&b, tmp, n);
    if (rc == 0 && !ferror(fp))
        data = buf_take(&b, len);
    buf_cleanup(&b);
    fclose(fp);
    return data;
}

static void copy_id(char *dst, size_t dstsz, json_t *v)
{
    const char *s = json_string_value(v);
    if (s && strlen(s) < dstsz)
        memcpy(dst, s, strlen(s) + 1);
}

/* Splits an SSE file into frames (runs of lines ended by a blank line) so
 * that the frames' raw bytes, put back together, are the file. */
static void parse_sse(struct fixture *fx)
{
    const char *p = fx->text, *end = fx->text + fx->len;
    size_t cap = 0;
    while (p < end) {
        const char *start = p;
        char *event = NULL;
        struct buf data;
        int saw_line = 0, saw_data = 0;
        buf_init(&data, MAX_FIXTURE_FILE);
        while (p < end) {
            const char *eol = memchr(p, '\n', (size_t)(end - p));
            const char *l = p;
            size_t ll = (size_t)((eol ? eol : end) - p);
            p = eol ? eol + 1 : end;
            if (ll > 0 && l[ll - 1] == '\r')
                ll--;
            if (ll == 0) {
                if (saw_line)
                    break;
                continue;
            }
            saw_line = 1;
            const char *colon = memchr(l, ':', ll);
            size_t nlen = colon ? (size_t)(colon - l) : ll;
            const char *v = colon ? colon + 1 : l + ll;
            if (v < l + ll && *v == ' ')
                v++;
            size_t vlen = (size_t)(l + ll - v);
            if (nlen == 5 && memcmp(l, "event", 5) == 0) {
                free(event);
                event = xstrndup(v, vlen);
            } else if (nlen == 4 && memcmp(l, "data", 4) == 0) {
                if ((saw_data && buf_putc(&data, '\n') < 0) || buf_append(&data, v, vlen) < 0)
                    abort(); /* cannot happen: the cap is the file's cap */
                saw_data = 1;
            }
        }
        if (!saw_line) {
            /* Trailing blank lines belong to the last frame. */
            if (fx->nframes > 0)
                fx->frames[fx->nframes - 1].raw_len += (size_t)(p - start);
            buf_cleanup(&data);
            break;
        }
        if (fx->nframes == cap) {
            cap = cap ? cap * 2 : 16;
            fx->frames = xrealloc(fx->frames, cap * sizeof(*fx->frames));
        }
        struct frame *fr = &fx->frames[fx->nframes++];
        fr->raw = start;
        fr->raw_len = (size_t)(p - start);
        fr->event = event;
        fr->data = saw_data ? buf_take(&data, NULL) : NULL;
        fr->json = NULL;
        buf_cleanup(&data);
        if (fr->data) {
            json_t *j = json_loads(fr->data, 0, NULL);
            if (json_is_object(j))
                fr->json = j;
            else
                json_decref(j);
        }
        if (fr->json && !fx->conv_id[0] && json_is_string(json_object_get(fr->json, "conversation_id"))) {
            copy_id(fx->conv_id, sizeof(fx->conv_id), json_object_get(fr->json, "conversation_id"));
            copy_id(fx->msg_id, sizeof(fx->msg_id), json_object_get(fr->json, "id"));
            copy_id(fx->assistant_id, sizeof(fx->assistant_id),
                    json_object_get(fr->json, "assistant_id"));
        }
    }
}

static void fixture_cleanup(struct fixture *fx)
{
    for (size_t i = 0; i < fx->nframes; i++) {
        free(fx->frames[i].event);
        free(fx->frames[i].data);
        json_decref(fx->frames[i].json);
    }
    free(fx->frames);
    free(fx->text);
    free(fx->name);
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return 0;
    return 1;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        n--;
    return xstrndup(s, n);
}

/* The "=== CASE" file: comment lines, a status line, headers, a blank line,
 * the body up to the next case. */
static int parse_errors(struct mock_fixtures *f, const char *text, size_t len)
{
    enum { NONE, PRE, HEADERS, BODY } st = NONE;
    const char *p = text, *end = text + len, *body = NULL;
    struct mock_error_case *c = NULL;
    size_t cap = 0;
    while (p <= end) {
        const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL;
        const char *l = p;
        size_t ll = (size_t)((eol ? eol : end) - p);
        int last = p == end || !eol;
        int is_case = ll >= 9 && memcmp(l, "=== CASE ", 9) == 0;
        if (st == BODY && (is_case || (ll >= 4 && memcmp(l, "####", 4) == 0) || p == end)) {
            const char *bend = p;
            while (bend > body && (bend[-1] == '\n' || bend[-1] == '\r' || bend[-1] == ' '))
                bend--;
            c->body = xstrndup(body, (size_t)(bend - body));
            c->body_len = (size_t)(bend - body);
            st = NONE;
        }
        if (is_case) {
            if (st != NONE)
                return -1; /* the previous case never reached its body */
            if (f->nerrors == cap) {
                cap = cap ? cap * 2 : 16;
                f->errors = xrealloc(f->errors, cap * sizeof(*f->errors));
            }
            c = &f->errors[f->nerrors++];
            memset(c, 0, sizeof(*c));
            c->name = trim_dup(l + 9, ll - 9);
            st = PRE;
        } else if (st == PRE && ll >= 5 && memcmp(l, "HTTP/", 5) == 0) {
            const char *sp = memchr(l, ' ', ll);
            if (!sp)
                return -1;
            c->code = atoi(sp + 1);
            const char *sp2 = memchr(sp + 1, ' ', (size_t)(l + ll - sp - 1));
            c->reason = sp2 ? trim_dup(sp2 + 1, (size_t)(l + ll - sp2 - 1)) : xstrdup("");
            st = HEADERS;
        } else if (st == HEADERS) {
            size_t n = ll;
            if (n > 0 && l[n - 1] == '\r')
                n--;
            if (n == 0) {
                st = BODY;
                body = eol ? eol + 1 : end;
            } else if (n > 13 && strncasecmp(l, "Content-Type:", 13) == 0) {
                free(c->content_type);
                c->content_type = trim_dup(l + 13, n - 13);
            }
        }
        if (last)
            break;
        p = eol + 1;
    }
    if (st == BODY) {
        c->body = xstrndup(body, (size_t)(end - body));
        c->body_len = (size_t)(end - body);
        st = NONE;
    }
    for (size_t i = 0; i < f->nerrors; i++)
        if (!f->errors[i].reason || f->errors[i].code < 100 || !f->errors[i].body)
            return -1;
    return st == NONE ? 0 : -1;
}

static int fixture_cmp(const void *a, const void *b)
{
    return strcmp(((const struct fixture *)a)->name, ((const struct fixture *)b)->name);
}

struct mock_fixtures *mock_fixtures_load(const char *dir, char *err, size_t errlen)
{
    struct mock_fixtures *f = xcalloc(1, sizeof(*f));
    char path[4096];
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errlen, "cannot open fixtures directory %s", dir);
        goto fail;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t n = strlen(de->d_name);
        if (n <= 4 || strcmp(de->d_name + n - 4, ".sse") != 0)
            continue;
        char *name = xstrndup(de->d_name, n - 4);
        if (!valid_name(name)) {
            free(name);
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        size_t len = 0;
        char *text = read_file(path, &len);
        if (!text) {
            snprintf(err, errlen, "cannot read %s", path);
            free(name);
            closedir(d);
            goto fail;
        }
        if (f->nfx == cap) {
            cap = cap ? cap * 2 : 16;
            f->fx = xrealloc(f->fx, cap * sizeof(*f->fx));
        }
        struct fixture *fx = &f->fx[f->nfx++];
        memset(fx, 0, sizeof(*fx));
        fx->name = name;
        fx->text = text;
        fx->len = len;
        fx->native_v2 = strstr(name, "-v2") != NULL;
        parse_sse(fx);
    }
    closedir(d);
    if (f->nfx > 1)
        qsort(f->fx, f->nfx, sizeof(*f->fx), fixture_cmp);
    if (!mock_fixtures_has(f, "chat-plain")) {
        snprintf(err, errlen, "%s/chat-plain.sse is missing", dir);
        goto fail;
    }
    snprintf(path, sizeof(path), "%s/chat-error-json.txt", dir);
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text) {
        snprintf(err, errlen, "cannot read %s", path);
        goto fail;
    }
    int rc = parse_errors(f, text, len);
    free(text);
    if (rc < 0) {
        snprintf(err, errlen, "%s is malformed", path);
        goto fail;
    }
    return f;
fail:
    mock_fixtures_free(f);
    return NULL;
}

void mock_fixtures_free(struct mock_fixtures *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->nfx; i++)
        fixture_cleanup(&f->fx[i]);
    free(f->fx);
    for (size_t i = 0; i < f->nerrors; i++) {
        free(f->errors[i].name);
        free(f->errors[i].reason);
        free(f->errors[i].content_type);
        free(f->errors[i].body);
    }
    free(f->errors);
    mock_answer_unref(f->long_cache);
    free(f);
}

static const struct fixture *find_fixture(const struct mock_fixtures *f, const char *name)
{
    for (size_t i = 0; i < f->nfx; i++)
        if (strcmp(f->fx[i].name, name) == 0)
            return &f->fx[i];
    return NULL;
}

int mock_fixtures_has(const struct mock_fixtures *f, const char *name)
{
    return find_fixture(f, name) != NULL;
}

const struct mock_error_case *mock_fixtures_error(const struct mock_fixtures *f,
                                                  const char *name)
{
    for (size_t i = 0; i < f->nerrors; i++)
        if (strcmp(f->errors[i].name, name) == 0)
            return &f->errors[i];
    return NULL;
}

/* ---- answers ---------------------------------------------------------- */

static struct mock_answer *answer_new(size_t max)
{
    struct mock_answer *a = xcalloc(1, sizeof(*a));
    a->refs = 1;
    buf_init(&a->data, max);
    return a;
}

static void answer_end_frame(struct mock_answer *a)
{
    if (a->nframes == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 32;
        a->ends = xrealloc(a->ends, a->cap * sizeof(*a->ends));
    }
    a->ends[a->nframes++] = a->data.len;
}

struct mock_answer *mock_answer_ref(struct mock_answer *a)
{
    a->refs++;
    return a;
}

void mock_answer_unref(struct mock_answer *a)
{
    if (!a || --a->refs > 0)
        return;
    buf_cleanup(&a->data);
    free(a->ends);
    free(a);
}

size_t mock_answer_nframes(const struct mock_answer *a)
{
    return a->nframes;
}

const char *mock_answer_frame(const struct mock_answer *a, size_t i, size_t *len)
{
    size_t start = i ? a->ends[i - 1] : 0;
    *len = a->ends[i] - start;
    return buf_cstr(&a->data) + start;
}

const char *mock_answer_conv_id(const struct mock_answer *a)
{
    return a->conv_id;
}

const char *mock_answer_msg_id(const struct mock_answer *a)
{
    return a->msg_id;
}

const char *mock_answer_assistant_id(const struct mock_answer *a)
{
    return a->assistant_id;
}

struct mock_answer *mock_answer_bytes(const char *data, size_t len)
{
    struct mock_answer *a = answer_new(len);
    if (buf_append(&a->data, data, len) < 0)
        abort(); /* the cap is len */
    answer_end_frame(a);
    return a;
}

struct mock_answer *mock_answer_generated(size_t max)
{
    struct mock_answer *a = answer_new(max);
    snprintf(a->conv_id, sizeof(a->conv_id), "%s", GEN_CONV_ID);
    snprintf(a->msg_id, sizeof(a->msg_id), "%s", GEN_MSG_ID);
    snprintf(a->assistant_id, sizeof(a->assistant_id), "%s", GEN_ASSISTANT_ID);
    return a;
}

int mock_answer_add_frame(struct mock_answer *a, const char *data, size_t len)
{
    if (buf_append(&a->data, data, len) < 0)
        return -1;
    answer_end_frame(a);
    return 0;
}

/* Writes one SSE frame: an optional event line, one data line per line of
 * data, a blank line. */
static int put_frame(struct buf *b, const char *event, const char *data, int space, int crlf)
{
    const char *eol = crlf ? "\r\n" : "\n";
    if (event && buf_printf(b, "event:%s%s%s", space ? " " : "", event, eol) < 0)
        return -1;
    while (data) {
        const char *nl = strchr(data, '\n');
        int n = nl ? (int)(nl - data) : (int)strlen(data);
        if (buf_printf(b, "data: %.*s%s", n, data, eol) < 0)
            return -1;
        data = nl ? nl + 1 : NULL;
    }
    return buf_puts(b, eol);
}

/* Profile v2 conversion remembers, per part (logic_id), content item and
 * field, the last cumulative value seen. */
struct v2_prev {
    char *key;
    char *value;
};

struct v2_state {
    struct v2_prev *items;
    size_t n, cap;
};

static struct v2_prev *v2_lookup(struct v2_state *vs, const char *key)
{
    for (size_t i = 0; i < vs->n; i++)
        if (strcmp(vs->items[i].key, key) == 0)
            return &vs->items[i];
    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? vs->cap * 2 : 8;
        vs->items = xrealloc(vs->items, vs->cap * sizeof(*vs->items));
    }
    struct v2_prev *p = &vs->items[vs->n++];
    p->key = xstrdup(key);
    p->value = NULL;
    return p;
}

static void v2_state_cleanup(struct v2_state *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->items[i].key);
        free(vs->items[i].value);
    }
    free(vs->items);
}

/* New reference: frame with every text/think/code value of an "init" part
 * turned into the delta since that part's previous frame; "finish" parts keep
 * the full value. */
static json_t *v2_convert(const json_t *frame, struct v2_state *vs)
{
    static const char *const fields[] = { "text", "think", "code" };
    json_t *out = json_deep_copy(frame);
    json_t *parts = json_object_get(out, "parts");
    size_t i, j;
    json_t *part, *item;
    json_array_foreach(parts, i, part) {
        const char *logic = json_string_value(json_object_get(part, "logic_id"));
        const char *status = json_string_value(json_object_get(part, "status"));
        int init = status && strcmp(status, "init") == 0;
        json_array_foreach(json_object_get(part, "content"), j, item) {
            for (size_t k = 0; k < 3; k++) {
                json_t *v = json_object_get(item, fields[k]);
                if (!json_is_string(v))
                    continue;
                char key[256];
                snprintf(key, sizeof(key), "%.200s/%zu/%s", logic ? logic : "", j, fields[k]);
                struct v2_prev *prev = v2_lookup(vs, key);
                const char *cur = json_string_value(v);
                size_t len = json_string_length(v);
                char *full = xmemdup(cur, len);
                if (init) {
                    size_t plen = prev->value ? strlen(prev->value) : 0;
                    if (!prev->value || plen > len || memcmp(prev->value, cur, plen) != 0)
                        plen = 0;
                    json_object_set_new(item, fields[k], json_stringn(full + plen, len - plen));
                }
                free(prev->value);
                prev->value = full;
            }
        }
    }
    return out;
}

/* 1 when a frame has a part that is still "init". */
static int has_init_part(const json_t *frame)
{
    const json_t *part;
    size_t i;
    json_array_foreach(json_object_get(frame, "parts"), i, part) {
        const char *st = json_string_value(json_object_get(part, "status"));
        if (st && strcmp(st, "init") == 0)
            return 1;
    }
    return 0;
}

struct mock_answer *mock_answer_fixture(const struct mock_fixtures *f, const char *name,
                                        const struct mock_settings *st, int heartbeat)
{
    const struct fixture *fx = find_fixture(f, name);
    if (!fx)
        return NULL;
    int convert = st->profile == MOCK_PROFILE_V2 && !fx->native_v2;
    int space = fx->native_v2 || convert || st->space;
    int verbatim = !convert && !st->crlf && !st->ascii && (fx->native_v2 || !st->space);
    size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | (st->ascii ? JSON_ENSURE_ASCII : 0);
    const char *eol = st->crlf ? "\r\n" : "\n";
    struct v2_state vs = { 0 };
    struct mock_answer *a = answer_new(MAX_FIXTURE_ANSWER);
    memcpy(a->conv_id, fx->conv_id, sizeof(a->conv_id));
    memcpy(a->msg_id, fx->msg_id, sizeof(a->msg_id));
    memcpy(a->assistant_id, fx->assistant_id, sizeof(a->assistant_id));
    int rc = 0;
    for (size_t i = 0; i < fx->nframes && rc == 0; i++) {
        const struct frame *fr = &fx->frames[i];
        if (st->profile == MOCK_PROFILE_WHOLE && fr->json && has_init_part(fr->json))
            continue; /* whole: only finished parts */
        if (verbatim || (!fr->event && !fr->data)) {
            rc = buf_append(&a->data, fr->raw, fr->raw_len);
        } else {
            char *dumped = NULL;
            if (fr->json && (convert || st->ascii)) {
                json_t *j = convert ? v2_convert(fr->json, &vs) : json_incref(fr->json);
                dumped = json_dumps(j, flags);
                json_decref(j);
            }
            rc = put_frame(&a->data, fr->event, dumped ? dumped : fr->data, space, st->crlf);
            free(dumped);
        }
        answer_end_frame(a);
        if (heartbeat && i == 0)
            rc = rc ? rc : buf_printf(&a->data, "data: ping%s%s", eol, eol);
        else if (heartbeat && i == 2)
            rc = rc ? rc : buf_printf(&a->data, ": keep-alive%s%s", eol, eol);
        else
            continue;
        answer_end_frame(a);
    }
    v2_state_cleanup(&vs);
    if (rc < 0) {
        mock_answer_unref(a);
        return NULL;
    }
    return a;
}

/* ---- generated answers ------------------------------------------------ */

static void created_now(char out[24])
{
    time_t t = (time_t)(mock_now_ms() / 1000) + 8 * 3600; /* UTC+8 wall clock */
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 24, "%Y-%m-%d %H:%M:%S", &tm);
}

/* Generated frames are cut from JSON templates: each frame kind is dumped
 * once with a marker where the text goes, so a frame costs two copies and
 * the text, which is produced already escaped. */
#define TEXT_MARKER "@@MOCK_TEXT@@"

enum gen_kind { GEN_EMPTY, GEN_INIT, GEN_PART_FINISH, GEN_FINISH, GEN_KINDS };

struct gen_tmpl {
    char *pre[GEN_KINDS];   /* "event:message\ndata: {... \"text\":\"" */
    char *post[GEN_KINDS];  /* "\"...}\n\n" */
    int ascii;
};

static void gen_tmpl_init(struct gen_tmpl *t, const struct mock_settings *st,
                          const char *logic_id)
{
    char created[24];
    created_now(created);
    size_t flags = JSON_COMPACT | JSON_PRESERVE_ORDER | (st->ascii ? JSON_ENSURE_ASCII : 0);
    const char *eol = st->crlf ? "\r\n" : "\n";
    int space = st->space || st->profile == MOCK_PROFILE_V2;
    static const char *const pstatus[] = { NULL, "init", "finish", "finish" };
    static const char *const tstatus[] = { "init", "init", "init", "finish" };
    t->ascii = st->ascii;
    for (int k = 0; k < GEN_KINDS; k++) {
        json_t *parts = json_array();
        if (k != GEN_EMPTY)
            json_array_append_new(
                parts, json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:s, s:s, s:{}, s:s}", "id",
                                 GEN_MSG_ID, "logic_id", logic_id, "role", "assistant",
                                 "content", "type", "text", "text", TEXT_MARKER, "model",
                                 "chatglm-all-tools", "recipient", "all", "created_at", created,
                                 "meta_data", "status", pstatus[k]));
        json_t *frame = json_pack("{s:s, s:s, s:s, s:o, s:s, s:{}, s:s, s:{}}", "id", GEN_MSG_ID,
                                  "conversation_id", GEN_CONV_ID, "assistant_id",
                                  GEN_ASSISTANT_ID, "parts", parts, "created_at", created,
                                  "meta_data", "status", tstatus[k], "last_error");
        char *json = json_dumps(frame, flags);
        json_decref(frame);
        if (!json)
            abort(); /* every value above is valid UTF-8 */
        char *mark = strstr(json, TEXT_MARKER);
        size_t cut = mark ? (size_t)(mark - json) : strlen(json);
        size_t rest = mark ? cut + strlen(TEXT_MARKER) : cut;
        size_t n = cut + 32;
        t->pre[k] = xmalloc(n);
        snprintf(t->pre[k], n, "event:%smessage%sdata: %.*s", space ? " " : "", eol, (int)cut,
                 json);
        n = strlen(json + rest) + 8;
        t->post[k] = xmalloc(n);
        snprintf(t->post[k], n, "%s%s%s", json + rest, eol, eol);
        free(json);
    }
}

static void gen_tmpl_cleanup(struct gen_tmpl *t)
{
    for (int k = 0; k < GEN_KINDS; k++) {
        free(t->pre[k]);
        free(t->post[k]);
    }
}

/* Appends n characters of the pattern, continuing from *pos, escaped for a
 * JSON string (the pattern needs no escapes but \uXXXX in ASCII mode). */
static int gen_text(struct buf *b, size_t n, size_t *pos, int ascii)
{
    const size_t plen = sizeof(gen_pattern) - 1;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *c = (const unsigned char *)gen_pattern + *pos;
        size_t len = c[0] < 0x80 ? 1 : c[0] < 0xe0 ? 2 : 3;
        int rc;
        if (ascii && len > 1) {
            unsigned cp = len == 2 ? (c[0] & 0x1fu) << 6 | (c[1] & 0x3fu)
                                   : (c[0] & 0x0fu) << 12 | (c[1] & 0x3fu) << 6 | (c[2] & 0x3fu);
            rc = buf_printf(b, "\\u%04x", cp);
        } else {
            rc = buf_append(b, c, len);
        }
        if (rc < 0)
            return -1;
        *pos = (*pos + len) % plen;
    }
    return 0;
}

static int gen_frame(struct buf *b, const struct gen_tmpl *t, enum gen_kind k, const char *text,
                     size_t tlen)
{
    if (buf_puts(b, t->pre[k]) < 0 || buf_append(b, text, tlen) < 0)
        return -1;
    return buf_puts(b, t->post[k]);
}

static int same_shape(const struct mock_settings *a, const struct mock_settings *b)
{
    return a->profile == b->profile && a->space == b->space && a->crlf == b->crlf &&
           a->ascii == b->ascii;
}

struct mock_answer *mock_answer_long(struct mock_fixtures *f, long frames, long chars,
                                     const struct mock_settings *st, char *err, size_t errlen)
{
    if (frames < 1 || frames > MAX_LONG_FRAMES || chars < 1 || chars > MAX_LONG_CHARS) {
        snprintf(err, errlen, "long:<frames>:<chars> needs 1..%d frames and 1..%d characters",
                 MAX_LONG_FRAMES, MAX_LONG_CHARS);
        return NULL;
    }
    if (f->long_cache && f->cache_frames == frames && f->cache_chars == chars &&
        same_shape(&f->cache_st, st))
        return mock_answer_ref(f->long_cache);

    /* Upper bound of the size: UTF-8 Chinese is 3 bytes, \uXXXX 6. */
    double per_char = st->ascii ? 6 : 3, F = (double)frames, C = (double)chars;
    double text_frames = st->profile == MOCK_PROFILE_V2 ? F * C : F * (F + 1) / 2 * C;
    double est = (text_frames + 2 * F * C) * per_char + (F + 3) * FRAME_OVERHEAD;
    if (est > MAX_LONG_ANSWER) {
        snprintf(err, errlen, "long:%ld:%ld would be about %.0f MB (limit %u MB)", frames, chars,
                 est / 1048576, MAX_LONG_ANSWER >> 20);
        return NULL;
    }
    struct buf text;
    buf_init(&text, MAX_LONG_ANSWER);
    size_t *off = xmalloc(((size_t)frames + 1) * sizeof(*off));
    size_t pos = 0;
    int rc = 0;
    off[0] = 0;
    for (long i = 1; i <= frames && rc == 0; i++) {
        rc = gen_text(&text, (size_t)chars, &pos, st->ascii);
        off[i] = text.len;
    }
    char logic[37];
    struct gen_tmpl t;
    mock_uuid(logic);
    gen_tmpl_init(&t, st, logic);
    struct mock_answer *a = answer_new(MAX_LONG_ANSWER);
    snprintf(a->conv_id, sizeof(a->conv_id), "%s", GEN_CONV_ID);
    snprintf(a->msg_id, sizeof(a->msg_id), "%s", GEN_MSG_ID);
    snprintf(a->assistant_id, sizeof(a->assistant_id), "%s", GEN_ASSISTANT_ID);
    const char *txt = buf_cstr(&text);
    if (rc == 0)
        rc = gen_frame(&a->data, &t, GEN_EMPTY, "", 0);
    answer_end_frame(a);
    for (long i = 1; i <= frames && rc == 0; i++) {
        size_t from = st->profile == MOCK_PROFILE_V2 ? off[i - 1] : 0;
        rc = gen_frame(&a->data, &t, GEN_INIT, txt + from, off[i] - from);
        answer_end_frame(a);
    }
    if (rc == 0)
        rc = gen_frame(&a->data, &t, GEN_PART_FINISH, txt, text.len);
    answer_end_frame(a);
    if (rc == 0)
        rc = gen_frame(&a->data, &t, GEN_FINISH, txt, text.len);
    answer_end_frame(a);
    gen_tmpl_cleanup(&t);
    free(off);
    buf_cleanup(&text);
    if (rc < 0) {
        snprintf(err, errlen, "long:%ld:%ld is too big", frames, chars);
        mock_answer_unref(a);
        return NULL;
    }
    mock_answer_unref(f->long_cache);
    f->long_cache = mock_answer_ref(a);
    f->cache_frames = frames;
    f->cache_chars = chars;
    f->cache_st = *st;
    return a;
}

struct mock_endless *mock_endless_new(const struct mock_settings *st)
{
    struct mock_endless *e = xcalloc(1, sizeof(*e));
    char logic[37];
    e->v2 = st->profile == MOCK_PROFILE_V2;
    buf_init(&e->text, ENDLESS_MAX_CHARS * 6);
    e->tmpl = xcalloc(1, sizeof(*e->tmpl));
    mock_uuid(logic);
    gen_tmpl_init(e->tmpl, st, logic);
    return e;
}

void mock_endless_free(struct mock_endless *e)
{
    if (!e)
        return;
    buf_cleanup(&e->text);
    gen_tmpl_cleanup(e->tmpl);
    free(e->tmpl);
    free(e);
}

int mock_endless_next(struct mock_endless *e, struct buf *out)
{
    if (e->k++ == 0)
        return gen_frame(out, e->tmpl, GEN_EMPTY, "", 0);
    if (e->v2) {
        struct buf d;
        buf_init(&d, ENDLESS_STEP * 6);
        int rc = gen_text(&d, ENDLESS_STEP, &e->pat, e->tmpl->ascii);
        if (rc == 0)
            rc = gen_frame(out, e->tmpl, GEN_INIT, buf_cstr(&d), d.len);
        buf_cleanup(&d);
        return rc;
    }
    if (e->text_chars + ENDLESS_STEP <= ENDLESS_MAX_CHARS) {
        if (gen_text(&e->text, ENDLESS_STEP, &e->pat, e->tmpl->ascii) < 0)
            return -1;
        e->text_chars += ENDLESS_STEP;
    }
    return gen_frame(out, e->tmpl, GEN_INIT, buf_cstr(&e->text), e->text.len);
}

const char *mock_generated_conv_id(void)
{
    return GEN_CONV_ID;
}

const char *mock_generated_msg_id(void)
{
    return GEN_MSG_ID;
}

const char *mock_generated_assistant_id(void)
{
    return GEN_ASSISTANT_ID;
}
