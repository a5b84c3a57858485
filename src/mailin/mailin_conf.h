/*
 * mailin/mailin_conf.h -- the configuration keys of this floor: [smtp], [imap] and the [mail] keys of receiving: limits, queues, organisations, agents' replies by mail.
 * Declared by the programs that run it (core/conf.h, conf_declare).
 */
#ifndef ATUM_MAILIN_MAILIN_CONF_H
#define ATUM_MAILIN_MAILIN_CONF_H

#include "core/conf.h"

extern const struct conf_table mailin_conf_table;

#endif
