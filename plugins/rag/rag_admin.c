/*
 * plugins/rag/rag_admin.c -- the knowledge base's articles through the
 * API (list, create, edit with a revision kept for every version, an
 * edit that crosses a newer one answers 409) and the per-queue settings.
 */
#include "rag-private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARTICLE_JSON \
    "json_build_object('id', a.id, 'slug', a.slug, 'title', a.title, 'body', a.body, 'tags', a.tags," \
    " 'language', a.language, 'visibility', a.visibility, 'status', a.status, 'queue_id', a.queue_id," \
    " 'category', (SELECT c.name FROM kb_categories c WHERE c.id = a.category_id), 'version', a.version," \
    " 'created_at', a.created_at, 'updated_at', a.updated_at)"

/* an article's answer: the row as JSON, by id */
static int reply_article(struct rag *g, struct atum_db *db, const char *id, int status, struct atum_http_resp *resp)
{
    const struct atum_host *h = g->h;
    const char *p[] = { id };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(db, "SELECT " ARTICLE_JSON "::text FROM kb_articles a WHERE a.id = $1", 1, p, &r, &e) < 0)
        return plug_problem(h, resp, 500, e);
    if (h->rows_count(r) != 1) {
        h->rows_free(&r);
        return plug_problem(h, resp, 404, "no such article");
    }
    h->http_reply(resp, status, "application/json", plug_cell(h, r, 0, 0), strlen(plug_cell(h, r, 0, 0)));
    h->rows_free(&r);
    return 0;
}

/* "How do I reset my password?" -> "how-do-i-reset-my-password" */
static void slug_of(const char *title, char *out, size_t size)
{
    size_t o = 0;
    int dash = 0;
    for (const unsigned char *p = (const unsigned char *)title; *p && o + 2 < size; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')) {
            if (dash && o > 0)
                out[o++] = '-';
            out[o++] = (char)*p;
            dash = 0;
        } else if (*p >= 'A' && *p <= 'Z') {
            if (dash && o > 0)
                out[o++] = '-';
            out[o++] = (char)(*p + 32);
            dash = 0;
        } else {
            dash = 1;
        }
        if (o >= 80)
            break;
    }
    out[o] = '\0';
    if (o == 0)
        snprintf(out, size, "article");
}

/* the tags of a JSON array as a text of comma-separated values; -1 when
 * it is not an array of strings without commas */
static int tags_text(json_t *tags, char *out, size_t size)
{
    size_t o = 0, i;
    json_t *t;
    out[0] = '\0';
    if (tags == NULL)
        return 0;
    if (!json_is_array(tags))
        return -1;
    json_array_foreach(tags, i, t) {
        const char *s = json_string_value(t);
        if (s == NULL || strchr(s, ',') != NULL || strlen(s) > 64 || o + strlen(s) + 2 >= size)
            return -1;
        o += (size_t)snprintf(out + o, size - o, "%s%s", i ? "," : "", s);
    }
    return 0;
}

static int valid_choice(const char *v, const char *a, const char *b)
{
    return v == NULL || strcmp(v, a) == 0 || strcmp(v, b) == 0;
}

/* GET /articles?status=&q=&limit=&offset=: staff see every article,
 * customers and the public the published public ones.
 * POST /articles {"title", "body", "slug"?, "tags"?, "language"?,
 * "visibility"?, "status"?, "queue_id"?, "category"?}: a new article, its
 * first revision kept. */
int rag_route_articles(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    const char *e = NULL;
    struct atum_rows *r = NULL;
    if (strcmp(req->method, "GET") == 0) {
        char status[16], q[512], lim[16], off[16];
        plug_query_get(req->query, "status", status, sizeof(status));
        plug_query_get(req->query, "q", q, sizeof(q));
        int limit = plug_query_get(req->query, "limit", lim, sizeof(lim)) ? atoi(lim) : 50;
        int offset = plug_query_get(req->query, "offset", off, sizeof(off)) ? atoi(off) : 0;
        if (limit <= 0 || limit > 200 || offset < 0)
            return plug_problem(h, resp, 400, "limit: 1..200, offset >= 0");
        snprintf(lim, sizeof(lim), "%d", limit);
        snprintf(off, sizeof(off), "%d", offset);
        const char *p[] = { rag_staff_view(req) ? "t" : "f", status[0] ? status : NULL,
                            q[0] ? q : NULL, lim, off };
        if (h->sql(req->db,
                   "SELECT json_build_object('items', coalesce((SELECT json_agg(x.j ORDER BY x.title, x.id) FROM"
                   "  (SELECT (" ARTICLE_JSON ")::jsonb - 'body' j, a.title, a.id FROM kb_articles a"
                   "    WHERE ($1::boolean OR (a.visibility = 'public' AND a.status = 'published'))"
                   "      AND ($2::text IS NULL OR a.status = $2)"
                   "      AND ($3::text IS NULL OR a.title ILIKE '%' || $3 || '%' OR $3 = ANY (a.tags))"
                   "    ORDER BY a.title, a.id LIMIT $4::int OFFSET $5::int) x), '[]'::json),"
                   " 'total', (SELECT count(*) FROM kb_articles a"
                   "    WHERE ($1::boolean OR (a.visibility = 'public' AND a.status = 'published'))"
                   "      AND ($2::text IS NULL OR a.status = $2)"
                   "      AND ($3::text IS NULL OR a.title ILIKE '%' || $3 || '%' OR $3 = ANY (a.tags))))::text",
                   5, p, &r, &e) < 0)
            return plug_problem(h, resp, 400, e);
        h->http_reply(resp, 200, "application/json", plug_cell(h, r, 0, 0), strlen(plug_cell(h, r, 0, 0)));
        h->rows_free(&r);
        return 0;
    }
    json_t *b = json_loads(req->body ? req->body : "", 0, NULL);
    const char *title = NULL, *body = NULL, *slug = NULL, *lang = NULL, *vis = NULL, *st = NULL, *cat = NULL;
    json_t *tags = NULL;
    json_int_t queue = 0;
    json_error_t je;
    char tagbuf[2048];
    if (b == NULL
        || json_unpack_ex(b, &je, JSON_STRICT, "{s:s, s:s, s?s, s?o, s?s, s?s, s?s, s?I, s?s}", "title", &title,
                          "body", &body, "slug", &slug, "tags", &tags, "language", &lang, "visibility", &vis,
                          "status", &st, "queue_id", &queue, "category", &cat) < 0
        || title[0] == '\0' || tags_text(tags, tagbuf, sizeof(tagbuf)) < 0 || !valid_choice(vis, "public", "internal")
        || !valid_choice(st, "draft", "published")) {
        json_decref(b);
        return plug_problem(h, resp, 400, "expected {\"title\", \"body\", \"slug\"?, \"tags\"?: [...], \"language\"?,"
                                         " \"visibility\"?: public|internal, \"status\"?: draft|published,"
                                         " \"queue_id\"?, \"category\"?}");
    }
    char sl[128], q[24], uid[24];
    if (slug)
        snprintf(sl, sizeof(sl), "%s", slug);
    else
        slug_of(title, sl, sizeof(sl));
    snprintf(q, sizeof(q), "%lld", (long long)queue);
    snprintf(uid, sizeof(uid), "%lld", req->user_id);
    const char *p[] = { sl, title, body, tagbuf, lang ? lang : "en", vis ? vis : "public", st ? st : "published",
                        queue > 0 ? q : NULL, cat, req->user_id > 0 ? uid : NULL };
    char id[24] = "";
    int rc = h->tx_begin(req->db, &e);
    if (rc == 0 && cat && cat[0])
        rc = h->sql(req->db, "INSERT INTO kb_categories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", 1,
                    &p[8], NULL, &e);
    if (rc == 0)
        rc = h->sql(req->db,
                    "INSERT INTO kb_articles (slug, title, body, tags, language, visibility, status, queue_id, category_id)"
                    " VALUES ($1, $2, $3, array_remove(string_to_array($4, ','), ''), $5, $6, $7, $8::bigint,"
                    "  (SELECT id FROM kb_categories WHERE name = $9))"
                    " ON CONFLICT (slug) DO NOTHING RETURNING id", 9, p, &r, &e);
    if (rc == 0 && h->rows_count(r) == 1) {
        snprintf(id, sizeof(id), "%s", plug_cell(h, r, 0, 0));
        const char *pr[] = { id, req->user_id > 0 ? uid : NULL };
        rc = h->sql(req->db, "INSERT INTO kb_revisions (article_id, version, title, body, tags, visibility, status,"
                             " created_by) SELECT id, version, title, body, tags, visibility, status, $2::bigint"
                             " FROM kb_articles WHERE id = $1", 2, pr, NULL, &e);
    }
    h->rows_free(&r);
    if (rc == 0 && id[0] == '\0') {
        h->tx_rollback(req->db);
        json_decref(b);
        return plug_problem(h, resp, 409, "an article with this slug exists");
    }
    if (rc == 0)
        rc = rag_embed_soon(g, req->db, &e);
    if (rc == 0)
        rc = h->tx_commit(req->db, &e);
    json_decref(b);
    if (rc < 0) {
        h->tx_rollback(req->db);
        return plug_problem(h, resp, 400, e);
    }
    kbcache_touch(&g->kb);
    return reply_article(g, req->db, id, 201, resp);
}

/* PUT /article?id=N {"version": V, "title"?, "body"?, "tags"?, "language"?,
 * "visibility"?, "status"?, "queue_id"?, "category"?}: a new version when
 * V is the current one (else 409 with the current version); each version
 * is kept in kb_revisions. */
int rag_route_article_put(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    char id[24];
    if (!plug_query_get(req->query, "id", id, sizeof(id)) || atoll(id) <= 0)
        return plug_problem(h, resp, 400, "id: an article id is required");
    snprintf(id, sizeof(id), "%lld", atoll(id));
    json_t *b = json_loads(req->body ? req->body : "", 0, NULL);
    const char *title = NULL, *body = NULL, *lang = NULL, *vis = NULL, *st = NULL, *cat = NULL;
    json_t *tags = NULL;
    json_int_t version = 0, queue = -1;
    json_error_t je;
    char tagbuf[2048];
    if (b == NULL
        || json_unpack_ex(b, &je, JSON_STRICT, "{s:I, s?s, s?s, s?o, s?s, s?s, s?s, s?I, s?s}", "version", &version,
                          "title", &title, "body", &body, "tags", &tags, "language", &lang, "visibility", &vis,
                          "status", &st, "queue_id", &queue, "category", &cat) < 0
        || (title && title[0] == '\0') || tags_text(tags, tagbuf, sizeof(tagbuf)) < 0
        || !valid_choice(vis, "public", "internal") || !valid_choice(st, "draft", "published")) {
        json_decref(b);
        return plug_problem(h, resp, 400, "expected {\"version\": V, and the fields that change}");
    }
    char v[24], q[24], uid[24];
    snprintf(v, sizeof(v), "%lld", (long long)version);
    snprintf(q, sizeof(q), "%lld", (long long)queue);
    snprintf(uid, sizeof(uid), "%lld", req->user_id);
    const char *p[] = { id, v, title, body, tags ? tagbuf : NULL, lang, vis, st, queue >= 0 ? q : NULL, cat,
                        req->user_id > 0 ? uid : NULL };
    const char *e = NULL;
    struct atum_rows *r = NULL;
    int rc = h->tx_begin(req->db, &e), changed = 0;
    if (rc == 0 && cat && cat[0])
        rc = h->sql(req->db, "INSERT INTO kb_categories (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", 1,
                    &p[9], NULL, &e);
    if (rc == 0)
        rc = h->sql(req->db,
                    "UPDATE kb_articles SET title = coalesce($3, title), body = coalesce($4, body),"
                    " tags = coalesce(array_remove(string_to_array($5, ','), ''), tags),"
                    " language = coalesce($6, language), visibility = coalesce($7, visibility),"
                    " status = coalesce($8, status),"
                    " queue_id = CASE WHEN $9::bigint IS NULL THEN queue_id WHEN $9::bigint = 0 THEN NULL ELSE $9::bigint END,"
                    " category_id = CASE WHEN $10::text IS NULL THEN category_id"
                    "   ELSE (SELECT id FROM kb_categories WHERE name = $10) END,"
                    " version = version + 1, updated_at = now()"
                    " WHERE id = $1 AND version = $2::int RETURNING id", 10, p, &r, &e);
    if (rc == 0)
        changed = h->rows_count(r) == 1;
    h->rows_free(&r);
    if (rc == 0 && changed) {
        const char *pr[] = { id, p[10] };
        rc = h->sql(req->db, "INSERT INTO kb_revisions (article_id, version, title, body, tags, visibility, status,"
                             " created_by) SELECT id, version, title, body, tags, visibility, status, $2::bigint"
                             " FROM kb_articles WHERE id = $1", 2, pr, NULL, &e);
        if (rc == 0)
            rc = rag_embed_soon(g, req->db, &e);
    }
    if (rc == 0 && !changed) {
        h->tx_rollback(req->db);
        json_decref(b);
        const char *pc[] = { id };
        if (h->sql(req->db, "SELECT version FROM kb_articles WHERE id = $1", 1, pc, &r, &e) < 0)
            return plug_problem(h, resp, 500, e);
        int exists = h->rows_count(r) == 1;
        char detail[128];
        snprintf(detail, sizeof(detail), "the article changed meanwhile: its version is now %s",
                 exists ? plug_cell(h, r, 0, 0) : "?");
        h->rows_free(&r);
        return exists ? plug_problem(h, resp, 409, detail) : plug_problem(h, resp, 404, "no such article");
    }
    if (rc == 0)
        rc = h->tx_commit(req->db, &e);
    json_decref(b);
    if (rc < 0) {
        h->tx_rollback(req->db);
        return plug_problem(h, resp, 400, e);
    }
    kbcache_touch(&g->kb);
    return reply_article(g, req->db, id, 200, resp);
}

/* GET /revisions?id=N: every kept version of an article, newest first. */
int rag_route_revisions(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    char id[24];
    if (!plug_query_get(req->query, "id", id, sizeof(id)) || atoll(id) <= 0)
        return plug_problem(h, resp, 400, "id: an article id is required");
    snprintf(id, sizeof(id), "%lld", atoll(id));
    const char *p[] = { id };
    struct atum_rows *r = NULL;
    const char *e = NULL;
    if (h->sql(req->db, "SELECT CASE WHEN EXISTS (SELECT 1 FROM kb_articles WHERE id = $1) THEN"
                        " coalesce(json_agg(json_build_object('version', v.version, 'title', v.title, 'body', v.body,"
                        "  'tags', v.tags, 'visibility', v.visibility, 'status', v.status, 'created_by', v.created_by,"
                        "  'created_at', v.created_at) ORDER BY v.version DESC), '[]')::text END"
                        " FROM kb_revisions v WHERE v.article_id = $1", 1, p, &r, &e) < 0)
        return plug_problem(h, resp, 500, e);
    if (h->rows_value(r, 0, 0) == NULL) {
        h->rows_free(&r);
        return plug_problem(h, resp, 404, "no such article");
    }
    json_t *items = json_loads(plug_cell(h, r, 0, 0), 0, NULL);
    h->rows_free(&r);
    plug_reply_json(h, resp, 200, json_pack("{s:I, s:o}", "article_id", (json_int_t)atoll(id), "items",
                                           items ? items : json_array()));
    return 0;
}

/* GET /settings; PUT /settings {"queue_id": N, "llm"?, "ack_suggestions"?,
 * "ack_limit"?}: a queue's settings (a queue without a row uses the
 * [plugin.rag] keys). */
int rag_route_settings(void *state, const struct atum_http_req *req, struct atum_http_resp *resp)
{
    struct rag *g = state;
    const struct atum_host *h = g->h;
    const char *e = NULL;
    struct atum_rows *r = NULL;
    if (strcmp(req->method, "PUT") == 0) {
        json_t *b = json_loads(req->body ? req->body : "", 0, NULL);
        json_int_t q = 0, limit = 3;
        int llm = 1, ack = 1;
        json_error_t je;
        if (b == NULL || json_unpack_ex(b, &je, JSON_STRICT, "{s:I, s?b, s?b, s?I}", "queue_id", &q, "llm", &llm,
                                        "ack_suggestions", &ack, "ack_limit", &limit) < 0
            || q <= 0 || limit < 1 || limit > 10) {
            json_decref(b);
            return plug_problem(h, resp, 400, "expected {\"queue_id\": N, \"llm\"?, \"ack_suggestions\"?,"
                                             " \"ack_limit\"?: 1..10}");
        }
        json_decref(b);
        char qs[24], ls[24];
        snprintf(qs, sizeof(qs), "%lld", (long long)q);
        snprintf(ls, sizeof(ls), "%lld", (long long)limit);
        const char *p[] = { qs, llm ? "t" : "f", ack ? "t" : "f", ls };
        if (h->sql(req->db, "INSERT INTO rag_settings (queue_id, llm, ack_suggestions, ack_limit)"
                            " VALUES ($1, $2, $3, $4) ON CONFLICT (queue_id) DO UPDATE SET llm = $2,"
                            " ack_suggestions = $3, ack_limit = $4", 4, p, NULL, &e) < 0)
            return plug_problem(h, resp, 400, e);
    }
    if (h->sql(req->db, "SELECT coalesce(json_agg(s ORDER BY queue_id), '[]')::text FROM rag_settings s",
               0, NULL, &r, &e) < 0)
        return plug_problem(h, resp, 500, e);
    h->http_reply(resp, 200, "application/json", plug_cell(h, r, 0, 0), strlen(plug_cell(h, r, 0, 0)));
    h->rows_free(&r);
    return 0;
}
