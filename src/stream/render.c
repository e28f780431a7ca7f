/* The renderer: chatglm.cn frames in, content and reasoning text out.
 *
 * Parts are kept by logic_id for the whole answer, so a finished part that a
 * later frame repeats adds nothing. Inside a part, each content item (by its
 * index) remembers the raw text received so far; a new value is compared with
 * it to find what is new (cumulative v1 values) or appended (v2 deltas). Every
 * value is a whole JSON string, so what is new always starts and ends on a
 * character boundary: no UTF-8 sequence is ever cut.
 *
 * Content goes out through a few helpers that keep the separators right (the
 * "\n" before a tool block, after search lines or an image, between two text
 * parts), close an inline think block before other content, and release text
 * held back by the citation-marker filter before anything that follows it. */
#include "stream/render.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/jstr.h"
#include "util/xalloc.h"

#define RENDER_DEFAULT_MAX (64u << 20)  /* max_answer 0 */
#define RENDER_MAX_PARTS 1024           /* more parts than this: RENDER_TOO_LONG */
#define RENDER_MAX_ITEMS 256            /* content items per part, likewise */
#define RENDER_MAX_IMAGES 1024          /* distinct image URLs, likewise */
#define PART_KEY_MAX 160
/* The longest citation marker, and so the most text ever held back. */
#define MARKER_MAX 64

#define LENT_OPEN "\xe3\x80\x90"        /* 【 */
#define LENT_CLOSE "\xe3\x80\x91"       /* 】 */
#define DAGGER "\xe2\x80\xa0"           /* † */

enum item_kind {
    ITEM_NONE,
    ITEM_TEXT,        /* "text" */
    ITEM_THINK,       /* "think", "text_thinking" */
    ITEM_CODE,        /* "code" */
    ITEM_EXEC,        /* "execution_output" */
    ITEM_IMAGE,       /* "image" */
    ITEM_QUOTE,       /* "quote_result" */
    ITEM_TOOL_RESULT, /* "tool_result" */
    ITEM_OTHER,       /* tool_calls, one_to_more_finish, unknown: nothing */
};

enum value_mode { MODE_UNDECIDED, MODE_CUMULATIVE, MODE_DELTA };

/* What the content ended with, for the separator rules. */
enum piece {
    PIECE_NONE,
    PIECE_TEXT,
    PIECE_THINK,
    PIECE_SEARCH,
    PIECE_IMAGE,
    PIECE_CODE,
    PIECE_EXEC,
    PIECE_OTHER,
};

struct item {
    enum item_kind kind;
    enum value_mode mode;
    unsigned long serial;   /* identity of this item in the answer (0: none) */
    struct buf acc;         /* raw text received so far, markers included */
    /* The fast path: the JSON-escaped form of acc, exactly as it came, while
     * raw_ok (only frames read by the fast path keep it up to date). */
    struct buf raw;
    int raw_ok;
};

struct part {
    char *key;
    int finished;
    int code_open;          /* "```python\n" was written, the fence is not closed */
    size_t search_taken;    /* search results of this part already used */
    struct item *items;
    size_t nitems;
};

struct render {
    struct render_opts opts;
    size_t max_answer;
    size_t acc_max;         /* cap of one item's raw text */
    enum render_state state;
    int error_code;
    char *error_msg;
    char *conversation_id;
    char *assistant_id;
    unsigned long frames;

    struct buf out_content; /* produced since the last take */
    struct buf out_reasoning;
    int taken;              /* the out buffers were handed out: clear them on the next call */
    size_t produced;        /* content + reasoning bytes of the whole answer */

    struct part **parts;
    size_t nparts, parts_cap;
    struct part *last_part;
    unsigned long next_serial;

    /* Citation filter: the start of a possible marker, not yet decided. */
    char hold[MARKER_MAX];
    size_t hold_len;
    unsigned long hold_serial;
    struct part *hold_part;

    enum piece last;
    unsigned long last_text_serial;
    char last_char;
    size_t content_total;
    int think_open;         /* inline "<think>\n" written, "</think>" not yet */

    char **images;
    size_t nimages;
    char *last_exec;
    struct buf footer;      /* "title - url" lines for RENDER_SEARCH_FOOTER */
    int intervened;         /* a part had status "intervene" */
    char *part_intervene_text;

    int fast;               /* frames go through the fast path first */
    size_t raw_max;         /* cap of one item's raw JSON text */
    struct fview *fv;       /* the fast path's view of a frame (reused) */
};

/* ---- output ---- */

static int render_running(const struct render *r)
{
    return r->state == RENDER_RUNNING;
}

/* Every produced byte passes here. A piece that would pass max_answer is not
 * written at all (so nothing is cut inside a character) and ends the answer. */
static void out_put(struct render *r, struct buf *b, const char *s, size_t n)
{
    if (!n || r->state == RENDER_TOO_LONG)
        return;
    if (n > r->max_answer - r->produced || buf_append(b, s, n) < 0) {
        r->state = RENDER_TOO_LONG;
        return;
    }
    r->produced += n;
}

static void content_put(struct render *r, const char *s, size_t n)
{
    size_t before = r->produced;

    out_put(r, &r->out_content, s, n);
    if (r->produced != before) {
        r->content_total += n;
        r->last_char = s[n - 1];
    }
}

static void content_puts(struct render *r, const char *s)
{
    content_put(r, s, strlen(s));
}

static void filter_flush(struct render *r);

/* Before a piece of content: release text held for another text item, and
 * end an inline think block unless the piece is think text. */
static void content_prepare(struct render *r, enum piece piece, unsigned long serial)
{
    if (r->hold_len && !(piece == PIECE_TEXT && serial == r->hold_serial))
        filter_flush(r);
    if (r->think_open && piece != PIECE_THINK) {
        r->think_open = 0;
        content_puts(r, "</think>\n\n");
        r->last = PIECE_THINK;
    }
}

/* Search lines, images and code fences start on a line of their own. */
static void tool_block_begin(struct render *r, enum piece piece)
{
    content_prepare(r, piece, 0);
    if (r->content_total && r->last_char != '\n')
        content_put(r, "\n", 1);
}

/* Answer text (markers already removed) of the text item `serial`. */
static void text_emit(struct render *r, unsigned long serial, const char *s, size_t n)
{
    if (!n)
        return;
    content_prepare(r, PIECE_TEXT, serial);
    if (r->last == PIECE_SEARCH || r->last == PIECE_IMAGE)
        content_put(r, "\n", 1);
    else if (r->last == PIECE_TEXT && r->last_text_serial != serial && r->last_char != '\n')
        content_put(r, "\n", 1);
    content_put(r, s, n);
    r->last = PIECE_TEXT;
    r->last_text_serial = serial;
}

/* ---- citation markers ----
 * 【<digits>†<anything but 【】>】, and 【turn<digits><verb><digits>】 or
 * [turn<digits><verb><digits>] closed by either bracket. A marker longer than
 * MARKER_MAX bytes is taken as plain text, so no more than that is ever held. */

enum { MATCH_NONE, MATCH_PARTIAL, MATCH_FULL };

/* 1: lit is at s[*p] (p moves past it); 0: it is not; -1: the input ends
 * inside lit while agreeing with it. */
static int match_lit(const char *s, size_t n, size_t *p, const char *lit)
{
    size_t k = strlen(lit), avail = n - *p;
    size_t m = avail < k ? avail : k;

    if (memcmp(s + *p, lit, m) != 0)
        return 0;
    if (m < k)
        return -1;
    *p += k;
    return 1;
}

/* One or more digits; -1 when the input ends in them (more may follow). */
static int match_digits(const char *s, size_t n, size_t *p)
{
    size_t q = *p;

    while (q < n && s[q] >= '0' && s[q] <= '9')
        q++;
    if (q == n)
        return -1;
    if (q == *p)
        return 0;
    *p = q;
    return 1;
}

/* <digits>†<anything but 【】>】 */
static int match_cite(const char *s, size_t n, size_t *p)
{
    int k = match_digits(s, n, p);

    if (k > 0)
        k = match_lit(s, n, p, DAGGER);
    while (k > 0) {
        size_t q = *p;
        if (q == n)
            return -1;
        k = match_lit(s, n, &q, LENT_CLOSE);
        if (k) {
            *p = q;
            return k;
        }
        k = match_lit(s, n, &q, LENT_OPEN);
        if (k)
            return k < 0 ? -1 : 0;
        (*p)++;
        k = 1;
    }
    return k;
}

/* turn<digits>(search|fetch|click|find)<digits> then ] or 】 */
static int match_turn(const char *s, size_t n, size_t *p)
{
    static const char *const verbs[] = { "search", "fetch", "click", "find" };
    int k = match_lit(s, n, p, "turn");

    if (k > 0)
        k = match_digits(s, n, p);
    if (k > 0) {
        int best = 0;
        for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]) && best <= 0; i++) {
            int v = match_lit(s, n, p, verbs[i]);
            if (v)
                best = v;
        }
        k = best;
    }
    if (k > 0)
        k = match_digits(s, n, p);
    if (k > 0) {
        k = match_lit(s, n, p, "]");
        if (k == 0)
            k = match_lit(s, n, p, LENT_CLOSE);
    }
    return k;
}

/* Whether s[0..n) (n <= MARKER_MAX) starts with a marker: MATCH_FULL (its
 * length in *len), MATCH_PARTIAL (more input may still make one) or
 * MATCH_NONE. */
static int marker_match(const char *s, size_t n, size_t *len)
{
    size_t p = 0;
    int k = match_lit(s, n, &p, LENT_OPEN);
    int wide = k > 0;

    if (k == 0)
        k = match_lit(s, n, &p, "[");
    if (k > 0 && wide && p < n && s[p] != 't')
        k = match_cite(s, n, &p);
    else if (k > 0)
        k = match_turn(s, n, &p);
    if (k > 0) {
        *len = p;
        return MATCH_FULL;
    }
    return k < 0 && n < MARKER_MAX ? MATCH_PARTIAL : MATCH_NONE;
}

/* Scans text with nothing held: plain text goes out, markers are skipped, a
 * possible marker cut by the end of s is held. */
static void filter_scan(struct render *r, unsigned long serial, struct part *pt, const char *s,
                        size_t n)
{
    size_t i = 0, start = 0;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c != '[' && c != 0xe3) {
            i++;
            continue;
        }
        size_t avail = n - i, mlen = 0;
        int m = marker_match(s + i, avail < MARKER_MAX ? avail : MARKER_MAX, &mlen);
        if (m == MATCH_NONE) {
            i++;
            continue;
        }
        text_emit(r, serial, s + start, i - start);
        if (m == MATCH_FULL) {
            i += mlen;
            start = i;
            continue;
        }
        memcpy(r->hold, s + i, avail);
        r->hold_len = avail;
        r->hold_serial = serial;
        r->hold_part = pt;
        return;
    }
    text_emit(r, serial, s + start, n - start);
}

/* New text of a text item, through the marker filter. */
static void filter_push(struct render *r, unsigned long serial, struct part *pt, const char *s,
                        size_t n)
{
    if (r->hold_len && r->hold_serial != serial)
        filter_flush(r);
    while (n && r->hold_len) {
        char win[MARKER_MAX];
        size_t h = r->hold_len, take = n < MARKER_MAX - h ? n : MARKER_MAX - h, mlen = 0;

        memcpy(win, r->hold, h);
        memcpy(win + h, s, take);
        int m = marker_match(win, h + take, &mlen);
        if (m == MATCH_PARTIAL) {
            /* Only when all of s fit in the window (it is shorter than a marker). */
            memcpy(r->hold + h, s, take);
            r->hold_len = h + take;
            return;
        }
        r->hold_len = 0;
        r->hold_part = NULL;
        if (m == MATCH_FULL) {
            /* The held part was undecided, so the marker ends inside s. */
            size_t used = mlen > h ? mlen - h : 0;
            s += used;
            n -= used;
            continue;
        }
        /* Not a marker: the opening bracket is text; look again after it. */
        size_t blen = (unsigned char)win[0] == 0xe3 && h >= 3 ? 3 : 1;
        text_emit(r, serial, win, blen);
        filter_scan(r, serial, pt, win + blen, h - blen);
    }
    if (n)
        filter_scan(r, serial, pt, s, n);
}

/* Releases held text as it is (the end of a text item or of the answer). */
static void filter_flush(struct render *r)
{
    char tmp[MARKER_MAX];
    size_t n = r->hold_len;

    if (!n)
        return;
    memcpy(tmp, r->hold, n);
    r->hold_len = 0;
    r->hold_part = NULL;
    text_emit(r, r->hold_serial, tmp, n);
}

/* ---- items ---- */

static void think_emit(struct render *r, const char *s, size_t n)
{
    if (!n)
        return;
    switch (r->opts.think) {
    case RENDER_THINK_REASONING:
        out_put(r, &r->out_reasoning, s, n);
        break;
    case RENDER_THINK_INLINE:
        content_prepare(r, PIECE_THINK, 0);
        if (!r->think_open) {
            content_puts(r, "<think>\n");
            r->think_open = 1;
        }
        content_put(r, s, n);
        r->last = PIECE_THINK;
        break;
    case RENDER_THINK_HIDDEN:
        break;
    }
}

static void code_emit(struct render *r, struct part *pt, const char *s, size_t n)
{
    if (!n)
        return;
    if (!pt->code_open) {
        tool_block_begin(r, PIECE_CODE);
        content_puts(r, "```python\n");
        pt->code_open = 1;
    } else {
        content_prepare(r, PIECE_CODE, 0);
    }
    content_put(r, s, n);
    r->last = PIECE_CODE;
}

static int prefix_of(const struct buf *a, const char *v, size_t n)
{
    return n >= a->len && (a->len == 0 || memcmp(v, a->data, a->len) == 0);
}

/* What is new in value v of a text-like item. final: the part finishes with
 * this value, which is then the whole text. Returns where in v the new text
 * starts (0, or the length of what the item had), or -1 when nothing was
 * added. */
static long item_update(struct render *r, struct item *it, const char *v, size_t n, int final,
                        const char **d, size_t *dn)
{
    struct buf *a = &it->acc;
    enum value_mode mode = it->mode;
    size_t from = 0;

    *d = v;
    *dn = 0;
    if (final) {
        /* The complete text: add what is missing (lost deltas, or text a part
         * first seen finished never showed); a value that does not continue
         * what was emitted cannot be added without repeating, so it adds
         * nothing. */
        if (!prefix_of(a, v, n))
            return -1;
        from = a->len;
    } else {
        if (!n)
            return -1;
        if (r->opts.profile == RENDER_PROFILE_V1)
            mode = MODE_CUMULATIVE;
        else if (r->opts.profile == RENDER_PROFILE_V2)
            mode = MODE_DELTA;
        else if (mode == MODE_UNDECIDED && a->len) {
            /* AUTO: the first value is taken as is; the next one that differs
             * from it decides for the rest of the item. */
            if (n == a->len && memcmp(v, a->data, n) == 0)
                return -1;
            mode = it->mode = prefix_of(a, v, n) ? MODE_CUMULATIVE : MODE_DELTA;
        }
        if (mode == MODE_CUMULATIVE) {
            /* A value that diverges from the text emitted (or repeats it) has
             * nothing new until it extends that text again. */
            if (!prefix_of(a, v, n))
                return -1;
            from = a->len;
        }
    }
    if (buf_append(a, v + from, n - from) < 0) {
        r->state = RENDER_TOO_LONG;
        return -1;
    }
    *d = v + from;
    *dn = n - from;
    return (long)from;
}

static void item_reset(struct render *r, struct item *it, enum item_kind kind)
{
    buf_cleanup(&it->acc);
    buf_init(&it->acc, r->acc_max);
    buf_cleanup(&it->raw);
    buf_init(&it->raw, r->raw_max);
    it->raw_ok = 1;
    it->kind = kind;
    it->mode = MODE_UNDECIDED;
    it->serial = ++r->next_serial;
}

static enum item_kind item_kind_of(const char *type, const char **field)
{
    static const struct {
        const char *type, *field;
        enum item_kind kind;
    } kinds[] = {
        { "text", "text", ITEM_TEXT },
        { "think", "think", ITEM_THINK },
        { "text_thinking", "text", ITEM_THINK },
        { "code", "code", ITEM_CODE },
        { "execution_output", "content", ITEM_EXEC },
        { "image", "image", ITEM_IMAGE },
        { "quote_result", NULL, ITEM_QUOTE },
        { "tool_result", NULL, ITEM_TOOL_RESULT },
    };

    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(type, kinds[i].type) == 0) {
            *field = kinds[i].field;
            return kinds[i].kind;
        }
    }
    *field = NULL;
    return ITEM_OTHER;
}

static int image_seen(struct render *r, const char *url)
{
    for (size_t i = 0; i < r->nimages; i++)
        if (strcmp(r->images[i], url) == 0)
            return 1;
    return 0;
}

/* Every http(s) image URL once per answer, as soon as it shows up: the 2026
 * drawing sends its images one per frame, in any order. */
static void image_render(struct render *r, json_t *jitem)
{
    json_t *list = json_object_get(jitem, "image"), *e;
    size_t i;

    json_array_foreach(list, i, e) {
        const char *url = json_string_value(json_object_get(e, "image_url"));
        if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) ||
            image_seen(r, url))
            continue;
        if (r->nimages == RENDER_MAX_IMAGES) {
            r->state = RENDER_TOO_LONG;
            return;
        }
        if (!r->images)
            r->images = xcalloc(RENDER_MAX_IMAGES, sizeof(*r->images));
        r->images[r->nimages++] = xstrdup(url);
        tool_block_begin(r, PIECE_IMAGE);
        content_puts(r, "![图像](");
        content_puts(r, url);
        content_puts(r, ")\n");
        r->last = PIECE_IMAGE;
    }
}

static void exec_render(struct render *r, json_t *jitem)
{
    json_t *jc = json_object_get(jitem, "content");
    const char *c = json_string_value(jc);
    size_t n = json_string_length(jc);

    if (!c)
        return;
    if (r->last_exec && strcmp(r->last_exec, c) == 0)
        return;
    free(r->last_exec);
    r->last_exec = xstrdup(c);
    if (n && c[0] == '\n') {
        c++;
        n--;
    }
    content_prepare(r, PIECE_EXEC, 0);
    content_put(r, c, n);
    content_put(r, "\n", 1);
    r->last = PIECE_EXEC;
}

/* Search results of a part: quote_result keeps them in the part's
 * meta_data.metadata_list, tool_result (2025+) in
 * meta_data.tool_result_extra.search_results. Results a part already gave
 * are not used again, so a list that grows between frames adds only its new
 * entries. */
static void search_render(struct render *r, struct part *pt, json_t *jpart, enum item_kind kind)
{
    json_t *meta = json_object_get(jpart, "meta_data"), *list;

    if (r->opts.search == RENDER_SEARCH_HIDDEN)
        return;
    if (kind == ITEM_QUOTE)
        list = json_object_get(meta, "metadata_list");
    else
        list = json_object_get(json_object_get(meta, "tool_result_extra"), "search_results");

    size_t n = json_array_size(list);
    for (size_t i = pt->search_taken; i < n && render_running(r); i++) {
        json_t *e = json_array_get(list, i);
        const char *title = json_string_value(json_object_get(e, "title"));
        const char *url = json_string_value(json_object_get(e, "url"));
        if (!url)
            continue;
        if (!title)
            title = "";
        if (r->opts.search == RENDER_SEARCH_INLINE) {
            tool_block_begin(r, PIECE_SEARCH);
            content_puts(r, "检索 ");
            content_puts(r, title);
            content_puts(r, "(");
            content_puts(r, url);
            content_puts(r, ") ...\n");
            r->last = PIECE_SEARCH;
        } else if ((r->footer.len && buf_putc(&r->footer, '\n') < 0) ||
                   buf_printf(&r->footer, "%s - %s", title, url) < 0) {
            r->state = RENDER_TOO_LONG;
        }
    }
    if (n > pt->search_taken)
        pt->search_taken = n;
}

/* The item at idx of a part, made a fresh one of this kind when it was of
 * another; NULL past RENDER_MAX_ITEMS (the answer is then too long). */
static struct item *item_at(struct render *r, struct part *pt, size_t idx, enum item_kind kind)
{
    if (idx >= RENDER_MAX_ITEMS) {
        r->state = RENDER_TOO_LONG;
        return NULL;
    }
    if (idx >= pt->nitems) {
        pt->items = xrealloc(pt->items, (idx + 1) * sizeof(*pt->items));
        memset(pt->items + pt->nitems, 0, (idx + 1 - pt->nitems) * sizeof(*pt->items));
        pt->nitems = idx + 1;
    }

    struct item *it = &pt->items[idx];
    if (it->kind != kind)
        item_reset(r, it, kind);
    return it;
}

/* The new text of a text, think or code item goes out. */
static void item_emit(struct render *r, struct part *pt, const struct item *it, const char *d,
                      size_t dn)
{
    if (!dn)
        return;
    if (it->kind == ITEM_TEXT)
        filter_push(r, it->serial, pt, d, dn);
    else if (it->kind == ITEM_THINK)
        think_emit(r, d, dn);
    else
        code_emit(r, pt, d, dn);
}

static void item_process(struct render *r, struct part *pt, size_t idx, json_t *jitem,
                         json_t *jpart, int final)
{
    const char *type = json_string_value(json_object_get(jitem, "type"));
    const char *field = NULL;

    if (!type)
        return;
    enum item_kind kind = item_kind_of(type, &field);
    switch (kind) {
    case ITEM_EXEC:
        if (final)
            exec_render(r, jitem);
        return;
    case ITEM_IMAGE:
        image_render(r, jitem);
        return;
    case ITEM_QUOTE:
    case ITEM_TOOL_RESULT:
        search_render(r, pt, jpart, kind);
        return;
    case ITEM_TEXT:
    case ITEM_THINK:
    case ITEM_CODE:
        break;
    default:
        return;
    }

    json_t *jv = json_object_get(jitem, field);
    const char *v = json_string_value(jv);
    if (!v)
        return;
    struct item *it = item_at(r, pt, idx, kind);
    if (!it)
        return;

    const char *d;
    size_t dn;
    if (item_update(r, it, v, json_string_length(jv), final, &d, &dn) >= 0)
        it->raw_ok = 0; /* acc changed without its raw form */
    item_emit(r, pt, it, d, dn);
}

/* ---- parts ---- */

/* The part of this key, or NULL; changes nothing. */
static struct part *part_find(const struct render *r, const char *key)
{
    if (r->last_part && strcmp(r->last_part->key, key) == 0)
        return r->last_part;
    for (size_t i = 0; i < r->nparts; i++) {
        if (strcmp(r->parts[i]->key, key) == 0)
            return r->parts[i];
    }
    return NULL;
}

static struct part *part_get(struct render *r, const char *key)
{
    struct part *pt = part_find(r, key);

    if (pt)
        return r->last_part = pt;
    if (r->nparts == RENDER_MAX_PARTS)
        return NULL;
    if (r->nparts == r->parts_cap) {
        r->parts_cap = r->parts_cap ? 2 * r->parts_cap : 8;
        r->parts = xrealloc(r->parts, r->parts_cap * sizeof(*r->parts));
    }
    pt = xcalloc(1, sizeof(*pt));
    pt->key = xstrdup(key);
    r->parts[r->nparts++] = pt;
    return r->last_part = pt;
}

static void part_free(struct part *pt)
{
    if (!pt)
        return;
    for (size_t i = 0; i < pt->nitems; i++) {
        buf_cleanup(&pt->items[i].acc);
        buf_cleanup(&pt->items[i].raw);
    }
    free(pt->items);
    free(pt->key);
    free(pt);
}

/* A finished part adds nothing more: its held text goes out, its code fence
 * closes, and the raw text it kept is no longer needed. */
static void part_finish(struct render *r, struct part *pt)
{
    if (r->hold_len && r->hold_part == pt)
        filter_flush(r);
    if (pt->code_open) {
        pt->code_open = 0;
        content_prepare(r, PIECE_CODE, 0);
        content_puts(r, "\n```\n");
        r->last = PIECE_CODE;
    }
    pt->finished = 1;
    for (size_t i = 0; i < pt->nitems; i++) {
        buf_cleanup(&pt->items[i].acc);
        buf_cleanup(&pt->items[i].raw);
        pt->items[i].raw_ok = 0;
    }
}

/* Parts are named by logic_id; one without it by its id and its place. */
static void part_key(char key[PART_KEY_MAX], const char *logic_id, const char *id, size_t index)
{
    if (logic_id)
        snprintf(key, PART_KEY_MAX, "%.150s", logic_id);
    else
        snprintf(key, PART_KEY_MAX, "\x01%.128s#%zu", id ? id : "", index);
}

static void part_process(struct render *r, json_t *jpart, size_t index)
{
    const char *logic_id = json_string_value(json_object_get(jpart, "logic_id"));
    const char *status = json_string_value(json_object_get(jpart, "status"));
    char key[PART_KEY_MAX];

    part_key(key, logic_id, json_string_value(json_object_get(jpart, "id")), index);

    struct part *pt = part_get(r, key);
    if (!pt) {
        r->state = RENDER_TOO_LONG;
        return;
    }
    if (pt->finished)
        return;

    int final = status && strcmp(status, "finish") == 0;
    int intervene = status && strcmp(status, "intervene") == 0;
    json_t *content = json_object_get(jpart, "content"), *jitem;
    size_t i;

    json_array_foreach(content, i, jitem) {
        if (!render_running(r))
            return;
        item_process(r, pt, i, jitem, jpart, final);
    }
    if (intervene) {
        const char *t =
            json_string_value(json_object_get(json_object_get(jpart, "error"), "intervene_text"));
        r->intervened = 1;
        if (t && !r->part_intervene_text)
            r->part_intervene_text = xstrdup(t);
    }
    if (final || intervene)
        part_finish(r, pt);
}

/* ---- frames ---- */

static void out_settle(struct render *r)
{
    if (r->taken) {
        buf_reset(&r->out_content);
        buf_reset(&r->out_reasoning);
        r->taken = 0;
    }
}

static void id_take_str(char **dst, const char *s)
{
    if (!*dst && s && *s)
        *dst = xstrdup(s);
}

static void id_take(char **dst, json_t *v)
{
    id_take_str(dst, json_string_value(v));
}

static void error_take(struct render *r, json_t *root)
{
    json_t *e = json_object_get(root, "error");

    if (!json_is_object(e) || (!json_object_get(e, "error_code") && !json_object_get(e, "err_msg")))
        e = json_object_get(root, "last_error");

    json_t *code = json_object_get(e, "error_code");
    const char *msg = json_string_value(json_object_get(e, "err_msg"));
    if (json_is_integer(code))
        r->error_code = (int)json_integer_value(code);
    else if (json_is_string(code))
        r->error_code = (int)strtol(json_string_value(code), NULL, 10);
    r->error_msg = xstrdup(msg ? msg : "upstream error");
}

/* The end of the answer: held text goes out, an inline think block closes,
 * then the search footer or the moderation notice. */
static void render_close(struct render *r, enum render_state st, json_t *root)
{
    content_prepare(r, PIECE_OTHER, 0);
    if (st == RENDER_DONE && r->footer.len) {
        content_puts(r, "\n\n搜索结果来自：\n");
        content_put(r, r->footer.data, r->footer.len);
        r->last = PIECE_OTHER;
    } else if (st == RENDER_FILTERED) {
        const char *t = NULL;
        if (root)
            t = json_string_value(
                json_object_get(json_object_get(root, "last_error"), "intervene_text"));
        if (!t)
            t = r->part_intervene_text;
        if (t && *t) {
            content_puts(r, "\n\n");
            content_puts(r, t);
            r->last = PIECE_OTHER;
        }
    } else if (st == RENDER_FAILED && root) {
        error_take(r, root);
    }
    if (render_running(r))
        r->state = st;
}


/* ---- the fast path ----
 *
 * A v1 answer repeats its whole text in every frame: 2,000 frames of a
 * 100 KB answer are 100 MB of JSON, and a DOM parse of each frame (jansson
 * decodes and copies every string) costs over a second. The fast path reads
 * a frame with a small scanner that keeps strings as raw slices of the
 * frame, and decodes the value of a text item only past the raw bytes that
 * item already received: decode(a + b) == decode(a) + decode(b) when a and b
 * are both whole JSON string bodies, and a JSON-valid prefix needs no second
 * check. So a frame costs a memchr and a memcmp over the repeated text, plus
 * the work on what is new.
 *
 * It accepts only what it can read exactly as jansson would (same strings,
 * same last-duplicate-key-wins objects, same validity) and only frames made
 * of text, think and code items; anything else (tool output, images, search
 * results, intervene, error, unusual numbers, deep nesting, invalid JSON)
 * goes to the DOM path above before anything changed. The scanner first
 * reads and checks the whole frame, then the frame is applied with the same
 * helpers the DOM path uses. tests/unit/test_render.c compares the two on
 * random frames. */

#define FV_MAX_PARTS 1024       /* parts (and items) of one frame the view holds */
#define FV_MAX_ITEMS 4096
#define FV_MAX_DEPTH 64         /* nesting; jansson allows 2048 */
#define FV_NAME_MAX 16          /* longest member name the scanner looks for, + 1 */

enum { FV_TEXT, FV_THINK, FV_CODE, FV_FIELDS };

/* A JSON string: its body (between the quotes), raw. p is NULL when the
 * member is absent or its value is not a string. */
struct fv_str {
    const char *p;
    size_t n;
    size_t off;                 /* p - the frame */
};

struct fv_item {
    int obj;                    /* the element is an object */
    struct fv_str type;
    long hot[FV_FIELDS];        /* the text/think/code value: index in hot, or -1 */
    enum item_kind kind;        /* set by the check */
    long value;                 /* the hot string the kind reads, or -1 */
};

struct fv_part {
    int obj;
    struct fv_str logic_id, id, status;
    size_t first, nitems;       /* its content items in fview.items */
    int final;                  /* set by the check: status "finish" */
    char key[PART_KEY_MAX];     /* set by the check */
};

/* Every text/think/code string of the frame, also one a later duplicate
 * member replaced: jansson checks them all. */
struct fv_hot {
    const char *p;
    size_t n;
    size_t off;
    size_t part, item;          /* where it was: part index, index in content */
};

struct fview {
    struct fv_str conv, assistant, status;
    struct fv_part *parts;
    size_t nparts, parts_cap;
    struct fv_item *items;
    size_t nitems, items_cap;
    struct fv_hot *hot;
    size_t nhot, hot_cap;
    int finish;                 /* the frame's status is "finish" */
    struct buf tmp;             /* decoded strings */
    /* The last frame, when it had one text value: the bytes before and after
     * that value. A frame that differs from it only inside the value (the
     * usual case: the next frame of the same answer) reuses this view. */
    struct buf shape;
    size_t shape_pre, shape_hot;
    int shape_ok;
};

static int fast_default = 1;

void render_set_fast_path(int on)
{
    fast_default = on;
}

static void fview_free(struct fview *fv)
{
    if (!fv)
        return;
    free(fv->parts);
    free(fv->items);
    free(fv->hot);
    buf_cleanup(&fv->tmp);
    buf_cleanup(&fv->shape);
    free(fv);
}

/* Room for one more element of a view array; -1 past max. */
static int fv_grow(void **v, size_t *cap, size_t n, size_t size, size_t max)
{
    if (n < *cap)
        return 0;
    if (n >= max)
        return -1;
    *cap = *cap ? 2 * *cap : 2;
    if (*cap > max)
        *cap = max;
    *v = xrealloc(*v, *cap * size);
    return 0;
}

/* ---- JSON strings (util/jstr reads them exactly as jansson does) ---- */

/* The decoded text of a short string (ids, names, status), NUL-terminated as
 * jansson's json_string_value() is; NULL for a missing string. Valid until
 * the next append to the view's tmp (which may move it). */
static const char *fv_text(struct fview *fv, const struct fv_str *v)
{
    if (!v->p)
        return NULL;
    size_t at = fv->tmp.len;
    if (jstr_decode(v->p, v->n, &fv->tmp) < 0 || buf_putc(&fv->tmp, '\0') < 0)
        return NULL; /* cannot happen: tmp is as large as a frame */
    return fv->tmp.data + at;
}

/* ---- the scanner ---- */

struct scan {
    const char *s, *end;
    struct fview *fv;
    const char *start;
};

static void scan_ws(struct scan *sc)
{
    while (sc->s < sc->end &&
           (*sc->s == ' ' || *sc->s == '\t' || *sc->s == '\n' || *sc->s == '\r'))
        sc->s++;
}

/* At a '"': the body up to the closing quote. A hot string (a text value,
 * possibly long and mostly seen before) is only delimited here, with memchr
 * (the closing quote is the first one after an even run of backslashes), and
 * checked later against what its item already holds; any other string is
 * checked in the same walk that finds its end. */
static int scan_string(struct scan *sc, struct fv_str *out, int hot, int *nul)
{
    const char *b = sc->s + 1, *q = b;
    int z = 0;

    if (hot) {
        for (;;) {
            q = memchr(q, '"', (size_t)(sc->end - q));
            if (!q)
                return -1;
            const char *k = q;
            while (k > b && k[-1] == '\\')
                k--;
            if (((q - k) & 1) == 0)
                break;
            q++;
        }
    } else {
        q = jstr_walk(b, sc->end, &z);
        if (!q || q == sc->end)
            return -1;
    }
    if (nul)
        *nul = z;
    out->p = b;
    out->n = (size_t)(q - b);
    out->off = (size_t)(b - sc->start);
    sc->s = q + 1;
    return 0;
}

/* A number jansson reads without overflow: integers of up to 18 digits,
 * reals with up to 100 integer digits and a one- or two-digit exponent. The
 * rest is valid JSON too, but left to jansson. */
static int scan_number(struct scan *sc)
{
    const char *p = sc->s, *e = sc->end;
    size_t idigits = 0, edigits = 0;
    int real = 0;

    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0') {
        p++;
        idigits = 1;
    } else {
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
            idigits++;
        }
    }
    if (!idigits || (p < e && *p >= '0' && *p <= '9'))
        return -1;
    if (p < e && *p == '.') {
        real = 1;
        if (++p >= e || *p < '0' || *p > '9')
            return -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
            edigits++;
        }
        if (!edigits || edigits > 2)
            return -1;
    }
    if (real ? idigits > 100 : idigits > 18)
        return -1;
    sc->s = p;
    return 0;
}

static int scan_value(struct scan *sc, int depth);

/* A member name: checked, and copied into name when it is short enough to be
 * one we look for (else name is ""). Leaves sc after the ':'. */
static int scan_name(struct scan *sc, char name[FV_NAME_MAX])
{
    struct fv_str k;
    int nul = 0;

    name[0] = '\0';
    if (sc->s >= sc->end || *sc->s != '"' || scan_string(sc, &k, 0, &nul) < 0 || nul)
        return -1;
    if (k.n < FV_NAME_MAX && !memchr(k.p, '\\', k.n)) {
        memcpy(name, k.p, k.n);
        name[k.n] = '\0';
    } else if (k.n < 6 * FV_NAME_MAX) {
        /* Escaped: decode it (a name may be spelled "\u0074ext"). */
        struct buf *t = &sc->fv->tmp;
        size_t at = t->len;
        if (jstr_decode(k.p, k.n, t) < 0)
            return -1;
        if (t->len - at < FV_NAME_MAX) {
            memcpy(name, t->data + at, t->len - at);
            name[t->len - at] = '\0';
        }
        buf_truncate(t, at);
    }
    scan_ws(sc);
    if (sc->s >= sc->end || *sc->s != ':')
        return -1;
    sc->s++;
    scan_ws(sc);
    return 0;
}

/* After a member or element: 1 when another follows (past the ','), 0 at the
 * closing character (consumed), -1 otherwise. */
static int scan_next(struct scan *sc, char close)
{
    scan_ws(sc);
    if (sc->s < sc->end && *sc->s == ',') {
        sc->s++;
        scan_ws(sc);
        return 1;
    }
    if (sc->s < sc->end && *sc->s == close) {
        sc->s++;
        return 0;
    }
    return -1;
}

/* At '{' or '[': 1 when the container has members (sc at the first), 0 when
 * it is empty (consumed). */
static int scan_open(struct scan *sc, char close)
{
    sc->s++;
    scan_ws(sc);
    if (sc->s < sc->end && *sc->s == close) {
        sc->s++;
        return 0;
    }
    return 1;
}

static int scan_at(const struct scan *sc, char c)
{
    return sc->s < sc->end && *sc->s == c;
}

/* Any value, checked and skipped. */
static int scan_value(struct scan *sc, int depth)
{
    struct fv_str str;
    char name[FV_NAME_MAX];
    int more;

    if (sc->s >= sc->end || depth > FV_MAX_DEPTH)
        return -1;
    switch (*sc->s) {
    case '"':
        return scan_string(sc, &str, 0, NULL);
    case '{':
        for (more = scan_open(sc, '}'); more > 0; more = scan_next(sc, '}'))
            if (scan_name(sc, name) < 0 || scan_value(sc, depth + 1) < 0)
                return -1;
        return more;
    case '[':
        for (more = scan_open(sc, ']'); more > 0; more = scan_next(sc, ']'))
            if (scan_value(sc, depth + 1) < 0)
                return -1;
        return more;
    case 't':
    case 'f':
    case 'n': {
        const char *lit = *sc->s == 't' ? "true" : *sc->s == 'f' ? "false" : "null";
        size_t k = strlen(lit);
        if ((size_t)(sc->end - sc->s) < k || memcmp(sc->s, lit, k) != 0)
            return -1;
        sc->s += k;
        return 0;
    }
    default:
        return scan_number(sc);
    }
}

/* A member that is read when it is a string: the string, or NULL (and the
 * value skipped) when it is something else. */
static int scan_str_member(struct scan *sc, struct fv_str *out, int depth)
{
    if (scan_at(sc, '"'))
        return scan_string(sc, out, 0, NULL);
    out->p = NULL;
    return scan_value(sc, depth);
}

/* One content item: its type and its text, think and code strings. */
static int scan_item(struct scan *sc, size_t part, size_t index, size_t iv, int depth)
{
    struct fview *fv = sc->fv;
    char name[FV_NAME_MAX];
    int more;

    for (more = scan_open(sc, '}'); more > 0; more = scan_next(sc, '}')) {
        if (scan_name(sc, name) < 0)
            return -1;
        int f = strcmp(name, "text") == 0    ? FV_TEXT
                : strcmp(name, "think") == 0 ? FV_THINK
                : strcmp(name, "code") == 0  ? FV_CODE : -1;
        if (strcmp(name, "type") == 0) {
            if (scan_str_member(sc, &fv->items[iv].type, depth) < 0)
                return -1;
        } else if (f >= 0 && scan_at(sc, '"')) {
            if (fv_grow((void **)&fv->hot, &fv->hot_cap, fv->nhot, sizeof(*fv->hot),
                        FV_MAX_ITEMS) < 0)
                return -1;
            struct fv_hot *h = &fv->hot[fv->nhot];
            struct fv_str v;
            if (scan_string(sc, &v, 1, NULL) < 0)
                return -1;
            h->p = v.p;
            h->n = v.n;
            h->off = v.off;
            h->part = part;
            h->item = index;
            fv->items[iv].hot[f] = (long)fv->nhot++;
        } else {
            if (f >= 0)
                fv->items[iv].hot[f] = -1;
            if (scan_value(sc, depth) < 0)
                return -1;
        }
    }
    return more;
}

static int scan_content(struct scan *sc, size_t part, int depth)
{
    struct fview *fv = sc->fv;
    int more;

    fv->parts[part].first = fv->nitems;
    fv->parts[part].nitems = 0;
    for (more = scan_open(sc, ']'); more > 0; more = scan_next(sc, ']')) {
        if (fv_grow((void **)&fv->items, &fv->items_cap, fv->nitems, sizeof(*fv->items),
                    FV_MAX_ITEMS) < 0)
            return -1;
        size_t iv = fv->nitems++;
        struct fv_item *it = &fv->items[iv];
        memset(it, 0, sizeof(*it));
        it->hot[FV_TEXT] = it->hot[FV_THINK] = it->hot[FV_CODE] = it->value = -1;
        size_t index = fv->parts[part].nitems++;
        if (scan_at(sc, '{')) {
            it->obj = 1;
            if (scan_item(sc, part, index, iv, depth + 1) < 0)
                return -1;
        } else if (scan_value(sc, depth + 1) < 0) {
            return -1;
        }
    }
    return more;
}

static int scan_part(struct scan *sc, size_t part, int depth)
{
    struct fview *fv = sc->fv;
    char name[FV_NAME_MAX];
    int more;

    for (more = scan_open(sc, '}'); more > 0; more = scan_next(sc, '}')) {
        if (scan_name(sc, name) < 0)
            return -1;
        int rc;
        if (strcmp(name, "logic_id") == 0)
            rc = scan_str_member(sc, &fv->parts[part].logic_id, depth);
        else if (strcmp(name, "id") == 0)
            rc = scan_str_member(sc, &fv->parts[part].id, depth);
        else if (strcmp(name, "status") == 0)
            rc = scan_str_member(sc, &fv->parts[part].status, depth);
        else if (strcmp(name, "content") == 0 && scan_at(sc, '['))
            rc = scan_content(sc, part, depth + 1);
        else {
            if (strcmp(name, "content") == 0)
                fv->parts[part].nitems = 0;
            rc = scan_value(sc, depth);
        }
        if (rc < 0)
            return -1;
    }
    return more;
}

static int scan_parts(struct scan *sc, int depth)
{
    struct fview *fv = sc->fv;
    int more;

    fv->nparts = 0; /* a repeated "parts" member replaces the first */
    for (more = scan_open(sc, ']'); more > 0; more = scan_next(sc, ']')) {
        if (fv_grow((void **)&fv->parts, &fv->parts_cap, fv->nparts, sizeof(*fv->parts),
                    FV_MAX_PARTS) < 0)
            return -1;
        size_t pv = fv->nparts++;
        memset(&fv->parts[pv], 0, sizeof(fv->parts[pv]));
        if (scan_at(sc, '{')) {
            fv->parts[pv].obj = 1;
            if (scan_part(sc, pv, depth + 1) < 0)
                return -1;
        } else if (scan_value(sc, depth + 1) < 0) {
            return -1;
        }
    }
    return more;
}

/* The whole frame: an object, and nothing after it but white space. */
static int scan_frame(struct scan *sc)
{
    struct fview *fv = sc->fv;
    char name[FV_NAME_MAX];
    int more;

    scan_ws(sc);
    if (!scan_at(sc, '{'))
        return -1;
    for (more = scan_open(sc, '}'); more > 0; more = scan_next(sc, '}')) {
        if (scan_name(sc, name) < 0)
            return -1;
        int rc;
        if (strcmp(name, "conversation_id") == 0)
            rc = scan_str_member(sc, &fv->conv, 1);
        else if (strcmp(name, "assistant_id") == 0)
            rc = scan_str_member(sc, &fv->assistant, 1);
        else if (strcmp(name, "status") == 0)
            rc = scan_str_member(sc, &fv->status, 1);
        else if (strcmp(name, "parts") == 0 && scan_at(sc, '['))
            rc = scan_parts(sc, 2);
        else {
            if (strcmp(name, "parts") == 0)
                fv->nparts = 0;
            rc = scan_value(sc, 1);
        }
        if (rc < 0)
            return -1;
    }
    if (more < 0)
        return -1;
    scan_ws(sc);
    return sc->s == sc->end ? 0 : -1;
}

/* ---- checking and applying a scanned frame ---- */

/* Checks a text/think/code string. What its item already holds in raw form
 * was checked when it came, so only the rest is looked at. */
static int fv_hot_check(struct render *r, struct fview *fv, const struct fv_hot *h)
{
    size_t skip = 0;
    int nul = 0;

    if (h->part < fv->nparts && fv->parts[h->part].obj) {
        const struct part *pt = part_find(r, fv->parts[h->part].key);
        if (pt && h->item < pt->nitems) {
            const struct item *it = &pt->items[h->item];
            if (it->raw_ok && it->raw.len && h->n >= it->raw.len &&
                memcmp(h->p, it->raw.data, it->raw.len) == 0)
                skip = it->raw.len;
        }
    }
    return jstr_check(h->p + skip, h->n - skip, &nul);
}

/* Everything the DOM path would read but the text values, and whether the
 * fast path may take the frame: 0 yes, -1 no (nothing changed). */
static int fv_check_shape(struct fview *fv)
{
    const char *st = fv_text(fv, &fv->status);

    if (st && (strcmp(st, "error") == 0 || strcmp(st, "intervene") == 0))
        return -1;
    fv->finish = st && strcmp(st, "finish") == 0;
    for (size_t i = 0; i < fv->nparts; i++) {
        struct fv_part *pv = &fv->parts[i];
        if (!pv->obj)
            continue;
        const char *pst = fv_text(fv, &pv->status);
        if (pst && strcmp(pst, "intervene") == 0)
            return -1;
        pv->final = pst && strcmp(pst, "finish") == 0;
        /* One decoded string at a time: the next may move tmp. */
        const char *lid = fv_text(fv, &pv->logic_id);
        if (lid)
            part_key(pv->key, lid, NULL, i);
        else
            part_key(pv->key, NULL, fv_text(fv, &pv->id), i);
        for (size_t j = 0; j < pv->nitems; j++) {
            struct fv_item *iv = &fv->items[pv->first + j];
            const char *type = fv_text(fv, &iv->type), *field = NULL;
            if (!iv->obj || !type)
                continue;
            iv->kind = item_kind_of(type, &field);
            if (iv->kind == ITEM_EXEC || iv->kind == ITEM_IMAGE || iv->kind == ITEM_QUOTE ||
                iv->kind == ITEM_TOOL_RESULT)
                return -1;
            if (field)
                iv->value = iv->hot[strcmp(field, "text") == 0    ? FV_TEXT
                                    : strcmp(field, "think") == 0 ? FV_THINK : FV_CODE];
        }
    }
    return 0;
}

/* A string that lay after the old text value moves with its end. */
static void fv_move(const char **p, size_t *off, const char *data, size_t after, size_t old_end,
                    size_t new_end)
{
    if (!*p)
        return;
    if (*off >= after)
        *off = *off - old_end + new_end;
    *p = data + *off;
}

/* Whether the frame is the last one with another text value: the same bytes
 * before the value and after it. Then the view (names, statuses, kinds,
 * part keys) is the same, and its strings are moved onto the new frame. */
static int fv_reuse(struct fview *fv, const char *data, size_t len)
{
    size_t pre = fv->shape_pre, post = fv->shape.len - pre;

    if (!fv->shape_ok || len < pre + post || memcmp(data, fv->shape.data, pre) != 0)
        return 0;
    const char *b = data + pre, *q = b;
    for (;;) {
        q = memchr(q, '"', len - (size_t)(q - data));
        if (!q)
            return 0;
        const char *k = q;
        while (k > b && k[-1] == '\\')
            k--;
        if (((q - k) & 1) == 0)
            break;
        q++;
    }
    if ((size_t)(data + len - q) != post || memcmp(q, fv->shape.data + pre, post) != 0)
        return 0;

    size_t old_end = pre + fv->shape_hot, new_end = (size_t)(q - data);
    fv_move(&fv->conv.p, &fv->conv.off, data, old_end, old_end, new_end);
    fv_move(&fv->assistant.p, &fv->assistant.off, data, old_end, old_end, new_end);
    fv_move(&fv->status.p, &fv->status.off, data, old_end, old_end, new_end);
    for (size_t i = 0; i < fv->nparts; i++) {
        struct fv_part *pv = &fv->parts[i];
        fv_move(&pv->logic_id.p, &pv->logic_id.off, data, old_end, old_end, new_end);
        fv_move(&pv->id.p, &pv->id.off, data, old_end, old_end, new_end);
        fv_move(&pv->status.p, &pv->status.off, data, old_end, old_end, new_end);
    }
    for (size_t i = 0; i < fv->nitems; i++)
        fv_move(&fv->items[i].type.p, &fv->items[i].type.off, data, old_end, old_end, new_end);
    fv->hot[0].p = b;
    fv->hot[0].n = (size_t)(q - b);
    fv->shape_hot = fv->hot[0].n;
    return 1;
}

/* Keeps the frame's bytes around its one text value for fv_reuse(). */
static void fv_keep_shape(struct fview *fv, const char *data, size_t len)
{
    fv->shape_ok = 0;
    if (fv->nhot != 1)
        return;
    size_t pre = fv->hot[0].off, end = pre + fv->hot[0].n;
    buf_reset(&fv->shape);
    fv->shape.max = len;
    if (buf_append(&fv->shape, data, pre) < 0 || buf_append(&fv->shape, data + end, len - end) < 0)
        return;
    fv->shape_pre = pre;
    fv->shape_hot = fv->hot[0].n;
    fv->shape_ok = 1;
}

/* item_update() for a value given as a raw string body (checked): when it
 * starts with the raw text the item holds, only the rest is decoded. The
 * same decisions as item_update() on the decoded value. */
static void item_update_raw(struct render *r, struct item *it, const struct fv_hot *h, int final,
                            struct buf *tmp, const char **d, size_t *dn)
{
    struct buf *a = &it->acc, *w = &it->raw;
    int same = it->raw_ok && h->n >= w->len && (!w->len || memcmp(h->p, w->data, w->len) == 0);
    enum value_mode mode = r->opts.profile == RENDER_PROFILE_V1   ? MODE_CUMULATIVE
                           : r->opts.profile == RENDER_PROFILE_V2 ? MODE_DELTA : it->mode;

    *d = NULL;
    *dn = 0;
    buf_reset(tmp);
    /* A delta that repeats everything before it is rare: decode it whole. */
    if (same && !final && mode == MODE_DELTA && a->len)
        same = 0;
    if (!same) {
        size_t before = a->len;
        if (jstr_decode(h->p, h->n, tmp) < 0) {
            r->state = RENDER_TOO_LONG;
            return;
        }
        long from = item_update(r, it, tmp->data, tmp->len, final, d, dn);
        if (from < 0)
            return;
        if ((size_t)from == before) {
            /* The item's text is now this value. */
            buf_reset(w);
            it->raw_ok = buf_append(w, h->p, h->n) == 0;
        } else if (it->raw_ok && buf_append(w, h->p, h->n) < 0) {
            it->raw_ok = 0;
        }
        return;
    }
    if (jstr_decode(h->p + w->len, h->n - w->len, tmp) < 0) {
        r->state = RENDER_TOO_LONG;
        return;
    }
    if (!final) {
        if (!a->len && !tmp->len)
            return;
        if (mode == MODE_UNDECIDED && a->len) {
            if (!tmp->len)
                return; /* the same value again */
            it->mode = MODE_CUMULATIVE;
        }
    }
    /* Cumulative, final, or a first value: the new text is the rest. */
    if (buf_append(a, tmp->data, tmp->len) < 0) {
        r->state = RENDER_TOO_LONG;
        return;
    }
    if (buf_append(w, h->p + w->len, h->n - w->len) < 0)
        it->raw_ok = 0;
    *d = tmp->data;
    *dn = tmp->len;
}

static void fv_part_apply(struct render *r, struct fview *fv, const struct fv_part *pv)
{
    struct part *pt = part_get(r, pv->key);

    if (!pt) {
        r->state = RENDER_TOO_LONG;
        return;
    }
    if (pt->finished)
        return;
    for (size_t j = 0; j < pv->nitems; j++) {
        const struct fv_item *iv = &fv->items[pv->first + j];
        if (!render_running(r))
            return;
        if (!iv->obj || !iv->type.p || iv->value < 0 ||
            (iv->kind != ITEM_TEXT && iv->kind != ITEM_THINK && iv->kind != ITEM_CODE))
            continue;
        struct item *it = item_at(r, pt, j, iv->kind);
        if (!it)
            return;
        const char *d;
        size_t dn;
        item_update_raw(r, it, &fv->hot[iv->value], pv->final, &fv->tmp, &d, &dn);
        item_emit(r, pt, it, d, dn);
    }
    if (pv->final)
        part_finish(r, pt);
}

/* 0: the frame was taken; -1: the DOM path must take it (nothing changed). */
static int fast_frame(struct render *r, const char *data, size_t len)
{
    struct fview *fv = r->fv;

    if (r->intervened)
        return -1;
    if (!fv)
        fv = r->fv = xcalloc(1, sizeof(*fv));
    /* Decoded strings are never longer than the frame (the memory stays). */
    buf_reset(&fv->tmp);
    fv->tmp.max = len + 64;
    if (!fv_reuse(fv, data, len)) {
        fv->shape_ok = 0;
        fv->conv.p = fv->assistant.p = fv->status.p = NULL;
        fv->nparts = fv->nitems = fv->nhot = 0;
        struct scan sc = { data, data + len, fv, data };
        if (scan_frame(&sc) < 0 || fv_check_shape(fv) < 0)
            return -1;
        fv_keep_shape(fv, data, len);
    }
    for (size_t i = 0; i < fv->nhot; i++)
        if (fv_hot_check(r, fv, &fv->hot[i]) < 0)
            return -1;

    r->frames++;
    if (!r->conversation_id)
        id_take_str(&r->conversation_id, fv_text(fv, &fv->conv));
    if (!r->assistant_id)
        id_take_str(&r->assistant_id, fv_text(fv, &fv->assistant));
    for (size_t i = 0; i < fv->nparts; i++) {
        if (!render_running(r))
            return 0;
        if (fv->parts[i].obj)
            fv_part_apply(r, fv, &fv->parts[i]);
    }
    if (render_running(r) && fv->finish)
        render_close(r, RENDER_DONE, NULL);
    return 0;
}

int render_frame(struct render *r, const char *data, size_t len)
{
    json_error_t err;
    json_t *root = NULL;
    int rc = 1;

    out_settle(r);
    if (r->fast && render_running(r) && fast_frame(r, data, len) == 0)
        return 0;
    root = json_loadb(data, len, JSON_ALLOW_NUL, &err);
    if (!json_is_object(root))
        goto out;
    rc = 0;
    r->frames++;
    if (!render_running(r))
        goto out;

    id_take(&r->conversation_id, json_object_get(root, "conversation_id"));
    id_take(&r->assistant_id, json_object_get(root, "assistant_id"));

    json_t *parts = json_object_get(root, "parts"), *jpart;
    size_t i;
    json_array_foreach(parts, i, jpart) {
        if (!render_running(r))
            goto out;
        if (json_is_object(jpart))
            part_process(r, jpart, i);
    }
    if (!render_running(r))
        goto out;

    const char *status = json_string_value(json_object_get(root, "status"));
    if (status && strcmp(status, "error") == 0)
        render_close(r, RENDER_FAILED, root);
    else if (r->intervened || (status && strcmp(status, "intervene") == 0))
        render_close(r, RENDER_FILTERED, root);
    else if (status && strcmp(status, "finish") == 0)
        render_close(r, RENDER_DONE, root);
out:
    json_decref(root);
    return rc;
}

void render_end(struct render *r)
{
    out_settle(r);
    if (!render_running(r))
        return;
    content_prepare(r, PIECE_OTHER, 0);
    if (render_running(r))
        r->state = RENDER_TRUNCATED;
}

/* ---- object ---- */

struct render *render_new(const struct render_opts *opts)
{
    struct render *r = xcalloc(1, sizeof(*r));

    if (opts)
        r->opts = *opts;
    r->max_answer = r->opts.max_answer ? r->opts.max_answer : RENDER_DEFAULT_MAX;
    /* Raw text keeps the markers that the answer loses; twice the answer is
     * far more than they ever take. */
    r->acc_max = r->max_answer > SIZE_MAX / 2 ? SIZE_MAX : 2 * r->max_answer;
    /* \uXXXX takes 6 bytes for 1 to 3; past the cap the fast path just
     * decodes whole values. */
    r->raw_max = r->acc_max > SIZE_MAX / 2 ? SIZE_MAX : 2 * r->acc_max;
    r->fast = fast_default;
    r->state = RENDER_RUNNING;
    buf_init(&r->out_content, r->max_answer);
    buf_init(&r->out_reasoning, r->max_answer);
    buf_init(&r->footer, r->max_answer);
    return r;
}

void render_free(struct render *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nparts; i++)
        part_free(r->parts[i]);
    free(r->parts);
    for (size_t i = 0; i < r->nimages; i++)
        free(r->images[i]);
    free(r->images);
    buf_cleanup(&r->out_content);
    buf_cleanup(&r->out_reasoning);
    buf_cleanup(&r->footer);
    free(r->last_exec);
    free(r->part_intervene_text);
    free(r->error_msg);
    free(r->conversation_id);
    free(r->assistant_id);
    fview_free(r->fv);
    free(r);
}

void render_take(struct render *r, const char **content, size_t *content_len,
                 const char **reasoning, size_t *reasoning_len)
{
    out_settle(r);
    *content = buf_cstr(&r->out_content);
    *content_len = r->out_content.len;
    *reasoning = buf_cstr(&r->out_reasoning);
    *reasoning_len = r->out_reasoning.len;
    r->taken = 1;
}

enum render_state render_get_state(const struct render *r)
{
    return r->state;
}

const char *render_finish_reason(const struct render *r)
{
    if (r->state == RENDER_DONE)
        return "stop";
    if (r->state == RENDER_FILTERED)
        return "content_filter";
    return NULL;
}

int render_error(const struct render *r, const char **message)
{
    if (r->state != RENDER_FAILED) {
        if (message)
            *message = NULL;
        return 0;
    }
    if (message)
        *message = r->error_msg;
    return r->error_code;
}

const char *render_conversation_id(const struct render *r)
{
    return r->conversation_id ? r->conversation_id : "";
}

const char *render_assistant_id(const struct render *r)
{
    return r->assistant_id ? r->assistant_id : "";
}

unsigned long render_frames(const struct render *r)
{
    return r->frames;
}
