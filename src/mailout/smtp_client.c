/* mailout/smtp_client.c -- see mailout/smtp_client.h. */
#include "config.h"
#include "mailout/smtp_client.h"
#include "core/mailadmin.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct session {
    const char *data;
    size_t len, pos;
    bool ended;
    void (*on_data_end)(void *arg);
    void *arg;
    struct smtp_rcpt_result *res;
    size_t n;
    /* protocol tracking through the debug hook */
    int current_rcpt;            /* index of the RCPT awaiting its reply, -1 none */
    bool in_data;                /* the DATA command was sent */
    bool dot_sent;
    char last_reply[300];
    int last_code;
    bool connected;
    bool quit_sent;              /* replies after QUIT say nothing about the mail */
};

/* Mark the point of no return before curl can send the final ".": curl
 * may stop asking for data once it has INFILESIZE bytes, so the mark is
 * made when the last bytes are handed over, not on the 0 that may never
 * be asked for. */
static void data_end(struct session *s)
{
    if (!s->ended) {
        s->ended = true;
        if (s->on_data_end)
            s->on_data_end(s->arg);
        s->dot_sent = true;
    }
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
    struct session *s = arg;
    size_t room = size * nmemb;
    size_t left = s->len - s->pos;
    if (left == 0) {
        data_end(s);
        return 0;
    }
    size_t n = left < room ? left : room;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    if (s->pos == s->len)
        data_end(s);
    return n;
}

static void strip(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)h;
    struct session *s = arg;
    char line[512];
    size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    strip(line);
    if (type == CURLINFO_HEADER_OUT) {
        s->current_rcpt = -1;
        if (strncasecmp(line, "RCPT TO:", 8) == 0) {
            const char *a = strchr(line, '<');
            const char *b = a ? strchr(a, '>') : NULL;
            if (a && b) {
                for (size_t i = 0; i < s->n; i++) {
                    size_t al = strlen(s->res[i].address);
                    if ((size_t)(b - a - 1) == al && strncasecmp(a + 1, s->res[i].address, al) == 0) {
                        s->current_rcpt = (int)i;
                        break;
                    }
                }
            }
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            s->in_data = true;
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            s->quit_sent = true;
        }
    } else if (type == CURLINFO_HEADER_IN) {
        if (strlen(line) >= 3 && line[0] >= '1' && line[0] <= '5') {
            s->connected = true;
            /* the last line of a multi-line reply carries the final word */
            if (line[3] != '-' && !s->quit_sent) {
                s->last_code = atoi(line);
                snprintf(s->last_reply, sizeof(s->last_reply), "%s", line);
                if (s->current_rcpt >= 0) {
                    s->res[s->current_rcpt].code = s->last_code;
                    snprintf(s->res[s->current_rcpt].reply, sizeof(s->res[0].reply), "%s", line);
                    s->current_rcpt = -1;
                }
            }
        }
    }
    return 0;
}

int smtp_send(const struct smarthost *sh, const char *mail_from, char *const *rcpts, size_t n,
              const char *data, size_t len, void (*on_data_end)(void *arg), void *arg,
              struct smtp_rcpt_result *res, struct smtp_result *out, const char **error_r)
{
    struct curl_slist *to = NULL;
    char from[400], url[600];
    int ret = -1;
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        res[i].address = rcpts[i];
        res[i].code = 0;
        res[i].reply[0] = '\0';
    }
    if (sh->url == NULL || (strncmp(sh->url, "smtp://", 7) != 0 && strncmp(sh->url, "smtps://", 8) != 0))
        return err_set(error_r, "smarthost url must be smtp://HOST[:PORT] or smtps://HOST[:PORT]");
    CURL *h = curl_easy_init();
    if (h == NULL)
        return err_set(error_r, "curl_easy_init failed");
    struct session s = { data, len, 0, false, on_data_end, arg, res, n, -1, false, false, "", 0, false, false };

    /* the URL path is the EHLO name */
    snprintf(url, sizeof(url), "%s%s%s", sh->url, sh->url[strlen(sh->url) - 1] == '/' ? "" : "/",
             sh->helo && *sh->helo ? sh->helo : "localhost");
    snprintf(from, sizeof(from), "<%s>", mail_from ? mail_from : "");
    for (size_t i = 0; i < n; i++) {
        char r[400];
        snprintf(r, sizeof(r), "<%s>", rcpts[i]);
        struct curl_slist *x = curl_slist_append(to, r);
        if (x == NULL) {
            err_set(error_r, "out of memory");
            goto out;
        }
        to = x;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, sh->timeout_ms > 0 ? sh->timeout_ms : 60000L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 15000L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (sh->starttls && strncmp(sh->url, "smtp://", 7) == 0)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, sh->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, sh->verify ? 2L : 0L);
    if (sh->ca_file && *sh->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, sh->ca_file);
    if (sh->username && *sh->username) {
        curl_easy_setopt(h, CURLOPT_USERNAME, sh->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, sh->password ? sh->password : "");
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, to);
    /* go on when some recipients are refused: they get their own result */
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT_ALLLOWFAILS, 1L);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &s);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &s);

    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    out->connected = s.connected;
    out->final_code = s.last_code ? s.last_code : (int)code;
    snprintf(out->final_reply, sizeof(out->final_reply), "%s", s.last_reply);
    out->data_sent = s.dot_sent && s.last_code > 0;
    if (rc == CURLE_OK && s.dot_sent) {
        /* accepted recipients share the answer to the end of DATA */
        for (size_t i = 0; i < n; i++) {
            if (res[i].code >= 200 && res[i].code < 300) {
                res[i].code = out->final_code ? out->final_code : 250;
                snprintf(res[i].reply, sizeof(res[i].reply), "%s", out->final_reply);
            }
        }
        ret = 0;
    } else if (s.connected && s.last_code >= 400) {
        /* the server said no to MAIL, every RCPT, or the message */
        for (size_t i = 0; i < n; i++) {
            if (res[i].code == 0 || (res[i].code >= 200 && res[i].code < 300)) {
                res[i].code = s.last_code;
                snprintf(res[i].reply, sizeof(res[i].reply), "%s", s.last_reply);
            }
        }
        ret = 0;
    } else {
        err_set(error_r, "smarthost %s: %s%s%s", sh->url, curl_easy_strerror(rc),
                s.last_reply[0] ? " -- last reply: " : "", s.last_reply);
    }
out:
    curl_slist_free_all(to);
    curl_easy_cleanup(h);
    return ret;
}

/* ---- an administrator's test ----------------------------------------------- */

enum check_phase { PH_GREETING, PH_EHLO, PH_STARTTLS, PH_AUTH, PH_NOOP, PH_QUIT };

struct check {
    enum check_phase phase;      /* what we sent last */
    int greeting_code, ehlo_code, starttls_code, auth_code;
    int ehlo_sent;               /* EHLO/HELO commands sent (again after STARTTLS) */
    bool starttls_sent, auth_sent, offers_starttls, offers_auth;
    char greeting[200], ehlo_reply[200], starttls_reply[200], auth_reply[200];
};

static int on_check_debug(CURL *h, curl_infotype type, char *data, size_t size, void *arg)
{
    (void)h;
    struct check *c = arg;
    char line[512];
    size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
    memcpy(line, data, n);
    line[n] = '\0';
    strip(line);
    if (type == CURLINFO_HEADER_OUT) {
        /* (the AUTH exchange's later lines carry credentials: only the
         * command word is looked at, nothing is kept) */
        if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "HELO", 4) == 0) {
            c->phase = PH_EHLO;
            c->ehlo_sent++;
            c->ehlo_code = 0;
        } else if (strncasecmp(line, "STARTTLS", 8) == 0) {
            c->phase = PH_STARTTLS;
            c->starttls_sent = true;
        } else if (strncasecmp(line, "AUTH", 4) == 0) {
            c->phase = PH_AUTH;
            c->auth_sent = true;
        } else if (strncasecmp(line, "NOOP", 4) == 0) {
            c->phase = PH_NOOP;
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            c->phase = PH_QUIT;
        }
        return 0;
    }
    if (type != CURLINFO_HEADER_IN || strlen(line) < 3 || line[0] < '1' || line[0] > '5')
        return 0;
    bool last = line[3] != '-';
    int code = atoi(line);
    switch (c->phase) {
    case PH_GREETING:
        if (c->greeting[0] == '\0')
            snprintf(c->greeting, sizeof(c->greeting), "%.190s", line);
        if (last)
            c->greeting_code = code;
        break;
    case PH_EHLO:
        if (strlen(line) > 4 && strncasecmp(line + 4, "STARTTLS", 8) == 0)
            c->offers_starttls = true;
        if (strlen(line) > 4 && strncasecmp(line + 4, "AUTH", 4) == 0)
            c->offers_auth = true;
        if (c->ehlo_reply[0] == '\0')   /* the first line names the server */
            snprintf(c->ehlo_reply, sizeof(c->ehlo_reply), "%.190s", line);
        if (last) {
            c->ehlo_code = code;
            if (code >= 400)
                snprintf(c->ehlo_reply, sizeof(c->ehlo_reply), "%.190s", line);
        }
        break;
    case PH_STARTTLS:
        if (last) {
            c->starttls_code = code;
            snprintf(c->starttls_reply, sizeof(c->starttls_reply), "%.190s", line);
        }
        break;
    case PH_AUTH:
        if (last) {
            c->auth_code = code;
            snprintf(c->auth_reply, sizeof(c->auth_reply), "%.190s", line);
        }
        break;
    case PH_NOOP:
    case PH_QUIT:
        break;
    }
    return 0;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    (void)arg;
    return size * nmemb;
}

int smtp_check(const struct smarthost *sh, long total_ms, struct mailadmin_report *rep,
               const char **error_r)
{
    mailadmin_report_init(rep);
    if (sh->url == NULL || *sh->url == '\0') {
        mailadmin_step(rep, "connect", false, "No smarthost is configured: set [smarthost] url "
                       "(smtp://HOST:PORT or smtps://HOST:PORT) in the configuration file.");
        return 0;
    }
    bool implicit = strncmp(sh->url, "smtps://", 8) == 0;
    if (!implicit && strncmp(sh->url, "smtp://", 7) != 0) {
        mailadmin_step(rep, "connect", false, "The smarthost url \"%s\" is not smtp://HOST[:PORT] "
                       "or smtps://HOST[:PORT].", sh->url);
        return 0;
    }
    bool want_starttls = sh->starttls && !implicit;
    bool want_auth = sh->username && *sh->username;
    CURL *h = curl_easy_init();
    if (h == NULL)
        return err_set(error_r, "curl_easy_init failed");
    struct check c;
    memset(&c, 0, sizeof(c));
    char url[600], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof(url), "%s%s%s", sh->url, sh->url[strlen(sh->url) - 1] == '/' ? "" : "/",
             sh->helo && *sh->helo ? sh->helo : "localhost");
    long limit = sh->timeout_ms > 0 && sh->timeout_ms < total_ms ? sh->timeout_ms : total_ms;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, limit);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, limit < 15000L ? limit : 15000L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (want_starttls)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, sh->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, sh->verify ? 2L : 0L);
    if (sh->ca_file && *sh->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, sh->ca_file);
    if (want_auth) {
        curl_easy_setopt(h, CURLOPT_USERNAME, sh->username);
        curl_easy_setopt(h, CURLOPT_PASSWORD, sh->password ? sh->password : "");
    }
    /* no recipient, no upload: a command of our choice after the
     * session is set up (EHLO, STARTTLS, AUTH), and no mail */
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "NOOP");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_check_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &c);
    CURLcode rc = curl_easy_perform(h);
    curl_off_t connect_us = 0;
    curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_cleanup(h);
    const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    const char *tls_words = sh->verify ? "the certificate is valid for this host"
                                       : "the certificate was NOT checked (verify_certificate = no)";

    if (c.greeting_code == 0) {
        if (implicit && connect_us > 0) {
            mailadmin_step(rep, "connect", true, "Connected to %s.", sh->url);
            mailadmin_step(rep, "tls", false, "TLS failed: %s. Check that the port speaks implicit "
                           "TLS (usually 465) and the server's certificate.", why);
        } else {
            mailadmin_step(rep, "connect", false, "Could not reach the smarthost %s: %s. Check the "
                           "host name and port, and that the server accepts connections from this "
                           "machine.", sh->url, why);
        }
        goto out;
    }
    if (c.greeting_code != 220) {
        mailadmin_step(rep, "connect", false, "The smarthost %s turned us away: %s", sh->url, c.greeting);
        goto out;
    }
    mailadmin_step(rep, "connect", true, "Connected to %s; the server says: %s", sh->url, c.greeting);
    if (implicit)
        mailadmin_step(rep, "tls", true, "TLS established; %s.", tls_words);
    if (c.ehlo_sent == 0 || c.ehlo_code != 250) {
        mailadmin_step(rep, "ehlo", false, "The server did not accept EHLO: %s",
                       c.ehlo_reply[0] ? c.ehlo_reply : why);
        goto out;
    }
    mailadmin_step(rep, "ehlo", true, "The server accepted EHLO %s: %s", sh->helo && *sh->helo ? sh->helo
                   : "localhost", c.ehlo_reply);
    if (want_starttls) {
        if (!c.starttls_sent) {
            mailadmin_step(rep, "starttls", false, "The server does not offer STARTTLS, and the "
                           "configuration requires it ([smarthost] starttls = yes).");
            goto out;
        }
        if (c.starttls_code != 220) {
            mailadmin_step(rep, "starttls", false, "The server refused STARTTLS: %s",
                           c.starttls_reply[0] ? c.starttls_reply : why);
            goto out;
        }
        if (c.ehlo_sent < 2) {
            mailadmin_step(rep, "starttls", false, "The TLS handshake after STARTTLS failed: %s. "
                           "Check the server's certificate (or [smarthost] ca_file).", why);
            goto out;
        }
        mailadmin_step(rep, "starttls", true, "STARTTLS established; %s.", tls_words);
    }
    if (want_auth) {
        if (!c.auth_sent) {
            mailadmin_step(rep, "auth", false, "The server offers no login method we can use%s: %s",
                           c.offers_auth ? "" : " (no AUTH in its EHLO answer)", why);
            goto out;
        }
        if (c.auth_code != 235) {
            mailadmin_step(rep, "auth", false, "The server refused the login as %s: %s. Check "
                           "[smarthost] username and password.", sh->username,
                           c.auth_reply[0] ? c.auth_reply : why);
            goto out;
        }
        mailadmin_step(rep, "auth", true, "Logged in as %s.", sh->username);
    }
    if (rc != CURLE_OK)
        mailadmin_step(rep, "connect", false, "The session ended badly after the checks: %s", why);
out:
    return 0;
}
