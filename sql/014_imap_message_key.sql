-- An IMAP mailbox stores each mail once, whatever UIDs the server gives
-- it (a new UIDVALIDITY renumbers them all): the poller looks up the keys
-- of the mails it sees ("mid:" + Message-ID, or "sha256:" + hash) before
-- it fetches them.
CREATE INDEX inbound_mail_imap_key_idx ON inbound_mail (mailbox_id, (envelope->>'message_key'))
    WHERE source = 'imap';
