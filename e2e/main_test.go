package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

// The outer test (root namespace) and the inner scenario (inside ctl) are the same binary.
// These variables carry what the inner side needs; it runs only when innerEnv is set.
const (
	innerEnv    = "QUORATE_E2E_SCENARIO" // the scenario to run inside the controller
	clusterEnv  = "QUORATE_E2E_CLUSTER"  // the lab's cluster.yaml
	logEnv      = "QUORATE_E2E_LOG"      // where remote's JSON log goes
	passwordEnv = "PVE_ROOT_PASSWORD"    // as cluster.yaml's password_env names it
)

// needLab skips when the lab cannot run here.
func needLab(t testing.TB) {
	t.Helper()
	if os.Getenv(innerEnv) != "" {
		t.Skip("inside the controller: only the inner scenario runs")
	}
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (namespaces, mounts)")
	}
	for _, c := range []string{"/usr/sbin/corosync", "/usr/sbin/sshd", "/usr/sbin/chronyd", "ip", "nsenter", "nft", "ssh", "ssh-keygen", "go"} {
		if _, err := exec.LookPath(c); err != nil {
			t.Skipf("lab: %s missing: install the packages of .ci/deps", c)
		}
	}
}

// upLab brings up a lab of n hosts with its files in a fresh directory visible from the
// controller, and downs it when the test ends.
func upLab(t testing.TB, hosts int) *lab.Lab {
	t.Helper()
	return upLabWith(t, lab.Options{Hosts: hosts})
}

// upLabWith is upLab for a lab shaped by o (Hosts, Links, QNetd); the name, the directory
// and the stand-in binary are the test's.
func upLabWith(t testing.TB, o lab.Options) *lab.Lab {
	t.Helper()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	o.Name, o.Dir = "e"+hex.EncodeToString(b), t.TempDir()
	o.PvesimBinary, o.HelperBinary = labBinaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := lab.Up(ctx, o)
	if err != nil {
		t.Fatalf("lab Up: %v", err)
	}
	t.Logf("lab %s: Up with %d hosts took %s", o.Name, o.Hosts, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := l.Down(ctx); err != nil {
			t.Errorf("lab Down: %v", err)
		}
	})
	return l
}

// labBuilt holds the lab's own binaries (the PVE stand-in and pvelab, which carries the
// hosts' init), built once per test process rather than once per lab.
var labBuilt struct {
	once           sync.Once
	dir            string
	pvesim, helper string
	err            error
	out            []byte
}

// labBinaries builds pvesim and pvelab once; QLAB_PVESIM names a prebuilt pvesim instead.
func labBinaries(t testing.TB) (pvesim, helper string) {
	t.Helper()
	labBuilt.once.Do(func() {
		if labBuilt.dir, labBuilt.err = os.MkdirTemp("", "quorate-e2e-lab-"); labBuilt.err != nil {
			return
		}
		labBuilt.pvesim, labBuilt.helper = os.Getenv("QLAB_PVESIM"), filepath.Join(labBuilt.dir, "pvelab")
		args := []string{"build", "-o", labBuilt.helper, "github.com/quorate/quorate/lab/cmd/pvelab"}
		if labBuilt.out, labBuilt.err = exec.Command("go", args...).CombinedOutput(); labBuilt.err != nil || labBuilt.pvesim != "" {
			return
		}
		labBuilt.pvesim = filepath.Join(labBuilt.dir, "pvesim")
		args = []string{"build", "-o", labBuilt.pvesim, "github.com/quorate/quorate/lab/pvesim/cmd/pvesim"}
		labBuilt.out, labBuilt.err = exec.Command("go", args...).CombinedOutput()
	})
	if labBuilt.err != nil {
		t.Fatalf("go build the lab's binaries: %v\n%s", labBuilt.err, labBuilt.out)
	}
	return labBuilt.pvesim, labBuilt.helper
}

// runInController copies this test binary where the controller sees it and runs the named
// inner scenario there. It returns the exit status and what the scenario printed.
func runInController(t *testing.T, l *lab.Lab, scenario string, timeout time.Duration, env ...string) (int, string) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "e2e.test")
	if err := copyFile(self, bin); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+10*time.Second)
	defer cancel()
	var out bytes.Buffer
	env = append(env, innerEnv+"="+scenario)
	code, err := l.Run(ctx, "ctl", lab.Stdio{Stdout: &out, Stderr: &out, Dir: dir, Env: env},
		bin, "-test.run=^TestInController$", "-test.v", "-test.count=1", "-test.timeout="+timeout.String())
	if err != nil {
		t.Fatalf("running %s in the controller: %v\n%s", scenario, err, out.String())
	}
	return code, out.String()
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// TestInController is the inner side: it does nothing unless the outer test started this
// binary inside the controller with a scenario to run.
func TestInController(t *testing.T) {
	name := os.Getenv(innerEnv)
	if name == "" {
		t.Skip("runs only inside the lab's controller, started by an outer test")
	}
	scenario, ok := scenarios[name]
	if !ok {
		t.Fatalf("unknown scenario %q", name)
	}
	scenario(t)
}

var scenarios = map[string]func(*testing.T){
	"pve-cluster": pveClusterScenario,
}

// indent makes the inner output readable inside the outer test's log.
func indent(s string) string {
	return "\t| " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n\t| ")
}
