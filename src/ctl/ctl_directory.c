/* ctl/ctl_directory.c -- atumctl user, queue, mailbox, token: the people,
 * queues and mailboxes of the helpdesk. */
#include "config.h"
#include "ctl/ctl.h"
#include "core/conf.h"
#include "core/db.h"
#include "lib/err.h"
#include "lib/strbuf.h"
#include "lib/xalloc.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "desk/mailbox.h"
#include "desk/queue.h"
#include "desk/audit.h"
#include "desk/user.h"
#include "lib/token.h"

#include <termios.h>

/* Reads a password: one line from stdin, or prompted twice without echo. */
static char *read_password(bool from_stdin)
{
    char *line = NULL;
    size_t cap = 0;
    if (from_stdin || !isatty(STDIN_FILENO)) {
        ssize_t n = getline(&line, &cap, stdin);
        if (n <= 0) {
            free(line);
            return NULL;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        return line;
    }
    struct termios old, quiet;
    tcgetattr(STDIN_FILENO, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    char *again = NULL;
    size_t cap2 = 0;
    fprintf(stderr, "password: ");
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    ssize_t n1 = getline(&line, &cap, stdin);
    fprintf(stderr, "\nagain: ");
    ssize_t n2 = getline(&again, &cap2, stdin);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    if (n1 <= 0 || n2 <= 0 || strcmp(line, again) != 0) {
        fprintf(stderr, "atumctl: passwords do not match\n");
        free(line);
        free(again);
        return NULL;
    }
    free(again);
    line[strcspn(line, "\r\n")] = '\0';
    return line;
}

int ctl_user(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc < 1) {
        ctl_usage(stderr);
        return 2;
    }
    if (strcmp(argv[0], "list") == 0)
        return ctl_query_print(ctl, "SELECT u.id, u.email, u.name, u.role, o.name AS org,"
                                " u.password_hash IS NOT NULL AS can_login, u.disabled,"
                                " u.created_at::timestamp(0)::text AS created"
                                " FROM users u LEFT JOIN orgs o ON o.id = u.org_id ORDER BY u.id",
                           0, NULL);

    bool add = strcmp(argv[0], "add") == 0, passwd = strcmp(argv[0], "passwd") == 0;
    if (!add && !passwd) {
        fprintf(stderr, "atumctl: unknown user command '%s'\n", argv[0]);
        return 2;
    }
    static const struct option opts[] = {
        { "name", required_argument, NULL, 'n' },
        { "role", required_argument, NULL, 'r' },
        { "password-stdin", no_argument, NULL, 'p' },
        { "no-password", no_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 }
    };
    const char *name = "", *role = "customer";
    bool pw_stdin = false, no_pw = false;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'n': name = optarg; break;
        case 'r': role = optarg; break;
        case 'p': pw_stdin = true; break;
        case 'N': no_pw = true; break;
        default: return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "atumctl: user %s needs exactly one EMAIL\n", argv[0]);
        return 2;
    }
    const char *email = argv[optind];
    char *pw = NULL;
    if (passwd || !no_pw) {
        pw = read_password(pw_stdin);
        if (pw == NULL)
            return ctl_fail("user", "no password given (use --password-stdin or --no-password)");
    }
    int rc;
    if (add) {
        long long id = 0;
        rc = user_add(ctl->db, email, name, role, pw, "atumctl", &id, &e);
        if (rc == 0) {
            if (ctl->json)
                ctl_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "email", email, "role", role));
            else
                printf("user %lld: %s (%s)\n", id, email, role);
        }
    } else {
        rc = user_set_password(ctl->db, email, pw, "atumctl", &e);
        if (rc == 0 && !ctl->json)
            printf("password changed for %s\n", email);
    }
    if (pw) {
        memset(pw, 0, strlen(pw));
        free(pw);
    }
    return rc < 0 ? ctl_fail("user", e) : 0;
}

/* atumctl acts as the operator: sees everything, audited as "atumctl" */
static const struct desk_actor operator = { .kind = DESK_OPERATOR, .via = "atumctl" };

int ctl_queue(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc >= 1 && strcmp(argv[0], "list") == 0)
        return ctl_query_print(ctl, "SELECT q.id, q.name, q.address,"
                                " (SELECT count(*) FROM queue_members m WHERE m.queue_id = q.id) AS agents,"
                                " (SELECT count(*) FROM tickets t WHERE t.queue_id = q.id) AS tickets"
                                " FROM queues q ORDER BY q.id", 0, NULL);
    struct desk_tx tx = { ctl->db, NULL, &operator };
    struct err err;
    if (argc == 3 && strcmp(argv[0], "add") == 0) {
        long long id = 0;
        if (db_begin(ctl->db, &e) < 0)
            return ctl_fail("queue add", e);
        if (queue_add(&tx, argv[1], argv[2], &id, &err) < 0) {
            db_rollback(ctl->db);
            return ctl_fail("queue add", err.text);
        }
        if (db_commit(ctl->db, &e) < 0)
            return ctl_fail("queue add", e);
        if (ctl->json)
            ctl_print_json(json_pack("{s:I, s:s, s:s}", "id", (json_int_t)id, "name", argv[1], "address", argv[2]));
        else
            printf("queue %lld: %s <%s>\n", id, argv[1], argv[2]);
        return 0;
    }
    if (argc == 3 && strcmp(argv[0], "member") == 0) {
        long long qid = 0, uid = 0;
        bool changed = false;
        if (db_begin(ctl->db, &e) < 0)
            return ctl_fail("queue member", e);
        if (queue_find(&tx, argv[1], &qid, &err) < 0 || user_find(&tx, argv[2], &uid, &err) < 0
            || queue_add_member(&tx, qid, uid, &changed, &err) < 0) {
            db_rollback(ctl->db);
            return ctl_fail("queue member", err.text);
        }
        if (db_commit(ctl->db, &e) < 0)
            return ctl_fail("queue member", e);
        if (!ctl->json)
            printf("%s is now a member of %s\n", argv[2], argv[1]);
        return 0;
    }
    ctl_usage(stderr);
    return 2;
}

int ctl_mailbox(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc >= 1 && strcmp(argv[0], "list") == 0)
        return ctl_query_print(ctl,
            "SELECT m.id, m.name, q.name AS queue, m.host || ':' || m.port AS server, m.security,"
            "       m.username, m.folder, m.after_fetch, m.enabled, m.idle, m.last_uid,"
            "       m.locked_by, m.last_ok_at::timestamp(0)::text AS last_ok, left(m.last_error, 90) AS last_error"
            "  FROM mailboxes m JOIN queues q ON q.id = m.queue_id ORDER BY m.id", 0, NULL);
    if (argc == 2 && strcmp(argv[0], "remove") == 0) {
        const char *p[] = { argv[1] };
        PGresult *r = db_exec(ctl->db, "DELETE FROM mailboxes WHERE name = $1", 1, p, &e);
        if (r == NULL)
            return ctl_fail("mailbox remove", e);
        bool gone = atoi(PQcmdTuples(r)) > 0;
        PQclear(r);
        if (!gone)
            return ctl_fail("mailbox remove", err_fmt("no mailbox named %s", argv[1]));
        return 0;
    }
    if (argc < 2 || strcmp(argv[0], "add") != 0) {
        ctl_usage(stderr);
        return 2;
    }
    static const struct option opts[] = {
        { "queue", required_argument, NULL, 'q' }, { "host", required_argument, NULL, 'h' },
        { "port", required_argument, NULL, 'p' }, { "security", required_argument, NULL, 's' },
        { "user", required_argument, NULL, 'u' }, { "password-env", required_argument, NULL, 'P' },
        { "folder", required_argument, NULL, 'f' }, { "after", required_argument, NULL, 'a' },
        { "move-to", required_argument, NULL, 'm' }, { "trust-any-certificate", no_argument, NULL, 'T' },
        { "no-idle", no_argument, NULL, 'I' }, { "poll", required_argument, NULL, 'o' },
        { NULL, 0, NULL, 0 }
    };
    const char *queue = NULL, *host = NULL, *port = NULL, *sec = "tls", *user = NULL, *pwenv = NULL,
               *folder = "INBOX", *after = "move", *move_to = "Processed", *poll = "60";
    bool trust = false, idle = true;
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'q': queue = optarg; break;
        case 'h': host = optarg; break;
        case 'p': port = optarg; break;
        case 's': sec = optarg; break;
        case 'u': user = optarg; break;
        case 'P': pwenv = optarg; break;
        case 'f': folder = optarg; break;
        case 'a': after = optarg; break;
        case 'm': move_to = optarg; break;
        case 'T': trust = true; break;
        case 'I': idle = false; break;
        case 'o': poll = optarg; break;
        default: return 2;
        }
    }
    if (optind + 1 != argc || queue == NULL || host == NULL || user == NULL || pwenv == NULL) {
        fprintf(stderr, "atumctl: mailbox add NAME --queue Q --host H --user U --password-env VAR\n");
        return 2;
    }
    /* the rules the API and the IMAP poller apply too (desk/mailbox.h) */
    const struct mailbox_link link = { host, sec, trust };
    if (mailbox_password_env_check(pwenv, &e) < 0
        || mailbox_link_check(&link, ctl->cfg->imap_allow_insecure_loopback, &e) < 0)
        return ctl_fail("mailbox add", e);
    if (port == NULL)
        port = strcmp(sec, "tls") == 0 ? "993" : "143";
    const char *p[] = { argv[optind], queue, host, port, sec, trust ? "true" : "false", user, pwenv,
                        folder, after, move_to, idle ? "true" : "false", poll };
    PGresult *r = db_exec(ctl->db,
        "INSERT INTO mailboxes (name, queue_id, host, port, security, trust_any_certificate,"
        " username, password_env, folder, after_fetch, move_to, idle, poll_interval_s)"
        " SELECT $1, q.id, $3, $4::int, $5, $6::bool, $7, $8, $9, $10, $11, $12::bool, $13::int"
        "   FROM queues q WHERE q.name = $2 RETURNING id", 13, p, &e);
    if (r == NULL)
        return ctl_fail("mailbox add", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ctl_fail("mailbox add", err_fmt("no queue named %s", queue));
    }
    printf("mailbox %s: %s@%s:%s (%s), folder %s -> queue %s\n", PQgetvalue(r, 0, 0), user, host,
           port, sec, folder, queue);
    PQclear(r);
    return 0;
}

int ctl_token(struct ctl *ctl, int argc, char **argv)
{
    const char *name = "atumctl", *email = NULL, *days = NULL, *e = NULL;
    if (argc < 2 || strcmp(argv[0], "add") != 0) {
        ctl_usage(stderr);
        return 2;
    }
    email = argv[1];
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (strcmp(argv[i], "--days") == 0 && i + 1 < argc) {
            days = argv[++i];
        } else {
            ctl_usage(stderr);
            return 2;
        }
    }
    long long d = 0;
    if (days && (conf_parse_int(days, &d) < 0 || d < 1 || d > 3650))
        return ctl_fail("token", "--days must be from 1 to 3650");
    if (ctl->cfg->secret_key == NULL || ctl->cfg->secret_key[0] == '\0')
        return ctl_fail("token", "core.secret_key (ATUM_CORE_SECRET_KEY) must be set, and be the "
                    "one atumd uses");
    if (name[0] == '\0' || strlen(name) > 100)
        return ctl_fail("token", "--name must have 1 to 100 characters");
    char tok[TOKEN_MAX], h[TOKEN_HASH_HEX], prefix[16];
    if (token_new("atum_", tok, sizeof(tok), &e) < 0)
        return ctl_fail("token", e);
    token_hash(ctl->cfg->secret_key, tok, strlen(tok), h);
    snprintf(prefix, sizeof(prefix), "%.12s", tok);
    if (db_begin(ctl->db, &e) < 0)
        return ctl_fail("token", e);
    /* every token expires: --days, or auth.token_lifetime */
    char life_ms[32];
    snprintf(life_ms, sizeof(life_ms), "%lld", days ? d * 86400000LL : ctl->cfg->auth_token_lifetime_ms);
    const char *p[] = { email, name, h, prefix, life_ms };
    PGresult *r = db_exec(ctl->db,
        "INSERT INTO api_tokens (user_id, name, token_hash, prefix, expires_at)"
        " SELECT id, $2, $3, $4, now() + $5::bigint * interval '1 millisecond' FROM users"
        "  WHERE email_canonical(email) = email_canonical($1) AND NOT disabled RETURNING id, user_id", 5, p, &e);
    if (r == NULL || PQntuples(r) != 1) {
        PQclear(r);
        db_rollback(ctl->db);
        return ctl_fail("token", e ? e : "no such (enabled) user");
    }
    char target[40], detail[160];
    snprintf(target, sizeof(target), "token:%s", PQgetvalue(r, 0, 0));
    json_t *dj = json_pack("{s:s, s:s}", "name", name, "prefix", prefix);
    char *ds = json_dumps(dj, JSON_COMPACT);
    snprintf(detail, sizeof(detail), "%s", ds ? ds : "{}");
    free(ds);
    json_decref(dj);
    long long uid = atoll(PQgetvalue(r, 0, 1));
    PQclear(r);
    if (audit_append(ctl->db, uid, "atumctl", "token.create", target, detail, NULL, &e) < 0
        || db_commit(ctl->db, &e) < 0) {
        db_rollback(ctl->db);
        return ctl_fail("token", e);
    }
    puts(tok);
    return 0;
}
