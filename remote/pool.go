package remote

import (
	"context"
	"errors"
	"sync"
)

// Pool keeps one Client per host for a whole run, so that layers above can ask for a host's
// connection wherever they need it and still open only one. Concurrent Gets of one host
// share a single Dial; a failed Dial is not remembered (the next Get dials again).
type Pool struct {
	cfg Config

	mu      sync.Mutex
	entries map[string]*poolEntry
	closed  bool
}

type poolEntry struct {
	ready  chan struct{} // closed once the dial is over
	client *Client
	err    error
}

// NewPool returns an empty pool that dials with cfg.
func NewPool(cfg Config) *Pool { return &Pool{cfg: cfg, entries: map[string]*poolEntry{}} }

// Get returns the connection to host, dialing it on first use.
func (p *Pool) Get(ctx context.Context, host string) (*Client, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errors.New("remote: pool closed")
	}
	e, ok := p.entries[host]
	if !ok {
		e = &poolEntry{ready: make(chan struct{})}
		p.entries[host] = e
		p.mu.Unlock()
		e.client, e.err = Dial(ctx, host, p.cfg)
		p.mu.Lock()
		if e.err != nil {
			delete(p.entries, host)
		} else if p.closed { // closed while dialing
			e.client.Close()
			e.client, e.err = nil, errors.New("remote: pool closed")
		}
		close(e.ready)
		p.mu.Unlock()
		return e.client, e.err
	}
	p.mu.Unlock()
	select {
	case <-e.ready:
		return e.client, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Close closes every connection of the pool, in parallel (each waits for its timed-out
// commands to be told to stop), and makes later Gets fail.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var clients []*Client
	for _, e := range p.entries {
		select {
		case <-e.ready:
			if e.client != nil {
				clients = append(clients, e.client)
			}
		default: // still dialing: Get closes it when the dial ends
		}
	}
	p.mu.Unlock()
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = c.Close() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}
