#include "stream/frame_scan.h"

#include <stdlib.h>
#include <string.h>

#include "util/jstr.h"
#include "util/xalloc.h"

#define FV_NAME_MAX 16          /* longest member name the scanner looks for, + 1 */

struct fview *fview_new(void)
{
    return xcalloc(1, sizeof(struct fview));
}

void fview_free(struct fview *fv)
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

const char *fview_text(struct fview *fv, const struct fv_str *v)
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
        else if (strcmp(name, "id") == 0)
            rc = scan_str_member(sc, &fv->id, 1);
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
static int shape_reuse(struct fview *fv, const char *data, size_t len)
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
    fv_move(&fv->id.p, &fv->id.off, data, old_end, old_end, new_end);
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

/* Keeps the frame's bytes around its one text value for fview_reuse(). */
void fview_keep_shape(struct fview *fv, const char *data, size_t len)
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

int fview_reuse(struct fview *fv, const char *data, size_t len)
{
    /* Decoded strings are never longer than the frame (the memory stays). */
    buf_reset(&fv->tmp);
    fv->tmp.max = len + 64;
    return shape_reuse(fv, data, len);
}

int fview_scan(struct fview *fv, const char *data, size_t len)
{
    struct scan sc = { data, data + len, fv, data };

    fv->shape_ok = 0;
    fv->conv.p = fv->assistant.p = fv->status.p = fv->id.p = NULL;
    fv->nparts = fv->nitems = fv->nhot = 0;
    return scan_frame(&sc);
}
