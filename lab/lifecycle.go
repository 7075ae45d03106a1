package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

func (s *state) controllerKey() (pub, key string, err error) {
	keys := filepath.Join(labDir(s.Name), "keys")
	k, err1 := os.ReadFile(filepath.Join(keys, "id_ed25519"))
	p, err2 := os.ReadFile(filepath.Join(keys, "id_ed25519.pub"))
	return string(p), string(k), errors.Join(err1, err2)
}

// restart boots the host again (killing it first if it runs) with its /etc, /root and
// /var as they were; /run, /tmp and /dev/shm start empty, as after a reboot.
func (l *Lab) restart(ctx context.Context, s *state, m *machineState) error {
	if err := m.Init.kill(ctx); err != nil {
		return err
	}
	if err := powerOn(ctx, m); err != nil {
		return err
	}
	pub, key, err := s.controllerKey()
	if err != nil {
		return err
	}
	c := freshConfig(s, m, pub, key)
	c.Fresh = false
	if err := spawnInit(ctx, s, m, c); err != nil {
		return err
	}
	if err := s.save(); err != nil {
		return err
	}
	if slices.ContainsFunc(m.Faults, func(f string) bool {
		return slices.ContainsFunc(loginBlockers, func(b string) bool { return strings.HasPrefix(f, b) })
	}) {
		return l.waitListener(ctx, m.Name, 10*time.Second)
	}
	return l.waitSSH(ctx, m.Name, 10*time.Second)
}

// loginBlockers are faults under which the controller's `ssh HOST hostname` may fail
// after a restart, as it would on a real host: a dropped or lossy port 22, a .bashrc
// that talks, or a name that does not resolve (pmxcfs stays down, and root's
// authorized_keys points into the empty /etc/pve).
var loginBlockers = []string{"port-drop", "loss", "hosts-", "noisy-bashrc"}

// waitListener waits until sshd listens on the host, seen from its console.
func (l *Lab) waitListener(ctx context.Context, host string, limit time.Duration) error {
	var last Result
	var lastErr error
	err := waitFor(ctx, limit, func() bool {
		last, lastErr = l.Exec(ctx, host, nil, "ss", "-Hltn", "sport = :22")
		return lastErr == nil && last.Code == 0 && strings.TrimSpace(last.Stdout) != ""
	})
	if err != nil {
		return fmt.Errorf("lab %s: sshd does not listen on %s: %v (exit %d, err %q)", l.name, host, lastErr, last.Code,
			strings.TrimSpace(last.Stderr))
	}
	return nil
}

// reinstall puts the host back to a fresh install: its network faults are undone, its
// /etc, /root and /var changes are wiped, and it boots with new host keys, a new
// machine-id and the same name and address. The controller's known_hosts keeps the old
// keys on purpose (quorate must see a changed host key); Trust refreshes them.
func (l *Lab) reinstall(ctx context.Context, s *state, m *machineState) error {
	if err := m.Init.kill(ctx); err != nil {
		return err
	}
	if err := powerOn(ctx, m); err != nil {
		return err
	}
	if err := errors.Join(clearNetwork(ctx, m), l.stopRelay(ctx, s, m)); err != nil {
		return err
	}
	if err := relink(ctx, m, linkShape{}); err != nil {
		return err
	}
	m.Faults = nil // the fresh install's config (freshConfig) has none of them
	if err := os.RemoveAll(filepath.Join(labDir(s.Name), "hosts", m.Name, "ov")); err != nil {
		return err
	}
	pub, key, err := s.controllerKey()
	if err != nil {
		return err
	}
	if err := spawnInit(ctx, s, m, freshConfig(s, m, pub, key)); err != nil {
		return err
	}
	return s.save()
}
