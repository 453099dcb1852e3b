package gen

import (
	"strings"
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
			`mains/mains.proto: service goms.testdata.mains.GreeterService: parameter server_main needs impl_package, the import path of the package with func NewGreeterService(*goms.Server) (mainspb.GreeterServiceServer, error); add impl_package=<import path>, or impl_package=goms.testdata.mains.GreeterService=<import path> for this service alone`},
		{mod + "server_main=cmd,impl_package=goms.testdata.mains.GreeterService=example.com/greeter", []string{"mains/mains.proto"},
			`mains/mains.proto: service goms.testdata.mains.InternalService: parameter server_main needs impl_package, the import path of the package with func NewInternalService(*goms.Server) (mainspb.InternalServiceServer, error); add impl_package=<import path>, or impl_package=goms.testdata.mains.InternalService=<import path> for this service alone`},
		{mod + "server_main=cmd,impl_package=example.com/impl,impl_package=goms.testdata.mains.InternalService=github.com/goms-io/goms/internal/gen/testdata/mains", []string{"mains/mains.proto"},
			`mains/mains.proto: service goms.testdata.mains.InternalService: parameter impl_package: "github.com/goms-io/goms/internal/gen/testdata/mains" is the service's generated package; give the implementation a package of its own`},
		{mod + "server_main=cmd,impl_package=github.com/goms-io/goms/internal/gen/testdata/mains", []string{"mains/mains.proto"},
			`mains/mains.proto: service goms.testdata.mains.GreeterService: parameter impl_package: "github.com/goms-io/goms/internal/gen/testdata/mains" is the service's generated package; give the implementation a package of its own`},
		{mod + "gateway_main=cmd,http=false", []string{"mains/mains.proto"},
			`parameter gateway_main needs http=true: an HTTP-only gateway serves HTTP routes; drop http=false or gateway_main`},
		{mod + "server_main=cmd,gateway_main=cmd,impl_package=example.com/impl", []string{"errors/collide.proto"},
			`errors/collide.proto: service goms.testdata.errors.GreeterGateway: parameter server_main: directory cmd/greeter-gateway is already the gateway_main of service goms.testdata.errors.Greeter (errors/collide.proto); set server_main and gateway_main to different directories`},
		{mod + "server_main=cmd,impl_package=example.com/impl", []string{"errors/collide.proto", "errors/other.proto"},
			`errors/other.proto: service goms.testdata.errors.other.Greeter: parameter impl_package: func NewGreeter in example.com/impl is already the constructor of service goms.testdata.errors.Greeter; give one of them a package of its own with impl_package=goms.testdata.errors.other.Greeter=<import path>`},
		{mod + "server_main=cmd,impl_package=example.com/b,impl_package=goms.testdata.errors.GreeterGateway=example.com/a", []string{"errors/collide.proto", "errors/other.proto"},
			`errors/other.proto: service goms.testdata.errors.other.Greeter: parameter impl_package: func NewGreeter in example.com/b is already the constructor of service goms.testdata.errors.Greeter; give one of them a package of its own with impl_package=goms.testdata.errors.other.Greeter=<import path>`},
		{mod + "server_main=../cmd", []string{"mains/mains.proto"},
			`parameter server_main: invalid directory "../cmd"; want a clean relative path inside the output directory, such as cmd`},
		{mod + "gateway_main=/abs", []string{"mains/mains.proto"},
			`parameter gateway_main: invalid directory "/abs"; want a clean relative path inside the output directory, such as cmd`},
		{mod + "impl_package=example.com/a b", []string{"mains/mains.proto"},
			`parameter impl_package: invalid import path "example.com/a b"; want a Go import path such as example.com/you/greeter, or <service>=<import path> for one service`},
		{mod + "impl_package=example.com/a,impl_package=example.com/b", []string{"mains/mains.proto"},
			`parameter impl_package: two import paths for every service, "example.com/a" and "example.com/b"; give one, and <service>=<import path> for each service implemented elsewhere`},
		{mod + "impl_package=1x.Greeter=example.com/a", []string{"mains/mains.proto"},
			`parameter impl_package: invalid service name "1x.Greeter" in "1x.Greeter=example.com/a"; want <service>=<import path> with the service's full name, such as greeter.v1.GreeterService=example.com/you/greeter`},
		{mod + "impl_package==example.com/a", []string{"mains/mains.proto"},
			`parameter impl_package: invalid service name "" in "=example.com/a"; want <service>=<import path> with the service's full name, such as greeter.v1.GreeterService=example.com/you/greeter`},
		{mod + "impl_package=a.B=example.com/x=y", []string{"mains/mains.proto"},
			`parameter impl_package: invalid import path "example.com/x=y" in "a.B=example.com/x=y"; want <service>=<import path> with a Go import path, such as greeter.v1.GreeterService=example.com/you/greeter`},
		{mod + "impl_package=a.B=", []string{"mains/mains.proto"},
			`parameter impl_package: invalid import path "" in "a.B="; want <service>=<import path> with a Go import path, such as greeter.v1.GreeterService=example.com/you/greeter`},
		{mod + "impl_package=a.B=example.com/x,impl_package=a.B=example.com/y", []string{"mains/mains.proto"},
			`parameter impl_package: two import paths for service a.B, "example.com/x" and "example.com/y"; give it one`},
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
		{"", `mains/mains.proto: service goms.testdata.mains.GreeterService: parameter goms skeleton needs impl_package, the import path of the package with func NewGreeterService(*goms.Server) (mainspb.GreeterServiceServer, error); add impl_package=<import path>, or impl_package=goms.testdata.mains.GreeterService=<import path> for this service alone`},
		{"impl_package=example.com/a,impl_package=goms.testdata.mains.InternalService=example.com/b", `mains/mains.proto: service goms.testdata.mains.InternalService: parameter impl_package: its package example.com/b is not example.com/a, the package of service goms.testdata.mains.GreeterService; goms skeleton writes one package (-out): run it once per package`},
		{"impl_package=github.com/goms-io/goms/internal/gen/testdata/mains", `mains/mains.proto: service goms.testdata.mains.GreeterService: parameter impl_package: "github.com/goms-io/goms/internal/gen/testdata/mains" is the service's generated package; give the implementation a package of its own`},
	} {
		resp := Skeleton(newRequest(t, tc.parameter, "mains/mains.proto"))
		if got := resp.GetError(); got != tc.want {
			t.Errorf("%q:\nerror = %q\nwant    %q", tc.parameter, got, tc.want)
		}
	}
}

// TestImplPackageMapping checks which constructor each server main calls:
// a service's own impl_package=<service>=<import path> entry, else the
// plain impl_package, in any order of the entries.
func TestImplPackageMapping(t *testing.T) {
	for _, parameter := range []string{
		"server_main=cmd,impl_package=example.com/impl,impl_package=goms.testdata.mains.InternalService=example.com/internal",
		"server_main=cmd,impl_package=goms.testdata.mains.InternalService=example.com/internal,impl_package=example.com/impl",
		"server_main=cmd,impl_package=goms.testdata.mains.InternalService=example.com/internal,impl_package=goms.testdata.mains.GreeterService=example.com/impl,impl_package=example.com/impl",
	} {
		resp := Run(newRequest(t, parameter, "mains/mains.proto"))
		if resp.Error != nil {
			t.Fatalf("%s: %s", parameter, resp.GetError())
		}
		want := map[string]string{
			"cmd/greeter-service/main.go":  `impl "example.com/impl"`,
			"cmd/internal-service/main.go": `internal "example.com/internal"`,
		}
		for _, f := range resp.File {
			if w, ok := want[f.GetName()]; ok {
				if !strings.Contains(f.GetContent(), w) {
					t.Errorf("%s: %s does not import %s:\n%s", parameter, f.GetName(), w, f.GetContent())
				}
				delete(want, f.GetName())
			}
		}
		if len(want) != 0 {
			t.Errorf("%s: mains not generated: %v", parameter, want)
		}
	}
}
