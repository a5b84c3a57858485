/* web/static.c -- see web/static.h. */
#include "config.h"
#include "web/static.h"
#include "web/http.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct static_file {
    char *name;
    const char *type;
    char *body;
    size_t len;
    char etag[40];            /* "\"<32 hex>\"" */
};

struct static_files {
    struct static_file shell;
    struct static_file portal;    /* the portal's page; name NULL: none built */
    struct static_file admin;     /* the admin pages' page; name NULL: none built */
    struct static_file *assets;
    size_t nassets;
};

static const struct {
    const char *ext, *type;
} types[] = {
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".html", "text/html; charset=utf-8" },
    { ".json", "application/json" },
    { ".map", "application/json" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".woff2", "font/woff2" },
    { ".txt", "text/plain; charset=utf-8" },
};

const char *static_content_type(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return NULL;
}

bool static_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > STATIC_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return false;
    }
    return static_content_type(name) != NULL;
}

/* ---- loading ----------------------------------------------------------- */

static void file_clear(struct static_file *f)
{
    free(f->name);
    free(f->body);
    memset(f, 0, sizeof(*f));
}

static int file_load(struct static_file *f, const char *dir, const char *name, const char **error_r)
{
    int ret = -1;
    char *path = NULL;
    FILE *fp = NULL;
    if (!static_name_ok(name))
        return err_set(error_r, "%s/manifest.json: '%s' is not an acceptable file name", dir, name);
    path = xasprintf("%s/%s", dir, name);
    /* no symbolic link: what is served is what the build wrote */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    fp = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (fd >= 0 && fp == NULL)
        close(fd);
    struct stat st;
    if (fp == NULL || fstat(fileno(fp), &st) < 0) {
        err_set(error_r, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_size > STATIC_FILE_MAX) {
        err_set(error_r, "%s: not a regular file of at most %d bytes", path, STATIC_FILE_MAX);
        goto out;
    }
    f->len = (size_t)st.st_size;
    f->body = xmalloc(f->len + 1);
    if (fread(f->body, 1, f->len, fp) != f->len) {
        err_set(error_r, "%s: short read", path);
        goto out;
    }
    f->body[f->len] = '\0';
    f->name = xstrdup(name);
    f->type = static_content_type(name);
    unsigned char md[32];
    size_t mdlen = 0;
    if (!EVP_Q_digest(NULL, "SHA256", NULL, f->body, f->len, md, &mdlen)) {
        err_set(error_r, "%s: cannot hash it", path);
        goto out;
    }
    char *p = f->etag;
    *p++ = '"';
    for (int i = 0; i < 16; i++)
        p += sprintf(p, "%02x", md[i]);
    *p++ = '"';
    *p = '\0';
    ret = 0;
out:
    if (fp)
        fclose(fp);
    free(path);
    if (ret < 0)
        file_clear(f);
    return ret;
}

int static_load(struct static_files **sf_r, const char *dir, const char **error_r)
{
    json_error_t je;
    char *mpath = xasprintf("%s/manifest.json", dir ? dir : "");
    json_t *m = NULL;
    struct static_files *sf = NULL;
    int ret = -1;
    if (dir == NULL || dir[0] == '\0') {
        err_set(error_r, "web.assets_dir is empty");
        goto out;
    }
    m = json_load_file(mpath, JSON_REJECT_DUPLICATES, &je);
    if (m == NULL) {
        err_set(error_r, "%s: %s", mpath, je.text);
        goto out;
    }
    json_t *shell = json_object_get(m, "shell"), *assets = json_object_get(m, "assets");
    if (json_integer_value(json_object_get(m, "format")) != 1 || !json_is_string(shell)
        || !json_is_array(assets) || json_array_size(assets) > STATIC_FILES_MAX) {
        err_set(error_r, "%s: not a manifest of format 1 (shell, assets)", mpath);
        goto out;
    }
    sf = xcalloc(1, sizeof(*sf));
    if (file_load(&sf->shell, dir, json_string_value(shell), error_r) < 0)
        goto out;
    /* the portal's page: optional (a manifest of the desk alone) */
    json_t *portal = json_object_get(m, "portal_shell");
    if (portal != NULL && (!json_is_string(portal)
                           || file_load(&sf->portal, dir, json_string_value(portal), error_r) < 0)) {
        if (!json_is_string(portal))
            err_set(error_r, "%s: portal_shell must be a file name", mpath);
        goto out;
    }
    /* the admin pages' page: optional too */
    json_t *admin = json_object_get(m, "admin_shell");
    if (admin != NULL && (!json_is_string(admin)
                          || file_load(&sf->admin, dir, json_string_value(admin), error_r) < 0)) {
        if (!json_is_string(admin))
            err_set(error_r, "%s: admin_shell must be a file name", mpath);
        goto out;
    }
    sf->assets = xcalloc(json_array_size(assets) + 1, sizeof(*sf->assets));
    size_t i;
    json_t *a;
    json_array_foreach(assets, i, a) {
        if (!json_is_string(a)) {
            err_set(error_r, "%s: assets must be file names", mpath);
            goto out;
        }
        for (size_t k = 0; k < sf->nassets; k++)
            if (strcmp(sf->assets[k].name, json_string_value(a)) == 0) {
                err_set(error_r, "%s: '%s' is listed twice", mpath, json_string_value(a));
                goto out;
            }
        if (file_load(&sf->assets[sf->nassets], dir, json_string_value(a), error_r) < 0)
            goto out;
        sf->nassets++;
    }
    *sf_r = sf;
    sf = NULL;
    ret = 0;
out:
    static_free(&sf);
    json_decref(m);
    free(mpath);
    return ret;
}

void static_free(struct static_files **sfp)
{
    struct static_files *sf = *sfp;
    if (sf == NULL)
        return;
    file_clear(&sf->shell);
    file_clear(&sf->portal);
    file_clear(&sf->admin);
    for (size_t i = 0; i < sf->nassets; i++)
        file_clear(&sf->assets[i]);
    free(sf->assets);
    free(sf);
    *sfp = NULL;
}

/* ---- answering ----------------------------------------------------------- */

/* true when If-None-Match names this entity tag (or is "*"). */
static bool not_modified(struct mg_connection *conn, const char *etag)
{
    const char *inm = mg_get_header(conn, "If-None-Match");
    if (inm == NULL)
        return false;
    if (strcmp(inm, "*") == 0)
        return true;
    /* a list of tags, each maybe W/-prefixed: weak comparison (RFC 9110,
     * 13.1.2) -- ours are strong and quoted, so a substring match is one */
    return strstr(inm, etag) != NULL;
}

static void send_file(struct mg_connection *conn, const struct static_file *f, const char *cache)
{
    bool fresh = not_modified(conn, f->etag);
    const char *method = mg_get_request_info(conn)->request_method;
    bool head = method != NULL && strcmp(method, "HEAD") == 0;
    char hdr[2048], length[96] = "";
    /* a 304 has neither: its Content-Length would be the 200's */
    if (!fresh)
        snprintf(length, sizeof(length), "Content-Type: %s\r\nContent-Length: %zu\r\n", f->type, f->len);
    int n = snprintf(hdr, sizeof(hdr),
        "HTTP/1.1 %d %s\r\n"
        "%s"
        "Cache-Control: %s\r\n"
        "ETag: %s\r\n"
        "Content-Security-Policy: " STATIC_CSP "\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "X-Frame-Options: DENY\r\n"
        "Referrer-Policy: same-origin\r\n"
        "Cross-Origin-Opener-Policy: same-origin\r\n"
        "Cross-Origin-Resource-Policy: same-origin\r\n"
        "\r\n",
        fresh ? 304 : 200, http_status_text(fresh ? 304 : 200), length, cache, f->etag);
    if (n < 0 || (size_t)n >= sizeof(hdr))
        return;
    mg_write(conn, hdr, (size_t)n);
    if (!fresh && !head)
        mg_write(conn, f->body, f->len);
}

static const struct static_file *find_asset(const struct static_files *sf, const char *name)
{
    for (size_t i = 0; i < sf->nassets; i++)
        if (strcmp(sf->assets[i].name, name) == 0)
            return &sf->assets[i];
    return NULL;
}

bool static_handle(const struct static_files *sf, struct mg_connection *conn, const char *path)
{
    bool root = strcmp(path, "/") == 0;
    bool desk = strcmp(path, "/desk") == 0 || strncmp(path, "/desk/", 6) == 0;
    bool asset = strncmp(path, "/assets/", 8) == 0;
    bool portal = strcmp(path, "/portal") == 0 || strncmp(path, "/portal/", 8) == 0;
    bool admin = strcmp(path, "/admin") == 0 || strncmp(path, "/admin/", 7) == 0;
    if (!root && !desk && !asset && !portal && !admin)
        return false;
    const char *method = mg_get_request_info(conn)->request_method;
    if (method == NULL || (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)) {
        static const char body[] = "{\"title\":\"Method Not Allowed\",\"status\":405}";
        http_send(conn, 405, "application/problem+json", body, sizeof(body) - 1,
                  "Allow: GET, HEAD\r\n");
        return true;
    }
    if (root) {
        http_send(conn, 302, "text/plain; charset=utf-8", "", 0, "Location: /desk\r\n");
        return true;
    }
    if (sf == NULL) {
        http_problem(conn, 503, NULL, "the desk is not available: its files were not built "
                     "or web.assets_dir does not point at them (see the log)");
        return true;
    }
    if (desk) {
        send_file(conn, &sf->shell, "no-cache");
        return true;
    }
    if (portal) {
        if (sf->portal.name == NULL)
            http_problem(conn, 503, NULL, "the portal is not available: the build has no portal page");
        else
            send_file(conn, &sf->portal, "no-cache");
        return true;
    }
    if (admin) {
        if (sf->admin.name == NULL)
            http_problem(conn, 503, NULL, "the admin pages are not available: the build has no admin page");
        else
            send_file(conn, &sf->admin, "no-cache");
        return true;
    }
    const struct static_file *f = find_asset(sf, path + 8);
    if (f == NULL) {
        http_problem(conn, 404, NULL, "no such asset");
        return true;
    }
    send_file(conn, f, "public, max-age=31536000, immutable");
    return true;
}
