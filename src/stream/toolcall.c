#define _GNU_SOURCE /* memmem */
#include "stream/toolcall.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/crypto.h"
#include "util/jschema.h"
#include "util/xalloc.h"

static const char OPEN[] = "<tool_call>";
static const char CLOSE[] = "</tool_call>";
static const char THINK_OPEN[] = "<think>";
static const char THINK_CLOSE[] = "</think>";
#define LIT(s) (sizeof(s) - 1)

/* Caps on the small buffers: held markup prefixes and one call's problem. */
#define PEND_SMALL 64
#define SLICE 4096
#define FENCE_MAX 256   /* a held fence line and the whitespace after it */

struct tc_call {
    char id[32];
    char *name;
    char *args;   /* compact JSON */
};

enum tc_state { TC_TEXT, TC_THINK, TC_CALL };

struct toolcall {
    struct sink next;
    struct toolcall_opts o;
    struct buf pend;          /* input not consumed yet; in TC_CALL the call's body */
    enum tc_state st;
    size_t scan;              /* TC_CALL: body bytes already searched for tags */
    int name_checked;         /* TC_CALL: the native name was looked up */
    int text_seen;            /* non-whitespace text went out (an inline think must open) */
    struct buf held;          /* required: text kept until we know whether a call comes */
    struct buf fence;         /* a code-fence line at the end of the text: dropped if a call follows */
    int line_start;           /* the text so far ends at a line start (indentation included) */
    size_t indent;            /* then: the bytes of that indentation already sent */
    int in_code;              /* inside a code block the text opened: markup there is text */
    struct tc_call *q;        /* accepted calls not sent yet */
    size_t nq, qcap;
    int sent;
    int halted;
    char problem[512];
    char problem_tool[64];
};

/* ---- small helpers ------------------------------------------------------ */

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int all_ws(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_ws(s[i]))
            return 0;
    return 1;
}

static void trim(const char **s, size_t *n)
{
    while (*n && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_ws((*s)[*n - 1]))
        (*n)--;
}

static const char *find(const char *s, size_t n, const char *needle, size_t nl)
{
    if (nl > n)
        return NULL;
    return memmem(s, n, needle, nl);
}

static void make_id(char id[32])
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    memcpy(id, "call_", 5);
    for (int i = 0; i < 24; i += 8) {
        uint64_t r = crypto_random_u64();
        for (int k = 0; k < 8; k++, r >>= 8)
            id[5 + i + k] = abc[(r & 0xff) % (sizeof(abc) - 1)];
    }
    id[29] = '\0';
}

static const struct toolcall_decl *decl_find(const struct toolcall *t, const char *name, size_t n)
{
    for (size_t i = 0; i < t->o.ntools; i++) {
        const char *d = t->o.tools[i].name;
        if (strlen(d) == n && memcmp(d, name, n) == 0)
            return &t->o.tools[i];
    }
    return NULL;
}

static int set_problem(struct toolcall *t, const char *tool, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int set_problem(struct toolcall *t, const char *tool, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->problem, sizeof(t->problem), fmt, ap);
    va_end(ap);
    snprintf(t->problem_tool, sizeof(t->problem_tool), "%s", tool ? tool : "");
    t->halted = 1;
    return ANSWER_HALT;
}

/* The next sink's answer: HALT and FULL stop this stage too. */
static int after(struct toolcall *t, int rc)
{
    if (rc != ANSWER_GO)
        t->halted = 1;
    return rc;
}

/* ---- sending ------------------------------------------------------------ */

static void queue_clear(struct toolcall *t)
{
    for (size_t i = 0; i < t->nq; i++) {
        free(t->q[i].name);
        free(t->q[i].args);
    }
    t->nq = 0;
}

/* The calls are complete: send them and finish the answer. */
static int end_calls(struct toolcall *t)
{
    int rc = ANSWER_GO;
    for (size_t i = 0; i < t->nq && rc == ANSWER_GO; i++) {
        struct tc_call *c = &t->q[i];
        int index = t->sent++;
        const struct sink_ops *n = t->next.ops;
        rc = n->tool_begin(t->next.self, index, c->id, c->name);
        if (rc == ANSWER_GO)
            rc = n->tool_args(t->next.self, index, c->args, strlen(c->args));
        if (rc == ANSWER_GO)
            rc = n->tool_end(t->next.self, index);
    }
    queue_clear(t);
    if (rc == ANSWER_GO)
        rc = t->next.ops->finish(t->next.self, ANSWER_TOOL_CALLS, NULL);
    t->halted = 1;
    return rc == ANSWER_FULL ? ANSWER_FULL : ANSWER_HALT;
}

/* Text that goes out (or is held while a call is required). */
static int emit_plain(struct toolcall *t, const char *s, size_t n)
{
    if (!n)
        return ANSWER_GO;
    if (!t->text_seen && !all_ws(s, n))
        t->text_seen = 1;
    /* Fence lines ("```...") at line starts open and close code blocks. */
    int ls = t->line_start; /* 1: at a line start, still in its indentation */
    size_t indent = t->indent;
    for (size_t i = 0; i < n; i++) {
        if (ls && n - i >= 3 && memcmp(s + i, "```", 3) == 0)
            t->in_code = !t->in_code;
        int sp = s[i] == ' ' || s[i] == '\t';
        indent = s[i] == '\n' ? 0 : ls && sp ? indent + 1 : 0;
        ls = s[i] == '\n' || (ls && sp);
    }
    t->line_start = ls;
    t->indent = indent;
    if (t->o.required) {
        /* Past the cap the text is cut (it is only sent when no call comes;
         * the writer mends a character cut in two). */
        size_t room = t->held.max - t->held.len;
        if (n > room)
            n = room;
        if (buf_append(&t->held, s, n) < 0)
            return ANSWER_FULL;
        return ANSWER_GO;
    }
    return after(t, t->next.ops->text(t->next.self, s, n));
}

/* Where the text that may begin a code-fence line starts at the end of s, or
 * n: a last line "```lang" (or the start of one) and the whitespace after
 * it, or the indentation of a line just begun. Models often fence their
 * calls; such an opener is dropped when a call follows. The choice depends
 * only on the text, not on how it was cut (line_start: s follows a line
 * start, indentation included). */
static size_t fence_tail(const char *s, size_t n, int line_start, size_t indent)
{
    size_t e = n;
    while (e && is_ws(s[e - 1]))
        e--;
    if (e) {
        size_t ls = e;
        while (ls && s[ls - 1] != '\n')
            ls--;
        size_t i = ls;
        while (i < e && (s[i] == ' ' || s[i] == '\t'))
            i++;
        size_t b = i;
        while (i < e && s[i] == '`' && i - b < 3)
            i++;
        size_t ticks = i - b, lang = i;
        while (ticks == 3 && i < e && i - lang < 20 &&
               ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
                (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '+'))
            i++;
        while (i < e && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if ((ls || line_start) && ticks && (ticks == 3 || e == n) && i == e &&
            n - ls + (ls ? 0 : indent) <= FENCE_MAX)
            return ls;
    }
    /* The indentation of the line being written. */
    size_t cur = n;
    while (cur && s[cur - 1] != '\n')
        cur--;
    if (cur == 0 && !line_start)
        return n;
    for (size_t i = cur; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return n;
    return n - cur + (cur ? 0 : indent) <= FENCE_MAX ? cur : n;
}

static int fence_flush(struct toolcall *t)
{
    int rc = emit_plain(t, t->fence.data, t->fence.len);
    buf_reset(&t->fence);
    return rc;
}

/* Text of the answer (not markup): held, dropped or forwarded. */
static int emit_text(struct toolcall *t, const char *s, size_t n)
{
    if (!n)
        return ANSWER_GO;
    if (t->nq) /* after calls: whitespace between them, or the end of them */
        return all_ws(s, n) ? ANSWER_GO : end_calls(t);
    /* The held text and the new one are decided on together, as if they
     * had come in one piece. */
    char *tmp = NULL;
    const char *w = s;
    size_t wn = n;
    if (t->fence.len) {
        if (t->fence.len + n <= FENCE_MAX) {
            if (buf_append(&t->fence, s, n) < 0)
                return ANSWER_FULL;
            w = t->fence.data;
            wn = t->fence.len;
        } else {
            wn = t->fence.len + n;
            tmp = xmalloc(wn);
            memcpy(tmp, t->fence.data, t->fence.len);
            memcpy(tmp + t->fence.len, s, n);
            w = tmp;
        }
    }
    size_t k = fence_tail(w, wn, t->line_start, t->indent);
    int rc = emit_plain(t, w, k);
    if (rc == ANSWER_GO) {
        /* What is held again is at most FENCE_MAX bytes (fence_tail's rule). */
        if (w == t->fence.data) {
            buf_drain(&t->fence, k);
        } else {
            buf_reset(&t->fence);
            if (buf_append(&t->fence, w + k, wn - k) < 0)
                rc = ANSWER_FULL;
        }
    }
    free(tmp);
    return rc;
}

/* Markup that is not a call after all, as it was written. */
static int emit_raw(struct toolcall *t, const char *body, size_t n, int closed)
{
    int rc = emit_text(t, OPEN, LIT(OPEN));
    if (rc == ANSWER_GO)
        rc = emit_text(t, body, n);
    if (rc == ANSWER_GO && closed)
        rc = emit_text(t, CLOSE, LIT(CLOSE));
    return rc;
}

/* ---- parsing one call's body -------------------------------------------- */

enum parsed { P_CALL, P_UNDECLARED, P_INVALID };

struct parse_out {
    const struct toolcall_decl *decl;
    json_t *args;            /* new reference, an object */
    char why[400];
    char name[64];
};

static void why(struct parse_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void why(struct parse_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->why, sizeof(o->why), fmt, ap);
    va_end(ap);
}

/* Checks and keeps the arguments of a declared call. Steals args. */
static enum parsed finish_args(struct parse_out *o, json_t *args)
{
    if (!args)
        args = json_object();
    if (!json_is_object(args)) {
        json_decref(args);
        why(o, "its arguments are not a JSON object");
        return P_INVALID;
    }
    char msg[300];
    if (jschema_check(o->decl->parameters, args, "arguments", msg, sizeof(msg)) < 0) {
        json_decref(args);
        why(o, "%s", msg);
        return P_INVALID;
    }
    o->args = args;
    return P_CALL;
}

/* One {"name":..., "arguments":...} object. */
static enum parsed parse_json_call(const struct toolcall *t, const json_t *c, struct parse_out *o)
{
    const json_t *name = json_object_get(c, "name");
    if (!json_is_string(name))
        return P_UNDECLARED; /* not a call at all */
    snprintf(o->name, sizeof(o->name), "%s", json_string_value(name));
    o->decl = decl_find(t, json_string_value(name), json_string_length(name));
    if (!o->decl)
        return P_UNDECLARED;
    json_t *a = json_object_get(c, "arguments");
    if (!a)
        a = json_object_get(c, "parameters");
    if (json_is_string(a)) {
        json_t *parsed = json_loadb(json_string_value(a), json_string_length(a), 0, NULL);
        if (!parsed) {
            why(o, "its arguments string is not JSON");
            return P_INVALID;
        }
        return finish_args(o, parsed);
    }
    return finish_args(o, json_is_null(a) ? NULL : json_incref(a));
}

/* A native value: raw text for string parameters, else JSON when it parses. */
static json_t *native_value(const json_t *schema, const char *v, size_t n)
{
    if (!jschema_is_string(schema)) {
        const char *s = v;
        size_t k = n;
        trim(&s, &k);
        json_t *j = json_loadb(s, k, JSON_DECODE_ANY, NULL);
        if (j)
            return j;
    }
    return json_stringn(v, n); /* NULL for invalid UTF-8 */
}

/* After the name: <arg_key>/<arg_value> pairs, or one JSON object, or nothing. */
static enum parsed parse_native_args(const char *p, const char *e, struct parse_out *o)
{
    static const char KO[] = "<arg_key>", KC[] = "</arg_key>";
    static const char VO[] = "<arg_value>", VC[] = "</arg_value>";
    const json_t *props = json_object_get(o->decl->parameters, "properties");
    while (p < e && is_ws(*p))
        p++;
    if (p < e && *p == '{') {
        const char *s = p;
        size_t n = (size_t)(e - p);
        trim(&s, &n);
        json_t *j = json_loadb(s, n, 0, NULL);
        if (!j) {
            why(o, "its arguments are not valid JSON");
            return P_INVALID;
        }
        return finish_args(o, j);
    }
    json_t *args = json_object();
    while (p < e) {
        if ((size_t)(e - p) < LIT(KO) || memcmp(p, KO, LIT(KO)) != 0) {
            json_decref(args);
            why(o, "expected <arg_key> in the call's markup");
            return P_INVALID;
        }
        p += LIT(KO);
        const char *ke = find(p, (size_t)(e - p), KC, LIT(KC));
        if (!ke) {
            json_decref(args);
            why(o, "an <arg_key> is not closed");
            return P_INVALID;
        }
        const char *k = p;
        size_t kn = (size_t)(ke - p);
        trim(&k, &kn);
        p = ke + LIT(KC);
        while (p < e && is_ws(*p))
            p++;
        if ((size_t)(e - p) < LIT(VO) || memcmp(p, VO, LIT(VO)) != 0) {
            json_decref(args);
            why(o, "expected <arg_value> after </arg_key>");
            return P_INVALID;
        }
        p += LIT(VO);
        const char *ve = find(p, (size_t)(e - p), VC, LIT(VC));
        if (!ve) {
            json_decref(args);
            why(o, "an <arg_value> is not closed");
            return P_INVALID;
        }
        char *key = xmemdup(k, kn);
        json_t *val = native_value(json_object_get(props, key), p, (size_t)(ve - p));
        if (!val) {
            free(key);
            json_decref(args);
            why(o, "an argument is not valid UTF-8");
            return P_INVALID;
        }
        int bad = memchr(k, '\0', kn) != NULL;
        if (bad)
            json_decref(val);
        else
            bad = json_object_set_new(args, key, val) < 0; /* steals val either way */
        free(key);
        if (bad) {
            json_decref(args);
            why(o, "an argument name is not valid UTF-8 text");
            return P_INVALID;
        }
        p = ve + LIT(VC);
        while (p < e && is_ws(*p))
            p++;
    }
    return finish_args(o, args);
}

/* Where the native name ends: the first '<', '{' or line end after it. */
static size_t native_name_end(const char *s, size_t n, size_t from)
{
    size_t i = from;
    while (i < n && s[i] != '<' && s[i] != '\n' && s[i] != '\r' && s[i] != '{')
        i++;
    return i;
}

static size_t skip_ws(const char *s, size_t n, size_t i)
{
    while (i < n && is_ws(s[i]))
        i++;
    return i;
}

/* The tool named by "name": "X" in JSON that does not parse, or NULL. */
static const struct toolcall_decl *sniff_name(const struct toolcall *t, const char *s, size_t n)
{
    static const char key[] = "\"name\"";
    const char *p = find(s, n, key, LIT(key)), *e = s + n;
    if (!p)
        return NULL;
    p += LIT(key);
    while (p < e && is_ws(*p))
        p++;
    if (p == e || *p++ != ':')
        return NULL;
    while (p < e && is_ws(*p))
        p++;
    if (p == e || *p++ != '"')
        return NULL;
    const char *q = memchr(p, '"', (size_t)(e - p));
    return q ? decl_find(t, p, (size_t)(q - p)) : NULL;
}

/* Whether an unfinished body names an offered tool (natively or in JSON). */
static int abandoned_call(const struct toolcall *t, const char *s, size_t n)
{
    size_t i = skip_ws(s, n, 0);
    if (i < n && (s[i] == '{' || s[i] == '['))
        return sniff_name(t, s + i, n - i) != NULL;
    size_t ne = native_name_end(s, n, i);
    const char *name = s + i;
    size_t nn = ne - i;
    trim(&name, &nn);
    return nn && decl_find(t, name, nn);
}

/* ---- accepting calls ---------------------------------------------------- */

static void enqueue(struct toolcall *t, const char *name, json_t *args)
{
    if (t->nq == t->qcap) {
        t->qcap = t->qcap ? t->qcap * 2 : 4;
        t->q = xrealloc(t->q, t->qcap * sizeof(*t->q));
    }
    struct tc_call *c = &t->q[t->nq++];
    make_id(c->id);
    c->name = xstrdup(name);
    c->args = json_dumps(args, JSON_COMPACT | JSON_REAL_PRECISION(16));
    if (!c->args)
        c->args = xstrdup("{}");
}

/* Whether the stage wants no more calls (parallel calls off and one queued). */
static int enough(const struct toolcall *t)
{
    return !t->o.parallel && t->nq > 0;
}

/* A whole body (between the tags, or to the end of the answer). */
static int take_body(struct toolcall *t, const char *s, size_t n, int closed)
{
    size_t i = skip_ws(s, n, 0);
    struct parse_out o;
    memset(&o, 0, sizeof(o));
    if (i < n && (s[i] == '{' || s[i] == '[')) {
        const char *b = s + i;
        size_t bn = n - i;
        trim(&b, &bn);
        json_t *j = json_loadb(b, bn, 0, NULL);
        json_t *one = json_is_object(j) ? j : NULL;
        size_t count = one ? 1 : json_array_size(j);
        if (!j || !count)
            goto not_json;
        /* Every element first: a list with an undeclared name is text as a
         * whole, one with an invalid call is invalid as a whole. */
        json_t **argv = xcalloc(count, sizeof(*argv));
        const char **names = xcalloc(count, sizeof(*names));
        enum parsed res = P_CALL;
        for (size_t k = 0; k < count && res == P_CALL; k++) {
            json_t *c = one ? one : json_array_get(j, k);
            memset(&o, 0, sizeof(o));
            res = json_is_object(c) ? parse_json_call(t, c, &o) : P_UNDECLARED;
            argv[k] = o.args;
            names[k] = res == P_CALL ? o.decl->name : NULL;
        }
        if (res == P_CALL)
            for (size_t k = 0; k < count && !enough(t); k++)
                enqueue(t, names[k], argv[k]);
        for (size_t k = 0; k < count; k++)
            json_decref(argv[k]);
        free(argv);
        free(names);
        json_decref(j);
        if (res == P_CALL)
            return enough(t) ? end_calls(t) : ANSWER_GO;
        if (res == P_INVALID && t->o.strict)
            return set_problem(t, o.name, "the call of %s is invalid: %s", o.name, o.why);
        return emit_raw(t, s, n, closed);
    not_json:
        json_decref(j);
        /* JSON that does not parse: a call of an offered tool when it names
         * one ("name": "X" as the model began it), else text. */
        const struct toolcall_decl *d = sniff_name(t, b, bn);
        if (d && t->o.strict)
            return set_problem(t, d->name, "the call of %s is invalid: its markup is not valid JSON",
                               d->name);
        return emit_raw(t, s, n, closed);
    }
    size_t ne = native_name_end(s, n, i);
    const char *name = s + i;
    size_t nn = ne - i;
    trim(&name, &nn);
    o.decl = nn ? decl_find(t, name, nn) : NULL;
    if (!o.decl)
        return emit_raw(t, s, n, closed);
    snprintf(o.name, sizeof(o.name), "%s", o.decl->name);
    enum parsed res = parse_native_args(s + ne, s + n, &o);
    if (res == P_CALL) {
        enqueue(t, o.decl->name, o.args);
        json_decref(o.args);
        return enough(t) ? end_calls(t) : ANSWER_GO;
    }
    if (t->o.strict)
        return set_problem(t, o.name, "the call of %s is invalid: %s", o.name, o.why);
    return emit_raw(t, s, n, closed);
}

/* A required call written as bare JSON ({"name":...,"arguments":...} or a
 * list of them, fenced or not, nothing else): the held text is the call. */
static void bare_calls(struct toolcall *t)
{
    const char *s = t->held.data;
    size_t n = t->held.len;
    if (!n)
        return;
    trim(&s, &n);
    if (n > 3 && memcmp(s, "```", 3) == 0) { /* a fence around it */
        const char *nl = memchr(s, '\n', n);
        if (!nl)
            return;
        n -= (size_t)(nl + 1 - s);
        s = nl + 1;
        trim(&s, &n);
        if (n < 3 || memcmp(s + n - 3, "```", 3) != 0)
            return;
        n -= 3;
        trim(&s, &n);
    }
    if (!n || (s[0] != '{' && s[0] != '['))
        return;
    json_t *j = json_loadb(s, n, 0, NULL);
    size_t count = json_is_object(j) ? 1 : json_array_size(j);
    int ok = count > 0;
    for (size_t k = 0; k < count && ok; k++) {
        json_t *c = json_is_object(j) ? j : json_array_get(j, k);
        struct parse_out o;
        memset(&o, 0, sizeof(o));
        ok = json_is_object(c) && parse_json_call(t, c, &o) == P_CALL;
        json_decref(o.args);
    }
    for (size_t k = 0; k < count && ok && !enough(t); k++) {
        json_t *c = json_is_object(j) ? j : json_array_get(j, k);
        struct parse_out o;
        memset(&o, 0, sizeof(o));
        if (parse_json_call(t, c, &o) == P_CALL)
            enqueue(t, o.decl->name, o.args);
        json_decref(o.args);
    }
    json_decref(j);
}

/* ---- the scanner -------------------------------------------------------- */

/* Whether s[0..n) is a proper prefix of lit. */
static int prefix_of(const char *s, size_t n, const char *lit, size_t ln)
{
    return n < ln && memcmp(s, lit, n) == 0;
}

/* Runs over pend; at_end: the answer is over, nothing is held. Returns the
 * op's result. Consumed bytes are drained from pend. */
static int run(struct toolcall *t, int at_end)
{
    size_t i = 0;
    int rc = ANSWER_GO;
    while (rc == ANSWER_GO && !t->halted && i < t->pend.len) {
        const char *s = t->pend.data;
        size_t n = t->pend.len;
        if (t->st == TC_CALL) {
            const char *b = s + i;
            size_t bn = n - i;
            /* The native name decides early whether this is text after all. */
            if (!t->name_checked) {
                size_t k = skip_ws(b, bn, 0);
                if (k < bn && b[k] != '{' && b[k] != '[') {
                    size_t ne = native_name_end(b, bn, k);
                    if (ne < bn) {
                        t->name_checked = 1;
                        const char *nm = b + k;
                        size_t nl = ne - k;
                        trim(&nm, &nl);
                        if (!nl || !decl_find(t, nm, nl)) {
                            t->st = TC_TEXT;
                            rc = emit_raw(t, b, ne, 0);
                            i += ne;
                            continue;
                        }
                    }
                } else if (k < bn) {
                    t->name_checked = 1;
                }
            }
            size_t from = t->scan > LIT(CLOSE) ? t->scan - LIT(CLOSE) : 0;
            const char *c = find(b + from, bn - from, CLOSE, LIT(CLOSE));
            const char *o = find(b + from, bn - from, OPEN, LIT(OPEN));
            size_t first = c ? (size_t)(c - b) : SIZE_MAX;
            if (o && (size_t)(o - b) < first)
                first = (size_t)(o - b);
            /* Over the cap: no tag starts within max_call bytes. The first
             * max_call + 1 bytes are text then, and the rest is read again. */
            if (first > t->o.max_call && (first != SIZE_MAX || bn > t->o.max_call + LIT(CLOSE))) {
                t->st = TC_TEXT;
                rc = emit_raw(t, b, t->o.max_call + 1, 0);
                i += t->o.max_call + 1;
                continue;
            }
            if (o && (!c || o < c)) {
                /* A new call opens inside this one: the first was abandoned.
                 * Markup begun for an offered tool is dropped, else text. */
                t->st = TC_TEXT;
                if (!abandoned_call(t, b, (size_t)(o - b)))
                    rc = emit_raw(t, b, (size_t)(o - b), 0);
                i += (size_t)(o - b);
                continue;
            }
            if (c) {
                t->st = TC_TEXT;
                rc = take_body(t, b, (size_t)(c - b), 1);
                i += (size_t)(c - b) + LIT(CLOSE);
                continue;
            }
            if (at_end) {
                t->st = TC_TEXT;
                rc = take_body(t, b, bn, 0);
                i = n;
                continue;
            }
            t->scan = bn;
            break;
        }
        const char *lt = memchr(s + i, '<', n - i);
        size_t k = lt ? (size_t)(lt - s) : n;
        if (k > i) {
            rc = t->st == TC_THINK ? after(t, t->next.ops->text(t->next.self, s + i, k - i))
                                   : emit_text(t, s + i, k - i);
            i = k;
            continue;
        }
        const char *r = s + k;
        size_t rn = n - k;
        if (t->st == TC_THINK) {
            if (rn >= LIT(THINK_CLOSE) && memcmp(r, THINK_CLOSE, LIT(THINK_CLOSE)) == 0) {
                t->st = TC_TEXT;
                rc = after(t, t->next.ops->text(t->next.self, r, LIT(THINK_CLOSE)));
                i = k + LIT(THINK_CLOSE);
                continue;
            }
            if (!at_end && prefix_of(r, rn, THINK_CLOSE, LIT(THINK_CLOSE)))
                break;
            rc = after(t, t->next.ops->text(t->next.self, r, 1));
            i = k + 1;
            continue;
        }
        int open = rn >= LIT(OPEN) && memcmp(r, OPEN, LIT(OPEN)) == 0;
        if (open && t->in_code && t->fence.len) {
            /* The held fence closes the code block: the call comes after it. */
            rc = fence_flush(t);
            if (rc != ANSWER_GO)
                break;
        }
        if (open && !t->in_code) {
            /* The fence the model opened around its call is dropped; held
             * indentation goes out. */
            if (memchr(t->fence.data ? t->fence.data : "", '`', t->fence.len))
                buf_reset(&t->fence);
            else if ((rc = fence_flush(t)) != ANSWER_GO)
                break;
            t->st = TC_CALL;
            t->scan = 0;
            t->name_checked = 0;
            i = k + LIT(OPEN);
            continue;
        }
        int think_ok = !t->text_seen && !t->nq && !t->fence.len;
        if (think_ok && rn >= LIT(THINK_OPEN) && memcmp(r, THINK_OPEN, LIT(THINK_OPEN)) == 0) {
            t->st = TC_THINK;
            rc = after(t, t->next.ops->text(t->next.self, r, LIT(THINK_OPEN)));
            i = k + LIT(THINK_OPEN);
            continue;
        }
        if (!at_end && (((!t->in_code || t->fence.len) && prefix_of(r, rn, OPEN, LIT(OPEN))) ||
                        (think_ok && prefix_of(r, rn, THINK_OPEN, LIT(THINK_OPEN)))))
            break;
        rc = emit_text(t, r, 1);
        i = k + 1;
    }
    if (rc == ANSWER_GO && !t->halted && at_end && t->st == TC_CALL && i >= t->pend.len) {
        t->st = TC_TEXT; /* "<tool_call>" and nothing after it */
        rc = take_body(t, "", 0, 0);
    }
    buf_drain(&t->pend, i < t->pend.len ? i : t->pend.len);
    if (t->halted)
        buf_reset(&t->pend);
    return rc;
}

/* ---- the sink ops ------------------------------------------------------- */

static int op_start(void *self)
{
    struct toolcall *t = self;
    return after(t, t->next.ops->start(t->next.self));
}

static int op_text(void *self, const char *s, size_t n)
{
    struct toolcall *t = self;
    if (t->halted)
        return ANSWER_HALT;
    /* Plain text with nothing pending goes straight through. */
    if (t->st == TC_TEXT && !t->pend.len && !memchr(s, '<', n))
        return emit_text(t, s, n);
    /* Slices, so that pend never passes one call's cap plus a slice. */
    int rc = ANSWER_GO;
    while (n && rc == ANSWER_GO && !t->halted) {
        size_t k = n < SLICE ? n : SLICE;
        if (buf_append(&t->pend, s, k) < 0)
            return ANSWER_FULL; /* cannot happen: run() keeps pend under its cap */
        s += k;
        n -= k;
        rc = run(t, 0);
    }
    return t->halted && rc == ANSWER_GO ? ANSWER_HALT : rc;
}

static int op_reasoning(void *self, const char *s, size_t n)
{
    struct toolcall *t = self;
    if (t->halted)
        return ANSWER_HALT;
    return after(t, t->next.ops->reasoning(t->next.self, s, n));
}

static int op_tool_begin(void *self, int index, const char *id, const char *name)
{
    struct toolcall *t = self;
    return t->halted ? ANSWER_HALT : after(t, t->next.ops->tool_begin(t->next.self, index, id, name));
}

static int op_tool_args(void *self, int index, const char *s, size_t n)
{
    struct toolcall *t = self;
    return t->halted ? ANSWER_HALT : after(t, t->next.ops->tool_args(t->next.self, index, s, n));
}

static int op_tool_end(void *self, int index)
{
    struct toolcall *t = self;
    return t->halted ? ANSWER_HALT : after(t, t->next.ops->tool_end(t->next.self, index));
}

static int op_finish(void *self, enum answer_finish why, const char *stop_seq)
{
    struct toolcall *t = self;
    if (t->halted)
        return ANSWER_HALT;
    int rc = run(t, 1);
    if (rc != ANSWER_GO || t->halted)
        return rc;
    if (!t->nq && t->fence.len && (rc = fence_flush(t)) != ANSWER_GO)
        return rc;
    if (!t->nq && !t->sent && t->o.required)
        bare_calls(t);
    if (t->nq) {
        rc = end_calls(t);
        return rc == ANSWER_HALT ? ANSWER_GO : rc;
    }
    if (t->o.required && t->o.strict && !t->sent)
        return set_problem(t, NULL, "the answer holds no tool call, and one is required");
    if (t->held.len) {
        rc = after(t, t->next.ops->text(t->next.self, t->held.data, t->held.len));
        buf_reset(&t->held);
        if (rc != ANSWER_GO)
            return rc;
    }
    t->halted = 1;
    return t->next.ops->finish(t->next.self, t->sent ? ANSWER_TOOL_CALLS : why, stop_seq);
}

static int op_error(void *self, const struct answer_error *e)
{
    struct toolcall *t = self;
    t->halted = 1;
    return t->next.ops->error(t->next.self, e);
}

static int op_usage(void *self, const struct answer_usage *u)
{
    struct toolcall *t = self;
    return t->next.ops->usage(t->next.self, u);
}

static const struct sink_ops toolcall_ops = {
    op_start, op_text, op_reasoning, op_tool_begin, op_tool_args, op_tool_end,
    op_finish, op_error, op_usage,
};

struct toolcall *toolcall_new(const struct toolcall_opts *o, struct sink next)
{
    struct toolcall *t = xcalloc(1, sizeof(*t));
    t->next = next;
    t->o = *o;
    if (!t->o.max_call)
        t->o.max_call = 256 * 1024;
    if (!t->o.max_held)
        t->o.max_held = 1024 * 1024;
    buf_init(&t->pend, t->o.max_call + PEND_SMALL + SLICE);
    buf_init(&t->held, t->o.max_held);
    buf_init(&t->fence, FENCE_MAX);
    t->line_start = 1;
    return t;
}

void toolcall_free(struct toolcall *t)
{
    if (!t)
        return;
    queue_clear(t);
    free(t->q);
    buf_cleanup(&t->pend);
    buf_cleanup(&t->held);
    buf_cleanup(&t->fence);
    free(t);
}

struct sink toolcall_sink(struct toolcall *t)
{
    struct sink s = { &toolcall_ops, t };
    return s;
}

const char *toolcall_problem(const struct toolcall *t)
{
    return t->problem[0] ? t->problem : NULL;
}

const char *toolcall_problem_tool(const struct toolcall *t)
{
    return t->problem_tool;
}

void toolcall_retry(struct toolcall *t)
{
    t->problem[0] = '\0';
    t->problem_tool[0] = '\0';
    t->o.strict = 0;
    t->halted = 0;
    t->st = TC_TEXT;
    t->scan = 0;
    t->text_seen = 0;
    queue_clear(t);
    buf_reset(&t->pend);
    buf_reset(&t->held);
    buf_reset(&t->fence);
    t->line_start = 1;
    t->indent = 0;
    t->in_code = 0;
}

int toolcall_sent(const struct toolcall *t)
{
    return t->sent;
}
