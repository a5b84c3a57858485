/*
 * core/db.h -- one PostgreSQL connection with reconnect, parameters only.
 *
 * struct db_conn wraps a PGconn with what every user needs:
 *  - connect lazily and reconnect with exponential backoff when the server
 *    went away (db_conn_ensure), logging the outage once and the recovery;
 *  - statements only with parameters (PQexecParams / prepared);
 *  - prepared statements that are (re)prepared on first use per physical
 *    connection, so callers never track connection generations;
 *  - transactions that remember whether work was enqueued, so exactly one
 *    NOTIFY goes out with the COMMIT (see queue.h).
 *
 * A db_conn is used by one thread at a time.  Results returned by db_exec*
 * belong to the caller: PQclear() them.  Error strings follow err.h.
 */
#ifndef ATUM_CORE_DB_H
#define ATUM_CORE_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include "lib/strbuf.h"

#define DB_NOTIFY_CHANNEL "atum_jobs"

struct db_params {
    const char *url;
    const char *application_name;
    long long connect_timeout_ms;
    long long statement_timeout_ms;     /* 0: server default */
    long long reconnect_max_ms;         /* backoff ceiling */
};

struct db_conn;

/* A statement prepared on demand; define these as static const. */
struct db_stmt {
    const char *name;        /* unique per process */
    const char *sql;
    int nparams;
};

struct db_conn *db_conn_new(const struct db_params *params);
void db_conn_free(struct db_conn **c);

/* Connects if needed.  While the server is unreachable this fails at once
 * until the backoff delay has passed, so callers may call it in a loop. */
int db_conn_ensure(struct db_conn *c, const char **error_r);
/* Connects now, ignoring backoff (start-up and tools). */
int db_conn_connect(struct db_conn *c, const char **error_r);
bool db_conn_is_up(const struct db_conn *c);
/* Milliseconds until the next reconnect attempt is allowed (0 = now). */
long long db_conn_retry_in_ms(const struct db_conn *c);
/* Drops the connection (e.g. after a protocol error); next ensure reconnects. */
void db_conn_drop(struct db_conn *c);
/* The raw connection for LISTEN/poll users; NULL when down. */
PGconn *db_conn_pg(struct db_conn *c);
/* Bumped on every new physical connection. */
unsigned db_conn_generation(const struct db_conn *c);

/* SQLSTATE of the last failed statement ("" if none, "08006" when the
 * connection itself failed). */
const char *db_last_sqlstate(const struct db_conn *c);
/* Table and constraint the last failure was about (integrity violations:
 * unique, foreign key, check), "" when it named none. */
const char *db_last_table(const struct db_conn *c);
const char *db_last_constraint(const struct db_conn *c);

/* Text parameters (NULL = SQL NULL).  Returns a result with status
 * COMMAND_OK or TUPLES_OK, or NULL with *error_r set. */
PGresult *db_exec(struct db_conn *c, const char *sql, int nparams,
                  const char *const *params, const char **error_r);
/* With lengths/formats for binary parameters, and result format. */
PGresult *db_exec_bin(struct db_conn *c, const char *sql, int nparams,
                      const char *const *params, const int *lengths,
                      const int *formats, int result_format, const char **error_r);
PGresult *db_exec_stmt(struct db_conn *c, const struct db_stmt *stmt,
                       const char *const *params, const char **error_r);
/* A prepared statement with binary parameters (lengths/formats as in
 * PQexecPrepared); results in text format. */
PGresult *db_exec_stmt_bin(struct db_conn *c, const struct db_stmt *stmt,
                           const char *const *params, const int *lengths, const int *formats,
                           const char **error_r);
/* A command without parameters or results: "BEGIN", "SET ...". */
int db_command(struct db_conn *c, const char *sql, const char **error_r);

int db_begin(struct db_conn *c, const char **error_r);
/* Sends "NOTIFY atum_jobs" in the same round trip when db_want_notify()
 * was called during this transaction. */
int db_commit(struct db_conn *c, const char **error_r);
void db_rollback(struct db_conn *c);
bool db_in_transaction(struct db_conn *c);
void db_want_notify(struct db_conn *c);

/* Adds 1 to a counter (lib/metrics.h) when the open transaction commits,
 * nothing when it rolls back; at once outside a transaction.  So what is
 * counted (a ticket created, a mail delivered) happened, even when the
 * job that did it failed and ran again.  name must be a string constant;
 * labels are copied (at most DB_METRIC_LABELS_MAX bytes, else the count
 * is made at once).  No allocation: a few per transaction are kept in the
 * connection. */
#define DB_METRIC_LABELS_MAX 128
void db_count_on_commit(struct db_conn *c, const char *name, const char *labels);

/* Convenience for single values: returns a malloc'd copy of row 0, col 0 of
 * a query result, or NULL (error or no row; *error_r says which: NULL when
 * simply no row). */
char *db_query_value(struct db_conn *c, const char *sql, int nparams,
                     const char *const *params, const char **error_r);

/* Appends a text[] literal ({"a","b"}) of v to b, for a parameter cast
 * with ::text[]: the values are quoted, never parsed as SQL. */
void db_text_array(struct strbuf *b, char *const *v, size_t n);

#endif
