-- Deliveries carry the content hash of the agreement terms they went by
-- (issue 13): parallel to delivery_agreements; NULL when no delivery of the
-- entry has one (every entry written before). The entry hash covers it
-- (ledger.HashVersionTerms). On the partitioned parent, the column reaches
-- every month partition.
ALTER TABLE ledger_entries ADD COLUMN delivery_terms text[];
