//go:build race

package testutil

// raceEnabled reports whether the tests run with the race detector, so
// that the programs they build and run do too.
const raceEnabled = true
