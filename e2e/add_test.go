package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

// TestAddToHandBuiltCluster: pve1, pve2 and pve3 made a cluster by hand with pvecm; the
// cluster file lists pve1, pve2, pve4 and pve5, not pve3. `quorate add pve4 pve5` learns the
// cluster from a member, reports pve3 and leaves it alone, and joins both, each verified.
func TestAddToHandBuiltCluster(t *testing.T) {
	needLab(t)
	t.Parallel()
	q := newQuorateLabWith(t, lab.Options{Hosts: 5})
	hosts := hostNames(5)
	done := timed(t, "build pve1-pve3 by hand with pvecm")
	q.consoleIn(t, "pve1", "", "pvecm", "create", q.name)
	eventually(t, "pve1 quorate", time.Minute, func(_ context.Context) (bool, string) {
		v, ok, why := q.clusterView(t, "pve1")
		return ok && v.Quorate, why
	})
	for _, h := range []string{"pve2", "pve3"} {
		q.consoleIn(t, h, q.password+"\nyes\n", "pvecm", "add", "198.51.100.11")
	}
	q.wantCluster(t, hosts[:3], hosts[:3]...)
	done()
	file := clusterFileWithout(t, q.cluster, "pve3")

	r := q.quorateWith(t, 4*time.Minute, file, "add", "--yes", "pve4", "pve5")
	r.wantCode(t, 0)
	r.wantOut(t, "stdout",
		"Plan for cluster "+q.name+": add pve4 pve5",
		"pve3: a member of "+q.name+" that cluster.yaml does not list", "not touched",
		"1. join pve4 to "+q.name+" through pve1", "votes 3 -> 4, quorum 2 -> 3, members: pve1 pve2 pve4 (and pve3, not in cluster.yaml)",
		"2. join pve5 to "+q.name+" through pve1", "votes 4 -> 5, quorum 3 -> 3",
		"ok  join pve4", "ok  join pve5",
		"cluster "+q.name+" is quorate with 5 members, every one verified")
	q.wantCluster(t, hosts, hosts...)
	q.wantNotTouched(t, "198.51.100.13")

	t.Run("add again changes nothing", func(t *testing.T) {
		before := q.wantCluster(t, hosts[:1], hosts...)
		r := q.quorateWith(t, 2*time.Minute, file, "add", "--yes", "pve4", "pve5")
		r.wantCode(t, 0)
		r.wantOut(t, "stdout", "already done, skipped: pve4, pve5", "nothing to do", "is quorate with 5 members")
		if after := q.wantCluster(t, hosts[:1], hosts...); after != before {
			t.Errorf("config version %d after a second add, was %d", after, before)
		}
	})
	t.Run("a node the file lacks is a usage error", func(t *testing.T) {
		r := q.quorateWith(t, time.Minute, file, "add", "--yes", "pve3")
		r.wantCode(t, 2)
		r.wantOut(t, "stderr", "pve3 is not a node of")
	})
}

// wantNotTouched checks the run logs: quorate never connected to addr nor ran a command there.
func (q *quorateLab) wantNotTouched(t *testing.T, addr string) {
	t.Helper()
	for _, path := range q.runLogs(t) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(data), "host="+addr) || strings.Contains(string(data), `"host":"`+addr+`"`) {
			t.Errorf("%s: quorate reached %s, which it must leave alone", filepath.Base(path), addr)
		}
	}
}

// clusterFileWithout writes a copy of the cluster file without the named nodes (and, with
// "qdevice", without its qdevice section).
func clusterFileWithout(t *testing.T, path string, drop ...string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for _, d := range drop {
		re := regexp.MustCompile(`(?m)^  - name: ` + regexp.QuoteMeta(d) + `\n(    .*\n)*`)
		if d == "qdevice" {
			re = regexp.MustCompile(`(?m)^qdevice:\n(  .*\n?)*`)
		}
		if !re.MatchString(text) {
			t.Fatalf("%s has no %s", path, d)
		}
		text = re.ReplaceAllString(text, "")
	}
	cf := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(cf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return cf
}
