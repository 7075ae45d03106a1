package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is what a command run in the lab printed and how it ended.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// Stdio wires a command run in the lab.
type Stdio struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Dir is the working directory inside the machine; default /root.
	Dir string
	// Env adds KEY=VALUE pairs to the clean console environment (e.g. PVE_ROOT_PASSWORD).
	Env []string
	// Interactive keeps the command in the caller's process group, so that it may use
	// the caller's terminal; otherwise it gets its own group, killed when ctx ends.
	Interactive bool
}

// Exec runs argv on a machine as its console would: nsenter into all of the
// machine's namespaces, clean environment, working directory /root. The error is
// only for failing to run it; the command's own failure is in Result.Code.
func (l *Lab) Exec(ctx context.Context, host string, stdin io.Reader, argv ...string) (Result, error) {
	var out, errb bytes.Buffer
	code, err := l.Run(ctx, host, Stdio{Stdin: stdin, Stdout: &out, Stderr: &errb}, argv...)
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}, err
}

// Run is Exec with the caller's streams; with no argv it runs a login shell.
func (l *Lab) Run(ctx context.Context, host string, sio Stdio, argv ...string) (int, error) {
	pid, err := l.initPID(host)
	if err != nil {
		return -1, err
	}
	for _, kv := range sio.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return -1, fmt.Errorf("lab %s: %s: environment entry %q is not KEY=VALUE", l.name, host, kv)
		}
	}
	dir := sio.Dir
	if dir == "" {
		dir = "/root"
	}
	if len(argv) == 0 {
		argv = []string{"bash", "-l"}
	}
	term := os.Getenv("TERM")
	if term == "" {
		term = "dumb"
	}
	args := []string{"-t", strconv.Itoa(pid), "-m", "-u", "-i", "-n", "-p", "--", "env", "-i", "-C", dir}
	args = append(args, consoleEnv...)
	args = append(args, "TERM="+term)
	args = append(args, sio.Env...)
	args = append(args, argv...)
	return runNsenter(ctx, host, sio, args)
}

// NetRun runs argv in a machine's network namespace only: it sees the machine's
// network but the root namespace's files, processes and environment. Tests use it to
// run their own binary (invisible in a machine's private /tmp) as a network probe.
func (l *Lab) NetRun(ctx context.Context, host string, sio Stdio, argv ...string) (int, error) {
	pid, err := l.initPID(host)
	if err != nil {
		return -1, err
	}
	return runNsenter(ctx, host, sio, append([]string{"-t", strconv.Itoa(pid), "-n", "--"}, argv...))
}

// SSH runs cmd on host by real ssh from the controller, as quorate would.
func (l *Lab) SSH(ctx context.Context, host, cmd string) (Result, error) {
	return l.Exec(ctx, ctlName, nil, "ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@"+host, cmd)
}

func runNsenter(ctx context.Context, host string, sio Stdio, args []string) (int, error) {
	cmd := exec.CommandContext(ctx, "nsenter", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sio.Stdin, sio.Stdout, sio.Stderr
	if !sio.Interactive {
		// nsenter forks the command into the machine's PID namespace: kill the group,
		// not just nsenter, when ctx ends.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	}
	// A daemon started by the command may keep its output pipes open for ever.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil || errors.Is(err, exec.ErrWaitDelay):
		return cmd.ProcessState.ExitCode(), nil
	case errors.As(err, &ee):
		if ctx.Err() != nil {
			return -1, fmt.Errorf("%s: %w", host, ctx.Err())
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal()), nil
		}
		return ee.ExitCode(), nil
	default:
		return -1, fmt.Errorf("%s: nsenter: %w", host, err)
	}
}

// initPID returns a machine's PID 1 after checking that it is still that process and
// that it is not in the root network namespace.
func (l *Lab) initPID(host string) (int, error) {
	s, err := l.load()
	if err != nil {
		return 0, err
	}
	m, err := s.machine(host)
	if err != nil {
		return 0, err
	}
	if !m.Init.alive() {
		return 0, fmt.Errorf("lab %s: %s is not running (crashed? try restart)", l.name, host)
	}
	if inRootNetns(m.Init.PID) {
		return 0, fmt.Errorf("lab %s: %s: pid %d is in the root network namespace; refusing", l.name, host, m.Init.PID)
	}
	return m.Init.PID, nil
}
