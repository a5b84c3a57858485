/* mail/robot.c -- see mail/robot.h. */
#include "config.h"
#include "mail/robot.h"
#include "mail/mime.h"
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

static void set(struct mail_msg *m, enum mail_robot r, const char *why)
{
    m->robot = r;
    free(m->robot_reason);
    m->robot_reason = xstrdup(why);
}

static bool from_daemon(const struct mail_msg *m)
{
    static const char *const locals[] = { "mailer-daemon", "postmaster", "mail-daemon",
        "mailerdaemon", "mail.daemon", "mail-delivery", "maildelivery", "bounce", "bounces",
        "mdaemon", "mail-delivery-subsystem" };
    const char *a = m->from_addr;
    if (a == NULL)
        return false;
    const char *at = strchr(a, '@');
    size_t n = at ? (size_t)(at - a) : strlen(a);
    for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++)
        if (n == strlen(locals[i]) && strncasecmp(a, locals[i], n) == 0)
            return true;
    return false;
}

static bool bounce_subject(const char *s)
{
    static const char *const pats[] = { "undeliver", "delivery status notification", "returned mail",
        "mail delivery failed", "delivery failure", "failure notice", "undelivered mail",
        "delivery has failed", "nondeliverable", "non-deliverable", "unzustellbar",
        "non remis", "mail system error", "delivery notification", "could not be delivered",
        "returned to sender", "delivery problem", "message not delivered", "warning: could not send",
        "delayed mail", "delivery delayed", "mail delivery system" };
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++)
        if (icontains(s, pats[i]))
            return true;
    return false;
}

/* Complaint loops that predate ARF (Hotmail JMRP, abuse desks) */
static bool complaint_subject(const char *s)
{
    return icontains(s, "complaint about message") || icontains(s, "abuse report")
           || icontains(s, "spam report") || icontains(s, "spam complaint");
}

static bool autoreply_subject(const char *s)
{
    static const char *const starts[] = { "auto:", "automatic reply", "auto reply", "auto-reply",
        "autoreply", "auto response", "autoresponse", "auto-response", "out of office",
        "out of the office", "abwesenheitsnotiz", "automatische antwort", "réponse automatique",
        "reponse automatique", "risposta automatica", "respuesta automática",
        "respuesta automatica", "automatyczna odpowiedź", "automatyczna odpowiedz",
        "automatisch antwoord", "autosvar", "automaattinen vastaus", "otomatik yanıt",
        "自動応答", "自动回复", "自動回覆", "자동 응답", "vacation reply", "away from my mail" };
    if (s == NULL)
        return false;
    while (*s == ' ')
        s++;
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
        if (strncasecmp(s, starts[i], strlen(starts[i])) == 0)
            return true;
    return icontains(s, "out of office") || icontains(s, "automatic reply")
           || icontains(s, "autoreply") || icontains(s, "auto-reply");
}

static bool empty_return_path(const struct mail_msg *m)
{
    const char *rp = mailhdr_get(&m->headers, "Return-Path");
    if (rp == NULL)
        return false;
    while (*rp == ' ')
        rp++;
    return strncmp(rp, "<>", 2) == 0 || *rp == '\0';
}

static const char *hdr(const struct mail_msg *m, const char *name)
{
    return mailhdr_get(&m->headers, name);
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

void robot_classify(struct mail_msg *m)
{
    const char *ct = hdr(m, "Content-Type");
    bool report = m->report_type != NULL || icontains(ct, "multipart/report");
    bool dsn = (m->report_type && strcmp(m->report_type, "delivery-status") == 0)
               || icontains(ct, "report-type=delivery-status")
               || icontains(ct, "report-type=\"delivery-status\"")
               || has_attachment_type(m, "message/delivery-status")
               || has_attachment_type(m, "message/xdelivery-status")
               || has_attachment_type(m, "message/global-delivery-status");
    bool arf = (m->report_type && strcmp(m->report_type, "feedback-report") == 0)
               || icontains(ct, "feedback-report") || has_attachment_type(m, "message/feedback-report");
    bool mdn = (m->report_type && strcmp(m->report_type, "disposition-notification") == 0)
               || icontains(ct, "disposition-notification")
               || has_attachment_type(m, "message/disposition-notification");
    const char *as = hdr(m, "Auto-Submitted");
    const char *prec = hdr(m, "Precedence");

    if (dsn)
        set(m, MAIL_ROBOT_BOUNCE, "delivery status notification");
    else if (arf)
        set(m, MAIL_ROBOT_BOUNCE, "feedback report (complaint)");
    else if (mdn)
        set(m, MAIL_ROBOT_AUTOREPLY, "read receipt (disposition notification)");
    else if (report && from_daemon(m))
        set(m, MAIL_ROBOT_BOUNCE, "report from a mailer daemon");
    else if (has_attachment_type(m, "message/rfc822") && complaint_subject(m->subject))
        set(m, MAIL_ROBOT_BOUNCE, "feedback report (complaint)");
    else if (hdr(m, "X-Failed-Recipients"))
        set(m, MAIL_ROBOT_BOUNCE, "X-Failed-Recipients");
    else if (from_daemon(m) && (bounce_subject(m->subject) || empty_return_path(m)
                                || (as && strncasecmp(as, "no", 2) != 0) || report))
        set(m, MAIL_ROBOT_BOUNCE, "mailer daemon");
    else if (empty_return_path(m) && bounce_subject(m->subject))
        set(m, MAIL_ROBOT_BOUNCE, "failure subject with an empty Return-Path");
    else if (as && strncasecmp(as, "no", 2) != 0)
        set(m, MAIL_ROBOT_AUTOREPLY, "Auto-Submitted");
    else if (hdr(m, "X-Autoreply") || hdr(m, "X-Autorespond") || hdr(m, "X-Auto-Reply")
             || hdr(m, "X-Autogenerated") || hdr(m, "X-AutoReply-From") || hdr(m, "X-Mail-Autoreply")
             || hdr(m, "X-Vacation") || hdr(m, "X-Autoresponder") || hdr(m, "X-POST-MessageClass"))
        set(m, MAIL_ROBOT_AUTOREPLY, "auto-reply header");
    else if (hdr(m, "X-Bluebottle-Request") || hdr(m, "X-Boxtrapper") || hdr(m, "X-Spam-Arrest")
             || hdr(m, "X-ChoiceMail-Registration-Request"))
        set(m, MAIL_ROBOT_AUTOREPLY, "challenge-response verification");
    else if (prec && icontains(prec, "auto_reply"))
        set(m, MAIL_ROBOT_AUTOREPLY, "Precedence: auto_reply");
    else if (autoreply_subject(m->subject))
        set(m, MAIL_ROBOT_AUTOREPLY, "auto-reply subject");
    else if (hdr(m, "List-Id") || hdr(m, "List-Unsubscribe") || hdr(m, "List-Post")
             || hdr(m, "Mailing-List") || hdr(m, "X-Mailing-List") || (prec && icontains(prec, "list")))
        set(m, MAIL_ROBOT_LIST, "mailing list headers");
    else if (prec && (icontains(prec, "bulk") || icontains(prec, "junk")))
        set(m, MAIL_ROBOT_AUTOREPLY, "Precedence: bulk/junk");
    else if (empty_return_path(m))
        set(m, MAIL_ROBOT_AUTOREPLY, "empty Return-Path");
    else if (from_daemon(m) && bounce_subject(m->subject))
        set(m, MAIL_ROBOT_BOUNCE, "mailer daemon");

    if (m->robot == MAIL_ROBOT_BOUNCE && m->report_original_id == NULL) {
        for (size_t i = 0; i < m->natt && m->report_original_id == NULL; i++)
            if (m->att[i].message_id != NULL
                && (strcasecmp(m->att[i].content_type, "message/rfc822") == 0
                    || strcasecmp(m->att[i].content_type, "text/rfc822-headers") == 0))
                m->report_original_id = xstrdup(m->att[i].message_id);
        if (m->report_original_id == NULL)
            original_id_from_text(m);
    }
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
