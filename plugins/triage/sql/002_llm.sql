-- triage with a language model: each run records how its call ended
-- (ok, late, malformed, invalid, refused ...), the tokens the server
-- reported, and the run it replays.
ALTER TABLE triage_runs
    ADD COLUMN outcome    text NOT NULL DEFAULT 'ok',
    ADD COLUMN usage      jsonb,
    ADD COLUMN replay_of  bigint REFERENCES triage_runs (id) ON DELETE SET NULL;
CREATE INDEX triage_runs_replay_idx ON triage_runs (replay_of) WHERE replay_of IS NOT NULL;
