/* mailout/template.c -- see mailout/template.h. */
#include "config.h"
#include "mailout/template.h"
#include "mail/html.h"
#include "lib/err.h"
#include "lib/xalloc.h"

#include <cmark.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct embedded_file {
    const char *name;
    const char *text;
};
extern const struct embedded_file mail_templates_builtin[];

static const char *const vars_ack[] = {
    "ticket", "subject", "queue_name", "portal_url", "customer_name", "customer_email", NULL
};
static const char *const vars_reply[] = {
    "ticket", "subject", "reply_subject", "message", "queue_name", "portal_url", "agent_name",
    "customer_name", "customer_email", NULL
};
static const char *const vars_notify[] = {
    "ticket", "subject", "queue_name", "desk_url", "customer_name", "customer_email", "message",
    "agent_name", "note_marker", NULL
};
static const char *const vars_notice[] = {
    "ticket", "subject", "queue_name", "desk_url", "notice_title", "notice_body", NULL
};

static const char *const vars_account[] = {
    "queue_name", "portal_title", "customer_name", "customer_email", "link_url", "expires", NULL
};
static const char *const vars_solved[] = {
    "ticket", "subject", "queue_name", "portal_url", "customer_name", "customer_email", "rate_url",
    "rate_1", "rate_2", "rate_3", "rate_4", "rate_5", NULL
};

static const struct {
    const char *name;
    const char *const *vars;
} template_vars[] = {
    { "ack", vars_ack }, { "reply", vars_reply }, { "notify_new", vars_notify },
    { "notify_reply", vars_notify }, { "notify_assign", vars_notify }, { "notice", vars_notice },
    { "signin", vars_account }, { "reset", vars_account }, { "invite", vars_account },
    { "verify", vars_account }, { "solved", vars_solved },
};

const char *tmpl_name_at(size_t i)
{
    return i < sizeof(template_vars) / sizeof(template_vars[0]) ? template_vars[i].name : NULL;
}

const char *const *tmpl_variables(const char *name)
{
    for (size_t i = 0; i < sizeof(template_vars) / sizeof(template_vars[0]); i++)
        if (strcmp(template_vars[i].name, name) == 0)
            return template_vars[i].vars;
    return NULL;
}

int tmpl_check(const char *name, const char *source, const char **error_r)
{
    const char *const *names = tmpl_variables(name);
    if (names == NULL)
        return err_set(error_r, "no mail template named '%s'", name);
    struct tmpl_var v[16];
    size_t n = 0;
    for (; names[n] && n < sizeof(v) / sizeof(v[0]); n++) {
        v[n].name = names[n];
        v[n].value = "x";
    }
    struct strbuf s = STRBUF_INIT, t = STRBUF_INIT, h = STRBUF_INIT;
    int rc = tmpl_render(source, v, n, &s, &t, &h, error_r);
    strbuf_free(&s);
    strbuf_free(&t);
    strbuf_free(&h);
    return rc;
}

static void add_problem(struct tmpl_problem *out, size_t max, size_t *n, const char *part, int line,
                        const char *message)
{
    if (*n < max) {
        out[*n].part = part;
        out[*n].line = line;
        snprintf(out[*n].message, sizeof(out[*n].message), "%s", message);
    }
    (*n)++;
}

/* The {{...}} of one part, checked against the variables. */
static void scan_part(const char *part, const char *text, const char *const *vars,
                      struct tmpl_problem *out, size_t max, size_t *n)
{
    int line = 1;
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            line++;
            continue;
        }
        if (p[0] != '{' || p[1] != '{')
            continue;
        const char *close = strstr(p + 2, "}}");
        if (close == NULL) {
            add_problem(out, max, n, part, line, "'{{' without '}}'");
            return;              /* the rest cannot be read as variables */
        }
        const char *name = p + 2;
        size_t nlen = (size_t)(close - name);
        while (nlen > 0 && *name == ' ') {
            name++;
            nlen--;
        }
        while (nlen > 0 && name[nlen - 1] == ' ')
            nlen--;
        bool known = false;
        for (const char *const *v = vars; *v && !known; v++)
            known = strlen(*v) == nlen && strncmp(*v, name, nlen) == 0;
        if (!known) {
            char m[160];
            snprintf(m, sizeof(m), "unknown variable '%.*s'", nlen > 100 ? 100 : (int)nlen, name);
            add_problem(out, max, n, part, line, m);
        }
        /* a variable spanning lines still counts them */
        for (const char *q = p; q < close; q++)
            if (*q == '\n')
                line++;
        p = close + 1;
    }
}

int tmpl_problems(const char *name, const char *subject, const char *body, struct tmpl_problem *out,
                  size_t max)
{
    const char *const *vars = tmpl_variables(name);
    if (vars == NULL)
        return -1;
    size_t n = 0;
    if (strchr(subject, '\n') || strchr(subject, '\r'))
        add_problem(out, max, &n, "subject", 1, "the subject must be one line");
    scan_part("subject", subject, vars, out, max, &n);
    scan_part("body", body, vars, out, max, &n);
    return (int)n;
}

const char *tmpl_builtin(const char *name)
{
    for (const struct embedded_file *f = mail_templates_builtin; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f->text;
    return NULL;
}

char *tmpl_source(struct db_conn *c, long long queue_id, const char *name, const char **error_r)
{
    const char *builtin = tmpl_builtin(name);
    if (builtin == NULL) {
        err_set(error_r, "no mail template named '%s'", name);
        return NULL;
    }
    if (c != NULL) {
        char q[32];
        const char *e = NULL;
        snprintf(q, sizeof(q), "%lld", queue_id);
        const char *p[] = { q, name };
        /* the queue's own override, else the global one (queue_id NULL) */
        static const struct db_stmt st_override = {
            "tmpl_override", "SELECT source FROM mail_templates WHERE name = $2"
            " AND (queue_id = $1::bigint OR queue_id IS NULL) ORDER BY queue_id NULLS LAST LIMIT 1", 2
        };
        PGresult *r = db_exec_stmt(c, &st_override, p, &e);
        if (r == NULL) {
            err_set(error_r, "loading template %s: %s", name, e);
            return NULL;
        }
        char *s = PQntuples(r) > 0 ? xstrdup(PQgetvalue(r, 0, 0)) : NULL;
        PQclear(r);
        if (s != NULL)
            return s;
    }
    return xstrdup(builtin);
}

/* ---- substitution ----------------------------------------------------- */

static const struct tmpl_var *find_var(const struct tmpl_var *v, size_t n, const char *name, size_t nl)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(v[i].name) == nl && strncmp(v[i].name, name, nl) == 0)
            return &v[i];
    return NULL;
}

/* Replaces {{name}} in src: with the raw value (tokens == false) or with
 * an inert token "zqatumvNNNqz" naming the variable's index. */
static int substitute(const char *src, size_t len, const struct tmpl_var *v, size_t n, bool tokens,
                      struct strbuf *out, const char **error_r)
{
    size_t i = 0;
    while (i < len) {
        const char *open = strstr(src + i, "{{");
        if (open == NULL || (size_t)(open - src) >= len) {
            strbuf_add(out, src + i, len - i);
            break;
        }
        strbuf_add(out, src + i, (size_t)(open - (src + i)));
        const char *close = strstr(open + 2, "}}");
        if (close == NULL)
            return err_set(error_r, "template: '{{' without '}}'");
        const char *name = open + 2;
        size_t nl = (size_t)(close - name);
        while (nl > 0 && *name == ' ') {
            name++;
            nl--;
        }
        while (nl > 0 && name[nl - 1] == ' ')
            nl--;
        const struct tmpl_var *var = find_var(v, n, name, nl);
        if (var == NULL)
            return err_set(error_r, "template: unknown variable '%.*s'", (int)nl, name);
        if (tokens)
            strbuf_addf(out, "zqatumv%03zuqz", (size_t)(var - v));
        else
            strbuf_adds(out, var->value ? var->value : "");
        i = (size_t)(close + 2 - src);
    }
    return 0;
}

static bool multi_line(const char *s)
{
    return s && strchr(s, '\n') != NULL;
}

#define PRE_OPEN "<pre style=\"white-space:pre-wrap;font-family:inherit;margin:0\">"

/* The rendered HTML with each token replaced by its escaped value. */
static void fill_tokens(const char *html, const struct tmpl_var *v, size_t n, struct strbuf *out)
{
    const char *p = html;
    while (*p) {
        const char *t = strstr(p, "zqatumv");
        if (t == NULL) {
            strbuf_adds(out, p);
            break;
        }
        size_t idx = 0;
        bool ok = t[7] >= '0' && t[7] <= '9' && t[8] >= '0' && t[8] <= '9' && t[9] >= '0'
                  && t[9] <= '9' && t[10] == 'q' && t[11] == 'z';
        if (ok)
            idx = (size_t)((t[7] - '0') * 100 + (t[8] - '0') * 10 + (t[9] - '0'));
        if (!ok || idx >= n) {
            strbuf_add(out, p, (size_t)(t - p) + 7);
            p = t + 7;
            continue;
        }
        const char *value = v[idx].value ? v[idx].value : "";
        /* a paragraph that is only this token becomes the block itself */
        bool whole_para = multi_line(value) && t - p >= 3 && strncmp(t - 3, "<p>", 3) == 0
                          && strncmp(t + 12, "</p>", 4) == 0;
        strbuf_add(out, p, (size_t)(t - p) - (whole_para ? 3 : 0));
        if (multi_line(value)) {
            strbuf_adds(out, PRE_OPEN);
            strbuf_add_html(out, value);
            strbuf_adds(out, "</pre>");
        } else {
            strbuf_add_html(out, value);
        }
        p = t + 12 + (whole_para ? 4 : 0);
    }
}

int tmpl_render(const char *source, const struct tmpl_var *vars, size_t nvars,
                struct strbuf *subject, struct strbuf *text, struct strbuf *html,
                const char **error_r)
{
    if (strncmp(source, "Subject:", 8) != 0)
        return err_set(error_r, "template: the first line must be 'Subject: ...'");
    const char *nl = strchr(source, '\n');
    const char *sep = nl ? strstr(nl, "\n---\n") : NULL;
    if (nl == NULL || sep == NULL || sep != nl)
        return err_set(error_r, "template: a '---' line must follow the Subject line");
    const char *subj = source + 8;
    while (*subj == ' ')
        subj++;
    struct strbuf s = STRBUF_INIT, body = STRBUF_INIT, rendered = STRBUF_INIT;
    int ret = -1;
    if (substitute(subj, (size_t)(nl - subj), vars, nvars, false, &s, error_r) < 0)
        goto out;
    /* a subject is one line */
    for (size_t i = 0; i < s.len; i++)
        if (s.s[i] == '\n' || s.s[i] == '\r' || s.s[i] == '\t')
            s.s[i] = ' ';
    const char *b = sep + 5;
    if (substitute(b, strlen(b), vars, nvars, true, &body, error_r) < 0)
        goto out;
    char *h = cmark_markdown_to_html(body.s ? body.s : "", body.len, CMARK_OPT_DEFAULT);
    if (h == NULL) {
        err_set(error_r, "template: cmark failed");
        goto out;
    }
    fill_tokens(h, vars, nvars, &rendered);
    free(h);
    strbuf_adds(html, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head>"
                      "<body style=\"font-family:sans-serif;line-height:1.4\">\n");
    strbuf_add(html, rendered.s ? rendered.s : "", rendered.len);
    strbuf_adds(html, "</body></html>\n");
    html_to_text(rendered.s ? rendered.s : "", rendered.len, text);
    strbuf_addc(text, '\n');
    strbuf_add(subject, s.s ? s.s : "", s.len);
    ret = 0;
out:
    strbuf_free(&s);
    strbuf_free(&body);
    strbuf_free(&rendered);
    return ret;
}

int tmpl_append_block(const char *markdown, struct strbuf *text, struct strbuf *html,
                      const char **error_r)
{
    static const char end[] = "</body></html>\n";
    size_t el = sizeof(end) - 1;
    if (html->len < el || memcmp(html->s + html->len - el, end, el) != 0)
        return err_set(error_r, "the mail's HTML part does not end as rendered");
    char *h = cmark_markdown_to_html(markdown, strlen(markdown), CMARK_OPT_DEFAULT);
    if (h == NULL)
        return err_set(error_r, "cmark failed on the block");
    html->len -= el;
    html->s[html->len] = '\0';
    strbuf_adds(html, "<hr>\n");
    strbuf_adds(html, h);
    strbuf_adds(html, end);
    strbuf_adds(text, "\n---\n\n");
    html_to_text(h, strlen(h), text);
    strbuf_addc(text, '\n');
    free(h);
    return 0;
}
