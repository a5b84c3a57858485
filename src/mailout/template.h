/*
 * mailout/template.h -- mail templates: Markdown with {{variables}}, one
 * source for the HTML and the plain-text part.
 *
 * A template is "Subject: ..." on its first line, a "---" line, then a
 * CommonMark body.  Built-in templates live in templates/mail/NAME.md and
 * are compiled in; an administrator may override any of them for every
 * queue, and a queue for itself (mail_templates).
 *
 * Rendering never lets a value change the markup:
 *  - the body is rendered by cmark with raw HTML suppressed, with each
 *    {{name}} replaced by an inert token first;
 *  - the tokens are then replaced by the HTML-escaped values (a value with
 *    line breaks becomes a <pre> block, wrapped, so agent and customer
 *    text keeps its shape);
 *  - the plain-text part is derived from that HTML (mail/html.h), the
 *    subject gets the raw values.
 * An unknown {{name}} is an error, so a typo in an override is caught
 * rather than mailed to customers.
 */
#ifndef ATUM_MAILOUT_TEMPLATE_H
#define ATUM_MAILOUT_TEMPLATE_H

#include <stddef.h>
#include "core/db.h"
#include "lib/strbuf.h"

struct tmpl_var {
    const char *name;
    const char *value;           /* UTF-8; NULL renders as "" */
};

int tmpl_render(const char *source, const struct tmpl_var *vars, size_t nvars,
                struct strbuf *subject, struct strbuf *text, struct strbuf *html,
                const char **error_r);

/* Appends a block of CommonMark (a plugin's, core/plugin_mail.h) to a
 * rendered mail: its HTML before the closing </body> of html, its text at
 * the end of text.  Raw HTML in the block is suppressed, and its text is
 * never read for {{variables}}.  0, or -1 with *error_r (nothing added). */
int tmpl_append_block(const char *markdown, struct strbuf *text, struct strbuf *html,
                      const char **error_r);

/* The variables a template may use (NULL-terminated), or NULL for an
 * unknown template name.  The outbox gives each template exactly these. */
const char *const *tmpl_variables(const char *name);

/* The i-th template name (static), NULL past the last: every name
 * tmpl_variables() knows. */
const char *tmpl_name_at(size_t i);

/* What is wrong with a template being edited as a subject line and a body
 * (the parts of "Subject: ..." / "---" / body): each '{{' without '}}' and
 * each unknown {{variable}}, with where it is -- part "subject" or
 * "body", line counted from 1 in that part.  Fills at most max problems
 * and returns how many there are (0: it renders).  Unknown name: -1. */
struct tmpl_problem {
    const char *part;            /* "subject" or "body" (static) */
    int line;
    char message[200];
};
int tmpl_problems(const char *name, const char *subject, const char *body, struct tmpl_problem *out,
                  size_t max);

/* Whether source is a usable template for name: it parses and uses only
 * that template's variables.  0, or -1 with *error_r. */
int tmpl_check(const char *name, const char *source, const char **error_r);

/* The built-in source of a template, or NULL. */
const char *tmpl_builtin(const char *name);

/* The queue's override when there is one, else the global override
 * (mail_templates.queue_id NULL; queue_id 0 asks only for that one), else
 * the built-in (copied;
 * the caller frees it).  NULL with *error_r on database errors or an
 * unknown name. */
char *tmpl_source(struct db_conn *c, long long queue_id, const char *name, const char **error_r);

#endif
