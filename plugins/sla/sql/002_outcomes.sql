-- sla 002: each target's outcome, met or missed, and sla_outcomes, the
-- view other plugins read it from (the metrics dashboard's SLA compliance:
-- plugins/metrics/dashboard.c reads sla_outcomes (ticket_id, met,
-- decided_at) when it exists).
--
-- Written with the rest of a ticket's state (sla_store_save, the
-- recompute): no statement more per event.

-- NULL: the ticket has no such target; 'undecided' while it can go either
-- way, 'met' / 'missed' once decided at *_decided_at.
ALTER TABLE sla_tickets
    ADD COLUMN fr_outcome      text CHECK (fr_outcome IN ('undecided', 'met', 'missed')),
    ADD COLUMN fr_decided_at   timestamptz,
    ADD COLUMN res_outcome     text CHECK (res_outcome IN ('undecided', 'met', 'missed')),
    ADD COLUMN res_decided_at  timestamptz,
    -- next response, one element per round: [met, decided_at_ms], met and
    -- the moment null while undecided
    ADD COLUMN nr_outcomes     jsonb;

-- One row per ticket and target (first response, resolution, each round
-- of next response): met true or false once decided, at decided_at; both
-- NULL while undecided.
CREATE VIEW sla_outcomes AS
    SELECT ticket_id,
           CASE fr_outcome WHEN 'met' THEN true WHEN 'missed' THEN false END AS met,
           fr_decided_at AS decided_at
      FROM sla_tickets WHERE fr_outcome IS NOT NULL
    UNION ALL
    SELECT ticket_id,
           CASE res_outcome WHEN 'met' THEN true WHEN 'missed' THEN false END,
           res_decided_at
      FROM sla_tickets WHERE res_outcome IS NOT NULL
    UNION ALL
    SELECT t.ticket_id, (r.v ->> 0)::boolean,
           'epoch'::timestamptz + (r.v ->> 1)::bigint * interval '1 millisecond'
      FROM sla_tickets t CROSS JOIN LATERAL jsonb_array_elements(t.nr_outcomes) AS r (v)
     WHERE t.nr_outcomes IS NOT NULL;
