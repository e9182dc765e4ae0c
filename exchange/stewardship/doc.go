// Package stewardship is the agreement lifecycle as stewards drive it
// (issue 13): the state lives in the store (store.LifecycleStore), and only
// authenticated steward actions change it, each recorded in
// agreement_transitions with the principal, the time, the reason and the
// content hash of the terms it applies to.
//
// The rules hold whatever the files say:
//   - terms come from files or Propose; a terms change (a new content hash)
//     moves the agreement back to proposed and opens a new approval round,
//     so earlier approvals never count again, even for the same terms;
//   - approval needs a steward of the provider's agency and a steward of the
//     consumer's agency (stewards: in agencies.yaml), two different people,
//     both approving the same content hash in the same round;
//   - the approval that completes the pair moves the agreement to approved
//     and, when the terms are in their validity window, straight on to
//     active (one action, one decision: both parties already said yes to
//     exactly these terms); before valid_from it stays approved until a
//     steward of either party moves it to active;
//   - stewards of either party suspend, resume, revoke, withdraw to draft
//     and re-propose; approved is reached only by approvals, expired only by
//     the runtime's timer; revoked and expired are final;
//   - auditors and operators read every agreement but act on none: an
//     operator runs the infrastructure and must not be able to approve or
//     reactivate a flow of personal data (separation of duties);
//   - a file's status:, approvals: and history: are never proof: a new
//     agreement id is recorded as proposed with no approvals, unless seeding
//     is on (exchange dev, serve --seed-from-files), which takes them as the
//     file says once, recorded as "seeded from file".
//
// Every transition sends a notice (sla.KindAgreementTransition) to both
// parties through the timeliness notifier: stored for GET /api/v1/notices
// and produced on notices.<agency>.
//
// Usage:
//
//	svc := stewardship.New(db, stewardship.WithNotifier(notifier))
//	svc.SetPolicy(set) // agencies and contracts of the plan in force
//	v, err := svc.Approve(ctx, stewardship.Actor{Name: "amara.okafor", Agency: "health", Steward: true}, id, hash)
//	mux.Handle("/api/v1/agreements", svc.Handler(stewardship.ActorFromRequest))
package stewardship
