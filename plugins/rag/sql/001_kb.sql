-- rag: the knowledge base (articles, categories, revisions) and the
-- questions linked to articles (customers' questions of solved tickets
-- that cited them, paraphrases an admin adds).

CREATE TABLE kb_categories (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (name <> '' AND length(name) <= 200)
);

CREATE TABLE kb_articles (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug         text NOT NULL UNIQUE CHECK (slug ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'),
    title        text NOT NULL CHECK (title <> ''),
    body         text NOT NULL,                 -- Markdown (CommonMark)
    tags         text[] NOT NULL DEFAULT '{}',
    language     text NOT NULL DEFAULT 'en',
    visibility   text NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'internal')),
    status       text NOT NULL DEFAULT 'published' CHECK (status IN ('draft', 'published')),
    queue_id     bigint REFERENCES queues (id) ON DELETE SET NULL,   -- NULL: every queue
    category_id  bigint REFERENCES kb_categories (id) ON DELETE SET NULL,
    version      int NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE kb_revisions (
    article_id  bigint NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    version     int NOT NULL,
    title       text NOT NULL,
    body        text NOT NULL,
    created_by  bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (article_id, version)
);

CREATE TABLE kb_questions (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id  bigint NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    question    text NOT NULL CHECK (question <> ''),
    source      text NOT NULL CHECK (source IN ('admin', 'ticket')),
    ticket_id   bigint REFERENCES tickets (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (article_id, question)
);

-- Deflection: a customer who said "this solved it".
CREATE TABLE kb_deflections (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    article_id  bigint NOT NULL REFERENCES kb_articles (id) ON DELETE CASCADE,
    ticket_id   bigint REFERENCES tickets (id) ON DELETE SET NULL,
    user_id     bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
