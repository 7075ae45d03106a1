package lab

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Benchmarks of the lab itself: how long a 3-host lab takes to come up and go, and how long
// the PVE stand-in takes to build a cluster of three (create, then two API joins, each over
// ssh from the controller, as quorate drives them). They need what the tests need (root,
// the packages of .ci/deps) and skip otherwise. Run them with a small count, -benchtime=3x:
// every op brings up a lab. bench/run does.

// benchUp brings up a lab of three hosts. Down is registered with b.Cleanup too, so a
// failing op leaves nothing running; downing a lab twice is harmless.
func benchUp(b *testing.B) *Lab {
	b.Helper()
	o := testOptions(b, Options{Hosts: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := Up(ctx, o)
	if err != nil {
		b.Fatalf("Up: %v", err)
	}
	b.Cleanup(func() { _ = DownByName(context.Background(), o.Name) })
	return l
}

func benchDown(b *testing.B, l *Lab) {
	b.Helper()
	if err := l.Down(context.Background()); err != nil {
		b.Fatalf("Down: %v", err)
	}
}

// BenchmarkUpDown3 is Up then Down of a 3-host lab, the fixed cost of every lab test.
func BenchmarkUpDown3(b *testing.B) {
	needLab(b)
	testOptions(b, Options{}) // the go build is not part of an op
	var up, down time.Duration
	n := 0
	for b.Loop() {
		start := time.Now()
		l := benchUp(b)
		mid := time.Now()
		benchDown(b, l)
		up += mid.Sub(start)
		down += time.Since(mid)
		n++
	}
	b.ReportMetric(float64((up+down).Milliseconds())/float64(n), "ms/op")
	b.ReportMetric(float64(up.Milliseconds())/float64(n), "up-ms/op")
	b.ReportMetric(float64(down.Milliseconds())/float64(n), "down-ms/op")
}

// BenchmarkClusterBuild3 is `pvecm create` on pve1 and then `pvecm add` (the API join:
// password and fingerprint answered on stdin) on pve2 and pve3, one after the other, each
// through ssh from the controller, until every member reports three nodes and quorum. Up
// and Down are outside the timer.
func BenchmarkClusterBuild3(b *testing.B) {
	needLab(b)
	testOptions(b, Options{})
	var build, joins time.Duration
	n := 0
	for b.Loop() {
		b.StopTimer()
		l := benchUp(b)
		pw, err := l.Password()
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()

		start := time.Now()
		benchSSH(b, l, "pve1", "", "pvecm create bench", "")
		benchQuorate(b, l, []string{"pve1"}, 1)
		joinStart := time.Now()
		for i, host := range []string{"pve2", "pve3"} {
			benchSSH(b, l, host, pw+"\nyes\n", "pvecm add 198.51.100.11", "successfully added node '"+host+"' to cluster.")
			benchQuorate(b, l, []string{"pve1", "pve2", "pve3"}[:i+2], i+2)
		}
		joins += time.Since(joinStart)
		build += time.Since(start)
		n++

		b.StopTimer()
		benchDown(b, l)
		b.StartTimer()
	}
	b.ReportMetric(build.Seconds()/float64(n), "s/build")
	b.ReportMetric(joins.Seconds()/float64(2*n), "s/join")
}

// benchSSH runs cmd on host by ssh from the controller and wants exit 0 and, when want is
// set, that line in its stdout (pvecm add exits 0 when it fails).
func benchSSH(b *testing.B, l *Lab, host, stdin, cmd, want string) string {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := l.Exec(ctx, ctlName, strings.NewReader(stdin), "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@"+host, cmd)
	if err != nil || r.Code != 0 || !strings.Contains(r.Stdout, want) {
		b.Fatalf("ssh %s %q: exit %d, %v\nstdout %q\nstderr %q", host, cmd, r.Code, err, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// benchQuorate polls `pvecm status` on every member until each sees nodes members and
// quorum (every 100 ms, for at most a minute).
func benchQuorate(b *testing.B, l *Lab, members []string, nodes int) {
	b.Helper()
	wantNodes := fmt.Sprintf("Nodes:            %d\n", nodes)
	deadline := time.Now().Add(time.Minute)
	for _, host := range members {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			r, err := l.SSH(ctx, host, "pvecm status")
			cancel()
			if err == nil && r.Code == 0 && strings.Contains(r.Stdout, wantNodes) && strings.Contains(r.Stdout, "Quorate:          Yes\n") {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s: not quorate with %d nodes within a minute: exit %d, %v\n%s%s", host, nodes, r.Code, err, r.Stdout, r.Stderr)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}
