/*
 * plugins/rag/kbfile.h -- a knowledge-base article as a Markdown file
 * (atumctl kb import DIR): an optional front matter block between "---"
 * lines (title, tags, language, visibility, status, queue, category:
 * "key: value"), then the text; the title is the front matter's or the
 * first "# " heading, which is then removed from the body.
 *
 * Ownership: kbfile_parse() fills a caller-owned struct with malloc'd
 * strings; kbfile_free() releases them.
 */
#ifndef PLUGINS_RAG_KBFILE_H
#define PLUGINS_RAG_KBFILE_H

#include <stddef.h>

struct kbfile {
    char *slug;          /* the file name without .md */
    char *title, *body, *tags, *lang, *visibility, *status, *queue, *category;
};

int kbfile_parse(const char *name, const char *text, size_t len, struct kbfile *out,
                 const char **error_r);
/* Reads and parses a file (at most 4 MiB). */
int kbfile_read(const char *path, struct kbfile *out, const char **error_r);
void kbfile_free(struct kbfile *f);

#endif
