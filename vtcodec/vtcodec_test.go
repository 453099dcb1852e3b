package vtcodec_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/echotest"
	"github.com/goms-io/goms/vtcodec"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// TestRegistered checks that importing the package replaces grpc-go's
// proto codec.
func TestRegistered(t *testing.T) {
	if c, ok := encoding.GetCodecV2("proto").(vtcodec.Codec); !ok {
		t.Fatalf("codec proto is %T, want vtcodec.Codec", c)
	}
}

// TestFallback calls a real GoMs server over loopback gRPC with messages
// that have no vtproto methods (the fixtures' echo): both ends go through
// grpc-go's proto codec, through vtcodec, and the bytes are protobuf-go's.
func TestFallback(t *testing.T) {
	s := echotest.Serve(t, goms.DefaultConfig())
	cc, err := grpc.NewClient(s.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	client := echo.NewEchoServiceClient(cc)
	for _, msg := range []string{"", "hello", strings.Repeat("é", 40<<10)} {
		resp, err := client.Echo(context.Background(), &echo.EchoRequest{Message: msg})
		if err != nil {
			t.Fatalf("Echo(%d bytes): %v", len(msg), err)
		}
		if resp.GetMessage() != msg {
			t.Fatalf("Echo answered %d bytes, want %d", len(resp.GetMessage()), len(msg))
		}
		req := &echo.EchoRequest{Message: msg, DelayMs: 3}
		data, err := vtcodec.Codec{}.Marshal(req)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := proto.Marshal(req)
		if got := data.Materialize(); !bytes.Equal(got, want) {
			t.Fatalf("fallback wrote %x, want %x", got, want)
		}
		data.Free()
	}
}

// vtEcho is an EchoRequest with hand-written vtproto-style methods for
// its message field alone, as protoc-gen-go-vtproto would generate them;
// lie makes SizeVT claim more bytes than MarshalToSizedBufferVT writes.
type vtEcho struct {
	echo.EchoRequest
	lie      int
	unmarked bool // set by UnmarshalVT
}

func (m *vtEcho) SizeVT() int {
	if m.Message == "" {
		return m.lie
	}
	return 1 + protowire.SizeBytes(len(m.Message)) + m.lie
}

func (m *vtEcho) MarshalToSizedBufferVT(b []byte) (int, error) {
	if m.Message == "" {
		return 0, nil
	}
	enc := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), m.Message)
	copy(b[len(b)-len(enc):], enc)
	return len(enc), nil
}

func (m *vtEcho) UnmarshalVT(b []byte) error {
	m.unmarked = true
	if len(b) == 0 {
		return nil
	}
	num, typ, n := protowire.ConsumeTag(b)
	if num != 1 || typ != protowire.BytesType {
		return errors.New("want field 1, bytes")
	}
	s, m2 := protowire.ConsumeString(b[n:])
	if m2 < 0 {
		return protowire.ParseError(m2)
	}
	m.Message = s
	return nil
}

// TestVTMethods checks that messages with vtproto's methods go through
// them, below and above grpc's pooling threshold, that Unmarshal resets
// the message first, and that a size that does not match what
// MarshalToSizedBufferVT wrote is an error, not a buffer with garbage at
// its start.
func TestVTMethods(t *testing.T) {
	for _, msg := range []string{"", "hi", strings.Repeat("x", 5000)} {
		data, err := vtcodec.Codec{}.Marshal(&vtEcho{EchoRequest: echo.EchoRequest{Message: msg}})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := proto.Marshal(&echo.EchoRequest{Message: msg})
		if got := data.Materialize(); !bytes.Equal(got, want) {
			t.Fatalf("marshal %d bytes: got %x, want %x", len(msg), got, want)
		}
		back := &vtEcho{EchoRequest: echo.EchoRequest{DelayMs: 9}}
		if err := (vtcodec.Codec{}).Unmarshal(data, back); err != nil {
			t.Fatal(err)
		}
		if !back.unmarked || back.Message != msg || back.DelayMs != 0 {
			t.Fatalf("unmarshal: UnmarshalVT called %v, message %d bytes, delay %d; want true, %d, 0 (reset)", back.unmarked, len(back.Message), back.DelayMs, len(msg))
		}
		data.Free()
	}
	// A message split over several buffers, as a large one arrives.
	split := mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x03, 'a'}), mem.SliceBuffer([]byte("bc"))}
	back := &vtEcho{}
	if err := (vtcodec.Codec{}).Unmarshal(split, back); err != nil || back.Message != "abc" {
		t.Fatalf("unmarshal of two buffers: %q, %v", back.Message, err)
	}
	if err := (vtcodec.Codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x12})}, &vtEcho{}); err == nil || !strings.Contains(err.Error(), "vtcodec: unmarshal") {
		t.Fatalf("unmarshal of bad input: %v", err)
	}
	for _, size := range []int{2, 3000} {
		_, err := vtcodec.Codec{}.Marshal(&vtEcho{EchoRequest: echo.EchoRequest{Message: strings.Repeat("x", size)}, lie: 1})
		if err == nil || !strings.Contains(err.Error(), "SizeVT said") {
			t.Fatalf("marshal with a lying SizeVT (%d bytes): %v, want an error", size, err)
		}
	}
}
