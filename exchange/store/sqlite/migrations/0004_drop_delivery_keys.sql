-- Delivery ids now locate their entry: ledger.DeliveryID is a tag of the
-- agreement and source topic, then the source partition and offset
-- (ledger.LocateDelivery decodes them), and appends refuse any other id.
-- A query by delivery id looks the entry up by (topic, partition, offset)
-- — the UNIQUE index every append already maintains — over the chains of
-- that partition (ledger_chains), and checks the id in the entry's
-- deliveries. ledger_delivery_keys is no longer read; keeping it would cost
-- a B-tree insert at a random place per delivery on every append.
--
-- Entries written before delivery ids had this form keep their ids in
-- their (hashed) deliveries, so agreement and consumer queries still find
-- them, but a query by such an old, opaque id finds nothing any more.
--
-- Dropping the table drops its triggers too; they are named so that the
-- intent is plain (IF EXISTS: anyone who can write the file may have
-- dropped them already, as doc.go says).
DROP TRIGGER IF EXISTS ledger_delivery_keys_no_update;
DROP TRIGGER IF EXISTS ledger_delivery_keys_no_delete;
DROP TABLE IF EXISTS ledger_delivery_keys;
