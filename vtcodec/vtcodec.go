// Package vtcodec is an opt-in gRPC codec that marshals and unmarshals
// messages with the methods protoc-gen-go-vtproto generates (SizeVT,
// MarshalToSizedBufferVT, UnmarshalVT) instead of protobuf-go's
// reflection-driven code. Importing it, for its side effect, replaces
// grpc-go's "proto" codec process-wide (grpc's encoding.RegisterCodecV2):
//
//	import _ "github.com/goms-io/goms/vtcodec"
//
// protoc-gen-goms writes that import into <file>.goms.go when given the
// plugin parameter fast_codec=vtproto; protoc-gen-go-vtproto (features
// marshal+unmarshal+size) must then run on the same files, into the same
// package. Messages without the generated methods (other packages',
// well-known types', dynamic messages) go through grpc-go's own proto
// codec, unchanged, so that a program may mix both.
//
// The wire bytes are protobuf-go's: vtproto writes fields in the order
// proto.Marshal does (bench/vtcheck checks every golden and example
// message, and fuzzes). One difference remains on unmarshal: vtproto does
// not check that proto3 string fields hold valid UTF-8, which protobuf-go
// rejects. Calls served in-process (goms.Server.LocalConn) pass messages
// without marshaling them, so the codec neither helps nor costs there.
//
// The package is apart from package goms so that programs that do not ask
// for it link none of it and keep grpc-go's codec.
package vtcodec

import (
	"fmt"

	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// Name is the codec's name: the one of grpc-go's proto codec, which it
// replaces (content-subtype application/grpc+proto, and plain
// application/grpc).
const Name = grpcproto.Name

// fallback is grpc-go's proto codec, registered by the import of
// google.golang.org/grpc/encoding/proto, which package initialization runs
// before this variable's: it handles every message without vtproto's
// methods.
var fallback = encoding.GetCodecV2(Name)

func init() {
	if fallback == nil {
		panic("vtcodec: grpc-go's proto codec is not registered")
	}
	encoding.RegisterCodecV2(Codec{})
}

// vtMarshaler is what protoc-gen-go-vtproto's marshal and size features
// generate on each message.
type vtMarshaler interface {
	SizeVT() int
	MarshalToSizedBufferVT(dAtA []byte) (int, error)
}

// vtUnmarshaler is what its unmarshal feature generates. UnmarshalVT
// merges into the message; resetter clears it first, as proto.Unmarshal
// does.
type vtUnmarshaler interface {
	UnmarshalVT(dAtA []byte) error
}

// resetter is the Reset method protoc-gen-go generates on every message.
type resetter interface {
	Reset()
}

// Codec is the grpc-go encoding.CodecV2 that this package registers under
// [Name]. Its zero value is ready to use, for example with
// grpc.ForceServerCodecV2 or grpc.ForceCodecV2 where registering it
// process-wide is not wanted.
type Codec struct{}

// Name returns [Name].
func (Codec) Name() string { return Name }

// Marshal encodes v with its MarshalToSizedBufferVT into a buffer of
// exactly SizeVT bytes: from grpc-go's default buffer pool, returned to it
// once the message is written, unless the message is smaller than grpc's
// pooling threshold (1 KiB), where an allocation is cheaper. v without
// vtproto's methods goes through grpc-go's proto codec.
func (Codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(vtMarshaler)
	if !ok {
		return fallback.Marshal(v)
	}
	size := m.SizeVT()
	if mem.IsBelowBufferPoolingThreshold(size) {
		buf := make([]byte, size)
		if err := marshalSized(m, buf); err != nil {
			return nil, err
		}
		return mem.BufferSlice{mem.SliceBuffer(buf)}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(size)
	if err := marshalSized(m, *buf); err != nil {
		pool.Put(buf)
		return nil, err
	}
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}

// marshalSized writes m into buf, which must be SizeVT bytes: vtproto
// writes from the end, so a message that changed size since SizeVT (a
// data race in the caller) would leave the start unwritten.
func marshalSized(m vtMarshaler, buf []byte) error {
	n, err := m.MarshalToSizedBufferVT(buf)
	if err != nil {
		return fmt.Errorf("vtcodec: marshal %T: %w", m, err)
	}
	if n != len(buf) {
		return fmt.Errorf("vtcodec: marshal %T: wrote %d bytes, SizeVT said %d (message modified while marshaling?)", m, n, len(buf))
	}
	return nil
}

// Unmarshal decodes data into v with its UnmarshalVT, after resetting v
// as proto.Unmarshal does. data is read in place when it is one buffer
// (vtproto copies strings and bytes out of it), else gathered into one
// pooled buffer first. v without vtproto's methods goes through grpc-go's
// proto codec.
func (Codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(vtUnmarshaler)
	if !ok {
		return fallback.Unmarshal(data, v)
	}
	if r, ok := v.(resetter); ok {
		r.Reset()
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	if err := m.UnmarshalVT(buf.ReadOnlyData()); err != nil {
		return fmt.Errorf("vtcodec: unmarshal %T: %w", v, err)
	}
	return nil
}
