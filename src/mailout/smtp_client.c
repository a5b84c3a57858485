/* mailout/smtp_client.c -- see mailout/smtp_client.h. */
#include "config.h"
#include "mailout/smtp_client.h"
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
