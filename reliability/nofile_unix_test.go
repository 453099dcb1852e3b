//go:build unix

package reliability

import "syscall"

// canLimitFiles says whether setNoFile works here.
const canLimitFiles = true

// setNoFile lowers this process's soft limit of open files to n.
func setNoFile(n uint64) error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return err
	}
	rl.Cur = min(n, rl.Max)
	return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}
