-- 001_core: the core tables of ATUM DESK.
--
-- Applied once, in one transaction, by `atumctl migrate` or at atumd start.
-- Never edit this file after it has been applied anywhere: add 002_... .

-- ---------------------------------------------------------------- people
CREATE TABLE orgs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL,
    domain      text,                 -- customers mailing from here join the org
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orgs_name_key UNIQUE (name)
);
CREATE UNIQUE INDEX orgs_domain_key ON orgs (lower(domain)) WHERE domain IS NOT NULL;

CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL CHECK (email <> '' AND length(email) <= 320),
    name           text NOT NULL DEFAULT '',
    role           text NOT NULL DEFAULT 'customer'
                   CHECK (role IN ('customer', 'agent', 'manager', 'admin')),
    org_id         bigint REFERENCES orgs (id) ON DELETE SET NULL,
    password_hash  text,              -- yescrypt "$y$...", NULL for mail-only customers
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_org_idx ON users (org_id) WHERE org_id IS NOT NULL;

-- ---------------------------------------------------------------- queues
CREATE TABLE queues (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (name <> ''),
    address     text NOT NULL CHECK (address LIKE '%_@_%'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT queues_name_key UNIQUE (name)
);
CREATE UNIQUE INDEX queues_address_key ON queues (lower(address));

CREATE TABLE queue_members (
    queue_id  bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (queue_id, user_id)
);
CREATE INDEX queue_members_user_idx ON queue_members (user_id);

-- IMAP mailboxes polled into a queue.
CREATE TABLE mailboxes (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL,
    queue_id     bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    host         text NOT NULL,
    port         integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    security     text NOT NULL DEFAULT 'tls' CHECK (security IN ('tls', 'starttls', 'none')),
    trust_any_certificate boolean NOT NULL DEFAULT false,
    username     text NOT NULL,
    password_env text,                -- name of the environment variable holding the password
    folder       text NOT NULL DEFAULT 'INBOX',
    after_fetch  text NOT NULL DEFAULT 'move' CHECK (after_fetch IN ('move', 'delete', 'seen')),
    move_to      text NOT NULL DEFAULT 'Processed',
    enabled      boolean NOT NULL DEFAULT true,
    uidvalidity  bigint,
    last_uid     bigint NOT NULL DEFAULT 0,
    last_error   text,
    last_ok_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT mailboxes_name_key UNIQUE (name)
);

-- ---------------------------------------------------------------- mail in
-- Every received mail, raw and unchanged, committed before anyone is told
-- "accepted".  Re-parsing is always possible from here.
CREATE TABLE inbound_mail (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL CHECK (source IN ('smtp', 'lmtp', 'imap', 'cli')),
    mailbox_id   bigint REFERENCES mailboxes (id) ON DELETE SET NULL,
    envelope     jsonb NOT NULL DEFAULT '{}',
    raw          bytea NOT NULL,
    size         integer NOT NULL,
    state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'ingested', 'failed')),
    error        text,
    ticket_id    bigint,
    message_id   bigint,
    processed_at timestamptz
);
CREATE INDEX inbound_mail_state_idx ON inbound_mail (state, id) WHERE state <> 'ingested';

-- ---------------------------------------------------------------- tickets
CREATE TABLE tickets (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the [#N] number
    queue_id      bigint NOT NULL REFERENCES queues (id),
    subject       text NOT NULL DEFAULT '',
    status        text NOT NULL DEFAULT 'new'
                  CHECK (status IN ('new', 'open', 'pending', 'solved', 'closed')),
    priority      text NOT NULL DEFAULT 'normal'
                  CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    category      text,
    requester_id  bigint NOT NULL REFERENCES users (id),
    assignee_id   bigint REFERENCES users (id) ON DELETE SET NULL,
    org_id        bigint REFERENCES orgs (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    solved_at     timestamptz,
    closed_at     timestamptz
);
CREATE INDEX tickets_queue_status_idx ON tickets (queue_id, status, updated_at DESC);
CREATE INDEX tickets_requester_idx ON tickets (requester_id, updated_at DESC);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id, updated_at DESC) WHERE assignee_id IS NOT NULL;
CREATE INDEX tickets_org_idx ON tickets (org_id, updated_at DESC) WHERE org_id IS NOT NULL;
CREATE INDEX tickets_updated_idx ON tickets (updated_at DESC, id DESC);

CREATE TABLE messages (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id     bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    inbound_id    bigint REFERENCES inbound_mail (id) ON DELETE SET NULL,
    author_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    direction     text NOT NULL CHECK (direction IN ('in', 'out')),
    visibility    text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'internal')),
    message_id    text,               -- RFC 5322 Message-ID without <>
    in_reply_to   text,
    refs          text[] NOT NULL DEFAULT '{}',
    subject       text NOT NULL DEFAULT '',
    from_addr     text,
    body_text     text NOT NULL DEFAULT '',
    body_html     text,               -- sanitised, never the raw HTML
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- The same Message-ID arriving twice (IMAP re-fetch, SMTP retry, both
-- channels) makes one message.
CREATE UNIQUE INDEX messages_message_id_key ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_ticket_idx ON messages (ticket_id, created_at, id);

ALTER TABLE inbound_mail
    ADD CONSTRAINT inbound_mail_ticket_fk FOREIGN KEY (ticket_id) REFERENCES tickets (id) ON DELETE SET NULL,
    ADD CONSTRAINT inbound_mail_message_fk FOREIGN KEY (message_id) REFERENCES messages (id) ON DELETE SET NULL;

-- Attachment content is stored once per SHA-256, however often it is sent.
CREATE TABLE attachment_blobs (
    sha256      text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL,
    content     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE attachments (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id    bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    sha256        text NOT NULL REFERENCES attachment_blobs (sha256),
    filename      text NOT NULL DEFAULT '',
    content_type  text NOT NULL DEFAULT 'application/octet-stream',
    content_id    text,               -- for inline cid: images
    size          bigint NOT NULL,
    inline        boolean NOT NULL DEFAULT false
);
CREATE INDEX attachments_message_idx ON attachments (message_id);
CREATE INDEX attachments_sha256_idx ON attachments (sha256);

-- ---------------------------------------------------------------- job queue
-- The hot table: only work that is waiting, running or dead lives here.
-- Finished jobs are moved to job_archive by the statement that finishes
-- them, so the claim index only ever holds runnable rows.
CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'available'
                     CHECK (state IN ('available', 'running', 'dead')),
    priority         smallint NOT NULL DEFAULT 100,
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 10 CHECK (max_attempts > 0),
    unique_key       text,
    concurrency_key  text,
    locked_by        text,
    locked_until     timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- Exactly the claim's ORDER BY, over exactly the claimable rows.
CREATE INDEX jobs_claim_idx ON jobs (priority, run_at, id) WHERE state = 'available';
CREATE INDEX jobs_lease_idx ON jobs (locked_until) WHERE state = 'running';
CREATE INDEX jobs_dead_idx ON jobs (id) WHERE state = 'dead';
CREATE UNIQUE INDEX jobs_unique_key_idx ON jobs (unique_key) WHERE unique_key IS NOT NULL;
CREATE INDEX jobs_concurrency_idx ON jobs (concurrency_key)
    WHERE state = 'running' AND concurrency_key IS NOT NULL;
-- A queue table churns: vacuum and analyze it after a fixed number of
-- changes, not a fraction of its (tiny) size, and without throttling.
ALTER TABLE jobs SET (
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 2000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 5000,
    autovacuum_analyze_scale_factor = 0,
    autovacuum_analyze_threshold = 2000,
    autovacuum_vacuum_cost_delay = 0
);

CREATE TABLE job_archive (
    id           bigint PRIMARY KEY,
    kind         text NOT NULL,
    payload      jsonb NOT NULL,
    attempts     integer NOT NULL,
    locked_by    text,
    created_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_archive_finished_idx ON job_archive USING brin (finished_at);

-- ---------------------------------------------------------------- processes
-- Every running atumd, with a heartbeat: what `atumctl status` shows.
CREATE TABLE nodes (
    id            text PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    version       text NOT NULL,
    started_at    timestamptz NOT NULL DEFAULT now(),
    heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    info          jsonb NOT NULL DEFAULT '{}'
);

-- ---------------------------------------------------------------- audit
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    bigint,               -- no FK: the record outlives the user
    actor       text NOT NULL,        -- 'user:5', 'atumctl', 'system'
    action      text NOT NULL,        -- 'user.create', 'login.failed', ...
    target      text,
    detail      jsonb NOT NULL DEFAULT '{}',
    ip          inet
);
CREATE INDEX audit_log_at_idx ON audit_log USING brin (at);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
