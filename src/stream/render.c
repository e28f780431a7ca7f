/* The renderer: chatglm.cn frames in, content and reasoning text out.
 *
 * Parts are kept by logic_id for the whole answer, so a finished part that a
 * later frame repeats adds nothing. Inside a part, each content item (by its
 * index) remembers the raw text received so far; a new value is compared with
 * it to find what is new (cumulative v1 values) or appended (v2 deltas). Every
 * value is a whole JSON string, so what is new always starts and ends on a
 * character boundary: no UTF-8 sequence is ever cut.
 *
 * Content goes out through render_text.c, which keeps the separators right;
 * the fast path reads frames with stream/frame_scan. */
#include "stream/render.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream/frame_scan.h"
#include "stream/render_int.h"
#include "util/buf.h"
#include "util/jstr.h"
#include "util/xalloc.h"

static int render_running(const struct render *r)
{
    return r->state == RENDER_RUNNING;
}

/* ---- items ---- */

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
        text_block_begin(&r->text, PIECE_IMAGE);
        text_puts(&r->text, "![图像](");
        text_puts(&r->text, url);
        text_puts(&r->text, ")\n");
        r->text.last = PIECE_IMAGE;
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
    text_prepare(&r->text, PIECE_EXEC, 0);
    text_put(&r->text, c, n);
    text_put(&r->text, "\n", 1);
    r->text.last = PIECE_EXEC;
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
            text_block_begin(&r->text, PIECE_SEARCH);
            text_puts(&r->text, "检索 ");
            text_puts(&r->text, title);
            text_puts(&r->text, "(");
            text_puts(&r->text, url);
            text_puts(&r->text, ") ...\n");
            r->text.last = PIECE_SEARCH;
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
        text_push(&r->text, it->serial, pt, d, dn);
    else if (it->kind == ITEM_THINK)
        text_think(&r->text, d, dn);
    else
        text_code(&r->text, &pt->code_open, d, dn);
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
    if (r->text.hold_len && r->text.hold_owner == pt)
        text_flush(&r->text);
    text_code_end(&r->text, &pt->code_open);
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
    text_prepare(&r->text, PIECE_OTHER, 0);
    if (st == RENDER_DONE && r->footer.len) {
        text_puts(&r->text, "\n\n搜索结果来自：\n");
        text_put(&r->text, r->footer.data, r->footer.len);
        r->text.last = PIECE_OTHER;
    } else if (st == RENDER_FILTERED) {
        const char *t = NULL;
        if (root)
            t = json_string_value(
                json_object_get(json_object_get(root, "last_error"), "intervene_text"));
        if (!t)
            t = r->part_intervene_text;
        if (t && *t) {
            text_puts(&r->text, "\n\n");
            text_puts(&r->text, t);
            r->text.last = PIECE_OTHER;
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
    const char *st = fview_text(fv, &fv->status);

    if (st && (strcmp(st, "error") == 0 || strcmp(st, "intervene") == 0))
        return -1;
    fv->finish = st && strcmp(st, "finish") == 0;
    for (size_t i = 0; i < fv->nparts; i++) {
        struct fv_part *pv = &fv->parts[i];
        if (!pv->obj)
            continue;
        const char *pst = fview_text(fv, &pv->status);
        if (pst && strcmp(pst, "intervene") == 0)
            return -1;
        pv->final = pst && strcmp(pst, "finish") == 0;
        /* One decoded string at a time: the next may move tmp. */
        const char *lid = fview_text(fv, &pv->logic_id);
        if (lid)
            part_key(pv->key, lid, NULL, i);
        else
            part_key(pv->key, NULL, fview_text(fv, &pv->id), i);
        for (size_t j = 0; j < pv->nitems; j++) {
            struct fv_item *iv = &fv->items[pv->first + j];
            const char *type = fview_text(fv, &iv->type), *field = NULL;
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
        fv = r->fv = fview_new();
    if (!fview_reuse(fv, data, len)) {
        if (fview_scan(fv, data, len) < 0 || fv_check_shape(fv) < 0)
            return -1;
        fview_keep_shape(fv, data, len);
    }
    for (size_t i = 0; i < fv->nhot; i++)
        if (fv_hot_check(r, fv, &fv->hot[i]) < 0)
            return -1;

    r->frames++;
    if (!r->conversation_id)
        id_take_str(&r->conversation_id, fview_text(fv, &fv->conv));
    if (!r->assistant_id)
        id_take_str(&r->assistant_id, fview_text(fv, &fv->assistant));
    if (!r->history_id)
        id_take_str(&r->history_id, fview_text(fv, &fv->id));
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

    textout_settle(&r->text);
    if (!r->opts.dom_only && render_running(r) && fast_frame(r, data, len) == 0)
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
    id_take(&r->history_id, json_object_get(root, "id"));
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
    textout_settle(&r->text);
    if (!render_running(r))
        return;
    text_prepare(&r->text, PIECE_OTHER, 0);
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
    r->state = RENDER_RUNNING;
    textout_init(&r->text, r->opts.think, r->max_answer, &r->state);
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
    textout_cleanup(&r->text);
    buf_cleanup(&r->footer);
    free(r->last_exec);
    free(r->part_intervene_text);
    free(r->error_msg);
    free(r->conversation_id);
    free(r->history_id);
    free(r->assistant_id);
    fview_free(r->fv);
    free(r);
}

void render_take(struct render *r, const char **content, size_t *content_len,
                 const char **reasoning, size_t *reasoning_len)
{
    textout_take(&r->text, content, content_len, reasoning, reasoning_len);
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

const char *render_history_id(const struct render *r)
{
    return r->history_id ? r->history_id : "";
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
