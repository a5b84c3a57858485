-- sla 003: where a ledger entry came from, so that an event is recorded
-- once whoever records it first -- its hook, or the backfill that reads a
-- ticket's history when the plugin meets a ticket older than itself.
--
-- source: 'start' (the ticket's opening), 'message:<messages.id>' (a reply
-- or a customer's message), 'version:<ticket version>' (a change of
-- status, queue or priority, ticket_changes), 'current' (the backfill's
-- catch-up to the ticket's present state); NULL for what the plugin itself
-- records (policy, warning, breach) and for entries before this migration.
ALTER TABLE sla_ledger ADD COLUMN source text;
CREATE UNIQUE INDEX sla_ledger_source_key ON sla_ledger (ticket_id, source) WHERE source IS NOT NULL;
