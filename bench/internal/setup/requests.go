package setup

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/goms-io/goms/bench/internal/gen/fixtures/echo/echoconnect"
)

// EchoBodyPath returns the HTTP path at which impl answers the EchoBody
// call with a JSON body: the method's gRPC path for the Connect and
// GoMsConnect set-ups (the Connect protocol, unary, JSON), the REST route
// of the proto's google.api.http rule (POST /v1/echo) for every other.
func EchoBodyPath(impl Impl) string {
	if SpeaksConnect(impl) {
		return echoconnect.EchoServiceEchoBodyProcedure
	}
	return "/v1/echo"
}

// ExpandRequest returns the HTTP request that calls the server-streaming
// Expand at addr with message, in impl's protocol. Every set-up gets the
// same request message, {"message": message} as JSON, sent as its protocol
// sends a request body: for the Connect and GoMsConnect set-ups a Connect
// streaming call with JSON messages (POST, one enveloped message); for
// every other the REST route POST /v1/expand with body "*" (an
// additional binding of the proto's google.api.http rule), the message as
// the request body. Not GET /v1/expand/{message}: a 100-word message in
// the path costs the client's URL escaping and the server's unescaping
// per call (about 150 k instructions of a GoMs call), work the Connect
// set-ups never do, so the comparison would not be of the same work.
func ExpandRequest(impl Impl, addr, message string) (*http.Request, error) {
	msg, err := json.Marshal(map[string]string{"message": message})
	if err != nil {
		return nil, err
	}
	if !SpeaksConnect(impl) {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/expand", bytes.NewReader(msg))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		return req, nil
	}
	body := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(body[1:], uint32(len(msg)))
	body = append(body, msg...)
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+echoconnect.EchoServiceExpandProcedure, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/connect+json")
	return req, nil
}

// CountExpand reads the answer to an ExpandRequest and returns how many
// messages it streamed, or an error if the stream ended with one.
func CountExpand(impl Impl, resp *http.Response) (int, error) {
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if !SpeaksConnect(impl) {
		// Every message is one word of the request: "word000", ...
		return bytes.Count(body, []byte(`"word`)), nil
	}
	// Connect streaming: envelopes of a flags byte, a 4-byte big-endian
	// length and the JSON message; the last one (flag 2) ends the stream,
	// with an error if the call failed.
	n := 0
	for len(body) > 0 {
		if len(body) < 5 || len(body)-5 < int(binary.BigEndian.Uint32(body[1:5])) {
			return n, errors.New("truncated Connect envelope")
		}
		flags, size := body[0], binary.BigEndian.Uint32(body[1:5])
		payload := body[5 : 5+size]
		body = body[5+size:]
		if flags&2 == 0 {
			n++
			continue
		}
		var end struct {
			Error json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(payload, &end); err != nil {
			return n, err
		}
		if end.Error != nil {
			return n, fmt.Errorf("stream ended with %s", end.Error)
		}
		return n, nil
	}
	return n, errors.New("stream without the Connect end message")
}
