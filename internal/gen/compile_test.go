package gen

// The committed golden packages are imported here so that go test ./...
// (and go vet) compile them: a golden that does not build fails the build.
// Every new case package must be added here. Mains (package main) cannot
// be imported: TestGoldenPackagesBuild vets them with everything else.
import (
	_ "github.com/goms-io/goms/internal/gen/testdata/bindings"
	_ "github.com/goms-io/goms/internal/gen/testdata/crosspkg/common"
	_ "github.com/goms-io/goms/internal/gen/testdata/crosspkg/users"
	_ "github.com/goms-io/goms/internal/gen/testdata/echo"
	_ "github.com/goms-io/goms/internal/gen/testdata/editions"
	_ "github.com/goms-io/goms/internal/gen/testdata/httpoff"
	_ "github.com/goms-io/goms/internal/gen/testdata/implpkg/audit"
	_ "github.com/goms-io/goms/internal/gen/testdata/implpkg/impl/audit"
	_ "github.com/goms-io/goms/internal/gen/testdata/implpkg/impl/todo"
	_ "github.com/goms-io/goms/internal/gen/testdata/implpkg/todo"
	_ "github.com/goms-io/goms/internal/gen/testdata/mains"
	_ "github.com/goms-io/goms/internal/gen/testdata/mains/impl"
	_ "github.com/goms-io/goms/internal/gen/testdata/multi"
	_ "github.com/goms-io/goms/internal/gen/testdata/names"
	_ "github.com/goms-io/goms/internal/gen/testdata/names/s"
	_ "github.com/goms-io/goms/internal/gen/testdata/nohttp"
	_ "github.com/goms-io/goms/internal/gen/testdata/noservice"
	_ "github.com/goms-io/goms/internal/gen/testdata/proto2"
	_ "github.com/goms-io/goms/internal/gen/testdata/proto3opt"
	_ "github.com/goms-io/goms/internal/gen/testdata/sourcerel"
	_ "github.com/goms-io/goms/internal/gen/testdata/suffix"
	_ "github.com/goms-io/goms/internal/gen/testdata/types"
	_ "github.com/goms-io/goms/internal/gen/testdata/unbound"
	_ "github.com/goms-io/goms/internal/gen/testdata/validate"
	_ "github.com/goms-io/goms/internal/gen/testdata/wkt"
)
