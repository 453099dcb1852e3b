//go:build !unix

package goms

// openFileLimit reports no limit where there is no RLIMIT_NOFILE.
func openFileLimit() (int, bool) { return 0, false }
