package preflight

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// udpPaths are the corosync-udp paths of link l: every ordered pair of reachable nodes that
// both have the link, decided from the receiving agent's count of the sender's probes.
func (e *env) udpPaths(l int) []Path {
	var out []Path
	for _, s := range e.nodes {
		for _, d := range e.nodes {
			sa, sok := s.linkAddr(l)
			da, dok := d.linkAddr(l)
			if s == d || !s.reached() || !d.reached() || !sok || !dok || sa.Is4() != da.Is4() {
				continue
			}
			out = append(out, e.udpPath(s, d, l, da.String()))
		}
	}
	return out
}

func (e *env) udpPath(s, d *node, l int, addr string) Path {
	p := Path{Check: "corosync-udp", From: s.inv.Name, To: d.inv.Name, Proto: "udp", Link: l, Address: addr, Port: e.opts.PortBase + l, Result: "unknown"}
	switch {
	case s.agent == nil:
		p.Detail = fmt.Sprintf("no probe agent ran on %s: %v", s.inv.Name, s.agentErr)
		return p
	case d.agent == nil:
		p.Detail = fmt.Sprintf("no probe agent ran on %s: %v", d.inv.Name, d.agentErr)
		return p
	}
	if b, ok := s.agent.binds[l]; !ok || (b.mode != "udp" && b.mode != "raw") {
		p.Detail = fmt.Sprintf("%s could not send from %s: %s", s.inv.Name, b.addr, bindWhy(b, ok))
		return p
	}
	db, ok := d.agent.binds[l]
	if !ok || (db.mode != "udp" && db.mode != "raw") {
		p.Detail = fmt.Sprintf("%s could not listen on %s port %d: %s", d.inv.Name, addr, p.Port, bindWhy(db, ok))
		return p
	}
	tx := s.agent.tx[peerLink{d.idx, l}]
	rx := d.agent.rx[peerLink{s.idx, l}]
	p.Sent, p.Received = tx.sent, rx.got
	p.Method = "echo"
	if db.mode == "raw" {
		p.Method = "raw-socket"
	}
	switch {
	case tx.sent == 0:
		p.Detail = s.inv.Name + " sent no probe"
		return p
	case rx.got == 0:
		p.Result, p.Method = "blocked", ""
		return p
	}
	p.Result = "ok"
	if span := rx.last - rx.first + 1; span > 0 && rx.got < span {
		p.LossPct = math.Round(1000*(1-float64(rx.got)/float64(span))) / 10
	}
	p.RTT = summarise(tx.rtt)
	return p
}

func bindWhy(b agentBind, ok bool) string {
	switch {
	case !ok:
		return "no socket on that link"
	case b.mode == "busy":
		return "the port is held and no raw socket could be had (" + b.why + ")"
	case strings.Contains(b.why, "Cannot assign requested address"):
		return "the address is not configured there (link-addresses)"
	}
	return b.why
}

// tcpPaths are the api-port paths: every reachable node's connects to every other's link0
// address on 22 and 8006.
func (e *env) tcpPaths() []Path {
	var out []Path
	for _, s := range e.nodes {
		for _, d := range e.nodes {
			da, ok := d.linkAddr(0)
			if s == d || !s.reached() || !d.reached() || !ok {
				continue
			}
			for _, port := range []int{22, 8006} {
				out = append(out, e.tcpPath(s, d, da.String(), port))
			}
		}
	}
	return out
}

func (e *env) tcpPath(s, d *node, addr string, port int) Path {
	p := Path{Check: "api-port", From: s.inv.Name, To: d.inv.Name, Proto: "tcp", Link: -1, Address: addr, Port: port, Result: "unknown"}
	if s.agent == nil {
		p.Detail = fmt.Sprintf("no probe agent ran on %s: %v", s.inv.Name, s.agentErr)
		return p
	}
	c, ok := s.agent.tcp[tcpKey{d.idx, port}]
	if !ok {
		p.Detail = s.inv.Name + "'s probe agent did not try it"
		return p
	}
	switch c.state {
	case "ok":
		p.Result = "ok"
		p.RTT = summarise([]time.Duration{c.took})
	case "refused":
		p.Result = "refused"
	case "timeout":
		p.Result, p.Detail = "blocked", fmt.Sprintf("no answer in %s", shortDuration(e.opts.TCPTimeout))
	default:
		p.Result, p.Detail = "error", c.why
	}
	return p
}

// allPaths is every probed path, UDP link by link, then TCP.
func (e *env) allPaths() []Path {
	var out []Path
	for _, l := range e.linkNumbers() {
		out = append(out, e.udpPaths(l)...)
	}
	return append(out, e.tcpPaths()...)
}

// summarise is the RTT of samples; nil without samples. Jitter is the median difference
// between consecutive round trips, so that the few probes a busy CPU delayed do not read as
// a jittery network.
func summarise(samples []time.Duration) *RTT {
	if len(samples) == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	sorted := slices.Clone(samples)
	slices.Sort(sorted)
	var diffs []time.Duration
	for i := 1; i < len(samples); i++ {
		d := samples[i] - samples[i-1]
		diffs = append(diffs, max(d, -d))
	}
	slices.Sort(diffs)
	return &RTT{Samples: len(samples), Min: ms(sorted[0]), Median: ms(percentile(sorted, 50)),
		Max: ms(sorted[len(sorted)-1]), Jitter: ms(percentile(diffs, 50))}
}

// percentile of sorted (nearest rank, interpolating the middle of an even median); 0 when
// empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	if p == 50 && len(sorted)%2 == 0 {
		return (sorted[len(sorted)/2-1] + sorted[len(sorted)/2]) / 2
	}
	return sorted[(len(sorted)-1)*p/100]
}
