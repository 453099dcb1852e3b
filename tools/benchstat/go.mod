// Module benchstat pins benchstat (golang.org/x/perf) outside the main
// module, so that users of the library do not inherit its requirements.
// Use it with: go tool -modfile=tools/benchstat/go.mod benchstat <flags>
module github.com/goms-io/goms/tools/benchstat

go 1.26.0

tool golang.org/x/perf/cmd/benchstat

require (
	github.com/aclements/go-moremath v0.0.0-20210112150236-f10218a38794 // indirect
	golang.org/x/perf v0.0.0-20260908200009-22c9c6c9d4da // indirect
)
