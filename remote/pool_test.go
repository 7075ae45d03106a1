package remote_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
)

func TestPoolOneConnectionPerHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	pool := remote.NewPool(f.cfg)
	defer pool.Close()
	var wg sync.WaitGroup
	clients := make([]*remote.Client, 10)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pool.Get(context.Background(), f.srv.Addr())
			if err != nil {
				t.Error(err)
				return
			}
			clients[i] = c
			if _, err := c.Run(context.Background(), remote.Command{Line: "true"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, c := range clients {
		if c != clients[0] {
			t.Fatal("Get returned different clients for one host")
		}
	}
	if n := f.srv.Connections(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	if err := pool.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := pool.Get(context.Background(), f.srv.Addr()); err == nil {
		t.Error("Get after Close succeeded")
	}
}

func TestPoolDoesNotRememberFailures(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	remotetest.WriteKnownHosts(t, f.known, "# empty")
	pool := remote.NewPool(f.cfg)
	defer pool.Close()
	if _, err := pool.Get(context.Background(), f.srv.Addr()); !errors.Is(err, remote.ErrHostKeyUnknown) {
		t.Fatalf("Get = %v, want ErrHostKeyUnknown", err)
	}
	remotetest.WriteKnownHosts(t, f.known, f.srv.KnownHostsLine()) // the user fixed it
	if _, err := pool.Get(context.Background(), f.srv.Addr()); err != nil {
		t.Fatalf("Get after the fix = %v", err)
	}
}
