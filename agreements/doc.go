// Package agreements holds the model stewards write as YAML: agencies, data
// contracts (what a dataset is and how each field is classified) and
// data-sharing agreements (who receives which fields, for which purpose and
// legal basis, transformed how), with strict position-aware loading,
// validation that reports every problem at once, and the agreement lifecycle.
//
// It imports no Kafka client and no SQL driver.
package agreements
