-- bench/api_seed.sql -- 100,000 tickets with 5 messages each (500,000
-- messages) for `bench/run api`.  Bodies are 25-30 words drawn from a
-- vocabulary of 20,000 pseudo-words, so a search term matches a few
-- hundred messages, like a product name or an error code would.
\set ON_ERROR_STOP on
INSERT INTO orgs (name) SELECT 'Bench org ' || g FROM generate_series(1, 50) g;
INSERT INTO queues (name, address)
    SELECT 'bench' || g, 'bench' || g || '@support.example' FROM generate_series(1, 4) g;
INSERT INTO users (email, name, role, org_id)
    SELECT 'customer' || g || '@bench.example', 'Customer ' || g, 'customer',
           (SELECT min(id) FROM orgs) + g % 50
      FROM generate_series(1, 2000) g;
CREATE TEMP TABLE vocab AS
    SELECT array_agg('w' || substr(md5(i::text), 1, 6) ORDER BY i) AS w FROM generate_series(1, 20000) i;
CREATE TEMP TABLE cust AS SELECT array_agg(id ORDER BY id) AS ids, array_agg(org_id ORDER BY id) AS orgs
    FROM users WHERE role = 'customer';
CREATE TEMP TABLE q AS SELECT array_agg(id ORDER BY id) AS ids FROM queues;

INSERT INTO tickets (queue_id, subject, status, priority, requester_id, org_id, created_at, updated_at)
SELECT q.ids[1 + g % 4],
       'Ticket ' || g || ': ' || v.w[1 + (g::bigint * 7919) % 20000] || ' ' || v.w[1 + (g::bigint * 104729) % 20000],
       (ARRAY['new', 'open', 'pending', 'solved', 'closed'])[1 + g % 5],
       (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[1 + (g / 5) % 5],
       c.ids[1 + g % 2000], c.orgs[1 + g % 2000],
       now() - (100000 - g) * interval '1 minute' - interval '1 hour',
       now() - (100000 - g) * interval '30 seconds'
  FROM generate_series(1, 100000) g, vocab v, cust c, q;

INSERT INTO messages (ticket_id, author_id, direction, subject, from_addr, body_text, created_at)
SELECT t.id, CASE WHEN k % 2 = 1 THEN t.requester_id END,
       CASE WHEN k % 2 = 1 THEN 'in' ELSE 'out' END, 'Re: ' || t.subject,
       CASE WHEN k % 2 = 1 THEN 'customer@bench.example' ELSE 'agent@bench.example' END,
       (SELECT string_agg(v.w[1 + floor(random() * 20000)::int + 0 * s], ' ')
          FROM generate_series(1, 25 + (t.id + k) % 6) s),
       t.created_at + k * interval '1 minute'
  FROM tickets t, generate_series(1, 5) k, vocab v;

ANALYZE;
