/*
 * plugins/triage -- category, priority, sentiment and language of each
 * new ticket, with a confidence each.
 *
 * Local path (always there): admin rules first (keyword or sender domain
 * -> category, priority, queue), then the linear models of model.h trained
 * from labelled texts (a seed file, agents' labels and corrections) and
 * stored in triage_models; language by lang.h.  Every run is recorded in
 * triage_runs (inputs, method, result, time); the result in
 * triage_results, shown in the ticket's API answer (ticket_view) and
 * filterable in GET /api/v1/tickets (list_filters).  Per queue
 * (triage_settings): suggest only, or set category/priority above a
 * confidence; negative sentiment with high confidence raises the priority
 * and can notify a manager.  An agent's correction is stored as a label
 * and, once enough have arrived, a triage.train job retrains the models.
 *
 * Threads: the models are shared by the worker and web threads behind a
 * mutex-guarded, reference-counted set that is swapped whole when a newer
 * version appears in the database.
 */
#define _GNU_SOURCE 1   /* strcasestr */
#include <atum/plugin.h>

#include "../common/stem.h"
#include "../common/hostcall.h"
#include "../common/text.h"
#include "../common/tsv.h"
#include "lang.h"
#include "model.h"
#include "triage_llm.h"
#include "../common/llm.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NLABELS 3
static const char *const label_names[NLABELS] = { "category", "priority", "sentiment" };
/* what a ticket contributes: subject + the start of its first message
 * (what it is about is said early; the rest -- quoted threads, logs,
 * signatures -- costs time on the workers that also ingest mail) */
#define MAX_TEXT (8 * 1024)

extern const struct atum_migration triage_migrations[];

struct modelset {
    int refs;
    struct tmodel *m[NLABELS];
    int version[NLABELS];
};

struct triage {
    const struct atum_host *h;
    const struct atum_conf *conf;
    struct lang_guesser *lang;
    char default_lang[8];
    pthread_mutex_t lock;
    struct modelset *models;     /* guarded by lock */
    double checked_at;           /* last look for newer models (guarded by lock) */
    int refused[NLABELS];        /* the version of each label last refused (guarded by lock) */
    struct llm *llm;             /* the language model (llm.h), off when not configured */
};

struct triage_result {
    const char *label[NLABELS];  /* borrowed from the models, or NULL */
    double conf[NLABELS];
    char lang[8];
    double lang_conf;
};

/* ---- small helpers ------------------------------------------------------------ */

static char *hex_encode(const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 1);
    if (s == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        s[2 * i] = digits[b[i] >> 4];
        s[2 * i + 1] = digits[b[i] & 15];
    }
    s[2 * n] = '\0';
    return s;
}

static unsigned char *hex_decode(const char *s, size_t *n_r)
{
    size_t n = strlen(s) / 2;
    unsigned char *b = malloc(n ? n : 1);
    if (b == NULL)
        abort();
    for (size_t i = 0; i < n; i++) {
        int hi = s[2 * i], lo = s[2 * i + 1];
        hi = hi <= '9' ? hi - '0' : (hi | 32) - 'a' + 10;
        lo = lo <= '9' ? lo - '0' : (lo | 32) - 'a' + 10;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    *n_r = n;
    return b;
}

/* ---- the model set ---------------------------------------------------------------- */

static void modelset_put(struct triage *t, struct modelset *ms)
{
    if (ms == NULL)
        return;
    pthread_mutex_lock(&t->lock);
    int left = --ms->refs;
    pthread_mutex_unlock(&t->lock);
    if (left == 0) {
        for (int i = 0; i < NLABELS; i++)
            tmodel_free(&ms->m[i]);
        free(ms);
    }
}

/* The current models, refreshed from the database when a newer version
 * exists (looked up at most every 10 s, or always when force). */
static struct modelset *modelset_get(struct triage *t, struct atum_db *db, int force)
{
    const struct atum_host *h = t->h;
    double now = h->now();
    pthread_mutex_lock(&t->lock);
    int look = force || t->models == NULL || now - t->checked_at > 10;
    if (look)
        t->checked_at = now;
    struct modelset *cur = t->models;
    if (cur)
        cur->refs++;
    pthread_mutex_unlock(&t->lock);
    if (!look || db == NULL)
        return cur;

    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(db, "SELECT label, max(version) FROM triage_models GROUP BY label", 0, NULL, &r, &e) < 0) {
        h->log(ATUM_LOG_WARN, "triage: models not readable: %s", e);
        return cur;
    }
    int want[NLABELS] = { 0, 0, 0 }, changed = 0;
    for (int i = 0; i < h->rows_count(r); i++)
        for (int k = 0; k < NLABELS; k++)
            if (strcmp(plug_cell(h, r, i, 0), label_names[k]) == 0)
                want[k] = atoi(plug_cell(h, r, i, 1));
    h->rows_free(&r);
    pthread_mutex_lock(&t->lock);
    for (int k = 0; k < NLABELS; k++)      /* a version refused once is not read again */
        changed |= want[k] != (cur ? cur->version[k] : 0) && want[k] != t->refused[k];
    pthread_mutex_unlock(&t->lock);
    if (!changed)
        return cur;
    struct modelset *ms = calloc(1, sizeof(*ms));
    if (ms == NULL)
        abort();
    ms->refs = 1;
    for (int k = 0; k < NLABELS; k++) {
        if (want[k] == 0)
            continue;
        if (cur && cur->version[k] == want[k]) {
            /* unchanged: load it again rather than share (models are freed per set) */
        }
        char ver[16];
        snprintf(ver, sizeof(ver), "%d", want[k]);
        const char *p[] = { label_names[k], ver };
        if (h->sql(db, "SELECT encode(model, 'hex') FROM triage_models WHERE label = $1 AND version = $2",
                   2, p, &r, &e) < 0 || h->rows_count(r) != 1) {
            h->log(ATUM_LOG_WARN, "triage: model %s v%d not readable: %s", label_names[k], want[k],
                   e ? e : "gone");
            h->rows_free(&r);
            continue;
        }
        size_t n;
        unsigned char *blob = hex_decode(plug_cell(h, r, 0, 0), &n);
        h->rows_free(&r);
        ms->m[k] = tmodel_load(blob, n, &e);
        free(blob);
        if (ms->m[k] == NULL) {
            /* an older format or a damaged blob: trained again from the
             * labels in the database (the seed and agents' corrections),
             * once per refused version; until then the label stays empty */
            struct atum_job_spec spec = { .kind = "triage.train", .unique_key = "triage-train" };
            const char *qe = NULL;
            int queued = h->enqueue(db, &spec, NULL, &qe) == 0;
            h->log(ATUM_LOG_ERROR, "triage: model %s v%d refused: %s; %s", label_names[k], want[k], e,
                   queued ? "retraining it (triage.train)" : "retrain it (atumctl triage retrain)");
            pthread_mutex_lock(&t->lock);
            t->refused[k] = want[k];
            pthread_mutex_unlock(&t->lock);
            continue;
        }
        ms->version[k] = want[k];
    }
    ms->refs++;                  /* the caller's reference */
    pthread_mutex_lock(&t->lock);
    struct modelset *old = t->models;
    t->models = ms;
    pthread_mutex_unlock(&t->lock);
    modelset_put(t, old);        /* the state's reference to the old set */
    modelset_put(t, cur);        /* ours */
    return ms;
}

/* ---- classifying a text --------------------------------------------------------- */

static void classify(struct triage *t, const struct modelset *ms, const char *text, size_t len,
                     const char *fallback_lang, struct triage_result *out)
{
    memset(out, 0, sizeof(*out));
    if (len > MAX_TEXT)
        len = MAX_TEXT;
    lang_guess(t->lang, text, len, fallback_lang ? fallback_lang : t->default_lang, out->lang, &out->lang_conf);
    struct stemmer_set *st = stemmer_set_new();
    struct tdoc d;
    tdoc_build(&d, text, len, out->lang, st);
    for (int k = 0; ms && k < NLABELS; k++)
        if (ms->m[k])
            out->label[k] = tmodel_predict(ms->m[k], &d, &out->conf[k], NULL);
    /* a text with nothing the models know says little: never confident */
    if (d.n == 0)
        for (int k = 0; k < NLABELS; k++)
            out->conf[k] = out->conf[k] > 0.34 ? 0.34 : out->conf[k];
    tdoc_free(&d);
    stemmer_set_free(&st);
}

/* ---- training ------------------------------------------------------------------------ */

struct labelled { char **text, **lab[NLABELS]; size_t n; };

static void labelled_free(struct labelled *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->text[i]);
        for (int k = 0; k < NLABELS; k++)
            free(l->lab[k][i]);
    }
    free(l->text);
    for (int k = 0; k < NLABELS; k++)
        free(l->lab[k]);
    memset(l, 0, sizeof(*l));
}

/* Trains every label that has data and stores the models as new versions.
 * verbose: a line per label on stdout (atumctl). */
static int train_all(struct triage *t, struct atum_db *db, int verbose, const char **error_r)
{
    const struct atum_host *h = t->h;
    struct atum_rows *r = NULL;
    if (h->sql(db, "SELECT text, coalesce(category, ''), coalesce(priority, ''), coalesce(sentiment, '')"
                   " FROM triage_labels ORDER BY id", 0, NULL, &r, error_r) < 0)
        return -1;
    struct labelled l = { 0 };
    l.n = (size_t)h->rows_count(r);
    l.text = calloc(l.n + 1, sizeof(char *));
    for (int k = 0; k < NLABELS; k++)
        l.lab[k] = calloc(l.n + 1, sizeof(char *));
    for (size_t i = 0; i < l.n; i++) {
        l.text[i] = strdup(plug_cell(h, r, (int)i, 0));
        for (int k = 0; k < NLABELS; k++)
            l.lab[k][i] = strdup(plug_cell(h, r, (int)i, k + 1));
    }
    h->rows_free(&r);
    struct stemmer_set *st = stemmer_set_new();
    struct tdoc *docs = calloc(l.n + 1, sizeof(struct tdoc));
    for (size_t i = 0; i < l.n; i++) {
        char lang[8];
        double lc;
        size_t len = strlen(l.text[i]);
        if (len > MAX_TEXT)
            len = MAX_TEXT;
        lang_guess(t->lang, l.text[i], len, t->default_lang, lang, &lc);
        tdoc_build(&docs[i], l.text[i], len, lang, st);
    }
    stemmer_set_free(&st);
    int trained = 0, rc = 0;
    for (int k = 0; k < NLABELS; k++) {
        size_t have = 0;
        for (size_t i = 0; i < l.n; i++)
            have += l.lab[k][i][0] != '\0';
        if (have == 0)
            continue;
        double t0 = plug_mono_ms();
        struct tmodel_opts o = { .lexicon = k == 2, .wordvec = k == 2, .C = 0 };
        const char *e = NULL;
        struct tmodel *m = tmodel_train(docs, (const char *const *)l.lab[k], l.n, &o, &e);
        if (m == NULL) {
            h->log(ATUM_LOG_WARN, "triage: %s not trained: %s", label_names[k], e);
            if (verbose)
                printf("%s: not trained: %s\n", label_names[k], e);
            continue;
        }
        size_t blen;
        unsigned char *blob = tmodel_save(m, &blen);
        char *hex = hex_encode(blob, blen);
        free(blob);
        json_t *classes = json_array();
        for (int c = 0; c < tmodel_nclasses(m); c++)
            json_array_append_new(classes, json_string(tmodel_label(m, c)));
        char *cls = json_dumps(classes, JSON_COMPACT);
        json_decref(classes);
        char rows[24], params[160];
        snprintf(rows, sizeof(rows), "%zu", have);
        snprintf(params, sizeof(params), "{\"C\": %g, \"class_weights\": \"%s\", \"features\": %zu, \"lexicon\": %s}",
                 tmodel_C(m), tmodel_balanced(m) == 2 ? "balanced" : tmodel_balanced(m) ? "sqrt" : "none",
                 tmodel_nfeatures(m),
                 k == 2 ? "true" : "false");
        const char *p[] = { label_names[k], rows, cls, params, hex };
        if (h->sql(db, "INSERT INTO triage_models (label, version, rows, classes, params, model)"
                       " SELECT $1, coalesce(max(version), 0) + 1, $2::int,"
                       "        ARRAY(SELECT json_array_elements_text($3::json)), $4::jsonb, decode($5, 'hex')"
                       "   FROM triage_models WHERE label = $1", 5, p, NULL, error_r) < 0)
            rc = -1;
        else
            trained++;
        if (verbose && rc == 0)
            printf("%s: %zu rows, %d classes, C=%g%s, %zu features, trained in %.1f s\n", label_names[k], have,
                   tmodel_nclasses(m), tmodel_C(m),
                   tmodel_balanced(m) == 2 ? " (balanced)" : tmodel_balanced(m) ? " (half balanced)" : "",
                   tmodel_nfeatures(m), (plug_mono_ms() - t0) / 1000.0);
        h->log(ATUM_LOG_INFO, "triage: %s model trained on %zu rows", label_names[k], have);
        free(cls);
        free(hex);
        tmodel_free(&m);
        if (rc < 0)
            break;
    }
    for (size_t i = 0; i < l.n; i++)
        tdoc_free(&docs[i]);
    free(docs);
    labelled_free(&l);
    if (rc == 0 && trained == 0) {
        *error_r = "no label had enough data to train (two classes at least)";
        return -1;
    }
    return rc;
}

/* ---- triage of one ticket ----------------------------------------------------------- */

struct queue_settings {
    int enabled, auto_apply, escalate, llm;
    double threshold, negative_threshold;
    char notify[256], language[8];
};

static void settings_for(struct triage *t, struct atum_db *db, const char *queue_id, struct queue_settings *s)
{
    const struct atum_host *h = t->h;
    const char *mode = h->conf_get(t->conf, "mode");
    s->enabled = 1;
    s->llm = 1;
    s->auto_apply = mode && strcmp(mode, "auto") == 0;
    s->threshold = h->conf_get_int(t->conf, "threshold_percent", 80) / 100.0;
    s->escalate = h->conf_get_int(t->conf, "escalate_negative", 1) != 0;
    s->negative_threshold = h->conf_get_int(t->conf, "negative_threshold_percent", 85) / 100.0;
    const char *notify = h->conf_get(t->conf, "notify");
    snprintf(s->notify, sizeof(s->notify), "%s", notify ? notify : "");
    snprintf(s->language, sizeof(s->language), "%s", t->default_lang);
    struct atum_rows *r = NULL;
    const char *e = NULL;
    const char *p[] = { queue_id };
    if (h->sql(db, "SELECT enabled, mode, threshold, escalate_negative, negative_threshold,"
                   " coalesce(notify, ''), coalesce(language, ''), llm FROM triage_settings WHERE queue_id = $1",
               1, p, &r, &e) == 0 && h->rows_count(r) == 1) {
        s->enabled = strcmp(plug_cell(h, r, 0, 0), "t") == 0;
        s->auto_apply = strcmp(plug_cell(h, r, 0, 1), "auto") == 0;
        s->threshold = atof(plug_cell(h, r, 0, 2));
        s->escalate = strcmp(plug_cell(h, r, 0, 3), "t") == 0;
        s->negative_threshold = atof(plug_cell(h, r, 0, 4));
        snprintf(s->notify, sizeof(s->notify), "%s", plug_cell(h, r, 0, 5));
        if (plug_cell(h, r, 0, 6)[0])
            snprintf(s->language, sizeof(s->language), "%s", plug_cell(h, r, 0, 6));
        s->llm = strcmp(plug_cell(h, r, 0, 7), "f") != 0;
    }
    h->rows_free(&r);
}

struct rule_hit { char id[24], category[128], priority[16], queue_id[24], why[300]; };

/* The first admin rule that matches (keyword in the text, sender's domain). */
static int match_rules(struct triage *t, struct atum_db *db, const char *text, const char *from,
                       struct rule_hit *hit)
{
    const struct atum_host *h = t->h;
    struct atum_rows *r = NULL;
    const char *e = NULL;
    memset(hit, 0, sizeof(*hit));
    if (h->sql(db, "SELECT id, kind, pattern, coalesce(category, ''), coalesce(priority, ''),"
                   " coalesce(queue_id::text, '') FROM triage_rules ORDER BY id", 0, NULL, &r, &e) < 0)
        return 0;
    const char *at = from ? strrchr(from, '@') : NULL;
    int found = 0;
    for (int i = 0; i < h->rows_count(r) && !found; i++) {
        const char *kind = plug_cell(h, r, i, 1), *pat = plug_cell(h, r, i, 2);
        if (strcmp(kind, "keyword") == 0)
            found = strcasestr(text, pat) != NULL;
        else if (at != NULL)
            found = strcasecmp(at + 1, pat) == 0
                || (strlen(at + 1) > strlen(pat) && strcasecmp(at + 1 + strlen(at + 1) - strlen(pat), pat) == 0
                    && at[strlen(at + 1) - strlen(pat)] == '.');
        if (found) {
            snprintf(hit->id, sizeof(hit->id), "%s", plug_cell(h, r, i, 0));
            snprintf(hit->category, sizeof(hit->category), "%s", plug_cell(h, r, i, 3));
            snprintf(hit->priority, sizeof(hit->priority), "%s", plug_cell(h, r, i, 4));
            snprintf(hit->queue_id, sizeof(hit->queue_id), "%s", plug_cell(h, r, i, 5));
            snprintf(hit->why, sizeof(hit->why), "rule %s: %s '%s'", hit->id, kind, pat);
        }
    }
    h->rows_free(&r);
    return found;
}

/* The ticket priority a predicted label stands for (the tickets' own
 * scale: low, normal, high, urgent), or NULL. */
static const char *ticket_priority(const char *label)
{
    static const char *const same[] = { "low", "normal", "high", "urgent", NULL };
    if (label == NULL)
        return NULL;
    for (int i = 0; same[i]; i++)
        if (strcasecmp(label, same[i]) == 0)
            return same[i];
    if (strcasecmp(label, "medium") == 0)
        return "normal";
    if (strcasecmp(label, "critical") == 0)
        return "urgent";
    return NULL;
}

static const char *raise_priority(const char *p)
{
    if (p == NULL || strcmp(p, "low") == 0 || strcmp(p, "normal") == 0)
        return "high";
    return "urgent";
}

/* The categories a language model may answer: the configured list
 * (categories = a, b, c), else the classes of the category model; NULL
 * when there are none (the model is then not asked for a category).
 * Free with categories_free(). */
static char **categories_for(struct triage *t, const struct modelset *ms)
{
    const char *conf = t->h->conf_get(t->conf, "categories");
    char **v = NULL;
    size_t n = 0;
    if (conf && conf[0]) {
        v = calloc(TRIAGE_LLM_MAX_CATEGORIES + 1, sizeof(char *));
        if (v == NULL)
            abort();
        const char *p = conf;
        while (*p && n < TRIAGE_LLM_MAX_CATEGORIES) {
            while (*p == ' ' || *p == ',')
                p++;
            const char *b = p;
            while (*p && *p != ',')
                p++;
            const char *e = p;
            while (e > b && e[-1] == ' ')
                e--;
            if (e > b)
                v[n++] = strndup(b, (size_t)(e - b));
        }
    } else if (ms && ms->m[0]) {
        int k = tmodel_nclasses(ms->m[0]);
        v = calloc((size_t)k + 1, sizeof(char *));
        if (v == NULL)
            abort();
        for (int i = 0; i < k && n < TRIAGE_LLM_MAX_CATEGORIES; i++)
            v[n++] = strdup(tmodel_label(ms->m[0], i));
    }
    if (v && n == 0) {
        free(v);
        v = NULL;
    }
    return v;
}

static void categories_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* What a run was given: enough to replay it. */
static json_t *run_input(long long ticket_id, const char *text, const char *from, const char *lang,
                         const struct modelset *ms, char **cats)
{
    json_t *c = json_array();
    for (size_t i = 0; cats && cats[i]; i++)
        json_array_append_new(c, json_string(cats[i]));
    json_t *v = json_pack("{s:I, s:s, s:s, s:s, s:{s:i, s:i, s:i}, s:o}", "ticket_id", (json_int_t)ticket_id,
                          "text", "", "from", from, "queue_language", lang, "model_versions",
                          "category", ms ? ms->version[0] : 0, "priority", ms ? ms->version[1] : 0,
                          "sentiment", ms ? ms->version[2] : 0, "categories", c);
    /* text from mail is valid UTF-8 (mail-in's promise); anything else is
     * kept as far as jansson takes it, never failing the run */
    json_t *ts = json_stringn(text, strlen(text));
    json_object_set_new(v, "text", ts ? ts : json_string("(text not valid UTF-8)"));
    return v;
}

/* One row of triage_runs: the trace.  call: the language model's call
 * (its raw answer, outcome, error, usage) or NULL for a local run. */
static int run_insert(struct triage *t, struct atum_db *db, const char *ticket_id, const char *method,
                      json_t *input, const struct llm_call *call, json_t *result, double elapsed_ms,
                      const char *replay_of, char run_id[24], const char **e)
{
    const struct atum_host *h = t->h;
    char *in_s = json_dumps(input, JSON_COMPACT), *res_s = result ? json_dumps(result, JSON_COMPACT) : NULL;
    char *use_s = call && call->usage ? json_dumps(call->usage, JSON_COMPACT) : NULL;
    char el[32];
    snprintf(el, sizeof(el), "%.3f", elapsed_ms);
    const char *p[] = { ticket_id, method, in_s, call ? call->raw : NULL, res_s,
                        call && call->outcome != LLM_OK ? call->error : NULL, el,
                        call ? llm_outcome_name(call->outcome) : "ok", replay_of, use_s };
    struct atum_rows *r = NULL;
    int rc = h->sql(db, "INSERT INTO triage_runs (ticket_id, method, input, raw, result, error, elapsed_ms,"
                        " outcome, replay_of, usage)"
                        " VALUES ($1::bigint, $2, $3::jsonb, $4, $5::jsonb, $6, $7::real, $8, $9::bigint, $10::jsonb)"
                        " RETURNING id", 10, p, &r, e);
    if (rc == 0)
        snprintf(run_id, 24, "%s", plug_cell(h, r, 0, 0));
    h->rows_free(&r);
    free(in_s);
    free(res_s);
    free(use_s);
    return rc;
}

static int triage_ticket(struct triage *t, struct atum_job *job, long long ticket_id)
{
    const struct atum_host *h = t->h;
    struct atum_db *db = job->db;
    const char *e = NULL;
    char tid[24];
    snprintf(tid, sizeof(tid), "%lld", ticket_id);
    const char *p1[] = { tid };
    struct atum_rows *r = NULL;
    if (h->sql(db, "SELECT t.subject, coalesce((SELECT left(m.body_text, 8192) FROM messages m"
                   "  WHERE m.ticket_id = t.id ORDER BY m.created_at, m.id LIMIT 1), ''),"
                   " t.queue_id, coalesce((SELECT m.from_addr FROM messages m WHERE m.ticket_id = t.id"
                   "  ORDER BY m.created_at, m.id LIMIT 1), ''), t.priority"
                   " FROM tickets t WHERE t.id = $1", 1, p1, &r, &e) < 0)
        return h->job_error(job, "reading ticket %lld: %s", ticket_id, e);
    if (h->rows_count(r) != 1) {
        h->rows_free(&r);
        return ATUM_JOB_DONE;            /* gone (merged, deleted): nothing to triage */
    }
    size_t sl = strlen(plug_cell(h, r, 0, 0)), bl = strlen(plug_cell(h, r, 0, 1));
    char *text = malloc(sl + bl + 3);
    if (text == NULL)
        abort();
    snprintf(text, sl + bl + 3, "%s\n\n%s", plug_cell(h, r, 0, 0), plug_cell(h, r, 0, 1));
    char queue_id[24], from[320], prio_now[16];
    snprintf(queue_id, sizeof(queue_id), "%s", plug_cell(h, r, 0, 2));
    snprintf(from, sizeof(from), "%s", plug_cell(h, r, 0, 3));
    snprintf(prio_now, sizeof(prio_now), "%s", plug_cell(h, r, 0, 4));
    h->rows_free(&r);

    struct queue_settings qs;
    settings_for(t, db, queue_id, &qs);
    if (!qs.enabled) {
        free(text);
        return ATUM_JOB_DONE;
    }
    double t0 = plug_mono_ms();
    struct modelset *ms = modelset_get(t, db, 0);
    struct triage_result res;
    classify(t, ms, text, strlen(text), qs.language, &res);
    struct rule_hit rule;
    int ruled = match_rules(t, db, text, from, &rule);
    double local_ms = plug_mono_ms() - t0;
    const char *category = res.label[0], *priority = res.label[1], *sentiment = res.label[2];
    double ccat = res.conf[0], cprio = res.conf[1], csent = res.conf[2];
    char method[160], reason[700];
    snprintf(method, sizeof(method), "%s", ruled ? "rule" : "local");
    snprintf(reason, sizeof(reason), "local models (category v%d, priority v%d, sentiment v%d)",
             ms ? ms->version[0] : 0, ms ? ms->version[1] : 0, ms ? ms->version[2] : 0);

    /* the language model, when configured and on for the queue: asked
     * outside any transaction, its answer (or why it was discarded) traced */
    char **cats = categories_for(t, ms);
    json_t *input = run_input(ticket_id, text, from, qs.language, ms, cats);
    struct llm_call call = { 0 };
    struct triage_llm_answer ans;
    int asked = 0, llm_ok = 0;
    if (qs.llm && llm_chat_enabled(t->llm)) {
        asked = 1;
        llm_ok = triage_llm_ask(t->llm, job, text, (const char *const *)cats, &ans, &call) == 0;
    }
    if (llm_ok) {
        snprintf(method, sizeof(method), "%s", llm_method(t->llm));
        if (ans.has_category) {
            category = ans.category;
            ccat = ans.category_conf;
        }
        priority = ans.priority;
        cprio = ans.priority_conf;
        sentiment = ans.sentiment;
        csent = ans.sentiment_conf;
        snprintf(reason, sizeof(reason), "%s: %s", llm_method(t->llm), ans.reason);
    } else if (asked) {
        size_t l = strlen(reason);
        snprintf(reason + l, sizeof(reason) - l, "; the language model's answer was discarded (%s: %s)",
                 llm_outcome_name(call.outcome), call.error);
    }
    if (ruled && rule.category[0]) {
        category = rule.category;
        ccat = 1.0;
    }
    if (ruled && rule.priority[0]) {
        priority = rule.priority;
        cprio = 1.0;
    }
    if (ruled) {
        char why[sizeof(reason)];
        snprintf(why, sizeof(why), "%s; %s", rule.why, reason);
        memcpy(reason, why, sizeof(reason));
        snprintf(method, sizeof(method), "rule");
    }
    free(text);

    json_t *result = json_pack("{s:s?, s:f, s:s?, s:f, s:s?, s:f, s:s, s:f, s:s}",
                               "category", category, "category_confidence", ccat,
                               "priority", priority, "priority_confidence", cprio,
                               "sentiment", sentiment, "sentiment_confidence", csent,
                               "language", res.lang, "language_confidence", res.lang_conf,
                               "reason", reason);

    /* actions */
    json_t *applied = json_object();
    struct atum_ticket_change ch = { 0 };
    char note[900] = "";
    if (qs.auto_apply) {
        if (category && ccat >= qs.threshold) {
            ch.category = category;
            json_object_set_new(applied, "category", json_string(category));
        }
        const char *tp = ticket_priority(priority);
        if (tp && cprio >= qs.threshold && strcmp(tp, prio_now) != 0) {
            ch.priority = tp;
            json_object_set_new(applied, "priority", json_string(tp));
        }
        if (ruled && rule.queue_id[0]) {
            ch.queue_id = atoll(rule.queue_id);
            json_object_set_new(applied, "queue_id", json_integer(ch.queue_id));
        }
    }
    int negative = sentiment && strcmp(sentiment, "negative") == 0 && csent >= qs.negative_threshold;
    if (negative && qs.escalate) {
        const char *base = ch.priority ? ch.priority : prio_now;
        if (strcmp(base, "urgent") != 0) {
            ch.priority = raise_priority(base);
            json_object_set_new(applied, "priority", json_string(ch.priority));
            json_object_set_new(applied, "escalated", json_true());
        }
    }
    if (ch.category || ch.priority || ch.queue_id)
        snprintf(note, sizeof(note), "Triage (%s): %s%s%s%s%s. %s", method,
                 ch.category ? "category " : "", ch.category ? ch.category : "",
                 ch.priority ? (ch.category ? ", priority " : "priority ") : "", ch.priority ? ch.priority : "",
                 negative && qs.escalate ? " (negative sentiment)" : "", reason);
    ch.note = note[0] ? note : NULL;

    char *app_s = json_dumps(applied, JSON_COMPACT);
    char c0[32], c1[32], c2[32], c3[32], run_id[24] = "", llm_run[24] = "";
    snprintf(c0, sizeof(c0), "%.4f", ccat);
    snprintf(c1, sizeof(c1), "%.4f", cprio);
    snprintf(c2, sizeof(c2), "%.4f", csent);
    snprintf(c3, sizeof(c3), "%.4f", res.lang_conf);
    int rc = ATUM_JOB_DONE;
    if (h->tx_begin(db, &e) < 0) {
        rc = h->job_error(job, "%s", e);
        goto out;
    }
    /* a triage lost in a crash is made again (the job runs again): the
     * commit need not wait for its fsync, which the ingest path needs */
    if (h->sql(db, "SET LOCAL synchronous_commit = off", 0, NULL, NULL, &e) < 0)
        goto fail;
    if (asked) {
        json_t *lr = llm_ok ? triage_llm_answer_json(&ans) : NULL;
        int k = run_insert(t, db, tid, llm_method(t->llm), input, &call, lr, call.elapsed_ms, NULL, llm_run, &e);
        json_decref(lr);
        if (k < 0)
            goto fail;
    }
    if (llm_ok)
        snprintf(run_id, sizeof(run_id), "%s", llm_run);
    else if (run_insert(t, db, tid, ruled ? "rule" : "local", input, NULL, result, local_ms, NULL, run_id, &e) < 0)
        goto fail;
    const char *pv[] = { tid, category, c0, priority, c1, sentiment, c2, res.lang, c3, method, reason,
                         app_s, run_id };
    if (h->sql(db, "INSERT INTO triage_results (ticket_id, category, category_conf, priority, priority_conf,"
                   " sentiment, sentiment_conf, language, language_conf, method, reason, applied, run_id)"
                   " VALUES ($1, $2, $3::real, $4, $5::real, $6, $7::real, $8, $9::real, $10, $11, $12::jsonb, $13)"
                   " ON CONFLICT (ticket_id) DO UPDATE SET category = EXCLUDED.category,"
                   " category_conf = EXCLUDED.category_conf, priority = EXCLUDED.priority,"
                   " priority_conf = EXCLUDED.priority_conf, sentiment = EXCLUDED.sentiment,"
                   " sentiment_conf = EXCLUDED.sentiment_conf, language = EXCLUDED.language,"
                   " language_conf = EXCLUDED.language_conf, method = EXCLUDED.method,"
                   " reason = EXCLUDED.reason, applied = EXCLUDED.applied, run_id = EXCLUDED.run_id,"
                   " updated_at = now()", 13, pv, NULL, &e) < 0)
        goto fail;
    if ((ch.category || ch.priority || ch.queue_id) && h->ticket_update(db, ticket_id, &ch, &e) < 0)
        h->log(ATUM_LOG_WARN, "triage: ticket %lld not changed: %s", ticket_id, e);
    if (negative && qs.notify[0]) {
        char title[200], body[900];
        snprintf(title, sizeof(title), "Negative ticket #%lld", ticket_id);
        snprintf(body, sizeof(body), "Ticket #%lld reads as negative (confidence %.2f). %s", ticket_id,
                 csent, reason);
        if (h->mail_notice(db, ticket_id, qs.notify, title, body, &e) < 0)
            h->log(ATUM_LOG_WARN, "triage: no notice for ticket %lld: %s", ticket_id, e);
    }
    if (h->job_complete_in_tx(job, &e) < 0 || h->tx_commit(db, &e) < 0)
        goto fail;
    h->counter_add("atum_triage_runs_total", llm_ok ? "method=\"llm\"" : ruled ? "method=\"rule\"" : "method=\"local\"", 1);
    goto out;
fail:
    h->tx_rollback(db);
    rc = h->job_error(job, "storing the triage of ticket %lld: %s", ticket_id, e);
out:
    free(app_s);
    json_decref(input);
    json_decref(result);
    json_decref(applied);
    llm_call_clear(&call);
    categories_free(cats);
    modelset_put(t, ms);
    return rc;
}

static long long payload_ticket(const char *payload)
{
    json_t *v = json_loads(payload ? payload : "{}", 0, NULL);
    json_t *d = json_object_get(v, "data");
    json_t *id = json_object_get(d ? d : v, "ticket_id");
    long long r = json_is_integer(id) ? (long long)json_integer_value(id) : 0;
    json_decref(v);
    return r;
}

static int job_classify(void *state, struct atum_job *job)
{
    long long id = payload_ticket(job->payload);
    if (id <= 0)
        return ATUM_JOB_PERMANENT;
    return triage_ticket(state, job, id);
}

static int job_train(void *state, struct atum_job *job)
{
    struct triage *t = state;
    const char *e = NULL;
    t->h->job_extend_lease(job, 600, &e);
    if (train_all(t, job->db, 0, &e) < 0)
        return t->h->job_error(job, "training: %s", e);
    struct modelset *ms = modelset_get(t, job->db, 1);
    modelset_put(t, ms);
    return ATUM_JOB_DONE;
}


/* ---- replay ------------------------------------------------------------------------------ */

/* Runs a recorded run again with what it was given (its input) and the
 * method it used -- the language model as now configured, or the current
 * local models and rules -- and records the new run with replay_of; the
 * ticket and its triage are left alone.  job: NULL from atumctl. */
static int replay_run(struct triage *t, struct atum_db *db, struct atum_job *job, long long run_id,
                      char new_id[24], json_t **result_r, const char **error_r)
{
    const struct atum_host *h = t->h;
    static __thread char err[300];
    char rid[24];
    snprintf(rid, sizeof(rid), "%lld", run_id);
    const char *p[] = { rid };
    struct atum_rows *r = NULL;
    *result_r = NULL;
    if (h->sql(db, "SELECT method, input::text, coalesce(ticket_id::text, '') FROM triage_runs WHERE id = $1",
               1, p, &r, error_r) < 0)
        return -1;
    if (h->rows_count(r) != 1) {
        h->rows_free(&r);
        snprintf(err, sizeof(err), "no run %lld", run_id);
        *error_r = err;
        return -1;
    }
    char method[160], tid[24];
    snprintf(method, sizeof(method), "%s", plug_cell(h, r, 0, 0));
    snprintf(tid, sizeof(tid), "%s", plug_cell(h, r, 0, 2));
    json_t *input = json_loads(plug_cell(h, r, 0, 1), 0, NULL);
    h->rows_free(&r);
    if (input == NULL) {
        *error_r = "the run's input does not parse";
        return -1;
    }
    const char *text = json_string_value(json_object_get(input, "text"));
    const char *lang = json_string_value(json_object_get(input, "queue_language"));
    const char *from = json_string_value(json_object_get(input, "from"));
    json_object_set_new(input, "replay_of", json_integer(run_id));
    double t0 = plug_mono_ms();
    struct llm_call call = { 0 };
    json_t *result = NULL;
    int rc = 0;
    if (strncmp(method, "llm:", 4) == 0) {
        struct triage_llm_answer ans;
        if (triage_llm_ask_input(t->llm, job, input, &ans, &call) == 0)
            result = triage_llm_answer_json(&ans);
        snprintf(method, sizeof(method), "%s", llm_method(t->llm));
    } else {
        struct modelset *ms = modelset_get(t, db, 0);
        struct triage_result res;
        classify(t, ms, text ? text : "", text ? strlen(text) : 0, lang, &res);
        struct rule_hit rule;
        int ruled = match_rules(t, db, text ? text : "", from, &rule);
        result = json_pack("{s:s?, s:f, s:s?, s:f, s:s?, s:f, s:s, s:f, s:s?, s:{s:i, s:i, s:i}}",
                           "category", ruled && rule.category[0] ? rule.category : res.label[0],
                           "category_confidence", ruled && rule.category[0] ? 1.0 : res.conf[0],
                           "priority", ruled && rule.priority[0] ? rule.priority : res.label[1],
                           "priority_confidence", ruled && rule.priority[0] ? 1.0 : res.conf[1],
                           "sentiment", res.label[2], "sentiment_confidence", res.conf[2],
                           "language", res.lang, "language_confidence", res.lang_conf,
                           "rule", ruled ? rule.why : NULL, "model_versions",
                           "category", ms ? ms->version[0] : 0, "priority", ms ? ms->version[1] : 0,
                           "sentiment", ms ? ms->version[2] : 0);
        snprintf(method, sizeof(method), "%s", ruled ? "rule" : "local");
        modelset_put(t, ms);
    }
    double took = plug_mono_ms() - t0;
    if (h->tx_begin(db, error_r) < 0) {
        rc = -1;
        goto out;
    }
    if (run_insert(t, db, tid[0] ? tid : NULL, method, input, strncmp(method, "llm:", 4) == 0 ? &call : NULL,
                   result, took, rid, new_id, error_r) < 0
        || (job != NULL && h->job_complete_in_tx(job, error_r) < 0) || h->tx_commit(db, error_r) < 0) {
        h->tx_rollback(db);
        rc = -1;
        goto out;
    }
    if (result == NULL) {
        result = json_pack("{s:s, s:s}", "outcome", llm_outcome_name(call.outcome), "error", call.error);
    }
    *result_r = result;
    result = NULL;
out:
    json_decref(result);
    json_decref(input);
    llm_call_clear(&call);
    return rc;
}

static int job_replay(void *state, struct atum_job *job)
{
    struct triage *t = state;
    json_t *v = json_loads(job->payload ? job->payload : "{}", 0, NULL);
    json_t *id = json_object_get(v, "run_id");
    long long run = json_is_integer(id) ? (long long)json_integer_value(id) : 0;
    json_decref(v);
    if (run <= 0)
        return ATUM_JOB_PERMANENT;
    char nid[24];
    json_t *res = NULL;
    const char *e = NULL;
    if (replay_run(t, job->db, job, run, nid, &res, &e) < 0)
        return t->h->job_error(job, "replaying run %lld: %s", run, e);
    json_decref(res);
    return ATUM_JOB_DONE;
}

/* ---- atumctl triage ------------------------------------------------------------------- */

static int read_tsv(const char *path, struct tsv *tv)
{
    const char *e = NULL;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "atumctl triage: cannot open %s\n", path);
        return -1;
    }
    int rc = tsv_read(f, tv, &e);
    if (f != stdin)
        fclose(f);
    if (rc < 0 || tsv_col(tv, "text") < 0) {
        fprintf(stderr, "atumctl triage: %s: %s\n", path, rc < 0 ? e : "no 'text' column");
        if (rc == 0)
            tsv_free(tv);
        return -1;
    }
    return 0;
}

static int cmd_train(struct triage *t, struct atum_db *db, const char *path)
{
    const struct atum_host *h = t->h;
    struct tsv tv;
    const char *e = NULL;
    if (read_tsv(path, &tv) < 0)
        return 1;
    int cid = tsv_col(&tv, "id"), ct = tsv_col(&tv, "text");
    int cl[NLABELS] = { tsv_col(&tv, "category"), tsv_col(&tv, "priority"), tsv_col(&tv, "sentiment") };
    if (h->tx_begin(db, &e) < 0
        || h->sql(db, "DELETE FROM triage_labels WHERE source = 'seed'", 0, NULL, NULL, &e) < 0)
        goto fail;
    size_t used = 0;
    for (size_t i = 0; i < tv.nrows; i++) {
        const char *v[NLABELS];
        int any = 0;
        for (int k = 0; k < NLABELS; k++) {
            v[k] = tsv_cell(&tv, i, cl[k]);
            if (k == 2 && v[k][0] && strcmp(v[k], "negative") && strcmp(v[k], "neutral") && strcmp(v[k], "positive")) {
                fprintf(stderr, "atumctl triage: row %zu: sentiment '%s' is not negative, neutral or positive\n",
                        i + 2, v[k]);
                v[k] = "";
            }
            any |= v[k][0] != '\0';
            if (!v[k][0])
                v[k] = NULL;
        }
        if (!any || !tsv_cell(&tv, i, ct)[0])
            continue;
        const char *p[] = { cid >= 0 ? tsv_cell(&tv, i, cid) : NULL, tsv_cell(&tv, i, ct), v[0], v[1], v[2] };
        if (h->sql(db, "INSERT INTO triage_labels (source, ext_id, text, category, priority, sentiment)"
                       " VALUES ('seed', $1, $2, $3, $4, $5)", 5, p, NULL, &e) < 0)
            goto fail;
        used++;
    }
    if (h->tx_commit(db, &e) < 0)
        goto fail;
    printf("seed rows: %zu of %zu\n", used, tv.nrows);
    tsv_free(&tv);
    if (train_all(t, db, 1, &e) < 0) {
        fprintf(stderr, "atumctl triage train: %s\n", e);
        return 1;
    }
    return 0;
fail:
    h->tx_rollback(db);
    tsv_free(&tv);
    fprintf(stderr, "atumctl triage train: %s\n", e);
    return 1;
}

static void put_label(const char *label, double conf, int have)
{
    printf("\t");
    if (have && label) {
        tsv_put(stdout, label);
        printf("\t%.4f", conf);
    } else {
        printf("\t");
    }
}

static int cmd_predict(struct triage *t, struct atum_db *db, const char *path)
{
    struct tsv tv;
    if (read_tsv(path, &tv) < 0)
        return 1;
    struct modelset *ms = modelset_get(t, db, 1);
    if (ms == NULL || (!ms->m[0] && !ms->m[1] && !ms->m[2]))
        fprintf(stderr, "atumctl triage predict: no trained model: only the language is predicted"
                        " (train with atumctl triage train FILE.tsv)\n");
    int cid = tsv_col(&tv, "id"), ct = tsv_col(&tv, "text");
    printf("id\tcategory\tcategory_confidence\tpriority\tpriority_confidence\tsentiment\tsentiment_confidence"
           "\tlanguage\tlanguage_confidence\n");
    for (size_t i = 0; i < tv.nrows; i++) {
        const char *text = tsv_cell(&tv, i, ct);
        struct triage_result res;
        classify(t, ms, text, strlen(text), t->default_lang, &res);
        if (cid >= 0)
            tsv_put(stdout, tsv_cell(&tv, i, cid));
        else
            printf("%zu", i + 1);
        for (int k = 0; k < NLABELS; k++)
            put_label(res.label[k], res.conf[k], ms && ms->m[k]);
        put_label(res.lang, res.lang_conf, 1);
        printf("\n");
    }
    modelset_put(t, ms);
    tsv_free(&tv);
    return 0;
}

static int run_command(void *state, struct atum_db *db, int argc, char **argv)
{
    struct triage *t = state;
    const char *e = NULL;
    if (argc >= 3 && strcmp(argv[1], "train") == 0)
        return cmd_train(t, db, argv[2]);
    if (argc >= 2 && strcmp(argv[1], "predict") == 0)
        return cmd_predict(t, db, argc >= 3 ? argv[2] : "-");
    if (argc >= 3 && strcmp(argv[1], "replay") == 0) {
        char nid[24];
        json_t *res = NULL;
        long long run = atoll(argv[2]);
        if (run <= 0 || replay_run(t, db, NULL, run, nid, &res, &e) < 0) {
            fprintf(stderr, "atumctl triage replay: %s\n", run <= 0 ? "a run id is expected" : e);
            return 1;
        }
        char *out = json_dumps(res, JSON_COMPACT);
        printf("run %s replays run %lld: %s\n", nid, run, out ? out : "{}");
        free(out);
        json_decref(res);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "retrain") == 0) {
        if (train_all(t, db, 1, &e) < 0) {
            fprintf(stderr, "atumctl triage retrain: %s\n", e);
            return 1;
        }
        return 0;
    }
    fprintf(stderr, "usage: atumctl triage train FILE.tsv | predict [FILE.tsv] < FILE.tsv | retrain | replay RUN_ID\n");
    return 2;
}

/* ---- routes ------------------------------------------------------------------------------ */

static json_t *result_json(struct triage *t, struct atum_db *db, long long ticket_id)
{
    const struct atum_host *h = t->h;
    char tid[24];
    snprintf(tid, sizeof(tid), "%lld", ticket_id);
    const char *p[] = { tid };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(db, "SELECT json_build_object("
                   " 'category', json_build_object('value', category, 'confidence', category_conf),"
                   " 'priority', json_build_object('value', priority, 'confidence', priority_conf),"
                   " 'sentiment', json_build_object('value', sentiment, 'confidence', sentiment_conf),"
                   " 'language', json_build_object('value', language, 'confidence', language_conf),"
                   " 'method', method, 'reason', reason, 'applied', applied, 'run_id', run_id,"
                   " 'updated_at', updated_at)::text FROM triage_results WHERE ticket_id = $1",
               1, p, &r, &e) < 0 || h->rows_count(r) != 1) {
        h->rows_free(&r);
        return NULL;
    }
    json_t *v = json_loads(plug_cell(h, r, 0, 0), 0, NULL);
    h->rows_free(&r);
    return v;
}

static int ticket_view(void *state, struct atum_db *db, long long ticket_id, struct atum_http_resp *resp)
{
    struct triage *t = state;
    json_t *v = result_json(t, db, ticket_id);
    if (v == NULL)
        v = json_pack("{s:s}", "state", "pending");
    plug_reply_json(t->h, resp, 200, v);
    return 0;
}

#define TRIAGE_RUN_JSON \
    "json_build_object('id', x.id, 'ticket_id', x.ticket_id, 'method', x.method, 'outcome', x.outcome," \
    " 'input', x.input, 'raw', x.raw, 'result', x.result, 'error', x.error, 'elapsed_ms', x.elapsed_ms," \
    " 'usage', x.usage, 'replay_of', x.replay_of, 'created_at', x.created_at)"

/* GET /tickets?id=N: the result and the traces (runs) of one ticket. */
static int route_ticket(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    long long id = plug_query_id(req->query, "id");
    if (id <= 0)
        return plug_problem(h, resp, 400, "id: a ticket id is required");
    json_t *v = result_json(t, req->db, id);
    char tid[24];
    snprintf(tid, sizeof(tid), "%lld", id);
    const char *p[] = { tid };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    json_t *runs = NULL;
    if (h->sql(req->db, "SELECT coalesce(json_agg(" TRIAGE_RUN_JSON " ORDER BY x.id DESC), '[]')::text"
                        " FROM (SELECT * FROM triage_runs WHERE ticket_id = $1 ORDER BY id DESC LIMIT 20) x",
               1, p, &r, &e) == 0)
        runs = json_loads(plug_cell(h, r, 0, 0), 0, NULL);
    h->rows_free(&r);
    plug_reply_json(h, resp, 200, json_pack("{s:I, s:o, s:o}", "ticket_id", (json_int_t)id,
                                       "result", v ? v : json_null(), "runs", runs ? runs : json_array()));
    return 0;
}

/* POST /replay {"run_id": N}: the run again, as a job (triage.replay);
 * the new run appears in GET /runs?id=N (replays). */
static int route_replay(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    long long run = 0;
    if (plug_body_id(req, "run_id", &run) < 0)
        return plug_problem(h, resp, 400, "expected {\"run_id\": N}");
    char rid[24], payload[64];
    snprintf(rid, sizeof(rid), "%lld", (long long)run);
    const char *p[] = { rid };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db, "SELECT 1 FROM triage_runs WHERE id = $1", 1, p, &r, &e) < 0) {
        return plug_db_failed(h, resp, "reading the run", e);
    }
    int found = h->rows_count(r) == 1;
    h->rows_free(&r);
    if (!found)
        return plug_problem(h, resp, 404, "no such run");
    snprintf(payload, sizeof(payload), "{\"run_id\": %lld}", (long long)run);
    struct atum_job_spec spec = { .kind = "triage.replay", .payload = payload };
    long long job = 0;
    if (h->enqueue(req->db, &spec, &job, &e) < 0)
        return plug_db_failed(h, resp, "queueing the replay", e);
    plug_reply_json(h, resp, 202, json_pack("{s:I, s:I}", "run_id", run, "job_id", (json_int_t)job));
    return 0;
}

/* GET /runs?id=N: one run (the trace) and its replays. */
static int route_runs(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    long long id = plug_query_id(req->query, "id");
    if (id <= 0)
        return plug_problem(h, resp, 400, "id: a run id is required");
    char rid[24];
    snprintf(rid, sizeof(rid), "%lld", id);
    const char *p[] = { rid };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db,
               "SELECT json_build_object('run', (SELECT " TRIAGE_RUN_JSON " FROM triage_runs x WHERE x.id = $1),"
               " 'replays', (SELECT coalesce(json_agg(" TRIAGE_RUN_JSON " ORDER BY x.id), '[]')"
               "             FROM triage_runs x WHERE x.replay_of = $1))::text", 1, p, &r, &e) < 0)
        return plug_db_failed(h, resp, "reading the run", e);
    json_t *v = json_loads(plug_cell(h, r, 0, 0), 0, NULL);
    h->rows_free(&r);
    if (v == NULL || json_is_null(json_object_get(v, "run"))) {
        json_decref(v);
        return plug_problem(h, resp, 404, "no such run");
    }
    plug_reply_json(h, resp, 200, v);
    return 0;
}

/* GET /status: the language model (breaker), the models in use, runs of
 * the last day by method. */
static int route_status(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    struct atum_rows *r = NULL;
    const char *e = NULL;
    json_t *extra = NULL;
    if (h->sql(req->db, "SELECT json_build_object("
                        " 'models', (SELECT coalesce(json_agg(json_build_object('label', label, 'version', v)"
                        "            ORDER BY label), '[]') FROM (SELECT label, max(version) v FROM triage_models"
                        "            GROUP BY label) m),"
                        " 'runs_24h', (SELECT coalesce(json_object_agg(k, n), '{}') FROM (SELECT CASE WHEN method"
                        "            LIKE 'llm:%' THEN 'llm:' || outcome ELSE method END k, count(*) n FROM triage_runs"
                        "            WHERE created_at > now() - interval '1 day' GROUP BY 1) c))::text",
               0, NULL, &r, &e) == 0)
        extra = json_loads(plug_cell(h, r, 0, 0), 0, NULL);
    h->rows_free(&r);
    json_t *v = json_pack("{s:o}", "llm", llm_status_json(t->llm));
    if (json_is_object(extra))
        json_object_update(v, extra);
    json_decref(extra);
    plug_reply_json(h, resp, 200, v);
    return 0;
}

/* POST /classify {"ticket_id": N}: triage again, as a job. */
static int route_classify(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    long long id = payload_ticket(req->body);
    if (id <= 0)
        return plug_problem(h, resp, 400, "ticket_id: a ticket id is required");
    char payload[64], key[64];
    snprintf(payload, sizeof(payload), "{\"ticket_id\": %lld}", id);
    snprintf(key, sizeof(key), "triage-%lld", id);
    struct atum_job_spec spec = { .kind = "triage.classify", .payload = payload, .unique_key = key };
    long long job = 0;
    const char *e = NULL;
    if (h->enqueue(req->db, &spec, &job, &e) < 0)
        return plug_db_failed(h, resp, "queueing the triage", e);
    plug_reply_json(h, resp, 202, json_pack("{s:I, s:I}", "ticket_id", (json_int_t)id, "job_id", (json_int_t)job));
    return 0;
}

/* POST /predict {"text": "...", "language": "en"}: the local models' answer
 * for a text, stored nowhere. */
static int route_predict(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    json_t *body = json_loads(req->body ? req->body : "", 0, NULL);
    const char *text = json_string_value(json_object_get(body, "text"));
    const char *lang = json_string_value(json_object_get(body, "language"));
    if (text == NULL) {
        json_decref(body);
        return plug_problem(h, resp, 400, "text: a string is required");
    }
    struct modelset *ms = modelset_get(t, req->db, 0);
    struct triage_result res;
    classify(t, ms, text, strlen(text), lang ? lang : t->default_lang, &res);
    json_t *v = json_object();
    for (int k = 0; k < NLABELS; k++)
        json_object_set_new(v, label_names[k],
                            res.label[k] ? json_pack("{s:s, s:f}", "value", res.label[k], "confidence", res.conf[k])
                                         : json_null());
    json_object_set_new(v, "language", json_pack("{s:s, s:f}", "value", res.lang, "confidence", res.lang_conf));
    modelset_put(t, ms);
    json_decref(body);
    plug_reply_json(h, resp, 200, v);
    return 0;
}

/* POST /correct {"ticket_id": N, "category"?, "priority"?, "sentiment"?}:
 * an agent's correction: stored as the ticket's label (it feeds the local
 * models) and shown as the ticket's triage; enough new ones retrain. */
static int route_correct(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    json_t *body = json_loads(req->body ? req->body : "", 0, NULL);
    long long id = 0;
    const char *cat = NULL, *prio = NULL, *sent = NULL;
    json_error_t je;
    if (body == NULL || json_unpack_ex(body, &je, JSON_STRICT, "{s:I, s?s, s?s, s?s}", "ticket_id", &id,
                                       "category", &cat, "priority", &prio, "sentiment", &sent) < 0
        || id <= 0 || (!cat && !prio && !sent)) {
        json_decref(body);
        return plug_problem(h, resp, 400, "expected {\"ticket_id\": N, \"category\", \"priority\" and/or \"sentiment\"}");
    }
    if (sent && strcmp(sent, "negative") && strcmp(sent, "neutral") && strcmp(sent, "positive")) {
        json_decref(body);
        return plug_problem(h, resp, 400, "sentiment: negative, neutral or positive");
    }
    char tid[24], uid[24];
    snprintf(tid, sizeof(tid), "%lld", id);
    snprintf(uid, sizeof(uid), "%lld", req->user_id);
    const char *e = NULL;
    struct atum_rows *r = NULL;
    const char *p[] = { tid, cat, prio, sent, req->user_id > 0 ? uid : NULL };
    int rc = h->tx_begin(req->db, &e);
    if (rc == 0)
        rc = h->sql(req->db,
                    "INSERT INTO triage_labels (source, ticket_id, text, category, priority, sentiment, created_by)"
                    " SELECT 'agent', t.id, t.subject || E'\\n\\n' || coalesce((SELECT left(m.body_text, 65536)"
                    "   FROM messages m WHERE m.ticket_id = t.id ORDER BY m.created_at, m.id LIMIT 1), ''),"
                    "   $2, $3, $4, $5::bigint FROM tickets t WHERE t.id = $1"
                    " ON CONFLICT (ticket_id) WHERE source = 'agent' DO UPDATE SET"
                    "   category = coalesce(EXCLUDED.category, triage_labels.category),"
                    "   priority = coalesce(EXCLUDED.priority, triage_labels.priority),"
                    "   sentiment = coalesce(EXCLUDED.sentiment, triage_labels.sentiment),"
                    "   created_by = EXCLUDED.created_by, created_at = now()"
                    " RETURNING id", 5, p, &r, &e);
    if (rc == 0 && h->rows_count(r) != 1) {
        h->rows_free(&r);
        h->tx_rollback(req->db);
        json_decref(body);
        return plug_problem(h, resp, 404, "no such ticket");
    }
    h->rows_free(&r);
    if (rc == 0)
        rc = h->sql(req->db,
                    "INSERT INTO triage_results (ticket_id, category, category_conf, priority, priority_conf,"
                    " sentiment, sentiment_conf, method, reason)"
                    " VALUES ($1::bigint, $2::text, CASE WHEN $2::text IS NULL THEN NULL ELSE 1 END, $3::text,"
                    "  CASE WHEN $3::text IS NULL THEN NULL ELSE 1 END, $4::text, CASE WHEN $4::text IS NULL THEN NULL ELSE 1 END,"
                    "  'agent', 'corrected by user ' || coalesce($5::text, '?'))"
                    " ON CONFLICT (ticket_id) DO UPDATE SET"
                    "  category = coalesce($2::text, triage_results.category),"
                    "  category_conf = CASE WHEN $2::text IS NULL THEN triage_results.category_conf ELSE 1 END,"
                    "  priority = coalesce($3::text, triage_results.priority),"
                    "  priority_conf = CASE WHEN $3::text IS NULL THEN triage_results.priority_conf ELSE 1 END,"
                    "  sentiment = coalesce($4::text, triage_results.sentiment),"
                    "  sentiment_conf = CASE WHEN $4::text IS NULL THEN triage_results.sentiment_conf ELSE 1 END,"
                    "  method = 'agent', reason = EXCLUDED.reason, updated_at = now()",
                    5, p, NULL, &e);
    /* retrain once enough labels arrived after the newest model */
    long long every = h->conf_get_int(t->conf, "retrain_after", 50);
    if (rc == 0 && every > 0
        && h->sql(req->db, "SELECT count(*) FROM triage_labels WHERE source = 'agent' AND created_at >"
                           " coalesce((SELECT max(trained_at) FROM triage_models), '-infinity')",
                  0, NULL, &r, &e) == 0) {
        long long fresh = atoll(plug_cell(h, r, 0, 0));
        h->rows_free(&r);
        if (fresh >= every) {
            struct atum_job_spec spec = { .kind = "triage.train", .unique_key = "triage-train" };
            rc = h->enqueue(req->db, &spec, NULL, &e);
        }
    }
    if (rc == 0)
        rc = h->tx_commit(req->db, &e);
    json_decref(body);
    if (rc < 0) {
        h->tx_rollback(req->db);
        return plug_db_failed(h, resp, "storing the correction", e);
    }
    h->counter_add("atum_triage_corrections_total", NULL, 1);
    json_t *v = result_json(t, req->db, id);
    plug_reply_json(h, resp, 200, v ? v : json_object());
    return 0;
}

/* GET /rules, POST /rules {"kind", "pattern", "category"?, "priority"?, "queue_id"?} */
static int route_rules(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    const char *e = NULL;
    struct atum_rows *r = NULL;
    if (strcmp(req->method, "POST") == 0) {
        json_t *body = json_loads(req->body ? req->body : "", 0, NULL);
        const char *kind = NULL, *pat = NULL, *cat = NULL, *prio = NULL;
        json_int_t q = 0;
        json_error_t je;
        if (body == NULL || json_unpack_ex(body, &je, JSON_STRICT, "{s:s, s:s, s?s, s?s, s?I}", "kind", &kind,
                                           "pattern", &pat, "category", &cat, "priority", &prio,
                                           "queue_id", &q) < 0
            || (strcmp(kind, "keyword") && strcmp(kind, "domain"))) {
            json_decref(body);
            return plug_problem(h, resp, 400, "expected {\"kind\": \"keyword\"|\"domain\", \"pattern\": ...,"
                                               " \"category\"?, \"priority\"?, \"queue_id\"?}");
        }
        char qs[24];
        snprintf(qs, sizeof(qs), "%lld", (long long)q);
        const char *p[] = { kind, pat, cat, prio, q > 0 ? qs : NULL };
        int rc = h->sql(req->db, "INSERT INTO triage_rules (kind, pattern, category, priority, queue_id)"
                                 " VALUES ($1, $2, $3, $4, $5::bigint) RETURNING id", 5, p, &r, &e);
        json_decref(body);
        if (rc < 0)      /* a queue that is not there, a pattern too long: what was sent */
            return plug_problem(h, resp, 400, e);
        plug_reply_json(h, resp, 201, json_pack("{s:I}", "id", (json_int_t)atoll(plug_cell(h, r, 0, 0))));
        h->rows_free(&r);
        return 0;
    }
    if (h->sql(req->db, "SELECT coalesce(json_agg(json_build_object('id', id, 'kind', kind, 'pattern', pattern,"
                        " 'category', category, 'priority', priority, 'queue_id', queue_id) ORDER BY id), '[]')::text"
                        " FROM triage_rules", 0, NULL, &r, &e) < 0)
        return plug_db_failed(h, resp, "reading the rules", e);
    h->http_reply(resp, 200, "application/json", plug_cell(h, r, 0, 0), strlen(plug_cell(h, r, 0, 0)));
    h->rows_free(&r);
    return 0;
}

/* PUT /settings {"queue_id": N, ...}: a queue's actions; GET /settings lists them. */
static int route_settings(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    const char *e = NULL;
    struct atum_rows *r = NULL;
    if (strcmp(req->method, "PUT") == 0) {
        json_t *body = json_loads(req->body ? req->body : "", 0, NULL);
        json_int_t q = 0;
        int enabled = 1, esc = 1, llm = 1;
        const char *mode = "suggest", *notify = NULL, *lang = NULL;
        double thr = 0.8, nthr = 0.85;
        json_error_t je;
        if (body == NULL || json_unpack_ex(body, &je, JSON_STRICT, "{s:I, s?b, s?s, s?F, s?b, s?F, s?s, s?s, s?b}",
                                           "queue_id", &q, "enabled", &enabled, "mode", &mode, "threshold", &thr,
                                           "escalate_negative", &esc, "negative_threshold", &nthr,
                                           "notify", &notify, "language", &lang, "llm", &llm) < 0
            || (strcmp(mode, "suggest") && strcmp(mode, "auto")) || thr < 0 || thr > 1 || nthr < 0 || nthr > 1) {
            json_decref(body);
            return plug_problem(h, resp, 400, je.text[0] ? je.text : "mode: suggest or auto; thresholds 0..1");
        }
        char qs[24], ts[32], ns[32];
        snprintf(qs, sizeof(qs), "%lld", (long long)q);
        snprintf(ts, sizeof(ts), "%g", thr);
        snprintf(ns, sizeof(ns), "%g", nthr);
        const char *p[] = { qs, enabled ? "t" : "f", mode, ts, esc ? "t" : "f", ns, notify, lang, llm ? "t" : "f" };
        int rc = h->sql(req->db, "INSERT INTO triage_settings (queue_id, enabled, mode, threshold, escalate_negative,"
                                 " negative_threshold, notify, language, llm) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                                 " ON CONFLICT (queue_id) DO UPDATE SET enabled = $2, mode = $3, threshold = $4,"
                                 " escalate_negative = $5, negative_threshold = $6, notify = $7, language = $8, llm = $9",
                        9, p, NULL, &e);
        json_decref(body);
        if (rc < 0)      /* a queue that is not there: what was sent */
            return plug_problem(h, resp, 400, e);
    }
    if (h->sql(req->db, "SELECT coalesce(json_agg(s ORDER BY queue_id), '[]')::text FROM triage_settings s",
               0, NULL, &r, &e) < 0)
        return plug_db_failed(h, resp, "reading the settings", e);
    h->http_reply(resp, 200, "application/json", plug_cell(h, r, 0, 0), strlen(plug_cell(h, r, 0, 0)));
    h->rows_free(&r);
    return 0;
}

/* GET /models: the versions in use. */
static int route_models(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct triage *t = state;
    const struct atum_host *h = t->h;
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db, "SELECT coalesce(json_agg(json_build_object('label', label, 'version', version,"
                        " 'rows', rows, 'classes', classes, 'params', params, 'trained_at', trained_at)"
                        " ORDER BY label, version DESC), '[]')::text FROM triage_models", 0, NULL, &r, &e) < 0)
        return plug_db_failed(h, resp, "reading the models", e);
    h->http_reply(resp, 200, "application/json", plug_cell(h, r, 0, 0), strlen(plug_cell(h, r, 0, 0)));
    h->rows_free(&r);
    return 0;
}

/* ---- life cycle --------------------------------------------------------------------------- */

static int init(const struct atum_host *host, const struct atum_conf *conf, void **state)
{
    struct triage *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return -1;
    t->h = host;
    t->conf = conf;
    pthread_mutex_init(&t->lock, NULL);
    const char *e = NULL;
    t->lang = lang_guesser_new(host->conf_get(conf, "textcat_dir"), host->conf_get(conf, "languages"), &e);
    if (t->lang == NULL) {
        host->log(ATUM_LOG_ERROR, "triage: %s", e);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return -1;
    }
    const char *dl = host->conf_get(conf, "language");
    snprintf(t->default_lang, sizeof(t->default_lang), "%s", dl && *dl ? dl : "en");
    t->llm = llm_new(host, conf, "triage", &e);
    if (t->llm == NULL) {
        host->log(ATUM_LOG_ERROR, "triage: %s", e);
        lang_guesser_free(&t->lang);
        pthread_mutex_destroy(&t->lock);
        free(t);
        return -1;
    }
    llm_metric_describe(host, "atum_triage_runs_total", ATUM_METRIC_COUNTER,
                        "Tickets triaged, by what answered: an admin rule, the language model or the local models");
    llm_metric_describe(host, "atum_triage_corrections_total", ATUM_METRIC_COUNTER,
                        "Agents' corrections of a triage result (labels for the next training)");
    *state = t;
    return 0;
}

static void fini(void *state)
{
    struct triage *t = state;
    if (t == NULL)
        return;
    if (t->models) {
        for (int i = 0; i < NLABELS; i++)
            tmodel_free(&t->models->m[i]);
        free(t->models);
    }
    lang_guesser_free(&t->lang);
    llm_free(&t->llm);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static const struct atum_job_kind jobs[] = {
    { "triage.classify", job_classify, 5, 120 },
    { "triage.train", job_train, 3, 900 },
    { "triage.replay", job_replay, 3, 120 },
    { NULL, NULL, 0, 0 },
};

static const struct atum_hook hooks[] = {
    { "ticket.created", job_classify },
    { NULL, NULL },
};

static const struct atum_route routes[] = {
    { "GET", "/tickets", ATUM_ROLE_AGENT, route_ticket },
    { "POST", "/classify", ATUM_ROLE_AGENT, route_classify },
    { "POST", "/predict", ATUM_ROLE_AGENT, route_predict },
    { "POST", "/correct", ATUM_ROLE_AGENT, route_correct },
    { "GET", "/rules", ATUM_ROLE_AGENT, route_rules },
    { "POST", "/rules", ATUM_ROLE_ADMIN, route_rules },
    { "GET", "/settings", ATUM_ROLE_AGENT, route_settings },
    { "PUT", "/settings", ATUM_ROLE_ADMIN, route_settings },
    { "GET", "/models", ATUM_ROLE_AGENT, route_models },
    { "GET", "/status", ATUM_ROLE_AGENT, route_status },
    { "GET", "/runs", ATUM_ROLE_AGENT, route_runs },
    { "POST", "/replay", ATUM_ROLE_AGENT, route_replay },
    { NULL, NULL, 0, NULL },
};

static const struct atum_conf_key conf_keys[] = {
    { "languages", "en,de,es,fr,pt", "languages the guesser chooses from (libexttextcat profiles)" },
    { "language", "en", "the default language of texts too short to tell (a queue may set its own)" },
    { "textcat_dir", "/usr/share/libexttextcat", "libexttextcat's profile folder" },
    { "mode", "suggest", "suggest | auto: set category/priority above threshold_percent (queues may override)" },
    { "threshold_percent", "80", "confidence needed to set a category or priority in auto mode" },
    { "escalate_negative", "1", "1: negative sentiment above negative_threshold_percent raises the priority" },
    { "negative_threshold_percent", "85", "confidence of a negative sentiment that escalates" },
    { "notify", NULL, "an address told about negative tickets (queues may override)" },
    { "retrain_after", "50", "agents' corrections after which the models are retrained (0: never)" },
    { "categories", NULL, "the categories a language model chooses from (comma-separated); default: the category model's" },
    LLM_CONF_KEYS,
    { NULL, NULL, NULL },
};

static const struct atum_command commands[] = {
    { "triage", "triage train FILE.tsv\ntriage predict < FILE.tsv\ntriage retrain\ntriage replay RUN_ID", run_command },
    { NULL, NULL, NULL },
};

static const struct atum_list_filter filters[] = {
    { "triage_category", "SELECT ticket_id FROM triage_results WHERE category = $1", "triage's category" },
    { "triage_priority", "SELECT ticket_id FROM triage_results WHERE priority = $1", "triage's priority" },
    { "triage_sentiment", "SELECT ticket_id FROM triage_results WHERE sentiment = $1",
      "triage's sentiment: negative, neutral or positive" },
    { "triage_language", "SELECT ticket_id FROM triage_results WHERE language = $1", "triage's language (ISO 639-1)" },
    { NULL, NULL, NULL },
};

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "triage",
    .version = "1.0",
    .summary = "category, priority, sentiment and language of new tickets",
    .init = init,
    .fini = fini,
    .jobs = jobs,
    .hooks = hooks,
    .routes = routes,
    .conf_keys = conf_keys,
    .migrations = triage_migrations,
    .ticket_view = ticket_view,
    .commands = commands,
    .hook_flags = ATUM_HOOKS_QUIET,      /* never a NOTIFY on the ingest commit */
    .list_filters = filters,
};

ATUM_PLUGIN_EXPORT const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
