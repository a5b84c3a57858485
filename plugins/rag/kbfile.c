/* plugins/rag/kbfile.c -- see kbfile.h. */
#include "kbfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILE (4u * 1024 * 1024)

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *trimdup(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) { s++; n--; }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) n--;
    if (n >= 2 && ((s[0] == '"' && s[n - 1] == '"') || (s[0] == '\'' && s[n - 1] == '\''))) { s++; n -= 2; }
    return dupn(s, n);
}

void kbfile_free(struct kbfile *f)
{
    free(f->slug); free(f->title); free(f->body); free(f->tags); free(f->lang);
    free(f->visibility); free(f->status); free(f->queue); free(f->category);
    memset(f, 0, sizeof(*f));
}

int kbfile_parse(const char *name, const char *text, size_t len, struct kbfile *out,
                 const char **error_r)
{
    memset(out, 0, sizeof(*out));
    if (memchr(text, '\0', len) != NULL) {
        *error_r = "not a text file (NUL bytes)";
        return -1;
    }
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    size_t bl = strlen(base);
    if (bl > 3 && strcmp(base + bl - 3, ".md") == 0)
        bl -= 3;
    out->slug = dupn(base, bl);
    const char *p = text, *end = text + len;
    if (len >= 4 && memcmp(p, "---", 3) == 0 && (p[3] == '\n' || p[3] == '\r')) {
        p = (const char *)memchr(p, '\n', (size_t)(end - p)) + 1;
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *eol = nl ? nl : end;
            if (eol - p >= 3 && memcmp(p, "---", 3) == 0) {
                p = nl ? nl + 1 : end;
                break;
            }
            const char *colon = memchr(p, ':', (size_t)(eol - p));
            if (colon) {
                size_t kl = (size_t)(colon - p);
                char **slot = NULL;
                if (kl == 5 && !memcmp(p, "title", 5)) slot = &out->title;
                else if (kl == 4 && !memcmp(p, "tags", 4)) slot = &out->tags;
                else if (kl == 8 && !memcmp(p, "language", 8)) slot = &out->lang;
                else if (kl == 4 && !memcmp(p, "lang", 4)) slot = &out->lang;
                else if (kl == 10 && !memcmp(p, "visibility", 10)) slot = &out->visibility;
                else if (kl == 6 && !memcmp(p, "status", 6)) slot = &out->status;
                else if (kl == 5 && !memcmp(p, "queue", 5)) slot = &out->queue;
                else if (kl == 8 && !memcmp(p, "category", 8)) slot = &out->category;
                if (slot) {
                    free(*slot);
                    *slot = trimdup(colon + 1, (size_t)(eol - colon - 1));
                }
            }
            p = nl ? nl + 1 : end;
        }
    }
    /* the first "# " heading is the title (when the front matter gave none) */
    const char *q = p;
    while (q < end && (*q == '\n' || *q == '\r' || *q == ' '))
        q++;
    if (end - q >= 2 && q[0] == '#' && q[1] == ' ') {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        const char *eol = nl ? nl : end;
        if (out->title == NULL)
            out->title = trimdup(q + 2, (size_t)(eol - q - 2));
        p = nl ? nl + 1 : end;
    }
    if (out->title == NULL || out->title[0] == '\0') {
        free(out->title);
        out->title = dupn(out->slug, strlen(out->slug));
    }
    out->body = dupn(p, (size_t)(end - p));
    return 0;
}

int kbfile_read(const char *path, struct kbfile *out, const char **error_r)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *error_r = "cannot open the file";
        return -1;
    }
    char *buf = malloc(MAX_FILE + 1);
    if (buf == NULL)
        abort();
    size_t n = fread(buf, 1, MAX_FILE + 1, f);
    fclose(f);
    if (n > MAX_FILE) {
        free(buf);
        *error_r = "file larger than 4 MiB";
        return -1;
    }
    int rc = kbfile_parse(path, buf, n, out, error_r);
    free(buf);
    return rc;
}
