package gen

// The committed golden packages are imported here so that go test ./...
// (and go vet) compile them: a golden that does not build fails the build.
import (
	_ "github.com/goms-io/goms/testdata/echo"
	_ "github.com/goms-io/goms/testdata/httpoff"
	_ "github.com/goms-io/goms/testdata/nohttp"
	_ "github.com/goms-io/goms/testdata/noservice"
)
