/* mail/mimecut.c -- see mail/mimecut.h. */
#include "config.h"
#include "mail/mimecut.h"
#include "lib/xalloc.h"

#include <libetpan/libetpan.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BOUNDARY_MAX 200          /* RFC 2046 allows 70; be lenient, not unbounded */
#define LEAF_TYPE " application/octet-stream"

/* One open container: a multipart (its boundary) or an embedded message
 * (no boundary: it ends with the boundary of a container around it). */
struct level {
    char boundary[BOUNDARY_MAX + 1];
    size_t blen;                  /* 0: an embedded message */
    bool digest;                  /* multipart/digest: parts are messages by default */
};

enum kind { KIND_LEAF, KIND_MULTIPART, KIND_MESSAGE };

/* What one header block declares. */
struct block {
    size_t start;                 /* offset of the block's first line */
    bool have_ct;
    size_t ct_start, ct_end;      /* the Content-Type value, folded lines included */
    bool in_ct;                   /* the last header line was Content-Type */
};

/* An edit of the copy: [at, at + del) replaced by ins. */
struct edit {
    size_t at, del;
    const char *ins;
};

struct cut {
    struct edit *v;
    size_t n;
};

static void cut_add(struct cut *c, size_t at, size_t del, const char *ins)
{
    c->v = xrealloc(c->v, (c->n + 1) * sizeof(*c->v));
    c->v[c->n++] = (struct edit){ at, del, ins };
}

/* The kind of a Content-Type value, and a multipart's boundary. */
static enum kind content_kind(const char *v, size_t n, bool digest_default, struct level *lv)
{
    if (n == 0)
        return digest_default ? KIND_MESSAGE : KIND_LEAF;
    char *copy = xstrndup(v, n);
    size_t idx = 0;
    struct mailmime_content *ct = NULL;
    enum kind k = KIND_LEAF;
    if (mailmime_content_parse(copy, n, &idx, &ct) == MAILIMF_NO_ERROR && ct != NULL) {
        const struct mailmime_type *t = ct->ct_type;
        const char *major = NULL;
        if (t->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE) {
            major = t->tp_data.tp_composite_type->ct_type == MAILMIME_COMPOSITE_TYPE_MULTIPART
                    ? "multipart" : "message";
        }
        if (major && strcmp(major, "multipart") == 0) {
            char *b = mailmime_content_param_get(ct, "boundary");
            size_t bl = b ? strlen(b) : 0;
            if (bl > 0 && bl <= BOUNDARY_MAX) {
                memcpy(lv->boundary, b, bl);
                lv->boundary[bl] = '\0';
                lv->blen = bl;
                lv->digest = ct->ct_subtype && strcasecmp(ct->ct_subtype, "digest") == 0;
                k = KIND_MULTIPART;
            }
        } else if (major && ct->ct_subtype
                   && (strcasecmp(ct->ct_subtype, "rfc822") == 0 || strcasecmp(ct->ct_subtype, "global") == 0)) {
            k = KIND_MESSAGE;
        }
        mailmime_content_free(ct);
    }
    free(copy);
    return k;
}

/* The line [p, e) (without its LF, a CR before it dropped) closes or
 * opens a part of an open multipart?  *close_r: "--B--".  -1: neither. */
static int boundary_of(const struct level *stack, size_t depth, const char *p, const char *e,
                       bool *close_r)
{
    if (e > p && e[-1] == '\r')
        e--;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - p);
    if (n < 3 || p[0] != '-' || p[1] != '-')
        return -1;
    for (size_t i = depth; i-- > 0;) {
        const struct level *lv = &stack[i];
        if (lv->blen == 0 || n < 2 + lv->blen || memcmp(p + 2, lv->boundary, lv->blen) != 0)
            continue;
        if (n == 2 + lv->blen) {
            *close_r = false;
            return (int)i;
        }
        if (n == 4 + lv->blen && p[2 + lv->blen] == '-' && p[3 + lv->blen] == '-') {
            *close_r = true;
            return (int)i;
        }
    }
    return -1;
}

int mimecut(const char *buf, size_t len, int max_depth, struct strbuf *out)
{
    if (max_depth < 1)
        max_depth = 1;
    struct level *stack = xcalloc((size_t)max_depth + 1, sizeof(*stack));
    struct cut cut = { NULL, 0 };
    size_t depth = 0;             /* open containers; a block's part is at depth + 1 */
    bool in_headers = true;       /* the message's own header block first */
    bool digest_default = false;  /* the block belongs to a part of a digest */
    struct block blk = { 0, false, 0, 0, false };

    for (size_t pos = 0; pos < len;) {
        const char *p = buf + pos;
        const char *nl = memchr(p, '\n', len - pos);
        const char *e = nl ? nl : buf + len;
        size_t next = nl ? (size_t)(nl - buf) + 1 : len;
        if (in_headers) {
            bool blank = e == p || (e == p + 1 && p[0] == '\r');
            if (!blank) {
                if (p[0] == ' ' || p[0] == '\t') {
                    if (blk.in_ct)
                        blk.ct_end = (size_t)(e - buf);
                } else {
                    blk.in_ct = (size_t)(e - p) > 13 && strncasecmp(p, "Content-Type:", 13) == 0;
                    if (blk.in_ct) {
                        blk.have_ct = true;
                        blk.ct_start = pos + 13;
                        blk.ct_end = (size_t)(e - buf);
                    }
                }
                pos = next;
                continue;
            }
            /* the block ends: what does its part hold? */
            struct level lv = { "", 0, false };
            enum kind k = blk.have_ct
                ? content_kind(buf + blk.ct_start, blk.ct_end - blk.ct_start, false, &lv)
                : content_kind("", 0, digest_default, &lv);
            size_t part_depth = depth + 1;
            in_headers = false;
            if (k != KIND_LEAF && part_depth >= (size_t)max_depth) {
                /* too deep: this part is a leaf, its body kept as it is */
                if (blk.have_ct)
                    cut_add(&cut, blk.ct_start, blk.ct_end - blk.ct_start, LEAF_TYPE);
                else
                    cut_add(&cut, pos, 0, "Content-Type:" LEAF_TYPE "\n");
            } else if (k == KIND_MULTIPART) {
                stack[depth++] = lv;
            } else if (k == KIND_MESSAGE) {
                stack[depth++] = lv;     /* blen 0 */
                in_headers = true;       /* the embedded message's headers follow */
                digest_default = false;
                blk = (struct block){ next, false, 0, 0, false };
            }
            pos = next;
            continue;
        }
        bool close = false;
        int i = p < e && p[0] == '-' ? boundary_of(stack, depth, p, e, &close) : -1;
        if (i >= 0) {
            depth = (size_t)i + 1;       /* containers inside it are over */
            if (close) {
                depth = (size_t)i;
            } else {
                in_headers = true;
                digest_default = stack[i].digest;
                blk = (struct block){ next, false, 0, 0, false };
            }
        }
        pos = next;
    }
    free(stack);
    if (cut.n == 0)
        return 0;
    size_t at = 0;
    for (size_t i = 0; i < cut.n; i++) {
        strbuf_add(out, buf + at, cut.v[i].at - at);
        strbuf_adds(out, cut.v[i].ins);
        at = cut.v[i].at + cut.v[i].del;
    }
    strbuf_add(out, buf + at, len - at);
    free(cut.v);
    return 1;
}
