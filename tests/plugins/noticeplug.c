/* noticeplug -- a plugin that mails a notice through the host (tests).
 *
 * Job kind noticeplug.send, payload {"ticket_id": N, "to": "addr"}: one
 * notice about ticket N to addr, with host->mail_notice() in the job's
 * own transaction -- how the SLA plugin will warn of a breach. */
#include <atum/plugin.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const struct atum_host *host;

static int init(const struct atum_host *h, const struct atum_conf *conf, void **state)
{
    (void)conf;
    (void)state;
    if (h->size < offsetof(struct atum_host, mail_notice) + sizeof(h->mail_notice)) {
        h->log(ATUM_LOG_ERROR, "this host cannot mail notices");
        return -1;
    }
    host = h;
    return 0;
}

/* the value of "key": N or "key": "s" in a flat JSON object (test input) */
static int field(const char *json, const char *key, char *out, size_t size)
{
    const char *p = strstr(json, key);
    if (p == NULL || (p = strchr(p + strlen(key), ':')) == NULL)
        return -1;
    p++;
    while (*p == ' ' || *p == '"')
        p++;
    size_t n = strcspn(p, "\",}");
    if (n == 0 || n >= size)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int send_notice(void *state, struct atum_job *job)
{
    (void)state;
    char ticket[32], to[320];
    const char *e = NULL;
    if (field(job->payload, "\"ticket_id\"", ticket, sizeof(ticket)) < 0
        || field(job->payload, "\"to\"", to, sizeof(to)) < 0)
        return host->job_error(job, "payload needs ticket_id and to"), ATUM_JOB_PERMANENT;
    if (host->tx_begin(job->db, &e) < 0)
        return host->job_error(job, "%s", e);
    if (host->mail_notice(job->db, atoll(ticket), to, "SLA warning <soon>",
                          "First response due in 10 minutes.\nPlease look at it.", &e) < 0
        || host->job_complete_in_tx(job, &e) < 0) {
        host->tx_rollback(job->db);
        return host->job_error(job, "%s", e);
    }
    if (host->tx_commit(job->db, &e) < 0)
        return host->job_error(job, "%s", e);
    return ATUM_JOB_DONE;
}

static const struct atum_job_kind jobs[] = {
    { "noticeplug.send", send_notice, 3, 0 },
    { NULL, NULL, 0, 0 }
};

static const struct atum_plugin descriptor = {
    .abi = ATUM_PLUGIN_ABI,
    .size = sizeof(struct atum_plugin),
    .name = "noticeplug",
    .version = "1.0",
    .summary = "mails a notice through host->mail_notice (tests)",
    .init = init,
    .jobs = jobs,
};

ATUM_PLUGIN_EXPORT const struct atum_plugin *atum_plugin_entry(void)
{
    return &descriptor;
}
