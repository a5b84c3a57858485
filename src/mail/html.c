/* mail/html.c -- see mail/html.h. */
#include "config.h"
#include "mail/html.h"

#include <ctype.h>
#include <gumbo.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define HTML_MAX_DEPTH 200
#define DATA_IMAGE_MAX (256 * 1024)
#define REMOTE_SRC_MAX 2048

static const char *const dropped_tags[] = {
    "script", "style", "head", "title", "iframe", "frame", "frameset", "object", "embed",
    "applet", "noscript", "template", "svg", "math", "meta", "link", "base", "input",
    "button", "select", "textarea", "option", "noembed", "noframes", "xmp", "plaintext",
    "audio", "video", "source", "track", "canvas", "param", "portal",
};

static const char *const kept_tags[] = {
    "a", "abbr", "address", "b", "bdi", "bdo", "blockquote", "br", "caption", "center", "cite",
    "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt", "em", "font", "h1", "h2",
    "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p", "pre",
    "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "table", "tbody",
    "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul", "var", "wbr", "section", "article",
    "header", "footer", "main", "figure", "figcaption",
};

static const char *const kept_attrs[] = {
    "title", "dir", "lang", "align", "valign", "width", "height", "colspan", "rowspan",
    "border", "cellpadding", "cellspacing", "bgcolor", "color", "face", "size", "alt",
    "start", "type", "datetime", "nowrap", "span",
};

static const char *const void_tags[] = { "br", "hr", "img", "col", "wbr" };

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(s, list[i]) == 0)
            return true;
    return false;
}
#define IN(s, list) in_list((s), (list), sizeof(list) / sizeof((list)[0]))

static void esc_text(struct strbuf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': strbuf_adds(out, "&amp;"); break;
        case '<': strbuf_adds(out, "&lt;"); break;
        case '>': strbuf_adds(out, "&gt;"); break;
        default: strbuf_addc(out, *s);
        }
    }
}

static void esc_attr(struct strbuf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': strbuf_adds(out, "&amp;"); break;
        case '<': strbuf_adds(out, "&lt;"); break;
        case '>': strbuf_adds(out, "&gt;"); break;
        case '"': strbuf_adds(out, "&quot;"); break;
        default: strbuf_addc(out, *s);
        }
    }
}

/* Tag name of an element, lower case, in buf. */
static const char *tag_name(const GumboNode *n, char *buf, size_t size)
{
    const GumboElement *e = &n->v.element;
    if (e->tag != GUMBO_TAG_UNKNOWN)
        return gumbo_normalized_tagname(e->tag);
    GumboStringPiece p = e->original_tag;
    gumbo_tag_from_original_text(&p);
    size_t k = 0;
    for (size_t i = 0; i < p.length && k + 1 < size; i++)
        buf[k++] = (char)tolower((unsigned char)p.data[i]);
    buf[k] = '\0';
    return buf;
}

/* Scheme check ignoring case, leading spaces and embedded control
 * characters (browsers ignore those, attackers use them). */
static bool url_has_scheme(const char *url, const char *scheme)
{
    char clean[32];
    size_t k = 0;
    for (const char *p = url; *p && k + 1 < sizeof(clean); p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ')
            continue;
        clean[k++] = (char)tolower(c);
        if (c == ':')
            break;
    }
    clean[k] = '\0';
    return strncmp(clean, scheme, strlen(scheme)) == 0;
}

static bool href_ok(const char *v)
{
    return url_has_scheme(v, "http:") || url_has_scheme(v, "https:") || url_has_scheme(v, "mailto:")
           || (v[0] == '#' && strchr(v, ':') == NULL);
}

static bool data_image_ok(const char *v)
{
    static const char *const ok[] = { "data:image/png;", "data:image/gif;", "data:image/jpeg;",
                                      "data:image/jpg;", "data:image/webp;" };
    if (strlen(v) > DATA_IMAGE_MAX)
        return false;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strncasecmp(v, ok[i], strlen(ok[i])) == 0)
            return true;
    return false;
}

/* A remote image address worth keeping (as data-remote-src, which no
 * browser loads): absolute http(s), one line, of a sane length. */
static bool remote_src_ok(const char *v)
{
    size_t n = strlen(v);
    if (n > REMOTE_SRC_MAX || !(url_has_scheme(v, "http:") || url_has_scheme(v, "https:")))
        return false;
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static void sanitize_node(const GumboNode *n, struct strbuf *out, struct html_info *info, int depth);

static void sanitize_children(const GumboVector *kids, struct strbuf *out, struct html_info *info,
                              int depth)
{
    for (unsigned i = 0; i < kids->length; i++)
        sanitize_node(kids->data[i], out, info, depth + 1);
}

static void sanitize_element(const GumboNode *n, struct strbuf *out, struct html_info *info,
                             int depth)
{
    char buf[64];
    const char *tag = tag_name(n, buf, sizeof(buf));
    const GumboElement *e = &n->v.element;

    if (IN(tag, dropped_tags)) {
        info->dropped_elements++;
        return;
    }
    if (!IN(tag, kept_tags)) {
        sanitize_children(&e->children, out, info, depth);   /* unwrap */
        return;
    }
    bool is_a = strcmp(tag, "a") == 0, is_img = strcmp(tag, "img") == 0;
    strbuf_addc(out, '<');
    strbuf_adds(out, tag);
    for (unsigned i = 0; i < e->attributes.length; i++) {
        const GumboAttribute *a = e->attributes.data[i];
        const char *v = a->value ? a->value : "";
        bool keep = false;
        const char *name = a->name;
        if (is_a && strcasecmp(a->name, "href") == 0) {
            keep = href_ok(v);
        } else if (is_img && strcasecmp(a->name, "src") == 0) {
            if (url_has_scheme(v, "cid:") || data_image_ok(v)) {
                keep = true;
            } else if (url_has_scheme(v, "http:") || url_has_scheme(v, "https:") || v[0] == '/') {
                info->remote_images++;
                /* kept where nothing loads it, for the reader to allow */
                if (remote_src_ok(v)) {
                    keep = true;
                    name = "data-remote-src";
                }
            }
        } else if (IN(a->name, kept_attrs)) {
            keep = true;    /* presentational values only: never a URL */
        }
        if (!keep)
            continue;
        strbuf_addc(out, ' ');
        strbuf_adds(out, name);
        strbuf_adds(out, "=\"");
        esc_attr(out, v);
        strbuf_addc(out, '"');
    }
    if (is_a)
        strbuf_adds(out, " rel=\"noopener noreferrer nofollow\" target=\"_blank\"");
    strbuf_addc(out, '>');
    if (IN(tag, void_tags))
        return;
    sanitize_children(&e->children, out, info, depth);
    strbuf_adds(out, "</");
    strbuf_adds(out, tag);
    strbuf_addc(out, '>');
}

static void sanitize_node(const GumboNode *n, struct strbuf *out, struct html_info *info, int depth)
{
    if (depth > HTML_MAX_DEPTH) {
        info->too_deep++;
        return;
    }
    switch (n->type) {
    case GUMBO_NODE_TEXT:
    case GUMBO_NODE_WHITESPACE:
    case GUMBO_NODE_CDATA:
        esc_text(out, n->v.text.text);
        break;
    case GUMBO_NODE_ELEMENT:
    case GUMBO_NODE_TEMPLATE:
        sanitize_element(n, out, info, depth);
        break;
    case GUMBO_NODE_DOCUMENT:
        sanitize_children(&n->v.document.children, out, info, depth);
        break;
    case GUMBO_NODE_COMMENT:
        break;
    }
}

/* The <body> element of a parsed document (gumbo always makes one). */
static const GumboNode *find_body(const GumboNode *root)
{
    if (root->type != GUMBO_NODE_ELEMENT)
        return root;
    const GumboVector *kids = &root->v.element.children;
    for (unsigned i = 0; i < kids->length; i++) {
        const GumboNode *k = kids->data[i];
        if (k->type == GUMBO_NODE_ELEMENT && k->v.element.tag == GUMBO_TAG_BODY)
            return k;
    }
    return root;
}

void html_sanitize(const char *html, size_t len, struct strbuf *out, struct html_info *info)
{
    memset(info, 0, sizeof(*info));
    GumboOutput *g = gumbo_parse_with_options(&kGumboDefaultOptions, html, len);
    if (g == NULL)
        return;
    const GumboNode *body = find_body(g->root);
    if (body->type == GUMBO_NODE_ELEMENT)
        sanitize_children(&body->v.element.children, out, info, 0);
    gumbo_destroy_output(&kGumboDefaultOptions, g);
}

/* ---- text ------------------------------------------------------------- */

struct text_state {
    struct strbuf *out;
    bool space;              /* a space is pending */
    int newlines;            /* newlines at the end of out */
    bool pre;
};

static void text_newlines(struct text_state *t, int want)
{
    if (t->out->len == 0)
        return;
    while (t->newlines < want) {
        strbuf_addc(t->out, '\n');
        t->newlines++;
    }
    t->space = false;
}

static void text_word(struct text_state *t, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (t->space && t->newlines == 0 && t->out->len > 0)
        strbuf_addc(t->out, ' ');
    t->space = false;
    strbuf_add(t->out, s, n);
    t->newlines = 0;
}

static void text_run(struct text_state *t, const char *s)
{
    if (t->pre) {
        for (; *s; s++) {
            strbuf_addc(t->out, *s);
            t->newlines = *s == '\n' ? t->newlines + 1 : 0;
        }
        return;
    }
    while (*s) {
        if (isspace((unsigned char)*s)) {
            t->space = true;
            s++;
            continue;
        }
        const char *w = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        text_word(t, w, (size_t)(s - w));
    }
}

static const char *attr(const GumboNode *n, const char *name)
{
    const GumboAttribute *a = gumbo_get_attribute(&n->v.element.attributes, name);
    return a ? a->value : NULL;
}

static void text_node(const GumboNode *n, struct text_state *t, int depth);

static void text_children(const GumboNode *n, struct text_state *t, int depth)
{
    const GumboVector *kids = n->type == GUMBO_NODE_DOCUMENT ? &n->v.document.children
                                                             : &n->v.element.children;
    for (unsigned i = 0; i < kids->length; i++)
        text_node(kids->data[i], t, depth + 1);
}

static void text_node(const GumboNode *n, struct text_state *t, int depth)
{
    if (depth > HTML_MAX_DEPTH)
        return;
    if (n->type == GUMBO_NODE_TEXT || n->type == GUMBO_NODE_WHITESPACE || n->type == GUMBO_NODE_CDATA) {
        text_run(t, n->v.text.text);
        return;
    }
    if (n->type == GUMBO_NODE_DOCUMENT) {
        text_children(n, t, depth);
        return;
    }
    if (n->type != GUMBO_NODE_ELEMENT && n->type != GUMBO_NODE_TEMPLATE)
        return;
    char buf[64];
    const char *tag = tag_name(n, buf, sizeof(buf));
    if (IN(tag, dropped_tags))
        return;
    static const char *const blocks[] = { "p", "div", "table", "tr", "ul", "ol", "dl", "h1", "h2",
        "h3", "h4", "h5", "h6", "blockquote", "pre", "address", "section", "article", "header",
        "footer", "center", "hr", "form", "fieldset" };
    bool block = IN(tag, blocks);
    bool para = strcmp(tag, "p") == 0 || tag[0] == 'h' || strcmp(tag, "table") == 0
                || strcmp(tag, "blockquote") == 0 || strcmp(tag, "ul") == 0 || strcmp(tag, "ol") == 0;
    if (strcmp(tag, "br") == 0) {
        strbuf_addc(t->out, '\n');
        t->newlines++;
        t->space = false;
        return;
    }
    if (block)
        text_newlines(t, para ? 2 : 1);
    if (strcmp(tag, "li") == 0) {
        text_newlines(t, 1);
        text_word(t, "-", 1);
        t->space = true;
    }
    if ((strcmp(tag, "td") == 0 || strcmp(tag, "th") == 0) && t->newlines == 0)
        t->space = true;
    if (strcmp(tag, "img") == 0) {
        const char *alt = attr(n, "alt");
        if (alt && *alt) {
            t->space = true;
            text_word(t, "[", 1);
            text_run(t, alt);
            text_word(t, "]", 1);
        }
        return;
    }
    bool was_pre = t->pre;
    if (strcmp(tag, "pre") == 0)
        t->pre = true;
    size_t before = t->out->len;
    text_children(n, t, depth);
    t->pre = was_pre;
    if (strcmp(tag, "a") == 0) {
        const char *href = attr(n, "href");
        if (href && (url_has_scheme(href, "http:") || url_has_scheme(href, "https:"))) {
            size_t tl = t->out->len - before;
            const char *txt = t->out->s ? t->out->s + before : "";
            /* "text <url>" unless the text already is the url */
            if (tl == 0 || memmem(txt, tl, href, strlen(href)) == NULL) {
                if (t->out->len > 0 && t->newlines == 0)
                    strbuf_addc(t->out, ' ');
                strbuf_addc(t->out, '<');
                strbuf_adds(t->out, href);
                strbuf_addc(t->out, '>');
                t->newlines = 0;
                t->space = false;
            }
        }
    }
    if (block)
        text_newlines(t, para ? 2 : 1);
}

void html_to_text(const char *html, size_t len, struct strbuf *out)
{
    GumboOutput *g = gumbo_parse_with_options(&kGumboDefaultOptions, html, len);
    if (g == NULL)
        return;
    struct strbuf tmp = STRBUF_INIT;
    struct text_state t = { &tmp, false, 0, false };
    text_node(find_body(g->root), &t, 0);
    gumbo_destroy_output(&kGumboDefaultOptions, g);
    /* trim trailing newlines and spaces */
    while (tmp.len > 0 && (tmp.s[tmp.len - 1] == '\n' || tmp.s[tmp.len - 1] == ' '))
        tmp.len--;
    if (tmp.len > 0)
        strbuf_add(out, tmp.s, tmp.len);
    strbuf_free(&tmp);
}
