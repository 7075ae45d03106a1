package remote_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/remote"
	"github.com/quorate/quorate/remote/remotetest"
)

func TestRunOutputAndExitStatus(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	c := f.dial(t)
	tests := []struct {
		name       string
		cmd        remote.Command
		wantOut    string
		wantErrOut string
		wantCode   int
	}{
		{name: "stdout", cmd: remote.Command{Line: "echo hello; echo world"}, wantOut: "hello\nworld\n"},
		{name: "stderr kept apart", cmd: remote.Command{Line: "echo out; echo err >&2"}, wantOut: "out\n", wantErrOut: "err\n"},
		{name: "exit status", cmd: remote.Command{Line: "echo failing >&2; exit 3"}, wantErrOut: "failing\n", wantCode: 3},
		{name: "POSIX sh with LC_ALL=C", cmd: remote.Command{Line: `printf '%s|%s\n' "$LC_ALL" "$(echo sub)"`}, wantOut: "C|sub\n"},
		{name: "quoting is the caller's", cmd: remote.Command{Line: "printf '%s\\n' " + remote.Quote("it's $HOME")}, wantOut: "it's $HOME\n"},
		{name: "stdin delivered and closed", cmd: remote.Command{Line: "cat; echo end", Stdin: []byte("line 1\nline 2")}, wantOut: "line 1\nline 2end\n"},
		{name: "nil stdin reads EOF at once", cmd: remote.Command{Line: "cat; echo eof"}, wantOut: "eof\n"},
		{name: "empty line", cmd: remote.Command{Line: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Run(context.Background(), tt.cmd)
			if string(res.Stdout) != tt.wantOut || string(res.Stderr) != tt.wantErrOut || res.ExitCode != tt.wantCode {
				t.Errorf("Run = stdout %q stderr %q exit %d, want %q %q %d", res.Stdout, res.Stderr, res.ExitCode,
					tt.wantOut, tt.wantErrOut, tt.wantCode)
			}
			var exitErr *remote.ExitError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Errorf("Run error: %v", err)
			case tt.wantCode != 0 && (!errors.As(err, &exitErr) || exitErr.Code != tt.wantCode ||
				exitErr.Stderr != strings.TrimSpace(tt.wantErrOut) || exitErr.Host != f.srv.Addr()):
				t.Errorf("Run error = %#v, want an *ExitError with code %d and stderr", err, tt.wantCode)
			}
			if res.Duration <= 0 {
				t.Errorf("Duration = %v", res.Duration)
			}
		})
	}
}

// A root .bashrc that prints on every login must not leak into what a command returns.
func TestRunIgnoresNoisyShellStartup(t *testing.T) {
	t.Parallel()
	noise := "Welcome to pve1!\nquorate-output-begins-fake\nno newline at the end"
	f := newFixture(t, remotetest.Options{StartupNoise: noise})
	c := f.dial(t)
	res, err := c.Run(context.Background(), remote.Command{Line: "hostname -s >/dev/null; echo pve1; echo warn >&2"})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Stdout) != "pve1\n" || string(res.Stderr) != "warn\n" {
		t.Errorf("stdout %q stderr %q: the shell's start-up output leaked", res.Stdout, res.Stderr)
	}
}

// A command past its deadline is stopped, whole, and Run returns within a second of the
// deadline, whether the server honours SSH signal requests or, as OpenSSH for root, not.
func TestRunTimeoutStopsTheCommandInTime(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		line       string
		deadline   time.Duration
		viaTimeout bool // Command.Timeout rather than the context's deadline
		wantErr    error
		wantOut    string // what the command printed before the deadline
		printsPID  bool   // the command prints the pid of a process that must end
	}{
		{name: "command timeout", line: "echo started; sleep 60", deadline: time.Second, viaTimeout: true,
			wantErr: remote.ErrTimeout, wantOut: "started\n"},
		{name: "context deadline", line: "sleep 60", deadline: 300 * time.Millisecond,
			wantErr: context.DeadlineExceeded},
		{name: "children of the line", line: "sh -c 'echo $$; exec sleep 60'; echo never",
			deadline: time.Second, viaTimeout: true, wantErr: remote.ErrTimeout, printsPID: true},
		{name: "process ignoring TERM", line: "trap '' TERM; echo $$; while :; do sleep 0.05; done",
			deadline: time.Second, viaTimeout: true, wantErr: remote.ErrTimeout, printsPID: true},
	}
	for _, tt := range tests {
		for _, honour := range []bool{false, true} {
			name := tt.name + "/signals refused (root)"
			if honour {
				name = tt.name + "/signals honoured"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, remotetest.Options{HonourSignals: honour})
				c := f.dial(t)
				ctx, cancel := context.WithCancel(context.Background())
				cmd := remote.Command{Line: tt.line}
				if tt.viaTimeout {
					cmd.Timeout = tt.deadline
				} else {
					ctx, cancel = context.WithTimeout(context.Background(), tt.deadline)
				}
				defer cancel()
				start := time.Now()
				res, err := c.Run(ctx, cmd)
				elapsed := time.Since(start)
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Run error = %v, want %v", err, tt.wantErr)
				}
				if elapsed > tt.deadline+time.Second {
					t.Errorf("Run returned %v after the start, deadline %v: more than a second late", elapsed, tt.deadline)
				}
				if len(res.Stderr) != 0 {
					t.Errorf("stderr %q: the supervisor's own messages leaked", res.Stderr)
				}
				if tt.printsPID {
					pid, err := strconv.Atoi(strings.TrimSpace(string(res.Stdout)))
					if err != nil {
						t.Fatalf("stdout %q: want a pid", res.Stdout)
					}
					remotetest.Eventually(t, 3*time.Second, fmt.Sprintf("process %d of the timed-out command ended", pid),
						func() bool { return processGone(pid) })
				} else if string(res.Stdout) != tt.wantOut {
					t.Errorf("partial stdout = %q, want %q", res.Stdout, tt.wantOut)
				}
				remotetest.Eventually(t, 2*time.Second, "server saw SIGTERM requested", func() bool {
					return strings.HasPrefix(strings.Join(f.srv.Signals(), " "), "TERM")
				})
				if n := f.srv.Connections(); n != 1 {
					t.Errorf("%d connections: stopping a command must use the one connection", n)
				}
				// The connection survives a timed-out command.
				if res, err := c.Run(context.Background(), remote.Command{Line: "echo alive"}); err != nil || string(res.Stdout) != "alive\n" {
					t.Errorf("Run after a timeout = %q, %v", res.Stdout, err)
				}
			})
		}
	}
}

// processGone says whether pid has ended (a zombie has: it only waits to be reaped).
func processGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

// One connection per host for a whole run, however many commands, transfers and concurrent
// callers there are.
func TestOneConnectionPerHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{Dir: t.TempDir()})
	f.cfg.MaxSessions = 4 // fewer than the concurrent callers: they must queue, not fail
	c := f.dial(t)
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Run(context.Background(), remote.Command{Line: fmt.Sprintf("sleep 0.05; echo %d", i)})
			if err == nil && string(res.Stdout) != fmt.Sprintf("%d\n", i) {
				err = fmt.Errorf("command %d got %q", i, res.Stdout)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for range 3 {
		if _, err := c.Run(context.Background(), remote.Command{Line: "true"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Upload(context.Background(), filepath.Join(f.dir, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.Connections(); n != 1 {
		t.Errorf("server saw %d connections, want 1", n)
	}
	if n := f.srv.Sessions(); n != 24 {
		t.Errorf("server saw %d sessions, want 24 (one per command and transfer)", n)
	}
}

// Secrets never reach the log file or an error, whether they appear in the command line, in
// what the command prints, or in an error.
func TestSecretsAreRedacted(t *testing.T) {
	t.Parallel()
	const secret = "Pa55-w0rd!"
	f := newFixture(t, remotetest.Options{})
	logFile := filepath.Join(f.dir, "quorate.log")
	lf, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	f.cfg.Log = slog.New(slog.NewJSONHandler(lf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := f.dial(t)

	var errs []error
	for _, cmd := range []remote.Command{
		{Line: "read pw; test \"$pw\" = " + remote.Quote(secret), Stdin: []byte(secret + "\n")},
		{Line: "echo 'login with " + secret + " failed' >&2; exit 1"},
		{Line: "sleep 5; echo " + secret, Timeout: 100 * time.Millisecond},
	} {
		cmd.Secrets = []string{secret}
		_, err := c.Run(context.Background(), cmd)
		errs = append(errs, err)
	}
	lf.Close()
	if errs[0] != nil {
		t.Errorf("the secret did not reach the command on stdin: %v", errs[0])
	}
	for i, err := range errs[1:] {
		if err == nil {
			t.Fatalf("command %d should have failed", i+1)
		}
		if strings.Contains(err.Error(), secret) || !strings.Contains(err.Error(), "***") {
			t.Errorf("error %d not redacted: %v", i+1, err)
		}
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), secret) {
		t.Errorf("secret in the log file:\n%s", data)
	}
	if n := strings.Count(string(data), `"msg":"remote command"`); n != 3 {
		t.Errorf("%d command records, want 3:\n%s", n, data)
	}
	for _, want := range []string{`"host":"` + f.srv.Addr() + `"`, `"exit":1`, `"duration":`, "***"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log lacks %s:\n%s", want, data)
		}
	}
}

func TestRunAfterCloseFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	c := f.dial(t)
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := c.Run(context.Background(), remote.Command{Line: "true"}); err == nil {
		t.Error("Run on a closed client succeeded")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A connection that goes silent (a host powered off, a route dropped) fails the commands
// running on it within about two keepalive intervals instead of hanging.
func TestDeadConnectionIsDetected(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	proxy := remotetest.StartProxy(t, f.srv.Addr())
	remotetest.WriteKnownHosts(t, f.known, f.srv.KnownHostsLineFor(proxy.Addr()))
	f.cfg.KeepAlive = 200 * time.Millisecond
	c, err := remote.Dial(context.Background(), proxy.Addr(), f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Run(context.Background(), remote.Command{Line: "true"}); err != nil {
		t.Fatal(err)
	}
	proxy.Freeze()
	start := time.Now()
	_, err = c.Run(context.Background(), remote.Command{Line: "sleep 30"})
	if err == nil {
		t.Fatal("Run on a dead connection succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Run took %v to notice the dead connection, keepalive 200ms", d)
	}
	if !strings.Contains(f.log.String(), "ssh connection lost") {
		t.Errorf("lost connection not logged:\n%s", f.log.String())
	}
}

// The login shell is whatever the account has: bash reading a chatty startup file, or a
// nologin that refuses to run anything.
func TestRunUnderLoginShells(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rc := filepath.Join(dir, "bashrc")
	nologin := filepath.Join(dir, "nologin")
	for file, body := range map[string]string{
		rc:      "echo 'Last login: never'; echo 'rc warning' >&2\n",
		nologin: "#!/bin/sh\necho 'This account is currently not available.'\nexit 1\n",
	} {
		if err := os.WriteFile(file, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("bash with a noisy startup file", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, remotetest.Options{Shell: "bash", Env: []string{"BASH_ENV=" + rc}})
		c := f.dial(t)
		res, err := c.Run(context.Background(), remote.Command{Line: "echo \"$0\"; echo err >&2"})
		if err != nil || string(res.Stdout) != "sh\n" || string(res.Stderr) != "err\n" {
			t.Errorf("Run = stdout %q stderr %q %v, want only the command's output, run by sh", res.Stdout, res.Stderr, err)
		}
	})
	t.Run("nologin", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, remotetest.Options{Shell: nologin})
		c := f.dial(t)
		_, err := c.Run(context.Background(), remote.Command{Line: "true"})
		var exitErr *remote.ExitError
		if err == nil || errors.As(err, &exitErr) || !strings.Contains(err.Error(), "did not run the command") ||
			!strings.Contains(err.Error(), "not available") {
			t.Errorf("Run under nologin = %v, want an error saying the command never ran, with the shell's words", err)
		}
	})
}

// An interrupted run (context cancelled, then Close, as on Ctrl-C) leaves nothing running.
func TestCloseAfterCancelStopsRemoteCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	c := f.dial(t)
	pidFile := filepath.Join(f.dir, "pid")
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx, remote.Command{Line: "sh -c 'echo $$ > " + pidFile + "; exec sleep 60'"})
		ran <- err
	}()
	var pid int
	remotetest.Eventually(t, 3*time.Second, "the command wrote its pid", func() bool {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	cancel()
	if err := <-ran; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v, want it cancelled", err)
	}
	c.Close()
	if !processGone(pid) {
		t.Errorf("process %d still runs after Close", pid)
	}
}

// A runaway command cannot exhaust memory: output past MaxOutput is discarded, and said so.
func TestRunOutputIsBounded(t *testing.T) {
	t.Parallel()
	f := newFixture(t, remotetest.Options{})
	f.cfg.MaxOutput = 1000
	c := f.dial(t)
	res, err := c.Run(context.Background(), remote.Command{Line: "head -c 100000 /dev/zero; echo small >&2"})
	if !errors.Is(err, remote.ErrOutputTooLarge) {
		t.Fatalf("Run = %v, want ErrOutputTooLarge", err)
	}
	if len(res.Stdout) > 1000 || len(res.Stdout) < 900 || string(res.Stderr) != "small\n" {
		t.Errorf("kept %d bytes of stdout and stderr %q, want the first ~1000 and all of stderr", len(res.Stdout), res.Stderr)
	}
	if res, err := c.Run(context.Background(), remote.Command{Line: "echo fine"}); err != nil || string(res.Stdout) != "fine\n" {
		t.Errorf("a small output afterwards = %q, %v", res.Stdout, err)
	}
}
