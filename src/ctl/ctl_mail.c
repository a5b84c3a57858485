/* ctl/ctl_mail.c -- atumctl inject, inbound, reprocess, parse: received
 * mail as operators see it. */
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
#include "mailin/inbound.h"
#include "mail/mime.h"
#include "mail/summary.h"

int ctl_inject(struct ctl *ctl, int argc, char **argv)
{
    static const struct option opts[] = {
        { "from", required_argument, NULL, 'f' },
        { "to", required_argument, NULL, 't' },
        { NULL, 0, NULL, 0 }
    };
    const char *from = NULL;
    json_t *rcpt = json_array();
    int ch;
    optind = 1;
    /* no subcommand: argv[-1] is "inject", which getopt wants in front */
    while ((ch = getopt_long(argc + 1, argv - 1, "", opts, NULL)) != -1) {
        if (ch == 'f')
            from = optarg;
        else if (ch == 't')
            json_array_append_new(rcpt, json_string(optarg));
        else {
            json_decref(rcpt);
            return 2;
        }
    }
    struct strbuf raw = STRBUF_INIT;
    char buf[65536];
    size_t n;
    long long max = ctl->cfg->mail_max_message_size;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0) {
        if ((long long)(raw.len + n) > max) {
            strbuf_free(&raw);
            json_decref(rcpt);
            return ctl_fail("inject", err_fmt("message larger than mail.max_message_size (%lld bytes): nothing stored", max));
        }
        strbuf_add(&raw, buf, n);
    }
    if (ferror(stdin)) {
        strbuf_free(&raw);
        json_decref(rcpt);
        return ctl_fail("inject", err_fmt("reading stdin: %s: nothing stored", strerror(errno)));
    }
    if (raw.len == 0) {
        json_decref(rcpt);
        return ctl_fail("inject", "empty message on stdin: nothing stored");
    }
    json_t *env = json_pack("{s:s?, s:o}", "mail_from", from, "rcpt_to", rcpt);
    char *envs = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    long long id = 0;
    const char *e = NULL;
    int rc = inbound_store(ctl->db, "cli", 0, envs, raw.s, raw.len, &id, &e);
    free(envs);
    size_t len = raw.len;
    strbuf_free(&raw);
    if (rc < 0)
        return ctl_fail("inject", e);
    if (ctl->json)
        ctl_print_json(json_pack("{s:I, s:I}", "inbound_id", (json_int_t)id, "bytes", (json_int_t)len));
    else
        printf("%lld\n", id);
    return 0;
}

static struct mail_limits ctl_limits(const struct ctl *ctl)
{
    struct mail_limits lim;
    mail_limits_default(&lim);
    lim.max_attachment = (size_t)ctl->cfg->mail_max_attachment;
    lim.max_header_bytes = (size_t)ctl->cfg->mail_max_header_bytes;
    lim.max_parts = ctl->cfg->mail_max_parts;
    return lim;
}

static void print_summary_text(json_t *s)
{
    const char *from_name = json_string_value(json_object_get(s, "from_name"));
    const char *from = json_string_value(json_object_get(s, "from"));
    printf("subject:     %s\n", json_string_value(json_object_get(s, "subject")));
    if (from_name)
        printf("from:        %s <%s>\n", from_name, from ? from : "");
    else
        printf("from:        %s\n", from ? from : "(no address)");
    const char *mid = json_string_value(json_object_get(s, "message_id"));
    printf("message-id:  %s\n", mid ? mid : "(none)");
    printf("robot:       %s", json_string_value(json_object_get(s, "robot")));
    const char *why = json_string_value(json_object_get(s, "robot_reason"));
    printf("%s%s%s\n", why ? " (" : "", why ? why : "", why ? ")" : "");
    json_t *att = json_object_get(s, "attachments");
    printf("attachments: %zu\n", json_array_size(att));
    size_t i;
    json_t *a;
    json_array_foreach(att, i, a)
        printf("  %s  %s  %lld bytes%s\n", json_string_value(json_object_get(a, "filename")),
               json_string_value(json_object_get(a, "content_type")),
               (long long)json_integer_value(json_object_get(a, "size")),
               json_is_true(json_object_get(a, "kept")) ? "" : "  (not kept: too large)");
    json_t *pr = json_object_get(s, "problems");
    if (json_array_size(pr) > 0) {
        printf("problems:\n");
        json_array_foreach(pr, i, a)
            printf("  %s\n", json_string_value(a));
    }
}

static int inbound_show(struct ctl *ctl, const char *sid)
{
    const char *e = NULL;
    const char *p[] = { sid };
    PGresult *r = db_exec(ctl->db,
        "SELECT id, state, error, source, received_at::timestamp(0)::text, size, ticket_id,"
        "       message_id, duplicate, envelope::text, summary::text, raw"
        "  FROM inbound_mail WHERE id = $1::bigint", 1, p, &e);
    if (r == NULL)
        return ctl_fail("inbound show", e);
    if (PQntuples(r) == 0) {
        PQclear(r);
        return ctl_fail("inbound show", err_fmt("no inbound mail %s", sid));
    }
    json_t *summary = PQgetisnull(r, 0, 10) ? NULL : json_loads(PQgetvalue(r, 0, 10), 0, NULL);
    if (summary == NULL) {
        /* not ingested yet (or failed early): read the raw mail now */
        size_t n = 0;
        unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 11), &n);
        struct mail_limits lim = ctl_limits(ctl);
        struct mail_msg *m = mail_parse((const char *)raw, n, &lim);
        summary = mail_summary_json(m);
        mail_msg_free(&m);
        PQfreemem(raw);
    }
    json_t *o = json_pack("{s:I, s:s, s:s?, s:s, s:s, s:I, s:o, s:o, s:b, s:o}",
        "id", (json_int_t)atoll(PQgetvalue(r, 0, 0)), "state", PQgetvalue(r, 0, 1),
        "error", PQgetisnull(r, 0, 2) ? NULL : PQgetvalue(r, 0, 2),
        "source", PQgetvalue(r, 0, 3), "received_at", PQgetvalue(r, 0, 4),
        "size", (json_int_t)atoll(PQgetvalue(r, 0, 5)),
        "ticket", PQgetisnull(r, 0, 6) ? json_null() : json_integer(atoll(PQgetvalue(r, 0, 6))),
        "message", PQgetisnull(r, 0, 7) ? json_null() : json_integer(atoll(PQgetvalue(r, 0, 7))),
        "duplicate", strcmp(PQgetvalue(r, 0, 8), "t") == 0,
        "envelope", json_loads(PQgetvalue(r, 0, 9), 0, NULL));
    json_object_update(o, summary);
    json_decref(summary);
    PQclear(r);
    if (ctl->json) {
        ctl_print_json(o);
        return 0;
    }
    printf("inbound %lld: %s%s (%s, %lld bytes, received %s)\n",
           (long long)json_integer_value(json_object_get(o, "id")),
           json_string_value(json_object_get(o, "state")),
           json_is_true(json_object_get(o, "duplicate")) ? ", duplicate" : "",
           json_string_value(json_object_get(o, "source")),
           (long long)json_integer_value(json_object_get(o, "size")),
           json_string_value(json_object_get(o, "received_at")));
    if (json_string_value(json_object_get(o, "error")))
        printf("error:       %s\n", json_string_value(json_object_get(o, "error")));
    if (json_is_integer(json_object_get(o, "ticket")))
        printf("ticket:      #%lld (message %lld)\n",
               (long long)json_integer_value(json_object_get(o, "ticket")),
               (long long)json_integer_value(json_object_get(o, "message")));
    print_summary_text(o);
    json_decref(o);
    return 0;
}

int ctl_inbound(struct ctl *ctl, int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[0], "show") == 0)
        return inbound_show(ctl, argv[1]);
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        static const struct option opts[] = {
            { "failed", no_argument, NULL, 'f' }, { "limit", required_argument, NULL, 'l' },
            { NULL, 0, NULL, 0 }
        };
        bool failed = false;
        const char *limit = "50";
        int ch;
        optind = 1;
        while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
            if (ch == 'f')
                failed = true;
            else if (ch == 'l')
                limit = optarg;
            else
                return 2;
        }
        const char *params[] = { failed ? "failed" : NULL, limit };
        return ctl_query_print(ctl,
            "SELECT id, state, source, received_at::timestamp(0)::text AS received, size,"
            "       ticket_id AS ticket, robot, left(coalesce(summary->>'subject', ''), 50) AS subject,"
            "       left(error, 60) AS error"
            "  FROM inbound_mail WHERE ($1::text IS NULL OR state = $1)"
            " ORDER BY id DESC LIMIT $2::int", 2, params);
    }
    ctl_usage(stderr);
    return 2;
}

int ctl_reprocess(struct ctl *ctl, int argc, char **argv)
{
    const char *e = NULL;
    long long id = argc == 1 ? atoll(argv[0]) : 0;
    if (id <= 0) {
        fprintf(stderr, "atumctl: reprocess needs an inbound mail ID\n");
        return 2;
    }
    /* a held IMAP mail (over mail.max_message_size) has only its headers
     * here: ingesting them would make a ticket without the mail */
    const char *p[] = { argv[0] };
    PGresult *r = db_exec(ctl->db, "SELECT error FROM inbound_mail WHERE id = $1::bigint"
                                   " AND envelope->>'too_large' = 'true'", 1, p, &e);
    if (r == NULL)
        return ctl_fail("reprocess", e);
    if (PQntuples(r) > 0) {
        fprintf(stderr, "atumctl: reprocess: inbound %lld was %s\n"
                "  raise mail.max_message_size and restart atumd: the poller then takes it in\n",
                id, PQgetvalue(r, 0, 0));
        PQclear(r);
        return 1;
    }
    PQclear(r);
    if (inbound_reprocess(ctl->db, id, &e) < 0)
        return ctl_fail("reprocess", e);
    if (!ctl->json)
        printf("inbound %lld queued for ingest\n", id);
    return 0;
}

int ctl_parse(struct ctl *ctl, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    struct strbuf raw = STRBUF_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
        strbuf_add(&raw, buf, n);
    struct mail_limits lim = ctl_limits(ctl);
    struct mail_msg *m = mail_parse(raw.s ? raw.s : "", raw.len, &lim);
    json_t *s = mail_summary_json(m);
    if (ctl->json) {
        json_object_set_new(s, "text", json_stringn(m->text.s ? m->text.s : "", m->text.len));
        json_object_set_new(s, "new_text", json_stringn(m->new_text.s ? m->new_text.s : "", m->new_text.len));
        json_object_set_new(s, "html", json_stringn(m->html.s ? m->html.s : "", m->html.len));
        ctl_print_json(s);
    } else {
        print_summary_text(s);
        printf("\n%s\n", m->new_text.s ? m->new_text.s : "");
        json_decref(s);
    }
    mail_msg_free(&m);
    strbuf_free(&raw);
    return 0;
}
