/*
 * web/web_conf.h -- the configuration keys of this floor: [web] and [auth]: the HTTP server and the API's authentication; copied into the server at start, so a change takes a restart.
 * Declared by the programs that run it (core/conf.h, conf_declare).
 */
#ifndef ATUM_WEB_WEB_CONF_H
#define ATUM_WEB_WEB_CONF_H

#include "core/conf.h"

extern const struct conf_table web_conf_table;

#endif
