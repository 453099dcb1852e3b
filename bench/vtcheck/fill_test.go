package vtcheck

import (
	"math"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// filler sets random values in messages through protoreflect, so that one
// test covers every message type whatever its fields.
type filler struct {
	r *rand.Rand
	// maxMapEntries bounds each map's entries: map order is Go's random
	// iteration order in both protobuf-go (non-deterministic marshal) and
	// vtproto, so bytes compare equal only with at most one entry.
	maxMapEntries int
}

// maxDepth bounds recursion through message fields (Struct, Value and
// recursive messages would otherwise never end).
const maxDepth = 4

// fill sets every required field of m and, at random, the others (one
// field per oneof).
func (f *filler) fill(m protoreflect.Message, depth int) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			continue
		}
		if fd.Cardinality() != protoreflect.Required && f.r.IntN(4) == 0 {
			continue
		}
		if fd.Message() != nil && depth >= maxDepth && fd.Cardinality() != protoreflect.Required {
			continue
		}
		f.setField(m, fd, depth)
	}
	oneofs := m.Descriptor().Oneofs()
	for i := range oneofs.Len() {
		od := oneofs.Get(i)
		if od.IsSynthetic() || f.r.IntN(5) == 0 {
			continue
		}
		fd := od.Fields().Get(f.r.IntN(od.Fields().Len()))
		if fd.Message() != nil && depth >= maxDepth {
			continue
		}
		f.setField(m, fd, depth)
	}
}

// setField sets fd in m to random values: 1-3 elements for lists, up to
// maxMapEntries for maps.
func (f *filler) setField(m protoreflect.Message, fd protoreflect.FieldDescriptor, depth int) {
	switch {
	case fd.IsList():
		l := m.Mutable(fd).List()
		for range 1 + f.r.IntN(3) {
			if fd.Message() != nil {
				e := l.NewElement()
				f.fill(e.Message(), depth+1)
				l.Append(e)
			} else {
				l.Append(f.scalar(fd))
			}
		}
	case fd.IsMap():
		mp := m.Mutable(fd).Map()
		for range f.r.IntN(f.maxMapEntries + 1) {
			k := f.scalar(fd.MapKey()).MapKey()
			if vd := fd.MapValue(); vd.Message() != nil {
				v := mp.NewValue()
				f.fill(v.Message(), depth+1)
				mp.Set(k, v)
			} else {
				mp.Set(k, f.scalar(vd))
			}
		}
	case fd.Message() != nil:
		f.fill(m.Mutable(fd).Message(), depth+1)
	default:
		m.Set(fd, f.scalar(fd))
	}
}

// scalar returns a random value of fd's kind, often an edge value.
func (f *filler) scalar(fd protoreflect.FieldDescriptor) protoreflect.Value {
	edge := f.r.IntN(4) == 0
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(f.r.IntN(2) == 0)
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if fd.Enum().IsClosed() || !edge {
			return protoreflect.ValueOfEnum(values.Get(f.r.IntN(values.Len())).Number())
		}
		return protoreflect.ValueOfEnum(protoreflect.EnumNumber(f.r.Int32() - math.MaxInt32/2))
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if edge {
			return protoreflect.ValueOfInt32([]int32{0, -1, math.MinInt32, math.MaxInt32}[f.r.IntN(4)])
		}
		return protoreflect.ValueOfInt32(int32(f.r.Uint32()))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if edge {
			return protoreflect.ValueOfInt64([]int64{0, -1, math.MinInt64, math.MaxInt64}[f.r.IntN(4)])
		}
		return protoreflect.ValueOfInt64(int64(f.r.Uint64()) >> f.r.IntN(64))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if edge {
			return protoreflect.ValueOfUint32([]uint32{0, 1, math.MaxUint32}[f.r.IntN(3)])
		}
		return protoreflect.ValueOfUint32(f.r.Uint32() >> f.r.IntN(32))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if edge {
			return protoreflect.ValueOfUint64([]uint64{0, 1, math.MaxUint64}[f.r.IntN(3)])
		}
		return protoreflect.ValueOfUint64(f.r.Uint64() >> f.r.IntN(64))
	case protoreflect.FloatKind:
		if edge {
			return protoreflect.ValueOfFloat32([]float32{0, float32(math.Copysign(0, -1)), math.MaxFloat32, float32(math.Inf(-1))}[f.r.IntN(4)])
		}
		return protoreflect.ValueOfFloat32(f.r.Float32()*2e6 - 1e6)
	case protoreflect.DoubleKind:
		if edge {
			return protoreflect.ValueOfFloat64([]float64{0, math.Copysign(0, -1), math.SmallestNonzeroFloat64, math.Inf(1)}[f.r.IntN(4)])
		}
		return protoreflect.ValueOfFloat64(f.r.NormFloat64() * 1e9)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(f.text())
	case protoreflect.BytesKind:
		b := make([]byte, f.r.IntN(40))
		for i := range b {
			b[i] = byte(f.r.Uint32())
		}
		return protoreflect.ValueOfBytes(b)
	}
	panic("vtcheck: no random value for kind " + fd.Kind().String())
}

// text returns a random valid UTF-8 string, sometimes empty, sometimes
// long enough for a two-byte length varint, with non-ASCII runes.
func (f *filler) text() string {
	var b strings.Builder
	n := []int{0, 1, 12, 200}[f.r.IntN(4)]
	for range n {
		switch f.r.IntN(8) {
		case 0:
			b.WriteRune('é')
		case 1:
			b.WriteRune('😀')
		default:
			b.WriteByte(byte('a' + f.r.IntN(26)))
		}
	}
	return b.String()
}
