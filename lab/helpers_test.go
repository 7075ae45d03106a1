package lab

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The test binary doubles as a network probe, run inside a lab machine's network
// namespace by NetRun (the test process itself never sends lab traffic).
const (
	probeEnv   = "QLAB_TEST_PROBE"
	payloadEnv = "QLAB_TEST_PAYLOAD" // UDP payload size of udp-send and udp-df
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(probeEnv); mode != "" {
		if err := runProbe(mode, os.Args[len(os.Args)-1]); err != nil {
			fmt.Fprintln(os.Stderr, "probe:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runProbe: "udp-recv ADDR:PORT" counts datagrams until stdin closes (then 200 ms
// more); "udp-send ADDR:PORT" sends 100 datagrams; "tcp-rtt ADDR:PORT" prints the
// fastest of three TCP connects in microseconds.
func runProbe(mode, addr string) error {
	switch mode {
	case "udp-recv":
		ua, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return err
		}
		c, err := net.ListenUDP("udp4", ua)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		count := 0
		stop := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stop) }()
		buf := make([]byte, 2048)
		var deadline time.Time
		for {
			select {
			case <-stop:
				if deadline.IsZero() {
					deadline = time.Now().Add(200 * time.Millisecond)
				}
				stop = nil
			default:
			}
			if !deadline.IsZero() && time.Now().After(deadline) {
				fmt.Println(count)
				return nil
			}
			_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			if _, _, err := c.ReadFromUDP(buf); err == nil {
				count++
			}
		}
	case "udp-send":
		// 100 datagrams; of $QLAB_TEST_PAYLOAD bytes when set.
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		size, _ := strconv.Atoi(os.Getenv(payloadEnv))
		for i := 0; i < 100; i++ {
			msg := []byte("probe " + strconv.Itoa(i))
			if size > len(msg) {
				msg = append(msg, make([]byte, size-len(msg))...)
			}
			_, _ = c.Write(msg)
			time.Sleep(2 * time.Millisecond)
		}
		return nil
	case "udp-df":
		// One datagram of $QLAB_TEST_PAYLOAD bytes that must not be fragmented (as
		// ping -M do sends): prints "sent" or why the kernel refused it.
		c, err := net.Dial("udp4", addr)
		if err != nil {
			return err
		}
		rc, err := c.(*net.UDPConn).SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO)
		}); err != nil || serr != nil {
			return errors.Join(err, serr)
		}
		size, _ := strconv.Atoi(os.Getenv(payloadEnv))
		if _, err := c.Write(make([]byte, size)); err != nil {
			fmt.Println(err)
		} else {
			fmt.Println("sent")
		}
		return nil
	case "up":
		// Up in the caller's network namespace, which must make it refuse (see
		// TestUpRefusesOverlappingRanges): the refusal is printed on stdout.
		l, err := Up(context.Background(), Options{Name: addr, Hosts: 1})
		if err == nil {
			_ = l.Down(context.Background())
			return fmt.Errorf("Up started lab %s", addr)
		}
		fmt.Println(err)
		return nil
	case "tcp-spread":
		// The fastest and the slowest of ten TCP connects, in microseconds.
		lo, hi := time.Hour, time.Duration(0)
		for i := 0; i < 10; i++ {
			start := time.Now()
			c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
			if err != nil {
				return err
			}
			d := time.Since(start)
			lo, hi = min(lo, d), max(hi, d)
			c.Close()
		}
		fmt.Println(lo.Microseconds(), hi.Microseconds())
		return nil
	case "tcp-rtt":
		best := time.Hour
		for i := 0; i < 3; i++ {
			start := time.Now()
			c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
			if err != nil {
				return err
			}
			best = min(best, time.Since(start))
			c.Close()
		}
		fmt.Println(best.Microseconds())
		return nil
	}
	return fmt.Errorf("unknown probe %q", mode)
}

func probeArgv(mode, addr string, env ...string) []string {
	self, _ := os.Executable()
	return append(append([]string{"env", probeEnv + "=" + mode}, env...), self, "-test.run=^$", addr)
}

// udpProbe sends 100 datagrams from one machine to another's port and returns how
// many arrived.
func udpProbe(t *testing.T, l *Lab, from, to string, port int) int {
	t.Helper()
	return udpProbeSize(t, l, from, to, port, 0)
}

// udpProbeSize is udpProbe with datagrams of size bytes of payload (0: a few bytes).
func udpProbeSize(t *testing.T, l *Lab, from, to string, port, size int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	h, err := l.Host(to)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("%s:%d", h.Address(), port)
	stdinR, stdinW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := l.NetRun(ctx, to, Stdio{Stdin: stdinR, Stdout: outW, Stderr: os.Stderr}, probeArgv("udp-recv", addr)...)
		outW.Close()
		done <- err
	}()
	sc := bufio.NewScanner(outR)
	if !sc.Scan() || sc.Text() != "ready" {
		t.Fatalf("udp receiver on %s did not start: %q", to, sc.Text())
	}
	code, err := l.NetRun(ctx, from, Stdio{Stderr: os.Stderr}, probeArgv("udp-send", addr, fmt.Sprintf("%s=%d", payloadEnv, size))...)
	if err != nil || code != 0 {
		t.Fatalf("udp sender on %s: exit %d, %v", from, code, err)
	}
	stdinW.Close()
	if !sc.Scan() {
		t.Fatalf("udp receiver on %s: no count", to)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(sc.Text())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// tcpRTT is the fastest TCP connect from one machine to another's port.
func tcpRTT(t *testing.T, l *Lab, from, to string, port int) time.Duration {
	t.Helper()
	h, err := l.Host(to)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := l.NetExec(ctx, from, probeArgv("tcp-rtt", fmt.Sprintf("%s:%d", h.Address(), port))...)
	if err != nil || r.Code != 0 {
		t.Fatalf("tcp-rtt %s -> %s: %v %s", from, to, err, r.Stderr)
	}
	us, err := strconv.Atoi(strings.TrimSpace(r.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(us) * time.Microsecond
}

// NetExec for tests: NetRun with captured output.
func (l *Lab) NetExec(ctx context.Context, host string, argv ...string) (Result, error) {
	var out, errb strings.Builder
	code, err := l.NetRun(ctx, host, Stdio{Stdout: &out, Stderr: &errb}, argv...)
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}, err
}

// needLab skips when the lab cannot run here.
func needLab(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (namespaces, mounts)")
	}
	for _, c := range []string{"ip", "nsenter", "nft", "tc", "ssh", "ssh-keygen", "ssh-keyscan", "/usr/sbin/sshd", "/usr/sbin/chronyd", "/usr/sbin/corosync", "corosync-quorumtool", "chpasswd", "ss", "go"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("lab: %s missing: install the packages of .ci/deps", c)
		}
	}
	if _, err := os.Stat(libfaketime); err != nil {
		t.Skip("lab: libfaketime missing: install the packages of .ci/deps")
	}
}

type builtBinaries struct {
	once           sync.Once
	pvesim, pvelab string
	err            error
}

// binaries builds pvesim and pvelab once per test binary (QLAB_PVESIM overrides pvesim).
var binaries builtBinaries

func testOptions(t testing.TB, o Options) Options {
	t.Helper()
	binaries.once.Do(func() {
		dir, err := os.MkdirTemp("", "qlab-bin-")
		if err != nil {
			binaries.err = err
			return
		}
		pkgs := []string{pvelabPkg}
		if p := os.Getenv("QLAB_PVESIM"); p != "" {
			binaries.pvesim = p
		} else {
			pkgs = append(pkgs, pvesimPkg)
			binaries.pvesim = filepath.Join(dir, "pvesim")
		}
		binaries.pvelab = filepath.Join(dir, "pvelab")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		root, err := moduleRoot(ctx)
		if err == nil {
			_, err = run(ctx, nil, "go", append([]string{"build", "-C", root, "-o", dir + "/"}, pkgs...)...)
		}
		binaries.err = err
	})
	if binaries.err != nil {
		t.Fatalf("building the lab's binaries: %v", binaries.err)
	}
	if o.Name == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		o.Name = "t" + hex.EncodeToString(b)
	}
	o.PvesimBinary, o.HelperBinary = binaries.pvesim, binaries.pvelab
	return o
}

// upLab brings up a lab for one test and downs it when the test ends.
func upLab(t *testing.T, o Options) *Lab {
	t.Helper()
	needLab(t)
	o = testOptions(t, o)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := Up(ctx, o)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	t.Logf("lab %s: Up with %d hosts took %s", o.Name, o.Hosts, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if err := l.Down(context.Background()); err != nil {
			t.Errorf("Down: %v", err)
		}
	})
	return l
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// mustSSH runs cmd on host over ssh from the controller and wants exit 0.
func mustSSH(t *testing.T, l *Lab, host, cmd string) string {
	t.Helper()
	r, err := l.SSH(ctxT(t), host, cmd)
	if err != nil || r.Code != 0 {
		t.Fatalf("ssh %s %q: exit %d, %v: %s", host, cmd, r.Code, err, r.Stderr)
	}
	return r.Stdout
}

func mustExec(t *testing.T, l *Lab, host string, argv ...string) string {
	t.Helper()
	r, err := l.Exec(ctxT(t), host, nil, argv...)
	if err != nil || r.Code != 0 {
		t.Fatalf("exec %s %q: exit %d, %v: %s", host, argv, r.Code, err, r.Stderr)
	}
	return r.Stdout
}

// mustNetExec runs argv in host's network namespace only (the machine's files) and wants exit 0.
func mustNetExec(t *testing.T, l *Lab, host string, argv ...string) string {
	t.Helper()
	r, err := l.NetExec(ctxT(t), host, argv...)
	if err != nil || r.Code != 0 {
		t.Fatalf("netexec %s %q: exit %d, %v: %s", host, argv, r.Code, err, r.Stderr)
	}
	return r.Stdout
}

func mustFault(t *testing.T, l *Lab, host, kind string, args ...string) {
	t.Helper()
	if err := l.Fault(ctxT(t), host, kind, args...); err != nil {
		t.Fatalf("fault %s %s %v: %v", host, kind, args, err)
	}
}

func mustClear(t *testing.T, l *Lab, host string) {
	t.Helper()
	if err := l.Clear(ctxT(t), host); err != nil {
		t.Fatalf("clear %s: %v", host, err)
	}
}
