/*
 * plugins/metrics/procstat.h -- the process's own figures from /proc, as
 * the usual process_* metrics of Prometheus clients: CPU seconds,
 * resident and virtual memory, open and allowed file descriptors, start
 * time, threads.
 *
 * The parsers take the files' text, so tests feed them known contents;
 * procstat_read() reads the live files under a root (normally "/proc").
 */
#ifndef ATUM_METRICS_PROCSTAT_H
#define ATUM_METRICS_PROCSTAT_H

#include "buf.h"

struct procstat {
    double cpu_seconds;          /* user + system */
    double resident_bytes;
    double virtual_bytes;
    double start_time_seconds;   /* since the epoch */
    double open_fds;
    double max_fds;              /* soft limit; -1 when unlimited */
    double threads;
};

/* /proc/PID/stat: utime, stime, num_threads, starttime, vsize, rss.
 * ticks_per_s and page_size from sysconf; boot_time from procstat_btime.
 * 0, or -1 when the text is not a stat line. */
int procstat_parse_stat(const char *text, double ticks_per_s, double page_size, double boot_time,
                        struct procstat *out);
/* The "btime N" line of /proc/stat: boot time in seconds since the epoch;
 * -1 when missing. */
double procstat_btime(const char *proc_stat_text);

/* Reads root/self/stat, root/stat, root/self/fd and the RLIMIT_NOFILE
 * soft limit.  0, or -1 with a reason in why. */
int procstat_read(const char *root, struct procstat *out, char *why, size_t why_size);

/* The process_* families (HELP, TYPE, sample) appended to out. */
void procstat_render(const struct procstat *ps, struct buf *out);

#endif
