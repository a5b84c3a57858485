-- 010_api: accounts, sessions, API tokens, TOTP, throttling, the ticket
-- features of the REST API (links, locks, merge, search), canned responses,
-- webhooks and the audit log's hash chain.

-- ---------------------------------------------------------------- accounts
-- Customers see their organisation's tickets only when this is set.
ALTER TABLE users ADD COLUMN org_access boolean NOT NULL DEFAULT false;

-- Browser sessions.  Only an HMAC of the token (keyed with core.secret_key)
-- is stored: a copy of the table does not log anybody in.
CREATE TABLE sessions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash    text NOT NULL,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,          -- absolute expiry
    ip            inet,
    user_agent    text NOT NULL DEFAULT '',
    CONSTRAINT sessions_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- API tokens for integrations: shown once, stored as an HMAC.
CREATE TABLE api_tokens (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (name <> '' AND length(name) <= 100),
    token_hash    text NOT NULL,
    prefix        text NOT NULL,                 -- first characters, to recognise it
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    expires_at    timestamptz,
    revoked_at    timestamptz,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);

-- TOTP (RFC 6238).  enabled only after the first code was verified;
-- last_step refuses the replay of a code already used.
CREATE TABLE user_totp (
    user_id     bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret      text NOT NULL,                   -- base32
    enabled     boolean NOT NULL DEFAULT false,
    last_step   bigint NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE recovery_codes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash   text NOT NULL,
    used_at     timestamptz
);
CREATE INDEX recovery_codes_user_idx ON recovery_codes (user_id);

-- The second step of a login with TOTP: the password was right, a code
-- is still needed.  Short-lived, few attempts.
CREATE TABLE login_challenges (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  text NOT NULL UNIQUE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attempts    integer NOT NULL DEFAULT 0,
    expires_at  timestamptz NOT NULL,
    ip          inet
);

-- Failed logins per account ("acct:EMAIL") and per client ("ip:ADDR") in
-- a fixed window; shared by every atumd on the database.
CREATE TABLE auth_throttle (
    key           text PRIMARY KEY,
    failures      integer NOT NULL,
    window_start  timestamptz NOT NULL
);

-- ---------------------------------------------------------------- tickets
ALTER TABLE tickets ADD COLUMN merged_into bigint REFERENCES tickets (id) ON DELETE SET NULL;

-- Full-text search (PostgreSQL, 'simple' configuration: mail arrives in
-- every language, so no stemming that favours one).
ALTER TABLE tickets ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', subject)) STORED;
ALTER TABLE messages ADD COLUMN search tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', subject || ' ' || left(body_text, 200000))) STORED;
CREATE INDEX tickets_search_idx ON tickets USING gin (search);
CREATE INDEX messages_search_idx ON messages USING gin (search);
CREATE INDEX tickets_status_updated_idx ON tickets (status, updated_at DESC, id DESC);

CREATE TABLE ticket_links (
    ticket_a    bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    ticket_b    bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_a, ticket_b),
    CHECK (ticket_a < ticket_b)
);
CREATE INDEX ticket_links_b_idx ON ticket_links (ticket_b);

-- "Being edited by": advisory, expires by itself.
CREATE TABLE ticket_locks (
    ticket_id   bigint PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    user_id     bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    locked_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);

CREATE TABLE canned_responses (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title       text NOT NULL CHECK (title <> '' AND length(title) <= 200),
    body        text NOT NULL,
    queue_id    bigint REFERENCES queues (id) ON DELETE CASCADE,   -- NULL: every queue
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- plugins
-- Admin overrides of [plugin.NAME] enabled = ..., from the API.
CREATE TABLE plugin_settings (
    name        text PRIMARY KEY,
    enabled     boolean NOT NULL,
    changed_by  bigint,
    changed_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- webhooks
CREATE TABLE webhooks (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url         text NOT NULL CHECK (url ~ '^https?://'),
    events      text[] NOT NULL CHECK (cardinality(events) > 0),
    secret      text NOT NULL,                   -- HMAC-SHA256 key, shown once
    enabled     boolean NOT NULL DEFAULT true,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per (event, webhook); the job of kind webhook.deliver updates it.
CREATE TABLE webhook_deliveries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id    bigint NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event         text NOT NULL,
    payload       jsonb NOT NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_status   integer,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    delivered_at  timestamptz
);
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, id DESC);

-- ---------------------------------------------------------------- audit chain
-- Each row carries seq (its place in the chain, gap-free), the previous
-- row's hash and its own: sha256(prev_hash || canonical text of the row).
-- Writers serialise on a transaction advisory lock, so the chain order is
-- the commit order.  `atumctl audit verify` recomputes every link.
ALTER TABLE audit_log ADD COLUMN seq bigint;
ALTER TABLE audit_log ADD COLUMN prev_hash text;
ALTER TABLE audit_log ADD COLUMN hash text;

CREATE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    last_seq bigint;
    last_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('atum.audit_log.chain', 0));
    SELECT seq, hash INTO last_seq, last_hash FROM audit_log
        WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(last_seq, 0) + 1;
    NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
    NEW.hash := encode(sha256(convert_to(NEW.prev_hash || json_build_array(
        NEW.seq, (extract(epoch FROM NEW.at) * 1000000)::bigint, NEW.actor_id, NEW.actor,
        NEW.action, NEW.target, NEW.detail, host(NEW.ip))::text, 'UTF8')), 'hex');
    RETURN NEW;
END
$$;

-- Rows written before this migration join the chain in id order.
ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
DO $$
DECLARE
    r record;
    h text := repeat('0', 64);
    n bigint := 0;
BEGIN
    FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
        n := n + 1;
        UPDATE audit_log SET seq = n, prev_hash = h,
            hash = encode(sha256(convert_to(h || json_build_array(
                n, (extract(epoch FROM r.at) * 1000000)::bigint, r.actor_id, r.actor,
                r.action, r.target, r.detail, host(r.ip))::text, 'UTF8')), 'hex')
            WHERE id = r.id
            RETURNING hash INTO h;
    END LOOP;
END
$$;
ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;

CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_chain();
CREATE UNIQUE INDEX audit_log_seq_key ON audit_log (seq);
ALTER TABLE audit_log ALTER COLUMN seq SET NOT NULL,
    ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
