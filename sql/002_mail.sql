-- 002_mail: what mail-in learns about each received mail.

-- The parse summary of every inbound mail (also of bounces, which make no
-- message): subject, sender, Message-ID, attachments, robot class,
-- problems.  `atumctl inbound show` reads it.
ALTER TABLE inbound_mail
    ADD COLUMN summary jsonb,
    ADD COLUMN robot text CHECK (robot IN ('none', 'autoreply', 'bounce', 'list')),
    ADD COLUMN duplicate boolean NOT NULL DEFAULT false,
    ADD COLUMN rfc_message_id text;
CREATE INDEX inbound_mail_rfc_message_id_idx ON inbound_mail (rfc_message_id)
    WHERE rfc_message_id IS NOT NULL;

ALTER TABLE messages
    ADD COLUMN new_text text,                -- without quoted history and signature
    ADD COLUMN to_addrs text[] NOT NULL DEFAULT '{}',
    ADD COLUMN date_header text,
    ADD COLUMN robot text NOT NULL DEFAULT 'none'
        CHECK (robot IN ('none', 'autoreply', 'bounce', 'list')),
    ADD COLUMN problems text[] NOT NULL DEFAULT '{}',
    ADD COLUMN remote_images integer NOT NULL DEFAULT 0;
CREATE INDEX messages_from_addr_idx ON messages (ticket_id, lower(from_addr));

-- Delivery reports (DSN, complaints) about mail we sent, one row per
-- reported recipient; message_id points at our outgoing message when the
-- report names one we know.
CREATE TABLE mail_bounces (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inbound_id           bigint NOT NULL REFERENCES inbound_mail (id) ON DELETE CASCADE,
    message_id           bigint REFERENCES messages (id) ON DELETE SET NULL,
    original_message_id  text,
    report_type          text NOT NULL,
    recipient            text,
    action               text,
    status               text,
    diagnostic           text,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_bounces_message_idx ON mail_bounces (message_id) WHERE message_id IS NOT NULL;

-- Where each IMAP mailbox is, and which atumd polls it now.
ALTER TABLE mailboxes
    ADD COLUMN locked_by text,
    ADD COLUMN idle boolean NOT NULL DEFAULT true,
    ADD COLUMN poll_interval_s integer NOT NULL DEFAULT 60 CHECK (poll_interval_s BETWEEN 5 AND 86400);
