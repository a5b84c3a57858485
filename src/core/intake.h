/*
 * core/intake.h -- what the floors below or beside mail-in need from it,
 * as a table mail-in registers at start-up (the same seam as
 * core/mailer.h): the web's "needs attention" list puts a failed mail back
 * through ingest.  Without mail-in the call fails with a clear error.
 */
#ifndef ATUM_CORE_INTAKE_H
#define ATUM_CORE_INTAKE_H

#include "core/db.h"

struct runtime;

struct intake {
    /* an inbound mail back through ingest, in its own transaction */
    int (*reprocess)(struct db_conn *c, long long inbound_id, const char **error_r);
};

int intake_reprocess(struct runtime *rt, struct db_conn *c, long long inbound_id,
                     const char **error_r);

#endif
