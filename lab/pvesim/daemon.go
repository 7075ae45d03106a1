package pvesim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Pid files of the stand-in's daemons.
const (
	pmxcfsPIDPath    = "/run/pvesim/pmxcfs.pid"
	pveproxyPIDPath  = "/run/pvesim/pveproxy.pid"
	pvedaemonPIDPath = "/run/pvesim/pvedaemon.pid"
	daemonLogDir     = "/var/log/pvesim"
)

// spawnDaemon starts `pvesim <name> args...` in its own session, detached from this process:
// the lab's PID 1 adopts and reaps it. It returns once the daemon wrote pidPath.
func (e *Env) spawnDaemon(ctx context.Context, name, pidPath string, args ...string) error {
	if err := os.MkdirAll(e.Path(daemonLogDir), 0o755); err != nil {
		return fmt.Errorf("create log directory: %w", err)
	}
	logFile, err := os.OpenFile(e.Path(filepath.Join(daemonLogDir, name+".log")), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open %s log: %w", name, err)
	}
	defer logFile.Close()
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return fmt.Errorf("open %s: %w", os.DevNull, err)
	}
	defer devNull.Close()
	os.Remove(e.Path(pidPath))
	// Started through its own name (the lab links it next to pvesim), the daemon shows up
	// as pmxcfs or pveproxy in ps, pidof and killall, as the real one does.
	exe, argv := e.SelfExe, append([]string{name}, args...)
	if alias := filepath.Join(filepath.Dir(e.SelfExe), name); fileExists(alias) {
		exe, argv = alias, args
	}
	cmd := exec.Command(exe, argv...)
	cmd.Env = os.Environ()
	cmd.Stdin = devNull
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	child := cmd.Process.Pid
	tracef("spawned %s as %d", name, child)
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	ready := pollUntil(ctx, 10*time.Second, 10*time.Millisecond, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		pid, alive := readPID(e.Path(pidPath))
		return alive && pid == child
	})
	select {
	case <-exited:
		return fmt.Errorf("%s exited during start-up (see %s)", name, filepath.Join(daemonLogDir, name+".log"))
	default:
	}
	if !ready {
		return fmt.Errorf("%s did not become ready", name)
	}
	return nil
}

// writeOwnPID marks a daemon as ready.
func (e *Env) writeOwnPID(pidPath string) error {
	return writeFileAtomic(e.Path(pidPath), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// stopPID sends SIGTERM to the process of a pid file and waits for it to go, SIGKILL after
// a grace period.
func (e *Env) stopPID(ctx context.Context, pidPath string) {
	pid, alive := readPID(e.Path(pidPath))
	// Never signal init or ourselves, and nothing at all from a unit-test sandbox: its pid
	// files may name processes of the machine itself.
	if !alive || pid <= 1 || pid == os.Getpid() || e.Sandboxed() {
		os.Remove(e.Path(pidPath))
		return
	}
	syscall.Kill(pid, syscall.SIGTERM)
	gone := pollUntil(ctx, 5*time.Second, 20*time.Millisecond, func() bool {
		_, alive := readPID(e.Path(pidPath))
		return !alive || !processAlive(pid)
	})
	if !gone {
		syscall.Kill(pid, syscall.SIGKILL)
		pollUntil(ctx, 2*time.Second, 20*time.Millisecond, func() bool { return !processAlive(pid) })
	}
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	for i := len(stat) - 1; i >= 0; i-- {
		if stat[i] == ')' {
			return i+2 < len(stat) && stat[i+2] != 'Z'
		}
	}
	return true
}

// signalContext is cancelled by SIGTERM or SIGINT: how daemons learn to stop.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
}
