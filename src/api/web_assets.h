/* The files of the web page (web/), embedded at build time by
 * scripts/embed-web.sh into $(O)/gen/web_assets.c. */
#ifndef GLM_WEB_ASSETS_H
#define GLM_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
    const char *name;            /* the file name, e.g. "app.js" */
    const unsigned char *data;   /* its bytes, followed by a NUL */
    size_t len;
};

extern const struct web_asset web_assets[];
extern const unsigned web_assets_count;

#endif
