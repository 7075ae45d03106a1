package remotetest

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP relay on 127.0.0.1 in front of a Server that can go silent: after Freeze
// it stops passing bytes but keeps every connection open, as a dropped route or a powered-
// off host does. Connect to Proxy.Addr and record the server's key for that address (see
// KnownHostsLineFor).
type Proxy struct {
	listener net.Listener
	target   string

	mu     sync.Mutex
	frozen bool
	thaw   chan struct{} // closed and replaced on Unfreeze; waited on while frozen
	conns  []net.Conn
}

// StartProxy relays connections to target ("host:port"); it stops at the end of the test.
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("remotetest: proxy listen: %v", err)
	}
	p := &Proxy{listener: l, target: target, thaw: make(chan struct{})}
	go p.accept()
	t.Cleanup(func() {
		l.Close()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, c := range p.conns {
			c.Close()
		}
		if p.frozen {
			close(p.thaw)
			p.frozen = false
		}
	})
	return p
}

// Addr is the proxy's "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.listener.Addr().String() }

// Freeze stops the traffic in both directions without closing anything.
func (p *Proxy) Freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.frozen = true
}

// Unfreeze lets the traffic flow again.
func (p *Proxy) Unfreeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.frozen {
		p.frozen = false
		close(p.thaw)
		p.thaw = make(chan struct{})
	}
}

func (p *Proxy) accept() {
	for {
		client, err := p.listener.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.relay(server, client)
		go p.relay(client, server)
	}
}

func (p *Proxy) relay(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.waitWhileFrozen()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			return
		}
	}
}

func (p *Proxy) waitWhileFrozen() {
	p.mu.Lock()
	frozen, thaw := p.frozen, p.thaw
	p.mu.Unlock()
	if frozen {
		<-thaw
	}
}
