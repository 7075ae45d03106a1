package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Up brings up a lab: controller, hosts, bridge, sshd everywhere, known_hosts filled,
// ssh from the controller checked. A lab of the same name left by an aborted run, and
// every lab whose owning process has died, is removed first.
func Up(ctx context.Context, o Options) (*Lab, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("lab %s: must run as root (namespaces, mounts)", o.Name)
	}
	if err := checkRootOverlap(ctx); err != nil {
		return nil, err
	}
	if o.Dir != "" {
		if o.Dir, err = filepath.Abs(o.Dir); err != nil {
			return nil, err
		}
		for _, private := range []string{"/root", "/run", "/etc", "/var"} {
			if o.Dir == private || strings.HasPrefix(o.Dir, private+"/") {
				return nil, fmt.Errorf("lab %s: Dir %s is under %s, which the controller does not share: quorate could not read its files", o.Name, o.Dir, private)
			}
		}
	}
	reclaimOrphans(ctx)
	if err := downByName(ctx, o.Name); err != nil {
		return nil, fmt.Errorf("lab %s: removing the previous lab: %w", o.Name, err)
	}
	s, err := createLab(o)
	if err != nil {
		return nil, err
	}
	l := &Lab{name: o.Name}
	if err := l.bringUp(ctx, s, o); err != nil {
		derr := downByName(context.WithoutCancel(ctx), o.Name)
		return nil, errors.Join(err, derr)
	}
	return l, nil
}

// createLab makes the lab's tmpfs and its first record, so that even a lab that fails
// half-way can be found and removed.
func createLab(o Options) (*state, error) {
	dir := labDir(o.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := unix.Mount("quorate-lab-"+o.Name, dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700,size=8g"); err != nil {
		return nil, fmt.Errorf("lab %s: tmpfs: %w", o.Name, err)
	}
	// Private: later mounts here must not show up in the machines' mount namespaces.
	if err := unix.Mount("", dir, "", unix.MS_PRIVATE, ""); err != nil {
		return nil, fmt.Errorf("lab %s: tmpfs: %w", o.Name, err)
	}
	s := &state{Name: o.Name, Created: time.Now().UTC(), Dir: o.Dir, Password: newPassword(), Links: o.Links}
	if !o.Detached {
		owner, err := refOf(os.Getpid())
		if err != nil {
			return nil, err
		}
		s.Owner = &owner
	}
	for _, h := range machinesFor(o.Hosts, o.Links, o.QNetd) {
		m := machineState{Host: h, Netns: netnsName(o.Name, h.Name), Links: linksOf(h)}
		s.Machines = append(s.Machines, m)
	}
	return s, s.save()
}

func (l *Lab) bringUp(ctx context.Context, s *state, o Options) error {
	clock := newStepClock(s.Name)
	if err := prepareBinaries(ctx, s.Name, o); err != nil {
		return err
	}
	clock.step("binaries")
	keys := filepath.Join(labDir(s.Name), "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return err
	}
	if _, err := run(ctx, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "quorate-lab-"+s.Name,
		"-f", filepath.Join(keys, "id_ed25519")); err != nil {
		return err
	}
	key, err1 := os.ReadFile(filepath.Join(keys, "id_ed25519"))
	pub, err2 := os.ReadFile(filepath.Join(keys, "id_ed25519.pub"))
	if err := errors.Join(err1, err2); err != nil {
		return err
	}
	if err := buildNetwork(ctx, s); err != nil {
		return err
	}
	clock.step("network")
	// Configs read every machine's state; build them all before any spawn writes its own.
	configs := make([]initConfig, len(s.Machines))
	for i := range s.Machines {
		configs[i] = freshConfig(s, &s.Machines[i], string(pub), string(key))
	}
	var wg sync.WaitGroup
	errs := make([]error, len(s.Machines))
	for i := range s.Machines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = spawnInit(ctx, s, &s.Machines[i], configs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(s.save(), errors.Join(errs...)); err != nil {
		return err
	}
	clock.step("boot machines")
	if err := l.refreshKnownHosts(ctx, s, nil); err != nil {
		return err
	}
	clock.step("known_hosts")
	if err := l.checkSSH(ctx, s); err != nil {
		return err
	}
	clock.step("ssh check")
	if s.Dir != "" {
		return writeLabFiles(s)
	}
	return nil
}

// checkSSH logs into every host from the controller, as quorate will.
func (l *Lab) checkSSH(ctx context.Context, s *state) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	for _, m := range s.Machines {
		if m.Role == RoleController {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := l.waitSSH(ctx, m.Name, 10*time.Second)
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitSSH waits until host answers `hostname` over ssh from the controller.
func (l *Lab) waitSSH(ctx context.Context, host string, limit time.Duration) error {
	var last Result
	var lastErr error
	err := waitFor(ctx, limit, func() bool {
		last, lastErr = l.SSH(ctx, host, "hostname")
		return lastErr == nil && last.Code == 0 && strings.TrimSpace(last.Stdout) == host
	})
	if err != nil {
		return fmt.Errorf("lab %s: ssh %s from ctl: %v (exit %d, out %q, err %q)", l.name, host, lastErr, last.Code,
			strings.TrimSpace(last.Stdout), strings.TrimSpace(last.Stderr))
	}
	return nil
}
