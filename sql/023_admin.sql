-- 023_admin: a mail template may be overridden for every queue at once
-- (queue_id NULL, "global"); a queue's own override still comes first.
-- The pair (queue_id, name) stays unique for queues' overrides, and one
-- global override per name.

ALTER TABLE mail_templates DROP CONSTRAINT mail_templates_pkey;
ALTER TABLE mail_templates ALTER COLUMN queue_id DROP NOT NULL;
ALTER TABLE mail_templates ADD CONSTRAINT mail_templates_queue_name_key UNIQUE (queue_id, name);
CREATE UNIQUE INDEX mail_templates_global_key ON mail_templates (name) WHERE queue_id IS NULL;
