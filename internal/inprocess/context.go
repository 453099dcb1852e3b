package inprocess

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

// unaryContext is the context of a unary handler called in process. The
// handler runs on its caller's goroutine, within the caller's call, so the
// context takes its deadline and its end from the caller's context and its
// values from vals (never the caller's); it also ends when the handler
// returns, as a grpc-go handler's context does.
//
// A context of its own (context.WithDeadline on vals, linked to the caller
// with context.AfterFunc) would cost a timer and two registrations on every
// call, most of the cost of a co-located call with a deadline. This one
// costs nothing until something waits on it: Done and AfterFunc link it to
// the caller then. Contexts derived from it behave as from any context: the
// standard library links them through its AfterFunc method and gives them
// its Err, which is the caller's (DeadlineExceeded or Canceled), as a
// network handler's context would report.
type unaryContext struct {
	caller context.Context // Deadline, and when the context ends
	vals   context.Context // Value
	// stream is the value of grpc-go's ServerTransportStream key (see
	// [serverStreamKey]), in place of a context.WithValue on vals.
	stream *serverTransportStream

	// err is the error the context ended with, nil while it has not. It
	// only changes under mu.
	err atomic.Pointer[error]

	mu sync.Mutex
	// done is made by Done and closed when the context ends.
	done chan struct{}
	// afters are the functions AfterFunc registered, run when the
	// context ends.
	afters map[*afterFunc]struct{}
	// unlink undoes the link to the caller's context made for done and
	// afters, nil while there is none.
	unlink func() bool
}

// afterFunc is a function registered with unaryContext.AfterFunc.
type afterFunc struct{ f func() }

// init makes c the context of a handler called with caller, with the
// values of vals, which must not carry any of the caller's, and stream as
// its grpc.ServerTransportStream (as grpc.NewContextWithServerTransportStream
// on vals would make it). The caller must call returned when the handler
// returns.
func (c *unaryContext) init(caller, vals context.Context, stream *serverTransportStream) {
	c.caller, c.vals, c.stream = caller, vals, stream
	if serverStreamKey == nil && stream != nil {
		c.vals, c.stream = grpc.NewContextWithServerTransportStream(vals, stream), nil
	}
}

// serverStreamKey is the context key under which grpc-go keeps a handler's
// grpc.ServerTransportStream (grpc.SetHeader, grpc.Method and the like look
// it up), or nil if it could not be learnt. grpc-go does not export it, so
// it is learnt once by asking grpc.ServerTransportStreamFromContext for the
// stream of a context that records the key it is asked for. A unary
// context answers it from a field: an in-process call then saves the
// allocation and the lookup costs of a context.WithValue.
var serverStreamKey = func() any {
	var p keyProbe
	p.Context = context.Background()
	grpc.ServerTransportStreamFromContext(&p)
	if p.keys != 1 {
		return nil
	}
	return p.key
}()

// keyProbe is a context that records the keys it is asked for.
type keyProbe struct {
	context.Context
	key  any
	keys int
}

// Value records key and returns nil.
func (p *keyProbe) Value(key any) any {
	p.key = key
	p.keys++
	return nil
}

// Deadline returns the caller's deadline.
func (c *unaryContext) Deadline() (deadline time.Time, ok bool) { return c.caller.Deadline() }

// Value returns the handler's grpc.ServerTransportStream for grpc-go's key
// for it, and otherwise the value vals holds for key.
func (c *unaryContext) Value(key any) any {
	if c.stream != nil && key == serverStreamKey {
		return c.stream
	}
	return c.vals.Value(key)
}

// Err returns the error the context ended with: the caller's, or Canceled
// once the handler returned.
func (c *unaryContext) Err() error {
	if err := c.err.Load(); err != nil {
		return *err
	}
	if err := c.caller.Err(); err != nil {
		c.end(err)
		return err
	}
	return nil
}

// Done returns a channel closed when the context ends.
func (c *unaryContext) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err.Load() != nil {
			close(c.done)
		} else {
			c.linkLocked()
		}
	}
	return c.done
}

// AfterFunc arranges to call f in its own goroutine when the context ends,
// like context.AfterFunc, which uses it. Stopping it reports whether it
// kept f from running.
func (c *unaryContext) AfterFunc(f func()) (stop func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err.Load() != nil {
		go f()
		return func() bool { return false }
	}
	c.linkLocked()
	a := &afterFunc{f: f}
	if c.afters == nil {
		c.afters = make(map[*afterFunc]struct{})
	}
	c.afters[a] = struct{}{}
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		_, ok := c.afters[a]
		delete(c.afters, a)
		return ok
	}
}

// String names the context, as the standard library's contexts do.
func (c *unaryContext) String() string { return "inprocess.unaryContext" }

// linkLocked makes the context end when the caller's does. c.mu must be
// held.
func (c *unaryContext) linkLocked() {
	if c.unlink == nil && c.caller.Done() != nil {
		c.unlink = context.AfterFunc(c.caller, func() { c.end(c.caller.Err()) })
	}
}

// end ends the context with err, unless it ended already.
func (c *unaryContext) end(err error) {
	c.mu.Lock()
	if c.err.Load() != nil {
		c.mu.Unlock()
		return
	}
	c.err.Store(errorPointer(err))
	if c.done != nil {
		close(c.done)
	}
	afters, unlink := c.afters, c.unlink
	c.afters = nil
	c.mu.Unlock()
	if unlink != nil {
		unlink()
	}
	for a := range afters {
		go a.f()
	}
}

// returned ends the context when the handler returns: with the caller's
// error if the caller's context ended meanwhile, else with Canceled.
func (c *unaryContext) returned() {
	err := c.caller.Err()
	if err == nil {
		err = context.Canceled
	}
	c.end(err)
}

// The errors a unaryContext usually ends with, stored by address so that
// ending one allocates nothing.
var (
	canceled         = context.Canceled
	deadlineExceeded = context.DeadlineExceeded
)

// errorPointer returns a pointer to err, shared for the two context errors.
func errorPointer(err error) *error {
	switch err {
	case context.Canceled:
		return &canceled
	case context.DeadlineExceeded:
		return &deadlineExceeded
	}
	p := new(error) // not &err, which would move err to the heap on every call
	*p = err
	return p
}
