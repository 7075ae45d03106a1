package main

import (
	"bytes"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quorate/quorate/remote/remotetest"
)

// A run stuck on a host that never answers ends with 130 on SIGINT, promptly.
func TestInterruptExits130(t *testing.T) {
	srv := remotetest.Start(t, remotetest.Options{StallHandshake: true})
	e := newInitEnv(t, map[string]*remotetest.Server{"stuck": srv})
	var out, errOut bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(append([]string{"quorate"}, e.args("stuck")...), strings.NewReader(""), &lockedWriter{w: &out}, &lockedWriter{w: &errOut})
	}()
	// Only once the server saw the connection is run's signal handler certainly in place.
	remotetest.Eventually(t, 5*time.Second, "a connection", func() bool { return srv.Connections() > 0 })
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitInterrupted {
			t.Errorf("exit %d, want %d; stderr:\n%s", code, exitInterrupted, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("run did not end within 5s of SIGINT")
	}
}

// --timeout bounds the whole run: a host that never answers ends it with exit 1 and says why.
func TestRunTimeout(t *testing.T) {
	srv := remotetest.Start(t, remotetest.Options{StallHandshake: true})
	e := newInitEnv(t, map[string]*remotetest.Server{"stuck": srv})
	start := time.Now()
	out, stderr, code := runQuorate(t, append([]string{"--timeout", "300ms"}, e.args("stuck")...)...)
	if code != exitFailed || !strings.Contains(stderr, "exceeded --timeout") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	// "FAILED stuck (127.0.0.1:N): ...": the alias, and where it was dialled.
	if !strings.Contains(out, "FAILED stuck") || strings.Count(out, "stuck") != 1 {
		t.Errorf("stdout does not name the host that did not answer in time:\n%s", out)
	}
	if _, err := os.Stat(e.clusterFile); !os.IsNotExist(err) {
		t.Errorf("cluster file written by a run that timed out (stat: %v)", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("took %s with --timeout 300ms", took)
	}
}
