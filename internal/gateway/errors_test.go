package gateway

import (
	"testing"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
)

// TestErrorTable checks both directions of the code/status mapping for
// every gRPC code: grpc-gateway's HTTPStatusFromCode one way, codeOf back.
func TestErrorTable(t *testing.T) {
	want := map[codes.Code]int{
		codes.OK: 200, codes.Canceled: 499, codes.Unknown: 500, codes.InvalidArgument: 400,
		codes.DeadlineExceeded: 504, codes.NotFound: 404, codes.AlreadyExists: 409,
		codes.PermissionDenied: 403, codes.ResourceExhausted: 429, codes.FailedPrecondition: 400,
		codes.Aborted: 409, codes.OutOfRange: 400, codes.Unimplemented: 501, codes.Internal: 500,
		codes.Unavailable: 503, codes.DataLoss: 500, codes.Unauthenticated: 401,
	}
	canonical := map[int]codes.Code{
		200: codes.OK, 400: codes.InvalidArgument, 401: codes.Unauthenticated, 403: codes.PermissionDenied,
		404: codes.NotFound, 409: codes.AlreadyExists, 429: codes.ResourceExhausted, 499: codes.Canceled,
		500: codes.Internal, 501: codes.Unimplemented, 503: codes.Unavailable, 504: codes.DeadlineExceeded,
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		st := runtime.HTTPStatusFromCode(c)
		if st != want[c] {
			t.Errorf("HTTPStatusFromCode(%v) = %d, want %d", c, st, want[c])
		}
		back := codeOf(st)
		if back != canonical[st] {
			t.Errorf("codeOf(%d) = %v, want %v", st, back, canonical[st])
		}
		if runtime.HTTPStatusFromCode(back) != st {
			t.Errorf("round trip %v → %d → %v → %d", c, st, back, runtime.HTTPStatusFromCode(back))
		}
	}
	for st, c := range map[int]codes.Code{405: codes.Unimplemented, 408: codes.DeadlineExceeded,
		413: codes.ResourceExhausted, 431: codes.ResourceExhausted, 505: codes.Unimplemented, 415: codes.InvalidArgument, 418: codes.InvalidArgument, 502: codes.Unavailable, 302: codes.Unknown} {
		if got := codeOf(st); got != c {
			t.Errorf("codeOf(%d) = %v, want %v", st, got, c)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"short", 10, "short"},
		{"0123456789", 10, "0123456789"},
		{"0123456789a", 10, "0123456…"},
		{"ééééé", 8, "éé…"}, // é is 2 bytes, … 3: a cut never splits a character
	} {
		if got := Truncate(tc.in, tc.max); got != tc.want || len(got) > tc.max {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}
