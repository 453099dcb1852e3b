package openapi

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/gen"
	"github.com/goms-io/goms/internal/protoreq"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// TestCorpusDocumentsValid generates the standalone document
// (openapi=true) of every file of the generator's corpus of real-world
// protos (googleapis as npm's google-proto-files ships it, without
// google/ads and google/cloud, as internal/gen's corpus test) and
// validates each: field_behavior, resource name patterns, custom verbs
// and streams as Google's APIs use them. It skips without npm, unless
// GOMS_REQUIRE_TOOLS is set.
func TestCorpusDocumentsValid(t *testing.T) {
	if testing.Short() {
		t.Skip("generates and validates hundreds of documents; skipped with -short")
	}
	out, err := exec.Command("../../scripts/corpus.sh").Output()
	if err != nil {
		if os.Getenv("GOMS_REQUIRE_TOOLS") != "" {
			t.Fatalf("scripts/corpus.sh: %v", err)
		}
		t.Skipf("scripts/corpus.sh (needs npm): %v", err)
	}
	root := filepath.Join("../..", strings.TrimSpace(string(out)))
	var files []string
	err = filepath.WalkDir(filepath.Join(root, "google"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".proto") {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		for _, skip := range []string{"google/ads/", "google/cloud/", "google/protobuf/"} {
			if strings.HasPrefix(rel, skip) {
				return nil
			}
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := protoreq.Compile(context.Background(), []string{root}, "paths=source_relative,openapi", files...)
	if err != nil {
		t.Fatal(err)
	}
	// Every file gets a Go package of its own directory, as the corpus's
	// go_package options point outside any module this test knows.
	for _, f := range req.ProtoFile {
		if f.Options == nil {
			f.Options = new(descriptorpb.FileOptions)
		}
		dir := path.Dir(f.GetName())
		f.Options.GoPackage = proto.String("goms.test/corpus/" + dir + ";" + strings.NewReplacer("/", "_", ".", "_", "-", "_").Replace(dir))
	}
	resp := gen.Run(req)
	if resp.Error != nil {
		t.Fatal(resp.GetError())
	}
	docs := 0
	for _, f := range resp.File {
		if !strings.HasSuffix(f.GetName(), ".openapi.json") {
			continue
		}
		docs++
		if errs := validate([]byte(f.GetContent())); len(errs) > 0 {
			t.Errorf("%s: %d validation errors:\n%s", f.GetName(), len(errs), strings.Join(errs, "\n"))
		}
	}
	t.Logf("%d files, %d documents validated", len(files), docs)
	if docs < 50 {
		t.Errorf("only %d documents from %d files: the corpus has more services with HTTP rules", docs, len(files))
	}
}
