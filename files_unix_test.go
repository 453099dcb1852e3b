//go:build unix

package goms

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// lockedBuffer is a log destination servers may write from any goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFileLimitWarning checks the start-up warning when the connection
// caps exceed the open-file limit: with the default caps (512 a port)
// under a limit of 1,000 files, gateway mode (1,088 needed) warns and grpc
// mode (576) does not; nor does a cap of 0, the operator's choice.
func TestFileLimitWarning(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Max < 1000 {
		t.Skipf("hard open-file limit %d under the test's 1000", rl.Max)
	}
	lowered := rl
	lowered.Cur = 1000
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl) })

	const warning = "connection caps exceed the open-file limit"
	for _, tc := range []struct {
		mode  Mode
		unset bool // grpc.max_connections 0
		warn  bool
	}{
		{ModeGateway, false, true},
		{ModeGRPC, false, false},
		{ModeGateway, true, false},
	} {
		cfg := DefaultConfig()
		cfg.Mode = tc.mode
		if tc.unset {
			cfg.GRPC.MaxConnections = 0
		}
		var logs lockedBuffer
		startTestServer(t, cfg, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		got := logs.String()
		if strings.Contains(got, warning) != tc.warn {
			t.Errorf("mode %s, grpc.max_connections %d, 1000 files: warned %v, want %v; log:\n%s", tc.mode, cfg.GRPC.MaxConnections, !tc.warn, tc.warn, got)
		}
		if tc.warn && !strings.Contains(got, "open_file_limit=1000 needed=1088") {
			t.Errorf("the warning names neither the limit nor the need:\n%s", got)
		}
	}
}
