package runtime_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
)

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// compactJSON removes the insignificant whitespace protojson adds at random
// (to keep users from depending on its output bytes) from each line of body.
func compactJSON(body string) string {
	var out strings.Builder
	for line := range strings.Lines(body) {
		var b bytes.Buffer
		trimmed := strings.TrimSuffix(line, "\n")
		if json.Compact(&b, []byte(trimmed)) != nil {
			out.WriteString(line)
			continue
		}
		out.WriteString(b.String())
		if strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	return out.String()
}
