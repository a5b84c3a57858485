-- 004_text_compression: mail text compresses well, but pglz is slow on the
-- ingest path; lz4 (PostgreSQL 14+) compresses about as well at a
-- fraction of the CPU.  (messages.new_text is NULL when it equals body_text.)
ALTER TABLE messages ALTER COLUMN body_text SET COMPRESSION lz4;
ALTER TABLE messages ALTER COLUMN body_html SET COMPRESSION lz4;
ALTER TABLE messages ALTER COLUMN new_text SET COMPRESSION lz4;
ALTER TABLE inbound_mail ALTER COLUMN summary SET COMPRESSION lz4;
