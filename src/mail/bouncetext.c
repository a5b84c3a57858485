/* mail/bouncetext.c -- see mail/bouncetext.h. */
#include "config.h"
#include "mail/bouncetext.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* How far into a body the opening words of a bounce may be: the notice
 * comes first; the returned message (which may quote anything) after. */
#define OPENING_BYTES 6000
#define OPENING_LINES 80

/* Sentences each program writes into its notices, lower case.  A leading
 * '^' anchors at the start of the (trimmed) line, a trailing '$' at its
 * end; " * " (a star between spaces) matches any words within the line. */
static const struct {
    const char *pattern;
    const char *mta;
} openers[] = {
    { "this is the qmail-send program at", "qmail" },
    { "i'm afraid i wasn't able to deliver your message to the following addresses", "qmail" },
    { "--- below this line is a copy of the message.", "qmail" },
    { "unable to deliver your message to the following addresses", "qmail" },
    { "this message was created automatically by mail delivery software", "Exim" },
    { "a message that you sent could not be delivered to one or more of its", "Exim" },
    { "a message that you sent could not be delivered to all of its recipients", "Exim" },
    { "a message that you sent has not yet been delivered to one or more of its", "Exim" },
    { "------ this is a copy of the message, including all the headers. ------", "Exim" },
    { "this is the mail system at host", "Postfix" },
    { "this is the postfix program at host", "Postfix" },
    { "i'm sorry to have to inform you that your message could not", "Postfix" },
    { "----- the following addresses had permanent fatal errors -----", "Sendmail" },
    { "----- the following addresses had transient non-fatal errors -----", "Sendmail" },
    { "----- transcript of session follows -----", "Sendmail" },
    { "^the original message was received at ", "Sendmail" },
    { "your message did not reach some or all of the intended recipients", "Exchange" },
    { "delivery has failed to these recipients or groups", "Exchange" },
    { "delivery has failed to these recipients or distribution lists", "Exchange" },
    { "the following recipient(s) could not be reached", "Exchange" },
    { "the following recipient(s) cannot be reached", "Exchange" },
    { "did not reach the following recipient(s)", "Exchange" },
    { "^your message to * couldn't be delivered", "Exchange" },
    { "^your message wasn't delivered to ", "Exchange" },
    { "^was not delivered to:$", "Domino" },
    { "this is the mailer-daemon, please do not reply to this e-mail", "OpenSMTPD" },
    { "an error has occurred while attempting to deliver a message for the following list of recipients", "OpenSMTPD" },
    { "this is a delivery status notification from", "Courier" },
    { "delivery to the following recipient failed permanently", "Gmail" },
    { "delivery to the following recipients failed permanently", "Gmail" },
    { "delivery to the following recipient has been delayed", "Gmail" },
    { "^** address not found **$", "Gmail" },
    { "^** message not delivered **$", "Gmail" },
    { "sorry, we were unable to deliver your message to the following address", "Yahoo" },
    { "----- the following addresses had delivery problems -----", "Biglobe" },
    { "^your mail sent on:", "KDDI" },
    { "^your mail attempted to be delivered on:", "KDDI" },
    { "the user(s) account is disabled", "EZweb" },
    { "the user(s) account is temporarily limited", "EZweb" },
    { "the user(s) account is temporarily over quota", "EZweb" },
    { "each of the following recipients was rejected by a remote mail server", "EZweb" },
    { "^your message was not delivered within ", "EZweb" },
    { "the message you sent to * was rejected", "Postmaster" },
    { "message delivery to * failed", "Postmaster" },
};

/* Does `line` (n bytes) match `pat` (see openers), ASCII case ignored? */
static bool glob_line(const char *line, size_t n, const char *pat)
{
    bool anchor_start = pat[0] == '^';
    if (anchor_start)
        pat++;
    size_t pl = strlen(pat);
    bool anchor_end = pl > 0 && pat[pl - 1] == '$';
    if (anchor_end)
        pl--;
    /* split the pattern at " * " and find the pieces in order; each
     * piece keeps its space next to the star */
    size_t pos = 0;
    bool first = true;
    const char *p = pat, *pend = pat + pl;
    for (;;) {
        const char *star = NULL;
        for (const char *q = p; q + 2 < pend; q++)
            if (q[0] == ' ' && q[1] == '*' && q[2] == ' ') {
                star = q;
                break;
            }
        size_t k = star ? (size_t)(star + 1 - p) : (size_t)(pend - p);
        bool found = false;
        for (size_t i = pos; i + k <= n; i++) {
            if (first && anchor_start && i != 0)
                break;
            if (strncasecmp(line + i, p, k) == 0) {
                found = true;
                pos = i + k;
                break;
            }
        }
        if (!found)
            return false;
        first = false;
        if (star == NULL)
            break;
        p = star + 2;
    }
    return !anchor_end || pos == n;
}

/* The trimmed line of `text` around offset `at`; false when it is quoted. */
static bool line_around(const char *text, size_t len, size_t at, const char **line, size_t *n)
{
    size_t s = at, e = at;
    while (s > 0 && text[s - 1] != '\n')
        s--;
    while (e < len && text[e] != '\n')
        e++;
    while (s < e && (text[s] == ' ' || text[s] == '\t'))
        s++;
    while (e > s && (text[e - 1] == ' ' || text[e - 1] == '\t' || text[e - 1] == '\r'))
        e--;
    *line = text + s;
    *n = e - s;
    return e > s && text[s] != '>';
}

const char *bouncetext_mta(const char *text, size_t len)
{
    if (text == NULL)
        return NULL;
    /* the opening: OPENING_LINES lines, at most OPENING_BYTES */
    size_t end = 0;
    for (int lines = 0; end < len && end < OPENING_BYTES && lines < OPENING_LINES; lines++) {
        const char *nl = memchr(text + end, '\n', len - end);
        end = nl ? (size_t)(nl - text) + 1 : len;
    }
    if (end > OPENING_BYTES)
        end = OPENING_BYTES;
    /* one lower-cased copy, then each sentence's first words found with
     * memmem (fast) and only then checked against its line */
    char low[OPENING_BYTES];
    for (size_t i = 0; i < end; i++)
        low[i] = (char)tolower((unsigned char)text[i]);
    for (size_t k = 0; k < sizeof(openers) / sizeof(openers[0]); k++) {
        const char *pat = openers[k].pattern + (openers[k].pattern[0] == '^');
        const char *star = strstr(pat, " * ");
        size_t pl = star ? (size_t)(star - pat) : strlen(pat);
        if (pl > 0 && pat[pl - 1] == '$')
            pl--;
        for (size_t from = 0; from + pl <= end; ) {
            const char *hit = memmem(low + from, end - from, pat, pl);
            if (hit == NULL)
                break;
            const char *line;
            size_t n;
            size_t at = (size_t)(hit - low);
            if (line_around(low, end, at, &line, &n) && glob_line(line, n, openers[k].pattern))
                return openers[k].mta;
            from = at + 1;
        }
    }
    return NULL;
}

/* ---- subjects --------------------------------------------------------- */

static const char *skip_space(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static bool starts_with_any(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strncasecmp(s, list[i], strlen(list[i])) == 0)
            return true;
    return false;
}

/* Is one of the (lower-case) words in s?  ASCII case is ignored; one
 * lower-cased copy and strstr per word, not a compare per position. */
static bool contains_any(const char *s, const char *const *list, size_t n)
{
    char low[512];
    size_t k = 0;
    for (; s[k] && k + 1 < sizeof(low); k++)
        low[k] = (char)tolower((unsigned char)s[k]);
    low[k] = '\0';
    for (size_t i = 0; i < n; i++)
        if (strstr(low, list[i]) != NULL)
            return true;
    return false;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A person answering or passing on: "Re:", "Fwd:" and their translations. */
static bool reply_or_forward(const char *s)
{
    static const char *const prefixes[] = { "re:", "re :", "re[", "aw:", "sv:", "vs:", "antw:", "rif:",
        "r:", "fw:", "fwd:", "fw :", "wg:", "tr:", "rv:", "enc:", "res:", "odp:", "ynt:", "vl:",
        "回复", "答复", "转发", "返信", "転送", "ответ:", "Ответ:", "переслать", "Fwd：", "RE：", "FW：" };
    return starts_with_any(s, prefixes, N(prefixes));
}

static const char *const autoreply_prefixes[] = { "auto:", "automatic reply", "automatische antwort",
    "auto reply", "auto-reply", "autoreply", "auto response", "auto-response", "autoresponse",
    "automated response", "automatic response", "automatische antwoord", "automatisch antwoord",
    "autoantwort", "auto-antwort", "out of office", "out of the office", "ooo:", "abwesenheitsnotiz",
    "abwesend", "réponse automatique", "reponse automatique", "risposta automatica",
    "respuesta automática", "respuesta automatica", "resposta automática", "resposta automatica",
    "automatyczna odpowiedź", "automatyczna odpowiedz", "autosvar", "automatisk svar",
    "automaattinen vastaus", "otomatik yanıt", "otomatik yanit", "automatická odpověď",
    "automatikus válasz", "автоответ", "Автоответ", "автоматический ответ", "Автоматический ответ",
    "自動応答", "自動返信", "自动回复", "自動回覆", "자동 응답", "자동응답", "vacation reply",
    "vacation message", "vacation auto", "away from my mail", "[auto-reply]", "[autoreply]",
    "(auto-reply)", "[auto]" };

bool bouncetext_autoreply_subject(const char *subject)
{
    static const char *const anywhere[] = { "out of office", "out of the office", "automatic reply",
        "auto-reply", "autoreply", "(auto reply)", "abwesenheitsnotiz", "automatische antwort",
        "réponse automatique", "自動応答", "自動返信", "自动回复" };
    if (subject == NULL)
        return false;
    const char *s = skip_space(subject);
    if (starts_with_any(s, autoreply_prefixes, N(autoreply_prefixes)))
        return true;
    return !reply_or_forward(s) && contains_any(s, anywhere, N(anywhere));
}

bool bouncetext_failure_subject(const char *subject)
{
    static const char *const words[] = { "undeliverable", "undelivered", "returned mail",
        "mail delivery failed", "delivery status notification", "delivery failure", "delivery failed",
        "failure notice", "delivery has failed", "nondeliverable", "non-deliverable", "non delivery",
        "non-delivery", "not delivered", "could not be delivered", "couldn't be delivered",
        "unzustellbar", "nicht zustellbar", "non remis", "non distribuable", "onbestelbaar",
        "no entregado", "não entregue", "mail system error", "returned to sender", "delivery problem",
        "could not send message", "warning: could not send", "delayed mail", "delivery delayed",
        "delivery delay", "mail failure", "message frozen", "postmaster notify", "delivery notification",
        "failed delivery", "delivery error", "returned message", "bounced mail", "mail delivery system",
        "message delivery failure", "配信エラー", "送信エラー", "配送エラー", "未配達", "配信不能",
        "配送不能", "配信失敗", "送信失敗", "不達", "エラーメール", "退信", "投递失败", "无法投递",
        "не доставлено", "Не доставлено", "недоставленное", "Недоставленное" };
    if (subject == NULL)
        return false;
    const char *s = skip_space(subject);
    if (reply_or_forward(s) || starts_with_any(s, autoreply_prefixes, N(autoreply_prefixes)))
        return false;
    return contains_any(s, words, N(words));
}
