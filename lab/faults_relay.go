package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// startRelay cuts the host's bridge ports out of their bridges and puts the delay
// relay in between (all inside the bridge namespace):
//
//	host ethN <-veth-> pveX-lN  ==relay==  pveX-dN <-veth-> pveX-pN (port of brN)
func (l *Lab) startRelay(ctx context.Context, s *state, m *machineState, ms, jitter int) error {
	if err := l.stopRelay(ctx, s, m); err != nil {
		return err
	}
	br := bridgeNetns(s.Name)
	var cmds, pairs []string
	for i := range m.Addrs {
		cmds = append(cmds,
			fmt.Sprintf("link set %s nomaster", portName(m.Name, i)),
			fmt.Sprintf("link add %s type veth peer name %s", relayName(m.Name, i), relayPort(m.Name, i)),
			fmt.Sprintf("link set %s master %s up", relayPort(m.Name, i), bridgeName(i)),
			fmt.Sprintf("link set %s up", relayName(m.Name, i)),
			fmt.Sprintf("link set %s up", portName(m.Name, i)))
		pairs = append(pairs, portName(m.Name, i)+":"+relayName(m.Name, i))
	}
	if err := ipBatch(ctx, br, cmds); err != nil {
		return err
	}
	logPath := filepath.Join(labDir(s.Name), "hosts", m.Name, "relay.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	args := append([]string{"netns", "exec", br, helperPath(s.Name), "__relay",
		"--delay", fmt.Sprint(ms), "--jitter", fmt.Sprint(jitter)}, pairs...)
	cmd := exec.Command("ip", args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	ref, err := refOf(cmd.Process.Pid)
	if err != nil {
		return fmt.Errorf("relay ended at once: %w", err)
	}
	m.Relay = &ref
	if err := waitFor(ctx, 5*time.Second, func() bool {
		b, _ := os.ReadFile(logPath)
		return strings.Contains(string(b), "relay ready") || !ref.alive()
	}); err != nil || !ref.alive() {
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("relay did not start: %v: %s", err, b)
	}
	return nil
}

// stopRelay ends the relay (by its recorded PID) and puts the ports back on the bridges.
func (l *Lab) stopRelay(ctx context.Context, s *state, m *machineState) error {
	if m.Relay != nil {
		if err := m.Relay.kill(ctx); err != nil {
			return fmt.Errorf("relay: %w", err)
		}
		m.Relay = nil
	}
	br := bridgeNetns(s.Name)
	for i := range m.Addrs {
		if _, err := run(ctx, nil, "ip", "-n", br, "link", "show", relayName(m.Name, i)); err != nil {
			continue // no relay on this link
		}
		if err := ipBatch(ctx, br, []string{
			fmt.Sprintf("link del %s", relayName(m.Name, i)),
			fmt.Sprintf("link set %s master %s up", portName(m.Name, i), bridgeName(i)),
		}); err != nil {
			return err
		}
	}
	return nil
}
