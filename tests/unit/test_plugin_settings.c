/* test_plugin_settings -- a plugin's settings as GET /api/v1/plugins shows
 * them: the value in effect and its source (environment, file, default),
 * and never the value of a key whose name says it is a secret. */
#include "config.h"
#include "web/plugin_settings.h"
#include "core/conf.h"
#include "core/plugin_loader.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static json_t *find(json_t *a, const char *key)
{
    size_t i;
    json_t *s;
    json_array_foreach(a, i, s) {
        if (strcmp(json_string_value(json_object_get(s, "key")), key) == 0)
            return s;
    }
    return NULL;
}

START_TEST(secret_names)
{
    ck_assert(plugin_setting_is_secret("api_key"));
    ck_assert(plugin_setting_is_secret("password"));
    ck_assert(plugin_setting_is_secret("Bearer_Token"));
    ck_assert(plugin_setting_is_secret("client_secret"));
    ck_assert(plugin_setting_is_secret("credentials_file"));
    ck_assert(!plugin_setting_is_secret("greeting"));
    ck_assert(!plugin_setting_is_secret("model"));
    ck_assert(!plugin_setting_is_secret("url"));
}
END_TEST

START_TEST(values_and_sources)
{
    static const struct atum_conf_key keys[] = {
        { "greeting", "hello", "what GET /hello answers" },
        { "model", "small", NULL },
        { "url", NULL, "where the server is" },
        { "api_key", "sk-default-value", NULL },
        { NULL, NULL, NULL }
    };
    struct conf_kv kv[] = {
        { "greeting", "hi there", 3 }, { "api_key", "sk-from-the-file", 4 }, { "leftover", "x", 5 },
    };
    struct conf_plugin sec = { .name = "demo", .enabled = true, .kv = kv, .nkv = 3, .line = 2 };
    struct atum_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.plugins = &sec;
    cfg.nplugins = 1;
    struct plugin_instance pi;
    memset(&pi, 0, sizeof(pi));
    pi.name = "demo";
    pi.desc.conf_keys = keys;
    setenv("ATUM_PLUGIN_DEMO_MODEL", "large", 1);
    unsetenv("ATUM_PLUGIN_DEMO_URL");

    json_t *a = plugin_settings_json(&pi, &cfg);
    ck_assert_int_eq(json_array_size(a), 5);
    json_t *g = find(a, "greeting");
    ck_assert_str_eq(json_string_value(json_object_get(g, "value")), "hi there");
    ck_assert_str_eq(json_string_value(json_object_get(g, "source")), "file");
    ck_assert_str_eq(json_string_value(json_object_get(g, "default")), "hello");
    ck_assert_str_eq(json_string_value(json_object_get(g, "help")), "what GET /hello answers");
    ck_assert_str_eq(json_string_value(json_object_get(g, "env")), "ATUM_PLUGIN_DEMO_GREETING");
    json_t *m = find(a, "model");
    ck_assert_str_eq(json_string_value(json_object_get(m, "value")), "large");
    ck_assert_str_eq(json_string_value(json_object_get(m, "source")), "environment");
    json_t *u = find(a, "url");
    ck_assert(json_is_null(json_object_get(u, "value")));
    ck_assert_str_eq(json_string_value(json_object_get(u, "source")), "unset");
    ck_assert(json_is_false(json_object_get(u, "set")));
    /* a secret: set, from the file, and neither its value nor its
     * default anywhere in the answer */
    json_t *k = find(a, "api_key");
    ck_assert(json_is_true(json_object_get(k, "secret")));
    ck_assert(json_is_true(json_object_get(k, "set")));
    ck_assert(json_is_null(json_object_get(k, "value")));
    ck_assert_str_eq(json_string_value(json_object_get(k, "source")), "file");
    char *all = json_dumps(a, 0);
    ck_assert_ptr_null(strstr(all, "sk-"));
    free(all);
    /* a key in the file the plugin does not declare is still shown */
    ck_assert_ptr_nonnull(find(a, "leftover"));
    json_decref(a);

    /* a plugin refused before its keys were read: the file's keys only */
    pi.desc.conf_keys = NULL;
    a = plugin_settings_json(&pi, &cfg);
    ck_assert_int_eq(json_array_size(a), 3);
    json_decref(a);
    unsetenv("ATUM_PLUGIN_DEMO_MODEL");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("plugin_settings");
    TCase *tc = tcase_create("plugin_settings");
    tcase_add_test(tc, secret_names);
    tcase_add_test(tc, values_and_sources);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
