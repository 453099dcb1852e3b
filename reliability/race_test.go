//go:build race

package reliability

// raceFlags builds the example server with the race detector when the
// tests themselves run with it.
var raceFlags = []string{"-race"}
