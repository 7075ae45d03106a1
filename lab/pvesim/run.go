package pvesim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Paths of a PVE node, as on a real host.
const (
	pveDir              = "/etc/pve"
	clusterConfPath     = "/etc/pve/corosync.conf"
	corosyncDir         = "/etc/corosync"
	localCorosyncConf   = "/etc/corosync/corosync.conf"
	authKeyPath         = "/etc/corosync/authkey"
	pveLibDir           = "/var/lib/pve-cluster"
	localDBDir          = "/var/lib/pve-cluster/local"
	clusterIDPath       = "/var/lib/pve-cluster/cluster-id"
	sharedClustersDir   = "/var/lib/pvesim-lab/clusters"
	stateDir            = "/run/pvesim"
	quorateStatePath    = "/run/pvesim/quorate"
	hostLocalLink       = "/run/pvesim/pve-local"
	pvecmLockPath       = "/var/lock/pvecm.lock"
	versionOverridePath = "/etc/pvesim/version-override"
)

// command runs an external program with the environment's PATH.
func (e *Env) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.LookPath(name), args...)
	cmd.Env = append(os.Environ(), "PATH="+strings.Join(e.PathDirs, ":"))
	if e.Root != "" {
		cmd.Env = append(cmd.Env, "PVESIM_ROOT="+e.Root)
	}
	return cmd
}

// runQuiet runs a program and returns its exit code and combined output; a program that
// cannot be started counts as exit code 127.
func (e *Env) runQuiet(ctx context.Context, name string, args ...string) (int, string) {
	cmd := e.command(ctx, name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	return exitCode(cmd.Run()), out.String()
}

// runPassthrough runs a program with this command's stdout and stderr, as Perl's exec or
// run_command without output handlers do.
func (e *Env) runPassthrough(ctx context.Context, name string, args ...string) int {
	cmd := e.command(ctx, name, args...)
	cmd.Stdin = e.Stdin
	cmd.Stdout = e.Stdout
	cmd.Stderr = e.Stderr
	return exitCode(cmd.Run())
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if exitErr.ExitCode() >= 0 {
			return exitErr.ExitCode()
		}
		return 128 + 9
	}
	return 127
}

// writeFileAtomic writes via a temporary file and rename, as PVE's file_set_contents does.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	tmp := fmt.Sprintf("%s.tmp.%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func fileExists(path string) bool {
	info, err := os.Stat(path)
	return err == nil && !info.IsDir()
}

// readPID reads a pid file and reports whether that process is alive.
func readPID(path string) (int, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
		return pid, false
	}
	// A zombie is not alive for our purposes.
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		if fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(fields) > 0 && fields[0] == "Z" {
			return pid, false
		}
	}
	return pid, true
}

// pollUntil calls check every interval until it returns true or the deadline passes.
func pollUntil(ctx context.Context, timeout, interval time.Duration, check func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if check() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(interval):
		}
	}
}
