package goms_test

import (
	"io"
	"log/slog"

	"github.com/goms-io/goms/internal/testutil"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// compactJSON is testutil.CompactJSON.
var compactJSON = testutil.CompactJSON

// syncWriter is testutil.SyncBuffer: a log destination tests read while
// servers write.
type syncWriter = testutil.SyncBuffer
