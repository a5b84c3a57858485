-- 020_live: the live channel's events, presence on tickets, and the
-- version every ticket carries for the stale-send guard.  See
-- docs/decisions/0013-live-event-ids.md for how event ids are given.

-- ---------------------------------------------------------------- events
-- Every domain event about a ticket, written in the transaction of the
-- change (desk_emit).  `entry` orders the writes; the public `id` is
-- given later by the publisher (core/live_event.h), one batch at a time
-- under the lock of live_counter's row, to rows already committed: so a
-- reader that saw id N has seen every id below N, whatever order the
-- writers committed in.  No message bodies: ids and changed fields.
CREATE TABLE live_events (
    entry         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id            bigint,                        -- public, NULL until published
    event         text NOT NULL,
    ticket_id     bigint NOT NULL,               -- no foreign key: events outlive tickets
    queue_id      bigint,                        -- the ticket's queue when it happened
    staff_only    boolean NOT NULL DEFAULT false,
    data          jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE UNIQUE INDEX live_events_id_key ON live_events (id);
CREATE INDEX live_events_pending_idx ON live_events (entry) WHERE id IS NULL;
CREATE INDEX live_events_published_idx ON live_events (published_at) WHERE id IS NOT NULL;

-- One row: the last id given, and the lowest id still kept (a client
-- resuming from below it may have missed pruned events: it reloads).
CREATE TABLE live_counter (
    one           boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_id       bigint NOT NULL DEFAULT 0,
    pruned_below  bigint NOT NULL DEFAULT 1
);
INSERT INTO live_counter DEFAULT VALUES;

-- ---------------------------------------------------------------- presence
-- Who is viewing (or typing on) a ticket, per browser tab or API client.
-- Rows end when the live socket that set them closes, or at expires_at.
CREATE TABLE ticket_presence (
    ticket_id     bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client        text NOT NULL CHECK (length(client) BETWEEN 1 AND 200),
    typing_until  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, user_id, client)
);
CREATE INDEX ticket_presence_expires_idx ON ticket_presence (expires_at);
CREATE INDEX ticket_presence_client_idx ON ticket_presence (client);

-- ---------------------------------------------------------------- versions
-- Every change of a ticket (a message, a field, a merge) raises its
-- version; a reply or change that names an older one is refused (409)
-- with what changed since (desk/ticket.h).
ALTER TABLE tickets ADD COLUMN version bigint NOT NULL DEFAULT 1;
-- the version a message brought its ticket to (0: written before versions)
ALTER TABLE messages ADD COLUMN ticket_version bigint NOT NULL DEFAULT 0;
-- an agent's reply by mail that crossed a newer message: kept as an
-- internal note, not sent, until the agent sends or drops it
ALTER TABLE messages ADD COLUMN held text;
CREATE INDEX messages_held_idx ON messages (ticket_id) WHERE held IS NOT NULL;

-- One row per version: what the change was (field changes, a message, a
-- merge), for the 409 answer's "what changed since".
CREATE TABLE ticket_changes (
    ticket_id   bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    version     bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('message', 'update', 'merge', 'rewrite', 'held')),
    message_id  bigint,
    changes     jsonb,
    actor_id    bigint,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, version)
);
