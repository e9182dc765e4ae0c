-- The data subject report (console) and the audit API's subject_hash
-- filter find one person's decisions through this index instead of
-- scanning the ledger.
CREATE INDEX ledger_entries_subject ON ledger_entries (subject_hash, decision_time_us) WHERE subject_hash IS NOT NULL;
