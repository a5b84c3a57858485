-- 022_portal: the customer portal -- account links (sign-in, invitation,
-- sign-up verification, password reset), satisfaction ratings, the
-- portal's per-queue settings and logo.

-- A link mailed to a customer.  Only HMAC(core.secret_key, token) is kept
-- (lib/token.h): a copy of the database opens no link.  A sign-up's link
-- names no user yet: the account is made when the address is proven.
CREATE TABLE account_links (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('signin', 'invite', 'verify', 'reset')),
    user_id      bigint REFERENCES users (id) ON DELETE CASCADE,
    email        text NOT NULL CHECK (email <> '' AND length(email) <= 320),
    name         text NOT NULL DEFAULT '',
    queue_id     bigint REFERENCES queues (id) ON DELETE SET NULL,
    created_by   bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    CONSTRAINT account_links_token_key UNIQUE (token_hash),
    CONSTRAINT account_links_user_check CHECK (kind = 'verify' OR user_id IS NOT NULL)
);
CREATE INDEX account_links_user_idx ON account_links (user_id) WHERE used_at IS NULL;
CREATE INDEX account_links_expires_idx ON account_links (expires_at);

-- One rating per ticket, by its requester; changeable for a while.
CREATE TABLE csat_ratings (
    ticket_id    bigint PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    user_id      bigint REFERENCES users (id) ON DELETE SET NULL,
    score        smallint NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment      text NOT NULL DEFAULT '' CHECK (length(comment) <= 4000),
    via          text NOT NULL CHECK (via IN ('link', 'portal')),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- A ticket's customer is asked once: the solved mail is sent at most once.
CREATE TABLE csat_requests (
    ticket_id    bigint PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    asked_at     timestamptz NOT NULL DEFAULT now()
);

-- The portal's look and sign-up, per queue (NULL: the global setting).
CREATE TABLE portal_settings (
    queue_id     bigint PRIMARY KEY REFERENCES queues (id) ON DELETE CASCADE,
    signup       boolean,
    title        text CHECK (length(title) <= 200),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Logos uploaded by admins (queue_id 0: the portal's own), served by
-- atumd from the same origin.
CREATE TABLE portal_logos (
    queue_id      bigint PRIMARY KEY CHECK (queue_id >= 0),
    content_type  text NOT NULL CHECK (content_type IN ('image/png', 'image/jpeg', 'image/webp')),
    content       bytea NOT NULL,
    sha256        text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- the new mails of the outbox and their templates
ALTER TABLE outbound_mail DROP CONSTRAINT outbound_mail_kind_check;
ALTER TABLE outbound_mail ADD CONSTRAINT outbound_mail_kind_check
    CHECK (kind IN ('reply', 'ack', 'notify', 'notice', 'account', 'solved'));
ALTER TABLE mail_templates DROP CONSTRAINT mail_templates_name_check;
ALTER TABLE mail_templates ADD CONSTRAINT mail_templates_name_check
    CHECK (name IN ('ack', 'reply', 'notify_new', 'notify_reply', 'notify_assign', 'notice',
                    'signin', 'invite', 'verify', 'reset', 'solved'));
