package validate_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	pv "buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"github.com/goms-io/goms"
	"github.com/goms-io/goms/internal/fixtures/rules"
	golden "github.com/goms-io/goms/internal/gen/testdata/validate"
	"github.com/goms-io/goms/internal/testutil"
	"github.com/goms-io/goms/validate"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// rulesServer implements the fixture: it counts the requests its handlers
// see, so a test can tell that an invalid one never reached them.
type rulesServer struct {
	rules.UnimplementedRulesServiceServer
	seen atomic.Int32
}

func (s *rulesServer) Place(context.Context, *rules.PlaceRequest) (*rules.PlaceResponse, error) {
	return &rules.PlaceResponse{Count: s.seen.Add(1)}, nil
}

func (s *rulesServer) PlaceMany(stream grpc.ClientStreamingServer[rules.PlaceRequest, rules.PlaceResponse]) error {
	var n int32
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&rules.PlaceResponse{Count: n})
		}
		if err != nil {
			return err
		}
		n++
		s.seen.Add(1)
	}
}

func (s *rulesServer) Peek(context.Context, *rules.PeekRequest) (*rules.PlaceResponse, error) {
	return &rules.PlaceResponse{Count: s.seen.Add(1)}, nil
}

// start starts a server for cfg on free loopback ports, serving impl
// (nil in http mode), and stops it when the test ends.
func start(t *testing.T, cfg goms.Config, impl rules.RulesServiceServer) *goms.Server {
	t.Helper()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg)
	rules.RegisterRulesService(s, impl)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Stop(ctx)
	})
	return s
}

// dial returns a grpc-go client of the fixture at addr.
func dial(t testing.TB, addr string) rules.RulesServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return rules.NewRulesServiceClient(conn)
}

// invalid breaks three rules: sku too short and not upper-case, quantity
// not above 0, and a line's note too long.
func invalid() *rules.PlaceRequest {
	return &rules.PlaceRequest{Sku: "ab", Quantity: 0, Lines: []*rules.Line{{Note: "ok"}, {Note: "far too long"}}}
}

// wantViolations are invalid's field violations, in protovalidate's order.
var wantViolations = &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
	{Field: "sku", Description: "must be at least 3 characters", Reason: "string.min_len"},
	{Field: "sku", Description: "does not match regex pattern `^[A-Z0-9]+$`", Reason: "string.pattern"},
	{Field: "quantity", Description: "must be greater than 0", Reason: "int32.gt"},
	{Field: "lines[1].note", Description: "must be at most 8 characters", Reason: "string.max_len"},
}}

// wantMessage is the status message of invalid's error.
const wantMessage = "invalid request: sku: must be at least 3 characters; " +
	"sku: does not match regex pattern `^[A-Z0-9]+$`; quantity: must be greater than 0; " +
	"lines[1].note: must be at most 8 characters"

// checkInvalid checks that err is the error of invalid: InvalidArgument
// with a BadRequest of its violations.
func checkInvalid(t *testing.T, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || st.Message() != wantMessage {
		t.Fatalf("error = %v, want InvalidArgument: %s", err, wantMessage)
	}
	details := st.Details()
	if len(details) != 1 {
		t.Fatalf("details = %v, want one BadRequest", details)
	}
	br, ok := details[0].(*errdetails.BadRequest)
	if !ok {
		t.Fatalf("detail = %T, want *errdetails.BadRequest", details[0])
	}
	if diff := cmp.Diff(wantViolations, br, protocmp.Transform()); diff != "" {
		t.Errorf("BadRequest (-want +got):\n%s", diff)
	}
}

// TestGRPC checks a unary call over gRPC: an invalid request fails before
// the handler, a valid one reaches it.
func TestGRPC(t *testing.T) {
	impl := &rulesServer{}
	s := start(t, goms.DefaultConfig(), impl)
	client := dial(t, s.GRPCAddr())
	_, err := client.Place(context.Background(), invalid())
	checkInvalid(t, err)
	if n := impl.seen.Load(); n != 0 {
		t.Fatalf("the handler saw %d requests, want 0", n)
	}
	resp, err := client.Place(context.Background(), &rules.PlaceRequest{Sku: "AB12", Quantity: 2})
	if err != nil || resp.GetCount() != 1 {
		t.Fatalf("valid request: %v, %v", resp, err)
	}
}

// wantHTTPBody is the JSON error body of invalid over HTTP.
const wantHTTPBody = `{"code":3,"message":"` + wantMessage + `","details":[{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[` +
	`{"field":"sku","description":"must be at least 3 characters","reason":"string.min_len","localizedMessage":null},` +
	`{"field":"sku","description":"does not match regex pattern ` + "`^[A-Z0-9]+$`" + `","reason":"string.pattern","localizedMessage":null},` +
	`{"field":"quantity","description":"must be greater than 0","reason":"int32.gt","localizedMessage":null},` +
	`{"field":"lines[1].note","description":"must be at most 8 characters","reason":"string.max_len","localizedMessage":null}]}]}`

// invalidJSON is invalid as the JSON of an HTTP request.
const invalidJSON = `{"sku":"ab","quantity":0,"lines":[{"note":"ok"},{"note":"far too long"}]}`

// checkHTTP posts invalid, then a valid order, to the HTTP server at addr
// and checks the answers.
func checkHTTP(t *testing.T, addr string) {
	t.Helper()
	resp, body := testutil.Do(t, "POST", "http://"+addr+"/v1/orders", "application/json", strings.NewReader(invalidJSON))
	if resp.StatusCode != 400 || body != testutil.CompactJSON(wantHTTPBody) {
		t.Errorf("invalid order: %d %s\nwant 400 %s", resp.StatusCode, body, testutil.CompactJSON(wantHTTPBody))
	}
	resp, body = testutil.Do(t, "POST", "http://"+addr+"/v1/orders", "application/json", strings.NewReader(`{"sku":"AB12","quantity":1}`))
	if resp.StatusCode != 200 || body != `{"count":1}` {
		t.Errorf("valid order: %d %s", resp.StatusCode, body)
	}
}

// TestHTTPGateway checks HTTP/JSON in gateway mode (the gateway calls the
// service in-process): 400 with the BadRequest in the JSON error body.
func TestHTTPGateway(t *testing.T) {
	impl := &rulesServer{}
	s := start(t, goms.DefaultConfig(), impl)
	checkHTTP(t, s.HTTPAddr())
	// A client stream over HTTP: the valid first message gets through,
	// the invalid second one ends the call.
	resp, body := testutil.Do(t, "POST", "http://"+s.HTTPAddr()+"/v1/orders:many", "application/json",
		strings.NewReader(`{"sku":"AB12","quantity":1}`+"\n"+invalidJSON))
	if resp.StatusCode != 400 || body != testutil.CompactJSON(wantHTTPBody) {
		t.Errorf("client stream: %d %s\nwant 400 %s", resp.StatusCode, body, testutil.CompactJSON(wantHTTPBody))
	}
	if n := impl.seen.Load(); n != 2 {
		t.Errorf("the handler saw %d requests, want 2 (the valid ones)", n)
	}
}

// TestHTTPMode checks HTTP/JSON in http mode: the front forwards to a
// gRPC server, which checks, and the front passes its details on.
func TestHTTPMode(t *testing.T) {
	impl := &rulesServer{}
	cfg := goms.DefaultConfig()
	cfg.Mode = goms.ModeGRPC
	backend := start(t, cfg, impl)
	cfg.Mode, cfg.Upstream = goms.ModeHTTP, backend.GRPCAddr()
	front := start(t, cfg, nil)
	checkHTTP(t, front.HTTPAddr())
	if n := impl.seen.Load(); n != 1 {
		t.Errorf("the handler saw %d requests, want 1 (the valid one)", n)
	}
}

// TestInProcess checks calls through Server.Conn, with the client the
// generator writes for it.
func TestInProcess(t *testing.T) {
	impl := &rulesServer{}
	s := start(t, goms.DefaultConfig(), impl)
	client := rules.NewRulesServiceClientFrom(s)
	_, err := client.Place(context.Background(), invalid())
	checkInvalid(t, err)
	stream, err := client.PlaceMany(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(invalid()); err != nil {
		t.Fatal(err)
	}
	_, err = stream.CloseAndRecv()
	checkInvalid(t, err)
	if n := impl.seen.Load(); n != 0 {
		t.Fatalf("the handler saw %d requests, want 0", n)
	}
}

// TestClientStream checks that each message of a client stream is checked
// as the handler receives it: the valid first one gets through, the
// invalid second one ends the call.
func TestClientStream(t *testing.T) {
	impl := &rulesServer{}
	s := start(t, goms.DefaultConfig(), impl)
	stream, err := dial(t, s.GRPCAddr()).PlaceMany(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&rules.PlaceRequest{Sku: "AB12", Quantity: 1}); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(invalid()); err != nil {
		t.Fatal(err)
	}
	_, err = stream.CloseAndRecv()
	checkInvalid(t, err)
	if n := impl.seen.Load(); n != 1 {
		t.Fatalf("the handler saw %d requests, want 1 (the valid one)", n)
	}
}

// TestOff checks that grpc.validate: false lets invalid requests through
// to the handler, on gRPC and HTTP.
func TestOff(t *testing.T) {
	impl := &rulesServer{}
	cfg := goms.DefaultConfig()
	cfg.GRPC.Validate = false
	s := start(t, cfg, impl)
	if _, err := dial(t, s.GRPCAddr()).Place(context.Background(), invalid()); err != nil {
		t.Errorf("gRPC with validation off: %v", err)
	}
	resp, body := testutil.Do(t, "POST", "http://"+s.HTTPAddr()+"/v1/orders", "application/json", strings.NewReader(invalidJSON))
	if resp.StatusCode != 200 || body != `{"count":2}` {
		t.Errorf("HTTP with validation off: %d %s", resp.StatusCode, body)
	}
}

// TestHasRules checks which request types get a check: those with rules
// on a field, or only on a message type a map of theirs holds; not one
// without rules.
func TestHasRules(t *testing.T) {
	for _, tc := range []struct {
		m    proto.Message
		want bool
	}{
		{&rules.PlaceRequest{}, true},
		{&golden.Wrapper{}, true},
		{&rules.PeekRequest{}, false},
		{&golden.Plain{}, false},
	} {
		md := tc.m.ProtoReflect().Descriptor()
		if got := validate.HasRules(md); got != tc.want {
			t.Errorf("HasRules(%s) = %v, want %v", md.FullName(), got, tc.want)
		}
		check, err := validate.Check(md)
		if (check != nil) != tc.want || err != nil {
			t.Errorf("Check(%s) = check %v, %v; want check %v", md.FullName(), check != nil, err, tc.want)
		}
	}
}

// TestBuiltOnce checks that the evaluator of a request type is built once,
// by Check, and not per call: a call of the check allocates a handful of
// values, where building protovalidate's evaluator (CEL environment and
// programs) allocates thousands.
func TestBuiltOnce(t *testing.T) {
	req := &rules.PlaceRequest{Sku: "AB12", Quantity: 2, Lines: []*rules.Line{{Note: "gift"}}}
	check, err := validate.Check(req.ProtoReflect().Descriptor())
	if err != nil || check == nil {
		t.Fatalf("Check: %v", err)
	}
	if allocs := testing.AllocsPerRun(100, func() {
		if err := check(req); err != nil {
			t.Fatal(err)
		}
	}); allocs > 20 {
		t.Errorf("a check allocates %v values, want at most 20", allocs)
	}
}

// ruleService returns a service of package pkg, built at run time, whose
// request has one string field with options opts.
func ruleService(t *testing.T, pkg string, opts *descriptorpb.FieldOptions) protoreflect.ServiceDescriptor {
	t.Helper()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:       proto.String(pkg + "/" + pkg + ".proto"),
		Package:    proto.String(pkg),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"buf/validate/validate.proto"},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("Req"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("s"), Number: proto.Int32(1), JsonName: proto.String("s"),
				Label:   descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
				Type:    descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(),
				Options: opts,
			}},
		}},
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name:   proto.String("Service"),
			Method: []*descriptorpb.MethodDescriptorProto{{Name: proto.String("Do"), InputType: proto.String("." + pkg + ".Req"), OutputType: proto.String("." + pkg + ".Req")}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Services().Get(0)
}

// badRules returns a service whose request has a rule that does not
// compile (a CEL expression with a syntax error).
func badRules(t *testing.T) protoreflect.ServiceDescriptor {
	opts := &descriptorpb.FieldOptions{}
	proto.SetExtension(opts, pv.E_Field, pv.FieldRules_builder{
		Cel: []*pv.Rule{pv.Rule_builder{Id: proto.String("broken"), Expression: proto.String("this +")}.Build()},
	}.Build())
	return ruleService(t, "bad", opts)
}

// TestUnknownRules checks a request type whose rules its descriptor holds
// as unknown fields of the options, as a descriptor decoded without
// protovalidate's types has them: it is checked all the same.
func TestUnknownRules(t *testing.T) {
	encoded, err := proto.Marshal(pv.FieldRules_builder{String: pv.StringRules_builder{MinLen: proto.Uint64(2)}.Build()}.Build())
	if err != nil {
		t.Fatal(err)
	}
	opts := &descriptorpb.FieldOptions{}
	opts.ProtoReflect().SetUnknown(protowire.AppendBytes(protowire.AppendTag(nil, pv.E_Field.TypeDescriptor().Number(), protowire.BytesType), encoded))
	md := ruleService(t, "unknown", opts).Methods().Get(0).Input()
	if !validate.HasRules(md) {
		t.Fatal("HasRules: false for rules among the unknown fields")
	}
	check, err := validate.Check(md)
	if check == nil || err != nil {
		t.Fatalf("Check: %v", err)
	}
	m := dynamicpb.NewMessage(md)
	m.Set(md.Fields().Get(0), protoreflect.ValueOfString("x"))
	if status.Code(check(m)) != codes.InvalidArgument {
		t.Errorf("check of a too short string: %v", check(m))
	}
}

// TestBadRulesFailStart checks that rules which do not compile fail
// Start, naming the method, rather than every call.
func TestBadRulesFailStart(t *testing.T) {
	sd := badRules(t)
	if _, err := validate.Check(sd.Methods().Get(0).Input()); err == nil {
		t.Fatal("Check of a rule that does not compile: no error")
	}
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	s := goms.New(cfg)
	s.Register(goms.Service{
		Desc:       &grpc.ServiceDesc{ServiceName: "bad.Service", HandlerType: (*any)(nil)},
		Impl:       struct{}{},
		Descriptor: sd,
	})
	err := s.Start(context.Background())
	if err == nil {
		s.Stop(context.Background())
		t.Fatal("Start served a method whose rules do not compile")
	}
	if !strings.HasPrefix(err.Error(), "goms: service bad.Service: method Do: request bad.Req: buf.validate rules: ") {
		t.Errorf("Start: %v", err)
	}
}
