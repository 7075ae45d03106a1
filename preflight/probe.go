package preflight

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quorate/quorate/remote"
)

// probeScript is the probe agent, sent on stdin to `perl -` on every node at once.
//
//go:embed probe.pl
var probeScript string

// agentResult is what one node's probe agent reports.
type agentResult struct {
	binds map[int]agentBind    // by link number
	tx    map[peerLink]agentTx // what this node sent to each peer
	rx    map[peerLink]agentRx // what each peer's probes did here
	tcp   map[tcpKey]agentTCP  // this node's connects
	took  time.Duration
}

type peerLink struct{ node, link int }

type tcpKey struct {
	node int
	port int
}

// agentBind is how the agent listened on a link: "udp" (it holds the port), "raw" (the port
// is held, corosync on a member: a raw socket watched it), "busy" (held, and no raw socket
// could be had) or "error" (why says: e.g. the address is not this node's).
type agentBind struct {
	mode string
	addr string
	port int
	why  string
}

type agentTx struct {
	sent, echoed int
	rtt          []time.Duration
}

type agentRx struct {
	got, first, last int
	fin              bool
}

type agentTCP struct {
	addr  string
	state string // ok, refused, timeout, error
	took  time.Duration
	why   string
}

// agentCommand starts the agent, its script on stdin and its arguments after. Its priority is
// raised, as far as root may (nice only warns otherwise), so that it answers a peer's probe
// when it arrives rather than when a busy node gets round to it.
const agentCommand = "exec nice -n -10 perl - "

const (
	probeHeader = "quorate-probe v1"
	probeEnd    = "end "
)

// runAgent starts the probe agent on n, which probes every other reachable node on every link
// both have, and connects to their TCP 22 and 8006; it returns when the agent is done, at
// the latest at its deadline.
func (e *env) runAgent(ctx context.Context, n *node) (*agentResult, error) {
	args := e.agentArgs(n)
	wait := e.opts.ProbeTimeout + e.opts.TCPTimeout + 3*time.Second
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	var quoted []string
	for _, a := range args {
		quoted = append(quoted, remote.Quote(a))
	}
	cmd := remote.Command{Line: agentCommand + strings.Join(quoted, " "), Stdin: []byte(probeScript), Timeout: wait}
	res, err := n.target.Runner.Run(ctx, cmd)
	var exitErr *remote.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return nil, err
	}
	ar, perr := parseAgent(string(res.Stdout))
	if perr != nil {
		if err != nil {
			return nil, fmt.Errorf("probe agent: %w", err)
		}
		return nil, fmt.Errorf("probe agent: %w", perr)
	}
	return ar, nil
}

// probeGaps tells whether the first round left a reached node without an agent report, or a
// UDP direction without a single echo.
func (e *env) probeGaps() bool {
	for _, n := range e.nodes {
		if !n.reached() {
			continue
		}
		if n.agent == nil {
			return true
		}
		for _, tx := range n.agent.tx {
			if tx.echoed == 0 {
				return true
			}
		}
	}
	return false
}

// merge keeps, for every direction and connect, the better of two rounds' measurements.
func (r *agentResult) merge(o *agentResult) {
	for k, b := range o.binds {
		if a, ok := r.binds[k]; !ok || a.mode == "error" {
			r.binds[k] = b
		}
	}
	for k, b := range o.tx {
		if a, ok := r.tx[k]; !ok || b.echoed > a.echoed {
			r.tx[k] = b
		}
	}
	for k, b := range o.rx {
		if a, ok := r.rx[k]; !ok || b.got > a.got {
			r.rx[k] = b
		}
	}
	for k, b := range o.tcp {
		if a, ok := r.tcp[k]; !ok || (a.state != "ok" && b.state == "ok") {
			r.tcp[k] = b
		}
	}
}

// agentArgs are the agent's KEY=VALUE arguments for n.
func (e *env) agentArgs(n *node) []string {
	o := e.opts
	var binds, peers, tcps []string
	peerLinks := 0
	for _, l := range n.links() {
		if !l.addr.IsValid() {
			continue
		}
		binds = append(binds, fmt.Sprintf("bind=%d,%s", l.num, l.addr))
		for _, m := range e.nodes {
			a, ok := m.linkAddr(l.num)
			if m == n || !m.reached() || !ok || a.Is4() != l.addr.Is4() {
				continue
			}
			peers = append(peers, fmt.Sprintf("peer=%d,%d,%s", m.idx, l.num, a))
			peerLinks++
		}
	}
	for _, m := range e.nodes {
		a, ok := m.linkAddr(0)
		if m == n || !m.reached() || !ok {
			continue
		}
		for _, port := range []int{22, 8006} {
			tcps = append(tcps, fmt.Sprintf("tcp=%d,%s,%d", m.idx, a, port))
		}
	}
	// Many peers: spread the probes out, about one per millisecond in all, so that a busy
	// node does not measure its own queueing as latency.
	gap := max(o.ProbeInterval, time.Duration(peerLinks)*time.Millisecond)
	alarm := int((o.ProbeTimeout+o.TCPTimeout)/time.Second) + 3
	args := []string{
		"me=" + strconv.Itoa(n.idx),
		"token=" + e.token,
		"base=" + strconv.Itoa(o.PortBase),
		"dur=" + strconv.FormatInt(o.ProbeTimeout.Milliseconds(), 10),
		"want=" + strconv.Itoa(o.ProbeCount),
		"max=" + strconv.Itoa(4*o.ProbeCount),
		"gap=" + strconv.FormatFloat(float64(gap)/float64(time.Millisecond), 'f', 3, 64),
		"tcpwait=" + strconv.FormatInt(o.TCPTimeout.Milliseconds(), 10),
		"alarm=" + strconv.Itoa(alarm),
	}
	args = append(args, binds...)
	args = append(args, peers...)
	return append(args, tcps...)
}

// newToken marks this run's probes, so that an agent ignores everything else that arrives
// on the port (corosync's own traffic, another run's probes).
func newToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// parseAgent reads the agent's report. Lines before the header (a noisy login) are skipped;
// without the end line the agent was cut short and nothing it said is trusted.
func parseAgent(out string) (*agentResult, error) {
	r := &agentResult{binds: map[int]agentBind{}, tx: map[peerLink]agentTx{}, rx: map[peerLink]agentRx{}, tcp: map[tcpKey]agentTCP{}}
	lines := strings.Split(strings.ReplaceAll(out, "\r\n", "\n"), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, probeHeader+" ") || l == probeHeader {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("no %q line in its output%s", probeHeader, quoteTail(out))
	}
	for i := start + 1; i < len(lines); i++ {
		l := lines[i]
		if rest, ok := strings.CutPrefix(l, probeEnd); ok {
			ms, err := strconv.ParseFloat(rest, 64)
			if err != nil || ms < 0 || ms > 1e7 {
				return nil, fmt.Errorf("line %d %q: bad duration", i+1, clipLine(l))
			}
			r.took = time.Duration(ms * float64(time.Millisecond))
			return r, nil
		}
		if l == "" {
			continue
		}
		if err := r.parseLine(l); err != nil {
			return nil, fmt.Errorf("line %d %q: %v", i+1, clipLine(l), err)
		}
	}
	return nil, fmt.Errorf("output ends before its end line (cut short?)%s", quoteTail(out))
}

func (r *agentResult) parseLine(l string) error {
	f := strings.Fields(l)
	if len(f) == 0 {
		return nil
	}
	num := func(s string, lo, hi int) (int, error) {
		n, err := strconv.Atoi(s)
		if err != nil || n < lo || n > hi {
			return 0, fmt.Errorf("%q is not a number in %d..%d", clipLine(s), lo, hi)
		}
		return n, nil
	}
	kv := func(fields []string) map[string]string {
		m := map[string]string{}
		for _, x := range fields {
			if k, v, ok := strings.Cut(x, "="); ok {
				m[k] = v
			}
		}
		return m
	}
	switch f[0] {
	case "bind": // bind LINK MODE ADDR PORT [WHY...]
		if len(f) < 5 {
			return errors.New("want bind LINK MODE ADDR PORT")
		}
		link, err := num(f[1], 0, 7)
		if err != nil {
			return err
		}
		port, err := num(f[4], 0, 65535)
		if err != nil {
			return err
		}
		switch f[2] {
		case "udp", "raw", "busy", "error":
		default:
			return fmt.Errorf("unknown mode %q", clipLine(f[2]))
		}
		r.binds[link] = agentBind{mode: f[2], addr: f[3], port: port, why: strings.Join(f[5:], " ")}
	case "tx": // tx LINK NODE sent=N echoed=N rtt=US,US,...
		if len(f) < 4 {
			return errors.New("want tx LINK NODE sent=N echoed=N rtt=US,US")
		}
		pl, err := peerOf(f[1], f[2], num)
		if err != nil {
			return err
		}
		m := kv(f[3:])
		var t agentTx
		if t.sent, err = num(m["sent"], 0, 1<<30); err != nil {
			return err
		}
		if t.echoed, err = num(m["echoed"], 0, 1<<30); err != nil {
			return err
		}
		if s := m["rtt"]; s != "" {
			for _, x := range strings.Split(s, ",") {
				us, err := num(x, 0, 1<<31-1)
				if err != nil {
					return err
				}
				t.rtt = append(t.rtt, time.Duration(us)*time.Microsecond)
			}
		}
		r.tx[pl] = t
	case "rx": // rx LINK NODE got=N first=N last=N fin=0|1
		if len(f) < 4 {
			return errors.New("want rx LINK NODE got=N first=N last=N fin=0|1")
		}
		pl, err := peerOf(f[1], f[2], num)
		if err != nil {
			return err
		}
		m := kv(f[3:])
		var x agentRx
		if x.got, err = num(m["got"], 0, 1<<30); err != nil {
			return err
		}
		if x.first, err = num(m["first"], -1, 1<<30); err != nil {
			return err
		}
		if x.last, err = num(m["last"], -1, 1<<30); err != nil {
			return err
		}
		if x.got > 0 && (x.first < 0 || x.last < x.first) {
			return errors.New("got probes but no sequence range")
		}
		x.fin = m["fin"] == "1"
		r.rx[pl] = x
	case "tcp": // tcp NODE ADDR PORT STATE MS [WHY...]
		if len(f) < 6 {
			return errors.New("want tcp NODE ADDR PORT STATE MS")
		}
		node, err := num(f[1], 0, 1<<20)
		if err != nil {
			return err
		}
		port, err := num(f[3], 0, 65535)
		if err != nil {
			return err
		}
		switch f[4] {
		case "ok", "refused", "timeout", "error":
		default:
			return fmt.Errorf("unknown state %q", clipLine(f[4]))
		}
		ms, err := strconv.ParseFloat(f[5], 64)
		if err != nil || ms < 0 || ms > 1e7 {
			return fmt.Errorf("bad time %q", clipLine(f[5]))
		}
		r.tcp[tcpKey{node, port}] = agentTCP{addr: f[2], state: f[4], took: time.Duration(ms * float64(time.Millisecond)), why: strings.Join(f[6:], " ")}
	default:
		// Lines a later agent adds are ignored.
	}
	return nil
}

func peerOf(link, node string, num func(string, int, int) (int, error)) (peerLink, error) {
	l, err := num(link, 0, 7)
	if err != nil {
		return peerLink{}, err
	}
	n, err := num(node, 0, 1<<20)
	if err != nil {
		return peerLink{}, err
	}
	return peerLink{node: n, link: l}, nil
}

func clipLine(s string) string { return clip(s, 80) }

// quoteTail is ": ..." with the last lines of out, for an error that must show what came.
func quoteTail(out string) string {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) > 2 {
		lines = lines[len(lines)-2:]
	}
	t := strings.TrimSpace(strings.Join(lines, " / "))
	if t == "" {
		return ""
	}
	return ": " + clip(t, 160)
}
