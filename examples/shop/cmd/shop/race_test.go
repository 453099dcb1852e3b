//go:build race

package main

// raceFlags builds the server under test with the race detector when the
// tests themselves run with it.
var raceFlags = []string{"-race"}
