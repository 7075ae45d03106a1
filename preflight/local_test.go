package preflight

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quorate/quorate/inventory"
	"github.com/quorate/quorate/remote"
)

// localRunner runs commands on this machine, as remote runs them on a host: `sh -c LINE` with
// stdin, and the whole process group killed when ctx ends. With nodes on 127.0.0.x it runs
// the real probe agent, so that the perl, the orchestration and the parsing meet for real.
type localRunner struct{ host string }

func (r localRunner) Host() string { return r.host }

func (r localRunner) Run(ctx context.Context, cmd remote.Command) (remote.Result, error) {
	if _, ok := ctx.Deadline(); !ok || cmd.Timeout <= 0 {
		return remote.Result{}, fmt.Errorf("%q run without a deadline", cmd.Line)
	}
	c := exec.CommandContext(ctx, "sh", "-c", cmd.Line)
	c.Stdin = bytes.NewReader(cmd.Stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	err := c.Run()
	res := remote.Result{Stdout: out.Bytes(), Stderr: errb.Bytes(), ExitCode: c.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ctx.Err() == nil {
		return res, &remote.ExitError{Host: r.host, Cmd: cmd.Line, Code: res.ExitCode, Stderr: strings.TrimSpace(errb.String())}
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	return res, err
}

func needPerl(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("no perl")
	}
}

// freeBase finds a port whose UDP is free on the test addresses, for link 0.
func freeBase(t *testing.T, addrs ...string) int {
	t.Helper()
	for base := 20000 + os.Getpid()%20000; base < 60000; base += 7 {
		ok := true
		for _, a := range addrs {
			c, err := net.ListenPacket("udp", fmt.Sprintf("%s:%d", a, base))
			if err != nil {
				ok = false
				break
			}
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no free port")
	return 0
}

func localCluster(t *testing.T, addrs ...string) (*inventory.Inventory, []Target) {
	t.Helper()
	var y strings.Builder
	y.WriteString("cluster:\n  name: demo\nnodes:\n")
	for i, a := range addrs {
		fmt.Fprintf(&y, "  - name: pve%d\n    address: %s\n", i+1, a)
	}
	inv := inventory.Parse("cluster.yaml", []byte(y.String()), func(string) (string, bool) { return "", false })
	var targets []Target
	for _, n := range inv.Nodes {
		targets = append(targets, Target{Node: n, Runner: localRunner{host: n.Name}})
	}
	return inv, targets
}

func TestRunLocalMesh(t *testing.T) {
	needPerl(t)
	addrs := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	base := freeBase(t, addrs...)
	inv, targets := localCluster(t, addrs...)
	start := time.Now()
	r, err := Run(context.Background(), inv, targets, Options{PortBase: base})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	udp, tcp := 0, 0
	for _, p := range r.Paths {
		switch p.Proto {
		case "udp":
			udp++
			if p.Result != "ok" || p.Method != "echo" || p.Received == 0 || p.RTT == nil {
				t.Errorf("udp path %+v", p)
			}
		case "tcp":
			tcp++
			if p.Result == "unknown" || p.Result == "blocked" {
				t.Errorf("tcp path %+v", p)
			}
		}
	}
	if udp != 6 || tcp != 12 {
		t.Errorf("%d udp and %d tcp paths, want 6 and 12", udp, tcp)
	}
	for _, f := range r.Findings {
		if (f.Check == "corosync-udp" || f.Check == "latency") && f.Severity != Pass {
			t.Errorf("finding %+v", f)
		}
	}
	if len(r.Clocks) != 3 {
		t.Errorf("clocks %+v", r.Clocks)
	}
	for _, c := range r.Clocks {
		if c.Samples != 4 || c.OffsetMS > 50 || c.OffsetMS < -50 {
			t.Errorf("clock %+v", c)
		}
	}
	t.Logf("3 local nodes in %s", took)
}

// Where the port is held (corosync on a member), the agent sees arrivals by a raw socket,
// and the datagrams still reach the holder, which drops them as not its own.
func TestRunLocalPortHeld(t *testing.T) {
	needPerl(t)
	if os.Geteuid() != 0 {
		t.Skip("raw sockets need root")
	}
	addrs := []string{"127.0.0.2", "127.0.0.3"}
	base := freeBase(t, addrs...)
	holder, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.3:%d", base))
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	got := make(chan int, 1)
	go func() {
		n := 0
		buf := make([]byte, 2048)
		for {
			holder.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, _, err := holder.ReadFrom(buf); err != nil {
				got <- n
				return
			}
			n++
		}
	}()
	inv, targets := localCluster(t, addrs...)
	r, err := Run(context.Background(), inv, targets, Options{PortBase: base})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range r.Paths {
		if p.Proto != "udp" {
			continue
		}
		want := "echo"
		if p.To == "pve2" {
			want = "raw-socket"
		}
		if p.Result != "ok" || p.Method != want || p.RTT == nil {
			t.Errorf("path %+v, want ok by %s", p, want)
		}
	}
	var msg string
	for _, f := range r.Findings {
		if f.Check == "corosync-udp" && f.Node == "pve2" {
			msg = f.Message
		}
	}
	if !strings.Contains(msg, "raw socket: corosync holds the port") {
		t.Errorf("pve2's corosync-udp: %q", msg)
	}
	holder.Close()
	if n := <-got; n == 0 {
		t.Error("the port's holder saw none of the probes")
	}
}

// An unreachable node is one finding; the others are still probed, and only with each other.
func TestRunLocalUnreachable(t *testing.T) {
	needPerl(t)
	addrs := []string{"127.0.0.2", "127.0.0.3", "127.0.0.4"}
	base := freeBase(t, addrs...)
	inv, targets := localCluster(t, addrs...)
	targets[2] = Target{Node: targets[2].Node, DialErr: fmt.Errorf("dial 127.0.0.4:22: %w", remote.ErrUnreachable)}
	start := time.Now()
	r, err := Run(context.Background(), inv, targets, Options{PortBase: base})
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("took %s: the unreachable node held the others up", took)
	}
	var about3 []Finding
	for _, f := range r.Findings {
		if f.Node == "pve3" {
			about3 = append(about3, f)
		}
	}
	if len(about3) != 1 || about3[0].Check != "ssh-access" || about3[0].Severity != Error || !strings.Contains(about3[0].Fix, "port 22 is reachable") {
		t.Errorf("findings on pve3: %+v", about3)
	}
	for _, p := range r.Paths {
		if p.From == "pve3" || p.To == "pve3" || p.Result == "unknown" {
			t.Errorf("path %+v", p)
		}
	}
}

// Ctrl-C: Run returns at once with ctx's error, and the agents are gone.
func TestRunLocalCancel(t *testing.T) {
	needPerl(t)
	addrs := []string{"127.0.0.2", "127.0.0.3"}
	base := freeBase(t, addrs...)
	inv, targets := localCluster(t, addrs...)
	// pve2 never answers on its port: its agent would wait for the whole ProbeTimeout.
	targets[1].Node.Links = []string{"127.0.0.5"}
	inv.Nodes[1].Links = []string{"127.0.0.5"}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err := Run(ctx, inv, targets, Options{PortBase: base, ProbeTimeout: 5 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %s after Ctrl-C", took)
	}
	// The agent's socket is free again: its process group was killed.
	time.Sleep(50 * time.Millisecond)
	c, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.2:%d", base))
	if err != nil {
		t.Errorf("the agent still holds its port: %v", err)
	} else {
		c.Close()
	}
}
