-- triage: labelled texts, models, results per ticket, traces, rules and
-- per-queue settings.

-- Labelled texts the local models learn from: a seed file an admin
-- imported (atumctl triage train FILE), agents' labels and corrections.
CREATE TABLE triage_labels (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source      text NOT NULL CHECK (source IN ('seed', 'agent')),
    ext_id      text,                       -- the seed file's id column
    ticket_id   bigint REFERENCES tickets (id) ON DELETE CASCADE,
    text        text NOT NULL,
    category    text,
    priority    text,
    sentiment   text CHECK (sentiment IN ('negative', 'neutral', 'positive')),
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
-- one agent label per ticket: a correction replaces the earlier one
CREATE UNIQUE INDEX triage_labels_ticket_key ON triage_labels (ticket_id) WHERE source = 'agent';

-- Trained models, one row per label and version; every atumd uses the
-- newest version of each label.
CREATE TABLE triage_models (
    label       text NOT NULL CHECK (label IN ('category', 'priority', 'sentiment')),
    version     int NOT NULL,
    rows        int NOT NULL,
    classes     text[] NOT NULL,
    params      jsonb NOT NULL DEFAULT '{}',
    model       bytea NOT NULL,
    trained_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (label, version)
);

-- The triage of each ticket: what was predicted (or set by a rule or an
-- agent), with confidences and the reason.
CREATE TABLE triage_results (
    ticket_id       bigint PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    category        text,
    category_conf   real,
    priority        text,
    priority_conf   real,
    sentiment       text,
    sentiment_conf  real,
    language        text,
    language_conf   real,
    method          text NOT NULL,          -- local, llm:MODEL, rule, agent
    reason          text,
    applied         jsonb NOT NULL DEFAULT '{}',
    run_id          bigint,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triage_results_category_idx ON triage_results (category);
CREATE INDEX triage_results_priority_idx ON triage_results (priority);
CREATE INDEX triage_results_sentiment_idx ON triage_results (sentiment);
CREATE INDEX triage_results_language_idx ON triage_results (language);

-- Every run: inputs, method, raw answer, validated result, time: why a
-- suggestion was made, and enough to replay it.
CREATE TABLE triage_runs (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id   bigint REFERENCES tickets (id) ON DELETE CASCADE,
    method      text NOT NULL,
    input       jsonb NOT NULL,
    raw         text,
    result      jsonb,
    error       text,
    elapsed_ms  real NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX triage_runs_ticket_idx ON triage_runs (ticket_id, id);

-- Admin rules, applied before any model: a keyword in the subject or
-- text, or the sender's domain -> category, priority, queue.
CREATE TABLE triage_rules (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('keyword', 'domain')),
    pattern     text NOT NULL CHECK (pattern <> '' AND length(pattern) <= 200),
    category    text,
    priority    text CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
    queue_id    bigint REFERENCES queues (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-queue actions; a queue without a row uses the [plugin.triage] keys.
CREATE TABLE triage_settings (
    queue_id             bigint PRIMARY KEY REFERENCES queues (id) ON DELETE CASCADE,
    enabled              boolean NOT NULL DEFAULT true,
    mode                 text NOT NULL DEFAULT 'suggest' CHECK (mode IN ('suggest', 'auto')),
    threshold            real NOT NULL DEFAULT 0.8 CHECK (threshold BETWEEN 0 AND 1),
    escalate_negative    boolean NOT NULL DEFAULT true,
    negative_threshold   real NOT NULL DEFAULT 0.85 CHECK (negative_threshold BETWEEN 0 AND 1),
    notify               text,               -- a manager's address for negative tickets
    language             text,               -- the queue's language (short texts)
    llm                  boolean NOT NULL DEFAULT true
);
