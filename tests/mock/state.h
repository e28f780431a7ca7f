/* Everything the mock remembers between requests: settings, accounts and their
 * tokens, conversations, the per-account stream slot, counters and the record
 * of upstream requests. All of it is forgotten by mock_state_reset(). */
#ifndef MOCK_STATE_H
#define MOCK_STATE_H

#include <jansson.h>

/* v1: cumulative values; v2: deltas; whole: no init part at all, each part
 * arrives once already finished (the browser captures of 2026, spec 12.7) */
enum mock_profile { MOCK_PROFILE_V1, MOCK_PROFILE_V2, MOCK_PROFILE_WHOLE };

struct mock_settings {
    enum mock_profile profile;
    int space;            /* "event: message" instead of "event:message" */
    int crlf;             /* "\r\n" line ends */
    int ascii;            /* re-serialize JSON with \uXXXX escapes */
    int delay_ms;         /* pause between frames */
    int signature;        /* check X-Timestamp/X-Nonce/X-Sign */
    int strict_rotation;  /* a rotated-out refresh token is rejected */
    long access_ttl;      /* seconds */
};

#define MOCK_MAX_RECORDS 10000

struct mock_state;

enum mock_refresh {
    MOCK_REFRESH_OK,
    MOCK_REFRESH_REJECTED,  /* dead, or rotated out under strict rotation */
    MOCK_REFRESH_FLAKY,     /* this attempt of a flaky account fails */
    MOCK_REFRESH_FULL,      /* the token table reached its cap */
    MOCK_REFRESH_HTML,      /* refresh-html: 200 with an HTML page */
    MOCK_REFRESH_EMPTY,     /* refresh-empty: 200 with an empty body */
    MOCK_REFRESH_BADJSON,   /* refresh-badjson: 200 with JSON cut short */
    MOCK_REFRESH_500,       /* refresh-500: HTTP 500 with an HTML page, every time */
};

struct mock_refresh_out {
    char uid[25];
    char *access_token;   /* new strings owned by the caller */
    char *refresh_token;  /* NULL unless rotated */
    int guest;            /* the account is marked "guest" */
};

struct mock_state *mock_state_new(void);
void mock_state_free(struct mock_state *s);
/* Forgets accounts, tokens, conversations, records and counters (except
 * streams_open, which counts connections really open) and restores the
 * default settings. */
void mock_state_reset(struct mock_state *s);
/* Increases on every reset, so late releases of old stream slots are ignored. */
unsigned mock_state_epoch(const struct mock_state *s);

const struct mock_settings *mock_state_settings(const struct mock_state *s);
/* Validates every key of patch first, then merges. Returns -1 with a message
 * in err on an unknown key or a bad value (nothing is changed then). */
int mock_state_configure(struct mock_state *s, json_t *patch, char *err, size_t errlen);
/* New reference: the full settings as JSON. */
json_t *mock_state_settings_json(const struct mock_state *s);

/* A refresh with token; rotate = issue a new refresh token (user-api). */
enum mock_refresh mock_state_refresh(struct mock_state *s, const char *token, int rotate,
                                     struct mock_refresh_out *out);
/* Sets the state ("ok", "dead", "busy", "flaky", "refresh-html",
 * "refresh-empty", "refresh-badjson", "refresh-500", "guest") of the account that owns
 * token, creating it when the token is new, and gives its uid. -1 on an
 * unknown state name or an empty token. */
int mock_state_set_token(struct mock_state *s, const char *token, const char *state,
                         char uid[25]);
/* Every access token issued so far becomes invalid. */
void mock_state_expire(struct mock_state *s);
/* The uid behind a valid access token, or NULL (unknown, expired, revoked by
 * mock_state_expire, or its account is dead). Borrowed. */
const char *mock_state_access_uid(const struct mock_state *s, const char *token);

/* Takes the account's single stream slot. Returns 0 when taken, -1 when the
 * account is marked busy or already streams (the latter counts an overlap). */
int mock_state_stream_begin(struct mock_state *s, const char *uid);
/* Releases a slot taken in epoch. */
void mock_state_stream_end(struct mock_state *s, const char *uid, unsigned epoch);

/* Remembers a new conversation. -1 when the table is full. */
int mock_state_conv_add(struct mock_state *s, const char *id, const char *uid,
                        const char *assistant_id);
/* Whether id is a conversation of uid created by the mock (deleted or not);
 * when it is, its turn counter is increased. */
int mock_state_conv_continue(struct mock_state *s, const char *id, const char *uid);
/* Soft delete; counts one delete whether or not the id is known. */
void mock_state_conv_delete(struct mock_state *s, const char *id);
void mock_state_count_refresh(struct mock_state *s);

/* Steals rec; keeps the last MOCK_MAX_RECORDS. */
void mock_state_record(struct mock_state *s, json_t *rec);
/* New references. */
json_t *mock_state_records_json(const struct mock_state *s);
json_t *mock_state_stats_json(const struct mock_state *s);
json_t *mock_state_conversations_json(const struct mock_state *s);

#endif
