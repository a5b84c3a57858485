/* plugins/smartreply/compose.c -- see compose.h. */
#include "compose.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PASSAGE_MAX 900

struct buf { char *s; size_t n, cap; };

static void put(struct buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->s = realloc(b->s, b->cap);
        if (b->s == NULL)
            abort();
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* the first word of a name ("Carla Customer" -> "Carla") */
static void first_name(const char *name, char *out, size_t size)
{
    size_t n = strcspn(name ? name : "", " \t");
    if (n >= size)
        n = size - 1;
    memcpy(out, name ? name : "", n);
    out[n] = '\0';
}

char *compose_fill(const char *text, const struct fill_values *v, char **unfilled_r)
{
    struct buf b = { 0 }, un = { 0 };
    puts_(&b, "");
    puts_(&un, "");
    char first[128];
    first_name(v->customer_name, first, sizeof(first));
    const struct { const char *name, *value; } vars[] = {
        { "customer.name", v->customer_name }, { "customer.first_name", first[0] ? first : NULL },
        { "customer.email", v->customer_email }, { "ticket.number", v->ticket_number },
        { "ticket.subject", v->ticket_subject }, { "queue.name", v->queue_name }, { "agent.name", v->agent_name },
    };
    const char *p = text ? text : "";
    while (*p) {
        const char *open = strstr(p, "{{");
        if (open == NULL) {
            puts_(&b, p);
            break;
        }
        put(&b, p, (size_t)(open - p));
        const char *close = strstr(open + 2, "}}");
        if (close == NULL) {
            puts_(&b, open);
            break;
        }
        const char *name = open + 2;
        size_t nl = (size_t)(close - name);
        while (nl > 0 && *name == ' ') {
            name++;
            nl--;
        }
        while (nl > 0 && name[nl - 1] == ' ')
            nl--;
        const char *value = NULL;
        int known = 0;
        for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
            if (strlen(vars[i].name) == nl && strncmp(vars[i].name, name, nl) == 0) {
                known = 1;
                value = vars[i].value && vars[i].value[0] ? vars[i].value : NULL;
            }
        if (value != NULL) {
            puts_(&b, value);
        } else {
            put(&b, open, (size_t)(close + 2 - open));
            if (un.n)
                puts_(&un, ",");
            put(&un, name, nl);
            (void)known;
        }
        p = close + 2;
    }
    if (unfilled_r)
        *unfilled_r = un.s;
    else
        free(un.s);
    return b.s;
}

static const struct phrases {
    const char *lang, *hello, *hello_end, *intro, *closing;   /* hello NAME hello_end */
} phrases[] = {
    { "en", "Hello", ",", "thank you for your message. This article should help:", "Kind regards," },
    { "de", "Hallo", ",", "vielen Dank für Ihre Nachricht. Dieser Artikel sollte helfen:", "Viele Grüße," },
    { "es", "Hola", ":", "gracias por su mensaje. Este artículo debería ayudarle:", "Saludos cordiales," },
    { "fr", "Bonjour", ",", "merci pour votre message. Cet article devrait vous aider :", "Cordialement," },
    { "pt", "Olá", ",", "obrigado pela sua mensagem. Este artigo deve ajudar:", "Atenciosamente," },
};

static const struct phrases *phrases_for(const char *lang)
{
    for (size_t i = 0; i < sizeof(phrases) / sizeof(phrases[0]); i++)
        if (lang && strcmp(phrases[i].lang, lang) == 0)
            return &phrases[i];
    return &phrases[0];
}

void compose_draft(const struct candidate *c, size_t n, double min_relevance, const struct fill_values *v,
                   const char *lang, struct draft *out)
{
    memset(out, 0, sizeof(*out));
    out->source = -1;
    const struct phrases *ph = phrases_for(lang);
    snprintf(out->language, sizeof(out->language), "%s", ph->lang);
    /* the first relevant candidate of each kind (they come best first);
     * a canned response wins unless the passage is more relevant */
    int canned = -1, kb = -1;
    for (size_t i = 0; i < n; i++) {
        if (c[i].relevance < min_relevance)
            continue;
        if (c[i].kind == CAND_CANNED && canned < 0)
            canned = (int)i;
        if (c[i].kind == CAND_KB && kb < 0)
            kb = (int)i;
    }
    int best = canned >= 0 && (kb < 0 || c[canned].relevance >= c[kb].relevance) ? canned : kb;
    if (best < 0)
        return;
    out->source = best;
    if (c[best].kind == CAND_CANNED) {
        out->text = compose_fill(c[best].body, v, &out->unfilled);
        return;
    }
    struct buf b = { 0 };
    char first[128];
    first_name(v->customer_name, first, sizeof(first));
    puts_(&b, ph->hello);
    if (first[0]) {
        puts_(&b, " ");
        puts_(&b, first);
    }
    puts_(&b, ph->hello_end);
    puts_(&b, "\n\n");
    puts_(&b, ph->intro);
    puts_(&b, " \"");
    puts_(&b, c[best].title ? c[best].title : "");
    puts_(&b, "\"");
    if (c[best].link && c[best].link[0]) {
        puts_(&b, " (");
        puts_(&b, c[best].link);
        puts_(&b, ")");
    }
    puts_(&b, "\n\n");
    const char *t = c[best].body ? c[best].body : "";
    size_t tl = strlen(t);
    if (tl > PASSAGE_MAX) {
        tl = PASSAGE_MAX;
        while (tl > 0 && ((unsigned char)t[tl] & 0xc0) == 0x80)
            tl--;                               /* whole UTF-8 characters */
        put(&b, t, tl);
        puts_(&b, " ...");
    } else {
        put(&b, t, tl);
    }
    puts_(&b, "\n\n");
    puts_(&b, ph->closing);
    puts_(&b, "\n");
    if (v->agent_name && v->agent_name[0])
        puts_(&b, v->agent_name);
    else
        puts_(&b, v->queue_name && v->queue_name[0] ? v->queue_name : "");
    out->text = b.s;
    out->unfilled = strdup("");
}

void draft_clear(struct draft *d)
{
    free(d->text);
    free(d->unfilled);
    memset(d, 0, sizeof(*d));
    d->source = -1;
}
