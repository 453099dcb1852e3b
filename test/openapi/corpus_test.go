package openapi

import (
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/gen"
	"github.com/goms-io/goms/internal/protoreq"
	"github.com/goms-io/goms/internal/testutil"
	"google.golang.org/genproto/googleapis/api/annotations"
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
	// Every binding of a file with HTTP rules is one operation of its
	// document.
	bindings := make(map[string]int) // document name → bindings
	for _, f := range req.ProtoFile {
		if !slices.Contains(req.FileToGenerate, f.GetName()) {
			continue
		}
		n := 0
		for _, s := range f.GetService() {
			for _, m := range s.GetMethod() {
				rule, ok := proto.GetExtension(m.GetOptions(), annotations.E_Http).(*annotations.HttpRule)
				if !ok || rule == nil {
					continue
				}
				for _, r := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
					if r.GetGet()+r.GetPut()+r.GetPost()+r.GetDelete()+r.GetPatch()+r.GetCustom().GetPath() != "" {
						n++
					}
				}
			}
		}
		if n > 0 {
			bindings[strings.TrimSuffix(f.GetName(), ".proto")+".openapi.json"] = n
		}
	}
	docs := 0
	for _, f := range resp.File {
		if !strings.HasSuffix(f.GetName(), ".openapi.json") {
			continue
		}
		docs++
		var doc testutil.OpenAPI
		if err := json.Unmarshal([]byte(f.GetContent()), &doc); err != nil {
			t.Fatal(err)
		}
		if got, want := len(doc.Operations()), bindings[f.GetName()]; got != want {
			t.Errorf("%s: %d operations, want one per binding: %d", f.GetName(), got, want)
		}
		delete(bindings, f.GetName())
		if errs := validate([]byte(f.GetContent())); len(errs) > 0 {
			t.Errorf("%s: %d validation errors:\n%s", f.GetName(), len(errs), strings.Join(errs, "\n"))
		}
	}
	for name := range bindings {
		t.Errorf("%s: no document, though the file has HTTP bindings", name)
	}
	t.Logf("%d files, %d documents validated", len(files), docs)
	if docs < 50 {
		t.Errorf("only %d documents from %d files: the corpus has more services with HTTP rules", docs, len(files))
	}
}
