package connect_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goms-io/goms"
	"github.com/goms-io/goms/examples/shop"
	catalogv1 "github.com/goms-io/goms/examples/shop/gen/catalog/v1"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// bufCurl runs the pinned buf curl with args and returns its output.
func bufCurl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=../../tools/buf/go.mod", "buf", "curl"}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// schema writes the example catalog's protos, with their imports, as a
// FileDescriptorSet for buf curl's --schema, and returns its path.
func schema(t *testing.T) string {
	t.Helper()
	set := &descriptorpb.FileDescriptorSet{}
	seen := map[string]bool{}
	var add func(f protoreflect.FileDescriptor)
	add = func(f protoreflect.FileDescriptor) {
		if seen[f.Path()] {
			return
		}
		seen[f.Path()] = true
		for i := range f.Imports().Len() {
			add(f.Imports().Get(i).FileDescriptor)
		}
		set.File = append(set.File, protodesc.ToFileDescriptorProto(f))
	}
	add(catalogv1.File_shop_catalog_v1_catalog_proto)
	b, err := proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "schema.binpb")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBufCurl calls the example shop with buf curl in its three
// protocols: Connect and gRPC-Web on the HTTP port (HTTP/1.1, the schema
// from the protos), gRPC on the gRPC port (the schema by server
// reflection); and all three on one port, over h2c.
func TestBufCurl(t *testing.T) {
	sch := schema(t)
	cfg := goms.DefaultConfig()
	cfg.GRPC.Addr, cfg.HTTP.Addr = "127.0.0.1:0", "127.0.0.1:0"
	two := goms.New(cfg, quiet())
	shop.Register(two)
	start(t, two)

	cfg.GRPC.Addr = testutil.FreeAddr(t)
	cfg.HTTP.Addr = cfg.GRPC.Addr
	one := goms.New(cfg, quiet())
	shop.Register(one)
	start(t, one)

	for _, tc := range []struct {
		name, protocol, addr string
		args                 []string
	}{
		{"connect", "connect", two.HTTPAddr(), []string{"--schema", sch}},
		{"grpcweb", "grpcweb", two.HTTPAddr(), []string{"--schema", sch}},
		{"grpc", "grpc", two.GRPCAddr(), nil},
		{"oneport/connect", "connect", one.HTTPAddr(), []string{"--schema", sch, "--http2-prior-knowledge"}},
		{"oneport/grpcweb", "grpcweb", one.HTTPAddr(), []string{"--schema", sch, "--http2-prior-knowledge"}},
		{"oneport/grpc", "grpc", one.HTTPAddr(), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := "http://" + tc.addr + "/shop.catalog.v1.CatalogService/"
			args := append([]string{"--protocol", tc.protocol}, tc.args...)
			out, err := bufCurl(t, append(args, "-d", `{"id":"tea"}`, base+"GetProduct")...)
			if err != nil || !strings.Contains(out, `"name": "Green tea, 50 bags"`) {
				t.Errorf("GetProduct tea: %v\n%s", err, out)
			}
			out, err = bufCurl(t, append(args, "-d", `{}`, base+"ListProducts")...)
			if err != nil || strings.Count(out, `"product"`) < 3 {
				t.Errorf("ListProducts: %v\n%s", err, out)
			}
			out, err = bufCurl(t, append(args, "-d", `{"id":"caviar"}`, base+"GetProduct")...)
			if err == nil || !strings.Contains(out, `"code": "not_found"`) || !strings.Contains(out, `caviar`) {
				t.Errorf("GetProduct caviar: %v, want not_found\n%s", err, out)
			}
		})
	}
}
