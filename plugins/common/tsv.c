/* plugins/common/tsv.c -- see tsv.h. */
#include "tsv.h"

#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static void *xgrow(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (q == NULL)
        abort();
    return q;
}

/* Unescapes s[0..n) into a new string. */
static char *unescape(const char *s, size_t n)
{
    char *o = xgrow(NULL, n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n) {
            char c = s[i + 1];
            if (c == 't' || c == 'n' || c == 'r' || c == '\\') {
                o[k++] = c == 't' ? '\t' : c == 'n' ? '\n' : c == 'r' ? '\r' : '\\';
                i++;
                continue;
            }
        }
        o[k++] = s[i];
    }
    o[k] = '\0';
    return o;
}

/* Splits one line into cells; *n_r cells. */
static char **split(char *line, size_t *n_r)
{
    size_t len = strlen(line);
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        line[--len] = '\0';
    size_t n = 1;
    for (size_t i = 0; i < len; i++)
        n += line[i] == '\t';
    char **v = xgrow(NULL, n * sizeof(char *));
    size_t k = 0, start = 0;
    for (size_t i = 0; i <= len; i++)
        if (i == len || line[i] == '\t') {
            v[k++] = unescape(line + start, i - start);
            start = i + 1;
        }
    *n_r = n;
    return v;
}

int tsv_read(FILE *f, struct tsv *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    char *line = NULL;
    size_t cap = 0, rcap = 0;
    ssize_t got = getline(&line, &cap, f);
    if (got <= 0) {
        free(line);
        *error_r = "no header row";
        return -1;
    }
    if (got >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0)
        memmove(line, line + 3, (size_t)got - 2);   /* a BOM */
    out->cols = split(line, &out->ncols);
    while ((got = getline(&line, &cap, f)) > 0) {
        if (got == 1 && line[0] == '\n')
            continue;
        size_t n;
        char **v = split(line, &n);
        if (out->nrows == rcap) {
            rcap = rcap ? rcap * 2 : 256;
            out->cells = xgrow(out->cells, rcap * out->ncols * sizeof(char *));
        }
        char **row = out->cells + out->nrows * out->ncols;
        for (size_t i = 0; i < out->ncols; i++)
            row[i] = i < n ? v[i] : unescape("", 0);
        for (size_t i = out->ncols; i < n; i++)
            free(v[i]);
        free(v);
        out->nrows++;
    }
    free(line);
    return 0;
}

void tsv_free(struct tsv *t)
{
    for (size_t i = 0; i < t->ncols; i++)
        free(t->cols[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cols);
    free(t->cells);
    memset(t, 0, sizeof(*t));
}

int tsv_col(const struct tsv *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], name) == 0)
            return (int)i;
    return -1;
}

void tsv_put(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '\t': fputs("\\t", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\\': fputs("\\\\", f); break;
        default: fputc(*s, f);
        }
    }
}
