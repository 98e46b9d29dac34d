/*
 * web_assets: the dashboard's files (the .html, .js and .css of web/, and uPlot), embedded
 * at build time by scripts/embed_web.cmake into a generated web_assets.c in
 * the build directory. Served by routes_web.c.
 */
#ifndef VIGIL_WEB_ASSETS_H
#define VIGIL_WEB_ASSETS_H

#include <stddef.h>

typedef struct web_asset {
    const char *path;          /* "/ui/app.js" */
    const char *type;          /* Content-Type */
    const char *etag;          /* quoted: "\"0123abcd…\"" */
    const unsigned char *data; /* len bytes (and a NUL after them) */
    size_t len;
} web_asset;

extern const web_asset web_assets[];
extern const size_t web_assets_n;

#endif
