-- Stewardship (issue 13): an agreement's lifecycle state lives here, changed
-- only by authenticated steward actions, never by a file's status: line.
--
-- * agreement_transitions gains the content hash (agreements.ContentHash) of
--   the terms each transition applies to, and those terms' valid_until (the
--   expiry timer reads it without parsing YAML). The latest transition of an
--   agreement is its state: AgreementStates reads it by the primary key
--   (agreement_id, seq) with DISTINCT ON, one index scan.
-- * agreement_approvals: one row per steward approval of one proposal
--   (round = seq of the transition that opened it), with the content hash
--   approved. A proposal reopened with the same terms (an old file put
--   back) is a new round: earlier approvals never count again.

ALTER TABLE agreement_transitions
    ADD COLUMN content_hash text NOT NULL DEFAULT '',
    ADD COLUMN valid_until  timestamptz;

CREATE TABLE agreement_approvals (
    agreement_id text        NOT NULL,
    round        integer     NOT NULL CHECK (round > 0),
    agency       text        NOT NULL,
    steward      text        NOT NULL,
    at           timestamptz NOT NULL,
    content_hash text        NOT NULL,
    PRIMARY KEY (agreement_id, round, steward)
);

REVOKE ALL ON agreement_approvals FROM PUBLIC;
GRANT SELECT, INSERT ON agreement_approvals TO exchange_runtime;
