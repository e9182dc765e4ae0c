-- The data subject report (console) and the audit API's subject_hash
-- filter find one person's decisions through this index instead of
-- scanning the ledger. Created on the partitioned parent, so every month
-- partition, present and future, has it.
CREATE INDEX ledger_entries_subject ON ledger_entries (subject_hash, decision_time) WHERE subject_hash IS NOT NULL;
