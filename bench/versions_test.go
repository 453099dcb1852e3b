package bench

import (
	"os/exec"
	"testing"
)

// TestSameVersions checks that the modules the peers share with GoMs
// (grpc-go, protobuf, grpc-gateway) are built here at the versions the
// library's own module builds with: connect-go or vanguard requiring newer
// ones would move them in this module only, and the benchmarks would no
// longer measure what users of GoMs build with. It asks the go command of
// the test's environment.
func TestSameVersions(t *testing.T) {
	versions := func(dir string) string {
		t.Helper()
		cmd := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}}",
			"google.golang.org/grpc", "google.golang.org/protobuf", "github.com/grpc-ecosystem/grpc-gateway/v2")
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go list -m in %s: %v\n%s", dir, err, out)
		}
		return string(out)
	}
	if here, lib := versions("."), versions(".."); here != lib {
		t.Errorf("bench/go.mod builds with\n%sbut the library's go.mod with\n%sfix: cd bench && go get <module>@<the library's version> && go mod tidy", here, lib)
	}
}
