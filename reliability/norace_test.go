//go:build !race

package reliability

var raceFlags []string
