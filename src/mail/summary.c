/* mail/summary.c -- see mail/summary.h. */
#include "config.h"
#include "mail/summary.h"
#include "mail/msg.h"

#include <string.h>

/* json_string() refuses invalid UTF-8; our strings are valid, but a NULL
 * here must never turn into a crash. */
static json_t *str(const char *s)
{
    if (s == NULL)
        return json_null();
    json_t *j = json_string(s);
    return j ? j : json_string("(invalid UTF-8)");
}

static json_t *lines(const char *text)
{
    json_t *arr = json_array();
    if (text == NULL)
        return arr;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n > 0) {
            json_t *v = json_stringn(p, n);
            json_array_append_new(arr, v ? v : json_string("?"));
        }
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    return arr;
}

json_t *mail_summary_json(const struct mail_msg *m)
{
    json_t *att = json_array();
    for (size_t i = 0; i < m->natt; i++) {
        const struct mail_attachment *a = &m->att[i];
        json_t *o = json_object();
        json_object_set_new(o, "filename", str(a->filename));
        json_object_set_new(o, "content_type", str(a->content_type));
        json_object_set_new(o, "size", json_integer((json_int_t)a->size));
        json_object_set_new(o, "sha256", str(a->sha256));
        json_object_set_new(o, "inline", json_boolean(a->is_inline));
        json_object_set_new(o, "kept", json_boolean(!a->too_large));
        if (a->content_id)
            json_object_set_new(o, "content_id", str(a->content_id));
        if (a->subject)
            json_object_set_new(o, "subject", str(a->subject));
        json_array_append_new(att, o);
    }
    json_t *refs = json_array();
    for (size_t i = 0; i < m->nrefs; i++)
        json_array_append_new(refs, str(m->refs[i]));
    json_t *to = json_array();
    for (size_t i = 0; i < m->nto; i++)
        json_array_append_new(to, str(m->to[i]));
    json_t *dsn = json_array();
    for (size_t i = 0; i < m->ndsn; i++)
        json_array_append_new(dsn, json_pack("{s:o, s:o, s:o, s:o}",
            "recipient", str(m->dsn[i].recipient), "action", str(m->dsn[i].action),
            "status", str(m->dsn[i].status), "diagnostic", str(m->dsn[i].diagnostic)));

    json_t *o = json_object();
    json_object_set_new(o, "subject", str(m->subject));
    json_object_set_new(o, "from", str(m->from_addr));
    json_object_set_new(o, "from_name", str(m->from_name));
    json_object_set_new(o, "message_id", str(m->message_id_raw));
    json_object_set_new(o, "in_reply_to", str(m->in_reply_to));
    json_object_set_new(o, "references", refs);
    json_object_set_new(o, "to", to);
    json_object_set_new(o, "date", str(m->date));
    json_object_set_new(o, "attachments", att);
    json_object_set_new(o, "robot", str(mail_robot_name(m->robot)));
    json_object_set_new(o, "robot_reason", str(m->robot_reason));
    json_object_set_new(o, "report_type", str(m->report_type));
    json_object_set_new(o, "reported_message_id", str(m->report_original_id));
    json_object_set_new(o, "dsn", dsn);
    json_object_set_new(o, "problems", lines(m->problems.s));
    json_object_set_new(o, "text_bytes", json_integer((json_int_t)m->text.len));
    json_object_set_new(o, "has_html", json_boolean(m->html.len > 0));
    json_object_set_new(o, "remote_images_blocked", json_integer(m->remote_images));
    return o;
}
