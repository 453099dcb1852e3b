package vtcheck

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/goms-io/goms/vtcodec"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	// Every golden case's, the example shop's and the fixtures' messages,
	// with vtproto's methods (bench/vtcheck.buf.gen.yaml).
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/bindings"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/crosspkg/common"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/crosspkg/users"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/echo"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/fixtures/echo"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/fixtures/nohttp"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/fixtures/rules"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/fixtures/types"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/httpoff"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/implpkg/audit"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/implpkg/todo"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/mains"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/multi"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/names"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/nohttp"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/noservice"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/proto2"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/proto3opt"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/shop/catalog/v1"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/shop/orders/v1"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/shop/stock/v1"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/sourcerel"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/suffix"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/types"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/unbound"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/validate"
	_ "github.com/goms-io/goms/bench/internal/gen/vtcheck/wkt"
)

// vtMessage is what protoc-gen-go-vtproto generates on each message with
// features marshal+unmarshal+size.
type vtMessage interface {
	proto.Message
	SizeVT() int
	MarshalVT() ([]byte, error)
	UnmarshalVT([]byte) error
}

// vtTypes returns every registered message type with vtproto's methods,
// by full name, failing t unless each generated package has some.
func vtTypes(t testing.TB) []protoreflect.MessageType {
	var types []protoreflect.MessageType
	packages := map[string]bool{}
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		// vtproto writes groups (proto2, or editions' delimited encoding)
		// as protobuf-go does but cannot read them back; protoc-gen-goms
		// refuses fast_codec=vtproto for files with them (TestGroups).
		if hasGroup(mt.Descriptor(), map[protoreflect.FullName]bool{}) {
			return true
		}
		if _, ok := mt.New().Interface().(vtMessage); ok {
			types = append(types, mt)
			packages[string(mt.Descriptor().ParentFile().Package())] = true
		}
		return true
	})
	slices.SortFunc(types, func(a, b protoreflect.MessageType) int {
		return strings.Compare(string(a.Descriptor().FullName()), string(b.Descriptor().FullName()))
	})
	// Every proto package of bench/vtcheck.buf.gen.yaml's inputs that
	// declares messages (golden case wkt uses only well-known types).
	for _, pkg := range []string{
		"fixtures.echo", "fixtures.nohttp", "fixtures.rules", "fixtures.types",
		"goms.testdata.bindings", "goms.testdata.crosspkg.common", "goms.testdata.crosspkg.users",
		"goms.testdata.echo", "goms.testdata.httpoff", "goms.testdata.implpkg.audit.v1",
		"goms.testdata.implpkg.todo.v1", "goms.testdata.mains", "goms.testdata.multi",
		"goms.testdata.names", "goms.testdata.nohttp", "goms.testdata.noservice",
		"goms.testdata.proto2", "goms.testdata.proto3opt", "goms.testdata.sourcerel",
		"goms.testdata.suffix", "goms.testdata.types", "goms.testdata.unbound",
		"goms.testdata.validate", "shop.catalog.v1", "shop.orders.v1", "shop.stock.v1",
	} {
		if !packages[pkg] {
			t.Fatalf("no message of proto package %s has vtproto's methods; registered: %v", pkg, packages)
		}
	}
	return types
}

// codecMarshal marshals m with vtcodec, as gRPC does, into one slice.
func codecMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	data, err := vtcodec.Codec{}.Marshal(m)
	if err != nil {
		t.Fatalf("vtcodec marshal %T: %v", m, err)
	}
	defer data.Free()
	return data.Materialize()
}

// codecUnmarshal unmarshals b into m with vtcodec, as gRPC does.
func codecUnmarshal(m proto.Message, b []byte) error {
	return vtcodec.Codec{}.Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, m)
}

// TestSameBytes marshals random values of every message type with
// protobuf-go (non-deterministic, its default, as grpc-go's codec does)
// and with vtcodec, and checks that the bytes are the same, and that each
// reads the other's back.
func TestSameBytes(t *testing.T) {
	types := vtTypes(t)
	t.Logf("%d message types", len(types))
	for _, mt := range types {
		t.Run(string(mt.Descriptor().FullName()), func(t *testing.T) {
			for seed := range uint64(100) {
				f := &filler{r: rand.New(rand.NewPCG(seed, 7)), maxMapEntries: 1}
				m := mt.New()
				f.fill(m, 0)
				msg := m.Interface()
				want, err := proto.Marshal(msg)
				if err != nil {
					t.Fatalf("seed %d: proto.Marshal: %v", seed, err)
				}
				if size := msg.(vtMessage).SizeVT(); size != len(want) {
					t.Fatalf("seed %d: SizeVT = %d, proto.Marshal wrote %d bytes", seed, size, len(want))
				}
				got := codecMarshal(t, msg)
				if !bytes.Equal(got, want) {
					t.Fatalf("seed %d: vtcodec bytes differ from protobuf-go's\n vtcodec  %x\n protobuf %x\n message %v", seed, got, want, msg)
				}
				back := mt.New().Interface()
				if err := codecUnmarshal(back, want); err != nil {
					t.Fatalf("seed %d: vtcodec unmarshal: %v", seed, err)
				}
				if !proto.Equal(back, msg) {
					t.Fatalf("seed %d: vtcodec read back %v, want %v", seed, back, msg)
				}

				// Unknown fields are kept, after the known ones, by both.
				unknown := protowire.AppendTag(nil, 9999, protowire.BytesType)
				unknown = protowire.AppendBytes(unknown, []byte("unknown"))
				withUnknown := append(slices.Clone(want), unknown...)
				pb, vt := mt.New().Interface(), mt.New().Interface()
				if err := proto.Unmarshal(withUnknown, pb); err != nil {
					t.Fatalf("seed %d: proto.Unmarshal: %v", seed, err)
				}
				if err := codecUnmarshal(vt, withUnknown); err != nil {
					t.Fatalf("seed %d: vtcodec unmarshal: %v", seed, err)
				}
				pbBytes, err := proto.Marshal(pb)
				if err != nil {
					t.Fatal(err)
				}
				if vtBytes := codecMarshal(t, vt); !bytes.Equal(vtBytes, pbBytes) || !bytes.Equal(pbBytes, withUnknown) {
					t.Fatalf("seed %d: with unknown fields:\n vtcodec  %x\n protobuf %x\n input    %x", seed, vtBytes, pbBytes, withUnknown)
				}
			}
		})
	}
}

// TestSameBytesMaps fills maps with up to 5 entries, whose order on the
// wire is Go's map iteration order in both: the sizes are the same and
// each reads the other's bytes back to equal messages.
func TestSameBytesMaps(t *testing.T) {
	n := 0
	for _, mt := range vtTypes(t) {
		if !hasMap(mt.Descriptor(), map[protoreflect.FullName]bool{}) {
			continue
		}
		n++
		for seed := range uint64(100) {
			f := &filler{r: rand.New(rand.NewPCG(seed, 11)), maxMapEntries: 5}
			m := mt.New()
			f.fill(m, 0)
			msg := m.Interface()
			pbBytes, err := proto.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			vtBytes := codecMarshal(t, msg)
			if len(vtBytes) != len(pbBytes) {
				t.Fatalf("%s seed %d: vtcodec wrote %d bytes, protobuf-go %d", mt.Descriptor().FullName(), seed, len(vtBytes), len(pbBytes))
			}
			fromVT, fromPB := mt.New().Interface(), mt.New().Interface()
			if err := proto.Unmarshal(vtBytes, fromVT); err != nil {
				t.Fatal(err)
			}
			if err := codecUnmarshal(fromPB, pbBytes); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(fromVT, msg) || !proto.Equal(fromPB, msg) {
				t.Fatalf("%s seed %d: round trip changed the message", mt.Descriptor().FullName(), seed)
			}
		}
	}
	if n == 0 {
		t.Fatal("no message type with a map field")
	}
}

// hasMap reports whether md or a message it holds has a map field.
func hasMap(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.IsMap() || (fd.Message() != nil && hasMap(fd.Message(), seen)) {
			return true
		}
	}
	return false
}

// hasGroup reports whether md or a message it holds has a group field.
func hasGroup(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]bool) bool {
	if seen[md.FullName()] {
		return false
	}
	seen[md.FullName()] = true
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd.Kind() == protoreflect.GroupKind || (fd.Message() != nil && hasGroup(fd.Message(), seen)) {
			return true
		}
	}
	return false
}
