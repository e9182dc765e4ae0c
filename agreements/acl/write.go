package acl

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes rules as an aligned table with a header, one rule a
// line, in the order given.
func WriteTable(w io.Writer, rules []Rule) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PRINCIPAL\tRESOURCE\tPATTERN\tNAME\tOPERATION\tPERMISSION\tHOST")
	for _, r := range rules {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Principal, r.ResourceType, r.PatternType, r.ResourceName, r.Operation, r.Permission, r.Host)
	}
	return tw.Flush()
}

// WriteChanges writes a reconcile's changes, one rule a line: "+ " to
// create, "- " to delete, "! " for a foreign ACL left alone.
func WriteChanges(w io.Writer, ch Changes) error {
	var b strings.Builder
	for _, l := range []struct {
		mark  string
		rules []Rule
	}{{"+ ", ch.Create}, {"- ", ch.Delete}, {"! ", ch.Foreign}} {
		for _, r := range l.rules {
			b.WriteString(l.mark + r.String() + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// StrimziOptions name the cluster the KafkaUsers belong to.
type StrimziOptions struct {
	// Cluster is the Strimzi Kafka cluster (label strimzi.io/cluster).
	Cluster string
	// Namespace of the KafkaUsers; "" leaves it out (kubectl -n decides).
	Namespace string
}

// WriteStrimzi writes one KafkaUser (kafka.strimzi.io/v1beta2, SCRAM-SHA-512
// authentication, simple authorization) per User: principal of rules, in
// principal order, as a multi-document YAML stream. The User Operator then
// creates each user's password Secret and owns its ACLs. A rule whose
// principal is not a User: is an error.
func WriteStrimzi(w io.Writer, rules []Rule, opt StrimziOptions) error {
	byUser := map[string][]Rule{}
	var users []string
	for _, r := range rules {
		user, ok := strings.CutPrefix(r.Principal, "User:")
		if !ok || user == "" {
			return fmt.Errorf("strimzi: principal %q is not a User: principal", r.Principal)
		}
		if _, seen := byUser[user]; !seen {
			users = append(users, user)
		}
		byUser[user] = append(byUser[user], r)
	}
	var b strings.Builder
	for _, u := range users {
		writeKafkaUser(&b, u, byUser[u], opt)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeKafkaUser writes one KafkaUser; the operations on one resource
// pattern go together in one acls entry.
func writeKafkaUser(b *strings.Builder, user string, rules []Rule, opt StrimziOptions) {
	fmt.Fprintf(b, "---\napiVersion: kafka.strimzi.io/v1beta2\nkind: KafkaUser\nmetadata:\n  name: %s\n", q(user))
	if opt.Namespace != "" {
		fmt.Fprintf(b, "  namespace: %s\n", q(opt.Namespace))
	}
	fmt.Fprintf(b, "  labels:\n    strimzi.io/cluster: %s\nspec:\n  authentication:\n    type: scram-sha-512\n  authorization:\n    type: simple\n    acls:\n", q(opt.Cluster))
	type resource struct{ typ, pattern, name, perm, host string }
	var order []resource
	ops := map[resource][]string{}
	for _, r := range rules {
		k := resource{r.ResourceType, r.PatternType, r.ResourceName, r.Permission, r.Host}
		if _, seen := ops[k]; !seen {
			order = append(order, k)
		}
		ops[k] = append(ops[k], strimziWord(r.Operation))
	}
	for _, k := range order {
		if k.typ == Cluster {
			b.WriteString("      - resource:\n          type: cluster\n")
		} else {
			pattern := "literal"
			if k.pattern == Prefixed {
				pattern = "prefix"
			}
			fmt.Fprintf(b, "      - resource:\n          type: %s\n          name: %s\n          patternType: %s\n", strings.ToLower(k.typ), q(k.name), pattern)
		}
		quoted := make([]string, len(ops[k]))
		for i, o := range ops[k] {
			quoted[i] = q(o)
		}
		fmt.Fprintf(b, "        operations: [%s]\n        host: %s\n", strings.Join(quoted, ", "), q(k.host))
		if k.perm == Deny {
			b.WriteString("        type: deny\n")
		}
	}
}

// strimziWord is an operation as Strimzi spells it: READ -> Read.
func strimziWord(op string) string {
	var b strings.Builder
	for _, part := range strings.Split(strings.ToLower(op), "_") {
		if part != "" {
			b.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	return b.String()
}

// q quotes s as a YAML double-quoted scalar (a JSON string is one), so no
// name can change the document's structure.
func q(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
