-- bench/api_seed.sql -- 100,000 tickets with 5 messages each (500,000
-- messages) for `bench/run api`.  Bodies are 25-30 words drawn from a
-- vocabulary of 20,000 pseudo-words (word i is 'w' || md5(i)[1:6]), so a
-- search term matches a few hundred messages, like a product name or an
-- error code would.
\set ON_ERROR_STOP on
INSERT INTO orgs (name) SELECT 'Bench org ' || g FROM generate_series(1, 50) g;
INSERT INTO queues (name, address)
    SELECT 'bench' || g, 'bench' || g || '@support.example' FROM generate_series(1, 4) g;
-- customer j (1..2000) belongs to org (j % 50)
INSERT INTO users (email, name, role, org_id)
    SELECT 'customer' || j || '@bench.example', 'Customer ' || j, 'customer',
           (SELECT min(id) FROM orgs) + j % 50
      FROM generate_series(1, 2000) j;

INSERT INTO tickets (queue_id, subject, status, priority, requester_id, org_id, created_at, updated_at)
SELECT b.q0 + g % 4,
       'Ticket ' || g || ': w' || substr(md5((1 + (g::bigint * 7919) % 20000)::text), 1, 6)
           || ' w' || substr(md5((1 + (g::bigint * 104729) % 20000)::text), 1, 6),
       (ARRAY['new', 'open', 'pending', 'solved', 'closed'])[1 + g % 5],
       (ARRAY['low', 'normal', 'normal', 'high', 'urgent'])[1 + (g / 5) % 5],
       b.c0 + g % 2000, b.o0 + (1 + g % 2000) % 50,
       now() - (100000 - g) * interval '1 minute' - interval '1 hour',
       now() - (100000 - g) * interval '30 seconds'
  FROM generate_series(1, 100000) g,
       (SELECT (SELECT min(id) FROM queues WHERE name LIKE 'bench%') AS q0,
               (SELECT min(id) FROM users WHERE email LIKE '%@bench.example') AS c0,
               (SELECT min(id) FROM orgs) AS o0) b;

INSERT INTO messages (ticket_id, author_id, direction, subject, from_addr, body_text, created_at)
SELECT t.id, CASE WHEN k % 2 = 1 THEN t.requester_id END,
       CASE WHEN k % 2 = 1 THEN 'in' ELSE 'out' END, 'Re: ' || t.subject,
       CASE WHEN k % 2 = 1 THEN 'customer@bench.example' ELSE 'agent@bench.example' END,
       (SELECT string_agg('w' || substr(md5((1 + floor(random() * 20000)::int + 0 * s)::text), 1, 6), ' ')
          FROM generate_series(1, 25 + (t.id + k) % 6) s),
       t.created_at + k * interval '1 minute'
  FROM tickets t, generate_series(1, 5) k;

ANALYZE;
