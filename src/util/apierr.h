/* One shape for every error the server answers with, whatever its source
 * (request validation, attachments, accounts, the upstream) and whatever the
 * dialect that writes it (OpenAI's envelope, Anthropic's). The dialect maps
 * status and type to its own words; the message says what to do and never
 * holds a token or key. */
#ifndef GLM_APIERR_H
#define GLM_APIERR_H

struct api_error {
    int status;             /* HTTP status: 400, 401, 404, 413, 429, 502, 503, ... */
    char type[32];          /* OpenAI's type: invalid_request_error, ... */
    char code[48];          /* "" for none (JSON null) */
    char param[64];         /* "" for none (JSON null) */
    char message[512];
    int retry_after;        /* seconds for a Retry-After header; 0 for none */
};

/* Fills e. type NULL: the conventional type for status. code and param may be
 * NULL. The message is printf-formatted and truncated to fit. */
void api_error_set(struct api_error *e, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* The conventional OpenAI error type for an HTTP status. */
const char *api_error_type_for(int status);

#endif
