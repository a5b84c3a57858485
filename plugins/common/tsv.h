/*
 * plugins/common/tsv.h -- the labelled-data TSV format of the batch
 * commands (atumctl triage train|predict, atumctl kb rank) and benchmarks.
 *
 * UTF-8, tab-separated, one header row naming the columns, LF (or CRLF)
 * line ends; inside a cell TAB is written \t, newline \n, backslash \\.
 * Missing cells at the end of a row read as "".
 *
 * Ownership: a struct tsv owns every string in it; tsv_free() releases it.
 */
#ifndef PLUGINS_COMMON_TSV_H
#define PLUGINS_COMMON_TSV_H

#include <stddef.h>
#include <stdio.h>

struct tsv {
    char **cols;            /* header names */
    size_t ncols;
    char **cells;           /* nrows x ncols, row by row, unescaped */
    size_t nrows;
};

/* Reads all of f.  -1 with *error_r (static text) when it has no header. */
int tsv_read(FILE *f, struct tsv *out, const char **error_r);
void tsv_free(struct tsv *t);
/* The index of column name, or -1. */
int tsv_col(const struct tsv *t, const char *name);
static inline const char *tsv_cell(const struct tsv *t, size_t row, int col)
{
    return col < 0 ? "" : t->cells[row * t->ncols + (size_t)col];
}
/* Writes s escaped (TAB, LF, CR, backslash) to f. */
void tsv_put(FILE *f, const char *s);

#endif
