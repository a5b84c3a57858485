-- 021_desk: what the agent desk keeps on the server -- saved views, drafts,
-- uploads waiting for their message, macros -- and the indexes its list,
-- sorts, counts and history read through.

-- ---------------------------------------------------------------- views
-- A saved view is a name and the query parameters of GET /tickets
-- (checked by the API when saved), one list per user.
CREATE TABLE saved_views (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    filter      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(filter) = 'object'),
    position    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX saved_views_name_key ON saved_views (user_id, lower(name));

-- ---------------------------------------------------------------- drafts
-- What an agent is writing on a ticket, saved as they type: one per
-- person and ticket, on any device; gone when it is sent.
CREATE TABLE ticket_drafts (
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            text NOT NULL DEFAULT 'reply' CHECK (kind IN ('reply', 'note')),
    body            text NOT NULL DEFAULT '',
    status          text CHECK (status IN ('new', 'open', 'pending', 'solved', 'closed')),
    attachment_ids  bigint[] NOT NULL DEFAULT '{}',
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, user_id)
);
CREATE INDEX ticket_drafts_user_idx ON ticket_drafts (user_id);
ALTER TABLE ticket_drafts ALTER COLUMN body SET COMPRESSION lz4;

-- ---------------------------------------------------------------- uploads
-- A file uploaded through the API is an attachment without a message
-- until a reply or note takes it (POST /attachments, then attachment_ids);
-- only its uploader sees it meanwhile.  Unclaimed ones go after a day.
ALTER TABLE attachments ALTER COLUMN message_id DROP NOT NULL;
ALTER TABLE attachments
    ADD COLUMN uploaded_by bigint REFERENCES users (id) ON DELETE CASCADE,
    ADD COLUMN uploaded_at timestamptz,
    ADD CONSTRAINT attachments_owner_check CHECK (message_id IS NOT NULL OR uploaded_by IS NOT NULL);
CREATE INDEX attachments_pending_idx ON attachments (uploaded_by, uploaded_at) WHERE message_id IS NULL;

-- ---------------------------------------------------------------- macros
-- A macro: a canned text (placeholders as canned responses) plus field
-- changes (status, priority, assignee, queue, category), applied to a
-- ticket in one step.  Written by managers and admins, used by agents.
CREATE TABLE macros (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text NOT NULL CHECK (title <> '' AND length(title) <= 200),
    body        text NOT NULL DEFAULT '',
    visibility  text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'internal')),
    actions     jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(actions) = 'object'),
    queue_id    bigint REFERENCES queues (id) ON DELETE CASCADE,   -- NULL: every queue
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT macros_title_key UNIQUE (title)
);

-- ---------------------------------------------------------------- sorts
-- GET /tickets?sort=: each order is (key, id) in one direction, so a
-- keyset cursor follows it and every page is an index range.
CREATE FUNCTION ticket_priority_rank(p text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE p WHEN 'low' THEN 1 WHEN 'normal' THEN 2 WHEN 'high' THEN 3 WHEN 'urgent' THEN 4 ELSE 0 END;
CREATE INDEX tickets_created_idx ON tickets (created_at, id);
CREATE INDEX tickets_priority_idx ON tickets (ticket_priority_rank(priority), id);
CREATE INDEX tickets_unassigned_idx ON tickets (updated_at DESC, id DESC) WHERE assignee_id IS NULL;
CREATE INDEX tickets_queue_updated_idx ON tickets (queue_id, updated_at DESC, id DESC);

-- ---------------------------------------------------------------- history
-- GET /tickets/{id}/history: the audit rows about a ticket, and the merges
-- and links that name it from the other side.
CREATE INDEX audit_log_target_idx ON audit_log (target, id) WHERE target IS NOT NULL;
CREATE INDEX audit_log_other_ticket_idx ON audit_log ((coalesce(detail->>'into_id', detail->>'linked_id')), id)
    WHERE action IN ('ticket.merge', 'ticket.link', 'ticket.unlink');
