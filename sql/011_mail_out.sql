-- 011_mail_out: the outbox.  Every outgoing mail is built once, stored
-- byte for byte, and sent by mail.send jobs; each recipient's fate is
-- recorded.

CREATE TABLE outbound_mail (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id        bigint REFERENCES tickets (id) ON DELETE SET NULL,
    message_id       bigint REFERENCES messages (id) ON DELETE SET NULL,
    kind             text NOT NULL CHECK (kind IN ('reply', 'ack', 'notify', 'notice')),
    rfc_message_id   text NOT NULL,           -- without <>; the same on every attempt
    mail_from        text NOT NULL,           -- envelope sender: bounces come back here
    subject          text NOT NULL DEFAULT '',
    raw              bytea NOT NULL,          -- the message as sent, CRLF line ends
    state            text NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'sending', 'sent', 'partial', 'failed', 'expired')),
    stage            text,                    -- of the attempt in progress: 'connect', 'data_end'
    unconfirmed      boolean NOT NULL DEFAULT false,  -- an attempt may have delivered it
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    queued_at        timestamptz NOT NULL DEFAULT now(),  -- smarthost.retry_for runs from here

    last_attempt_at  timestamptz,
    sent_at          timestamptz,
    CONSTRAINT outbound_mail_rfc_message_id_key UNIQUE (rfc_message_id)
);
-- one outgoing mail per reply message
CREATE UNIQUE INDEX outbound_mail_reply_key ON outbound_mail (message_id) WHERE kind = 'reply';
CREATE INDEX outbound_mail_ticket_idx ON outbound_mail (ticket_id, id);
CREATE INDEX outbound_mail_state_idx ON outbound_mail (state, id) WHERE state NOT IN ('sent');
ALTER TABLE outbound_mail ALTER COLUMN raw SET COMPRESSION lz4;

CREATE TABLE outbound_recipients (
    outbound_id  bigint NOT NULL REFERENCES outbound_mail (id) ON DELETE CASCADE,
    address      text NOT NULL,
    state        text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'sent', 'deferred', 'failed', 'bounced')),
    reply        text,                        -- the smarthost's (or a bounce's) last word
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (outbound_id, address)
);
-- acknowledgements per sender and time window (loop protection)
CREATE INDEX outbound_recipients_address_idx ON outbound_recipients (lower(address), outbound_id);

-- Per-queue overrides of the built-in mail templates (templates/mail/*.md).
CREATE TABLE mail_templates (
    queue_id    bigint NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (name IN ('ack', 'reply', 'notify_new', 'notify_reply',
                                              'notify_assign', 'notice')),
    source      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (queue_id, name)
);

-- bounces can point at the outgoing mail they report on
ALTER TABLE mail_bounces ADD COLUMN outbound_id bigint REFERENCES outbound_mail (id) ON DELETE SET NULL;
