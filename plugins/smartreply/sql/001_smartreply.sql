-- smartreply: drafts of replies for agents (advisory only: nothing here is
-- ever sent), each a run with its trace, and per-queue settings.

CREATE TABLE smartreply_drafts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    message_id  bigint REFERENCES messages (id) ON DELETE SET NULL,   -- the customer's message it answers
    method      text NOT NULL,                -- local, llm:MODEL, or pending
    outcome     text NOT NULL DEFAULT 'ok',   -- the language model's: ok, late, invalid, ...
    input       jsonb NOT NULL,               -- the thread, the candidates and passages given
    raw         text,                         -- the model's raw answer
    result      jsonb,                        -- {"text", "insert", "sources", "language", ...}
    error       text,
    elapsed_ms  real NOT NULL DEFAULT 0,
    usage       jsonb,
    replay_of   bigint REFERENCES smartreply_drafts (id) ON DELETE SET NULL,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX smartreply_drafts_ticket_idx ON smartreply_drafts (ticket_id, id);

-- Per queue; a queue without a row uses the [plugin.smartreply] keys.
CREATE TABLE smartreply_settings (
    queue_id    bigint PRIMARY KEY REFERENCES queues (id) ON DELETE CASCADE,
    llm         boolean NOT NULL DEFAULT true,       -- drafts written by the language model
    auto_draft  boolean NOT NULL DEFAULT true        -- a draft for each new customer message
);
