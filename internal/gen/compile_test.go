package gen

// The committed golden packages are imported here so that go test ./...
// (and go vet) compile them: a golden that does not build fails the build.
// Every new case package must be added here. Mains (package main) cannot
// be imported: TestGoldenPackagesBuild vets them with everything else.
import (
	_ "github.com/goms-io/goms/testdata/bindings"
	_ "github.com/goms-io/goms/testdata/crosspkg/common"
	_ "github.com/goms-io/goms/testdata/crosspkg/users"
	_ "github.com/goms-io/goms/testdata/echo"
	_ "github.com/goms-io/goms/testdata/editions"
	_ "github.com/goms-io/goms/testdata/httpoff"
	_ "github.com/goms-io/goms/testdata/mains"
	_ "github.com/goms-io/goms/testdata/mains/impl"
	_ "github.com/goms-io/goms/testdata/multi"
	_ "github.com/goms-io/goms/testdata/names"
	_ "github.com/goms-io/goms/testdata/names/s"
	_ "github.com/goms-io/goms/testdata/nohttp"
	_ "github.com/goms-io/goms/testdata/noservice"
	_ "github.com/goms-io/goms/testdata/proto2"
	_ "github.com/goms-io/goms/testdata/proto3opt"
	_ "github.com/goms-io/goms/testdata/sourcerel"
	_ "github.com/goms-io/goms/testdata/suffix"
	_ "github.com/goms-io/goms/testdata/types"
	_ "github.com/goms-io/goms/testdata/unbound"
	_ "github.com/goms-io/goms/testdata/wkt"
)
