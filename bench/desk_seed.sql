-- bench/desk_seed.sql -- after bench/api_seed.sql: one more ticket, the most
-- recently updated, with a thread of 200 messages: customer mail (every
-- third with sanitised HTML and a quoted history), agents' replies and,
-- every tenth, an internal note -- the ticket `bench/run desk` opens.
\set ON_ERROR_STOP on
INSERT INTO tickets (queue_id, subject, status, priority, requester_id, org_id, created_at, updated_at)
SELECT (SELECT min(id) FROM queues WHERE name LIKE 'bench%'), 'Long thread: the 200-message ticket',
       'open', 'high', (SELECT min(id) FROM users WHERE email LIKE '%@bench.example'),
       (SELECT min(id) FROM orgs), now() - interval '10 days', now() + interval '1 minute';
INSERT INTO messages (ticket_id, author_id, direction, visibility, subject, from_addr, body_text, new_text,
                      body_html, created_at)
SELECT t.id, NULL,
       CASE WHEN k % 2 = 1 THEN 'in' ELSE 'out' END,
       CASE WHEN k % 10 = 0 THEN 'internal' ELSE 'public' END,
       'Re: ' || t.subject,
       CASE WHEN k % 2 = 1 THEN 'customer1@bench.example' ELSE 'agent@bench.example' END,
       'Message ' || k || E'. The printer still shows error w' || substr(md5(k::text), 1, 6)
           || E' after the restart.\nWe tried the steps from your last mail.\n\nOn Monday, someone wrote:\n> earlier text '
           || k || E'\n> more quoted text',
       'Message ' || k || E'. The printer still shows error w' || substr(md5(k::text), 1, 6)
           || E' after the restart.\nWe tried the steps from your last mail.',
       CASE WHEN k % 3 = 1 THEN '<p>Message ' || k || ' in <b>HTML</b>, error <i>w' || substr(md5(k::text), 1, 6)
           || '</i>.</p><blockquote>earlier text ' || k || '</blockquote>' END,
       t.created_at + k * interval '1 hour'
  FROM tickets t, generate_series(1, 200) k
 WHERE t.subject = 'Long thread: the 200-message ticket';
ANALYZE tickets;
ANALYZE messages;
