-- sla 002: each target's outcome, met or missed, and sla_outcomes, the
-- view other plugins read it from (the metrics dashboard's SLA compliance:
-- plugins/metrics/dashboard.c reads sla_outcomes (ticket_id, met,
-- decided_at) when it exists).
--
-- Written with the rest of a ticket's state (sla_store_save, the
-- recompute): no statement more per event.

-- Only what is not already there, and nothing for the common case (a
-- clock running): *_met is true or false once decided (NULL while
-- undecided), *_missed_at the moment a target ran out; met is decided at
-- *_done_at.  A clock has an outcome when it was decided or has a target
-- now (*_used_ms is kept for tracked clocks only).
ALTER TABLE sla_tickets
    ADD COLUMN fr_met          boolean,
    ADD COLUMN fr_missed_at    timestamptz,
    ADD COLUMN res_met         boolean,
    ADD COLUMN res_missed_at   timestamptz,
    -- next response, one element per round: [met, decided_at_ms], both
    -- null while undecided; NULL when no round counts
    ADD COLUMN nr_outcomes     jsonb;

-- One row per ticket and target (first response, resolution, each round
-- of next response): met true or false once decided, at decided_at; both
-- NULL while undecided.
CREATE VIEW sla_outcomes AS
    SELECT ticket_id, fr_met AS met,
           CASE WHEN fr_met THEN fr_done_at ELSE fr_missed_at END AS decided_at
      FROM sla_tickets WHERE fr_met IS NOT NULL OR fr_used_ms IS NOT NULL
    UNION ALL
    SELECT ticket_id, res_met,
           CASE WHEN res_met THEN res_done_at ELSE res_missed_at END
      FROM sla_tickets WHERE res_met IS NOT NULL OR res_used_ms IS NOT NULL
    UNION ALL
    SELECT t.ticket_id, (r.v ->> 0)::boolean,
           'epoch'::timestamptz + (r.v ->> 1)::bigint * interval '1 millisecond'
      FROM sla_tickets t CROSS JOIN LATERAL jsonb_array_elements(t.nr_outcomes) AS r (v)
     WHERE t.nr_outcomes IS NOT NULL;
