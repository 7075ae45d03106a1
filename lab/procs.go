package lab

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// procStat returns a process's start time (clock ticks since boot) and state letter
// from /proc/PID/stat.
func procStat(pid int) (start uint64, st byte, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// The command name may contain spaces and parentheses: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("pid %d: odd stat", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, 0, fmt.Errorf("pid %d: short stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, f[0][0], err
}

func refOf(pid int) (procRef, error) {
	start, _, err := procStat(pid)
	return procRef{PID: pid, Start: start}, err
}

// alive tells whether the recorded process still runs (a zombie counts as ended).
func (r procRef) alive() bool {
	if r.PID <= 0 {
		return false
	}
	start, st, err := procStat(r.PID)
	return err == nil && start == r.Start && st != 'Z'
}

// kill sends SIGKILL to the recorded process if it is still the same one and waits
// until it has ended.
func (r procRef) kill(ctx context.Context) error {
	if !r.alive() {
		return nil
	}
	if err := syscall.Kill(r.PID, syscall.SIGKILL); err != nil && err != syscall.ESRCH {
		return fmt.Errorf("kill %d: %w", r.PID, err)
	}
	return waitFor(ctx, 5*time.Second, func() bool { return !r.alive() })
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(ctx context.Context, limit time.Duration, cond func() bool) error {
	deadline := time.Now().Add(limit)
	for delay := time.Millisecond; ; {
		if cond() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not so after %s", limit)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// inRootNetns (same netns as the caller) guards every nsenter: entering a stale PID that now belongs to a
// root-namespace process would send "lab" traffic out of the machine's real uplink.
func inRootNetns(pid int) bool {
	a, err1 := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
	b, err2 := os.Readlink("/proc/self/ns/net") // the caller runs in the root namespace; /proc/1 may be unreadable
	return err1 != nil || err2 != nil || a == b
}
