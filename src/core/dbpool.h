/*
 * core/dbpool.h -- a small pool of db_conn for short borrowers (web requests,
 * plugin init, maintenance).  Worker threads do not use it: each owns its
 * connection for its whole life.
 *
 * db_pool_acquire() blocks up to timeout_ms for a free connection and makes
 * sure it is connected (reconnecting with the connection's backoff).
 * Borrowers that have to wait are served first come, first served.  The
 * borrower gives it back with db_pool_release(); a connection returned in
 * the middle of a transaction is rolled back first, so a handler that
 * bailed out early cannot leak an open transaction to the next borrower.
 */
#ifndef ATUM_CORE_DBPOOL_H
#define ATUM_CORE_DBPOOL_H

#include "core/db.h"

struct db_pool;

struct db_pool *db_pool_new(const struct db_params *params, int size);
void db_pool_free(struct db_pool **pool);

struct db_conn *db_pool_acquire(struct db_pool *pool, long long timeout_ms, const char **error_r);
void db_pool_release(struct db_pool *pool, struct db_conn *c);
/* How many borrowers are waiting now (for tests and status). */
int db_pool_waiting(struct db_pool *pool);

#endif
