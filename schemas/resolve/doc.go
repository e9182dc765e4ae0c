// Package resolve is the one implementation of Avro schema resolution
// (Avro 1.11 specification, "Schema Resolution"): how data written with a
// writer schema is read with a reader schema.
//
// Resolve walks a writer/reader pair once and returns a resolution tree
// (per node: which reader union branch the value lands in, which writer
// fields are skipped, which reader fields take their default, how enum
// symbols map) and the problems found, each with its location. Both users
// build on the same walk, so they agree by construction:
//
//   - the registry's compatibility check (package schemas) refuses a
//     version when Resolve reports any problem, and turns the problems
//     into its messages;
//   - the policy's reader (package policy) compiles the tree into its
//     decode plans; a pair with problems is either refused outright or
//     reads only the values that avoid them (an unreadable writer union
//     branch or enum symbol quarantines just the records that use it).
//
// The package imports only the standard library and hamba/avro, so the
// pure policy library may import it.
//
//	root, problems := resolve.Resolve(writer, reader, 0)
//	for _, p := range problems {
//		fmt.Println(p) // field "age" (record health.Immunisation): writer type "long" cannot be read as reader type "int"
//	}
package resolve
