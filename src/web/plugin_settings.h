/*
 * web/plugin_settings.h -- a plugin's settings as the admin page shows
 * them (GET /api/v1/plugins): every key the plugin declares, with the
 * value in effect and where it comes from, read the way the plugin reads
 * it (the host table's conf_get: environment ATUM_PLUGIN_<NAME>_<KEY>,
 * then the [plugin.NAME] section, then the declared default).
 *
 * Read-only on purpose: the settings live in the operator's configuration
 * file and environment, which atumd never writes; a change takes effect
 * with a reload (SIGHUP).  Values of keys whose names say they hold a
 * secret (password, secret, token, key, credential) are never shown, only
 * whether they are set.
 *
 * Called with the runtime read-locked (the plugin set and the config are
 * the runtime's).  Returns a new JSON array.
 */
#ifndef ATUM_WEB_PLUGIN_SETTINGS_H
#define ATUM_WEB_PLUGIN_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>

struct plugin_instance;
struct atum_config;

json_t *plugin_settings_json(const struct plugin_instance *pi, const struct atum_config *cfg);

/* Whether a setting's name says it holds a secret. */
bool plugin_setting_is_secret(const char *key);

#endif
