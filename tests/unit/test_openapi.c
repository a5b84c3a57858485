/* test_openapi -- the OpenAPI document served at /api/v1/openapi.json
 * lists exactly the routes the server registers (method and path) and
 * the routes of the plugins built in this tree (plugins/NAME: below
 * /api/v1/plugins/NAME/ and at the root, each operation marked
 * "x-atum-plugin": NAME), and every operation documents its error answers
 * as problem+json. */
#include "config.h"
#include "web/server.h"
#include <atum/plugin.h>

#include <check.h>
#include <ctype.h>
#include <dlfcn.h>
#include <glob.h>
#include <jansson.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

extern const char openapi_json[];
extern const size_t openapi_json_len;

struct seen {
    json_t *doc;
    int routes;
    json_t *registered;   /* "get /path" -> true */
};

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void check_route(const char *method, const char *pattern, void *arg)
{
    struct seen *s = arg;
    char m[16];
    snprintf(m, sizeof(m), "%s", method);
    lower(m);
    json_t *path = json_object_get(json_object_get(s->doc, "paths"), pattern);
    ck_assert_msg(path != NULL, "route %s %s is not in the OpenAPI document", method, pattern);
    json_t *op = json_object_get(path, m);
    ck_assert_msg(op != NULL, "route %s %s: method missing in the OpenAPI document", method, pattern);
    ck_assert_msg(json_is_string(json_object_get(op, "operationId")), "%s %s: no operationId", method, pattern);
    char key[512];
    snprintf(key, sizeof(key), "%s %s", m, pattern);
    json_object_set_new(s->registered, key, json_true());
    s->routes++;
}

/* One route of a plugin: documented, and marked as that plugin's. */
static void check_plugin_route(struct seen *s, const char *plugin, const char *method,
                               const char *path)
{
    check_route(method, path, s);
    char m[16];
    snprintf(m, sizeof(m), "%s", method);
    lower(m);
    json_t *op = json_object_get(json_object_get(json_object_get(s->doc, "paths"), path), m);
    const char *owner = json_string_value(json_object_get(op, "x-atum-plugin"));
    ck_assert_msg(owner != NULL && strcmp(owner, plugin) == 0,
                  "%s %s: not marked \"x-atum-plugin\": \"%s\"", method, path, plugin);
}

/* The routes of every plugin built here (ATUM_BUILDDIR/plugins/NAME/.libs/NAME.so). */
static void check_plugins(struct seen *s)
{
    char pattern[1024];
    glob_t g;
    snprintf(pattern, sizeof(pattern), "%s/plugins/*/.libs/*.so", getenv("ATUM_BUILDDIR"));
    if (glob(pattern, 0, NULL, &g) != 0)
        return;   /* no plugin built in this tree */
    for (size_t i = 0; i < g.gl_pathc; i++) {
        void *dl = dlopen(g.gl_pathv[i], RTLD_NOW | RTLD_LOCAL);
        ck_assert_msg(dl != NULL, "%s", dlerror());
        const struct atum_plugin *(*entry)(void);
        *(void **)&entry = dlsym(dl, ATUM_PLUGIN_ENTRY_SYMBOL);
        ck_assert_ptr_nonnull(entry);
        const struct atum_plugin *d = entry();
        char path[512];
        for (const struct atum_route *r = d->routes; r && r->path; r++) {
            snprintf(path, sizeof(path), "/api/v1/plugins/%s%s", d->name, r->path);
            check_plugin_route(s, d->name, r->method, path);
        }
        if (d->size >= offsetof(struct atum_plugin, root_routes) + sizeof(void *))
            for (const struct atum_route *r = d->root_routes; r && r->path; r++)
                check_plugin_route(s, d->name, r->method, r->path);
        dlclose(dl);
    }
    globfree(&g);
}

START_TEST(every_route_is_documented)
{
    json_error_t je;
    struct seen s = { json_loadb(openapi_json, openapi_json_len, 0, &je), 0, json_object() };
    ck_assert_msg(s.doc != NULL, "openapi.json: %s (line %d)", je.text, je.line);
    ck_assert_str_eq(json_string_value(json_object_get(s.doc, "openapi")), "3.1.0");
    web_foreach_route(check_route, &s);
    ck_assert_int_gt(s.routes, 50);
    check_plugins(&s);

    /* and nothing is documented that the server does not answer */
    const char *path, *method;
    json_t *item, *op;
    int documented = 0;
    json_object_foreach(json_object_get(s.doc, "paths"), path, item) {
        json_object_foreach(item, method, op) {
            char key[512];
            snprintf(key, sizeof(key), "%s %s", method, path);
            /* a plugin's operation ("x-atum-plugin": NAME) is answered
             * by that plugin when it is loaded, not by the server's table */
            int by_plugin = json_object_get(op, "x-atum-plugin") != NULL
                            && json_object_get(s.registered, key) == NULL;
            ck_assert_msg(by_plugin || json_object_get(s.registered, key) != NULL,
                          "the document lists %s, which no route answers", key);
            documented += !by_plugin;
            /* every documented error is a problem document */
            const char *code;
            json_t *resp;
            json_object_foreach(json_object_get(op, "responses"), code, resp) {
                if (code[0] == '4' || (code[0] == '5' && strcmp(path, "/healthz") && strcmp(path, "/readyz")))
                    ck_assert_msg(json_object_get(json_object_get(resp, "content"), "application/problem+json")
                                  || (strcmp(code, "409") == 0 && strstr(path, "/lock")),
                                  "%s: %s is not problem+json", key, code);
            }
        }
    }
    ck_assert_int_eq(documented, s.routes);
    json_decref(s.registered);
    json_decref(s.doc);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("openapi");
    TCase *tc = tcase_create("openapi");
    tcase_add_test(tc, every_route_is_documented);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
