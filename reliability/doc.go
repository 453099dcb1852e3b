// Package reliability holds GoMs's reliability tests (see
// docs/RELIABILITY.md): bad input on HTTP and gRPC, draining under load,
// faults, idle connections, attacks on the caps and fuzzing. It has no
// API; everything is in its tests.
package reliability
