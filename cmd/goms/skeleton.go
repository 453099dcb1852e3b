package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goms-io/goms/internal/gen"
	"github.com/goms-io/goms/internal/protoreq"
)

const skeletonUsage = `usage: goms skeleton [flags] file.proto...

Writes, for each service of the files, <out>/<service_name>.go: the
implementation skeleton generated mains call (func New<Service>). Existing
files are never overwritten. Files are named relative to an -I directory,
as with protoc.

Flags:
`

// runSkeleton is goms skeleton.
func runSkeleton(args []string, stdout, stderr io.Writer) int {
	var cfg skeletonConfig
	fs := skeletonFlags(&cfg)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, skeletonUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if cfg.out == "" || cfg.implPackage == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "goms skeleton: -out, -impl_package and at least one .proto file are required (see goms skeleton -help)")
		return 2
	}
	if err := skeleton(cfg, fs.Args(), stdout); err != nil {
		fmt.Fprintf(stderr, "goms skeleton: %v\n", err)
		return 1
	}
	return 0
}

type skeletonConfig struct {
	importPaths stringList
	opts        stringList
	out         string
	implPackage string
}

func skeletonFlags(cfg *skeletonConfig) *flag.FlagSet {
	fs := flag.NewFlagSet("goms skeleton", flag.ContinueOnError)
	fs.Var(&cfg.importPaths, "I", "directory to resolve imports in (repeatable; default .)")
	fs.StringVar(&cfg.out, "out", "", "directory of the implementation package (required)")
	fs.StringVar(&cfg.implPackage, "impl_package", "", "import path of the implementation package, as given to protoc-gen-goms (required)")
	fs.Var(&cfg.opts, "opt", "other protoc-gen-goms parameter, such as M<file>=<import path> (repeatable)")
	return fs
}

// skeleton writes the skeleton files that do not exist yet.
func skeleton(cfg skeletonConfig, files []string, stdout io.Writer) error {
	importPaths := cfg.importPaths
	if len(importPaths) == 0 {
		importPaths = stringList{"."}
	}
	for i, f := range files {
		files[i] = relativeToImportPath(f, importPaths)
	}
	param := strings.Join(append([]string{"impl_package=" + cfg.implPackage}, cfg.opts...), ",")
	req, err := protoreq.Compile(context.Background(), importPaths, param, files...)
	if err != nil {
		return err
	}
	resp := gen.Skeleton(req)
	if resp.Error != nil {
		return errors.New(resp.GetError())
	}
	for _, f := range resp.File {
		path := filepath.Join(cfg.out, filepath.FromSlash(f.GetName()))
		if err := writeNew(path, f.GetContent()); errors.Is(err, fs.ErrExist) {
			fmt.Fprintf(stdout, "kept %s (exists)\n", path)
			continue
		} else if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", path)
	}
	return nil
}

// writeNew creates path with content, failing with fs.ErrExist if a file
// is already there: a skeleton never replaces user code.
func writeNew(path, content string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// relativeToImportPath accepts a file named as on disk (proto/a/b.proto)
// as protoc does, and returns its name relative to the import path holding
// it (a/b.proto). Other names are returned unchanged.
func relativeToImportPath(file string, importPaths []string) string {
	for _, dir := range importPaths {
		rel, err := filepath.Rel(dir, file)
		if err == nil && !strings.HasPrefix(rel, "..") && dir != "." {
			if _, err := os.Stat(file); err == nil {
				return filepath.ToSlash(rel)
			}
		}
	}
	return filepath.ToSlash(file)
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }
