/* mail/msg.c -- see mail/msg.h. */
#include "config.h"
#include "mail/msg.h"

#include <stdlib.h>

const char *mail_robot_name(enum mail_robot r)
{
    switch (r) {
    case MAIL_ROBOT_AUTOREPLY: return "autoreply";
    case MAIL_ROBOT_BOUNCE: return "bounce";
    case MAIL_ROBOT_LIST: return "list";
    default: return "none";
    }
}

void mail_msg_free(struct mail_msg **mp)
{
    struct mail_msg *m = *mp;
    if (m == NULL)
        return;
    mailhdr_free(&m->headers);
    free(m->subject);
    free(m->from_addr);
    free(m->from_name);
    free(m->reply_to);
    free(m->message_id);
    free(m->message_id_raw);
    free(m->in_reply_to);
    for (size_t i = 0; i < m->nrefs; i++)
        free(m->refs[i]);
    free(m->refs);
    for (size_t i = 0; i < m->nto; i++)
        free(m->to[i]);
    free(m->to);
    free(m->date);
    strbuf_free(&m->text);
    strbuf_free(&m->html);
    strbuf_free(&m->new_text);
    for (size_t i = 0; i < m->natt; i++) {
        struct mail_attachment *a = &m->att[i];
        free(a->filename);
        free(a->content_type);
        free(a->content_id);
        free(a->data);
        free(a->subject);
        free(a->message_id);
    }
    free(m->att);
    free(m->robot_reason);
    free(m->report_type);
    free(m->report_original_id);
    for (size_t i = 0; i < m->ndsn; i++) {
        free(m->dsn[i].recipient);
        free(m->dsn[i].action);
        free(m->dsn[i].status);
        free(m->dsn[i].diagnostic);
    }
    free(m->dsn);
    strbuf_free(&m->problems);
    free(m->body_charset);
    free(m);
    *mp = NULL;
}
