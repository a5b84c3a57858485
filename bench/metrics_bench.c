/*
 * bench/metrics_bench.c -- the cost of counting on the hot path
 * (lib/metrics.h): nanoseconds per metrics_counter_add() and
 * metrics_observe() on an existing series, with the registry holding
 * SERIES other series (a busy atumd has about 900), from 1 and 2 threads;
 * and, as the machine's reference in the same run, an uncontended
 * pthread mutex lock + unlock (the floor of any update under one lock).
 *
 *   bench/metrics_bench [SERIES] [OPS]       (defaults 1000, 2000000)
 */
#include "config.h"
#include "lib/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long ops;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *count_loop(void *arg)
{
    (void)arg;
    for (long i = 0; i < ops; i++)
        metrics_counter_add("atum_http_requests_total",
                            "route=\"/api/v1/tickets/{id}\",method=\"GET\",code=\"200\"", 1);
    return NULL;
}

static void *observe_loop(void *arg)
{
    (void)arg;
    for (long i = 0; i < ops; i++)
        metrics_observe("atum_http_request_duration_seconds",
                        "route=\"/api/v1/tickets/{id}\",method=\"GET\"", 0.003);
    return NULL;
}

static double run(void *(*fn)(void *), int threads)
{
    pthread_t th[8];
    double t0 = now_s();
    for (int i = 0; i < threads; i++)
        pthread_create(&th[i], NULL, fn, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    return (now_s() - t0) * 1e9 / ((double)ops * threads);
}

int main(int argc, char **argv)
{
    int series = argc > 1 ? atoi(argv[1]) : 1000;
    ops = argc > 2 ? atol(argv[2]) : 2000000;
    char labels[96];
    for (int i = 0; i < series; i++) {
        snprintf(labels, sizeof(labels), "kind=\"bench.kind%d\",outcome=\"done\"", i);
        metrics_counter_add("atum_jobs_total", labels, 1);
    }
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    double t0 = now_s();
    for (long i = 0; i < ops; i++) {
        pthread_mutex_lock(&mu);
        pthread_mutex_unlock(&mu);
    }
    double ref = (now_s() - t0) * 1e9 / (double)ops;
    double c1 = run(count_loop, 1), c2 = run(count_loop, 2);
    double o1 = run(observe_loop, 1), o2 = run(observe_loop, 2);
    printf("series=%d ops=%ld mutex_ns=%.1f\n", series, ops, ref);
    printf("counter_add_ns=%.1f counter_add_2threads_ns=%.1f observe_ns=%.1f observe_2threads_ns=%.1f"
           " ratio_counter_to_mutex=%.1f\n", c1, c2, o1, o2, c1 / ref);
    metrics_reset();
    return 0;
}
