/*
 * parse_bench -- how fast mail_parse() reads a corpus, next to a reference
 * figure of the same machine from the same run.
 *
 *   bench/parse_bench DIR [SECONDS]
 *
 * Loads every *.eml of DIR into memory, then parses the whole set again
 * and again for about SECONDS (default 5) of CPU time.  The reference is
 * SHA-256 over the same bytes for as long (a fixed, library-bound amount of
 * work), so the ratio parse/reference compares builds across runs and
 * machines better than the raw figure does.  CPU time of the process is
 * used, not wall time: other work on a shared machine then matters less.
 * The last line is key=value pairs.
 */
#include "config.h"
#include "mail/mime.h"
#include "lib/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mail {
    char *raw;
    size_t len;
};

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int load(const char *dir, struct mail **v, size_t *n, size_t *bytes)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL; ) {
        size_t l = strlen(e->d_name);
        if (l < 5 || strcmp(e->d_name + l - 4, ".eml") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        rewind(f);
        char *raw = malloc(size > 0 ? (size_t)size : 1);
        size_t got = size > 0 ? fread(raw, 1, (size_t)size, f) : 0;
        fclose(f);
        *v = realloc(*v, (*n + 1) * sizeof(**v));
        (*v)[*n].raw = raw;
        (*v)[*n].len = got;
        (*n)++;
        *bytes += got;
    }
    closedir(d);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: parse_bench DIR [SECONDS]\n");
        return 2;
    }
    double budget = argc > 2 ? atof(argv[2]) : 5.0;
    struct mail *mails = NULL;
    size_t n = 0, bytes = 0;
    if (load(argv[1], &mails, &n, &bytes) < 0 || n == 0) {
        fprintf(stderr, "parse_bench: no .eml files in %s\n", argv[1]);
        return 1;
    }
    struct mail_limits lim;
    mail_limits_default(&lim);

    /* warm up: first touches, iconv and uchardet tables */
    for (size_t i = 0; i < n; i++) {
        struct mail_msg *m = mail_parse(mails[i].raw, mails[i].len, &lim);
        mail_msg_free(&m);
    }
    long rounds = 0;
    double t0 = cpu_seconds(), t;
    do {
        for (size_t i = 0; i < n; i++) {
            struct mail_msg *m = mail_parse(mails[i].raw, mails[i].len, &lim);
            mail_msg_free(&m);
        }
        rounds++;
        t = cpu_seconds() - t0;
    } while (t < budget);

    long ref_rounds = 0;
    char hex[65];
    double r0 = cpu_seconds(), rt;
    do {
        for (size_t i = 0; i < n; i++)
            sha256_hex(mails[i].raw, mails[i].len, hex);
        ref_rounds++;
        rt = cpu_seconds() - r0;
    } while (rt < budget);

    double mails_per_s = (double)n * (double)rounds / t;
    double mb_per_s = (double)bytes * (double)rounds / t / 1e6;
    double ref_mb_per_s = (double)bytes * (double)ref_rounds / rt / 1e6;
    printf("corpus: %s, %zu mails, %.2f MB\n", argv[1], n, (double)bytes / 1e6);
    printf("mail_parse: %ld rounds in %.2f s CPU: %.0f mails/s, %.2f MB/s (%.1f us a mail)\n",
           rounds, t, mails_per_s, mb_per_s, 1e6 / mails_per_s);
    printf("reference, SHA-256 over the same bytes: %.1f MB/s\n", ref_mb_per_s);
    printf("parse_mails_per_s=%.0f parse_mb_per_s=%.2f ref_sha256_mb_per_s=%.1f parse_ratio=%.5f\n",
           mails_per_s, mb_per_s, ref_mb_per_s, mb_per_s / ref_mb_per_s);
    for (size_t i = 0; i < n; i++)
        free(mails[i].raw);
    free(mails);
    return 0;
}
