// Command protoc-gen-goms is a protoc plugin that generates GoMs service
// registration for the services in .proto files. Run it from buf generate,
// protoc --goms_out or go generate, beside protoc-gen-go,
// protoc-gen-go-grpc and protoc-gen-grpc-gateway.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/goms-io/goms/internal/gen"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

func main() {
	version := flag.Bool("version", false, "print the version and exit")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "protoc-gen-goms is a protoc plugin: protoc or buf runs it with a CodeGeneratorRequest on stdin.")
		fmt.Fprintln(os.Stderr, "\nFlags:")
		flag.PrintDefaults()
		fmt.Fprintln(os.Stderr, "\nPlugin parameters (--goms_opt=name=value, or opt: in buf.gen.yaml):")
		gen.PrintParams(os.Stderr)
	}
	flag.Parse()
	if *version {
		fmt.Println("protoc-gen-goms v" + gen.Version)
		return
	}
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "protoc-gen-goms: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	req := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(data, req); err != nil {
		return fmt.Errorf("decode request: %w", err)
	}
	data, err = proto.Marshal(gen.Run(req))
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	_, err = out.Write(data)
	return err
}
