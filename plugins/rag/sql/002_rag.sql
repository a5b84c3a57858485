-- rag with a language model, solved tickets and the acknowledgement:
-- per-queue settings, the public answers of solved tickets (an index
-- source for staff), embeddings of passages, and the runs (traces) of
-- drafted answers.

CREATE TABLE rag_settings (
    queue_id         bigint PRIMARY KEY REFERENCES queues (id) ON DELETE CASCADE,
    llm              boolean NOT NULL DEFAULT true,    -- drafted answers by the language model
    ack_suggestions  boolean NOT NULL DEFAULT true,    -- "these articles may help" in the acknowledgement
    ack_limit        int NOT NULL DEFAULT 3 CHECK (ack_limit BETWEEN 1 AND 10)
);

-- A solved ticket as a document: the customer's question and the public
-- answer that solved it.  Staff only: never shown to customers.
CREATE TABLE rag_ticket_docs (
    ticket_id   bigint PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    queue_id    bigint REFERENCES queues (id) ON DELETE SET NULL,
    subject     text NOT NULL,
    question    text NOT NULL,
    answer      text NOT NULL,
    language    text NOT NULL DEFAULT 'en',
    solved_at   timestamptz NOT NULL DEFAULT now()
);

-- Embeddings of passages (an article or ticket document cut at its
-- headings), float32 little-endian, per model; content_hash tells a
-- passage whose text changed.
CREATE TABLE rag_embeddings (
    doc_kind      text NOT NULL CHECK (doc_kind IN ('article', 'ticket')),
    doc_id        bigint NOT NULL,
    passage       int NOT NULL CHECK (passage >= 0),
    model         text NOT NULL,
    dim           int NOT NULL CHECK (dim > 0),
    content_hash  text NOT NULL,
    vec           bytea NOT NULL CHECK (length(vec) = 4 * dim),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (doc_kind, doc_id, passage, model)
);

-- Every drafted answer: the question, the passages given, the method
-- (llm:MODEL or local), the raw answer, the validated result, the time.
CREATE TABLE rag_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint REFERENCES tickets (id) ON DELETE SET NULL,
    method      text NOT NULL,
    outcome     text NOT NULL DEFAULT 'ok',
    input       jsonb NOT NULL,
    raw         text,
    result      jsonb,
    error       text,
    elapsed_ms  real NOT NULL DEFAULT 0,
    usage       jsonb,
    replay_of   bigint REFERENCES rag_runs (id) ON DELETE SET NULL,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rag_runs_ticket_idx ON rag_runs (ticket_id, id) WHERE ticket_id IS NOT NULL;

-- articles: who changed a revision
ALTER TABLE kb_revisions ADD COLUMN tags text[], ADD COLUMN visibility text, ADD COLUMN status text;
