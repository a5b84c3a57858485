/* mail/quote.c -- see mail/quote.h. */
#include "config.h"
#include "mail/quote.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct line {
    const char *s;
    size_t n;
};

static bool starts_ci(const struct line *l, const char *prefix)
{
    size_t k = strlen(prefix);
    return l->n >= k && strncasecmp(l->s, prefix, k) == 0;
}

static bool ends_with(const struct line *l, const char *suffix)
{
    size_t n = l->n, k = strlen(suffix);
    while (n > 0 && (l->s[n - 1] == ' ' || l->s[n - 1] == '\t' || l->s[n - 1] == '\r'))
        n--;
    return n >= k && strncasecmp(l->s + n - k, suffix, k) == 0;
}

static bool contains_ci(const struct line *l, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= l->n; i++)
        if (strncasecmp(l->s + i, needle, k) == 0)
            return true;
    return false;
}

static bool is_quoted(const struct line *l)
{
    size_t i = 0;
    while (i < l->n && l->s[i] == ' ')
        i++;
    return i < l->n && l->s[i] == '>';
}

static bool is_blank(const struct line *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (!isspace((unsigned char)l->s[i]))
            return false;
    return true;
}

/* "On Tue, 3 Apr 2012, Jane <j@x> wrote:" and its translations. */
static bool is_attribution(const struct line *l)
{
    static const struct { const char *start, *end; } forms[] = {
        { "On ", "wrote:" }, { "Am ", "schrieb:" }, { "Am ", ":" }, { "Le ", "a écrit :" },
        { "Le ", "a écrit:" }, { "El ", "escribió:" }, { "Il ", "ha scritto:" },
        { "Op ", "geschreven:" }, { "Em ", "escreveu:" }, { "W dniu ", "pisze:" },
        { "Den ", "skrev:" }, { "", "wrote:" },
    };
    if (l->n > 300)
        return false;
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        if (starts_ci(l, forms[i].start) && ends_with(l, forms[i].end)) {
            if (strcmp(forms[i].start, "Am ") == 0 && strcmp(forms[i].end, ":") == 0
                && !contains_ci(l, "schrieb"))
                continue;
            return true;
        }
    }
    return false;
}

static bool is_outlook_header(const struct line *v, size_t i, size_t n)
{
    const struct line *l = &v[i];
    if (starts_ci(l, "-----Original Message-----") || starts_ci(l, "----- Original Message -----")
        || starts_ci(l, "-----Ursprüngliche Nachricht-----") || starts_ci(l, "-------- Original Message --------")
        || starts_ci(l, "-------- Forwarded Message --------") || starts_ci(l, "---------- Forwarded message"))
        return true;
    if (starts_ci(l, "From:") || starts_ci(l, "Von:") || starts_ci(l, "De :") || starts_ci(l, "De:")) {
        int hits = 0;
        for (size_t k = i + 1; k < n && k <= i + 4; k++) {
            if (starts_ci(&v[k], "Sent:") || starts_ci(&v[k], "Date:") || starts_ci(&v[k], "To:")
                || starts_ci(&v[k], "Subject:") || starts_ci(&v[k], "Gesendet:")
                || starts_ci(&v[k], "Envoyé :") || starts_ci(&v[k], "Cc:"))
                hits++;
        }
        return hits >= 2;
    }
    /* an underscore rule right above such a header block */
    if (l->n >= 20 && strspn(l->s, "_") == l->n && i + 1 < n)
        return is_outlook_header(v, i + 1, n);
    return false;
}

void quote_new_text(const char *text, size_t len, struct strbuf *out)
{
    size_t cap = 64, n = 0;
    struct line *v = malloc(cap * sizeof(*v));
    if (v == NULL)
        return;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        if (n == cap) {
            struct line *nv = realloc(v, (cap *= 2) * sizeof(*v));
            if (nv == NULL) {
                free(v);
                return;
            }
            v = nv;
        }
        v[n].s = text + i;
        v[n].n = j - i;
        n++;
        i = j + 1;
    }

    size_t cut = n;
    for (size_t i = 0; i < n && cut == n; i++) {
        if (is_outlook_header(v, i, n)) {
            cut = i;
        } else if (is_attribution(&v[i])) {
            /* quoted lines (or the end) must follow soon */
            for (size_t k = i + 1; k < n && k <= i + 3; k++)
                if (is_quoted(&v[k])) {
                    cut = i;
                    break;
                }
        } else if (i + 1 < n && !is_blank(&v[i]) && is_attribution(&(struct line){ v[i].s, v[i].n + 1 + v[i + 1].n })
                   && i + 2 < n && is_quoted(&v[i + 2])) {
            cut = i;   /* attribution folded over two lines */
        } else if (is_quoted(&v[i])) {
            /* a quote that runs to the end (blank lines allowed) */
            size_t k = i;
            while (k < n && (is_quoted(&v[k]) || is_blank(&v[k])))
                k++;
            if (k == n)
                cut = i;
        }
    }
    /* a signature separator in the last lines of what is left */
    for (size_t i = cut; i-- > 0 && cut - i <= 15;) {
        if ((v[i].n == 3 && memcmp(v[i].s, "-- ", 3) == 0) || (v[i].n == 4 && memcmp(v[i].s, "-- \r", 4) == 0)
            || (v[i].n == 2 && memcmp(v[i].s, "--", 2) == 0)) {
            cut = i;
            break;
        }
    }
    while (cut > 0 && is_blank(&v[cut - 1]))
        cut--;
    if (cut == 0) {
        strbuf_add(out, text, len);
    } else {
        size_t end = (size_t)(v[cut - 1].s + v[cut - 1].n - text);
        strbuf_add(out, text, end);
    }
    free(v);
}
