package pvesim

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// pveMounted reports whether /etc/pve is a mount point in this mount namespace.
func pveMounted() bool {
	raw, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) > 4 && fields[4] == pveDir {
			return true
		}
	}
	return false
}

// mountPVE makes /etc/pve show backing. In a sandbox it is a symlink, on a lab host a bind
// mount in the host's private mount namespace.
func (e *Env) mountPVE(backing string) error {
	if e.Sandboxed() {
		link := e.Path(pveDir)
		if target, err := os.Readlink(link); err == nil && target == backing {
			return nil
		}
		os.Remove(link)
		if err := os.Symlink(backing, link); err != nil {
			return fmt.Errorf("link %s: %w", link, err)
		}
		return nil
	}
	if err := e.unmountPVE(); err != nil {
		return err
	}
	if err := os.MkdirAll(pveDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", pveDir, err)
	}
	if err := unix.Mount(backing, pveDir, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("mount %s on %s: %w", backing, pveDir, err)
	}
	return nil
}

// unmountPVE removes every mount stacked on /etc/pve.
func (e *Env) unmountPVE() error {
	if e.Sandboxed() {
		link := e.Path(pveDir)
		if info, err := os.Lstat(link); err == nil && info.Mode()&os.ModeSymlink != 0 {
			return os.Remove(link)
		}
		return nil
	}
	for pveMounted() {
		if err := unix.Unmount(pveDir, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", pveDir, err)
		}
	}
	return nil
}

// setPVEReadOnly remounts the /etc/pve bind mount read-only or read-write: pmxcfs refuses
// writes while the cluster has no quorum.
func (e *Env) setPVEReadOnly(readOnly bool) error {
	if e.Sandboxed() || !pveMounted() {
		return nil
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND)
	if readOnly {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", pveDir, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", pveDir, err)
	}
	return nil
}
