/* mail/mime.c -- see mail/mime.h. */
#include "config.h"
#include "mail/mime.h"
#include "mail/mimecut.h"
#include "mail/charset.h"
#include "mail/html.h"
#include "mail/quote.h"
#include "mail/rfc2047.h"
#include "mail/robot.h"
#include "lib/util.h"
#include "lib/xalloc.h"

#include <ctype.h>
#include <stdarg.h>
#include <libetpan/libetpan.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mail_limits_default(struct mail_limits *lim)
{
    lim->max_header_bytes = 1024 * 1024;
    lim->max_attachment = 25 * 1024 * 1024;
    lim->max_parts = 1000;
    lim->max_depth = 40;
}


struct walk {
    struct mail_msg *msg;
    const struct mail_limits *lim;
    int parts;
    bool parts_noted, depth_noted;
    bool have_html;
    char text_charset[64];           /* first declared text charset that can hint raw header bytes */
    struct strbuf undeclared;        /* a sample of 8-bit text declared in no charset */
};

static void problem(struct mail_msg *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct mail_msg *m, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    /* values in the text come from the mail: valid UTF-8 only, on one
     * line, and a cut never splits a character */
    size_t n = strlen(line);
    if (need >= (int)sizeof(line)) {
        size_t lead = n;
        while (lead > 0 && ((unsigned char)line[lead - 1] & 0xC0) == 0x80)
            lead--;
        if (lead > 0 && (unsigned char)line[lead - 1] >= 0xC0) {
            unsigned char c = (unsigned char)line[lead - 1];
            size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (n - (lead - 1) < want)
                n = lead - 1;
        }
    }
    struct strbuf clean = STRBUF_INIT;
    utf8_sanitize_append(&clean, line, n);
    for (size_t i = 0; i < clean.len; i++)
        if (clean.s[i] == '\n' || clean.s[i] == '\r')
            clean.s[i] = ' ';
    /* the same problem once */
    if (clean.len == 0 || (m->problems.s && strstr(m->problems.s, clean.s) != NULL)) {
        strbuf_free(&clean);
        return;
    }
    strbuf_add(&m->problems, clean.s, clean.len);
    strbuf_addc(&m->problems, '\n');
    strbuf_free(&clean);
}

/* ---- reading a part's MIME headers ------------------------------------ */

struct part {
    char major[32];
    char minor[64];
    struct mime_param *ct_params;    /* Content-Type parameters */
    size_t nct;
    struct mime_param *disp_params;  /* Content-Disposition parameters */
    size_t ndisp;
    int disposition;                 /* 0 none, 1 inline, 2 attachment */
    int encoding;                    /* MAILMIME_MECHANISM_* after normalising tokens */
    const char *encoding_token;
    const char *content_id;
};

static void lower_copy(char *dst, size_t size, const char *src)
{
    size_t k = 0;
    for (; src && *src && k + 1 < size; src++)
        dst[k++] = (char)tolower((unsigned char)*src);
    dst[k] = '\0';
}

static void part_type(const struct mailmime *m, bool digest_parent, struct part *p)
{
    const struct mailmime_content *ct = m->mm_content_type;
    if (ct == NULL || ct->ct_type == NULL) {
        snprintf(p->major, sizeof(p->major), "%s", digest_parent ? "message" : "text");
        snprintf(p->minor, sizeof(p->minor), "%s", digest_parent ? "rfc822" : "plain");
        return;
    }
    const struct mailmime_type *t = ct->ct_type;
    const char *maj = "application";
    if (t->tp_type == MAILMIME_TYPE_DISCRETE_TYPE) {
        switch (t->tp_data.tp_discrete_type->dt_type) {
        case MAILMIME_DISCRETE_TYPE_TEXT: maj = "text"; break;
        case MAILMIME_DISCRETE_TYPE_IMAGE: maj = "image"; break;
        case MAILMIME_DISCRETE_TYPE_AUDIO: maj = "audio"; break;
        case MAILMIME_DISCRETE_TYPE_VIDEO: maj = "video"; break;
        case MAILMIME_DISCRETE_TYPE_APPLICATION: maj = "application"; break;
        case MAILMIME_DISCRETE_TYPE_EXTENSION:
            maj = t->tp_data.tp_discrete_type->dt_extension ? t->tp_data.tp_discrete_type->dt_extension : "application";
            break;
        }
    } else if (t->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE) {
        switch (t->tp_data.tp_composite_type->ct_type) {
        case MAILMIME_COMPOSITE_TYPE_MESSAGE: maj = "message"; break;
        case MAILMIME_COMPOSITE_TYPE_MULTIPART: maj = "multipart"; break;
        default:
            maj = t->tp_data.tp_composite_type->ct_token ? t->tp_data.tp_composite_type->ct_token : "application";
        }
    }
    lower_copy(p->major, sizeof(p->major), maj);
    lower_copy(p->minor, sizeof(p->minor), ct->ct_subtype ? ct->ct_subtype : "octet-stream");
    size_t n = 0;
    for (clistiter *it = ct->ct_parameters ? clist_begin(ct->ct_parameters) : NULL; it; it = clist_next(it))
        n++;
    p->ct_params = n ? xcalloc(n, sizeof(*p->ct_params)) : NULL;
    for (clistiter *it = ct->ct_parameters ? clist_begin(ct->ct_parameters) : NULL; it; it = clist_next(it)) {
        const struct mailmime_parameter *pa = clist_content(it);
        p->ct_params[p->nct].name = pa->pa_name ? pa->pa_name : "";
        p->ct_params[p->nct].value = pa->pa_value ? pa->pa_value : "";
        p->nct++;
    }
}

static void part_fields(const struct mailmime *m, struct part *p)
{
    p->encoding = MAILMIME_MECHANISM_7BIT;
    if (m->mm_mime_fields == NULL)
        return;
    for (clistiter *it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
        const struct mailmime_field *f = clist_content(it);
        if (f->fld_type == MAILMIME_FIELD_TRANSFER_ENCODING && f->fld_data.fld_encoding) {
            p->encoding = f->fld_data.fld_encoding->enc_type;
            p->encoding_token = f->fld_data.fld_encoding->enc_token;
            if (p->encoding == MAILMIME_MECHANISM_TOKEN && p->encoding_token) {
                /* "quoted printable", "Base64 ", "x-base64": what was meant */
                char t[64];
                lower_copy(t, sizeof(t), p->encoding_token);
                if (strstr(t, "quoted") || strstr(t, "qp"))
                    p->encoding = MAILMIME_MECHANISM_QUOTED_PRINTABLE;
                else if (strstr(t, "base64"))
                    p->encoding = MAILMIME_MECHANISM_BASE64;
            }
        } else if (f->fld_type == MAILMIME_FIELD_ID) {
            p->content_id = f->fld_data.fld_id;
        } else if (f->fld_type == MAILMIME_FIELD_DISPOSITION && f->fld_data.fld_disposition) {
            const struct mailmime_disposition *d = f->fld_data.fld_disposition;
            if (d->dsp_type) {
                if (d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
                    p->disposition = 2;
                else if (d->dsp_type->dsp_type == MAILMIME_DISPOSITION_TYPE_INLINE)
                    p->disposition = 1;
            }
            size_t n = 0;
            for (clistiter *k = d->dsp_parms ? clist_begin(d->dsp_parms) : NULL; k; k = clist_next(k))
                n++;
            free(p->disp_params);
            p->disp_params = n ? xcalloc(n, sizeof(*p->disp_params)) : NULL;
            p->ndisp = 0;
            for (clistiter *k = d->dsp_parms ? clist_begin(d->dsp_parms) : NULL; k; k = clist_next(k)) {
                const struct mailmime_disposition_parm *dp = clist_content(k);
                struct mime_param *mp = &p->disp_params[p->ndisp];
                if (dp->pa_type == MAILMIME_DISPOSITION_PARM_FILENAME) {
                    mp->name = "filename";
                    mp->value = dp->pa_data.pa_filename ? dp->pa_data.pa_filename : "";
                } else if (dp->pa_type == MAILMIME_DISPOSITION_PARM_PARAMETER && dp->pa_data.pa_parameter) {
                    mp->name = dp->pa_data.pa_parameter->pa_name ? dp->pa_data.pa_parameter->pa_name : "";
                    mp->value = dp->pa_data.pa_parameter->pa_value ? dp->pa_data.pa_parameter->pa_value : "";
                } else {
                    continue;
                }
                p->ndisp++;
            }
        }
    }
}

static void part_free(struct part *p)
{
    free(p->ct_params);
    free(p->disp_params);
}

/* The part's filename, decoded (RFC 2231, RFC 2047), or empty. */
static void part_filename(const struct part *p, struct strbuf *out)
{
    if (rfc2231_param(p->disp_params, p->ndisp, "filename", out) && out->len > 0)
        return;
    strbuf_reset(out);
    if (rfc2231_param(p->ct_params, p->nct, "name", out) && out->len > 0)
        return;
    strbuf_reset(out);
}

static void part_charset(const struct part *p, char *buf, size_t size)
{
    struct strbuf cs = STRBUF_INIT;
    buf[0] = '\0';
    if (rfc2231_param(p->ct_params, p->nct, "charset", &cs) && cs.len > 0)
        snprintf(buf, size, "%s", cs.s);
    strbuf_free(&cs);
}

/* Decoded bytes of a single part. */
static void part_decode(const struct mailmime_data *d, int encoding, struct strbuf *out)
{
    if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT || d->dt_data.dt_text.dt_data == NULL)
        return;
    const char *s = d->dt_data.dt_text.dt_data;
    size_t n = d->dt_data.dt_text.dt_length;
    if (!d->dt_encoded) {
        strbuf_add(out, s, n);
        return;
    }
    switch (encoding) {
    case MAILMIME_MECHANISM_BASE64: decode_base64(s, n, out); break;
    case MAILMIME_MECHANISM_QUOTED_PRINTABLE: decode_qp(s, n, 0, out); break;
    default: strbuf_add(out, s, n);
    }
}

/* ---- results ---------------------------------------------------------- */

static const char *ext_for(const char *major, const char *minor)
{
    static const struct { const char *type, *ext; } t[] = {
        { "message/rfc822", "eml" }, { "message/delivery-status", "txt" },
        { "message/feedback-report", "txt" }, { "message/disposition-notification", "txt" },
        { "text/rfc822-headers", "txt" }, { "text/plain", "txt" }, { "text/html", "html" },
        { "image/png", "png" }, { "image/jpeg", "jpg" }, { "image/gif", "gif" },
        { "application/pdf", "pdf" }, { "application/pgp-signature", "asc" },
        { "application/ms-tnef", "dat" }, { "text/calendar", "ics" },
    };
    char full[128];
    snprintf(full, sizeof(full), "%s/%s", major, minor);
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (strcmp(full, t[i].type) == 0)
            return t[i].ext;
    return "bin";
}

static struct mail_attachment *add_attachment(struct walk *w, const struct part *p,
                                              struct strbuf *filename, struct strbuf *data)
{
    struct mail_msg *m = w->msg;
    m->att = xrealloc(m->att, (m->natt + 1) * sizeof(*m->att));
    struct mail_attachment *a = &m->att[m->natt++];
    memset(a, 0, sizeof(*a));
    if (filename->len == 0)
        strbuf_addf(filename, "part-%zu.%s", m->natt, ext_for(p->major, p->minor));
    /* names come from strangers: no path separators, no control chars */
    struct strbuf clean = STRBUF_INIT;
    for (size_t i = 0; i < filename->len; i++) {
        unsigned char c = (unsigned char)filename->s[i];
        strbuf_addc(&clean, (c < 0x20 || c == '/' || c == '\\' || c == 0x7f) ? '_' : (char)c);
    }
    a->filename = strbuf_steal(&clean, NULL);
    a->content_type = xasprintf("%s/%s", p->major, p->minor);
    if (p->content_id) {
        struct strbuf cid = STRBUF_INIT;
        mailhdr_msgids(p->content_id, &cid);
        if (cid.len > 0) {
            cid.s[strcspn(cid.s, "\n")] = '\0';
            a->content_id = xstrdup(cid.s);
        }
        strbuf_free(&cid);
    }
    a->is_inline = p->disposition == 1 || (p->disposition == 0 && a->content_id != NULL);
    a->size = data->len;
    sha256_hex(data->s ? data->s : "", data->len, a->sha256);
    if (data->len > w->lim->max_attachment) {
        a->too_large = true;
        problem(m, "attachment %s larger than the limit (%zu bytes): not kept", a->filename, data->len);
    } else {
        a->data = strbuf_steal(data, NULL);
    }
    return a;
}

/* Subject and Message-ID of an embedded message or header block. */
static void describe_embedded(struct mail_attachment *a, const char *bytes, size_t len,
                              const struct mail_limits *lim)
{
    struct mail_headers h = { NULL, 0 };
    struct strbuf probs = STRBUF_INIT, s = STRBUF_INIT, ids = STRBUF_INIT;
    size_t off = 0;
    if (len > 5 && memcmp(bytes, "From ", 5) == 0) {
        const char *nl = memchr(bytes, '\n', len);
        off = nl ? (size_t)(nl - bytes) + 1 : len;
    }
    mailhdr_parse_block(bytes + off, len - off, lim->max_header_bytes, &h, &probs);
    const char *subj = mailhdr_get(&h, "Subject");
    if (subj) {
        rfc2047_decode(subj, strlen(subj), NULL, &s);
        a->subject = strbuf_steal(&s, NULL);
    }
    mailhdr_msgids(mailhdr_get(&h, "Message-ID"), &ids);
    if (ids.len > 0) {
        ids.s[strcspn(ids.s, "\n")] = '\0';
        a->message_id = xstrdup(ids.s);
    }
    strbuf_free(&s);
    strbuf_free(&ids);
    strbuf_free(&probs);
    mailhdr_free(&h);
}

static void add_text(struct mail_msg *m, const char *s, size_t n)
{
    if (n == 0)
        return;
    if (m->text.len > 0 && m->text.s[m->text.len - 1] != '\n')
        strbuf_addc(&m->text, '\n');
    if (m->text.len > 0)
        strbuf_addc(&m->text, '\n');
    strbuf_add(&m->text, s, n);
}

/* ---- the walk --------------------------------------------------------- */

enum text_mode { TEXT_ALL, TEXT_HTML_ONLY_IF_NEEDED };

static void walk(struct walk *w, struct mailmime *m, int depth, bool digest_parent, bool html_gives_text);

static void leaf(struct walk *w, struct mailmime *m, struct part *p, bool html_gives_text)
{
    struct mail_msg *msg = w->msg;
    struct strbuf filename = STRBUF_INIT, data = STRBUF_INIT;
    part_filename(p, &filename);
    bool is_plain = strcmp(p->major, "text") == 0 && strcmp(p->minor, "plain") == 0;
    bool is_html = strcmp(p->major, "text") == 0 && strcmp(p->minor, "html") == 0;
    bool body = (is_plain || is_html) && filename.len == 0 && p->disposition != 2;

    part_decode(m->mm_data.mm_single, p->encoding, &data);
    if (strcmp(p->major, "text") == 0 && w->text_charset[0] == '\0') {
        char cs[64];
        part_charset(p, cs, sizeof(cs));
        if (cs[0] == '\0' && w->undeclared.len < 16384 && data.len > 0)
            strbuf_add(&w->undeclared, data.s, data.len < 16384 ? data.len : 16384);
        if (strcasecmp(cs, "us-ascii") != 0 && strcasecmp(cs, "ascii") != 0 && strcasecmp(cs, "utf-8") != 0
            && strcasecmp(cs, "utf8") != 0 && strcasecmp(cs, "x-unknown") != 0
            && strcasecmp(cs, "unknown-8bit") != 0)
            snprintf(w->text_charset, sizeof(w->text_charset), "%s", cs);
    }
    if (body) {
        char cs[64];
        part_charset(p, cs, sizeof(cs));
        struct strbuf utf8 = STRBUF_INIT;
        struct charset_result r;
        charset_to_utf8(data.s ? data.s : "", data.len, cs, &utf8, &r);
        if (r.unknown_declared)
            problem(msg, "unknown charset '%s': decoded as %s", cs, r.used);
        else if (r.bad > 0)
            problem(msg, "%zu bytes not valid in charset %s", r.bad, r.used);
        if (msg->body_charset == NULL && cs[0])
            msg->body_charset = xstrdup(cs);
        if (is_plain) {
            add_text(msg, utf8.s ? utf8.s : "", utf8.len);
        } else {
            if (!w->have_html) {
                struct html_info info;
                html_sanitize(utf8.s ? utf8.s : "", utf8.len, &msg->html, &info);
                msg->remote_images += info.remote_images;
                if (info.too_deep)
                    problem(msg, "HTML nested too deeply: cut");
                w->have_html = true;
            }
            if (html_gives_text) {
                struct strbuf t = STRBUF_INIT;
                html_to_text(utf8.s ? utf8.s : "", utf8.len, &t);
                add_text(msg, t.s ? t.s : "", t.len);
                strbuf_free(&t);
            }
        }
        strbuf_free(&utf8);
    } else {
        struct mail_attachment *a = add_attachment(w, p, &filename, &data);
        bool report_part = strcmp(p->major, "message") == 0 || strcmp(p->minor, "rfc822-headers") == 0;
        if (report_part && a->data != NULL) {
            if (strcmp(p->minor, "rfc822-headers") == 0 || strcmp(p->minor, "rfc822") == 0
                || strcmp(p->minor, "global") == 0)
                describe_embedded(a, a->data, a->size, w->lim);
            else
                robot_parse_report_part(msg, p->minor, a->data, a->size);
        }
    }
    strbuf_free(&filename);
    strbuf_free(&data);
}

static void embedded_message(struct walk *w, struct mailmime *m, struct part *p)
{
    struct strbuf filename = STRBUF_INIT, data = STRBUF_INIT;
    part_filename(p, &filename);
    const struct mailmime_data *b = m->mm_body;
    if (b && b->dt_type == MAILMIME_DATA_TEXT && b->dt_data.dt_text.dt_data)
        part_decode(b, p->encoding, &data);
    struct mail_attachment *a;
    if (filename.len == 0)
        strbuf_adds(&filename, "message.eml");
    snprintf(p->major, sizeof(p->major), "message");
    if (p->minor[0] == '\0')
        snprintf(p->minor, sizeof(p->minor), "rfc822");
    a = add_attachment(w, p, &filename, &data);
    if (a->data)
        describe_embedded(a, a->data, a->size, w->lim);
    strbuf_free(&filename);
    strbuf_free(&data);
}

static bool is_body_text(struct mailmime *child, bool digest_parent, const char *minor)
{
    if (child->mm_type != MAILMIME_SINGLE)
        return false;
    struct part p;
    memset(&p, 0, sizeof(p));
    part_type(child, digest_parent, &p);
    part_fields(child, &p);
    struct strbuf fn = STRBUF_INIT;
    part_filename(&p, &fn);
    bool r = strcmp(p.major, "text") == 0 && strcmp(p.minor, minor) == 0 && fn.len == 0 && p.disposition != 2;
    strbuf_free(&fn);
    part_free(&p);
    return r;
}

static bool has_type_field(const struct mailmime *m)
{
    if (m->mm_mime_fields == NULL)
        return false;
    for (clistiter *it = clist_begin(m->mm_mime_fields->fld_list); it; it = clist_next(it)) {
        const struct mailmime_field *f = clist_content(it);
        if (f->fld_type == MAILMIME_FIELD_TYPE)
            return true;
    }
    return false;
}

/* A digest member without Content-Type is a message/rfc822 (RFC 2046
 * 5.1.5); libetpan reads it as text/plain, so take the raw part. */
static void digest_member(struct walk *w, struct mailmime *m)
{
    struct part p;
    memset(&p, 0, sizeof(p));
    snprintf(p.major, sizeof(p.major), "message");
    snprintf(p.minor, sizeof(p.minor), "rfc822");
    struct strbuf filename = STRBUF_INIT, data = STRBUF_INIT;
    strbuf_adds(&filename, "message.eml");
    if (m->mm_mime_start && m->mm_length) {
        const char *s = m->mm_mime_start;
        size_t n = m->mm_length;
        while (n > 0 && (*s == '\n' || *s == '\r')) {
            s++;
            n--;
        }
        strbuf_add(&data, s, n);
    }
    struct mail_attachment *a = add_attachment(w, &p, &filename, &data);
    if (a->data)
        describe_embedded(a, a->data, a->size, w->lim);
    strbuf_free(&filename);
    strbuf_free(&data);
}

/* The closing delimiter of a multipart, or NULL.  libetpan reads on past
 * it into the epilogue, where some mailers leave old parts; a mail client
 * (and Python) shows nothing after it. */
static const char *closing_delimiter(const struct mailmime *m)
{
    if (m->mm_mime_start == NULL || m->mm_content_type == NULL)
        return NULL;
    const char *b = mailmime_content_param_get(m->mm_content_type, "boundary");
    if (b == NULL || *b == '\0' || strlen(b) > 200)
        return NULL;
    char close[256];
    int n = snprintf(close, sizeof(close), "\n--%s--", b);
    return memmem(m->mm_mime_start, m->mm_length, close, (size_t)n);
}

static void walk(struct walk *w, struct mailmime *m, int depth, bool digest_parent, bool html_gives_text)
{
    struct mail_msg *msg = w->msg;
    if (digest_parent && m->mm_type == MAILMIME_SINGLE && !has_type_field(m)) {
        if (++w->parts <= w->lim->max_parts)
            digest_member(w, m);
        return;
    }
    if (++w->parts > w->lim->max_parts) {
        if (!w->parts_noted)
            problem(msg, "more than %d MIME parts: the rest was ignored", w->lim->max_parts);
        w->parts_noted = true;
        return;
    }
    if (depth > w->lim->max_depth) {
        if (!w->depth_noted)
            problem(msg, "MIME parts nested deeper than %d: ignored", w->lim->max_depth);
        w->depth_noted = true;
        return;
    }
    struct part p;
    memset(&p, 0, sizeof(p));
    part_type(m, digest_parent, &p);
    part_fields(m, &p);

    if (m->mm_type == MAILMIME_MULTIPLE) {
        clist *kids = m->mm_data.mm_multipart.mm_mp_list;
        bool digest = strcmp(p.minor, "digest") == 0;
        if (kids == NULL || clist_begin(kids) == NULL) {
            problem(msg, "multipart/%s without any part", p.minor);
            const struct mailmime_data *pre = m->mm_data.mm_multipart.mm_preamble;
            if (depth <= 1 && pre && pre->dt_data.dt_text.dt_length > 0 && msg->text.len == 0) {
                struct strbuf utf8 = STRBUF_INIT;
                struct charset_result r;
                charset_to_utf8(pre->dt_data.dt_text.dt_data, pre->dt_data.dt_text.dt_length, NULL, &utf8, &r);
                add_text(msg, utf8.s ? utf8.s : "", utf8.len);
                strbuf_free(&utf8);
            }
        } else if (strcmp(p.minor, "alternative") == 0) {
            /* one body from the alternatives: plain text if there is one */
            bool has_plain = false;
            for (clistiter *it = clist_begin(kids); it; it = clist_next(it))
                has_plain = has_plain || is_body_text(clist_content(it), false, "plain");
            bool plain_done = false;
            const char *close = closing_delimiter(m);
            for (clistiter *it = clist_begin(kids); it; it = clist_next(it)) {
                struct mailmime *k = clist_content(it);
                if (close != NULL && k->mm_mime_start != NULL && k->mm_mime_start > close) {
                    problem(msg, "MIME parts after the closing boundary: ignored");
                    break;
                }
                if (is_body_text(k, false, "plain")) {
                    if (!plain_done)
                        walk(w, k, depth + 1, false, html_gives_text);
                    else
                        w->parts++;   /* a second plain alternative adds nothing */
                    plain_done = true;
                } else {
                    walk(w, k, depth + 1, false, html_gives_text && !has_plain);
                }
            }
        } else {
            const char *close = closing_delimiter(m);
            for (clistiter *it = clist_begin(kids); it; it = clist_next(it)) {
                struct mailmime *k = clist_content(it);
                if (close != NULL && k->mm_mime_start != NULL && k->mm_mime_start > close) {
                    problem(msg, "MIME parts after the closing boundary: ignored");
                    break;
                }
                walk(w, k, depth + 1, digest, html_gives_text);
            }
        }
        if (strcmp(p.minor, "report") == 0) {
            struct strbuf rt = STRBUF_INIT;
            if (rfc2231_param(p.ct_params, p.nct, "report-type", &rt) && rt.len > 0 && msg->report_type == NULL) {
                char low[64];
                lower_copy(low, sizeof(low), rt.s);
                msg->report_type = xstrdup(low);
            }
            strbuf_free(&rt);
        }
    } else if (m->mm_type == MAILMIME_MESSAGE) {
        if (depth == 0) {
            if (m->mm_data.mm_message.mm_msg_mime)
                walk(w, m->mm_data.mm_message.mm_msg_mime, depth + 1, false, html_gives_text);
        } else {
            embedded_message(w, m, &p);   /* counted, not descended */
        }
    } else if (m->mm_type == MAILMIME_SINGLE) {
        if (strcmp(p.major, "multipart") == 0) {
            /* a multipart the parser could not split (no usable boundary):
             * its content is all we have, shown as text */
            problem(msg, "multipart/%s without a usable boundary: shown as text", p.minor);
            snprintf(p.major, sizeof(p.major), "text");
            snprintf(p.minor, sizeof(p.minor), "plain");
            free(p.disp_params);
            p.disp_params = NULL;
            p.ndisp = 0;
            p.disposition = 0;
        }
        leaf(w, m, &p, html_gives_text);
    }
    part_free(&p);
}

/* ---- headers ---------------------------------------------------------- */

/* Notes what decoding a header had to guess or repair. */
static void note_header_repair(struct mail_msg *m, const char *name, const struct rfc2047_report *rep)
{
    if (rep->raw_repaired)
        problem(m, "raw bytes in %s that are neither ASCII nor UTF-8: read as %s", name, rep->used);
    if (rep->word_repaired && rep->bad == 0)
        problem(m, "encoded word in %s in an unknown or wrong charset: read as %s", name, rep->used);
    if (rep->bad > 0)
        problem(m, "%zu bytes in %s could not be decoded: replaced by U+FFFD", rep->bad, name);
}

static char *decoded_header(struct mail_msg *m, const char *name, const char *hint)
{
    const char *v = mailhdr_get(&m->headers, name);
    if (v == NULL)
        return NULL;
    struct strbuf out = STRBUF_INIT;
    struct rfc2047_report rep;
    rfc2047_decode_report(v, strlen(v), hint, &out, &rep);
    note_header_repair(m, name, &rep);
    if (out.s == NULL)
        strbuf_adds(&out, "");
    return strbuf_steal(&out, NULL);
}

/* A structured header (addresses, ids, date) as UTF-8, encoded words
 * left alone: raw 8-bit bytes are decoded (hint, detection) and noted, so
 * nothing invalid reaches the addresses and ids parsed from it.  NULL
 * when absent; the caller frees. */
static char *header_utf8(struct mail_msg *m, const char *name, const char *hint)
{
    const char *v = mailhdr_get(&m->headers, name);
    if (v == NULL)
        return NULL;
    size_t n = strlen(v);
    /* ISO-2022 escapes are 7-bit but no ASCII: "\x1b$B:4F#" holds ':'
     * and '#' that would mean something to the address parser */
    if (memchr(v, 0x1b, n) == NULL && str_utf8_valid(v, n))
        return xstrdup(v);
    struct strbuf out = STRBUF_INIT;
    struct charset_result r;
    charset_header_to_utf8(v, n, hint, &out, &r);
    struct rfc2047_report rep = { true, false, r.bad, "" };
    snprintf(rep.used, sizeof(rep.used), "%s", r.used);
    note_header_repair(m, name, &rep);
    return strbuf_steal(&out, NULL);
}

static void unquote_display(const char *in, size_t n, struct strbuf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '"')
            continue;
        if (in[i] == '\\' && i + 1 < n)
            i++;
        strbuf_addc(out, in[i]);
    }
}

/* Lines of `lines` (each ended by \n) appended to a string array,
 * without duplicates when `unique`, at most `max`. */
static void add_lines(char *lines, char ***v, size_t *n, size_t max, bool unique)
{
    for (char *s = lines, *nl; s && *s && *n < max; s = nl + 1) {
        nl = strchr(s, '\n');
        if (nl == NULL)
            break;
        *nl = '\0';
        bool skip = strlen(s) > 900;
        for (size_t i = 0; unique && i < *n && !skip; i++)
            skip = strcmp((*v)[i], s) == 0;
        if (!skip) {
            *v = xrealloc(*v, (*n + 1) * sizeof(**v));
            (*v)[(*n)++] = xstrdup(s);
        }
    }
}

/* The hint for raw 8-bit header bytes: the first text charset the mail
 * declares that can describe them, else uchardet's reading of all the
 * raw bytes of the header block together, with the undeclared text of
 * the body (more text, better guess: a short subject alone is often read
 * as the wrong script). */
static void header_hint(const struct mail_msg *m, const char *text_charset, const struct strbuf *body,
                        char *buf, size_t size)
{
    buf[0] = '\0';
    if (text_charset != NULL && text_charset[0] != '\0') {
        snprintf(buf, size, "%s", text_charset);
        return;
    }
    struct strbuf raw = STRBUF_INIT;
    for (size_t i = 0; i < m->headers.n; i++) {
        const char *v = m->headers.v[i].value;
        size_t n = strlen(v);
        bool eight = false;
        for (size_t k = 0; k < n && !eight; k++)
            eight = (unsigned char)v[k] >= 0x80;
        if (eight && !str_utf8_valid(v, n)) {
            strbuf_add(&raw, v, n);
            strbuf_addc(&raw, '\n');
        }
    }
    if (raw.len > 0 && body->len > 0 && !str_utf8_valid(body->s, body->len))
        strbuf_add(&raw, body->s, body->len);
    if (raw.len > 0 && charset_guess(raw.s, raw.len, buf, size) == NULL)
        buf[0] = '\0';
    strbuf_free(&raw);
}

static void read_headers(struct mail_msg *m, const char *hint)
{
    m->subject = decoded_header(m, "Subject", hint);
    if (m->subject == NULL)
        m->subject = xstrdup("");

    struct strbuf addr = STRBUF_INIT, disp = STRBUF_INIT, lines = STRBUF_INIT;
    char *from = header_utf8(m, "From", hint);
    if (from != NULL) {
        mailhdr_first_address(from, &addr, &disp);
        if (addr.len == 0)
            mailhdr_bare_word(from, &addr);
        if (addr.len > 0)
            m->from_addr = xstrndup(addr.s, addr.len);
        if (disp.len > 0) {
            struct strbuf raw = STRBUF_INIT, dec = STRBUF_INIT;
            unquote_display(disp.s, disp.len, &raw);
            /* raw bytes were made UTF-8 above: no hint needed now */
            rfc2047_decode(raw.s ? raw.s : "", raw.len, "utf-8", &dec);
            if (dec.len > 0)
                m->from_name = strbuf_steal(&dec, NULL);
            strbuf_free(&raw);
            strbuf_free(&dec);
        }
        free(from);
    }
    strbuf_reset(&addr);
    char *rt = header_utf8(m, "Reply-To", hint);
    if (rt != NULL) {
        mailhdr_first_address(rt, &addr, NULL);
        if (addr.len > 0)
            m->reply_to = xstrndup(addr.s, addr.len);
        free(rt);
    }

    char *mid = header_utf8(m, "Message-ID", hint);
    if (mid != NULL) {
        struct strbuf c = STRBUF_INIT;
        mailhdr_collapse_ws(mid, &c);
        if (c.len > 0)
            m->message_id_raw = strbuf_steal(&c, NULL);
        strbuf_free(&c);
        mailhdr_msgids(mid, &lines);
        if (lines.len > 0) {
            lines.s[strcspn(lines.s, "\n")] = '\0';
            if (lines.s[0] && strlen(lines.s) <= 900)
                m->message_id = xstrdup(lines.s);
        }
        strbuf_reset(&lines);
        free(mid);
    }

    /* threading references: References first (oldest..newest), then
     * In-Reply-To, without duplicates */
    char *refs = header_utf8(m, "References", hint), *irt = header_utf8(m, "In-Reply-To", hint);
    mailhdr_msgids(refs, &lines);
    size_t refs_end = lines.len;
    mailhdr_msgids(irt, &lines);
    if (refs_end < lines.len) {
        const char *first = lines.s + refs_end;
        m->in_reply_to = xstrndup(first, strcspn(first, "\n"));
    }
    add_lines(lines.s, &m->refs, &m->nrefs, 200, true);
    free(refs);
    free(irt);
    strbuf_reset(&lines);
    char *to = header_utf8(m, "To", hint), *cc = header_utf8(m, "Cc", hint);
    mailhdr_addresses(to, &lines);
    mailhdr_addresses(cc, &lines);
    add_lines(lines.s, &m->to, &m->nto, 500, false);
    free(to);
    free(cc);
    m->date = header_utf8(m, "Date", hint);
    strbuf_free(&addr);
    strbuf_free(&disp);
    strbuf_free(&lines);
}

/* ---- the UTF-8 promise ------------------------------------------------ */

/* Every string mime.h hands out is valid UTF-8 without NUL (PostgreSQL
 * refuses anything else, and one bad byte would stop the whole ingest).
 * The decoders above already produce it; this pass is the guarantee for
 * whatever still came straight from the bytes (DSN fields, ids, MIME
 * tokens): such a string is decoded like a raw header, and noted. */
static void repair_string(struct mail_msg *m, char **s, const char *what)
{
    if (*s == NULL || str_utf8_valid(*s, strlen(*s)))
        return;
    struct strbuf out = STRBUF_INIT;
    struct charset_result r;
    charset_header_to_utf8(*s, strlen(*s), NULL, &out, &r);
    free(*s);
    *s = out.s ? strbuf_steal(&out, NULL) : xstrdup("");
    problem(m, "%s was not valid UTF-8: read as %s", what, r.used);
}

static void repair_text(struct mail_msg *m, struct strbuf *b, const char *what)
{
    if (b->len == 0 || (str_utf8_valid(b->s, b->len) && memchr(b->s, '\0', b->len) == NULL))
        return;
    struct strbuf out = STRBUF_INIT;
    utf8_sanitize_append(&out, b->s, b->len);
    strbuf_free(b);
    *b = out;
    problem(m, "%s was not valid UTF-8: bad bytes replaced by U+FFFD", what);
}

static void ensure_utf8(struct mail_msg *m)
{
    repair_string(m, &m->subject, "Subject");
    repair_string(m, &m->from_addr, "sender address");
    repair_string(m, &m->from_name, "sender name");
    repair_string(m, &m->reply_to, "Reply-To address");
    repair_string(m, &m->message_id, "Message-ID");
    repair_string(m, &m->message_id_raw, "Message-ID");
    repair_string(m, &m->in_reply_to, "In-Reply-To");
    for (size_t i = 0; i < m->nrefs; i++)
        repair_string(m, &m->refs[i], "References");
    for (size_t i = 0; i < m->nto; i++)
        repair_string(m, &m->to[i], "recipient address");
    repair_string(m, &m->date, "Date");
    for (size_t i = 0; i < m->natt; i++) {
        struct mail_attachment *a = &m->att[i];
        repair_string(m, &a->filename, "attachment filename");
        repair_string(m, &a->content_type, "attachment content type");
        repair_string(m, &a->content_id, "attachment Content-ID");
        repair_string(m, &a->subject, "attached message's Subject");
        repair_string(m, &a->message_id, "attached message's Message-ID");
    }
    repair_string(m, &m->robot_reason, "robot reason");
    repair_string(m, &m->report_type, "report type");
    repair_string(m, &m->report_original_id, "reported Message-ID");
    for (size_t i = 0; i < m->ndsn; i++) {
        repair_string(m, &m->dsn[i].recipient, "DSN recipient");
        repair_string(m, &m->dsn[i].action, "DSN action");
        repair_string(m, &m->dsn[i].status, "DSN status");
        repair_string(m, &m->dsn[i].diagnostic, "DSN diagnostic");
    }
    repair_string(m, &m->body_charset, "charset name");
    repair_text(m, &m->text, "text");
    repair_text(m, &m->html, "HTML");
    repair_text(m, &m->new_text, "new text");
    if (m->problems.len > 0 && !str_utf8_valid(m->problems.s, m->problems.len)) {
        struct strbuf out = STRBUF_INIT;
        utf8_sanitize_append(&out, m->problems.s, m->problems.len);
        strbuf_free(&m->problems);
        m->problems = out;
    }
}

/* ---- entry ------------------------------------------------------------ */

/* A message cut short (no closing boundary) makes libetpan drop every
 * part; with the closing delimiter added the parts it has come back. */
static void close_truncated_multipart(struct mail_msg *m, struct strbuf *buf)
{
    const char *ct = mailhdr_get(&m->headers, "Content-Type");
    if (ct == NULL || strncasecmp(ct, "multipart/", 10) != 0)
        return;
    size_t idx = 0;
    struct mailmime_content *content = NULL;
    if (mailmime_content_parse(ct, strlen(ct), &idx, &content) != MAILIMF_NO_ERROR)
        return;
    char *boundary = mailmime_content_param_get(content, "boundary");
    if (boundary != NULL && *boundary != '\0' && strlen(boundary) < 200) {
        char delim[256], close[256];
        snprintf(delim, sizeof(delim), "\n--%s", boundary);
        snprintf(close, sizeof(close), "\n--%s--", boundary);
        if (memmem(buf->s, buf->len, delim, strlen(delim)) != NULL
            && memmem(buf->s, buf->len, close, strlen(close)) == NULL) {
            /* a last delimiter with nothing after it goes, then close
             * (the buffer uses LF) */
            size_t end = buf->len, dl = strlen(delim);
            while (end > 0 && buf->s[end - 1] == '\n')
                end--;
            if (end >= dl && memcmp(buf->s + end - dl, delim, dl) == 0) {
                buf->len = end - dl;
                buf->s[buf->len] = '\0';
            }
            strbuf_addf(buf, "\n--%s--\n", boundary);
            problem(m, "missing final MIME boundary (message truncated?)");
        }
    }
    mailmime_content_free(content);
}

struct mail_msg *mail_parse(const char *raw, size_t len, const struct mail_limits *lim)
{
    struct mail_msg *m = xcalloc(1, sizeof(*m));
    struct strbuf parsebuf = STRBUF_INIT;
    struct walk w = { m, lim, 0, false, false, false, "", STRBUF_INIT };

    if (len == 0)
        problem(m, "empty message");
    mailhdr_prepare(raw ? raw : "", len, lim->max_header_bytes, &parsebuf, &m->headers, &m->problems);

    close_truncated_multipart(m, &parsebuf);
    /* bound the nesting before libetpan, whose cost grows with its square */
    struct strbuf flat = STRBUF_INIT;
    if (mimecut(parsebuf.s ? parsebuf.s : "", parsebuf.len, lim->max_depth, &flat) == 1) {
        problem(m, "MIME parts nested deeper than %d: what lies deeper kept as one attachment",
                lim->max_depth);
        strbuf_free(&parsebuf);
        parsebuf = flat;
    }

    size_t idx = 0;
    struct mailmime *mime = NULL;
    int r = mailmime_parse(parsebuf.s ? parsebuf.s : "", parsebuf.len, &idx, &mime);
    if (r == MAILIMF_NO_ERROR && mime != NULL) {
        walk(&w, mime, 0, false, true);
        mailmime_free(mime);
    } else {
        /* not even a MIME tree: the body as text */
        problem(m, "MIME structure could not be parsed (libetpan error %d): body kept as text", r);
        const char *body = strstr(parsebuf.s ? parsebuf.s : "", "\n\n");
        body = body ? body + 2 : (parsebuf.s ? parsebuf.s : "");
        struct strbuf utf8 = STRBUF_INIT;
        struct charset_result cr;
        charset_to_utf8(body, strlen(body), NULL, &utf8, &cr);
        add_text(m, utf8.s ? utf8.s : "", utf8.len);
        strbuf_free(&utf8);
    }
    strbuf_free(&parsebuf);

    char hint[64];
    header_hint(m, w.text_charset, &w.undeclared, hint, sizeof(hint));
    strbuf_free(&w.undeclared);
    read_headers(m, hint[0] ? hint : NULL);
    robot_classify(m);
    quote_new_text(m->text.s ? m->text.s : "", m->text.len, &m->new_text);
    if (m->from_addr == NULL)
        problem(m, "no sender address in From");
    if (m->message_id == NULL)
        problem(m, "no Message-ID");
    ensure_utf8(m);
    return m;
}

