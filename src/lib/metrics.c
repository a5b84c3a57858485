/* lib/metrics.c -- see lib/metrics.h. */
#include "config.h"
#include "lib/metrics.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum series_type { SERIES_COUNTER, SERIES_GAUGE };

struct series {
    char *name;
    char *labels;            /* "" when none */
    enum series_type type;
    double value;
};

struct metrics_state {
    pthread_mutex_t lock;
    struct series *v;
    size_t n, cap;
};

static struct metrics_state metrics = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };

int metrics_name_valid(const char *s)
{
    if (s == NULL || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':'))
            return 0;
    return 1;
}

/* name="value" pairs separated by commas; values may hold \" \\ \n. */
int metrics_labels_valid(const char *s)
{
    if (s == NULL || *s == '\0')
        return 1;
    while (*s) {
        if (!(isalpha((unsigned char)*s) || *s == '_'))
            return 0;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        if (*s++ != '=' || *s++ != '"')
            return 0;
        while (*s && *s != '"') {
            if (*s == '\n')
                return 0;
            if (*s == '\\') {
                s++;
                if (*s != '"' && *s != '\\' && *s != 'n')
                    return 0;
            }
            s++;
        }
        if (*s++ != '"')
            return 0;
        if (*s == ',')
            s++;
        else if (*s != '\0')
            return 0;
    }
    return 1;
}

static struct series *find_or_add(const char *name, const char *labels, enum series_type type)
{
    for (size_t i = 0; i < metrics.n; i++)
        if (strcmp(metrics.v[i].name, name) == 0 && strcmp(metrics.v[i].labels, labels) == 0)
            return &metrics.v[i];
    if (metrics.n == metrics.cap) {
        metrics.cap = metrics.cap ? metrics.cap * 2 : 32;
        metrics.v = xrealloc(metrics.v, metrics.cap * sizeof(*metrics.v));
    }
    struct series *s = &metrics.v[metrics.n++];
    s->name = xstrdup(name);
    s->labels = xstrdup(labels);
    s->type = type;
    s->value = 0;
    return s;
}

static void update(const char *name, const char *labels, double value, enum series_type type)
{
    if (labels == NULL)
        labels = "";
    if (!metrics_name_valid(name) || !metrics_labels_valid(labels)) {
        pthread_mutex_lock(&metrics.lock);
        find_or_add("atum_metrics_rejected_total", "", SERIES_COUNTER)->value += 1;
        pthread_mutex_unlock(&metrics.lock);
        return;
    }
    pthread_mutex_lock(&metrics.lock);
    struct series *s = find_or_add(name, labels, type);
    if (type == SERIES_COUNTER) {
        if (value > 0)
            s->value += value;
    } else {
        s->value = value;
    }
    pthread_mutex_unlock(&metrics.lock);
}

void metrics_counter_add(const char *name, const char *labels, double value)
{
    update(name, labels, value, SERIES_COUNTER);
}

void metrics_gauge_set(const char *name, const char *labels, double value)
{
    update(name, labels, value, SERIES_GAUGE);
}

double metrics_get(const char *name, const char *labels)
{
    double v = 0;
    if (labels == NULL)
        labels = "";
    pthread_mutex_lock(&metrics.lock);
    for (size_t i = 0; i < metrics.n; i++)
        if (strcmp(metrics.v[i].name, name) == 0 && strcmp(metrics.v[i].labels, labels) == 0)
            v = metrics.v[i].value;
    pthread_mutex_unlock(&metrics.lock);
    return v;
}

static int by_name(const void *a, const void *b)
{
    const struct series *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

void metrics_render(struct strbuf *out)
{
    pthread_mutex_lock(&metrics.lock);
    qsort(metrics.v, metrics.n, sizeof(*metrics.v), by_name);
    const char *last = "";
    for (size_t i = 0; i < metrics.n; i++) {
        struct series *s = &metrics.v[i];
        if (strcmp(s->name, last) != 0) {
            strbuf_addf(out, "# TYPE %s %s\n", s->name,
                        s->type == SERIES_COUNTER ? "counter" : "gauge");
            last = s->name;
        }
        if (s->labels[0])
            strbuf_addf(out, "%s{%s} %.17g\n", s->name, s->labels, s->value);
        else
            strbuf_addf(out, "%s %.17g\n", s->name, s->value);
    }
    pthread_mutex_unlock(&metrics.lock);
}

void metrics_reset(void)
{
    pthread_mutex_lock(&metrics.lock);
    for (size_t i = 0; i < metrics.n; i++) {
        free(metrics.v[i].name);
        free(metrics.v[i].labels);
    }
    free(metrics.v);
    metrics.v = NULL;
    metrics.n = metrics.cap = 0;
    pthread_mutex_unlock(&metrics.lock);
}
