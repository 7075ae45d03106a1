package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPVEClusterOverSSH builds a 3-node cluster through pve.Node calls over real SSH, from
// the lab's controller, and checks that pve's parsers and classifiers agree with the stand-in
// at every step (see pveClusterScenario).
func TestPVEClusterOverSSH(t *testing.T) {
	needLab(t)
	t.Parallel() // its own lab: it need not hold up the others
	start := time.Now()
	l := upLab(t, 3)
	upTook := time.Since(start)
	pw, err := l.Password()
	if err != nil || pw == "" {
		t.Fatalf("lab password: %q, %v", pw, err)
	}
	logFile := filepath.Join(t.TempDir(), "remote.jsonl")
	innerStart := time.Now()
	code, out := runInController(t, l, "pve-cluster", 75*time.Second,
		clusterEnv+"="+l.ClusterFile(), logEnv+"="+logFile, passwordEnv+"="+pw)
	t.Logf("inner scenario in ctl (exit %d, %s):\n%s", code, time.Since(innerStart).Round(time.Millisecond), indent(out))
	if code != 0 {
		t.Errorf("the scenario in the controller failed: exit status %d", code)
	}
	if !strings.Contains(out, "--- PASS: TestInController") {
		t.Errorf("the scenario in the controller did not report PASS")
	}
	if strings.Contains(out, pw) {
		t.Errorf("the root password appears in the scenario's output")
	}

	log, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatalf("remote's log: %v", err)
	}
	if keep := os.Getenv("QUORATE_E2E_KEEP_LOG"); keep != "" {
		_ = os.WriteFile(keep, log, 0o600) // for reading after the run
	}
	if strings.Contains(string(log), pw) {
		t.Errorf("the root password appears in remote's log %s", logFile)
	}
	for _, want := range []string{`"msg":"ssh connected"`, `"msg":"remote command"`, `pvecm add`} {
		if !strings.Contains(string(log), want) {
			t.Errorf("remote's log has no %s: is it the log of the run?", want)
		}
	}
	t.Logf("figures: lab up %s, scenario %s, remote log %d records, total %s",
		upTook.Round(time.Millisecond), time.Since(innerStart).Round(time.Millisecond),
		strings.Count(string(log), "\n"), time.Since(start).Round(time.Millisecond))
}
