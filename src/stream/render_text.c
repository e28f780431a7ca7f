/* Text assembly (see render_int.h): every byte of content and reasoning the
 * renderer produces goes out through these helpers, which keep the
 * separators right (the "\n" before a tool block, after search lines or an
 * image, between two text parts), close an inline think block before other
 * content, and release text held back by the citation-marker filter before
 * anything that follows it. Knows nothing of frames, parts or items. */
#include <string.h>

#include "stream/render_int.h"

#define LENT_OPEN "\xe3\x80\x90"        /* 【 */
#define LENT_CLOSE "\xe3\x80\x91"       /* 】 */
#define DAGGER "\xe2\x80\xa0"           /* † */

void textout_init(struct textout *t, enum render_think think, size_t max_answer,
                  enum render_state *state)
{
    memset(t, 0, sizeof(*t));
    t->think = think;
    t->max_answer = max_answer;
    t->state = state;
    buf_init(&t->content, max_answer);
    buf_init(&t->reasoning, max_answer);
}

void textout_cleanup(struct textout *t)
{
    buf_cleanup(&t->content);
    buf_cleanup(&t->reasoning);
}

void textout_settle(struct textout *t)
{
    if (t->taken) {
        buf_reset(&t->content);
        buf_reset(&t->reasoning);
        t->taken = 0;
    }
}

void textout_take(struct textout *t, const char **content, size_t *content_len,
                  const char **reasoning, size_t *reasoning_len)
{
    textout_settle(t);
    *content = buf_cstr(&t->content);
    *content_len = t->content.len;
    *reasoning = buf_cstr(&t->reasoning);
    *reasoning_len = t->reasoning.len;
    t->taken = 1;
}

/* Every produced byte passes here. A piece that would pass max_answer is not
 * written at all (so nothing is cut inside a character) and ends the answer. */
static void out_put(struct textout *t, struct buf *b, const char *s, size_t n)
{
    if (!n || *t->state == RENDER_TOO_LONG)
        return;
    if (n > t->max_answer - t->produced || buf_append(b, s, n) < 0) {
        *t->state = RENDER_TOO_LONG;
        return;
    }
    t->produced += n;
}

void text_put(struct textout *t, const char *s, size_t n)
{
    size_t before = t->produced;

    out_put(t, &t->content, s, n);
    if (t->produced != before) {
        t->content_total += n;
        t->last_char = s[n - 1];
    }
}

void text_puts(struct textout *t, const char *s)
{
    text_put(t, s, strlen(s));
}

/* Before a piece of content: release text held for another text item, and
 * end an inline think block unless the piece is think text. */
void text_prepare(struct textout *t, enum piece piece, unsigned long serial)
{
    if (t->hold_len && !(piece == PIECE_TEXT && serial == t->hold_serial))
        text_flush(t);
    if (t->think_open && piece != PIECE_THINK) {
        t->think_open = 0;
        text_puts(t, "</think>\n\n");
        t->last = PIECE_THINK;
    }
}

/* Search lines, images and code fences start on a line of their own. */
void text_block_begin(struct textout *t, enum piece piece)
{
    text_prepare(t, piece, 0);
    if (t->content_total && t->last_char != '\n')
        text_put(t, "\n", 1);
}

/* Answer text (markers already removed) of the text item `serial`. */
static void text_emit(struct textout *t, unsigned long serial, const char *s, size_t n)
{
    if (!n)
        return;
    text_prepare(t, PIECE_TEXT, serial);
    if (t->last == PIECE_SEARCH || t->last == PIECE_IMAGE)
        text_put(t, "\n", 1);
    else if (t->last == PIECE_TEXT && t->last_text_serial != serial && t->last_char != '\n')
        text_put(t, "\n", 1);
    text_put(t, s, n);
    t->last = PIECE_TEXT;
    t->last_text_serial = serial;
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
static void filter_scan(struct textout *t, unsigned long serial, const void *owner,
                        const char *s, size_t n)
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
        text_emit(t, serial, s + start, i - start);
        if (m == MATCH_FULL) {
            i += mlen;
            start = i;
            continue;
        }
        memcpy(t->hold, s + i, avail);
        t->hold_len = avail;
        t->hold_serial = serial;
        t->hold_owner = owner;
        return;
    }
    text_emit(t, serial, s + start, n - start);
}

/* New text of a text item, through the marker filter. */
void text_push(struct textout *t, unsigned long serial, const void *owner, const char *s,
               size_t n)
{
    if (t->hold_len && t->hold_serial != serial)
        text_flush(t);
    while (n && t->hold_len) {
        char win[MARKER_MAX];
        size_t h = t->hold_len, take = n < MARKER_MAX - h ? n : MARKER_MAX - h, mlen = 0;

        memcpy(win, t->hold, h);
        memcpy(win + h, s, take);
        int m = marker_match(win, h + take, &mlen);
        if (m == MATCH_PARTIAL) {
            /* Only when all of s fit in the window (it is shorter than a marker). */
            memcpy(t->hold + h, s, take);
            t->hold_len = h + take;
            return;
        }
        t->hold_len = 0;
        t->hold_owner = NULL;
        if (m == MATCH_FULL) {
            /* The held part was undecided, so the marker ends inside s. */
            size_t used = mlen > h ? mlen - h : 0;
            s += used;
            n -= used;
            continue;
        }
        /* Not a marker: the opening bracket is text; look again after it. */
        size_t blen = (unsigned char)win[0] == 0xe3 && h >= 3 ? 3 : 1;
        text_emit(t, serial, win, blen);
        filter_scan(t, serial, owner, win + blen, h - blen);
    }
    if (n)
        filter_scan(t, serial, owner, s, n);
}

/* Releases held text as it is (the end of a text item or of the answer). */
void text_flush(struct textout *t)
{
    char tmp[MARKER_MAX];
    size_t n = t->hold_len;

    if (!n)
        return;
    memcpy(tmp, t->hold, n);
    t->hold_len = 0;
    t->hold_owner = NULL;
    text_emit(t, t->hold_serial, tmp, n);
}

void text_think(struct textout *t, const char *s, size_t n)
{
    if (!n)
        return;
    switch (t->think) {
    case RENDER_THINK_REASONING:
        out_put(t, &t->reasoning, s, n);
        break;
    case RENDER_THINK_INLINE:
        text_prepare(t, PIECE_THINK, 0);
        if (!t->think_open) {
            text_puts(t, "<think>\n");
            t->think_open = 1;
        }
        text_put(t, s, n);
        t->last = PIECE_THINK;
        break;
    case RENDER_THINK_HIDDEN:
        break;
    }
}

void text_code(struct textout *t, int *open, const char *s, size_t n)
{
    if (!n)
        return;
    if (!*open) {
        text_block_begin(t, PIECE_CODE);
        text_puts(t, "```python\n");
        *open = 1;
    } else {
        text_prepare(t, PIECE_CODE, 0);
    }
    text_put(t, s, n);
    t->last = PIECE_CODE;
}


void text_code_end(struct textout *t, int *open)
{
    if (!*open)
        return;
    *open = 0;
    text_prepare(t, PIECE_CODE, 0);
    text_puts(t, "\n```\n");
    t->last = PIECE_CODE;
}
