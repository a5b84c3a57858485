-- 003_storage: no compression attempts on bytes that rarely compress.
--
-- Raw mail is stored before anyone waits on it (SMTP holds the client
-- until the commit), and attachments are mostly compressed formats
-- already (images, PDF, archives): pglz would burn CPU on the hot path
-- for little gain.  EXTERNAL keeps them out of line, uncompressed.
ALTER TABLE inbound_mail ALTER COLUMN raw SET STORAGE EXTERNAL;
ALTER TABLE attachment_blobs ALTER COLUMN content SET STORAGE EXTERNAL;
