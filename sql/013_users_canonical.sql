-- 013_users_canonical: one unique key for an account's address.
--
-- Every lookup of an account by address -- login, atumctl, mail-in's
-- find-or-create of a customer, threading, notifications -- now compares
-- email_canonical(email) (012_security), and mail-in's insert names that
-- index in ON CONFLICT.  The older unique index on lower(email) folded
-- more than the canonical form does (U+0130, the Kelvin sign): kept, it
-- would refuse, with a unique violation instead of DO NOTHING, a customer
-- the canonical key lets in.
DROP INDEX users_email_key;
