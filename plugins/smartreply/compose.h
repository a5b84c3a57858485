/*
 * plugins/smartreply/compose.h -- the local draft of a reply: the
 * best-matching canned response (its placeholders filled) or, when a
 * knowledge-base passage answers better, a short reply built around that
 * passage with its citation.  Pure functions: the caller ranks (canned
 * responses and the KB) and hands the candidates in.
 *
 * Placeholders of canned responses: {{customer.name}},
 * {{customer.first_name}}, {{customer.email}}, {{ticket.number}},
 * {{ticket.subject}}, {{queue.name}}, {{agent.name}}; a placeholder with
 * no value is left as written and listed in `unfilled`.
 *
 * Ownership: compose_* return malloc'd strings; struct draft is released
 * with draft_clear().
 */
#ifndef PLUGINS_SMARTREPLY_COMPOSE_H
#define PLUGINS_SMARTREPLY_COMPOSE_H

#include <stddef.h>

struct fill_values {
    const char *customer_name, *customer_email, *ticket_number, *ticket_subject, *queue_name, *agent_name;
};

/* Fills the placeholders of text; *unfilled_r (may be NULL) gets a
 * comma-separated list of those left (malloc'd, "" when none). */
char *compose_fill(const char *text, const struct fill_values *v, char **unfilled_r);

struct candidate {
    int kind;                /* CAND_CANNED or CAND_KB */
    long long id;
    const char *title;
    const char *body;        /* canned: its body; KB: the passage text */
    const char *section;     /* KB: the passage's heading */
    const char *link;        /* KB: the article's link */
    const char *slug;        /* KB */
    double relevance;        /* 0..1 */
};
#define CAND_CANNED 0
#define CAND_KB 1

struct draft {
    char *text;              /* NULL: nothing matched well enough */
    int source;              /* index into the candidates chosen, -1 */
    char *unfilled;
    char language[8];
};

/* Chooses among the candidates, each kind given best first: the first
 * canned response and the first KB passage whose relevance reaches
 * min_relevance; the canned response unless the passage is more relevant.
 * Writes the draft in lang (en, de, es, fr, pt; others get English around
 * the passage). */
void compose_draft(const struct candidate *c, size_t n, double min_relevance, const struct fill_values *v,
                   const char *lang, struct draft *out);
void draft_clear(struct draft *d);

#endif
