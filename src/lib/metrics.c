/* lib/metrics.c -- see lib/metrics.h. */
#include "config.h"
#include "lib/metrics.h"
#include "lib/err.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REJECTED_NAME "atum_metrics_rejected_total"

static const double default_bounds[] = { METRICS_LATENCY_BUCKETS };
#define N_DEFAULT_BOUNDS (sizeof(default_bounds) / sizeof(default_bounds[0]))

struct family {
    char *name;
    enum metrics_type type;
    char *help;              /* NULL: not described */
    double *bounds;          /* histograms */
    size_t nbounds;
};

struct series {
    struct family *fam;
    char *labels;            /* "" when none */
    uint64_t hash;
    double value;            /* counter, gauge */
    double sum;              /* histogram */
    uint64_t count;          /* histogram: observations */
    uint64_t *buckets;       /* histogram: per bucket, not cumulative; nbounds + 1 (+Inf) */
};

struct metrics_state {
    pthread_mutex_t lock;
    struct family **fam;
    size_t nfam;
    struct series **v;       /* in creation order */
    size_t n, cap;
    struct series **slots;   /* open addressing on hash; nslots a power of two */
    size_t nslots;
};

static struct metrics_state metrics = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, NULL, 0, 0, NULL, 0 };

/* ---- validation ------------------------------------------------------- */

int metrics_name_valid(const char *s)
{
    if (s == NULL || !(isalpha((unsigned char)*s) || *s == '_' || *s == ':'))
        return 0;
    for (; *s; s++)
        if (!(isalnum((unsigned char)*s) || *s == '_' || *s == ':'))
            return 0;
    return 1;
}

/* name="value" pairs separated by commas; values may hold \" \\ \n.
 * Collects the label names' positions when names_r is not NULL. */
static int labels_parse(const char *s, const char **names, size_t *lens, size_t *n_r)
{
    size_t n = 0;
    if (s == NULL || *s == '\0') {
        *n_r = 0;
        return 1;
    }
    if (!str_utf8_valid(s, strlen(s)))
        return 0;
    while (*s) {
        if (!(isalpha((unsigned char)*s) || *s == '_'))
            return 0;
        const char *name = s;
        while (isalnum((unsigned char)*s) || *s == '_')
            s++;
        if (n == METRICS_MAX_LABELS)
            return 0;
        names[n] = name;
        lens[n] = (size_t)(s - name);
        for (size_t i = 0; i < n; i++)
            if (lens[i] == lens[n] && memcmp(names[i], name, lens[n]) == 0)
                return 0;    /* a label named twice */
        n++;
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
    *n_r = n;
    return 1;
}

int metrics_labels_valid(const char *labels)
{
    const char *names[METRICS_MAX_LABELS];
    size_t lens[METRICS_MAX_LABELS], n;
    return labels_parse(labels, names, lens, &n);
}

/* Valid for a family of this type: histograms reserve "le". */
static int labels_valid_for(const char *labels, enum metrics_type type)
{
    const char *names[METRICS_MAX_LABELS];
    size_t lens[METRICS_MAX_LABELS], n;
    if (!labels_parse(labels, names, lens, &n))
        return 0;
    for (size_t i = 0; type == METRICS_HISTOGRAM && i < n; i++)
        if (lens[i] == 2 && memcmp(names[i], "le", 2) == 0)
            return 0;
    return 1;
}

size_t metrics_label_value(char *out, size_t size, const char *value)
{
    size_t o = 0;
    if (size == 0)
        return 0;
    for (const char *p = value ? value : ""; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        size_t need = esc ? 2 : 1;
        if (o + need >= size)
            break;
        if (esc) {
            out[o++] = esc[0];
            out[o++] = esc[1];
        } else {
            out[o++] = *p;
        }
    }
    /* never end inside a UTF-8 sequence: drop a cut one */
    size_t end = o;
    while (end > 0 && ((unsigned char)out[end - 1] & 0xC0) == 0x80)
        end--;
    if (end > 0 && ((unsigned char)out[end - 1] & 0x80)) {
        unsigned char lead = (unsigned char)out[end - 1];
        size_t want = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (o - (end - 1) < want)
            o = end - 1;
    }
    out[o] = '\0';
    return o;
}

void metrics_format_value(char out[32], double v)
{
    if (isnan(v)) {
        strcpy(out, "NaN");
        return;
    }
    if (isinf(v)) {
        strcpy(out, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(out, 32, "%.15g", v);
    if (strtod(out, NULL) != v)
        snprintf(out, 32, "%.17g", v);
}

/* ---- the registry (metrics.lock held) --------------------------------- */

static uint64_t hash_of(const char *name, const char *labels)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const unsigned char *p = (const unsigned char *)labels; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    return h;
}

static struct family *family_find(const char *name)
{
    for (size_t i = 0; i < metrics.nfam; i++)
        if (strcmp(metrics.fam[i]->name, name) == 0)
            return metrics.fam[i];
    return NULL;
}

static void family_set_bounds(struct family *f, const double *bounds, size_t n)
{
    if (bounds == NULL || n == 0) {
        bounds = default_bounds;
        n = N_DEFAULT_BOUNDS;
    }
    f->bounds = xcalloc(n, sizeof(*f->bounds));
    memcpy(f->bounds, bounds, n * sizeof(*bounds));
    f->nbounds = n;
}

static struct family *family_add(const char *name, enum metrics_type type)
{
    struct family *f = xcalloc(1, sizeof(*f));
    f->name = xstrdup(name);
    f->type = type;
    if (type == METRICS_HISTOGRAM)
        family_set_bounds(f, NULL, 0);
    metrics.fam = xrealloc(metrics.fam, (metrics.nfam + 1) * sizeof(*metrics.fam));
    metrics.fam[metrics.nfam++] = f;
    return f;
}

static struct series *slot_find(const char *name, const char *labels, uint64_t h, size_t *slot_r)
{
    if (metrics.nslots == 0) {
        *slot_r = 0;
        return NULL;
    }
    size_t mask = metrics.nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        struct series *s = metrics.slots[i];
        if (s == NULL) {
            *slot_r = i;
            return NULL;
        }
        if (s->hash == h && strcmp(s->fam->name, name) == 0 && strcmp(s->labels, labels) == 0)
            return s;
    }
}

static void slots_grow(void)
{
    size_t n = metrics.nslots ? metrics.nslots * 2 : 256;
    struct series **slots = xcalloc(n, sizeof(*slots));
    for (size_t k = 0; k < metrics.n; k++) {
        struct series *s = metrics.v[k];
        size_t i = (size_t)s->hash & (n - 1);
        while (slots[i] != NULL)
            i = (i + 1) & (n - 1);
        slots[i] = s;
    }
    free(metrics.slots);
    metrics.slots = slots;
    metrics.nslots = n;
}

static struct series *series_add(struct family *f, const char *labels, uint64_t h)
{
    if ((metrics.n + 1) * 2 > metrics.nslots)
        slots_grow();
    if (metrics.n == metrics.cap) {
        metrics.cap = metrics.cap ? metrics.cap * 2 : 64;
        metrics.v = xrealloc(metrics.v, metrics.cap * sizeof(*metrics.v));
    }
    struct series *s = xcalloc(1, sizeof(*s));
    s->fam = f;
    s->labels = xstrdup(labels);
    s->hash = h;
    if (f->type == METRICS_HISTOGRAM)
        s->buckets = xcalloc(f->nbounds + 1, sizeof(*s->buckets));
    metrics.v[metrics.n++] = s;
    size_t i = (size_t)h & (metrics.nslots - 1);
    while (metrics.slots[i] != NULL)
        i = (i + 1) & (metrics.nslots - 1);
    metrics.slots[i] = s;
    return s;
}

static void count_rejected(void)
{
    uint64_t h = hash_of(REJECTED_NAME, "");
    size_t slot;
    struct series *s = slot_find(REJECTED_NAME, "", h, &slot);
    if (s == NULL) {
        struct family *f = family_find(REJECTED_NAME);
        if (f == NULL)
            f = family_add(REJECTED_NAME, METRICS_COUNTER);
        s = series_add(f, "", h);
    }
    s->value += 1;
}

/* The series of (name, labels) of this type, created when missing and
 * allowed; NULL when refused (counted). */
static struct series *series_get(const char *name, const char *labels, enum metrics_type type)
{
    uint64_t h = hash_of(name, labels);
    size_t slot;
    struct series *s = slot_find(name, labels, h, &slot);
    if (s != NULL) {
        if (s->fam->type == type)
            return s;
        count_rejected();
        return NULL;
    }
    /* a new series: only now is the input checked (existing ones were) */
    struct family *f = family_find(name);
    if ((f != NULL && f->type != type) || (f == NULL && !metrics_name_valid(name))
        || !labels_valid_for(labels, type) || metrics.n >= METRICS_MAX_SERIES) {
        count_rejected();
        return NULL;
    }
    if (f == NULL)
        f = family_add(name, type);
    return series_add(f, labels, h);
}

/* ---- the public functions --------------------------------------------- */

int metrics_describe(const char *name, enum metrics_type type, const char *help,
                     const double *bounds, size_t nbounds, const char **error_r)
{
    if (!metrics_name_valid(name))
        return err_set(error_r, "metrics: invalid name '%s'", name ? name : "(null)");
    if (type != METRICS_COUNTER && type != METRICS_GAUGE && type != METRICS_HISTOGRAM)
        return err_set(error_r, "metrics: %s: unknown type", name);
    if (nbounds > METRICS_MAX_BUCKETS)
        return err_set(error_r, "metrics: %s: more than %d buckets", name, METRICS_MAX_BUCKETS);
    for (size_t i = 0; bounds && i < nbounds; i++)
        if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
            return err_set(error_r, "metrics: %s: bucket bounds must be finite and ascending", name);
    int ret = 0;
    pthread_mutex_lock(&metrics.lock);
    struct family *f = family_find(name);
    if (f != NULL && f->type != type) {
        ret = err_set(error_r, "metrics: %s is already a family of another type", name);
    } else if (f == NULL || f->help == NULL) {
        if (f == NULL)
            f = family_add(name, type);
        /* the bounds of a histogram that has no series yet may still change */
        bool has_series = false;
        for (size_t i = 0; type == METRICS_HISTOGRAM && i < metrics.n && !has_series; i++)
            has_series = metrics.v[i]->fam == f;
        if (type == METRICS_HISTOGRAM && !has_series && bounds != NULL && nbounds > 0) {
            free(f->bounds);
            family_set_bounds(f, bounds, nbounds);
        }
        f->help = xstrdup(help && help[0] ? help : name);
    }
    pthread_mutex_unlock(&metrics.lock);
    return ret;
}

static void update(const char *name, const char *labels, double value, enum metrics_type type,
                   bool add)
{
    if (name == NULL)
        return;
    if (labels == NULL)
        labels = "";
    pthread_mutex_lock(&metrics.lock);
    struct series *s = series_get(name, labels, type);
    if (s != NULL) {
        if (type == METRICS_COUNTER) {
            if (value > 0)
                s->value += value;
        } else if (type == METRICS_GAUGE) {
            s->value = add ? s->value + value : value;
        } else if (!isnan(value)) {
            size_t b = 0;
            while (b < s->fam->nbounds && value > s->fam->bounds[b])
                b++;
            s->buckets[b]++;
            s->count++;
            s->sum += value;
        }
    }
    pthread_mutex_unlock(&metrics.lock);
}

void metrics_counter_add(const char *name, const char *labels, double value)
{
    update(name, labels, value, METRICS_COUNTER, true);
}

void metrics_gauge_set(const char *name, const char *labels, double value)
{
    update(name, labels, value, METRICS_GAUGE, false);
}

void metrics_gauge_add(const char *name, const char *labels, double delta)
{
    update(name, labels, delta, METRICS_GAUGE, true);
}

void metrics_observe(const char *name, const char *labels, double value)
{
    update(name, labels, value, METRICS_HISTOGRAM, true);
}

double metrics_get(const char *name, const char *labels)
{
    double v = 0;
    size_t slot;
    if (name == NULL)
        return 0;
    if (labels == NULL)
        labels = "";
    pthread_mutex_lock(&metrics.lock);
    struct series *s = slot_find(name, labels, hash_of(name, labels), &slot);
    if (s != NULL)
        v = s->fam->type == METRICS_HISTOGRAM ? (double)s->count : s->value;
    pthread_mutex_unlock(&metrics.lock);
    return v;
}

int metrics_histogram_get(const char *name, const char *labels, unsigned long long *count_r,
                          double *sum_r)
{
    size_t slot;
    int found = 0;
    if (labels == NULL)
        labels = "";
    pthread_mutex_lock(&metrics.lock);
    struct series *s = name ? slot_find(name, labels, hash_of(name, labels), &slot) : NULL;
    if (s != NULL && s->fam->type == METRICS_HISTOGRAM) {
        *count_r = s->count;
        *sum_r = s->sum;
        found = 1;
    }
    pthread_mutex_unlock(&metrics.lock);
    return found;
}

/* ---- rendering -------------------------------------------------------- */

/* What rendering needs of one series, copied under the lock.  Families
 * and label strings live until metrics_reset(), so pointers suffice. */
struct snap {
    const struct family *fam;
    const char *labels;
    double value, sum;
    uint64_t count;
    uint64_t *buckets;       /* copied; NULL for counters and gauges */
};

static int snap_order(const void *a, const void *b)
{
    const struct snap *x = a, *y = b;
    int c = strcmp(x->fam->name, y->fam->name);
    return c ? c : strcmp(x->labels, y->labels);
}

static void add_help(struct strbuf *out, const struct family *f)
{
    const char *help = f->help ? f->help : "not described by the code that reports it";
    strbuf_addf(out, "# HELP %s ", f->name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            strbuf_adds(out, "\\\\");
        else if (*p == '\n')
            strbuf_adds(out, "\\n");
        else
            strbuf_addc(out, *p);
    }
    strbuf_addf(out, "\n# TYPE %s %s\n", f->name,
                f->type == METRICS_COUNTER ? "counter" : f->type == METRICS_GAUGE ? "gauge" : "histogram");
}

static void add_histogram(struct strbuf *out, const struct snap *s)
{
    const struct family *f = s->fam;
    const char *sep = s->labels[0] ? "," : "";
    char num[32], le[32];
    uint64_t cum = 0;
    for (size_t b = 0; b <= f->nbounds; b++) {
        cum += s->buckets[b];
        if (b < f->nbounds)
            metrics_format_value(le, f->bounds[b]);
        else
            strcpy(le, "+Inf");
        strbuf_addf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", f->name, s->labels, sep, le,
                    (unsigned long long)cum);
    }
    metrics_format_value(num, s->sum);
    if (s->labels[0]) {
        strbuf_addf(out, "%s_sum{%s} %s\n", f->name, s->labels, num);
        strbuf_addf(out, "%s_count{%s} %llu\n", f->name, s->labels, (unsigned long long)s->count);
    } else {
        strbuf_addf(out, "%s_sum %s\n", f->name, num);
        strbuf_addf(out, "%s_count %llu\n", f->name, (unsigned long long)s->count);
    }
}

void metrics_render(struct strbuf *out)
{
    pthread_mutex_lock(&metrics.lock);
    size_t n = metrics.n;
    struct snap *v = n ? xcalloc(n, sizeof(*v)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const struct series *s = metrics.v[i];
        v[i] = (struct snap){ s->fam, s->labels, s->value, s->sum, s->count, NULL };
        if (s->buckets != NULL) {
            size_t nb = s->fam->nbounds + 1;
            v[i].buckets = xcalloc(nb, sizeof(*v[i].buckets));
            memcpy(v[i].buckets, s->buckets, nb * sizeof(*s->buckets));
        }
    }
    pthread_mutex_unlock(&metrics.lock);

    if (n > 1)
        qsort(v, n, sizeof(*v), snap_order);
    const struct family *last = NULL;
    char num[32];
    for (size_t i = 0; i < n; i++) {
        const struct snap *s = &v[i];
        if (s->fam != last) {
            add_help(out, s->fam);
            last = s->fam;
        }
        if (s->fam->type == METRICS_HISTOGRAM) {
            add_histogram(out, s);
            free(s->buckets);
            continue;
        }
        metrics_format_value(num, s->value);
        if (s->labels[0])
            strbuf_addf(out, "%s{%s} %s\n", s->fam->name, s->labels, num);
        else
            strbuf_addf(out, "%s %s\n", s->fam->name, num);
    }
    free(v);
}

void metrics_reset(void)
{
    pthread_mutex_lock(&metrics.lock);
    for (size_t i = 0; i < metrics.n; i++) {
        free(metrics.v[i]->labels);
        free(metrics.v[i]->buckets);
        free(metrics.v[i]);
    }
    for (size_t i = 0; i < metrics.nfam; i++) {
        free(metrics.fam[i]->name);
        free(metrics.fam[i]->help);
        free(metrics.fam[i]->bounds);
        free(metrics.fam[i]);
    }
    free(metrics.v);
    free(metrics.slots);
    free(metrics.fam);
    metrics.v = NULL;
    metrics.slots = NULL;
    metrics.fam = NULL;
    metrics.n = metrics.cap = metrics.nslots = metrics.nfam = 0;
    pthread_mutex_unlock(&metrics.lock);
}
