/* plugins/metrics/procstat.c -- see procstat.h. */
#include "procstat.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

int procstat_parse_stat(const char *text, double ticks_per_s, double page_size, double boot_time,
                        struct procstat *out)
{
    /* "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so the
     * fields start after the last ')' */
    const char *p = text ? strrchr(text, ')') : NULL;
    if (p == NULL || ticks_per_s <= 0)
        return -1;
    p++;
    /* field 3 (state) is the first after ')'; we want fields 14, 15, 20,
     * 22, 23, 24 */
    double f[53] = { 0 };
    int field = 3;
    while (*p && field <= 24) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        char *end;
        if (field == 3) {
            while (*p && *p != ' ')
                p++;
        } else {
            f[field] = strtod(p, &end);
            if (end == p)
                return -1;
            p = end;
        }
        field++;
    }
    if (field <= 24)
        return -1;
    out->cpu_seconds = (f[14] + f[15]) / ticks_per_s;
    out->threads = f[20];
    out->start_time_seconds = boot_time + f[22] / ticks_per_s;
    out->virtual_bytes = f[23];
    out->resident_bytes = f[24] * page_size;
    return 0;
}

double procstat_btime(const char *text)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, "btime ", 6) == 0)
            return strtod(p + 6, NULL);
    }
    return -1;
}

/* The whole of a small /proc file; NULL on failure (errno set). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, len = 0;
    char *s = malloc(cap);
    if (s == NULL)
        abort();
    size_t n;
    while ((n = fread(s + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (len + 1 == cap) {
            cap *= 2;
            char *t = realloc(s, cap);
            if (t == NULL)
                abort();
            s = t;
        }
    }
    fclose(f);
    s[len] = '\0';
    return s;
}

int procstat_read(const char *root, struct procstat *out, char *why, size_t why_size)
{
    char path[512];
    int ret = -1;
    snprintf(path, sizeof(path), "%s/stat", root);
    char *stat_all = slurp(path);
    snprintf(path, sizeof(path), "%s/self/stat", root);
    char *stat_self = slurp(path);
    if (stat_all == NULL || stat_self == NULL) {
        snprintf(why, why_size, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    double btime = procstat_btime(stat_all);
    if (btime < 0 || procstat_parse_stat(stat_self, (double)sysconf(_SC_CLK_TCK),
                                         (double)sysconf(_SC_PAGESIZE), btime, out) < 0) {
        snprintf(why, why_size, "cannot parse %s/stat or %s/self/stat", root, root);
        goto out;
    }
    snprintf(path, sizeof(path), "%s/self/fd", root);
    DIR *d = opendir(path);
    if (d == NULL) {
        snprintf(why, why_size, "cannot list %s: %s", path, strerror(errno));
        goto out;
    }
    int fds = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            fds++;
    closedir(d);
    out->open_fds = fds - 1;   /* the directory's own descriptor */
    struct rlimit rl;
    out->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                       ? (double)rl.rlim_cur : -1;
    ret = 0;
out:
    free(stat_all);
    free(stat_self);
    return ret;
}

static void family(struct buf *b, const char *name, const char *type, const char *help, double v)
{
    buf_addf(b, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    buf_add_number(b, v);
    buf_adds(b, "\n");
}

void procstat_render(const struct procstat *ps, struct buf *out)
{
    family(out, "process_cpu_seconds_total", "counter",
           "User and system CPU time spent by atumd, in seconds.", ps->cpu_seconds);
    family(out, "process_resident_memory_bytes", "gauge", "Resident memory size of atumd in bytes.",
           ps->resident_bytes);
    family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size of atumd in bytes.",
           ps->virtual_bytes);
    family(out, "process_start_time_seconds", "gauge",
           "Start time of atumd since the epoch, in seconds.", ps->start_time_seconds);
    family(out, "process_open_fds", "gauge", "File descriptors atumd has open.", ps->open_fds);
    if (ps->max_fds >= 0)
        family(out, "process_max_fds", "gauge", "File descriptors atumd may open (soft limit).",
               ps->max_fds);
    family(out, "process_threads", "gauge", "Threads of atumd.", ps->threads);
}
