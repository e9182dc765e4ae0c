-- Stewardship (issue 13): an agreement's lifecycle state lives here, changed
-- only by authenticated steward actions, never by a file's status: line.
--
-- * agreement_transitions gains the content hash (agreements.ContentHash) of
--   the terms each transition applies to, and those terms' valid_until
--   (microseconds since the Unix epoch, 0 = open-ended). The latest
--   transition of an agreement is its state: AgreementStates reads it
--   through the primary key (agreement_id, seq).
-- * agreement_approvals: one row per steward approval of one proposal
--   (round = seq of the transition that opened it), with the content hash
--   approved. A proposal reopened with the same terms (an old file put
--   back) is a new round: earlier approvals never count again.

ALTER TABLE agreement_transitions ADD COLUMN content_hash TEXT NOT NULL DEFAULT '';
ALTER TABLE agreement_transitions ADD COLUMN valid_until_us INTEGER NOT NULL DEFAULT 0;

CREATE TABLE agreement_approvals (
    agreement_id TEXT    NOT NULL,
    round        INTEGER NOT NULL CHECK (round > 0),
    agency       TEXT    NOT NULL,
    steward      TEXT    NOT NULL,
    at_us        INTEGER NOT NULL,
    content_hash TEXT    NOT NULL,
    PRIMARY KEY (agreement_id, round, steward)
);
