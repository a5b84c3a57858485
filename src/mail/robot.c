/* mail/robot.c -- see mail/robot.h. */
#include "config.h"
#include "mail/robot.h"
#include "mail/bouncetext.h"
#include "mail/msg.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool icontains(const char *hay, const char *needle)
{
    if (hay == NULL)
        return false;
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return true;
    return false;
}

static bool has_attachment_type(const struct mail_msg *m, const char *type)
{
    for (size_t i = 0; i < m->natt; i++)
        if (strcasecmp(m->att[i].content_type, type) == 0)
            return true;
    return false;
}

static void decide(struct mail_msg *m, enum mail_robot r, const char *why)
{
    m->robot = r;
    free(m->robot_reason);
    m->robot_reason = xstrdup(why);
}

static bool from_daemon(const struct mail_msg *m)
{
    static const char *const locals[] = { "mailer-daemon", "postmaster", "mail-daemon",
        "mailerdaemon", "mail.daemon", "mailer_daemon", "mail-delivery", "maildelivery", "bounce",
        "bounces", "mdaemon", "mail-delivery-subsystem", "mail-delivery-system", "maildeliverysystem",
        "mail_delivery_system", "postoffice" };
    static const char *const names[] = { "mail delivery subsystem", "mail delivery system",
        "mailer-daemon", "mailer daemon", "postmaster", "mail administrator", "mail delivery service" };
    const char *a = m->from_addr;
    if (a != NULL) {
        const char *at = strchr(a, '@');
        size_t n = at ? (size_t)(at - a) : strlen(a);
        for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
            if (n == strlen(locals[i]) && strncasecmp(a, locals[i], n) == 0)
                return true;
    }
    for (size_t i = 0; m->from_name != NULL && i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(m->from_name, names[i]) == 0)
            return true;
    return false;
}

/* Complaint loops that predate ARF (Hotmail JMRP, abuse desks) */
static bool complaint_subject(const char *s)
{
    return icontains(s, "complaint about message") || icontains(s, "abuse report")
           || icontains(s, "spam report") || icontains(s, "spam complaint");
}

static const char *hdr(const struct mail_msg *m, const char *name)
{
    return mailhdr_get(&m->headers, name);
}

/* Return-Path: <> -- the null sender of RFC 5321 4.5.5, which bounces and
 * (RFC 3834 3.3) auto-replies use and people never do. */
static bool empty_return_path(const struct mail_msg *m)
{
    const char *rp = hdr(m, "Return-Path");
    if (rp == NULL)
        return false;
    while (*rp == ' ' || *rp == '\t')
        rp++;
    if (*rp == '<') {
        rp++;
        while (*rp == ' ' || *rp == '\t')
            rp++;
        return *rp == '>';
    }
    return *rp == '\0';
}

/* The returned message, whole or its headers only: what a bounce carries. */
static bool returned_message(const struct mail_msg *m)
{
    return has_attachment_type(m, "message/rfc822") || has_attachment_type(m, "text/rfc822-headers")
           || has_attachment_type(m, "message/global") || has_attachment_type(m, "message/global-headers")
           || has_attachment_type(m, "message/rfc822-headers");
}

/* RFC 2919: List-Id is [phrase] "<" list-label "." domain ">", no spaces
 * inside the brackets.  A broken one (a bulk mailer's "<770 x.com>") is
 * not a list's. */
static bool valid_list_id(const char *v)
{
    const char *lt = v ? strrchr(v, '<') : NULL;
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt == NULL || gt == NULL || gt - lt < 4)
        return false;
    bool dot = false;
    for (const char *p = lt + 1; p < gt; p++) {
        if (*p == ' ' || *p == '\t' || *p == '@' || (unsigned char)*p < 0x21)
            return false;
        dot = dot || *p == '.';
    }
    return dot;
}

/* Does a keyword header (Precedence, Auto-Submitted) start with `what`? */
static bool keyword_is(const char *value, const char *what)
{
    if (value == NULL)
        return false;
    while (*value == ' ' || *value == '\t')
        value++;
    return strncasecmp(value, what, strlen(what)) == 0;
}

/* "Message-ID: <x>" somewhere in a plain-text bounce: the returned headers */
static void original_id_from_text(struct mail_msg *m)
{
    const char *t = m->text.s;
    if (t == NULL)
        return;
    for (const char *p = t; (p = strcasestr(p, "message-id:")) != NULL; p++) {
        if (p != t && p[-1] != '\n' && p[-1] != ' ' && p[-1] != '>')
            continue;
        const char *lt = strchr(p, '<');
        const char *gt = lt ? strchr(lt, '>') : NULL;
        const char *nl = strchr(p, '\n');
        if (lt && gt && (!nl || lt < nl) && gt - lt > 1 && gt - lt < 900) {
            char *id = xstrndup(lt + 1, (size_t)(gt - lt - 1));
            /* the bounce's own Message-ID is not the one reported on */
            if (m->message_id == NULL || strcmp(id, m->message_id) != 0) {
                m->report_original_id = id;
                return;
            }
            free(id);
        }
    }
}

static void original_id(struct mail_msg *m)
{
    for (size_t i = 0; i < m->natt && m->report_original_id == NULL; i++) {
        const char *t = m->att[i].content_type;
        if (m->att[i].message_id != NULL
            && (strcasecmp(t, "message/rfc822") == 0 || strcasecmp(t, "text/rfc822-headers") == 0
                || strcasecmp(t, "message/global") == 0 || strcasecmp(t, "message/global-headers") == 0))
            m->report_original_id = xstrdup(m->att[i].message_id);
    }
    if (m->report_original_id == NULL)
        original_id_from_text(m);
}

/* What the mail says about itself, gathered once. */
struct signals {
    bool dsn_report, dsn_part, arf, mdn, report;
    bool failed_rcpts;           /* X-Failed-Recipients */
    bool daemon, null_sender;
    bool failure_subject, autoreply_subject, complaint_subject;
    const char *mta;             /* whose bounce text the body starts with */
    bool returned;               /* carries a returned message or its headers */
    const char *auto_submitted;  /* its value, when not "no" */
    bool autoreply_header, challenge;
    const char *precedence;
};

static void gather(const struct mail_msg *m, struct signals *s)
{
    const char *ct = hdr(m, "Content-Type");
    memset(s, 0, sizeof(*s));
    s->dsn_report = (m->report_type && strcmp(m->report_type, "delivery-status") == 0)
                    || icontains(ct, "report-type=delivery-status")
                    || icontains(ct, "report-type=\"delivery-status\"");
    s->dsn_part = has_attachment_type(m, "message/delivery-status")
                  || has_attachment_type(m, "message/xdelivery-status")
                  || has_attachment_type(m, "message/global-delivery-status");
    s->arf = (m->report_type && strcmp(m->report_type, "feedback-report") == 0)
             || icontains(ct, "feedback-report") || has_attachment_type(m, "message/feedback-report");
    s->mdn = (m->report_type && strcmp(m->report_type, "disposition-notification") == 0)
             || icontains(ct, "disposition-notification")
             || has_attachment_type(m, "message/disposition-notification");
    s->report = m->report_type != NULL || icontains(ct, "multipart/report");
    s->failed_rcpts = hdr(m, "X-Failed-Recipients") != NULL;
    s->daemon = from_daemon(m);
    s->null_sender = empty_return_path(m);
    s->failure_subject = bouncetext_failure_subject(m->subject);
    s->autoreply_subject = bouncetext_autoreply_subject(m->subject);
    s->complaint_subject = complaint_subject(m->subject);
    s->mta = bouncetext_mta(m->text.s, m->text.len);
    s->returned = returned_message(m);
    const char *as = hdr(m, "Auto-Submitted");
    s->auto_submitted = as != NULL && !keyword_is(as, "no") ? as : NULL;
    s->autoreply_header = hdr(m, "X-Autoreply") || hdr(m, "X-Autorespond") || hdr(m, "X-Auto-Reply")
                          || hdr(m, "X-Autogenerated") || hdr(m, "X-AutoReply-From")
                          || hdr(m, "X-Mail-Autoreply") || hdr(m, "X-Vacation") || hdr(m, "X-Autoresponder")
                          || hdr(m, "X-POST-MessageClass") || icontains(hdr(m, "X-Apple-Action"), "vacation");
    s->challenge = hdr(m, "X-Bluebottle-Request") || hdr(m, "X-Boxtrapper") || hdr(m, "X-Spam-Arrest")
                   || hdr(m, "X-ChoiceMail-Registration-Request");
    s->precedence = hdr(m, "Precedence");
}

/* Standard signals first (report structure, RFC 3464/3834/2369/2919
 * headers, the null sender and mailer-daemon senders), the words of
 * well-known programs after them; a weak signal alone (Precedence: bulk,
 * List-Unsubscribe) decides nothing.  Every decision says which signal
 * made it. */
void robot_classify(struct mail_msg *m)
{
    struct signals s;
    char why[160];
    gather(m, &s);
    /* an auto-reply announced by its own headers is never a bounce unless
     * a report or a failure header says otherwise */
    bool says_autoreply = s.autoreply_header || (s.auto_submitted && icontains(s.auto_submitted, "auto-replied"));

    /* 1. the structure of a report (RFC 3464, 5965, 8098) */
    if (s.dsn_report)
        decide(m, MAIL_ROBOT_BOUNCE, "report: multipart/report delivery-status");
    else if (s.dsn_part)
        decide(m, MAIL_ROBOT_BOUNCE, "report: message/delivery-status part");
    else if (s.arf)
        decide(m, MAIL_ROBOT_BOUNCE, "report: feedback-report (complaint)");
    else if (s.mdn)
        decide(m, MAIL_ROBOT_AUTOREPLY, "report: disposition-notification (read receipt)");
    else if (s.report && s.daemon)
        decide(m, MAIL_ROBOT_BOUNCE, "report: multipart/report from a mailer daemon");
    /* 2. the failure header MTAs add */
    else if (s.failed_rcpts)
        decide(m, MAIL_ROBOT_BOUNCE, "header: X-Failed-Recipients");
    /* 3. a subject that says auto-reply: no bounce starts that way, and
     *    "Automatic reply: Undeliverable ..." is an auto-reply */
    else if (s.autoreply_subject && !s.daemon && s.mta == NULL)
        decide(m, MAIL_ROBOT_AUTOREPLY, s.auto_submitted ? "header: Auto-Submitted + auto-reply subject"
                                                         : "subject: auto-reply");
    /* 4. a mailer daemon that says something failed */
    else if (s.daemon && s.failure_subject)
        decide(m, MAIL_ROBOT_BOUNCE, "sender: MAILER-DAEMON + failure subject");
    else if (s.daemon && s.mta != NULL) {
        snprintf(why, sizeof(why), "sender: MAILER-DAEMON + %s bounce text", s.mta);
        decide(m, MAIL_ROBOT_BOUNCE, why);
    } else if (s.daemon && s.returned)
        decide(m, MAIL_ROBOT_BOUNCE, "sender: MAILER-DAEMON + returned message");
    /* 5. the words of a bounce, whoever sent it */
    else if (s.mta != NULL && !s.autoreply_header) {
        snprintf(why, sizeof(why), "text: %s bounce", s.mta);
        decide(m, MAIL_ROBOT_BOUNCE, why);
    } else if (s.failure_subject && s.null_sender && !says_autoreply)
        decide(m, MAIL_ROBOT_BOUNCE, "sender: empty Return-Path + failure subject");
    else if (s.failure_subject && s.returned && !says_autoreply)
        decide(m, MAIL_ROBOT_BOUNCE, "structure: failure subject + returned message");
    else if (s.complaint_subject && s.returned)
        decide(m, MAIL_ROBOT_BOUNCE, "structure: complaint subject + returned message");
    else if (s.daemon && s.null_sender && !says_autoreply)
        decide(m, MAIL_ROBOT_BOUNCE, "sender: MAILER-DAEMON + empty Return-Path");
    /* 6. RFC 3834 and the auto-responders' own headers */
    else if (s.auto_submitted) {
        snprintf(why, sizeof(why), "header: Auto-Submitted %.60s", s.auto_submitted);
        for (char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                *p = ' ';
        decide(m, MAIL_ROBOT_AUTOREPLY, why);
    } else if (s.autoreply_header)
        decide(m, MAIL_ROBOT_AUTOREPLY, "header: X-Autoreply or a relative");
    else if (s.challenge)
        decide(m, MAIL_ROBOT_AUTOREPLY, "header: challenge-response verification");
    else if (keyword_is(s.precedence, "auto_reply") || keyword_is(s.precedence, "auto-reply"))
        decide(m, MAIL_ROBOT_AUTOREPLY, "header: Precedence auto_reply");
    else if (s.autoreply_subject)
        decide(m, MAIL_ROBOT_AUTOREPLY, "subject: auto-reply");
    /* 7. lists (RFC 2369, 2919) */
    else if (valid_list_id(hdr(m, "List-Id")))
        decide(m, MAIL_ROBOT_LIST, "header: List-Id");
    else if (hdr(m, "List-Post") || hdr(m, "Mailing-List") || hdr(m, "X-Mailing-List"))
        decide(m, MAIL_ROBOT_LIST, "header: List-Post, Mailing-List or X-Mailing-List");
    else if (keyword_is(s.precedence, "list"))
        decide(m, MAIL_ROBOT_LIST, "header: Precedence list");
    else if (hdr(m, "List-Unsubscribe") && keyword_is(s.precedence, "bulk"))
        decide(m, MAIL_ROBOT_LIST, "header: List-Unsubscribe + Precedence bulk");
    /* 8. weak signals: together, or the null sender (which no person
     *    sends from) when nothing above spoke */
    else if (s.null_sender && (keyword_is(s.precedence, "bulk") || keyword_is(s.precedence, "junk")))
        decide(m, MAIL_ROBOT_AUTOREPLY, "weak: empty Return-Path + Precedence bulk");
    else if (s.null_sender)
        decide(m, MAIL_ROBOT_AUTOREPLY, "weak: empty Return-Path");

    if (m->robot == MAIL_ROBOT_BOUNCE && m->report_original_id == NULL)
        original_id(m);
}

/* One "Name: value" field in a DSN block. */
static char *field(const char *block, size_t len, const char *name)
{
    size_t nl = strlen(name);
    const char *p = block, *end = block + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t l = eol ? (size_t)(eol - p) : (size_t)(end - p);
        if (l > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (v < p + l && (*v == ' ' || *v == '\t'))
                v++;
            size_t vl = (size_t)(p + l - v);
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' '))
                vl--;
            /* "rfc822; user@host": drop the address type */
            const char *semi = memchr(v, ';', vl);
            if (semi && (strncasecmp(name, "Final-Recipient", nl) == 0
                         || strncasecmp(name, "Original-Recipient", nl) == 0)) {
                vl -= (size_t)(semi + 1 - v);
                v = semi + 1;
                while (vl > 0 && *v == ' ') {
                    v++;
                    vl--;
                }
            }
            return vl ? xstrndup(v, vl < 1000 ? vl : 1000) : NULL;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}

void robot_parse_report_part(struct mail_msg *m, const char *minor, const char *data, size_t len)
{
    if (strcasecmp(minor, "delivery-status") != 0 && strcasecmp(minor, "xdelivery-status") != 0
        && strcasecmp(minor, "global-delivery-status") != 0)
        return;
    /* blocks separated by blank lines; the first is per message */
    const char *p = data, *end = data + len;
    while (p < end && m->ndsn < 100) {
        const char *q = p;
        const char *stop = end;
        while (q < end) {
            const char *eol = memchr(q, '\n', (size_t)(end - q));
            if (eol == NULL)
                break;
            const char *next = eol + 1;
            if (next < end && (*next == '\n' || (*next == '\r' && next + 1 < end && next[1] == '\n'))) {
                stop = next;
                break;
            }
            q = next;
        }
        size_t bl = (size_t)(stop - p);
        {
            char *rcpt = field(p, bl, "Final-Recipient");
            if (rcpt == NULL)
                rcpt = field(p, bl, "Original-Recipient");
            if (rcpt != NULL) {
                m->dsn = xrealloc(m->dsn, (m->ndsn + 1) * sizeof(*m->dsn));
                struct mail_dsn_rcpt *d = &m->dsn[m->ndsn++];
                d->recipient = rcpt;
                d->action = field(p, bl, "Action");
                d->status = field(p, bl, "Status");
                d->diagnostic = field(p, bl, "Diagnostic-Code");
            }
        }
        p = stop;
        while (p < end && (*p == '\n' || *p == '\r'))
            p++;
    }
}
