/* The renderer's private structs, shared by render.c (the answer model: parts,
 * items, the v1/v2 diff, the DOM and fast readers) and render_text.c (text
 * assembly: output caps, separators, inline think, code fences, the
 * citation-marker filter). Not for use outside stream/render*. */
#ifndef GLM_RENDER_INT_H
#define GLM_RENDER_INT_H

#include <stddef.h>

#include "stream/frame_scan.h"
#include "stream/render.h"
#include "util/buf.h"

#define RENDER_DEFAULT_MAX (64u << 20)  /* max_answer 0 */
#define RENDER_MAX_PARTS 1024           /* more parts than this: RENDER_TOO_LONG */
#define RENDER_MAX_ITEMS 256            /* content items per part, likewise */
#define RENDER_MAX_IMAGES 1024          /* distinct image URLs, likewise */
#define PART_KEY_MAX FV_KEY_MAX
/* The longest citation marker, and so the most text ever held back. */
#define MARKER_MAX 64

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

/* Text assembly: the content and reasoning produced since the last take,
 * and what the separators, the inline think block and the citation filter
 * need to remember. */
struct textout {
    enum render_think think;
    size_t max_answer;
    /* The answer's state: a piece that would pass max_answer sets it to
     * RENDER_TOO_LONG, and after that nothing more is written. */
    enum render_state *state;

    struct buf content;     /* produced since the last take */
    struct buf reasoning;
    int taken;              /* the buffers were handed out: clear them on the next call */
    size_t produced;        /* content + reasoning bytes of the whole answer */

    /* Citation filter: the start of a possible marker, not yet decided. */
    char hold[MARKER_MAX];
    size_t hold_len;
    unsigned long hold_serial;
    const void *hold_owner; /* the part the held text belongs to */

    enum piece last;
    unsigned long last_text_serial;
    char last_char;
    size_t content_total;
    int think_open;         /* inline "<think>\n" written, "</think>" not yet */
};

struct render {
    struct render_opts opts;
    size_t max_answer;
    size_t acc_max;         /* cap of one item's raw text */
    enum render_state state;
    int error_code;
    char *error_msg;
    char *conversation_id;
    char *history_id;          /* the answer's message id (the frames' "id") */
    char *assistant_id;
    unsigned long frames;

    struct textout text;

    struct part **parts;
    size_t nparts, parts_cap;
    struct part *last_part;
    unsigned long next_serial;

    char **images;
    size_t nimages;
    char *last_exec;
    struct buf footer;      /* "title - url" lines for RENDER_SEARCH_FOOTER */
    int intervened;         /* a part had status "intervene" */
    char *part_intervene_text;

    size_t raw_max;         /* cap of one item's raw JSON text */
    struct fview *fv;       /* the fast path's view of a frame (reused) */
};

/* ---- render_text.c ---- */

void textout_init(struct textout *t, enum render_think think, size_t max_answer,
                  enum render_state *state);
void textout_cleanup(struct textout *t);
/* Clears what was taken, before new text is made. */
void textout_settle(struct textout *t);
/* The text produced since the last take (see render_take). */
void textout_take(struct textout *t, const char **content, size_t *content_len,
                  const char **reasoning, size_t *reasoning_len);

/* Content as it is (every produced byte passes a cap check). */
void text_put(struct textout *t, const char *s, size_t n);
void text_puts(struct textout *t, const char *s);
/* Before a piece of content: release text held for another text item, and
 * end an inline think block unless the piece is think text. */
void text_prepare(struct textout *t, enum piece piece, unsigned long serial);
/* Search lines, images and code fences start on a line of their own. */
void text_block_begin(struct textout *t, enum piece piece);
/* New text of the text item `serial` (of the part `owner`), through the
 * citation-marker filter. */
void text_push(struct textout *t, unsigned long serial, const void *owner, const char *s,
               size_t n);
/* Releases held text as it is (the end of a text item or of the answer). */
void text_flush(struct textout *t);
/* Think text: reasoning, inline in the content, or dropped. */
void text_think(struct textout *t, const char *s, size_t n);
/* Code, inside a fence opened on first use; *open tracks the fence. */
void text_code(struct textout *t, int *open, const char *s, size_t n);
void text_code_end(struct textout *t, int *open);

#endif
