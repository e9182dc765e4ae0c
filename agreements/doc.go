// Package agreements holds the model stewards write as YAML: agencies, data
// contracts (what a dataset is and how each field is classified) and
// data-sharing agreements (who receives which fields, for which purpose and
// legal basis, transformed how), with strict position-aware loading,
// validation that reports every problem at once, the agreement lifecycle,
// and a consumer's-eye diff of two versions of an agreement.
//
// It imports no Kafka client, no SQL driver and no net/http: it is data and
// rules about data. Checks that need the registered Avro schemas (a field
// the schema lacks, a transform that does not fit the field's type, CEL that
// is not boolean) are policy.Check's.
//
// # Files
//
// A YAML file holds one or more `---`-separated documents, each with
// `kind: Agency`, `kind: DataContract`, `kind: Agreement` or `kind: Calendar`
// (a working calendar; package calendar). Decoding is strict: an unknown key
// is a Problem with a did-you-mean hint. Durations are Go durations with an
// optional leading number of days (15m, 1h30m, 7d), or for freshness
// business time of a calendar (2 business_days);
// timestamps are RFC 3339 (a plain date means midnight UTC). YAML aliases and
// merge keys are refused: what a reviewer reads is what applies.
//
// # Usage
//
//	set, probs, err := agreements.ValidateFiles("deploy/examples")
//	if err != nil {
//		return err // a file could not be read
//	}
//	if len(probs) > 0 {
//		return probs // every problem, one per line: file:line:col: message (hint: ...)
//	}
//	a, _ := set.Agreement("health-to-social-2026-001")
//	if err := a.Transition(agreements.StatusSuspended, "governance", now, "complaint 2026-118"); err != nil {
//		return err // an illegal step, e.g. from revoked
//	}
//	for _, c := range agreements.Diff(oldVersion, a) {
//		fmt.Println(c) // ~ field citizen_id: pseudonymize → keep (widens)
//	}
//
// Load, LoadFile and LoadDir return decoding problems as a Problems error
// together with the partially decoded Set, so that callers can still run
// Validate and show everything at once; ValidateFiles does both.
// SplitDocuments also returns each document's text as written, for stores
// that keep versions, with problems still at the file's lines.
//
// # Lifecycle
//
//	draft → proposed → approved → active ⇄ suspended
//	  proposed → draft (changes requested; clears approvals)
//	  any non-final → revoked;  approved | active | suspended → expired
//
// approved needs approvals by a steward of the provider's agency and a
// different steward of the consumer's agency; active only inside
// [valid_from, valid_until); expired only from valid_until on; suspension
// and revocation need a reason. Revoked and expired are final. Every
// transition is appended to History; Replay applies a lifecycle log kept
// elsewhere (a store) to an agreement loaded from YAML; EffectiveStatus
// tells what governs delivery at a given time.
package agreements
