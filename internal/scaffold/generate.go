package scaffold

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/goms-io/goms/internal/gen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// plugin is one plugin of buf.gen.yaml, which is rendered from [plugins]
// so that the first generation and buf generate cannot disagree.
type plugin struct {
	// Name is the plugin's tool name in tools/go.mod.
	Name string
	// Out is the output directory, relative to the project.
	Out string
	// Opt is the plugin parameter, or "".
	Opt string
}

// plugins are the project's code generators, in buf.gen.yaml's order.
var plugins = []plugin{
	{Name: "protoc-gen-go", Out: "gen", Opt: "paths=source_relative"},
	{Name: "protoc-gen-go-grpc", Out: "gen", Opt: "paths=source_relative"},
	{Name: "protoc-gen-grpc-gateway", Out: "gen", Opt: "paths=source_relative"},
	// openapi=true: gen/<pkg>/<file>.openapi.json, the OpenAPI 3.1 document
	// the server also serves at /openapi.json (one generator fewer to build
	// than grpc-gateway's Swagger 2 protoc-gen-openapiv2).
	{Name: "protoc-gen-goms", Out: "gen", Opt: "paths=source_relative,openapi=true"},
}

// Proto import paths of the project, as buf.yaml's modules list them.
const (
	protoDir         = "proto"
	googleapisDir    = "third_party/googleapis"
	protovalidateDir = "third_party/protovalidate"
)

// importPaths returns the proto import paths of the project in dir.
func importPaths(dir string) []string {
	return []string{
		filepath.Join(dir, protoDir),
		filepath.Join(dir, filepath.FromSlash(googleapisDir)),
		filepath.Join(dir, filepath.FromSlash(protovalidateDir)),
	}
}

// generate writes the code of every plugin for the protos under dir/proto
// (see [generateFiles]); nothing is written unless every plugin succeeds.
func generate(ctx context.Context, dir string) error {
	files, err := generateFiles(ctx, dir)
	if err != nil {
		return err
	}
	return writeFiles(dir, files)
}

// generateFiles returns the code of every plugin for the protos under
// dir/proto, by path relative to dir, as buf generate would write it:
// protoc-gen-goms runs in-process, the others as
// go tool -modfile=tools/go.mod <plugin> in dir. The plugins run one at a
// time: on a cold build cache, go tool builds each, and parallel builds
// compile the dependencies they share once each (twice as slow on two
// cores).
func generateFiles(ctx context.Context, dir string) (map[string][]byte, error) {
	req, err := compileProtos(ctx, dir)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte)
	for _, p := range plugins {
		r := proto.CloneOf(req)
		if p.Opt != "" {
			r.Parameter = proto.String(p.Opt)
		}
		resp, err := runPlugin(ctx, dir, p.Name, r)
		if err != nil {
			return nil, err
		}
		if msg := resp.GetError(); msg != "" {
			return nil, fmt.Errorf("%s: %s", p.Name, msg)
		}
		for _, f := range resp.GetFile() {
			if f.GetInsertionPoint() != "" || f.GetName() == "" {
				return nil, fmt.Errorf("%s: unexpected output %q (insertion point %q)", p.Name, f.GetName(), f.GetInsertionPoint())
			}
			name := path.Join(p.Out, f.GetName())
			if _, dup := out[name]; dup {
				return nil, fmt.Errorf("%s: %s is written by two plugins", p.Name, name)
			}
			out[name] = []byte(f.GetContent())
		}
	}
	return out, nil
}

// runPlugin answers req with the plugin name.
func runPlugin(ctx context.Context, dir, name string, req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	if name == "protoc-gen-goms" {
		return gen.Run(req), nil
	}
	in, err := proto.Marshal(req)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, "go", "tool", "-modfile=tools/go.mod", name)
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go tool -modfile=tools/go.mod %s: %v\n%s", name, err, strings.TrimRight(stderr.String(), "\n"))
	}
	resp := new(pluginpb.CodeGeneratorResponse)
	if err := proto.Unmarshal(stdout.Bytes(), resp); err != nil {
		return nil, fmt.Errorf("%s: decode response: %w", name, err)
	}
	return resp, nil
}
