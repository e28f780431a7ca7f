/* The frame scanner: a chatglm frame read as a view of raw slices of its
 * bytes, for the renderer's fast path (render.c, "the fast path": a v1
 * answer repeats its whole text in every frame, and a DOM parse of each frame
 * decodes and copies every string).
 *
 * The scanner reads the members the renderer uses (conversation_id,
 * assistant_id, status; per part logic_id, id, status, content; per content
 * item type and its text/think/code strings) and checks the rest of the frame
 * exactly as jansson would (same strings, same last-duplicate-key-wins
 * objects, same validity), but it accepts only a subset of JSON: numbers
 * jansson reads without overflow, nesting up to FV_MAX_DEPTH, up to
 * FV_MAX_PARTS parts and FV_MAX_ITEMS items. What it does not accept, the
 * caller reads with jansson instead.
 *
 * The text/think/code strings ("hot" strings: long, and mostly seen before)
 * are only delimited, not checked: the caller checks the part of each it has
 * not seen yet (jstr_check). Knows nothing of the renderer. Pure. */
#ifndef GLM_FRAME_SCAN_H
#define GLM_FRAME_SCAN_H

#include <stddef.h>

#include "util/buf.h"

#define FV_MAX_PARTS 1024       /* parts (and items) of one frame the view holds */
#define FV_MAX_ITEMS 4096
#define FV_MAX_DEPTH 64         /* nesting; jansson allows 2048 */
#define FV_KEY_MAX 160          /* room for the caller's key of a part */

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
    /* The caller's, kept as they are when the view is reused: */
    int kind;
    long value;                 /* -1 from the scanner */
};

struct fv_part {
    int obj;
    struct fv_str logic_id, id, status;
    size_t first, nitems;       /* its content items in fview.items */
    /* The caller's, kept as they are when the view is reused: */
    int final;
    char key[FV_KEY_MAX];
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
    struct fv_str conv, assistant, status, id; /* id: the message (history) id */
    struct fv_part *parts;
    size_t nparts, parts_cap;
    struct fv_item *items;
    size_t nitems, items_cap;
    struct fv_hot *hot;
    size_t nhot, hot_cap;
    int finish;                 /* the caller's, kept when the view is reused */
    struct buf tmp;             /* decoded strings (fview_text), and the caller's scratch */
    /* The last frame, when it had one text value: the bytes before and after
     * that value. A frame that differs from it only inside the value (the
     * usual case: the next frame of the same answer) reuses this view. */
    struct buf shape;
    size_t shape_pre, shape_hot;
    int shape_ok;
};

/* Per frame: fview_reuse(); when it returns 0, fview_scan(), then the
 * caller's own checks of the view, and when they pass fview_keep_shape(), so
 * that the next frame of the same shape is reused. */
struct fview *fview_new(void);
void fview_free(struct fview *fv);

/* Empties tmp (a frame's decoded strings are never longer than the frame),
 * then: 1 when the frame is the last kept one with another text value (the
 * same bytes before the value and after it). The view's strings are then
 * moved onto the new frame, and everything else (the caller's fields too)
 * stays. 0 otherwise (nothing changed). */
int fview_reuse(struct fview *fv, const char *data, size_t len);

/* Reads the whole frame (an object, and nothing after it but white space)
 * into the view. 0, or -1 when the scanner does not take it. */
int fview_scan(struct fview *fv, const char *data, size_t len);

/* Keeps the frame's bytes around its one text value for fview_reuse() (when
 * it has exactly one). */
void fview_keep_shape(struct fview *fv, const char *data, size_t len);

/* The decoded text of a short string (ids, names, status), NUL-terminated as
 * jansson's json_string_value() is; NULL for a missing string. Valid until
 * the next append to the view's tmp (which may move it). */
const char *fview_text(struct fview *fv, const struct fv_str *v);

#endif
