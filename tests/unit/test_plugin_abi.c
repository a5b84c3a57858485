/* test_plugin_abi -- descriptor checks and loading real .so files. */
#include "config.h"
#include "core/plugin_loader.h"

#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int run(void *s, struct atum_job *j)
{
    (void)s;
    (void)j;
    return 0;
}

static struct atum_plugin good(void)
{
    struct atum_plugin d;
    memset(&d, 0, sizeof(d));
    d.abi = ATUM_PLUGIN_ABI;
    d.size = sizeof(d);
    d.name = "good";
    d.version = "1";
    return d;
}

START_TEST(descriptor_ok)
{
    const char *e = NULL;
    struct atum_plugin d = good();
    ck_assert_int_eq(plugin_descriptor_check(&d, "good", &e), 0);
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), 0);
}
END_TEST

START_TEST(descriptor_refusals)
{
    const char *e = NULL;
    struct atum_plugin d = good();
    ck_assert_int_eq(plugin_descriptor_check(NULL, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "returned NULL"));

    d.abi = 2;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "plugin ABI 2, but this atumd speaks ABI 1"));

    d = good();
    d.size = 8;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "too small"));

    d = good();
    d.name = "Bad Name";
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);

    d = good();
    ck_assert_int_eq(plugin_descriptor_check(&d, "other", &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "configured as [plugin.other]"));

    d = good();
    d.version = NULL;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);

    static const struct atum_job_kind badkinds[] = { { "Bad Kind", run, 0, 0 }, { NULL, NULL, 0, 0 } };
    d = good();
    d.jobs = badkinds;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);

    static const struct atum_hook badhooks[] = { { "ticket.created", NULL }, { NULL, NULL } };
    d = good();
    d.hooks = badhooks;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);

    static const struct atum_route badroutes[] = { { "FETCH", "/x", 0, NULL }, { NULL, NULL, 0, NULL } };
    d = good();
    d.routes = badroutes;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);

    static const struct atum_conf_key reserved[] = { { "enabled", NULL, NULL }, { NULL, NULL, NULL } };
    d = good();
    d.conf_keys = reserved;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "reserved"));

    static const struct atum_migration unordered[] = {
        { 2, "b", "SELECT 1" }, { 1, "a", "SELECT 1" }, { 0, NULL, NULL }
    };
    d = good();
    d.migrations = unordered;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), -1);
}
END_TEST

/* A descriptor from a newer header (bigger size) still loads. */
START_TEST(descriptor_newer_size_ok)
{
    const char *e = NULL;
    struct atum_plugin d = good();
    d.size = sizeof(d) + 64;
    ck_assert_int_eq(plugin_descriptor_check(&d, NULL, &e), 0);
}
END_TEST

static char *so(const char *name)
{
    static char path[600];
    snprintf(path, sizeof(path), "%s/%s.so", getenv("ATUM_TEST_PLUGIN_DIR"), name);
    return path;
}

START_TEST(load_real_plugins)
{
    const char *e = NULL;
    void *dl = NULL;
    struct atum_plugin d;

    ck_assert_msg(plugin_open(so("testplug"), "testplug", &dl, &d, &e) == 0, "%s", e);
    ck_assert_str_eq(d.name, "testplug");
    ck_assert_str_eq(d.version, "1.0");
    ck_assert_ptr_nonnull(d.jobs);
    ck_assert_str_eq(d.jobs[0].kind, "testplug.work");
    ck_assert_ptr_nonnull(d.migrations);
    /* the plugin exports exactly one symbol */
    ck_assert_ptr_null(dlsym(dl, "run_work"));
    dlclose(dl);

    ck_assert_int_eq(plugin_open(so("badabi"), "badabi", &dl, &d, &e), -1);
    ck_assert_ptr_null(dl);
    ck_assert_ptr_nonnull(strstr(e, "plugin ABI 999"));

    ck_assert_int_eq(plugin_open(so("nosym"), "nosym", &dl, &d, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "does not export atum_plugin_entry()"));

    ck_assert_int_eq(plugin_open(so("missing"), "missing", &dl, &d, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "dlopen:"));

    ck_assert_int_eq(plugin_open(so("testplug"), "triage", &dl, &d, &e), -1);
    ck_assert_ptr_nonnull(strstr(e, "declares plugin 'testplug'"));
}
END_TEST

START_TEST(config_keys_checked)
{
    const char *e = NULL;
    static const struct atum_conf_key keys[] = { { "model", "x", "" }, { NULL, NULL, NULL } };
    struct conf_kv kv[] = { { "model", "llama", 3 }, { "modle", "typo", 4 } };
    struct conf_plugin sec = { "triage", true, NULL, kv, 1, 2 };
    ck_assert_int_eq(plugin_conf_check(&sec, keys, "/etc/a.conf", &e), 0);
    sec.nkv = 2;
    ck_assert_int_eq(plugin_conf_check(&sec, keys, "/etc/a.conf", &e), -1);
    ck_assert_str_eq(e, "/etc/a.conf:4: unknown key 'modle' in [plugin.triage]");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin_abi");
    TCase *tc = tcase_create("plugin_abi");
    tcase_add_test(tc, descriptor_ok);
    tcase_add_test(tc, descriptor_refusals);
    tcase_add_test(tc, descriptor_newer_size_ok);
    tcase_add_test(tc, load_real_plugins);
    tcase_add_test(tc, config_keys_checked);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
