package gateway

import (
	"io"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// gatewayMarshaler is the HTTP gateway's JSON marshaler: grpc-gateway's
// default (JSONPb in an HTTPBodyMarshaler), with three changes.
//
//   - The error line of a server stream is the flat google.rpc.Status body
//     of every other HTTP error ({"code":…,"message":…,"details":[…]})
//     instead of grpc-gateway's {"error":{…}}, so that one error body
//     holds for streams too. Messages stay {"result":{…}} lines.
//   - Messages are marshalled by [appendMessageJSON] (protojson's output,
//     fewer allocations), without JSONPb's copy of the result into a
//     bytes.Buffer.
//   - Request bodies are decoded by [requestBody.Decode], which mostly
//     skips the encoding/json pass JSONPb makes over every message, and
//     fails the request when a message does not decode.
type gatewayMarshaler struct {
	*runtime.HTTPBodyMarshaler
	json *runtime.JSONPb
	// stream is what the edge's server streams share (see
	// [ForwardStream]); nil: streams are grpc-gateway's.
	stream *streamEncoder
}

// newMarshaler returns the gateway's marshaler: grpc-gateway's defaults
// (unpopulated fields emitted), and JSON fields and enum names the proto
// does not declare refused unless discardUnknown.
func newMarshaler(discardUnknown bool, stream *streamEncoder) runtime.Marshaler {
	j := &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: discardUnknown},
	}
	return gatewayMarshaler{&runtime.HTTPBodyMarshaler{Marshaler: j}, j, stream}
}

// Marshal marshals messages with protojson and unwraps grpc-gateway's
// {"error": status} stream chunk.
func (m gatewayMarshaler) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case *httpbody.HttpBody:
		return v.GetData(), nil
	case proto.Message:
		// appendMessageJSON: protojson's output without most of its
		// allocations; 256 bytes hold most responses whole.
		return appendMessageJSON(make([]byte, 0, 256), v, m.json.MarshalOptions)
	case map[string]proto.Message:
		if st, ok := v["error"]; ok && len(v) == 1 {
			return m.json.MarshalOptions.Marshal(st)
		}
	}
	return m.HTTPBodyMarshaler.Marshal(v)
}

// NewDecoder returns the decoder of a request body (see [requestBody]), or
// grpc-gateway's decoder for any other reader.
func (m gatewayMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	if b, ok := r.(*requestBody); ok && b.m.json == nil {
		b.m = m
		return b
	}
	return m.HTTPBodyMarshaler.NewDecoder(r)
}
