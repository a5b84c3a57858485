/*
 * api_world.h -- the world the REST API tests run against, built once per
 * test program (unchecked fixture): web_start(), the worker pool and a
 * webhook receiver in the process, against the private PostgreSQL of
 * tests/run-test, with users of every role, two queues, two organisations
 * and an API token per user; and the HTTP client the tests speak through.
 *
 * The server, the workers and a webhook receiver run in the same process,
 * so each suite runs without forking (CK_NOFORK): a child forked from a
 * threaded process would inherit the threads' memory without the threads,
 * which the sanitizers rightly call leaks.  api_world_main() runs one.
 */
#ifndef ATUM_TESTS_API_WORLD_H
#define ATUM_TESTS_API_WORLD_H

#include <check.h>
#include <civetweb.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include "core/db.h"
#include "core/runtime.h"
#include "lib/strbuf.h"
#include "lib/token.h"

#define SECRET "test-secret-0123456789abcdef0123456789"
#define PW "correct horse battery"

struct api_world {
    struct atum_config *cfg;
    struct runtime rt;
    struct db_pool *pool;
    struct web_server *ws;
    struct worker_pool *workers;
    struct mg_context *hook_srv;
    int port, hook_port;
    char hook_file[64];
    pthread_mutex_t hook_lock;
    int flaky_calls;
};
extern struct api_world W;

/* users: index into these arrays */
enum { ADMIN, MANAGER, AGENT_A, AGENT_B, CUST1, CUST2, CUST3, NUSERS };
extern const char *const emails[NUSERS];
extern const char *const roles[NUSERS];
extern long long uid[NUSERS];
extern char tok[NUSERS][TOKEN_MAX];
extern long long queue_a, queue_b, org1, org2;

void world_up(void);
void world_down(void);
/* Builds the suite NAME with the tests add() adds, runs it: 0 or 1. */
int api_world_main(const char *name, void (*add)(TCase *tc));

/* The test's own connection (per process) and single values from it. */
struct db_conn *DB(void);
long long qint(const char *sql);
long long qintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct reply {
    long status;
    struct strbuf body, headers;
    json_t *json;
};

struct call {
    const char *method, *path, *token, *cookie, *csrf, *body;
    size_t body_len;          /* 0: strlen(body) */
    const char *ctype;        /* default application/json when a body is sent */
    const char *header;       /* one extra header line */
    bool chunked;
};

struct reply http(const struct call *c);
void reply_free(struct reply *r);
/* Authenticated by API token. */
struct reply T(int who, const char *method, const char *path, const char *body);
long long jint(json_t *o, const char *key);
const char *jstr(json_t *o, const char *key);
/* status check with the body in the message */
#define EXPECT(r, st) ck_assert_msg((r).status == (st), "%s:%d: status %ld, want %d: %s", \
                                    __FILE__, __LINE__, (r).status, (st), strbuf_str(&(r).body))
void expect_status(int who, const char *method, const char *path, const char *body, int want);
/* Sessions: a login answer, its cookie, a signed-in session. */
struct session {
    char cookie[TOKEN_MAX];
    char csrf[80];
    struct strbuf set_cookie;
};
struct reply login(const char *email, const char *pw, const char *header);
void cookie_of(const struct reply *r, char *out, size_t size);
void session_login(int who, struct session *s);

/* A ticket by API (as who, in queue q) -> id. */
long long new_ticket(int who, long long q, const char *subject, const char *body);

#endif
