package main

import (
	"strings"
	"testing"
)

// TestAddErrors checks goms add's usage errors and refusals, with their
// exit statuses and exact one-line messages. The README test adds a
// service for real (TestREADMENewProject), and TestNewMatchesBuf checks
// what goms add generates against buf.
func TestAddErrors(t *testing.T) {
	empty := t.TempDir()
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"add"}, 2, "goms add: want one service name (see goms add -help)\n"},
		{[]string{"add", "audit", "billing"}, 2, "goms add: want one service name (see goms add -help)\n"},
		{[]string{"add", "Audit"}, 2,
			`goms add: invalid service name "Audit": want a short name in lower snake case (audit) or a full name such as audit.v1.AuditService` + "\n"},
		{[]string{"add", "-dir", empty, "audit"}, 1, "goms add: " + empty + " is not a project written by goms new: it has no go.mod\n"},
		// Flags may follow the argument.
		{[]string{"add", "audit", "-dir", empty}, 1, "goms add: " + empty + " is not a project written by goms new: it has no go.mod\n"},
	} {
		var stdout, stderr strings.Builder
		code := run(tc.args, &stdout, &stderr)
		if code != tc.code || stderr.String() != tc.want {
			t.Errorf("%q: exit %d, stderr %q; want exit %d, %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
	var stdout, stderr strings.Builder
	if code := run([]string{"add", "-help"}, &stdout, &stderr); code != 0 || !strings.HasPrefix(stderr.String(), "usage: goms add [-dir DIR] NAME") {
		t.Errorf("add -help: exit %d, %q", code, stderr.String())
	}
}
