// Package scaffold holds the tests of what goms new writes to deploy a
// project: they run goms new from this checkout, then decode the
// Kubernetes manifests of deploy/k8s/ strictly into the k8s.io/api types,
// parse the Dockerfile with buildkit's parser, and check both against
// GoMs's own defaults (ports, admin paths, shutdown grace) and against the
// binary the Dockerfile's build stage makes. See scaffold_test.go.
package scaffold
