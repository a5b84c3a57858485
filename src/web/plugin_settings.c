/* web/plugin_settings.c -- see web/plugin_settings.h. */
#include "config.h"
#include "web/plugin_settings.h"
#include "core/conf.h"
#include "core/host_table.h"
#include "core/plugin_loader.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool plugin_setting_is_secret(const char *key)
{
    static const char *const words[] = { "password", "secret", "token", "key", "credential", NULL };
    char low[128];
    size_t n = 0;
    for (; key[n] && n < sizeof(low) - 1; n++)
        low[n] = (char)(key[n] >= 'A' && key[n] <= 'Z' ? key[n] + 32 : key[n]);
    low[n] = '\0';
    for (const char *const *w = words; *w; w++)
        if (strstr(low, *w) != NULL)
            return true;
    return false;
}

static const char *file_value(const struct conf_plugin *sec, const char *key)
{
    for (size_t i = 0; sec && i < sec->nkv; i++)
        if (strcmp(sec->kv[i].key, key) == 0)
            return sec->kv[i].value;
    return NULL;
}

static json_t *setting(const char *plugin, const struct conf_plugin *sec, const char *key,
                       const char *def, const char *help)
{
    char env[160], sect[96];
    snprintf(sect, sizeof(sect), "plugin.%s", plugin);
    conf_env_name(env, sizeof(env), sect, key);
    const char *v = getenv(env), *source = "environment";
    if (v == NULL && (v = file_value(sec, key)) != NULL)
        source = "file";
    if (v == NULL && (v = def) != NULL)
        source = "default";
    if (v == NULL)
        source = "unset";
    bool secret = plugin_setting_is_secret(key);
    json_t *value = secret || v == NULL ? json_null() : json_string(v);
    if (value == NULL)              /* not UTF-8: say so rather than drop it */
        value = json_string("(not valid UTF-8)");
    return json_pack("{s:s, s:o, s:s, s:b, s:b, s:s?, s:s?, s:s}", "key", key, "value", value,
                     "source", source, "secret", secret, "set", v != NULL, "default",
                     secret ? NULL : def, "help", help, "env", env);
}

json_t *plugin_settings_json(const struct plugin_instance *pi, const struct atum_config *cfg)
{
    json_t *a = json_array();
    const struct conf_plugin *sec = cfg ? conf_plugin_find(cfg, pi->name) : NULL;
    const struct atum_conf_key *keys = pi->desc.conf_keys;
    for (const struct atum_conf_key *k = keys; k && k->name; k++) {
        json_t *s = setting(pi->name, sec, k->name, k->default_value, k->help);
        if (s)
            json_array_append_new(a, s);
    }
    /* keys in the file the plugin does not declare (a plugin refused
     * before its declaration was read) are still shown */
    for (size_t i = 0; sec && i < sec->nkv; i++) {
        bool declared = false;
        for (const struct atum_conf_key *k = keys; k && k->name && !declared; k++)
            declared = strcmp(k->name, sec->kv[i].key) == 0;
        if (!declared) {
            json_t *s = setting(pi->name, sec, sec->kv[i].key, NULL, NULL);
            if (s)
                json_array_append_new(a, s);
        }
    }
    return a;
}
