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
#include "util/xalloc.h"

#define RENDER_DEFAULT_MAX (64u << 20)  /* max_answer 0 */
#define RENDER_MAX_PARTS 1024           /* more parts than this: RENDER_TOO_LONG */
#define RENDER_MAX_ITEMS 256            /* content items per part, likewise */
#define RENDER_MAX_IMAGES 1024          /* distinct image URLs, likewise */
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
 * this value, which is then the whole text. */
static void item_update(struct render *r, struct item *it, const char *v, size_t n, int final,
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
            return;
        from = a->len;
    } else {
        if (!n)
            return;
        if (r->opts.profile == RENDER_PROFILE_V1)
            mode = MODE_CUMULATIVE;
        else if (r->opts.profile == RENDER_PROFILE_V2)
            mode = MODE_DELTA;
        else if (mode == MODE_UNDECIDED && a->len) {
            /* AUTO: the first value is taken as is; the next one that differs
             * from it decides for the rest of the item. */
            if (n == a->len && memcmp(v, a->data, n) == 0)
                return;
            mode = it->mode = prefix_of(a, v, n) ? MODE_CUMULATIVE : MODE_DELTA;
        }
        if (mode == MODE_CUMULATIVE) {
            /* A value that diverges from the text emitted (or repeats it) has
             * nothing new until it extends that text again. */
            if (!prefix_of(a, v, n))
                return;
            from = a->len;
        }
    }
    if (buf_append(a, v + from, n - from) < 0) {
        r->state = RENDER_TOO_LONG;
        return;
    }
    *d = v + from;
    *dn = n - from;
}

static void item_reset(struct render *r, struct item *it, enum item_kind kind)
{
    buf_cleanup(&it->acc);
    buf_init(&it->acc, r->acc_max);
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
    if (idx >= RENDER_MAX_ITEMS) {
        r->state = RENDER_TOO_LONG;
        return;
    }
    if (idx >= pt->nitems) {
        pt->items = xrealloc(pt->items, (idx + 1) * sizeof(*pt->items));
        memset(pt->items + pt->nitems, 0, (idx + 1 - pt->nitems) * sizeof(*pt->items));
        pt->nitems = idx + 1;
    }

    struct item *it = &pt->items[idx];
    if (it->kind != kind)
        item_reset(r, it, kind);

    const char *d;
    size_t dn;
    item_update(r, it, v, json_string_length(jv), final, &d, &dn);
    if (!dn)
        return;
    if (kind == ITEM_TEXT)
        filter_push(r, it->serial, pt, d, dn);
    else if (kind == ITEM_THINK)
        think_emit(r, d, dn);
    else
        code_emit(r, pt, d, dn);
}

/* ---- parts ---- */

static struct part *part_get(struct render *r, const char *key)
{
    struct part *pt;

    if (r->last_part && strcmp(r->last_part->key, key) == 0)
        return r->last_part;
    for (size_t i = 0; i < r->nparts; i++) {
        if (strcmp(r->parts[i]->key, key) == 0)
            return r->last_part = r->parts[i];
    }
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
    for (size_t i = 0; i < pt->nitems; i++)
        buf_cleanup(&pt->items[i].acc);
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
    for (size_t i = 0; i < pt->nitems; i++)
        buf_cleanup(&pt->items[i].acc);
}

static void part_process(struct render *r, json_t *jpart, size_t index)
{
    const char *logic_id = json_string_value(json_object_get(jpart, "logic_id"));
    const char *status = json_string_value(json_object_get(jpart, "status"));
    char key[160];

    if (logic_id) {
        snprintf(key, sizeof(key), "%.150s", logic_id);
    } else {
        const char *id = json_string_value(json_object_get(jpart, "id"));
        snprintf(key, sizeof(key), "\x01%.128s#%zu", id ? id : "", index);
    }

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

static void id_take(char **dst, json_t *v)
{
    const char *s = json_string_value(v);

    if (!*dst && s && *s)
        *dst = xstrdup(s);
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

int render_frame(struct render *r, const char *data, size_t len)
{
    json_error_t err;
    json_t *root = NULL;
    int rc = 1;

    out_settle(r);
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
