//go:build unix

package goms

import "syscall"

// openFileLimit returns the process's limit on open files (RLIMIT_NOFILE,
// the soft limit, which Go raises to the hard one at start-up).
func openFileLimit() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<31 {
		return 0, false
	}
	return int(rl.Cur), true
}
