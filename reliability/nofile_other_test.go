//go:build !unix

package reliability

import "errors"

// canLimitFiles says whether setNoFile works here.
const canLimitFiles = false

func setNoFile(uint64) error { return errors.New("no RLIMIT_NOFILE here") }
