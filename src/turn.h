/* The turn: one request to answer, as every dialect parses it (DESIGN.md,
 * "Three dialects, one answer"). Chat Completions (api/chat_req.c),
 * Responses and Anthropic Messages each turn their wire format into this and
 * nothing else; the job runs it (prompt, attachments, upstream call) and the
 * answer's shaping reads its options. It holds no I/O and no server state.
 *
 * Strings are (pointer, length) and may hold any byte but are also
 * NUL-terminated. They are borrowed from the turn itself: either from the
 * parsed document the dialect hands over (turn_keep_doc) or from copies the
 * turn owns (turn_strdup); turn_free releases both. json_t fields are
 * references the turn owns. */
#ifndef GLM_TURN_H
#define GLM_TURN_H

#include <stddef.h>

#include <jansson.h>

#define TURN_MAX_STOP 4

enum turn_role {
    TURN_ROLE_SYSTEM,       /* system and developer */
    TURN_ROLE_USER,
    TURN_ROLE_ASSISTANT,
    TURN_ROLE_TOOL,         /* a tool's result */
    TURN_ROLE_OTHER,        /* any other name; the prompt shows it as given */
};

enum turn_part_type {
    TURN_PART_TEXT,         /* text */
    TURN_PART_IMAGE,        /* url: http(s) or data: URL */
    TURN_PART_FILE,         /* url: http(s) or data: URL, or bare base64; name: file name */
    TURN_PART_TOOL_CALL,    /* id, name, text = the arguments (JSON text) */
    TURN_PART_TOOL_RESULT,  /* id = the call's id, text = the result */
};

struct turn_str {
    const char *s;          /* NULL when absent */
    size_t len;
};

struct turn_part {
    enum turn_part_type type;
    struct turn_str text;
    struct turn_str url;
    struct turn_str id;
    struct turn_str name;
};

struct turn_msg {
    enum turn_role role;
    struct turn_str role_name;  /* as the client wrote it ("user", "developer", ...) */
    struct turn_part *parts;    /* in order; owned by the turn */
    size_t nparts;
};

struct turn_tool {
    struct turn_str name;
    struct turn_str description;  /* s NULL when absent */
    json_t *parameters;           /* JSON schema, a reference; NULL when absent */
};

enum turn_tool_choice {
    TURN_TOOLS_AUTO,        /* the default */
    TURN_TOOLS_NONE,
    TURN_TOOLS_REQUIRED,
    TURN_TOOLS_NAMED,       /* tool_choice_name */
};

enum turn_reasoning {
    TURN_REASONING_DEFAULT, /* the server's think-mode setting */
    TURN_REASONING_PARSED,  /* apart from the content (reasoning_content) */
    TURN_REASONING_RAW,     /* <think> tags inside the content */
    TURN_REASONING_HIDDEN,
};

enum turn_format {
    TURN_FORMAT_TEXT,       /* none asked */
    TURN_FORMAT_JSON_OBJECT,
    TURN_FORMAT_JSON_SCHEMA, /* format_schema */
};

struct turn {
    struct turn_str model;      /* as asked; the dialect fills its default */
    /* System text given apart from the messages (Messages' system, Responses'
     * instructions): the prompt shows it as a first system message. Chat
     * Completions keeps its system messages in place in messages. */
    struct turn_str system;
    struct turn_msg *msgs;
    size_t nmsgs;
    /* tools */
    struct turn_tool *tools;
    size_t ntools;
    enum turn_tool_choice tool_choice;
    struct turn_str tool_choice_name;
    int parallel_tool_calls;    /* 1 unless the client said false */
    /* the answer */
    int stream;
    int include_usage;          /* a usage event at the end of a stream */
    enum turn_reasoning reasoning;
    /* OpenAI's reasoning_effort (none ... max, models_effort_known), over
     * the tier the model name says; s NULL when not given */
    struct turn_str effort;
    struct turn_str stop[TURN_MAX_STOP];
    size_t nstop;
    long max_tokens;            /* output token limit; 0 for none */
    enum turn_format format;
    json_t *format_schema;      /* a reference; JSON_SCHEMA only */
    struct turn_str format_name;
    /* a usable chatglm conversation id to continue, or s NULL */
    struct turn_str conversation_id;

    /* private: what the strings point into */
    json_t *doc;
    struct turn_alloc *allocs;
};

/* An empty turn: no messages, parallel_tool_calls 1, everything else off. */
void turn_init(struct turn *t);
/* Frees what the turn owns; t is then empty (turn_init'ed). */
void turn_free(struct turn *t);

/* Keeps a reference to doc for as long as the turn lives, so that strings
 * may point into it (jansson's strings stay where they are while the value
 * lives and is not changed). */
void turn_keep_doc(struct turn *t, json_t *doc);
/* A copy of s[0..n) owned by the turn (NUL-terminated). */
struct turn_str turn_strdup(struct turn *t, const char *s, size_t n);

/* The string of a jansson string value (borrowed from it), or s NULL. */
static inline struct turn_str turn_json_str(const json_t *v)
{
    struct turn_str r = { json_string_value(v), json_string_length(v) };
    return r;
}

/* Appends an empty message / part and returns it (the pointer is valid until
 * the next append to the same array). */
struct turn_msg *turn_add_msg(struct turn *t, enum turn_role role, struct turn_str role_name);
struct turn_part *turn_add_part(struct turn_msg *m, enum turn_part_type type);
struct turn_tool *turn_add_tool(struct turn *t);

/* The role for a wire name: system and developer -> SYSTEM, user, assistant,
 * tool, anything else OTHER. */
enum turn_role turn_role_of(const char *name);

/* Whether the last message carries an image or a file. */
int turn_last_has_attachment(const struct turn *t);

#endif
