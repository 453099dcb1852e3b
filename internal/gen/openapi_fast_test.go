package gen

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/goms-io/goms/internal/protoreq"
)

// leftPlaceholder matches a declaration whose placeholder was not filled.
var leftPlaceholder = regexp.MustCompile("(?m)^const \\w+ = `" + placeholderPrefix)

// TestOpenAPIPlaceholders checks that the fragments written after
// formatting (the default) give the bytes of the fragments formatted with
// the rest of the file (what annotate_code does), also when comments
// imitate a placeholder, and for every golden case.
func TestOpenAPIPlaceholders(t *testing.T) {
	tricky := strings.Replace(openAPIProto, "// Notes keeps notes.\n",
		"// Notes keeps notes. A `backquote`, \"quotes\", a \\ backslash, <html> & ünïcödé \u2028.\n"+
			"// const NotesOpenAPI = `goms:openapi:0`\n"+
			"// `goms:openapi:0`\n", 1)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "oa"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oa", "oa.proto"), []byte(tricky), 0o644); err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, dirs []string, param string, files ...string) {
		t.Helper()
		plain, err := protoreq.Compile(context.Background(), dirs, param, files...)
		if err != nil {
			t.Fatal(err)
		}
		annotated, err := protoreq.Compile(context.Background(), dirs, strings.TrimPrefix(param+",annotate_code", ","), files...)
		if err != nil {
			t.Fatal(err)
		}
		got, want := Run(plain), Run(annotated)
		if got.Error != nil || want.Error != nil {
			t.Fatalf("errors: %v, %v", got.GetError(), want.GetError())
		}
		wantFiles := make(map[string]string)
		for _, f := range want.File {
			wantFiles[f.GetName()] = f.GetContent()
		}
		fragments := 0
		for _, f := range got.File {
			fragments += strings.Count(f.GetContent(), "OpenAPI = `{")
			if leftPlaceholder.MatchString(f.GetContent()) {
				t.Errorf("%s: a placeholder is left", f.GetName())
			}
			if w, ok := wantFiles[f.GetName()]; !ok {
				t.Errorf("%s: not generated with annotate_code", f.GetName())
			} else if f.GetContent() != w {
				t.Errorf("%s differs from the file formatted with its fragments:\n%s", f.GetName(), f.GetContent())
			}
		}
		if strings.Contains(strings.Join(files, " "), "oa.proto") && fragments != 1 {
			t.Errorf("%d fragments, want 1", fragments)
		}
	}
	t.Run("tricky comments", func(t *testing.T) { check(t, []string{dir}, "", "oa/oa.proto") })
	cases, err := filepath.Glob(filepath.Join(testdataDir, "*", "buf.gen.yaml"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases under %s (%v)", testdataDir, err)
	}
	for _, tmpl := range cases {
		caseDir := filepath.Dir(tmpl)
		t.Run(filepath.Base(caseDir), func(t *testing.T) {
			param, _ := caseParameter(t, caseDir)
			check(t, []string{testdataDir}, param, caseProtos(t, caseDir)...)
		})
	}
}

// referenceJSON is what the fragments were before the one-pass writer:
// encoding/json (no HTML escaping) for every leaf, then json.Indent.
func referenceJSON(t *testing.T, v any) []byte {
	t.Helper()
	var compact func(v any) string
	compact = func(v any) string {
		switch v := v.(type) {
		case *object:
			parts := make([]string, len(v.keys))
			for i, k := range v.keys {
				parts[i] = compact(k) + ":" + compact(v.vals[k])
			}
			return "{" + strings.Join(parts, ",") + "}"
		case []any:
			if v == nil {
				return "null"
			}
			parts := make([]string, len(v))
			for i, e := range v {
				parts[i] = compact(e)
			}
			return "[" + strings.Join(parts, ",") + "]"
		}
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(b.String(), "\n")
	}
	var out bytes.Buffer
	if err := json.Indent(&out, []byte(compact(v)), "", "  "); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestJSONWriter checks the one-pass writer against encoding/json on
// strings that need escapes and on empty and nested values.
func TestJSONWriter(t *testing.T) {
	strs := []string{
		"", "plain", `a "quote"`, `back\slash`, "new\nline", "tab\there", "\x01\x1f", "del\x7f",
		"<html> & more", "ünïcödé", "line\u2028sep\u2029", "bad \xff utf-8", "`backquote`",
	}
	var list []any
	for _, s := range strs {
		list = append(list, s, obj(s, s))
	}
	v := obj(
		"strings", list,
		"names", []string{"a", "b\"c"},
		"noNames", []string(nil),
		"emptyNames", []string{},
		"empty", obj(),
		"emptyList", []any{},
		"nilList", []any(nil),
		"numbers", []any{0, 42, -7, int64(1) << 40, 1.5, uint32(3)},
		"bools", []any{true, false},
		"nested", obj("a", obj("b", obj("c", []any{obj(), []any{}, obj("d", 1)}))),
		"map", map[string]any{"z": 1, "a": []int{1, 2}},
	)
	if got, want := indent(v), referenceJSON(t, v); !bytes.Equal(got, want) {
		t.Errorf("indented:\ngot  %s\nwant %s", got, want)
	}
	compact, err := marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, referenceJSON(t, v)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(compact, want.Bytes()) {
		t.Errorf("compact:\ngot  %s\nwant %s", compact, want.Bytes())
	}
}
