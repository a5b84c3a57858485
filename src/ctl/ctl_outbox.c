/*
 * ctl/ctl_outbox.c -- `atumctl outbox` (outgoing mail: list, show, retry)
 * and `atumctl template` (the mail templates and per-queue overrides).
 */
#include "config.h"
#include "ctl/ctl.h"
#include "desk/audit.h"
#include "lib/err.h"
#include "mailout/outbox.h"
#include "mailout/template.h"
#include "lib/strbuf.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int outbox_list(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        { "failed", no_argument, NULL, 'f' }, { "ticket", required_argument, NULL, 't' },
        { "limit", required_argument, NULL, 'l' }, { NULL, 0, NULL, 0 }
    };
    bool failed = false;
    const char *ticket = NULL, *limit = "50";
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (ch == 'f')
            failed = true;
        else if (ch == 't')
            ticket = optarg;
        else if (ch == 'l')
            limit = optarg;
        else
            return 2;
    }
    const char *p[] = { failed ? "t" : "f", ticket, limit };
    return ctl_query_print(ctl,
        "SELECT o.id, o.kind, o.state, o.attempts, o.ticket_id AS ticket,"
        "       (SELECT string_agg(r.address, ',' ORDER BY r.address) FROM outbound_recipients r"
        "         WHERE r.outbound_id = o.id) AS rcpt,"
        "       o.created_at::timestamp(0)::text AS created, left(o.subject, 40) AS subject,"
        "       left(coalesce(o.last_error, (SELECT string_agg(r.reply, '; ') FROM outbound_recipients r"
        "         WHERE r.outbound_id = o.id AND r.state IN ('failed', 'bounced'))), 60) AS error"
        "  FROM outbound_mail o"
        " WHERE (NOT $1::boolean OR o.state IN ('failed', 'partial', 'expired'))"
        "   AND ($2::bigint IS NULL OR o.ticket_id = $2::bigint)"
        " ORDER BY o.id DESC LIMIT $3::int", 3, p);
}

static int outbox_show(struct ctl *ctl, const char *sid, bool raw)
{
    const char *e = NULL;
    const char *p[] = { sid };
    if (raw) {
        PGresult *r = db_exec_bin(ctl->db, "SELECT raw FROM outbound_mail WHERE id = $1::bigint", 1, p,
                                  NULL, NULL, 1, &e);
        if (r == NULL)
            return ctl_fail("outbox show", e);
        int found = PQntuples(r);
        if (found)
            fwrite(PQgetvalue(r, 0, 0), 1, (size_t)PQgetlength(r, 0, 0), stdout);
        PQclear(r);
        return found ? 0 : ctl_fail("outbox show", "no such outgoing mail");
    }
    PGresult *r = db_exec(ctl->db,
        "SELECT json_build_object('id', o.id, 'kind', o.kind, 'state', o.state, 'ticket_id', o.ticket_id,"
        " 'message_id', o.message_id, 'rfc_message_id', o.rfc_message_id, 'mail_from', o.mail_from,"
        " 'subject', o.subject, 'attempts', o.attempts, 'last_error', o.last_error,"
        " 'unconfirmed', o.unconfirmed, 'created_at', o.created_at, 'queued_at', o.queued_at,"
        " 'last_attempt_at', o.last_attempt_at, 'sent_at', o.sent_at, 'size', octet_length(o.raw),"
        " 'recipients', coalesce((SELECT json_agg(json_build_object('address', r.address, 'state', r.state,"
        "     'reply', r.reply, 'updated_at', r.updated_at) ORDER BY r.address)"
        "   FROM outbound_recipients r WHERE r.outbound_id = o.id), '[]'))::text"
        "  FROM outbound_mail o WHERE o.id = $1::bigint", 1, p, &e);
    if (r == NULL)
        return ctl_fail("outbox show", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ctl_fail("outbox show", "no such outgoing mail");
    }
    json_t *v = json_loads(PQgetvalue(r, 0, 0), 0, NULL);
    PQclear(r);
    if (ctl->json) {
        ctl_print_json(v);
        return 0;
    }
    printf("outbound %lld (%s) %s, %lld attempt(s)%s\n",
           (long long)json_integer_value(json_object_get(v, "id")),
           json_string_value(json_object_get(v, "kind")), json_string_value(json_object_get(v, "state")),
           (long long)json_integer_value(json_object_get(v, "attempts")),
           json_is_true(json_object_get(v, "unconfirmed")) ? ", unconfirmed" : "");
    static const char *const fields[] = { "subject", "rfc_message_id", "mail_from", "created_at",
                                          "queued_at", "last_attempt_at", "sent_at", "last_error" };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        const char *s = json_string_value(json_object_get(v, fields[i]));
        if (s)
            printf("  %-16s %s\n", fields[i], s);
    }
    json_t *t = json_object_get(v, "ticket_id");
    if (json_is_integer(t))
        printf("  %-16s %lld\n", "ticket", (long long)json_integer_value(t));
    size_t i;
    json_t *rc;
    json_array_foreach(json_object_get(v, "recipients"), i, rc) {
        const char *reply = json_string_value(json_object_get(rc, "reply"));
        printf("  to %s: %s%s%s\n", json_string_value(json_object_get(rc, "address")),
               json_string_value(json_object_get(rc, "state")), reply ? " -- " : "", reply ? reply : "");
    }
    json_decref(v);
    return 0;
}

int ctl_outbox(struct ctl *ctl, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "list") == 0)
        return outbox_list(ctl, argc, argv);
    if (argc >= 2 && strcmp(argv[0], "show") == 0 && atoll(argv[1]) > 0)
        return outbox_show(ctl, argv[1], argc == 3 && strcmp(argv[2], "--raw") == 0);
    if (argc == 2 && strcmp(argv[0], "retry") == 0 && atoll(argv[1]) > 0) {
        const char *e = NULL;
        int n = 0;
        if (outbox_retry(ctl->db, ctl->cfg, atoll(argv[1]), &n, &e) < 0)
            return ctl_fail("outbox retry", e);
        if (!ctl->json)
            printf("outbound %s queued again for %d recipient(s)\n", argv[1], n);
        return 0;
    }
    fprintf(stderr, "usage: atumctl outbox list [--failed] [--ticket N] [--limit N]\n"
                    "       atumctl outbox show ID [--raw]\n"
                    "       atumctl outbox retry ID\n");
    return 2;
}

/* ---- templates ---------------------------------------------------------- */

static long long queue_id(struct ctl *ctl, const char *name, const char **error_r)
{
    const char *e = NULL;
    const char *p[] = { name };
    PGresult *r = db_exec(ctl->db, "SELECT id FROM queues WHERE name = $1", 1, p, &e);
    if (r == NULL)
        return err_set(error_r, "%s", e);
    long long id = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (id == 0)
        return err_set(error_r, "no queue named '%s'", name);
    return id;
}

static int template_set(struct ctl *ctl, const char *queue, const char *name)
{
    const char *e = NULL;
    struct strbuf src = STRBUF_INIT;
    char buf[8192];
    size_t n;
    int ret = 1;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0 && src.len < 256 * 1024)
        strbuf_add(&src, buf, n);
    if (src.len >= 256 * 1024 || memchr(strbuf_str(&src), '\0', src.len) != NULL) {
        fprintf(stderr, "atumctl: template set: the template must be text under 256 KiB\n");
        goto out;
    }
    /* refuse what would not render: an unknown {{variable}} in a
     * customer's acknowledgement is better caught here than mailed */
    if (tmpl_check(name, strbuf_str(&src), &e) < 0) {
        ret = ctl_fail("template set", e);
        goto out;
    }
    long long qid = queue_id(ctl, queue, &e);
    if (qid < 0) {
        ret = ctl_fail("template set", e);
        goto out;
    }
    char sq[32], target[48], detail[160];
    snprintf(sq, sizeof(sq), "%lld", qid);
    snprintf(target, sizeof(target), "queue:%lld", qid);
    snprintf(detail, sizeof(detail), "{\"template\":\"%s\"}", name);
    const char *p[] = { sq, name, strbuf_str(&src) };
    PGresult *r = NULL;
    if (db_begin(ctl->db, &e) < 0
        || (r = db_exec(ctl->db, "INSERT INTO mail_templates (queue_id, name, source) VALUES ($1, $2, $3)"
                                 " ON CONFLICT (queue_id, name) DO UPDATE SET source = excluded.source,"
                                 " updated_at = now()", 3, p, &e)) == NULL
        || audit_append(ctl->db, 0, "atumctl", "template.set", target, detail, NULL, &e) < 0
        || db_commit(ctl->db, &e) < 0) {
        PQclear(r);
        db_rollback(ctl->db);
        ret = ctl_fail("template set", e);
        goto out;
    }
    PQclear(r);
    if (!ctl->json)
        printf("template %s of queue %s set (%zu bytes)\n", name, queue, src.len);
    ret = 0;
out:
    strbuf_free(&src);
    return ret;
}

static int template_reset(struct ctl *ctl, const char *queue, const char *name)
{
    const char *e = NULL;
    long long qid = queue_id(ctl, queue, &e);
    if (qid < 0)
        return ctl_fail("template reset", e);
    char sq[32], target[48], detail[160];
    snprintf(sq, sizeof(sq), "%lld", qid);
    snprintf(target, sizeof(target), "queue:%lld", qid);
    snprintf(detail, sizeof(detail), "{\"template\":\"%s\"}", name);
    const char *p[] = { sq, name };
    PGresult *r = NULL;
    if (db_begin(ctl->db, &e) < 0
        || (r = db_exec(ctl->db, "DELETE FROM mail_templates WHERE queue_id = $1 AND name = $2", 2, p, &e)) == NULL
        || audit_append(ctl->db, 0, "atumctl", "template.reset", target, detail, NULL, &e) < 0
        || db_commit(ctl->db, &e) < 0) {
        PQclear(r);
        db_rollback(ctl->db);
        return ctl_fail("template reset", e);
    }
    PQclear(r);
    if (!ctl->json)
        printf("template %s of queue %s: back to the built-in\n", name, queue);
    return 0;
}

static bool known_template(const char *name)
{
    return tmpl_variables(name) != NULL;
}

int ctl_template(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    if (argc == 1 && strcmp(argv[0], "list") == 0) {
        return ctl_query_print(ctl,
            "SELECT n.name AS template, coalesce(string_agg(q.name, ',' ORDER BY q.name), '') AS overridden_in"
            "  FROM unnest($1::text[]) n(name)"
            "  LEFT JOIN mail_templates t ON t.name = n.name LEFT JOIN queues q ON q.id = t.queue_id"
            " GROUP BY n.name ORDER BY n.name", 1,
            (const char *[]){ "{ack,reply,notify_new,notify_reply,notify_assign,notice,signin,reset,invite,verify,solved}" });
    }
    if ((argc == 2 || argc == 4) && strcmp(argv[0], "show") == 0 && known_template(argv[1])) {
        long long qid = 0;
        if (argc == 4) {
            if (strcmp(argv[2], "--queue") != 0)
                goto usage;
            if ((qid = queue_id(ctl, argv[3], &e)) < 0)
                return ctl_fail("template show", e);
        }
        char *src = tmpl_source(ctl->db, qid, argv[1], &e);
        if (src == NULL)
            return ctl_fail("template show", e);
        fputs(src, stdout);
        free(src);
        return 0;
    }
    if (argc == 3 && strcmp(argv[0], "set") == 0 && known_template(argv[2]))
        return template_set(ctl, argv[1], argv[2]);
    if (argc == 3 && strcmp(argv[0], "reset") == 0 && known_template(argv[2]))
        return template_reset(ctl, argv[1], argv[2]);
usage:
    fprintf(stderr, "usage: atumctl template list\n"
                    "       atumctl template show NAME [--queue QUEUE]\n"
                    "       atumctl template set QUEUE NAME < FILE\n"
                    "       atumctl template reset QUEUE NAME\n"
                    "  NAME: ack, reply, notify_new, notify_reply, notify_assign, notice,\n"
                    "        signin, reset, invite, verify, solved\n");
    return 2;
}
