/* jansson as the oracle of stream/frame_scan: what the scanner made of a
 * frame must be what jansson makes of it. Shared by fuzz/fuzz_frame_scan.c
 * and tests/unit/test_frame_scan.c. */
#ifndef GLM_FRAME_ORACLE_H
#define GLM_FRAME_ORACLE_H

#include <string.h>

#include <jansson.h>

#include "stream/frame_scan.h"
#include "util/buf.h"
#include "util/jstr.h"

/* Whether the decoded string body p[0..n) is jansson's string m. */
static inline int oracle_body(const char *p, size_t n, json_t *m)
{
    if (!json_is_string(m))
        return 0;
    struct buf b;
    buf_init(&b, n + 1);
    int ok = jstr_decode(p, n, &b) == 0 && b.len == json_string_length(m) &&
             (b.len == 0 || memcmp(b.data, json_string_value(m), b.len) == 0);
    buf_cleanup(&b);
    return ok;
}

/* A view string against jansson's member m: both absent or not strings, or
 * the same string (NULs included); and fview_text gives it as a C string. */
static inline int oracle_str(struct fview *fv, const struct fv_str *v, json_t *m)
{
    if (!v->p)
        return !json_is_string(m);
    const char *t = fview_text(fv, v);
    return oracle_body(v->p, v->n, m) && t && strcmp(t, json_string_value(m)) == 0;
}

/* A hot string (index h, or -1) against jansson's member m. */
static inline int oracle_hot(struct fview *fv, long h, json_t *m)
{
    if (h < 0)
        return !json_is_string(m);
    return (size_t)h < fv->nhot && oracle_body(fv->hot[h].p, fv->hot[h].n, m);
}

/* NULL when the view of data[0..len) (scan_rc: what fview_scan or
 * fview_reuse made of it, 0 = taken) agrees with jansson; else what does not. */
static inline const char *frame_oracle(struct fview *fv, int scan_rc, const char *data, size_t len)
{
    static const char *const fields[FV_FIELDS] = { "text", "think", "code" };
    json_t *root = json_loadb(data, len, JSON_ALLOW_NUL, NULL);
    const char *bad = NULL;
    int hot_ok = 1;

    if (scan_rc != 0)
        goto out; /* the scanner may refuse anything */
    for (size_t i = 0; i < fv->nhot && hot_ok; i++) {
        int nul = 0;
        hot_ok = jstr_check(fv->hot[i].p, fv->hot[i].n, &nul) == 0;
    }
    if (!hot_ok) {
        bad = root ? "a hot string jstr_check refuses, in a frame jansson takes" : NULL;
        goto out;
    }
    if (!json_is_object(root)) {
        bad = "taken, but jansson does not read an object";
        goto out;
    }
    if (!oracle_str(fv, &fv->conv, json_object_get(root, "conversation_id")) ||
        !oracle_str(fv, &fv->assistant, json_object_get(root, "assistant_id")) ||
        !oracle_str(fv, &fv->status, json_object_get(root, "status"))) {
        bad = "conversation_id, assistant_id or status";
        goto out;
    }
    json_t *parts = json_object_get(root, "parts");
    if (fv->nparts != (json_is_array(parts) ? json_array_size(parts) : 0)) {
        bad = "the number of parts";
        goto out;
    }
    for (size_t i = 0; i < fv->nparts; i++) {
        const struct fv_part *pv = &fv->parts[i];
        json_t *jp = json_array_get(parts, i);
        if (pv->obj != json_is_object(jp)) {
            bad = "a part is an object or not";
            goto out;
        }
        if (!pv->obj)
            continue;
        if (!oracle_str(fv, &pv->logic_id, json_object_get(jp, "logic_id")) ||
            !oracle_str(fv, &pv->id, json_object_get(jp, "id")) ||
            !oracle_str(fv, &pv->status, json_object_get(jp, "status"))) {
            bad = "a part's logic_id, id or status";
            goto out;
        }
        json_t *content = json_object_get(jp, "content");
        if (pv->nitems != (json_is_array(content) ? json_array_size(content) : 0)) {
            bad = "the number of a part's items";
            goto out;
        }
        for (size_t j = 0; j < pv->nitems; j++) {
            const struct fv_item *iv = &fv->items[pv->first + j];
            json_t *ji = json_array_get(content, j);
            if (iv->obj != json_is_object(ji)) {
                bad = "an item is an object or not";
                goto out;
            }
            if (!iv->obj)
                continue;
            if (!oracle_str(fv, &iv->type, json_object_get(ji, "type"))) {
                bad = "an item's type";
                goto out;
            }
            for (int f = 0; f < FV_FIELDS; f++) {
                if (!oracle_hot(fv, iv->hot[f], json_object_get(ji, fields[f]))) {
                    bad = "an item's text, think or code";
                    goto out;
                }
            }
        }
    }
out:
    json_decref(root);
    return bad;
}

#endif
