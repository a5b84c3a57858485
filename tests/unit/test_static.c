/* test_static -- web/static.c: which file names may be served, their
 * content types, and which manifests load (a manifest naming a path, a
 * hidden file, an unknown type, a missing file, a symbolic link, a file
 * twice or a wrong format refuses to load, and says which). */
#include "config.h"
#include "web/static.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/atum-test-static.XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static void setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(dir));
    write_file("desk.html", "<!doctype html><title>x</title>");
    write_file("desk-AB12CD34.js", "console.log(1)");
    write_file("desk-EF56GH78.css", "body{}");
    write_file("portal.html", "<!doctype html><title>portal</title>");
    write_file("admin.html", "<!doctype html><title>admin</title>");
}

static void teardown(void)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    strcpy(dir, "/tmp/atum-test-static.XXXXXX");
}

START_TEST(names)
{
    ck_assert(static_name_ok("desk-AB12CD34.js"));
    ck_assert(static_name_ok("desk.html"));
    ck_assert(static_name_ok("font_1.woff2"));
    static const char *const bad[] = {
        "", ".js", ".htaccess.css", "../manifest.json", "..", "a/b.js", "a\\b.js", "%2e%2e.js",
        "desk.exe", "desk", "desk.JS", "-x.js", "x.js ", "x\n.js", "x;.js",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.js",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!static_name_ok(bad[i]), "'%s' must not be acceptable", bad[i]);
}
END_TEST

START_TEST(types)
{
    ck_assert_str_eq(static_content_type("a.js"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(static_content_type("a.css"), "text/css; charset=utf-8");
    ck_assert_str_eq(static_content_type("a.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(static_content_type("a.svg"), "image/svg+xml");
    ck_assert_ptr_null(static_content_type("a.php"));
    ck_assert_ptr_null(static_content_type("noext"));
}
END_TEST

static const char *load(const char *manifest)
{
    static char err[1024];
    struct static_files *sf = NULL;
    const char *e = NULL;
    write_file("manifest.json", manifest);
    int rc = static_load(&sf, dir, &e);
    if (rc == 0) {
        ck_assert_ptr_nonnull(sf);
        static_free(&sf);
        ck_assert_ptr_null(sf);
        return NULL;
    }
    ck_assert_ptr_null(sf);
    ck_assert_ptr_nonnull(e);
    snprintf(err, sizeof(err), "%s", e);
    return err;
}

START_TEST(manifests)
{
    ck_assert_ptr_null(load("{\"format\": 1, \"shell\": \"desk.html\", "
                            "\"assets\": [\"desk-AB12CD34.js\", \"desk-EF56GH78.css\"]}"));
    const char *e;
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"assets\": [\"../desk-AB12CD34.js\"]}");
    ck_assert_ptr_nonnull(strstr(e, "'../desk-AB12CD34.js' is not an acceptable file name"));
    e = load("{\"format\": 1, \"shell\": \"/etc/passwd\", \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "not an acceptable file name"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"assets\": [\"gone-1234.js\"]}");
    ck_assert_ptr_nonnull(strstr(e, "gone-1234.js: No such file"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"assets\": [\"desk-AB12CD34.js\", \"desk-AB12CD34.js\"]}");
    ck_assert_ptr_nonnull(strstr(e, "listed twice"));
    e = load("{\"format\": 2, \"shell\": \"desk.html\", \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "not a manifest of format 1"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"assets\": [7]}");
    ck_assert_ptr_nonnull(strstr(e, "assets must be file names"));
    /* the portal's page: optional, and checked like the desk's */
    ck_assert_ptr_null(load("{\"format\": 1, \"shell\": \"desk.html\", \"portal_shell\": \"portal.html\", "
                            "\"assets\": [\"desk-AB12CD34.js\"]}"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"portal_shell\": 7, \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "portal_shell must be a file name"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"portal_shell\": \"../portal.html\", \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "not an acceptable file name"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"portal_shell\": \"none.html\", \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "none.html: No such file"));
    /* the admin pages' page: optional, and checked the same way */
    ck_assert_ptr_null(load("{\"format\": 1, \"shell\": \"desk.html\", \"portal_shell\": \"portal.html\", "
                            "\"admin_shell\": \"admin.html\", \"assets\": [\"desk-AB12CD34.js\"]}"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"admin_shell\": [], \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "admin_shell must be a file name"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"admin_shell\": \"a/admin.html\", \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "not an acceptable file name"));
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"admin_shell\": \"gone.html\", \"assets\": []}");
    ck_assert_ptr_nonnull(strstr(e, "gone.html: No such file"));
    e = load("not json");
    ck_assert_ptr_nonnull(strstr(e, "manifest.json"));

    char target[512], link[512];
    snprintf(target, sizeof(target), "%s/desk-AB12CD34.js", dir);
    snprintf(link, sizeof(link), "%s/link-1234.js", dir);
    ck_assert_int_eq(symlink(target, link), 0);
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"assets\": [\"link-1234.js\"]}");
    ck_assert_msg(e != NULL, "a symbolic link must not be served");

    snprintf(link, sizeof(link), "%s/sub-1234.js", dir);
    ck_assert_int_eq(mkdir(link, 0700), 0);
    e = load("{\"format\": 1, \"shell\": \"desk.html\", \"assets\": [\"sub-1234.js\"]}");
    ck_assert_ptr_nonnull(strstr(e, "not a regular file"));

    struct static_files *sf = NULL;
    ck_assert_int_eq(static_load(&sf, "", &e), -1);
    ck_assert_int_eq(static_load(&sf, "/nonexistent/dir", &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "/nonexistent/dir/manifest.json"));
    static_free(&sf);   /* NULL is fine */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("static");
    TCase *tc = tcase_create("static");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, names);
    tcase_add_test(tc, types);
    tcase_add_test(tc, manifests);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
