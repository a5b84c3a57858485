/*
 * mailout/mailout_conf.h -- the configuration keys of this floor: [smarthost] and the [mail] keys of sending: acknowledgements, notifications, composing.
 * Declared by the programs that run it (core/conf.h, conf_declare).
 */
#ifndef ATUM_MAILOUT_MAILOUT_CONF_H
#define ATUM_MAILOUT_MAILOUT_CONF_H

#include "core/conf.h"

extern const struct conf_table mailout_conf_table;

#endif
