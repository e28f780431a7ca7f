/* The renderer: chatglm.cn stream frames in, OpenAI deltas out. Pure (no I/O),
 * so the streaming and the non-streaming answer are made by the same code and
 * cannot disagree. One struct render per answer.
 *
 * Feed the JSON payload of every upstream SSE event with render_frame(); after
 * each call, take the new text with render_take() (content and reasoning
 * deltas since the last take). When the upstream ends, call render_end(). */
#ifndef GLM_RENDER_H
#define GLM_RENDER_H

#include <stddef.h>

enum render_think {
    RENDER_THINK_REASONING, /* think text -> reasoning deltas (reasoning_content) */
    RENDER_THINK_INLINE,    /* "<think>\n...</think>\n\n" inside the content */
    RENDER_THINK_HIDDEN,    /* dropped (silent models) */
};

enum render_search {
    RENDER_SEARCH_INLINE,   /* "检索 title(url) ...\n" lines in the content (stream) */
    RENDER_SEARCH_FOOTER,   /* "\n\n搜索结果来自：\ntitle - url" after the answer (non-stream) */
    RENDER_SEARCH_HIDDEN,   /* dropped (silent models) */
};

enum render_profile {
    RENDER_PROFILE_AUTO,    /* detect per part: cumulative values or deltas */
    RENDER_PROFILE_V1,      /* every value is the whole text so far */
    RENDER_PROFILE_V2,      /* values are deltas while a part is init; full at finish */
};

struct render_opts {
    enum render_think think;
    enum render_search search;
    enum render_profile profile;
    size_t max_answer;      /* cap on content+reasoning bytes; then RENDER_TOO_LONG */
    /* 1: every frame through the jansson DOM path instead of the fast
     * scanner first (tests and benchmarks). The output is the same either
     * way; only the cost differs. */
    int dom_only;
};

enum render_state {
    RENDER_RUNNING,         /* no terminal frame yet */
    RENDER_DONE,            /* top-level status "finish": finish_reason "stop" */
    RENDER_FILTERED,        /* "intervene": finish_reason "content_filter" */
    RENDER_FAILED,          /* status "error": see render_error() */
    RENDER_TRUNCATED,       /* render_end() before any terminal frame */
    RENDER_TOO_LONG,        /* the answer passed max_answer */
};

struct render;

struct render *render_new(const struct render_opts *opts);
void render_free(struct render *r);

/* One SSE data payload. Returns 0 when it was a frame, 1 when it was not a
 * JSON object (ignored: heartbeats and the like). Frames after a terminal
 * state are ignored. */
int render_frame(struct render *r, const char *data, size_t len);

/* The upstream closed: flushes text held back (a possible citation marker
 * cut by the frame boundary) and, if no terminal frame came, moves to
 * RENDER_TRUNCATED. */
void render_end(struct render *r);

/* Text produced since the last take. Both pointers stay valid until the next
 * render_* call; lengths may be 0. */
void render_take(struct render *r, const char **content, size_t *content_len,
                 const char **reasoning, size_t *reasoning_len);

enum render_state render_get_state(const struct render *r);
/* "stop", "content_filter", or NULL while running / on errors. */
const char *render_finish_reason(const struct render *r);
/* For RENDER_FAILED: upstream error code (e.g. 10024) and message; else 0/NULL. */
int render_error(const struct render *r, const char **message);
/* Ids from the frames ("" until the first frame that carries them). */
const char *render_conversation_id(const struct render *r);
/* The answer's message id (history_id: the frame's "id" = parts[].id, spec
 * 12.7), "" before a frame carried it; what stop_stream and continue_stream name. */
const char *render_history_id(const struct render *r);
const char *render_assistant_id(const struct render *r);
/* Number of frames seen (JSON objects). */
unsigned long render_frames(const struct render *r);

#endif
