package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func helperPath(lab string) string { return filepath.Join(labDir(lab), "libexec", "pvelab") }

// spawnInit starts a machine's PID 1 and waits for its READY. The init runs in the
// machine's named network namespace (entered by ip netns exec) and in new mount, UTS,
// IPC and PID namespaces made by clone, so it is PID 1 there; its PID in the root
// namespace is recorded, and killing it ends everything in the machine.
func spawnInit(ctx context.Context, s *state, m *machineState, c initConfig) error {
	hostDir := filepath.Join(labDir(s.Name), "hosts", m.Name)
	if err := os.MkdirAll(hostDir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(hostDir, "init.json")
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		return fmt.Errorf("%s: init config: %w", m.Name, err)
	}
	logf, err := os.OpenFile(filepath.Join(hostDir, "init.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.Command("ip", "netns", "exec", m.Netns, helperPath(s.Name), "__init", cfgPath)
	cmd.Stdout, cmd.Stderr, cmd.ExtraFiles = logf, logf, []*os.File{pw}
	cmd.Env = consoleEnv
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setsid:     true,
		Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWPID,
	}
	if err := cmd.Start(); err != nil {
		pw.Close()
		return fmt.Errorf("%s: start init: %w", m.Name, err)
	}
	pw.Close()
	// Reap our child when it ends, if this process still runs then (tests); a pvelab
	// command exits first and the machine's init re-parents to the system's.
	go func() { _ = cmd.Wait() }()
	ref, err := refOf(cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("%s: init vanished at once: %w", m.Name, err)
	}
	m.Init = ref
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	timer := time.NewTimer(60 * time.Second)
	defer timer.Stop()
	select {
	case line := <-lines:
		if line == "READY" {
			return nil
		}
		if line == "" {
			line = "init exited without a word"
		}
		return fmt.Errorf("%s: boot failed: %s\n%s", m.Name, strings.TrimPrefix(line, "ERROR "), logTail(hostDir))
	case <-timer.C:
		return fmt.Errorf("%s: boot did not finish in 60s\n%s", m.Name, logTail(hostDir))
	case <-ctx.Done():
		return fmt.Errorf("%s: boot: %w", m.Name, ctx.Err())
	}
}

func logTail(hostDir string) string {
	b, _ := os.ReadFile(filepath.Join(hostDir, "init.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "init.log: " + string(b)
}
