package connect_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/coder/websocket"
	"github.com/goms-io/goms/internal/fixtures/echo"
	"github.com/goms-io/goms/internal/fixtures/rules"
	"github.com/goms-io/goms/test/connect/gen/fixtures/echo/echoconnect"
	statuspb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The differential's transports beyond connect-go's and grpc-go's
// clients: Connect GET, gRPC-Web text and JSON, REST server streams as
// Server-Sent Events, REST routes over a WebSocket.

// earlyCases are requests that the service answers before the client has
// sent its whole body: a PlaceMany whose second order breaks a rule,
// followed by many valid ones. Over HTTP/1.1 the server reads the rest of
// the body before it answers (internal/gateway's bodyTail); closing the
// connection instead could reset it under the client and lose the
// answer. Not drawn from the seed: the drawn set stays as it was.
func earlyCases() []dcase {
	var out []dcase
	for i := range 8 {
		c := dcase{name: fmt.Sprintf("early%d/PlaceMany", i), method: "PlaceMany"}
		c.reqs = append(c.reqs, &rules.PlaceRequest{Sku: "SKU1", Quantity: 1}, &rules.PlaceRequest{Sku: "X", Quantity: int32(i)})
		for range 50 {
			c.reqs = append(c.reqs, &rules.PlaceRequest{Sku: "SKU2", Quantity: 2})
		}
		out = append(out, c)
	}
	return out
}

// rpcPath is the gRPC path of a case's method and a new message of its
// response type.
func rpcPath(method string) (string, proto.Message) {
	switch method {
	case "Place", "PlaceMany":
		return "/fixtures.rules.RulesService/" + method, &rules.PlaceResponse{}
	}
	return "/fixtures.echo.EchoService/" + method, &echo.EchoResponse{}
}

// msgOfJSON is the canonical form of b, a JSON response of type like.
func msgOfJSON(like proto.Message, b []byte) string {
	m := like.ProtoReflect().New().Interface()
	if err := protojson.Unmarshal(b, m); err != nil {
		return "!" + string(b)
	}
	return canon(m)
}

// getOnly is the skip of Connect GET: only NO_SIDE_EFFECTS methods take
// it, and of the fixtures' methods only Echo is one.
func getOnly(c dcase) string {
	if c.method != "Echo" {
		return "GET is for NO_SIDE_EFFECTS methods: Echo only"
	}
	return ""
}

// connectGet returns a caller of Echo with connect-go's client asking for
// GET (connect.WithHTTPGet), and checks that each call went as a GET.
func connectGet(t *testing.T, base string, opts ...connect.ClientOption) func(*testing.T, dcase) outcome {
	var last string
	hc := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		last = r.Method
		return http.DefaultTransport.RoundTrip(r)
	})}
	ec := echoconnect.NewEchoServiceClient(hc, base, append(opts, connect.WithHTTPGet())...)
	return func(t *testing.T, c dcase) outcome {
		last = ""
		o := callConnect(t.Context(), ec, nil, c)
		if last != http.MethodGet {
			t.Errorf("%s: connect-go sent %q, want GET", c.name, last)
		}
		return o
	}
}

// webType is a gRPC-Web content type.
type webType struct {
	ct         string
	json, text bool
}

var (
	grpcWebJSONType = webType{ct: "application/grpc-web+json", json: true}
	grpcWebTextType = webType{ct: "application/grpc-web-text", text: true}
)

// callGRPCWebRaw calls c with gRPC-Web over HTTP/1.1 written here (no Go
// client speaks grpc-web-text): the whole request body at once, base64
// for text; the answer's frames read back, the trailers frame giving the
// status.
func callGRPCWebRaw(t *testing.T, base string, c dcase, wt webType) outcome {
	path, respType := rpcPath(c.method)
	var body []byte
	frame := func(b []byte) {
		body = append(binary.BigEndian.AppendUint32(append(body, 0), uint32(len(b))), b...)
	}
	if c.raw != "" {
		frame([]byte(c.raw))
	}
	for _, m := range c.reqs {
		var b []byte
		var err error
		if wt.json {
			b, err = protojson.Marshal(m)
		} else {
			b, err = proto.Marshal(m)
		}
		if err != nil {
			t.Fatal(err)
		}
		frame(b)
	}
	if wt.text {
		body = []byte(base64.StdEncoding.EncodeToString(body))
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", wt.ct)
	req.Header.Set("X-Grpc-Web", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{Code: "!body: " + err.Error()}
	}
	if resp.StatusCode != http.StatusOK {
		return outcome{Code: fmt.Sprintf("!HTTP %d: %s", resp.StatusCode, raw)}
	}
	if wt.text {
		// Each frame is base64 of its own, padded: decode by quads.
		var dec []byte
		for len(raw) >= 4 {
			q, err := base64.StdEncoding.DecodeString(string(raw[:4]))
			if err != nil {
				return outcome{Code: "!base64: " + err.Error()}
			}
			dec, raw = append(dec, q...), raw[4:]
		}
		if len(raw) != 0 {
			return outcome{Code: "!base64: trailing bytes"}
		}
		raw = dec
	}
	var msgs []string
	for len(raw) >= 5 {
		flags, n := raw[0], int(binary.BigEndian.Uint32(raw[1:5]))
		if len(raw) < 5+n {
			return outcome{Code: "!frame cut short"}
		}
		payload := raw[5 : 5+n]
		raw = raw[5+n:]
		if flags&0x80 == 0 {
			if wt.json {
				msgs = append(msgs, msgOfJSON(respType, payload))
				continue
			}
			m := respType.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(payload, m); err != nil {
				return outcome{Code: "!message: " + err.Error()}
			}
			msgs = append(msgs, canon(m))
			continue
		}
		st := &statuspb.Status{Code: -1}
		for _, line := range strings.Split(string(payload), "\r\n") {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			switch strings.ToLower(k) {
			case "grpc-status":
				n, err := strconv.Atoi(v)
				if err != nil {
					return outcome{Code: "!grpc-status " + v}
				}
				st.Code = int32(n)
			case "grpc-status-details-bin":
				b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(v, "="))
				if err != nil {
					return outcome{Code: "!details: " + err.Error()}
				}
				full := &statuspb.Status{}
				if err := proto.Unmarshal(b, full); err != nil {
					return outcome{Code: "!details: " + err.Error()}
				}
				st.Details = full.GetDetails()
			}
		}
		if st.Code < 0 {
			return outcome{Code: "!trailers without grpc-status"}
		}
		if st.Code == 0 {
			return fromErr(nil, msgs)
		}
		return fromStatus(st, msgs)
	}
	return outcome{Code: "!no trailers frame"}
}

// sseOnly is the skip of Server-Sent Events, a format of server streams.
func sseOnly(c dcase) string {
	if c.method != "Expand" {
		return "SSE is for server streams: Expand only"
	}
	return ""
}

// callSSE calls c's server stream on its REST route as Server-Sent
// Events: an event per message, "event: error" with the google.rpc.Status
// JSON for an error.
func callSSE(t *testing.T, base string, c dcase) outcome {
	req, respType := restRequest(base, c)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req.WithContext(t.Context()))
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/event-stream") {
		b, _ := io.ReadAll(resp.Body)
		return outcome{Code: fmt.Sprintf("!HTTP %d %s: %s", resp.StatusCode, ct, b)}
	}
	var msgs []string
	var event, data string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if data == "" {
				event = ""
				continue
			}
			if event == "error" {
				st := &statuspb.Status{}
				if err := protojson.Unmarshal([]byte(data), st); err != nil {
					return outcome{Code: "!not a status: " + data}
				}
				return fromStatus(st, msgs)
			}
			msgs = append(msgs, msgOfJSON(respType, []byte(data)))
			event, data = "", ""
		case strings.HasPrefix(line, ":"): // a comment: keep-alive
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")
		}
	}
	if err := sc.Err(); err != nil {
		return outcome{Code: "!stream: " + err.Error()}
	}
	return fromErr(nil, msgs)
}

// wsSkip is the skip of WebSockets, served on the routes with a body.
func wsSkip(c dcase) string {
	if c.method == "Echo" || c.method == "Expand" {
		return "WebSockets are served on POST routes: Echo and Expand are GET routes"
	}
	return ""
}

// wsLossy drops an error's details: a WebSocket ends with a close frame,
// which carries a code (4000 + the gRPC code) and a reason of at most 123
// bytes, and no room for details.
func wsLossy(o outcome) outcome {
	o.Details = nil
	return o
}

// callWebSocket calls c on its REST route over a WebSocket (coder's
// client): each request a text message of JSON, an empty message for the
// end of the client's side, each answer a message, the status in the
// close code.
func callWebSocket(t *testing.T, base string, c dcase) outcome {
	req, respType := restRequest(base, c)
	u := *req.URL
	u.Scheme = "ws"
	ctx := t.Context()
	conn, resp, err := websocket.Dial(ctx, u.String(), nil)
	if err != nil {
		t.Fatalf("%s: dial %s: %v (%v)", c.name, u.String(), err, resp)
	}
	defer conn.CloseNow()
	send := func(b []byte) {
		if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
			t.Logf("%s: write: %v (the call ended first)", c.name, err)
		}
	}
	if c.raw != "" {
		send([]byte(c.raw))
	}
	for _, m := range c.reqs {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		send(b)
	}
	send(nil)
	var msgs []string
	for {
		_, b, err := conn.Read(ctx)
		if err == nil {
			msgs = append(msgs, msgOfJSON(respType, b))
			continue
		}
		switch code := websocket.CloseStatus(err); {
		case code == websocket.StatusNormalClosure:
			return fromErr(nil, msgs)
		case code >= 4000 && code <= 4016:
			return outcome{Code: codes.Code(code - 4000).String(), Msgs: msgs}
		default:
			return outcome{Code: fmt.Sprintf("!closed: %v", err)}
		}
	}
}
