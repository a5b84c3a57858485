/*
 * plugins/rag -- the knowledge base and answers from it, without an LLM.
 *
 * Articles (Markdown, title, tags, language, public or internal, draft or
 * published, per queue) live in kb_articles with their revisions; `atumctl
 * kb import DIR` loads a folder of Markdown files.  The published
 * articles, with the questions linked to them (kb_questions), are ranked
 * by rankidx.h (BM25F with a title boost, title BM25, character n-grams,
 * linked questions, fused by RRF).  The index is built in memory from the
 * database and rebuilt when the KB changes (a stamp looked up at most
 * every two seconds), so every atumd answers from the same KB.
 *
 * Routes: search and suggestions (the portal's new-ticket form, public
 * articles only for customers and the public), answers as passages with
 * citations and an "I don't know" below a relevance threshold, one
 * article, linking a question, "this solved it".
 */
#include <atum/plugin.h>

#include "../common/stem.h"
#include "../common/tsv.h"
#include "kbfile.h"
#include "rankidx.h"

#include <dirent.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct atum_migration rag_migrations[];

struct kbindex {
    int refs;
    struct rankidx *ix;
    size_t n;
    long long *ids;
    char **slugs, **titles;
    unsigned char *public;       /* visibility = public */
    char stamp[128];
};

struct rag {
    const struct atum_host *h;
    const struct atum_conf *conf;
    pthread_mutex_t lock;
    struct kbindex *index;       /* guarded by lock */
    double checked_at;
    double min_relevance;
};

static const char *cell(const struct atum_host *h, struct atum_rows *r, int row, int col)
{
    const char *v = h->rows_value(r, row, col);
    return v ? v : "";
}

static void kbindex_free(struct kbindex *k)
{
    rankidx_free(&k->ix);
    for (size_t i = 0; i < k->n; i++) {
        free(k->slugs[i]);
        free(k->titles[i]);
    }
    free(k->slugs);
    free(k->titles);
    free(k->ids);
    free(k->public);
    free(k);
}

static void index_put(struct rag *g, struct kbindex *k)
{
    if (k == NULL)
        return;
    pthread_mutex_lock(&g->lock);
    int left = --k->refs;
    pthread_mutex_unlock(&g->lock);
    if (left == 0)
        kbindex_free(k);
}

#define STAMP_SQL \
    "SELECT (SELECT count(*) || ':' || coalesce(max(updated_at)::text, '') FROM kb_articles) || ':' ||" \
    " (SELECT count(*) || ':' || coalesce(max(id), 0) FROM kb_questions)"

static struct kbindex *index_build(struct rag *g, struct atum_db *db, const char *stamp, const char **error_r)
{
    const struct atum_host *h = g->h;
    struct atum_rows *r = NULL;
    if (h->sql(db, "SELECT a.id, a.slug, a.title, a.body, a.language, a.visibility = 'public',"
                   " coalesce((SELECT string_agg(q.question, E'\\n' ORDER BY q.id) FROM kb_questions q"
                   "           WHERE q.article_id = a.id), '')"
                   " FROM kb_articles a WHERE a.status = 'published' ORDER BY a.slug", 0, NULL, &r, error_r) < 0)
        return NULL;
    struct kbindex *k = calloc(1, sizeof(*k));
    if (k == NULL)
        abort();
    k->refs = 1;
    k->n = (size_t)h->rows_count(r);
    k->ids = calloc(k->n + 1, sizeof(long long));
    k->slugs = calloc(k->n + 1, sizeof(char *));
    k->titles = calloc(k->n + 1, sizeof(char *));
    k->public = calloc(k->n + 1, 1);
    struct rankidx_doc *docs = calloc(k->n + 1, sizeof(*docs));
    for (size_t i = 0; i < k->n; i++) {
        k->ids[i] = atoll(cell(h, r, (int)i, 0));
        k->slugs[i] = strdup(cell(h, r, (int)i, 1));
        k->titles[i] = strdup(cell(h, r, (int)i, 2));
        k->public[i] = strcmp(cell(h, r, (int)i, 5), "t") == 0;
        docs[i] = (struct rankidx_doc){ cell(h, r, (int)i, 2), cell(h, r, (int)i, 3), cell(h, r, (int)i, 6),
                                        cell(h, r, (int)i, 4) };
    }
    k->ix = rankidx_build(docs, k->n);
    free(docs);
    h->rows_free(&r);
    snprintf(k->stamp, sizeof(k->stamp), "%s", stamp ? stamp : "");
    return k;
}

/* The current index, rebuilt when the KB changed. */
static struct kbindex *index_get(struct rag *g, struct atum_db *db)
{
    const struct atum_host *h = g->h;
    double now = h->now();
    pthread_mutex_lock(&g->lock);
    int look = g->index == NULL || now - g->checked_at > 2;
    if (look)
        g->checked_at = now;
    struct kbindex *cur = g->index;
    if (cur)
        cur->refs++;
    pthread_mutex_unlock(&g->lock);
    if (!look)
        return cur;
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(db, STAMP_SQL, 0, NULL, &r, &e) < 0) {
        h->log(ATUM_LOG_WARN, "rag: KB not readable: %s", e);
        return cur;
    }
    char stamp[128];
    snprintf(stamp, sizeof(stamp), "%s", cell(h, r, 0, 0));
    h->rows_free(&r);
    if (cur && strcmp(cur->stamp, stamp) == 0)
        return cur;
    struct kbindex *k = index_build(g, db, stamp, &e);
    if (k == NULL) {
        h->log(ATUM_LOG_WARN, "rag: index not built: %s", e);
        return cur;
    }
    k->refs++;
    pthread_mutex_lock(&g->lock);
    struct kbindex *old = g->index;
    g->index = k;
    pthread_mutex_unlock(&g->lock);
    index_put(g, old);
    index_put(g, cur);
    return k;
}

/* ---- atumctl kb ---------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_import(struct rag *g, struct atum_db *db, const char *dir)
{
    const struct atum_host *h = g->h;
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "atumctl kb import: cannot read %s\n", dir);
        return 1;
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l > 3 && strcmp(de->d_name + l - 3, ".md") == 0 && de->d_name[0] != '.') {
            names = realloc(names, (n + 1) * sizeof(char *));
            names[n++] = strdup(de->d_name);
        }
    }
    closedir(d);
    qsort(names, n, sizeof(char *), cmp_str);
    const char *e = NULL;
    size_t created = 0, changed = 0, same = 0, bad = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct kbfile f;
        if (kbfile_read(path, &f, &e) < 0) {
            fprintf(stderr, "atumctl kb import: %s: %s (skipped)\n", path, e);
            bad++;
            continue;
        }
        const char *vis = f.visibility && !strcmp(f.visibility, "internal") ? "internal" : "public";
        const char *st = f.status && !strcmp(f.status, "draft") ? "draft" : "published";
        const char *p[] = { f.slug, f.title, f.body, f.tags ? f.tags : "", f.lang ? f.lang : "en", vis, st,
                            f.category, f.queue };
        struct atum_rows *r = NULL;
        if (h->tx_begin(db, &e) < 0)
            rc = -1;
        if (rc == 0 && f.category && f.category[0])
            rc = h->sql(db, "INSERT INTO kb_categories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING",
                        1, &p[7], NULL, &e);
        /* a new version only when the text changed */
        if (rc == 0)
            rc = h->sql(db,
                "INSERT INTO kb_articles (slug, title, body, tags, language, visibility, status, category_id, queue_id)"
                " VALUES ($1, $2, $3, array_remove(regexp_split_to_array($4, '\\s*,\\s*'), ''), $5, $6, $7,"
                "  (SELECT id FROM kb_categories WHERE name = $8), (SELECT id FROM queues WHERE name = $9))"
                " ON CONFLICT (slug) DO UPDATE SET title = EXCLUDED.title, body = EXCLUDED.body,"
                "  tags = EXCLUDED.tags, language = EXCLUDED.language, visibility = EXCLUDED.visibility,"
                "  status = EXCLUDED.status, category_id = EXCLUDED.category_id, queue_id = EXCLUDED.queue_id,"
                "  version = kb_articles.version + 1, updated_at = now()"
                "  WHERE (kb_articles.title, kb_articles.body, kb_articles.tags, kb_articles.language,"
                "         kb_articles.visibility, kb_articles.status)"
                "    IS DISTINCT FROM (EXCLUDED.title, EXCLUDED.body, EXCLUDED.tags, EXCLUDED.language,"
                "         EXCLUDED.visibility, EXCLUDED.status)"
                " RETURNING id, version, (xmax = 0)", 9, p, &r, &e);
        if (rc == 0 && h->rows_count(r) == 1) {
            const char *pr[] = { cell(h, r, 0, 0), cell(h, r, 0, 1), f.title, f.body };
            if (strcmp(cell(h, r, 0, 2), "t") == 0)
                created++;
            else
                changed++;
            rc = h->sql(db, "INSERT INTO kb_revisions (article_id, version, title, body) VALUES ($1, $2, $3, $4)",
                        4, pr, NULL, &e);
        } else if (rc == 0) {
            same++;
        }
        h->rows_free(&r);
        if (rc == 0)
            rc = h->tx_commit(db, &e);
        else
            h->tx_rollback(db);
        kbfile_free(&f);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (rc < 0) {
        fprintf(stderr, "atumctl kb import: %s\n", e);
        return 1;
    }
    printf("articles: %zu new, %zu changed, %zu unchanged, %zu skipped\n", created, changed, same, bad);
    return bad ? 1 : 0;
}

static int read_tsv(const char *what, struct tsv *tv, const char *need)
{
    const char *e = NULL;
    if (tsv_read(stdin, tv, &e) < 0) {
        fprintf(stderr, "atumctl kb %s: %s\n", what, e);
        return -1;
    }
    if (tsv_col(tv, need) < 0) {
        fprintf(stderr, "atumctl kb %s: no '%s' column\n", what, need);
        tsv_free(tv);
        return -1;
    }
    return 0;
}

static int cmd_rank(struct rag *g, struct atum_db *db, int top)
{
    struct tsv tv;
    const char *e = NULL;
    if (read_tsv("rank", &tv, "question") < 0)
        return 1;
    struct kbindex *k = index_build(g, db, NULL, &e);
    if (k == NULL) {
        fprintf(stderr, "atumctl kb rank: %s\n", e);
        tsv_free(&tv);
        return 1;
    }
    if (k->n == 0)
        fprintf(stderr, "atumctl kb rank: the knowledge base is empty (atumctl kb import DIR)\n");
    int cq = tsv_col(&tv, "question");
    struct stemmer_set *st = stemmer_set_new();
    struct rankidx_hit *hits = calloc((size_t)top, sizeof(*hits));
    for (size_t i = 0; i < tv.nrows; i++) {
        size_t m = rankidx_rank(k->ix, tsv_cell(&tv, i, cq), NULL, st, NULL, 0, hits, (size_t)top);
        for (size_t j = 0; j < m; j++)
            printf("%s%s.md", j ? "\t" : "", k->slugs[hits[j].doc]);
        printf("\n");
    }
    free(hits);
    stemmer_set_free(&st);
    index_put(g, k);
    tsv_free(&tv);
    return 0;
}

/* kb questions < FILE.tsv: columns question and article (a slug or file name). */
static int cmd_questions(struct rag *g, struct atum_db *db)
{
    const struct atum_host *h = g->h;
    struct tsv tv;
    const char *e = NULL;
    if (read_tsv("questions", &tv, "question") < 0)
        return 1;
    int ca = tsv_col(&tv, "article") >= 0 ? tsv_col(&tv, "article") : tsv_col(&tv, "article_id");
    if (ca < 0) {
        fprintf(stderr, "atumctl kb questions: no 'article' column\n");
        tsv_free(&tv);
        return 1;
    }
    size_t linked = 0, unknown = 0;
    int rc = h->tx_begin(db, &e);
    for (size_t i = 0; rc == 0 && i < tv.nrows; i++) {
        char slug[512];
        snprintf(slug, sizeof(slug), "%s", tsv_cell(&tv, i, ca));
        size_t l = strlen(slug);
        if (l > 3 && strcmp(slug + l - 3, ".md") == 0)
            slug[l - 3] = '\0';
        const char *p[] = { slug, tsv_cell(&tv, i, tsv_col(&tv, "question")) };
        struct atum_rows *r = NULL;
        rc = h->sql(db, "INSERT INTO kb_questions (article_id, question, source)"
                        " SELECT id, $2, 'admin' FROM kb_articles WHERE slug = $1 AND $2 <> ''"
                        " ON CONFLICT (article_id, question) DO NOTHING RETURNING id", 2, p, &r, &e);
        if (rc == 0 && h->rows_count(r) == 1)
            linked++;
        else if (rc == 0)
            unknown++;
        h->rows_free(&r);
    }
    if (rc == 0)
        rc = h->tx_commit(db, &e);
    else
        h->tx_rollback(db);
    tsv_free(&tv);
    if (rc < 0) {
        fprintf(stderr, "atumctl kb questions: %s\n", e);
        return 1;
    }
    printf("questions linked: %zu (%zu already linked or for no such article)\n", linked, unknown);
    return 0;
}

static int run_command(void *state, struct atum_db *db, int argc, char **argv)
{
    struct rag *g = state;
    if (argc >= 3 && strcmp(argv[1], "import") == 0)
        return cmd_import(g, db, argv[2]);
    if (argc >= 2 && strcmp(argv[1], "rank") == 0) {
        int top = 10;
        if (argc >= 4 && strcmp(argv[2], "--top") == 0)
            top = atoi(argv[3]);
        return cmd_rank(g, db, top > 0 && top <= 1000 ? top : 10);
    }
    if (argc >= 2 && strcmp(argv[1], "questions") == 0)
        return cmd_questions(g, db);
    fprintf(stderr, "usage: atumctl kb import DIR | rank [--top N] < questions.tsv | questions < FILE.tsv\n");
    return 2;
}

/* ---- routes --------------------------------------------------------------------- */

/* The value of key in a query string, URL-decoded into buf; 0 when absent. */
static int query_get(const char *query, const char *key, char *buf, size_t size)
{
    size_t kl = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > kl && strncmp(p, key, kl) == 0 && p[kl] == '=') {
            size_t o = 0;
            for (size_t i = kl + 1; i < n && o + 1 < size; i++) {
                char c = p[i];
                if (c == '+')
                    c = ' ';
                else if (c == '%' && i + 2 < n) {
                    char hx[3] = { p[i + 1], p[i + 2], 0 };
                    c = (char)strtol(hx, NULL, 16);
                    i += 2;
                }
                buf[o++] = c;
            }
            buf[o] = '\0';
            return 1;
        }
        p = amp ? amp + 1 : NULL;
    }
    buf[0] = '\0';
    return 0;
}

static void reply_json(const struct atum_host *h, struct atum_http_resp *resp, int status, json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT);
    h->http_reply(resp, status, "application/json", s ? s : "{}", s ? strlen(s) : 2);
    free(s);
    json_decref(v);
}

static int problem(const struct atum_host *h, struct atum_http_resp *resp, int status, const char *detail)
{
    reply_json(h, resp, status, json_pack("{s:s, s:i, s:s}", "title", status == 404 ? "not found" : "bad request",
                                          "status", status, "detail", detail));
    return 0;
}

/* Ranks q for this caller: customers and the public see public articles. */
static json_t *ranked(struct rag *g, struct kbindex *k, const char *q, enum atum_role role, int limit,
                      int passages)
{
    struct stemmer_set *st = stemmer_set_new();
    struct rankidx_hit hits[50];
    size_t m = rankidx_rank(k->ix, q, NULL, st, NULL, 0, hits, 50);
    json_t *arr = json_array();
    for (size_t i = 0; i < m && (int)json_array_size(arr) < limit; i++) {
        int d = hits[i].doc;
        if (role < ATUM_ROLE_AGENT && !k->public[d])
            continue;
        json_t *o = json_pack("{s:I, s:s, s:s, s:f, s:f, s:s+}", "id", (json_int_t)k->ids[d], "slug", k->slugs[d],
                              "title", k->titles[d], "score", hits[i].score, "relevance", hits[i].relevance,
                              "link", "/portal/kb/", k->slugs[d]);
        if (passages) {
            const char *head = NULL, *text = NULL;
            int pi = rankidx_best_passage(k->ix, d, q, NULL, st, &head, &text);
            if (pi >= 0)
                json_object_set_new(o, "passage", json_pack("{s:i, s:s, s:s%}", "index", pi, "section", head,
                                                            "text", text, strlen(text) > 2000 ? (size_t)2000 : strlen(text)));
        }
        json_array_append_new(arr, o);
    }
    stemmer_set_free(&st);
    (void)g;
    return arr;
}

/* GET /search?q=...&limit=N and GET /suggest?q=... (3, for the portal's
 * new-ticket form as the customer types). */
static int route_search(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    char q[2048], lim[16];
    if (!query_get(req->query, "q", q, sizeof(q)) || q[0] == '\0')
        return problem(g->h, resp, 400, "q: a question is required");
    int limit = strcmp(req->path, "/suggest") == 0 ? 3 : 10;
    if (query_get(req->query, "limit", lim, sizeof(lim)))
        limit = atoi(lim) > 0 && atoi(lim) <= 50 ? atoi(lim) : limit;
    struct kbindex *k = index_get(g, req->db);
    if (k == NULL)
        return problem(g->h, resp, 503, "the knowledge base is not available");
    json_t *arr = ranked(g, k, q, req->role, limit, strcmp(req->path, "/search") == 0);
    index_put(g, k);
    /* suggestions are only worth showing when they match */
    if (strcmp(req->path, "/suggest") == 0) {
        size_t i;
        json_t *o;
        json_t *keep = json_array();
        json_array_foreach(arr, i, o)
            if (json_real_value(json_object_get(o, "relevance")) >= g->min_relevance)
                json_array_append(keep, o);
        json_decref(arr);
        arr = keep;
    }
    reply_json(g->h, resp, 200, json_pack("{s:o}", "items", arr));
    return 0;
}

/* GET /answer?q=...: the top passages with citations; "answered": false
 * (I don't know) when nothing relevant scores above min_relevance. */
static int route_answer(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    char q[4096];
    if (!query_get(req->query, "q", q, sizeof(q)) || q[0] == '\0')
        return problem(g->h, resp, 400, "q: a question is required");
    struct kbindex *k = index_get(g, req->db);
    if (k == NULL)
        return problem(g->h, resp, 503, "the knowledge base is not available");
    json_t *arr = ranked(g, k, q, req->role, 3, 1);
    index_put(g, k);
    double best = json_array_size(arr) ? json_real_value(json_object_get(json_array_get(arr, 0), "relevance")) : 0;
    int answered = best >= g->min_relevance;
    reply_json(g->h, resp, 200, json_pack("{s:b, s:s, s:f, s:o}", "answered", answered, "method", "local",
                                          "relevance", best, "citations", answered ? arr : (json_decref(arr), json_array())));
    return 0;
}

/* GET /article?slug=S or ?id=N */
static int route_article(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    char slug[512], id[32];
    int by_slug = query_get(req->query, "slug", slug, sizeof(slug));
    if (!by_slug && !query_get(req->query, "id", id, sizeof(id)))
        return problem(h, resp, 400, "slug or id is required");
    const char *staff = req->role >= ATUM_ROLE_AGENT ? "t" : "f";
    const char *p[] = { by_slug ? slug : NULL, by_slug ? NULL : id, staff };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db, "SELECT json_build_object('id', a.id, 'slug', a.slug, 'title', a.title, 'body', a.body,"
                        " 'tags', a.tags, 'language', a.language, 'visibility', a.visibility, 'status', a.status,"
                        " 'category', c.name, 'queue_id', a.queue_id, 'version', a.version, 'updated_at', a.updated_at)::text"
                        " FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id"
                        " WHERE (a.slug = $1 OR a.id = $2::bigint)"
                        "   AND ($3::boolean OR (a.visibility = 'public' AND a.status = 'published'))",
               3, p, &r, &e) < 0) {
        return problem(h, resp, 400, e);
    }
    if (h->rows_count(r) != 1) {
        h->rows_free(&r);
        return problem(h, resp, 404, "no such article");
    }
    h->http_reply(resp, 200, "application/json", cell(h, r, 0, 0), strlen(cell(h, r, 0, 0)));
    h->rows_free(&r);
    return 0;
}

/* POST /questions {"article_id": N, "question": "..."}: a linked paraphrase. */
static int route_link(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    json_t *b = json_loads(req->body ? req->body : "", 0, NULL);
    json_int_t aid = 0;
    const char *q = NULL;
    json_error_t je;
    if (b == NULL || json_unpack_ex(b, &je, JSON_STRICT, "{s:I, s:s}", "article_id", &aid, "question", &q) < 0
        || q[0] == '\0') {
        json_decref(b);
        return problem(h, resp, 400, "expected {\"article_id\": N, \"question\": \"...\"}");
    }
    char a[24];
    snprintf(a, sizeof(a), "%lld", (long long)aid);
    const char *p[] = { a, q };
    const char *e = NULL;
    int rc = h->sql(req->db, "INSERT INTO kb_questions (article_id, question, source) VALUES ($1, $2, 'admin')"
                             " ON CONFLICT (article_id, question) DO NOTHING", 2, p, NULL, &e);
    json_decref(b);
    if (rc < 0)
        return problem(h, resp, 400, e);
    reply_json(h, resp, 201, json_pack("{s:I}", "article_id", aid));
    return 0;
}

/* POST /solved {"article_id": N, "ticket_id"?: M}: "this solved it". With a
 * ticket (the customer's own), it is closed through the desk's rules. */
static int route_solved(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    json_t *b = json_loads(req->body ? req->body : "", 0, NULL);
    json_int_t aid = 0, tid = 0;
    json_error_t je;
    if (b == NULL || json_unpack_ex(b, &je, JSON_STRICT, "{s:I, s?I}", "article_id", &aid, "ticket_id", &tid) < 0) {
        json_decref(b);
        return problem(h, resp, 400, "expected {\"article_id\": N, \"ticket_id\"?: M}");
    }
    json_decref(b);
    char a[24], t[24], u[24];
    snprintf(a, sizeof(a), "%lld", (long long)aid);
    snprintf(t, sizeof(t), "%lld", (long long)tid);
    snprintf(u, sizeof(u), "%lld", req->user_id);
    const char *e = NULL;
    struct atum_rows *r = NULL;
    if (h->tx_begin(req->db, &e) < 0)
        return problem(h, resp, 400, e);
    if (tid > 0) {
        const char *pc[] = { t, u };
        if (h->sql(req->db, "SELECT 1 FROM tickets WHERE id = $1 AND requester_id = $2::bigint", 2, pc, &r, &e) < 0
            || h->rows_count(r) != 1) {
            h->rows_free(&r);
            h->tx_rollback(req->db);
            return problem(h, resp, 404, "no such ticket of yours");
        }
        h->rows_free(&r);
        struct atum_ticket_change ch = { .status = "closed", .note = "Closed by the customer: a KB article solved it." };
        if (h->ticket_update(req->db, tid, &ch, &e) < 0) {
            h->tx_rollback(req->db);
            return problem(h, resp, 409, e);
        }
    }
    const char *p[] = { a, tid > 0 ? t : NULL, req->user_id > 0 ? u : NULL };
    if (h->sql(req->db, "INSERT INTO kb_deflections (article_id, ticket_id, user_id) VALUES ($1, $2, $3)",
               3, p, NULL, &e) < 0 || h->tx_commit(req->db, &e) < 0) {
        h->tx_rollback(req->db);
        return problem(h, resp, 400, e);
    }
    h->counter_add("rag_deflections_total", NULL, 1);
    reply_json(h, resp, 201, json_pack("{s:I, s:b}", "article_id", aid, "ticket_closed", tid > 0));
    return 0;
}

/* ---- life cycle ---------------------------------------------------------------------- */

static int init(const struct atum_host *host, const struct atum_conf *conf, void **state)
{
    struct rag *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return -1;
    g->h = host;
    g->conf = conf;
    pthread_mutex_init(&g->lock, NULL);
    g->min_relevance = (double)host->conf_get_int(conf, "min_relevance_percent", 30) / 100.0;
    *state = g;
    return 0;
}

static void fini(void *state)
{
    struct rag *g = state;
    if (g == NULL)
        return;
    if (g->index)
        kbindex_free(g->index);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static const struct atum_route routes[] = {
    { "GET", "/search", ATUM_ROLE_NONE, route_search },
    { "GET", "/suggest", ATUM_ROLE_NONE, route_search },
    { "GET", "/answer", ATUM_ROLE_NONE, route_answer },
    { "GET", "/article", ATUM_ROLE_NONE, route_article },
    { "POST", "/questions", ATUM_ROLE_ADMIN, route_link },
    { "POST", "/solved", ATUM_ROLE_CUSTOMER, route_solved },
    { NULL, NULL, 0, NULL },
};

static const struct atum_conf_key conf_keys[] = {
    { "min_relevance_percent", "30", "below this relevance an answer says \"I don't know\" and no suggestion is shown" },
    { NULL, NULL, NULL },
};

static const struct atum_command commands[] = {
    { "kb", "kb import DIR\nkb rank [--top N] < questions.tsv\nkb questions < FILE.tsv", run_command },
    { NULL, NULL, NULL },
};

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "rag",
    .version = "1.0",
    .summary = "knowledge base, search and answers with citations",
    .init = init,
    .fini = fini,
    .routes = routes,
    .conf_keys = conf_keys,
    .migrations = rag_migrations,
    .commands = commands,
};

ATUM_PLUGIN_EXPORT const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
