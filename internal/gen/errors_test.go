package gen

import (
	"testing"
)

// TestGenerationErrors checks the exact one-line messages for parameter
// combinations that cannot give working code.
func TestGenerationErrors(t *testing.T) {
	const mod = "module=github.com/goms-io/goms,"
	for _, tc := range []struct {
		parameter string
		files     []string
		want      string
	}{
		{mod + "server_main=cmd", []string{"mains/mains.proto"},
			`mains/mains.proto: service goms.testdata.mains.GreeterService: parameter server_main needs impl_package, the import path of the package with func NewGreeterService(*goms.Server) (mainspb.GreeterServiceServer, error); add impl_package=<import path>`},
		{mod + "server_main=cmd,impl_package=github.com/goms-io/goms/internal/gen/testdata/mains", []string{"mains/mains.proto"},
			`mains/mains.proto: service goms.testdata.mains.GreeterService: parameter impl_package: "github.com/goms-io/goms/internal/gen/testdata/mains" is the service's generated package; give the implementation a package of its own`},
		{mod + "gateway_main=cmd,http=false", []string{"mains/mains.proto"},
			`parameter gateway_main needs http=true: an HTTP-only gateway serves HTTP routes; drop http=false or gateway_main`},
		{mod + "server_main=cmd,gateway_main=cmd,impl_package=example.com/impl", []string{"errors/collide.proto"},
			`errors/collide.proto: service goms.testdata.errors.GreeterGateway: parameter server_main: directory cmd/greeter-gateway is already the gateway_main of service goms.testdata.errors.Greeter (errors/collide.proto); set server_main and gateway_main to different directories`},
		{mod + "server_main=cmd,impl_package=example.com/impl", []string{"errors/collide.proto", "errors/other.proto"},
			`errors/other.proto: service goms.testdata.errors.other.Greeter: parameter impl_package: func NewGreeter in example.com/impl is already the constructor of service goms.testdata.errors.Greeter; generate the two services with different impl_package values`},
		{mod + "server_main=../cmd", []string{"mains/mains.proto"},
			`parameter server_main: invalid directory "../cmd"; want a clean relative path inside the output directory, such as cmd`},
		{mod + "gateway_main=/abs", []string{"mains/mains.proto"},
			`parameter gateway_main: invalid directory "/abs"; want a clean relative path inside the output directory, such as cmd`},
		{mod + "impl_package=example.com/a b", []string{"mains/mains.proto"},
			`parameter impl_package: invalid import path "example.com/a b"; want a Go import path such as example.com/you/greeter`},
		{mod + "register_func_suffix=Hand-ler", []string{"mains/mains.proto"},
			`parameter register_func_suffix: invalid value "Hand-ler"; want ASCII letters, digits and underscores, as given to protoc-gen-grpc-gateway`},
		{mod + "generate_unbound_methods=yes", []string{"mains/mains.proto"},
			`parameter generate_unbound_methods: invalid value "yes"; want true or false`},
	} {
		t.Run(tc.want[:20], func(t *testing.T) {
			resp := Run(newRequest(t, tc.parameter, tc.files...))
			if got := resp.GetError(); got != tc.want {
				t.Errorf("%s\nerror = %q\nwant    %q", tc.parameter, got, tc.want)
			}
			if len(resp.File) != 0 {
				t.Errorf("got %d files with an error, want none", len(resp.File))
			}
		})
	}
}

// TestSkeletonErrors checks the skeleton's own exact messages.
func TestSkeletonErrors(t *testing.T) {
	for _, tc := range []struct {
		parameter string
		want      string
	}{
		{"", `mains/mains.proto: service goms.testdata.mains.GreeterService: parameter goms skeleton needs impl_package, the import path of the package with func NewGreeterService(*goms.Server) (mainspb.GreeterServiceServer, error); add impl_package=<import path>`},
		{"impl_package=github.com/goms-io/goms/internal/gen/testdata/mains", `mains/mains.proto: service goms.testdata.mains.GreeterService: parameter impl_package: "github.com/goms-io/goms/internal/gen/testdata/mains" is the service's generated package; give the implementation a package of its own`},
	} {
		resp := Skeleton(newRequest(t, tc.parameter, "mains/mains.proto"))
		if got := resp.GetError(); got != tc.want {
			t.Errorf("%q:\nerror = %q\nwant    %q", tc.parameter, got, tc.want)
		}
	}
}
