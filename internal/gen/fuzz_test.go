package gen

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// FuzzParams runs the generator with arbitrary parameter strings on a
// small request: it never panics, and errors are one line.
func FuzzParams(f *testing.F) {
	for _, p := range []string{
		"",
		"module=github.com/goms-io/goms",
		"module=github.com/goms-io/goms,server_main=cmd,impl_package=example.com/impl",
		"module=github.com/goms-io/goms,gateway_main=cmd,http=false",
		"http=maybe,register_func_suffix=Hand-ler,generate_unbound_methods=yes",
		"paths=source_relative,Mmains/mains.proto=example.com/m;m",
		"server_main=../x,gateway_main=/abs,impl_package=a b",
		"module=github.com/goms-io/goms,server_main=cmd,impl_package=goms.testdata.mains.GreeterService=example.com/g,impl_package=example.com/impl",
		"server_main=cmd,impl_package=goms.testdata.mains.InternalService=example.com/i,impl_package==,impl_package=a.B=c=d",
		"=,,=x,help",
	} {
		f.Add(p)
	}
	base := newRequest(f, "", "mains/mains.proto")
	f.Fuzz(func(t *testing.T, parameter string) {
		req := proto.Clone(base).(*pluginpb.CodeGeneratorRequest)
		req.Parameter = proto.String(parameter)
		resp := Run(req)
		if e := resp.GetError(); e != "" {
			if strings.Contains(e, "\n") {
				t.Fatalf("parameter %q: error of more than one line: %q", parameter, e)
			}
			if len(resp.File) != 0 {
				t.Fatalf("parameter %q: %d files with an error", parameter, len(resp.File))
			}
		}
	})
}

// TestParamsInvalidUTF8 keeps a finding of FuzzParams: an impl_package
// that was not UTF-8 (or held a NUL) passed the parameter check and gave
// unparsable Go source, reported over many lines with the whole file.
func TestParamsInvalidUTF8(t *testing.T) {
	req := newRequest(t, "server_main=cmd,impl_package=\xa7", "mains/mains.proto")
	if e := Run(req).GetError(); e == "" || strings.Contains(e, "\n") {
		t.Errorf("error %q, want one line", e)
	}
}

// TestProtogenErrorsOneLine keeps the other finding: protogen's own error
// for a bad M<file>= parameter spans several lines; GoMs folds it.
func TestProtogenErrorsOneLine(t *testing.T) {
	e := Run(newRequest(t, "Mmains/mains.proto=0", "mains/mains.proto")).GetError()
	if e == "" || strings.Contains(e, "\n") {
		t.Errorf("error %q, want one line", e)
	}
}

// TestPackageNameNotIdentifier keeps a finding of FuzzParams in CI: an M
// parameter naming the Go package "0" gave unparsable Go source, reported
// over many lines with the whole file.
func TestPackageNameNotIdentifier(t *testing.T) {
	for _, name := range []string{"0", "_", "func", "a-b"} {
		e := Run(newRequest(t, "Mmains/mains.proto=example.com/m;"+name, "mains/mains.proto")).GetError()
		want := `mains/mains.proto: Go package name "` + name + `" is not a Go identifier; set it after the ";" in option go_package or in parameter Mmains/mains.proto=<import path>;<name>`
		if e != want {
			t.Errorf("package %q: error\n%q, want\n%q", name, e, want)
		}
	}
}
