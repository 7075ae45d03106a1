package lab

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// labTraces lists what of the lab can be seen from the root namespace: its network
// namespaces, mounts and recorded processes.
func labTraces(t *testing.T, name string, pids []procRef) []string {
	t.Helper()
	var found []string
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, netnsName(name, "")) {
			found = append(found, "netns "+line)
		}
	}
	mounts, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(mounts), "\n") {
		if strings.Contains(line, labDir(name)) || strings.Contains(line, netnsName(name, "")) {
			found = append(found, "mount "+line)
		}
	}
	for _, p := range pids {
		if p.alive() {
			found = append(found, "process "+p.String())
		}
	}
	if _, err := os.Stat(labDir(name)); err == nil {
		found = append(found, "dir "+labDir(name))
	}
	return found
}

func (r procRef) String() string { return fmt.Sprintf("pid %d", r.PID) }

func recordedPIDs(t *testing.T, name string) []procRef {
	t.Helper()
	s, err := loadState(name)
	if err != nil {
		t.Fatal(err)
	}
	var refs []procRef
	for _, m := range s.Machines {
		refs = append(refs, m.Init)
		if m.Relay != nil {
			refs = append(refs, *m.Relay)
		}
	}
	return refs
}

func TestDownLeavesNothing(t *testing.T) {
	t.Parallel()
	needLab(t)
	o := testOptions(t, Options{Hosts: 2, Links: 2, Dir: t.TempDir()})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, err := Up(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Down(context.Background())
	// A relay runs in the root PID namespace: Down must end it too.
	if err := l.Fault(ctx, "pve1", "delay", "5"); err != nil {
		t.Fatal(err)
	}
	// Nothing of the running lab is in the root network namespace: no address or route
	// in its ranges, no veth or relay interface (a br0 may be the machine's own).
	if err := checkRootOverlap(ctx); err != nil {
		t.Errorf("while the lab runs: %v", err)
	}
	links, err := exec.Command("ip", "-o", "link", "show").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(links), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		name, _, _ := strings.Cut(strings.TrimSuffix(f[1], ":"), "@")
		for _, m := range []string{"ctl", "pve1", "pve2"} {
			for i := range 2 {
				if name == portName(m, i) || name == relayName(m, i) || name == relayPort(m, i) {
					t.Errorf("lab interface %s in the root network namespace", name)
				}
			}
		}
	}
	pids := recordedPIDs(t, o.Name)
	if len(pids) != 4 {
		t.Fatalf("recorded %d processes, want ctl, 2 hosts and a relay", len(pids))
	}
	if got := labTraces(t, o.Name, pids); len(got) < 5 {
		t.Fatalf("a running lab should be visible; saw %q", got)
	}
	if err := l.Down(ctx); err != nil {
		t.Fatal(err)
	}
	if got := labTraces(t, o.Name, pids); len(got) > 0 {
		t.Errorf("after Down: %q", got)
	}
	if ents, _ := os.ReadDir(o.Dir); len(ents) > 0 {
		t.Errorf("after Down, %s still holds %d files", o.Dir, len(ents))
	}
	if err := l.Down(ctx); err != nil {
		t.Errorf("second Down: %v", err)
	}
}

// TestStaleLabsAreRemoved: Up replaces a lab of the same name, and removes labs whose
// owning process has died.
func TestStaleLabsAreRemoved(t *testing.T) {
	t.Parallel()
	needLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	first := testOptions(t, Options{Hosts: 1})
	if _, err := Up(ctx, first); err != nil {
		t.Fatal(err)
	}
	firstPIDs := recordedPIDs(t, first.Name)
	again, err := Up(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range firstPIDs {
		if p.alive() {
			t.Errorf("Up of the same name left process %d of the old lab", p.PID)
		}
	}
	// Make the lab look owned by a process that has died.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	s, err := loadState(first.Name)
	if err != nil {
		t.Fatal(err)
	}
	s.Owner = &procRef{PID: dead.Process.Pid, Start: 1}
	if err := s.save(); err != nil {
		t.Fatal(err)
	}
	orphanPIDs := recordedPIDs(t, first.Name)
	other := upLab(t, Options{Hosts: 1})
	_ = other
	if got := labTraces(t, first.Name, orphanPIDs); len(got) > 0 {
		t.Errorf("the orphaned lab survived the next Up: %q", got)
	}
	_ = again.Down(ctx)
}
