package gen

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Parameter names, as written after --goms_opt= or under opt: in buf.gen.yaml.
const paramHTTP = "http"

// protogenParams are the parameters protogen handles itself; they are
// listed in error messages so that users see everything they may write.
const protogenParams = "paths=import|source_relative, module=<import path prefix>, M<proto file>=<import path>, annotate_code"

// Params are the plugin parameters protoc-gen-goms accepts besides
// protogen's own.
type Params struct {
	// HTTP registers the HTTP gateway routes of services that have
	// google.api.http rules; it needs protoc-gen-grpc-gateway's output in
	// the same package. Parameter http=true|false, default true.
	HTTP bool
}

// defaultParams returns the parameters in effect when none are given.
func defaultParams() Params { return Params{HTTP: true} }

// flagSet declares every parameter once; parsing and help both use it.
func (p *Params) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("protoc-gen-goms", flag.ContinueOnError)
	fs.Var((*switchValue)(&p.HTTP), paramHTTP,
		"register HTTP gateway routes for methods with google.api.http rules (needs protoc-gen-grpc-gateway output in the same package)")
	return fs
}

// set applies one name=value parameter; protogen calls it for each one it
// does not handle itself.
func (p *Params) set(name, value string) error {
	fs := p.flagSet()
	if fs.Lookup(name) == nil {
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name+"="+acceptedValues(f)) })
		return fmt.Errorf("unknown parameter %q; accepted parameters: %s, %s", name, strings.Join(names, ", "), protogenParams)
	}
	if err := fs.Set(name, value); err != nil {
		return fmt.Errorf("parameter %s: %w", name, err)
	}
	return nil
}

// PrintParams writes the plugin parameters, with defaults, to w.
func PrintParams(w io.Writer) {
	p := defaultParams()
	fs := p.flagSet()
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  %s=%s (default %s)\n    \t%s\n", f.Name, acceptedValues(f), f.DefValue, f.Usage)
	})
	fmt.Fprintf(w, "  and protogen's own: %s\n", protogenParams)
}

// acceptedValues says which values parameter f takes.
func acceptedValues(f *flag.Flag) string {
	return f.Value.(interface{ accepted() string }).accepted()
}

// switchValue is a boolean parameter where a bare name means true, as
// protoc users expect of switches (flag.Bool rejects the empty value
// protogen passes for a bare name).
type switchValue bool

func (v *switchValue) String() string   { return strconv.FormatBool(bool(*v)) }
func (v *switchValue) accepted() string { return "true|false" }
func (v *switchValue) Set(s string) error {
	if s == "" {
		*v = true
		return nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("invalid value %q; want true or false", s)
	}
	*v = switchValue(b)
	return nil
}
