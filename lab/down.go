package lab

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Down ends the lab: every machine (SIGKILL of its PID 1 by recorded PID ends all of
// its processes and mounts), the delay relays, the network namespaces, the lab's
// tmpfs and the files written to Dir. Safe to call twice.
func (l *Lab) Down(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return downByName(ctx, l.name)
}

// DownByName removes the lab of that name, running or left over by a dead process.
func DownByName(ctx context.Context, name string) error {
	if !labNameRE.MatchString(name) {
		return fmt.Errorf("lab name %q: want 1 to 8 of [a-z0-9]", name)
	}
	return downByName(ctx, name)
}

func downByName(ctx context.Context, name string) error {
	var errs []error
	s, err := loadState(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, err)
	}
	netns := stragglerNetns(ctx, name)
	if s != nil {
		for _, m := range s.Machines {
			if m.Relay != nil {
				errs = append(errs, m.Relay.kill(ctx))
			}
			errs = append(errs, m.Init.kill(ctx))
		}
		netns = append(s.Netns, netns...)
	}
	// Whatever still runs in the lab's own network namespaces (a probe, a process of a
	// machine whose PID 1 was never recorded) belongs to the lab.
	for _, ns := range netns {
		errs = append(errs, killNetnsProcs(ctx, ns))
	}
	for _, ns := range netns {
		if _, err := run(ctx, nil, "ip", "netns", "del", ns); err != nil && !strings.Contains(err.Error(), "No such file") {
			errs = append(errs, err)
		}
	}
	dir := labDir(name)
	for i := 0; i < 4; i++ {
		if err := unix.Unmount(dir, 0); err != nil {
			if err == unix.EBUSY {
				err = unix.Unmount(dir, unix.MNT_DETACH)
			}
			if err != nil {
				break // EINVAL: not (or no longer) a mount point
			}
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if s != nil && s.Dir != "" {
		errs = append(errs, removeLabFiles(s.Dir))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s: down: %w", name, err)
	}
	return nil
}

// stragglerNetns lists network namespaces named for this lab (made by an Up whose
// record was lost).
func stragglerNetns(ctx context.Context, name string) []string {
	out, err := run(ctx, nil, "ip", "netns", "list")
	if err != nil {
		return nil
	}
	var ns []string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && strings.HasPrefix(f[0], netnsName(name, "")) {
			ns = append(ns, f[0])
		}
	}
	return ns
}

func killNetnsProcs(ctx context.Context, ns string) error {
	out, err := run(ctx, nil, "ip", "netns", "pids", ns)
	if err != nil {
		return nil // gone already
	}
	var refs []procRef
	for _, f := range strings.Fields(out) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if ref, err := refOf(pid); err == nil {
			refs = append(refs, ref)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return waitFor(ctx, 5*time.Second, func() bool {
		for _, r := range refs {
			if r.alive() {
				return false
			}
		}
		return true
	})
}

// reclaimOrphans removes every lab whose owning process (a test) has died.
func reclaimOrphans(ctx context.Context) {
	ents, err := os.ReadDir(stateRoot)
	if err != nil {
		return
	}
	for _, e := range ents {
		s, err := loadState(e.Name())
		if err != nil || s.Owner == nil || s.Owner.alive() {
			continue
		}
		if err := downByName(ctx, s.Name); err != nil {
			fmt.Fprintf(os.Stderr, "lab: reclaiming lab %s of dead process %d: %v\n", s.Name, s.Owner.PID, err)
		}
	}
}
