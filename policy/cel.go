package policy

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"
	"time"
	"unsafe"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"github.com/hamba/avro/v2"
)

// CEL expressions (quality rules and row filters) see one variable, `record`,
// typed as an object whose fields are the top-level fields of the dataset's
// latest schema. So a misspelt field or a non-boolean rule is a compile-time
// problem, not a surprise at run time.
//
// Field types: boolean → bool; int, long → int; float, double → double;
// string, enum → string; bytes, fixed → bytes; timestamp-millis,
// timestamp-micros and date → timestamp; ["null", T] → T that may be null;
// records, arrays, maps and other unions → dyn.
//
// Null and errors, deliberately: a null field evaluates as null, so
// `record.phone == null` works and `record.age >= 0` over a null age is an
// evaluation error. An evaluation error never panics: for a quality rule it
// counts as a failure of that rule (its reason detail names the rule); for a
// row filter it skips the agreement (fail closed).

const celVar = "record"

func stringVal(s string) ref.Val { return types.String(s) }

// recordProvider exposes the dataset's record type to the CEL checker and
// gives the interpreter direct field getters over the evaluation state.
type recordProvider struct {
	*types.Registry
	typeName string
	fieldTys map[string]*types.FieldType
	names    []string
}

func (p *recordProvider) FindStructType(name string) (*types.Type, bool) {
	if name == p.typeName {
		return types.NewTypeTypeWithParam(types.NewObjectType(name)), true
	}
	return p.Registry.FindStructType(name)
}

func (p *recordProvider) FindStructFieldNames(name string) ([]string, bool) {
	if name == p.typeName {
		return p.names, true
	}
	return p.Registry.FindStructFieldNames(name)
}

func (p *recordProvider) FindStructFieldType(name, field string) (*types.FieldType, bool) {
	if name == p.typeName {
		ft, ok := p.fieldTys[field]
		return ft, ok
	}
	return p.Registry.FindStructFieldType(name, field)
}

// celTypeOf maps an Avro field type to its CEL type.
func celTypeOf(s avro.Schema) *types.Type {
	s = deref(s)
	if u, ok := s.(*avro.UnionSchema); ok {
		if base, _, _, ok := nullableBase(u); ok {
			t := celTypeOf(base)
			switch t {
			case types.BoolType, types.IntType, types.DoubleType, types.StringType, types.BytesType:
				return types.NewNullableType(t)
			}
		}
		return types.DynType
	}
	switch logicalOf(s) {
	case avro.TimestampMillis, avro.TimestampMicros, avro.Date:
		return types.TimestampType
	}
	switch s.Type() {
	case avro.Boolean:
		return types.BoolType
	case avro.Int, avro.Long:
		return types.IntType
	case avro.Float, avro.Double:
		return types.DoubleType
	case avro.String, avro.Enum:
		return types.StringType
	case avro.Bytes, avro.Fixed:
		return types.BytesType
	case avro.Null:
		return types.NullType
	}
	return types.DynType
}

// nullableBase returns T and the branch indexes of a ["null", T] or [T, "null"] union.
func nullableBase(u *avro.UnionSchema) (base avro.Schema, nullIdx, baseIdx int, ok bool) {
	ts := u.Types()
	if len(ts) != 2 {
		return nil, 0, 0, false
	}
	switch {
	case deref(ts[0]).Type() == avro.Null && deref(ts[1]).Type() != avro.Null:
		return deref(ts[1]), 0, 1, true
	case deref(ts[1]).Type() == avro.Null && deref(ts[0]).Type() != avro.Null:
		return deref(ts[0]), 1, 0, true
	}
	return nil, 0, 0, false
}

// newCELEnv builds the CEL environment of one dataset.
func newCELEnv(ds *datasetPlan) (*cel.Env, error) {
	reg, err := types.NewRegistry()
	if err != nil {
		return nil, err
	}
	p := &recordProvider{Registry: reg, typeName: ds.celTypeName, fieldTys: map[string]*types.FieldType{}}
	for i := range ds.fields {
		i := i
		p.names = append(p.names, ds.fields[i].name)
		p.fieldTys[ds.fields[i].name] = &types.FieldType{
			Type:  celTypeOf(ds.fields[i].schema),
			IsSet: func(target any) bool { return true }, // every field of the reader schema is present (possibly null)
			GetFrom: func(target any) (any, error) {
				st, ok := target.(*evalState)
				if !ok {
					return nil, fmt.Errorf("record: unexpected value %T", target)
				}
				return st.celField(i), nil
			},
		}
	}
	return cel.NewEnv(
		cel.CustomTypeProvider(p),
		cel.CustomTypeAdapter(reg),
		cel.Variable(celVar, types.NewObjectType(ds.celTypeName)),
	)
}

// compileCEL compiles one boolean expression; problems come back as text.
// With syntaxReported (Check: the agreements validator already reports
// syntax errors with their position) a syntax error is not reported again:
// the program comes back nil with no message.
func compileCEL(env *cel.Env, src string, syntaxReported bool) (cel.Program, *cel.Ast, string) {
	if syntaxReported {
		if _, iss := env.Parse(src); iss != nil && iss.Err() != nil {
			return nil, nil, ""
		}
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		var msgs []string
		for _, e := range iss.Errors() {
			m := e.Message
			if l := e.Location; l != nil && l.Line() > 0 {
				m = fmt.Sprintf("%s (expression line %d, column %d)", m, l.Line(), l.Column()+1)
			}
			msgs = append(msgs, m)
		}
		return nil, nil, strings.Join(msgs, "; ")
	}
	if t := ast.OutputType(); t != types.BoolType && t != types.DynType {
		return nil, nil, fmt.Sprintf("expression is of type %s, not bool", t)
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, nil, err.Error()
	}
	return prg, ast, ""
}

// referencedFields lists the record fields an expression reads; all is true
// when it uses `record` other than through a field select.
func referencedFields(a *cel.Ast) (fields []string, all bool) {
	idents, selects := 0, 0
	celast.PreOrderVisit(a.NativeRep().Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		switch e.Kind() {
		case celast.IdentKind:
			if e.AsIdent() == celVar {
				idents++
			}
		case celast.SelectKind:
			s := e.AsSelect()
			if s.Operand().Kind() == celast.IdentKind && s.Operand().AsIdent() == celVar {
				selects++
				fields = append(fields, s.FieldName())
			}
		}
	}))
	return fields, idents != selects
}

// evalState is the per-record scratch space, pooled per dataset. It is the
// CEL activation and the `record` object at once.
type evalState struct {
	ds      *datasetPlan
	vals    []value
	scratch []byte    // transform input
	sha     hash.Hash // SHA-256 digest for HMACs
	sum     []byte    // digest output, capacity 32
}

func newEvalState(ds *datasetPlan) *evalState {
	return &evalState{ds: ds, vals: make([]value, len(ds.fields)), sha: sha256.New(), sum: make([]byte, 0, sha256.Size)}
}

var _ interpreter.Activation = (*evalState)(nil)

func (st *evalState) ResolveName(name string) (any, bool) {
	if name == celVar {
		return st, true
	}
	return nil, false
}

func (st *evalState) Parent() interpreter.Activation { return nil }

// unsafeString views b as a string without copying. Only used for values
// handed to CEL during one evaluation, which never outlive the record body.
func unsafeString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// celField converts top-level field i for CEL.
func (st *evalState) celField(i int) ref.Val {
	v := &st.vals[i]
	f := &st.ds.fields[i]
	switch v.k {
	case kNull:
		return types.NullValue
	case kBool:
		return types.Bool(v.n != 0)
	case kInt:
		switch f.logicalAt(v.br) {
		case avro.TimestampMillis:
			return types.Timestamp{Time: time.UnixMilli(v.n).UTC()}
		case avro.TimestampMicros:
			return types.Timestamp{Time: time.UnixMicro(v.n).UTC()}
		case avro.Date:
			return types.Timestamp{Time: time.Unix(v.n*86400, 0).UTC()}
		}
		return types.Int(v.n)
	case kFloat, kDouble:
		return types.Double(v.f)
	case kString:
		return types.String(unsafeString(v.b))
	case kBytes, kFixed:
		return types.Bytes(v.b)
	case kEnum:
		return v.nat.(ref.Val)
	case kNative:
		return types.DefaultTypeAdapter.NativeToValue(v.nat)
	case kRaw:
		id := f.identAt(v.br)
		if id == nil {
			return types.NewErr("field %s: cannot be materialised", f.name)
		}
		nat, err := id.decodeNative(&rd{b: v.b}, 0)
		if err != nil {
			return types.NewErr("field %s: %v", f.name, err)
		}
		return types.DefaultTypeAdapter.NativeToValue(nat)
	}
	return types.NewErr("field %s: unexpected value kind", f.name)
}
