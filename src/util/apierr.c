#include "util/apierr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *api_error_type_for(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 429: return "rate_limit_error";
    case 502:
    case 503: return "upstream_error";
    case 504: return "timeout_error";
    default: break;
    }
    /* 400, 404, 405, 413, 422 and every other client error. */
    if (status >= 400 && status < 500)
        return "invalid_request_error";
    return "server_error";
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

void api_error_set(struct api_error *e, int status, const char *type, const char *code,
                   const char *param, const char *fmt, ...)
{
    va_list ap;

    e->status = status;
    copy(e->type, sizeof e->type, type ? type : api_error_type_for(status));
    copy(e->code, sizeof e->code, code);
    copy(e->param, sizeof e->param, param);
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->retry_after = 0;
}
