//go:build unix

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// TestNewProjectValidation follows the section "Validating requests" of a
// new project's README, as a user would: goms new from this checkout, the
// section's proto rule added to proto/hello/v1/hello.proto, its commands
// (make generate), then make run on free ports. The section's curl call
// must answer the JSON the section shows; a name of 101 characters gets a
// 400 with code 3 and a google.rpc.BadRequest violation of field name over
// HTTP, and INVALID_ARGUMENT with the same detail over gRPC (a grpc-go
// client); a valid name is greeted on both. It proves that a new project
// validates with nothing fetched: buf generate finds
// buf/validate/validate.proto in the project, and make generate leaves a
// go.mod that builds.
func TestNewProjectValidation(t *testing.T) {
	if testing.Short() {
		t.Skip("writes, generates, builds and runs a new project")
	}
	requireShellTools(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	project := filepath.Join(t.TempDir(), "hello")
	var stdout, stderr strings.Builder
	if code := run([]string{"new", "-goms", root, "example.com/you/hello", project}, &stdout, &stderr); code != 0 {
		t.Fatalf("goms new: exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	r := &readmeRunner{t: t, cwd: project, subst: map[string]string{}}
	t.Cleanup(r.stopServers)

	readme, err := os.ReadFile(filepath.Join(project, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## Validating requests\n")
	if !ok {
		t.Fatal("the project's README.md has no section \"## Validating requests\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	protos, answers := fencedBlocks(section, "proto"), fencedBlocks(section, "json")
	if len(protos) != 1 || len(answers) != 1 {
		t.Fatalf("the section has %d proto and %d json blocks; want one of each:\n%s", len(protos), len(answers), section)
	}

	// The section's rule, in the starter proto.
	protoPath := filepath.Join(project, "proto", "hello", "v1", "hello.proto")
	src, err := os.ReadFile(protoPath)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := applyProtoExample(string(src), protos[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(protoPath, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}

	// The section's commands: make generate, and the calls once make run
	// serves.
	var calls []string
	for _, line := range shellLines(section) {
		if _, cmd := splitCD(line); isCall(cmd) {
			calls = append(calls, line)
			continue
		}
		r.run(line)
	}
	if len(calls) == 0 {
		t.Fatal("the section shows no call")
	}
	if gen, err := os.ReadFile(filepath.Join(project, "gen", "hello", "v1", "hello.goms.go")); err != nil || !strings.Contains(string(gen), `_ "github.com/goms-io/goms/validate"`) {
		t.Fatalf("gen/hello/v1/hello.goms.go does not import goms/validate (%v)", err)
	}
	r.run("make run")
	t.Logf("goms new → make run serving with a rule took %.1fs", time.Since(start).Seconds())
	httpAddr, grpcAddr := r.subst[defaultHTTP], r.subst[defaultGRPC]

	want, err := compactJSONValues(answers[0])
	if err != nil {
		t.Fatalf("the section's json block: %v", err)
	}
	for _, line := range calls {
		out := r.output("bash", "-c", "curl -sS "+strings.TrimPrefix(r.replace(line), "curl "))
		if got, err := compactJSONValues(out); err != nil || got != want {
			t.Errorf("%s answered %s (%v); the README says %s", line, out, err, want)
		}
	}

	long := strings.Repeat("x", 101)
	// HTTP: 400, code 3, a BadRequest violation of name; a valid name 200.
	code, body := httpGet(t, "http://"+httpAddr+"/v1/hello/"+long)
	var e struct {
		Code    int `json:"code"`
		Details []struct {
			Type            string `json:"@type"`
			FieldViolations []struct {
				Field  string `json:"field"`
				Reason string `json:"reason"`
			} `json:"fieldViolations"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &e); err != nil || code != http.StatusBadRequest || e.Code != 3 || len(e.Details) != 1 ||
		e.Details[0].Type != "type.googleapis.com/google.rpc.BadRequest" || len(e.Details[0].FieldViolations) != 1 ||
		e.Details[0].FieldViolations[0].Field != "name" || e.Details[0].FieldViolations[0].Reason != "string.max_len" {
		t.Errorf("GET /v1/hello/<101 x>: %d %s (%v); want 400, code 3 and a BadRequest violation of name (string.max_len)", code, body, err)
	}
	if code, body := httpGet(t, "http://"+httpAddr+"/v1/hello/world"); code != http.StatusOK || string(body) != `{"message":"Hello, world!"}` {
		t.Errorf("GET /v1/hello/world: %d %s; want 200 and the greeting", code, body)
	}

	// gRPC: SayHelloRequest and SayHelloResponse are, on the wire, a
	// string in field 1, as google.protobuf.StringValue is.
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const method = "/hello.v1.GreeterService/SayHello"
	resp := new(wrapperspb.StringValue)
	err = conn.Invoke(ctx, method, wrapperspb.String(long), resp)
	st := status.Convert(err)
	var violations []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				violations = append(violations, v.GetField()+" "+v.GetReason())
			}
		}
	}
	if st.Code() != codes.InvalidArgument || strings.Join(violations, ",") != "name string.max_len" {
		t.Errorf("gRPC SayHello of 101 x: %v, violations %q; want InvalidArgument and a BadRequest violation of name", err, violations)
	}
	if err := conn.Invoke(ctx, method, wrapperspb.String("world"), resp); err != nil || resp.GetValue() != "Hello, world!" {
		t.Errorf("gRPC SayHello of world: %q, %v; want the greeting", resp.GetValue(), err)
	}
	r.stopServers()
	t.Logf("the whole test took %.1fs", time.Since(start).Seconds())
}

// fencedBlocks returns the contents of the fenced blocks of lang in s.
func fencedBlocks(s, lang string) []string {
	var blocks []string
	var b strings.Builder
	in := false
	for line := range strings.Lines(s) {
		switch trimmed := strings.TrimSpace(line); {
		case !in && trimmed == "```"+lang:
			in = true
			b.Reset()
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, b.String())
		case in:
			b.WriteString(line)
		}
	}
	return blocks
}

// applyProtoExample puts a README's proto example into src: its imports
// before src's first import, and each field line of its messages in place
// of the field of the same type, name and number in src's message of the
// same name (the example shows the field with its options, src has it
// bare: "string name = 1;").
func applyProtoExample(src, example string) (string, error) {
	var imports []string
	message := ""
	for line := range strings.Lines(example) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "import "):
			imports = append(imports, line+"\n")
		case strings.HasPrefix(line, "message "):
			message = line
		case line == "}":
			message = ""
		case message != "" && line != "" && !strings.HasPrefix(line, "//"):
			bare, _, ok := strings.Cut(line, " [")
			if !ok {
				return "", fmt.Errorf("example field %q has no options", line)
			}
			at := strings.Index(src, "\n"+message+"\n")
			if at < 0 {
				return "", fmt.Errorf("the proto has no %q", message)
			}
			field := strings.Index(src[at:], " "+bare+";\n")
			if field < 0 {
				return "", fmt.Errorf("the proto's %q has no field %q", message, bare)
			}
			field += at + 1
			src = src[:field] + line + src[field+len(bare)+1:]
		}
	}
	first := strings.Index(src, "\nimport ")
	if first < 0 {
		return "", fmt.Errorf("the proto has no import")
	}
	return src[:first+1] + strings.Join(imports, "") + src[first+1:], nil
}

// httpGet returns the status and body of GET url.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}
