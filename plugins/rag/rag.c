/*
 * plugins/rag -- the knowledge base and answers from it.
 *
 * Articles (Markdown, title, tags, language, public or internal, draft or
 * published, per queue) live in kb_articles with their revisions; `atumctl
 * kb import DIR` loads a folder of Markdown files, the admin routes edit
 * them (rag_admin.c).  The published articles with their linked questions
 * (kb_questions), and the public answers of solved tickets (staff only),
 * are ranked by plugins/common/kbindex.h (BM25F with a title boost, title
 * BM25, character n-grams, linked questions and, with an embedding model,
 * passage embeddings, fused by RRF).  The index is built from the
 * database and rebuilt when it changes, so every atumd answers from the
 * same KB.
 *
 * Without a language model: search, suggestions (the portal's new-ticket
 * form), answers as passages with citations and "I don't know" below a
 * relevance threshold, "these articles may help" in the acknowledgement
 * mail (mail_block).  With one (rag_draft.c): answers drafted from the
 * retrieved passages only, as jobs, each traced and replayable, and
 * embeddings computed by a job.
 */
#include "rag-private.h"

#include "../common/stem.h"
#include "../common/tsv.h"
#include "kbfile.h"

#include <cmark.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct atum_migration rag_migrations[];

/* ---- helpers shared by the plugin's files ---------------------------------------- */


int rag_staff_view(const struct atum_http_req *req)
{
    char audience[16];
    return req->role >= ATUM_ROLE_AGENT
           && !(plug_query_get(req->query, "audience", audience, sizeof(audience)) && strcmp(audience, "public") == 0);
}

void rag_article_link(const struct rag *g, const char *slug, char *buf, size_t size)
{
    const char *base = g->h->conf_get(g->conf, "public_url");
    size_t bl = base ? strlen(base) : 0;
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    snprintf(buf, size, "%.*s/portal/kb/%s", (int)bl, base ? base : "", slug);
}

json_t *rag_hit_json(const struct rag *g, const struct kbindex *k, const struct kbhit *hit, int passage)
{
    const struct kbdoc *d = &k->docs[hit->doc];
    char link[600];
    if (d->kind == KBDOC_ARTICLE)
        rag_article_link(g, d->slug, link, sizeof(link));
    else
        snprintf(link, sizeof(link), "/desk/tickets/%lld", d->id);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:f, s:f, s:s}", "id", (json_int_t)d->id, "kind",
                          d->kind == KBDOC_ARTICLE ? "article" : "ticket", "slug", d->slug, "title", d->title,
                          "score", hit->score, "relevance", hit->relevance, "link", link);
    if (hit->cosine != 0)
        json_object_set_new(o, "similarity", json_real(hit->cosine));
    if (passage && hit->passage >= 0) {
        size_t tl = strlen(hit->text);
        json_object_set_new(o, "passage", json_pack("{s:i, s:s, s:s%}", "index", hit->passage, "section",
                                                    hit->section, "text", hit->text, tl > 2000 ? (size_t)2000 : tl));
    }
    return o;
}

int rag_embed_soon(struct rag *g, struct atum_db *db, const char **error_r)
{
    if (!llm_embed_enabled(g->llm))
        return 0;
    struct atum_job_spec spec = { .kind = "rag.embed", .unique_key = "rag-embed", .priority = 150 };
    return g->h->enqueue(db, &spec, NULL, error_r);
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
            const char *pr[] = { plug_cell(h, r, 0, 0), plug_cell(h, r, 0, 1), f.title, f.body };
            if (strcmp(plug_cell(h, r, 0, 2), "t") == 0)
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
    if (created + changed > 0 && rag_embed_soon(g, db, &e) < 0)
        fprintf(stderr, "atumctl kb import: the embeddings job was not queued: %s\n", e);
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

/* kb rank [--top N] [--embed] < questions.tsv: the ranked article file
 * names of each question (articles only, as a customer would get them);
 * --embed adds the embedding list (the configured model, asked here). */
static int cmd_rank(struct rag *g, struct atum_db *db, int top, int embed)
{
    struct tsv tv;
    const char *e = NULL;
    if (read_tsv("rank", &tv, "question") < 0)
        return 1;
    if (embed && !llm_embed_enabled(g->llm)) {
        fprintf(stderr, "atumctl kb rank --embed: no embedding model is configured (llm_embed_model)\n");
        tsv_free(&tv);
        return 2;
    }
    struct kbindex *k = kbindex_build(g->h, db, embed ? llm_embed_model(g->llm) : "", &e);
    if (k == NULL) {
        fprintf(stderr, "atumctl kb rank: %s\n", e);
        tsv_free(&tv);
        return 1;
    }
    if (k->n == 0)
        fprintf(stderr, "atumctl kb rank: the knowledge base is empty (atumctl kb import DIR)\n");
    if (embed && k->dim == 0)
        fprintf(stderr, "atumctl kb rank --embed: no embeddings stored yet (atumctl kb embed)\n");
    int cq = tsv_col(&tv, "question");
    struct stemmer_set *st = stemmer_set_new();
    struct kbhit *hits = calloc((size_t)top, sizeof(*hits));
    for (size_t i = 0; i < tv.nrows; i++) {
        int dim = 0;
        float *qv = embed && k->dim > 0 ? rag_query_vec(g, NULL, tsv_cell(&tv, i, cq), &dim) : NULL;
        struct kbrank_opts o = { .staff = 1, .articles_only = 1, .qvec = qv, .qdim = dim };
        size_t m = kbindex_rank(k, tsv_cell(&tv, i, cq), &o, st, hits, (size_t)top);
        for (size_t j = 0; j < m; j++)
            printf("%s%s.md", j ? "\t" : "", k->docs[hits[j].doc].slug);
        printf("\n");
        free(qv);
    }
    free(hits);
    stemmer_set_free(&st);
    kbindex_unref(k);
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
    const char *e = NULL;
    if (argc >= 3 && strcmp(argv[1], "import") == 0)
        return cmd_import(g, db, argv[2]);
    if (argc >= 2 && strcmp(argv[1], "rank") == 0) {
        int top = 10, embed = 0;
        for (int i = 2; i < argc; i++) {
            if (strcmp(argv[i], "--top") == 0 && i + 1 < argc)
                top = atoi(argv[++i]);
            else if (strcmp(argv[i], "--embed") == 0)
                embed = 1;
        }
        return cmd_rank(g, db, top > 0 && top <= 1000 ? top : 10, embed);
    }
    if (argc >= 2 && strcmp(argv[1], "questions") == 0)
        return cmd_questions(g, db);
    if (argc >= 2 && strcmp(argv[1], "embed") == 0) {
        size_t done = 0;
        if (!llm_embed_enabled(g->llm)) {
            fprintf(stderr, "atumctl kb embed: no embedding model is configured (llm, llm_url, llm_embed_model)\n");
            return 1;
        }
        if (rag_embed_all(g, db, NULL, &done, &e) < 0) {
            fprintf(stderr, "atumctl kb embed: %s (%zu passages embedded before)\n", e, done);
            return 1;
        }
        printf("passages embedded: %zu\n", done);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "replay") == 0) {
        long long run = atoll(argv[2]), nrun = 0;
        struct atum_rows *r = NULL;
        char rid[24];
        snprintf(rid, sizeof(rid), "%lld", run);
        const char *p[] = { rid };
        if (run <= 0 || g->h->sql(db, "SELECT input::text, ticket_id FROM rag_runs WHERE id = $1", 1, p, &r, &e) < 0
            || g->h->rows_count(r) != 1) {
            fprintf(stderr, "atumctl kb replay: %s\n", run <= 0 ? "a run id is expected" : e ? e : "no such run");
            g->h->rows_free(&r);
            return 1;
        }
        json_t *input = json_loads(plug_cell(g->h, r, 0, 0), 0, NULL);
        long long tid = atoll(plug_cell(g->h, r, 0, 1));
        g->h->rows_free(&r);
        int rc = input ? rag_new_run(g, db, input, tid, 0, run, &nrun, &e) : -1;
        json_decref(input);
        if (rc == 0)
            rc = rag_run_answer(g, db, NULL, nrun, &e);
        if (rc < 0) {
            fprintf(stderr, "atumctl kb replay: %s\n", e ? e : "the run's input does not parse");
            return 1;
        }
        snprintf(rid, sizeof(rid), "%lld", nrun);
        if (g->h->sql(db, "SELECT method || E'\t' || outcome || E'\t' || coalesce(result::text, error, '')"
                          " FROM rag_runs WHERE id = $1", 1, p, &r, &e) == 0 && g->h->rows_count(r) == 1)
            printf("run %lld replays run %lld: %s\n", nrun, run, plug_cell(g->h, r, 0, 0));
        g->h->rows_free(&r);
        return 0;
    }
    fprintf(stderr, "usage: atumctl kb import DIR | rank [--top N] [--embed] < questions.tsv"
                    " | questions < FILE.tsv | embed | replay RUN_ID\n");
    return 2;
}

/* ---- routes without a language model ---------------------------------------------- */

static struct kbindex *kb_now(struct rag *g, struct atum_db *db)
{
    return kbcache_get(&g->kb, db);
}

/* GET /search?q=...&limit=N&queue_id=Q and GET /suggest?q=... (3 at most,
 * only those above the relevance threshold: the portal's new-ticket form
 * as the customer types).  Customers and the public see public articles;
 * staff also internal ones and solved tickets (search only). */
static int route_search(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    char q[2048], lim[16], qid[24];
    if (!plug_query_get(req->query, "q", q, sizeof(q)) || q[0] == '\0')
        return plug_problem(g->h, resp, 400, "q: a question is required");
    int suggest = strcmp(req->path, "/suggest") == 0;
    int limit = suggest ? 3 : 10;
    if (plug_query_get(req->query, "limit", lim, sizeof(lim)))
        limit = atoi(lim) > 0 && atoi(lim) <= 50 ? atoi(lim) : limit;
    plug_query_get(req->query, "queue_id", qid, sizeof(qid));
    struct kbindex *k = kb_now(g, req->db);
    if (k == NULL)
        return plug_problem(g->h, resp, 503, "the knowledge base is not available");
    struct stemmer_set *st = stemmer_set_new();
    struct kbhit hits[50];
    struct kbrank_opts o = { .staff = rag_staff_view(req), .articles_only = suggest,
                             .queue_id = atoll(qid) };
    size_t m = kbindex_rank(k, q, &o, st, hits, (size_t)limit);
    json_t *arr = json_array();
    for (size_t i = 0; i < m; i++)
        if (!suggest || hits[i].relevance >= g->min_relevance)
            json_array_append_new(arr, rag_hit_json(g, k, &hits[i], !suggest));
    stemmer_set_free(&st);
    kbcache_put(&g->kb, k);
    plug_reply_json(g->h, resp, 200, json_pack("{s:o}", "items", arr));
    return 0;
}

/* GET /answer?q=...: the top passages with citations; "answered": false
 * (I don't know) when nothing relevant scores above min_relevance.  A
 * drafted answer by a language model is POST /drafts (a job). */
static int route_answer(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    char q[4096], qid[24];
    if (!plug_query_get(req->query, "q", q, sizeof(q)) || q[0] == '\0')
        return plug_problem(g->h, resp, 400, "q: a question is required");
    plug_query_get(req->query, "queue_id", qid, sizeof(qid));
    struct kbindex *k = kb_now(g, req->db);
    if (k == NULL)
        return plug_problem(g->h, resp, 503, "the knowledge base is not available");
    struct stemmer_set *st = stemmer_set_new();
    struct kbhit hits[3];
    struct kbrank_opts o = { .staff = rag_staff_view(req), .articles_only = 1, .queue_id = atoll(qid) };
    size_t m = kbindex_rank(k, q, &o, st, hits, 3);
    double best = m ? hits[0].relevance : 0;
    int answered = best >= g->min_relevance;
    json_t *arr = json_array();
    for (size_t i = 0; answered && i < m; i++)
        if (hits[i].relevance >= g->min_relevance / 2)
            json_array_append_new(arr, rag_hit_json(g, k, &hits[i], 1));
    stemmer_set_free(&st);
    kbcache_put(&g->kb, k);
    plug_reply_json(g->h, resp, 200, json_pack("{s:b, s:s, s:f, s:o}", "answered", answered, "method", "local",
                                              "relevance", best, "citations", arr));
    return 0;
}

/* GET /status: the knowledge base's size, the language model (breaker). */
static int route_status(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    struct kbindex *k = kb_now(g, req->db);
    size_t arts = 0, tix = 0, vecs = 0;
    for (size_t i = 0; k && i < k->n; i++) {
        arts += k->docs[i].kind == KBDOC_ARTICLE;
        tix += k->docs[i].kind == KBDOC_TICKET;
        vecs += k->nvec ? k->nvec[i] : 0;
    }
    json_t *v = json_pack("{s:b, s:{s:I, s:I, s:I, s:s}, s:o, s:f}", "index", k != NULL, "documents",
                          "articles", (json_int_t)arts, "solved_tickets", (json_int_t)tix, "embedded_passages",
                          (json_int_t)vecs, "embed_model", llm_embed_model(g->llm), "llm",
                          llm_status_json(g->llm), "min_relevance", g->min_relevance);
    kbcache_put(&g->kb, k);
    plug_reply_json(g->h, resp, 200, v);
    return 0;
}

/* The body rendered for readers (the portal): CommonMark by cmark, raw
 * HTML and javascript:/vbscript:/file:/data: links suppressed (safe
 * mode).  The page's title is its only first-level heading, so a "# "
 * heading in the body becomes a second-level one. */
static char *article_html(const char *md)
{
    cmark_node *doc = cmark_parse_document(md, strlen(md), CMARK_OPT_DEFAULT | CMARK_OPT_SAFE);
    if (doc == NULL)
        return NULL;
    cmark_iter *it = cmark_iter_new(doc);
    cmark_event_type ev;
    while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
        cmark_node *n = cmark_iter_get_node(it);
        if (ev == CMARK_EVENT_ENTER && cmark_node_get_type(n) == CMARK_NODE_HEADING
            && cmark_node_get_heading_level(n) < 2)
            cmark_node_set_heading_level(n, 2);
    }
    cmark_iter_free(it);
    char *html = cmark_render_html(doc, CMARK_OPT_DEFAULT | CMARK_OPT_SAFE);
    cmark_node_free(doc);
    return html;
}

/* The articles that answer the same kind of question as article a (its
 * title and tags ranked against the KB, a itself left out): at most 5,
 * only what the caller may see (the index's own visibility rule), only
 * above half the relevance threshold.  An empty array without an index. */
static json_t *related_articles(struct rag *g, const struct atum_http_req *req, json_t *a)
{
    json_t *out = json_array();
    struct kbindex *k = kb_now(g, req->db);
    if (k == NULL)
        return out;
    char q[2048];
    const char *title = json_string_value(json_object_get(a, "title"));
    size_t o = (size_t)snprintf(q, sizeof(q), "%s", title ? title : "");
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(a, "tags"), i, t)
        if (json_is_string(t) && o + 1 < sizeof(q))
            o += (size_t)snprintf(q + o, sizeof(q) - o, " %s", json_string_value(t));
    json_int_t self = json_integer_value(json_object_get(a, "id"));
    struct stemmer_set *st = stemmer_set_new();
    struct kbhit hits[8];
    struct kbrank_opts opt = { .staff = rag_staff_view(req), .articles_only = 1 };
    size_t m = kbindex_rank(k, q, &opt, st, hits, 8);
    for (size_t j = 0; j < m && json_array_size(out) < 5; j++) {
        const struct kbdoc *d = &k->docs[hits[j].doc];
        if (d->id == self || hits[j].relevance < g->min_relevance / 2)
            continue;
        char link[600];
        rag_article_link(g, d->slug, link, sizeof(link));
        json_array_append_new(out, json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)d->id, "slug", d->slug,
                                             "title", d->title, "link", link));
    }
    stemmer_set_free(&st);
    kbcache_put(&g->kb, k);
    return out;
}

/* GET /article?slug=S or ?id=N: the article, its rendered html and the
 * related articles.  Customers and the public get a published public
 * article only (404 for any other, the same as for none). */
static int route_article(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    char slug[512], id[32];
    int by_slug = plug_query_get(req->query, "slug", slug, sizeof(slug));
    if (!by_slug && !plug_query_get(req->query, "id", id, sizeof(id)))
        return plug_problem(h, resp, 400, "slug or id is required");
    const char *staff = rag_staff_view(req) ? "t" : "f";
    const char *p[] = { by_slug ? slug : NULL, by_slug ? NULL : id, staff };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db, "SELECT json_build_object('id', a.id, 'slug', a.slug, 'title', a.title, 'body', a.body,"
                        " 'tags', a.tags, 'language', a.language, 'visibility', a.visibility, 'status', a.status,"
                        " 'category', c.name, 'queue_id', a.queue_id, 'version', a.version, 'created_at', a.created_at,"
                        " 'updated_at', a.updated_at)::text"
                        " FROM kb_articles a LEFT JOIN kb_categories c ON c.id = a.category_id"
                        " WHERE (a.slug = $1 OR a.id = $2::bigint)"
                        "   AND ($3::boolean OR (a.visibility = 'public' AND a.status = 'published'))",
               3, p, &r, &e) < 0) {
        return plug_problem(h, resp, 400, e);
    }
    if (h->rows_count(r) != 1) {
        h->rows_free(&r);
        return plug_problem(h, resp, 404, "no such article");
    }
    json_t *a = json_loads(plug_cell(h, r, 0, 0), 0, NULL);
    h->rows_free(&r);
    if (a == NULL)
        return plug_problem(h, resp, 500, "the article does not read back as JSON");
    const char *md = json_string_value(json_object_get(a, "body"));
    char *html = article_html(md ? md : "");
    json_object_set_new(a, "html", html ? json_string(html) : json_null());
    free(html);
    json_object_set_new(a, "related", related_articles(g, req, a));
    plug_reply_json(h, resp, 200, a);
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
        return plug_problem(h, resp, 400, "expected {\"article_id\": N, \"question\": \"...\"}");
    }
    char a[24];
    snprintf(a, sizeof(a), "%lld", (long long)aid);
    const char *p[] = { a, q };
    const char *e = NULL;
    int rc = h->sql(req->db, "INSERT INTO kb_questions (article_id, question, source) VALUES ($1, $2, 'admin')"
                             " ON CONFLICT (article_id, question) DO NOTHING", 2, p, NULL, &e);
    json_decref(b);
    if (rc < 0)
        return plug_problem(h, resp, 400, e);
    plug_reply_json(h, resp, 201, json_pack("{s:I}", "article_id", aid));
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
        return plug_problem(h, resp, 400, "expected {\"article_id\": N, \"ticket_id\"?: M}");
    }
    json_decref(b);
    char a[24], t[24], u[24];
    snprintf(a, sizeof(a), "%lld", (long long)aid);
    snprintf(t, sizeof(t), "%lld", (long long)tid);
    snprintf(u, sizeof(u), "%lld", req->user_id);
    const char *e = NULL;
    struct atum_rows *r = NULL;
    if (h->tx_begin(req->db, &e) < 0)
        return plug_problem(h, resp, 400, e);
    if (tid > 0) {
        const char *pc[] = { t, u };
        if (h->sql(req->db, "SELECT 1 FROM tickets WHERE id = $1 AND requester_id = $2::bigint", 2, pc, &r, &e) < 0
            || h->rows_count(r) != 1) {
            h->rows_free(&r);
            h->tx_rollback(req->db);
            return plug_problem(h, resp, 404, "no such ticket of yours");
        }
        h->rows_free(&r);
        struct atum_ticket_change ch = { .status = "closed", .note = "Closed by the customer: a KB article solved it." };
        if (h->ticket_update(req->db, tid, &ch, &e) < 0) {
            h->tx_rollback(req->db);
            return plug_problem(h, resp, 409, e);
        }
    }
    const char *p[] = { a, tid > 0 ? t : NULL, req->user_id > 0 ? u : NULL };
    if (h->sql(req->db, "INSERT INTO kb_deflections (article_id, ticket_id, user_id) VALUES ($1, $2, $3)",
               3, p, NULL, &e) < 0 || h->tx_commit(req->db, &e) < 0) {
        h->tx_rollback(req->db);
        return plug_problem(h, resp, 400, e);
    }
    h->counter_add("atum_rag_deflections_total", NULL, 1);
    plug_reply_json(h, resp, 201, json_pack("{s:I, s:b}", "article_id", aid, "ticket_closed", tid > 0));
    return 0;
}

/* ---- solved tickets --------------------------------------------------------------- */

/* ticket.updated to solved: the customer's question and the public
 * answers that solved it become a document for staff; a KB article the
 * answer links (/kb/SLUG) gets the question linked (kb_questions). */
static int hook_updated(void *state, struct atum_job *job)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    json_t *v = json_loads(job->payload ? job->payload : "{}", 0, NULL);
    json_t *d = json_object_get(v, "data");
    json_t *to = json_object_get(json_object_get(json_object_get(d, "changes"), "status"), "to");
    long long tid = json_is_integer(json_object_get(d, "ticket_id")) ? json_integer_value(json_object_get(d, "ticket_id")) : 0;
    int solved = json_is_string(to) && strcmp(json_string_value(to), "solved") == 0;
    json_decref(v);
    if (!solved || tid <= 0)
        return ATUM_JOB_DONE;
    char t[24];
    snprintf(t, sizeof(t), "%lld", tid);
    const char *p[] = { t };
    const char *e = NULL;
    if (h->tx_begin(job->db, &e) < 0)
        return h->job_error(job, "%s", e);
    /* a lost index entry is made again (the job runs again): no fsync */
    if (h->sql(job->db, "SET LOCAL synchronous_commit = off", 0, NULL, NULL, &e) < 0) {
        h->tx_rollback(job->db);
        return h->job_error(job, "%s", e);
    }
    /* the first customer message is the question; the staff's public
     * replies are the answer (quoted text and notes left out) */
    struct atum_rows *r = NULL;
    int rc = h->sql(job->db,
        "INSERT INTO rag_ticket_docs (ticket_id, queue_id, subject, question, answer, language)"
        " SELECT t.id, t.queue_id, t.subject,"
        "   coalesce((SELECT left(m.body_text, 20000) FROM messages m WHERE m.ticket_id = t.id"
        "             AND m.direction = 'in' ORDER BY m.created_at, m.id LIMIT 1), ''),"
        "   string_agg(left(a.body_text, 20000), E'\\n\\n' ORDER BY a.created_at, a.id), 'en'"
        " FROM tickets t JOIN messages a ON a.ticket_id = t.id AND a.direction = 'out' AND a.visibility = 'public'"
        " WHERE t.id = $1 GROUP BY t.id"
        " ON CONFLICT (ticket_id) DO UPDATE SET subject = EXCLUDED.subject, question = EXCLUDED.question,"
        "   answer = EXCLUDED.answer, queue_id = EXCLUDED.queue_id, solved_at = now()"
        " RETURNING answer", 1, p, &r, &e);
    if (rc == 0 && h->rows_count(r) == 1)
        rc = h->sql(job->db,
            "INSERT INTO kb_questions (article_id, question, source, ticket_id)"
            " SELECT a.id, left(d.subject || E'\\n' || d.question, 2000), 'ticket', d.ticket_id"
            " FROM rag_ticket_docs d JOIN kb_articles a"
            "   ON d.answer LIKE '%/kb/' || a.slug || '%' AND a.status = 'published'"
            " WHERE d.ticket_id = $1 AND d.question <> ''"
            " ON CONFLICT (article_id, question) DO NOTHING", 1, p, NULL, &e);
    h->rows_free(&r);
    if (rc == 0)
        rc = rag_embed_soon(g, job->db, &e);
    if (rc < 0 || h->job_complete_in_tx(job, &e) < 0 || h->tx_commit(job->db, &e) < 0) {
        h->tx_rollback(job->db);
        return h->job_error(job, "indexing solved ticket %lld: %s", tid, e);
    }
    h->counter_add("atum_rag_solved_indexed_total", NULL, 1);
    return ATUM_JOB_DONE;
}

/* ---- the acknowledgement's block and the ticket view ---------------------------------- */

/* The ticket's subject and first message, and its queue (0 when gone). */
static char *ticket_text(struct rag *g, struct atum_db *db, long long ticket_id, long long *queue_r)
{
    const struct atum_host *h = g->h;
    char t[24];
    snprintf(t, sizeof(t), "%lld", ticket_id);
    const char *p[] = { t };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    *queue_r = 0;
    /* the start of the message says what it is about; a long one costs
     * ranking time on the workers that also ingest mail */
    if (h->sql(db, "SELECT t.subject || E'\\n' || coalesce((SELECT left(m.body_text, 1500) FROM messages m"
                   "  WHERE m.ticket_id = t.id ORDER BY m.created_at, m.id LIMIT 1), ''), t.queue_id"
                   " FROM tickets t WHERE t.id = $1", 1, p, &r, &e) < 0 || h->rows_count(r) != 1) {
        h->rows_free(&r);
        return NULL;
    }
    char *text = strdup(plug_cell(h, r, 0, 0));
    *queue_r = atoll(plug_cell(h, r, 0, 1));
    h->rows_free(&r);
    return text;
}

/* "These articles may help": the public articles that answer the new
 * ticket best, above the relevance threshold, as links (public_url). */
static int mail_block(void *state, struct atum_db *db, const char *template_name, long long ticket_id,
                      struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    if (strcmp(template_name, "ack") != 0)
        return 0;
    long long queue = 0;
    char *text = ticket_text(g, db, ticket_id, &queue);
    if (text == NULL)
        return 0;
    int on = 1, limit = (int)h->conf_get_int(g->conf, "ack_suggestions", 3);
    char q[24];
    snprintf(q, sizeof(q), "%lld", queue);
    const char *p[] = { q };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(db, "SELECT ack_suggestions, ack_limit FROM rag_settings WHERE queue_id = $1", 1, p, &r, &e) == 0
        && h->rows_count(r) == 1) {
        on = strcmp(plug_cell(h, r, 0, 0), "t") == 0;
        limit = atoi(plug_cell(h, r, 0, 1));
    }
    h->rows_free(&r);
    if (!on || limit <= 0) {
        free(text);
        return 0;
    }
    if (limit > 10)
        limit = 10;
    struct kbindex *k = kb_now(g, db);
    struct stemmer_set *st = stemmer_set_new();
    struct kbhit hits[10];
    struct kbrank_opts o = { .staff = 0, .articles_only = 1, .queue_id = queue };
    size_t m = k ? kbindex_rank(k, text, &o, st, hits, (size_t)limit) : 0;
    char *md = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&md, &len);
    int shown = 0;
    for (size_t i = 0; f && i < m; i++) {
        if (hits[i].relevance < g->min_relevance)
            continue;
        const struct kbdoc *d = &k->docs[hits[i].doc];
        char link[600];
        rag_article_link(g, d->slug, link, sizeof(link));
        if (shown++ == 0)
            fputs("**These articles may help:**\n\n", f);
        /* titles are the KB's: brackets and backslashes escaped for Markdown */
        fputs("- [", f);
        for (const char *c = d->title; *c; c++) {
            if (strchr("[]\\*_`<>", *c))
                fputc('\\', f);
            fputc(*c, f);
        }
        fprintf(f, "](%s?ticket=%lld)\n", link, ticket_id);
    }
    if (shown)
        fputs("\nIf one of them solves your problem, you can close the ticket from the article's page.\n", f);
    if (f)
        fclose(f);
    if (shown) {
        h->http_reply(resp, 200, "text/markdown", md, len);
        h->counter_add("atum_rag_ack_suggestions_total", NULL, (double)shown);
    }
    free(md);
    stemmer_set_free(&st);
    kbcache_put(&g->kb, k);
    free(text);
    return 0;
}

/* The desk's side panel: articles (and solved tickets) that may answer
 * this ticket, with the passage, and the latest drafted answer. */
static int ticket_view(void *state, struct atum_db *db, long long ticket_id, struct atum_http_resp *resp)
{
    struct rag *g = state;
    long long queue = 0;
    char *text = ticket_text(g, db, ticket_id, &queue);
    if (text == NULL)
        return 0;
    struct kbindex *k = kb_now(g, db);
    struct stemmer_set *st = stemmer_set_new();
    struct kbhit hits[5];
    struct kbrank_opts o = { .staff = 1, .queue_id = queue };
    size_t m = k ? kbindex_rank(k, text, &o, st, hits, 5) : 0;
    json_t *arr = json_array();
    for (size_t i = 0; i < m; i++)
        if (hits[i].relevance >= g->min_relevance / 2)
            json_array_append_new(arr, rag_hit_json(g, k, &hits[i], 1));
    stemmer_set_free(&st);
    kbcache_put(&g->kb, k);
    free(text);
    json_t *v = json_pack("{s:o}", "suggestions", arr);
    char t[24];
    snprintf(t, sizeof(t), "%lld", ticket_id);
    const char *p[] = { t };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (g->h->sql(db, "SELECT json_build_object('run_id', id, 'method', method, 'outcome', outcome,"
                      " 'result', result, 'created_at', created_at)::text FROM rag_runs"
                      " WHERE ticket_id = $1 ORDER BY id DESC LIMIT 1", 1, p, &r, &e) == 0 && g->h->rows_count(r) == 1)
        json_object_set_new(v, "draft", json_loads(plug_cell(g->h, r, 0, 0), 0, NULL));
    g->h->rows_free(&r);
    plug_reply_json(g->h, resp, 200, v);
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
    const char *e = NULL;
    g->llm = llm_new(host, conf, "rag", &e);
    if (g->llm == NULL) {
        host->log(ATUM_LOG_ERROR, "rag: %s", e);
        free(g);
        return -1;
    }
    kbcache_init(&g->kb, host, llm_embed_model(g->llm));
    g->min_relevance = (double)host->conf_get_int(conf, "min_relevance_percent", 30) / 100.0;
    llm_metric_describe(host, "atum_rag_deflections_total", ATUM_METRIC_COUNTER,
                        "Customers' \"this solved it\" on a knowledge-base article");
    llm_metric_describe(host, "atum_rag_drafts_total", ATUM_METRIC_COUNTER,
                        "Answers drafted from retrieved passages, by method (llm, local)");
    llm_metric_describe(host, "atum_rag_embedded_passages_total", ATUM_METRIC_COUNTER,
                        "Knowledge-base passages embedded by the embedding model");
    llm_metric_describe(host, "atum_rag_solved_indexed_total", ATUM_METRIC_COUNTER,
                        "Solved tickets' public answers added to the index");
    llm_metric_describe(host, "atum_rag_ack_suggestions_total", ATUM_METRIC_COUNTER,
                        "Articles suggested in acknowledgement mails");
    *state = g;
    return 0;
}

static void fini(void *state)
{
    struct rag *g = state;
    if (g == NULL)
        return;
    kbcache_fini(&g->kb);
    llm_free(&g->llm);
    free(g);
}

static const struct atum_job_kind jobs[] = {
    { "rag.answer", rag_job_answer, 3, 120 },
    { "rag.embed", rag_job_embed, 5, 300 },
    { NULL, NULL, 0, 0 },
};

static const struct atum_hook hooks[] = {
    { "ticket.updated", hook_updated },
    { NULL, NULL },
};

static const struct atum_route routes[] = {
    { "GET", "/search", ATUM_ROLE_NONE, route_search },
    { "GET", "/suggest", ATUM_ROLE_NONE, route_search },
    { "GET", "/answer", ATUM_ROLE_NONE, route_answer },
    { "GET", "/article", ATUM_ROLE_NONE, route_article },
    { "PUT", "/article", ATUM_ROLE_ADMIN, rag_route_article_put },
    { "GET", "/articles", ATUM_ROLE_NONE, rag_route_articles },
    { "POST", "/articles", ATUM_ROLE_ADMIN, rag_route_articles },
    { "GET", "/revisions", ATUM_ROLE_AGENT, rag_route_revisions },
    { "POST", "/questions", ATUM_ROLE_ADMIN, route_link },
    { "POST", "/solved", ATUM_ROLE_CUSTOMER, route_solved },
    { "POST", "/drafts", ATUM_ROLE_CUSTOMER, rag_route_drafts },
    { "GET", "/runs", ATUM_ROLE_CUSTOMER, rag_route_runs },
    { "POST", "/replay", ATUM_ROLE_AGENT, rag_route_replay },
    { "GET", "/status", ATUM_ROLE_AGENT, route_status },
    { "GET", "/settings", ATUM_ROLE_AGENT, rag_route_settings },
    { "PUT", "/settings", ATUM_ROLE_ADMIN, rag_route_settings },
    { NULL, NULL, 0, NULL },
};

static const struct atum_conf_key conf_keys[] = {
    { "min_relevance_percent", "30", "below this relevance an answer says \"I don't know\" and no suggestion is shown" },
    { "public_url", NULL, "the address customers reach the portal at, for article links in mail (e.g. https://help.example.com)" },
    { "ack_suggestions", "3", "articles suggested in the acknowledgement mail (0: none; queues may override)" },
    LLM_CONF_KEYS,
    { NULL, NULL, NULL },
};

static const struct atum_command commands[] = {
    { "kb", "kb import DIR\nkb rank [--top N] [--embed] < questions.tsv\nkb questions < FILE.tsv\nkb embed\nkb replay RUN_ID",
      run_command },
    { NULL, NULL, NULL },
};

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "rag",
    .version = "1.1",
    .summary = "knowledge base, search and answers with citations",
    .init = init,
    .fini = fini,
    .jobs = jobs,
    .hooks = hooks,
    .routes = routes,
    .conf_keys = conf_keys,
    .migrations = rag_migrations,
    .ticket_view = ticket_view,
    .commands = commands,
    .hook_flags = ATUM_HOOKS_QUIET,      /* never a NOTIFY on the ingest commit */
    .mail_block = mail_block,
};

ATUM_PLUGIN_EXPORT const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
