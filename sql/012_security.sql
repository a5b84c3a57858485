-- 012_security: one canonical form of an e-mail address.
--
-- Accounts are looked up, kept unique and throttled by
-- email_canonical(email): ASCII A-Z lower-cased, every other byte as it
-- is -- the same as email_canonical() in src/lib/email.c.  lower() is not
-- used for that: in a UTF-8 locale it folds U+0130 to "i" and the Kelvin
-- sign U+212A to "k", which C's tolower() does not, so a look-alike found
-- the account while getting a login-throttle budget of its own; and its
-- result depends on the locale the database was created with.
CREATE FUNCTION email_canonical(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz');

-- Unique per canonical form.  users_email_key (on lower(email)) stays for
-- now: mail-in's find-or-create of customers names it in ON CONFLICT.
-- Being stricter, it refuses nothing the canonical key would allow;
-- drop it once that statement uses ON CONFLICT ((email_canonical(email))).
CREATE UNIQUE INDEX users_email_canonical_key ON users (email_canonical(email));

-- Every API token expires.  atumd and atumctl set expires_at from the
-- request or auth.token_lifetime (90 days by default); the default here
-- only backs that up.  Tokens made before this migration without an
-- expiry get 90 days from now rather than living for ever.
UPDATE api_tokens SET expires_at = now() + interval '90 days' WHERE expires_at IS NULL;
ALTER TABLE api_tokens
    ALTER COLUMN expires_at SET DEFAULT now() + interval '90 days',
    ALTER COLUMN expires_at SET NOT NULL;
