-- sla 001: calendars, policies, the append-only ledger of every ticket's
-- clock events, and each ticket's computed state.
--
-- Applied once by atumd / atumctl migrate with the plugin (its checksum is
-- recorded): never edit it after a release, add 002_... .

-- One row: bumped by every edit of policies or calendars, so every atumd
-- knows when its cached configuration is stale and which ticket states
-- were computed with an older one.
CREATE TABLE sla_config (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    version  bigint NOT NULL DEFAULT 1
);
INSERT INTO sla_config DEFAULT VALUES;

CREATE TABLE sla_calendars (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (name <> '' AND length(name) <= 127),
    spec        jsonb NOT NULL,            -- time_zone, hours, holidays (plugins/sla/calspec.h)
    version     integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT sla_calendars_name_key UNIQUE (name)
);

CREATE TABLE sla_policies (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    position    integer NOT NULL DEFAULT 100,   -- the first enabled match wins
    enabled     boolean NOT NULL DEFAULT true,
    -- a calendar a policy counts in cannot be deleted under it
    calendar_id bigint REFERENCES sla_calendars (id) ON DELETE RESTRICT,
    spec        jsonb NOT NULL,            -- the stored form (plugins/sla/policy.h)
    version     integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- What happened to a ticket, each at its UTC instant: the facts its
-- clocks are computed from, and the warnings and breaches fired.  Hooks
-- may record out of order; readers order by "at".
CREATE TABLE sla_ledger (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint NOT NULL,
    at          timestamptz NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('start', 'change', 'customer', 'response', 'policy',
                                              'warning', 'breach')),
    status      text,
    queue_id    bigint,
    priority    text,
    clock       text CHECK (clock IN ('first_response', 'next_response', 'resolution')),
    round       integer,
    detail      jsonb,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sla_ledger_ticket_idx ON sla_ledger (ticket_id, id);

-- Append-only: a clock event, once recorded, stays what it was.
CREATE FUNCTION sla_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sla_ledger is append-only (% refused)', TG_OP;
END
$$;
CREATE TRIGGER sla_ledger_append_only BEFORE UPDATE OR DELETE ON sla_ledger
    FOR EACH ROW EXECUTE FUNCTION sla_ledger_append_only();

-- Each ticket's state as last computed; the lock that serialises the
-- hooks, ticks and recomputes of one ticket.
CREATE TABLE sla_tickets (
    ticket_id      bigint PRIMARY KEY,
    queue_id       bigint,
    policy_id      bigint,
    config_version bigint NOT NULL DEFAULT 0,   -- computed with this configuration
    ledger_last    bigint NOT NULL DEFAULT 0,   -- ... from the ledger up to this id
    open           boolean NOT NULL DEFAULT true,
    next_due       timestamptz,                 -- the next warning or breach owed
    due_at         timestamptz,                 -- the earliest deadline of a running clock
    breached       boolean NOT NULL DEFAULT false,
    started_at     timestamptz,
    fr_mode        text,
    fr_used_ms     bigint,
    fr_done_at     timestamptz,
    res_mode       text,
    res_used_ms    bigint,
    res_done_at    timestamptz,
    nr_mode        text,
    computed_at    timestamptz,
    last_error     text
);
-- the tick takes due tickets from here: nothing scans every ticket
CREATE INDEX sla_tickets_next_due_idx ON sla_tickets (next_due) WHERE next_due IS NOT NULL;
-- a queue's recent tickets: predictions, lists
CREATE INDEX sla_tickets_queue_idx ON sla_tickets (queue_id, started_at DESC);

-- The moments sla.tick jobs are pending for.  A writer whose ticket needs
-- escalating at T enqueues a tick only when none is pending at or before
-- T: every tick, when it has run, arranges the next one for the earliest
-- moment of all, so one pending tick covers every later moment.
CREATE TABLE sla_schedule (
    at  timestamptz PRIMARY KEY
);
