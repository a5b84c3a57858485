/*
 * web/static.h -- the browser application's built files (web/dist, see
 * web/build.mjs), served from memory: the /desk page and its
 * content-hashed /assets/.
 *
 * static_load() reads DIR/manifest.json
 *     {"format": 1, "shell": "desk.html", "assets": ["desk-HASH.js", ...]}
 * and every file it names, once, into memory.  Only those files are ever
 * served, found by exact name: no part of a request path reaches the file
 * system, so there is nothing to traverse.  A name must be
 * [A-Za-z0-9][A-Za-z0-9._-]* (at most STATIC_NAME_MAX bytes) with an
 * extension of the table in static.c, which also gives its content type;
 * anything else refuses the whole manifest.
 *
 * static_handle() answers (GET and HEAD; other methods 405):
 *   /                 302 to /desk (the operators' page is /status)
 *   /desk, /desk/...  the shell page, for every client-side route (the
 *                     notification mails link to /desk/tickets/N);
 *                     Cache-Control: no-cache, so a new build is seen at once
 *   /portal, /portal/...  the customer portal's page (manifest key
 *                     "portal_shell", optional: 503 without it), for every
 *                     client-side route (the acknowledgement links to
 *                     /portal/tickets/N); no-cache like the desk's
 *   /admin, /admin/...  the admin pages' page (manifest key "admin_shell",
 *                     optional: 503 without it), for every client-side
 *                     route; no-cache like the desk's.  The page itself is
 *                     no secret: the API decides what each account may do
 *   /assets/NAME      an asset of the manifest; Cache-Control: public,
 *                     max-age=31536000, immutable (the name changes with
 *                     the content); any other name 404
 * with a strong ETag (If-None-Match answers 304) and the desk's
 * Content-Security-Policy (STATIC_CSP: nothing from another origin, no
 * inline script or style, no eval, no plugins, not framed by others) plus
 * nosniff, X-Frame-Options and Referrer-Policy on every answer.  With no
 * files loaded (sf NULL: not built, or web.assets_dir wrong) /desk and
 * /assets/ answer 503 with a problem document saying so.
 *
 * Ownership: a struct static_files is never changed after static_load(),
 * so every civetweb thread may read it at once; static_free() it after the
 * server has stopped.
 */
#ifndef ATUM_WEB_STATIC_H
#define ATUM_WEB_STATIC_H

#include <civetweb.h>
#include <stdbool.h>
#include <stddef.h>

#define STATIC_NAME_MAX 128
#define STATIC_FILE_MAX (16 * 1024 * 1024)
#define STATIC_FILES_MAX 256

#define STATIC_CSP \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " \
    "font-src 'self'; connect-src 'self'; frame-src 'self'; worker-src 'self'; " \
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

struct static_files;

/* Loads dir/manifest.json and its files.  0 and *sf_r set, or -1 and
 * *error_r (which file, what is wrong). */
int static_load(struct static_files **sf_r, const char *dir, const char **error_r);
void static_free(struct static_files **sf);

/* true when the path is one of those above (the request was answered);
 * false when it is not (the caller answers).  sf may be NULL. */
bool static_handle(const struct static_files *sf, struct mg_connection *conn, const char *path);

/* The content type of a file name by its extension, NULL when unknown
 * (exposed for the unit test). */
const char *static_content_type(const char *name);
/* true when name is acceptable as a served file name (see above). */
bool static_name_ok(const char *name);

#endif
