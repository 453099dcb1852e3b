package inprocess

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
)

type ctxKey string

// newUnaryContext returns a handler context for caller with vals's values,
// as the unary call path sets up the one it embeds.
func newUnaryContext(caller, vals context.Context) *unaryContext {
	c := new(unaryContext)
	c.init(caller, vals, nil)
	return c
}

// TestUnaryContext checks unaryContext against what a grpc-go handler's
// context does: the caller's deadline, the caller's end (DeadlineExceeded
// or Canceled, for contexts derived from it too), the end of the handler
// (Canceled), AfterFunc, and values from vals only.
func TestUnaryContext(t *testing.T) {
	vals := context.WithValue(context.Background(), ctxKey("handler"), "h")
	newCaller := func(t *testing.T, timeout time.Duration) (context.Context, context.CancelFunc) {
		base := context.WithValue(context.Background(), ctxKey("caller"), "c")
		if timeout == 0 {
			return context.WithCancel(base)
		}
		return context.WithTimeout(base, timeout)
	}
	waitDone := func(t *testing.T, ctx context.Context) {
		t.Helper()
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("context not done within 10s")
		}
	}

	t.Run("values and deadline", func(t *testing.T) {
		caller, cancel := newCaller(t, time.Hour)
		defer cancel()
		c := newUnaryContext(caller, vals)
		defer c.returned()
		if c.Value(ctxKey("caller")) != nil || c.Value(ctxKey("handler")) != "h" {
			t.Errorf("values: caller's %v, handler's %v; want nil and h", c.Value(ctxKey("caller")), c.Value(ctxKey("handler")))
		}
		want, _ := caller.Deadline()
		if got, ok := c.Deadline(); !ok || !got.Equal(want) {
			t.Errorf("Deadline() = %v, %v; want %v", got, ok, want)
		}
		if c.Err() != nil {
			t.Errorf("Err() = %v before the end", c.Err())
		}
	})

	t.Run("caller expires", func(t *testing.T) {
		caller, cancel := newCaller(t, 20*time.Millisecond)
		defer cancel()
		c := newUnaryContext(caller, vals)
		defer c.returned()
		derived, cancelDerived := context.WithTimeout(c, time.Hour)
		defer cancelDerived()
		ran := make(chan struct{})
		context.AfterFunc(c, func() { close(ran) })
		waitDone(t, derived)
		waitDone(t, c)
		<-ran
		for name, err := range map[string]error{"handler": c.Err(), "derived": derived.Err(), "cause": context.Cause(derived)} {
			if err != context.DeadlineExceeded {
				t.Errorf("%s: %v, want %v", name, err, context.DeadlineExceeded)
			}
		}
	})

	t.Run("caller cancels", func(t *testing.T) {
		caller, cancel := newCaller(t, 0)
		c := newUnaryContext(caller, vals)
		defer c.returned()
		derived, cancelDerived := context.WithCancel(c)
		defer cancelDerived()
		cancel()
		waitDone(t, derived)
		if c.Err() != context.Canceled || derived.Err() != context.Canceled {
			t.Errorf("Err() = %v, derived %v; want %v", c.Err(), derived.Err(), context.Canceled)
		}
	})

	t.Run("caller done, nobody waiting", func(t *testing.T) {
		// Err reports the caller's end even when nothing linked the
		// context to the caller, and Done agrees with it.
		caller, cancel := newCaller(t, 0)
		c := newUnaryContext(caller, vals)
		defer c.returned()
		cancel()
		if c.Err() != context.Canceled {
			t.Errorf("Err() = %v, want %v", c.Err(), context.Canceled)
		}
		select {
		case <-c.Done():
		default:
			t.Error("Done not closed after Err reported the end")
		}
	})

	t.Run("handler returns", func(t *testing.T) {
		caller, cancel := newCaller(t, time.Hour)
		defer cancel()
		c := newUnaryContext(caller, vals)
		done := c.Done()
		derived, cancelDerived := context.WithCancel(c)
		defer cancelDerived()
		ran := make(chan struct{})
		context.AfterFunc(c, func() { close(ran) })
		stopped := context.AfterFunc(c, func() { t.Error("stopped AfterFunc ran") })
		if !stopped() {
			t.Error("stop before the end = false, want true")
		}
		c.returned()
		<-done
		<-ran
		waitDone(t, derived)
		if c.Err() != context.Canceled || derived.Err() != context.Canceled {
			t.Errorf("Err() = %v, derived %v; want %v", c.Err(), derived.Err(), context.Canceled)
		}
		// After the end: Done is closed, AfterFunc runs at once, the
		// caller's later end changes nothing.
		late := make(chan struct{})
		stop := context.AfterFunc(c, func() { close(late) })
		<-late
		if stop() {
			t.Error("stop after the function ran = true, want false")
		}
		cancel()
		if c.Err() != context.Canceled {
			t.Errorf("Err() after the caller's end = %v, want %v", c.Err(), context.Canceled)
		}
	})

	t.Run("handler returns after the caller's end", func(t *testing.T) {
		caller, cancel := newCaller(t, 0)
		c := newUnaryContext(caller, vals)
		cancel()
		c.returned()
		if !errors.Is(c.Err(), context.Canceled) {
			t.Errorf("Err() = %v, want %v", c.Err(), context.Canceled)
		}
	})

	t.Run("no caller deadline or cancel", func(t *testing.T) {
		c := newUnaryContext(context.Background(), vals)
		if _, ok := c.Deadline(); ok {
			t.Error("Deadline() ok without a caller deadline")
		}
		done := c.Done()
		select {
		case <-done:
			t.Fatal("done before the handler returned")
		default:
		}
		c.returned()
		<-done
	})

	t.Run("concurrent use", func(t *testing.T) {
		// For the race detector.
		caller, cancel := newCaller(t, 0)
		c := newUnaryContext(caller, vals)
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				d, cancelD := context.WithCancel(c)
				defer cancelD()
				_ = c.Err()
				<-d.Done()
			})
		}
		go cancel()
		go c.returned()
		wg.Wait()
	})
}

// TestServerStreamKey checks that the key a unary context answers with its
// grpc.ServerTransportStream is the one grpc-go stores it under, so that
// grpc.SetHeader, grpc.Method and the like find the stream of an in-process
// call in its handler's context and in contexts derived from it.
func TestServerStreamKey(t *testing.T) {
	if serverStreamKey == nil {
		t.Fatal("grpc-go's ServerTransportStream key was not learnt")
	}
	st := &serverTransportStream{method: "/pkg.S/M"}
	if got := grpc.NewContextWithServerTransportStream(context.Background(), st).Value(serverStreamKey); got != st {
		t.Fatalf("grpc.NewContextWithServerTransportStream stores the stream under another key: Value = %v", got)
	}
	c := new(unaryContext)
	c.init(context.Background(), context.WithValue(context.Background(), ctxKey("k"), "v"), st)
	derived := context.WithValue(c, ctxKey("other"), 1)
	if got := grpc.ServerTransportStreamFromContext(derived); got != st {
		t.Fatalf("ServerTransportStreamFromContext = %v, want the call's stream", got)
	}
	if m, ok := grpc.Method(derived); !ok || m != "/pkg.S/M" {
		t.Fatalf("grpc.Method = %q, %v", m, ok)
	}
	if got := derived.Value(ctxKey("k")); got != "v" {
		t.Fatalf("Value(k) = %v, want v from vals", got)
	}
}
