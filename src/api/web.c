/* The web page at / (for browsers: a request whose Accept names text/html),
 * its style sheet and its script. The files are those of web/, compiled in
 * (api/web_assets.h); every answer carries a Content-Security-Policy that
 * lets the page talk to this server only. Other clients asking for / get the
 * short welcome text of api/misc.c, as before. */
#include <string.h>

#include "api/api.h"
#include "api/web_assets.h"
#include "config.h"
#include "http/server.h"
#include "util/buf.h"

/* Nothing from another origin: no script, style, font, image or connection. */
#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "             \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static const struct web_asset *asset(const char *name)
{
    for (unsigned i = 0; i < web_assets_count; i++)
        if (strcmp(web_assets[i].name, name) == 0)
            return &web_assets[i];
    return NULL;
}

static void page_headers(struct api_req *a)
{
    http_req_add_header(a->req, "Content-Security-Policy", WEB_CSP);
    http_req_add_header(a->req, "X-Content-Type-Options", "nosniff");
    http_req_add_header(a->req, "Referrer-Policy", "no-referrer");
    http_req_add_header(a->req, "Cache-Control", "no-cache");
}

/* The page with every "{{PREFIX}}" replaced by the URL prefix (HTML-escaped),
 * so that its style sheet and script are found under --url-prefix. */
static int page_body(struct buf *b, const struct web_asset *f)
{
    static const char mark[] = "{{PREFIX}}";
    const char *p = (const char *)f->data, *end = p + f->len;
    int rc = 0;
    while (rc == 0 && p < end) {
        const char *m = strstr(p, mark);
        size_t n = m ? (size_t)(m - p) : (size_t)(end - p);
        rc = buf_append(b, p, n);
        if (!m || rc < 0)
            break;
        for (const char *s = cfg.url_prefix; rc == 0 && *s; s++) {
            switch (*s) {
            case '&': rc = buf_puts(b, "&amp;"); break;
            case '<': rc = buf_puts(b, "&lt;"); break;
            case '>': rc = buf_puts(b, "&gt;"); break;
            case '"': rc = buf_puts(b, "&quot;"); break;
            case '\'': rc = buf_puts(b, "&#39;"); break;
            default: rc = buf_putc(b, *s);
            }
        }
        p = m + sizeof(mark) - 1;
    }
    return rc;
}

void web_page_handle(struct api_req *a)
{
    const char *accept = http_req_header(a->req, "Accept");
    const struct web_asset *f = asset("index.html");
    /* One URL, two answers: caches must keep them apart. */
    http_req_add_header(a->req, "Vary", "Accept");
    if (!accept || !strstr(accept, "text/html") || !f) {
        welcome_handle(a);
        return;
    }
    struct buf b;
    buf_init(&b, f->len + 4096);
    if (page_body(&b, f) < 0) {
        buf_cleanup(&b);
        api_error(a, 500, NULL, NULL, "the page does not fit its buffer");
        return;
    }
    page_headers(a);
    api_reply(a, 200, "text/html; charset=utf-8", b.data, b.len);
    buf_cleanup(&b);
}

void web_asset_handle(struct api_req *a)
{
    /* The route table sends only /web/app.css and /web/app.js here. */
    const char *name = strrchr(a->path, '/');
    const struct web_asset *f = name ? asset(name + 1) : NULL;
    if (!f) {
        api_error(a, 404, NULL, "unknown_url", "no such file of the web page");
        return;
    }
    size_t nl = strlen(f->name);
    const char *type = nl > 3 && strcmp(f->name + nl - 3, ".js") == 0
                           ? "text/javascript; charset=utf-8"
                           : "text/css; charset=utf-8";
    page_headers(a);
    api_reply(a, 200, type, (const char *)f->data, f->len);
}
