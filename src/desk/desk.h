/*
 * desk/desk.h -- what every write of the helpdesk domain shares: who acts,
 * the transaction it acts in, and the audit row and events that go with
 * each change.
 *
 * Every domain function (desk/ticket.h, desk/user.h, desk/org.h,
 * desk/queue.h) takes a struct desk_tx: an open transaction on the
 * caller's connection, the runtime (read-locked by the caller: events and
 * mail-out go through it) and the actor.  The function does its SQL, its
 * audit row and its events in that transaction; the caller commits or
 * rolls back.  Nothing in src/desk/ begins or commits a transaction, so a
 * channel can combine several changes into one commit (a reply that also
 * reassigns, a mail that opens a follow-up ticket and links it).
 *
 * The audit log records what people do: a change whose actor is a user
 * (through the API, the desk, the portal, an agent's reply by mail) or an
 * operator (atumctl) writes one audit row; the system acting on its own
 * (mail-in turning a customer's mail into a ticket, a plugin's job) is
 * recorded by its own tables (inbound_mail, jobs) instead -- the audit
 * chain serialises its writers, and mail-in must not.
 */
#ifndef ATUM_DESK_DESK_H
#define ATUM_DESK_DESK_H

#include <atum/plugin.h>
#include <jansson.h>
#include <stdbool.h>
#include "core/db.h"
#include "lib/err.h"

struct runtime;

enum desk_actor_kind {
    DESK_SYSTEM = 0,         /* mail-in, a job, a plugin: sees everything, not audited */
    DESK_OPERATOR,           /* atumctl: sees everything, audited */
    DESK_USER,               /* a signed-in person: role and visibility apply, audited */
};

struct desk_actor {
    enum desk_actor_kind kind;
    long long user_id;       /* DESK_USER (and an agent replying by mail) */
    enum atum_role role;     /* DESK_USER: customer, agent, manager, admin */
    long long org_id;        /* a customer's organisation, 0: none */
    bool org_access;         /* the customer sees the organisation's tickets */
    const char *via;         /* "api", "mail", "atumctl", "plugin:NAME" ... (events' source) */
    const char *ip;          /* the client, or NULL */
};

struct desk_tx {
    struct db_conn *db;      /* a transaction is open */
    struct runtime *rt;      /* read-locked by the caller; NULL: no hooks, no mail */
    const struct desk_actor *who;
};

/* Staff (agent, manager, admin) or the system acting as staff. */
bool desk_is_staff(const struct desk_actor *who);
/* A customer signed in (not the system acting for one). */
bool desk_is_customer(const struct desk_actor *who);

/* 0 when the actor has at least this role (the system and operators
 * always do); else -1 and ERR_FORBIDDEN. */
int desk_need_role(const struct desk_tx *tx, enum atum_role role, struct err *err);

/* A failed write: ERR_CONFLICT naming `field` for a unique violation,
 * ERR_INVALID for a foreign key or check violation, ERR_FAILED otherwise. */
int desk_write_fail(const struct desk_tx *tx, const char *what, const char *field, const char *e,
                    struct err *err);

/* The audit row of a change, when the actor is audited (see above).
 * detail: a JSON object or NULL; borrowed. */
int desk_audit(const struct desk_tx *tx, const char *action, const char *target_kind,
               long long target_id, json_t *detail, struct err *err);

/* Emits an event in the transaction (event_emit: hooks and webhooks, when
 * tx->rt is set); data is stolen.  An event whose data names a
 * "ticket_id" is also stored for the live channel (core/live_event.h),
 * staff-only when it is about an internal note or a held reply. */
int desk_emit(const struct desk_tx *tx, const char *event, json_t *data, struct err *err);

/* A database failure while doing `what`: ERR_FAILED with the text. */
int desk_db_fail(struct err *err, const char *what, const char *e);

#endif
