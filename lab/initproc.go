package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// consoleEnv is the environment of everything the lab starts inside a machine, and of
// console commands: a clean login-like environment, none of the caller's.
var consoleEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/root", "LANG=C.UTF-8", "USER=root", "LOGNAME=root", "SHELL=/bin/bash",
}

// RunInit is PID 1 of a lab machine (hidden command "pvelab __init CONFIG"). It is
// started in the machine's network namespace and in fresh mount, UTS, IPC and PID
// namespaces; it builds the machine's private file system view, starts its daemons,
// reports READY (or ERROR) on fd 3 and then reaps orphans until it is killed.
func RunInit(configPath string) {
	ready := os.NewFile(3, "ready")
	unix.CloseOnExec(3) // daemons must not hold the parent's pipe open
	var c initConfig
	b, err := os.ReadFile(configPath)
	if os.Getpid() != 1 {
		// Run anywhere else, it would mount overlays over the caller's own /etc.
		err = errors.New("not PID 1 of a new PID namespace: pvelab __init is started by the lab only")
	}
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err == nil {
		err = bootMachine(c)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "init %s: %v\n", c.Name, err)
		fmt.Fprintf(ready, "ERROR %s: %v\n", c.Name, err)
		os.Exit(1) // PID 1 ends: the kernel ends the whole machine
	}
	fmt.Fprintf(os.Stderr, "init %s: ready\n", c.Name)
	fmt.Fprintln(ready, "READY")
	ready.Close()
	reapForever()
}

func bootMachine(c initConfig) error {
	step := func(what string, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	if err := step("make mounts private", unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")); err != nil {
		return err
	}
	if err := step("hostname", unix.Sethostname([]byte(c.Name))); err != nil {
		return err
	}
	if err := step("mount /proc", unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")); err != nil {
		return err
	}
	// /root comes from /etc/skel, never from the machine's own /root (whose shell start-up
	// is slow and noisy); mounted before /etc so that its lower is the real /etc/skel.
	for _, o := range []struct{ target, lower, key string }{{"/root", "/etc/skel", "root"}, {"/etc", "/etc", "etc"}, {"/var", "/var", "var"}} {
		if err := mountOverlay(c, o.target, o.lower, o.key); err != nil {
			return err
		}
	}
	if c.Role != RoleController {
		if err := bindLabDirs(c); err != nil {
			return err
		}
	}
	_ = unix.Unmount("/run/netns", unix.MNT_DETACH) // the machine's netns handles are none of ours
	if c.Fresh {
		if err := provision(c); err != nil {
			return err
		}
	}
	if err := mountTmpfs(c); err != nil {
		return err
	}
	if c.Sysfs != "" {
		if err := runStep("sysfs overlays", 10*time.Second, "/bin/sh", "-c", c.Sysfs); err != nil {
			return err
		}
	}
	if c.Role != RoleController {
		if err := runStep("sshd", 10*time.Second, "/usr/sbin/sshd", "-f", sshdConfigPath, "-E", "/var/log/sshd.log"); err != nil {
			return err
		}
	}
	if err := runStep("chronyd", 10*time.Second, "/usr/sbin/chronyd", "-x", "-f", chronyConfPath); err != nil {
		return err
	}
	if c.Boot {
		if err := runStep("pvesim boot", 30*time.Second, "/usr/local/sbin/pvesim", "boot"); err != nil {
			return err
		}
	}
	for _, svc := range c.Services {
		if err := runStep("systemctl start "+svc, 30*time.Second, "/usr/local/sbin/systemctl", "start", svc); err != nil {
			return err
		}
	}
	return nil
}

func mountOverlay(c initConfig, target, lower, key string) error {
	upper := filepath.Join(c.StateDir, "ov", key, "upper")
	work := filepath.Join(c.StateDir, "ov", key, "work")
	for _, d := range []string{upper, work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("overlay %s: %w", target, err)
		}
	}
	if target == "/root" {
		_ = os.Chmod(upper, 0o700) // the overlay's root takes the upper dir's mode
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work)
	if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("overlay %s: %w", target, err)
	}
	return nil
}

// bindLabDirs puts pvesim on the PATH and the lab-wide shared directory in place
// (CONTRACT.md), before the machine's /run hides their sources.
func bindLabDirs(c initConfig) error {
	binds := [][2]string{{c.BinDir, "/usr/local/sbin"}, {c.SharedDir, "/var/lib/pvesim-lab"}}
	if _, err := os.Stat(filepath.Join(c.BinDir, "systemctl")); err == nil {
		if _, err := os.Stat("/usr/bin/systemctl"); err == nil {
			binds = append(binds, [2]string{filepath.Join(c.BinDir, "systemctl"), "/usr/bin/systemctl"})
		}
	}
	for _, b := range binds {
		if err := os.MkdirAll(b[1], 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			if _, statErr := os.Stat(b[1]); statErr != nil {
				return fmt.Errorf("bind %s: %w", b[1], err)
			}
		}
		if err := unix.Mount(b[0], b[1], "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s on %s: %w", b[0], b[1], err)
		}
	}
	return nil
}

func provision(c initConfig) error {
	for _, g := range c.Remove {
		ms, _ := filepath.Glob(g)
		for _, m := range ms {
			if err := os.Remove(m); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove %s: %w", m, err)
			}
		}
	}
	for _, f := range c.Files {
		if err := writeFile(f); err != nil {
			return err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(c.HostKeys))
	for i, t := range c.HostKeys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runStep("ssh-keygen "+t, 20*time.Second, "ssh-keygen", "-q", "-t", t, "-b", keyBits(t), "-N", "",
				"-C", "root@"+c.Name, "-f", "/etc/ssh/ssh_host_"+t+"_key")
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if c.Password != "" {
		cmd := exec.Command("chpasswd")
		cmd.Stdin = strings.NewReader("root:" + c.Password + "\n")
		cmd.Env = consoleEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("chpasswd: %w: %s", err, out)
		}
	}
	return nil
}

func writeFile(f fileSpec) error {
	dir := filepath.Dir(f.Path)
	mode := os.FileMode(0o755)
	if filepath.Base(dir) == ".ssh" {
		mode = 0o700
	}
	if err := os.MkdirAll(dir, mode); err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	if err := os.WriteFile(f.Path, []byte(f.Content), os.FileMode(f.Mode)); err != nil {
		return fmt.Errorf("write %s: %w", f.Path, err)
	}
	return os.Chmod(f.Path, os.FileMode(f.Mode)) // WriteFile keeps an existing file's mode
}

// mountTmpfs gives the machine a fresh /run, /tmp and /dev/shm at every boot. /dev/shm
// must be private: libqb names corosync's ring buffers there by PID, and PIDs repeat
// across the machines' PID namespaces.
func mountTmpfs(c initConfig) error {
	mounts := []struct{ dir, opts string }{{"/run", "mode=0755,size=256m"}, {"/dev/shm", "mode=1777,size=256m"}}
	if c.PrivateTmp {
		mounts = append(mounts, struct{ dir, opts string }{"/tmp", "mode=1777,size=512m"})
	}
	for _, m := range mounts {
		if err := unix.Mount("tmpfs", m.dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, m.opts); err != nil {
			return fmt.Errorf("tmpfs %s: %w", m.dir, err)
		}
	}
	for _, d := range []string{"/run/sshd", "/run/lock"} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// runStep runs one start-up command to its end (daemons fork and return).
func runStep(what string, limit time.Duration, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env, cmd.Dir = consoleEnv, "/"
	out, err := cmd.CombinedOutput()
	if len(out) > 0 {
		fmt.Fprintf(os.Stderr, "%s: %s", what, out)
	}
	if err != nil {
		return fmt.Errorf("%s: %w: %s", what, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// reapForever is PID 1's duty: daemons started over ssh or the console re-parent to
// it, and their exit status must be collected.
func reapForever() {
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, unix.SIGCHLD)
	tick := time.NewTicker(5 * time.Second)
	for {
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
		select {
		case <-sigs:
		case <-tick.C:
		}
	}
}

// keyBits: 2048-bit RSA host keys; generating the default 3072 bits costs several
// times more CPU at every Up, and the size is nothing quorate looks at.
func keyBits(t string) string {
	if t == "rsa" {
		return "2048"
	}
	return "256"
}
