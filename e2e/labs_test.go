package e2e

import (
	"os"
	"regexp"
	"testing"

	"github.com/quorate/quorate/lab"
)

// newQuorateLabWith is newQuorateLab for a lab shaped by o (see upLabWith): two links, more
// hosts, a QDevice host.
func newQuorateLabWith(t *testing.T, o lab.Options) *quorateLab {
	t.Helper()
	return quorateLabOn(t, upLabWith(t, o), quorateBinary(t))
}

// quorateLabOn is the quorateLab of a lab that is up, with the quorate binary bin; the
// benchmarks, which have no *testing.T for quorateBinary, bring their own.
func quorateLabOn(t testing.TB, l *lab.Lab, bin string) *quorateLab {
	t.Helper()
	pw, err := l.Password()
	if err != nil || pw == "" {
		t.Fatalf("lab password: %q, %v", pw, err)
	}
	data, err := os.ReadFile(l.ClusterFile())
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s+name:\s*(\S+)`).FindSubmatch(data)
	if m == nil {
		t.Fatalf("no cluster name in %s", l.ClusterFile())
	}
	return &quorateLab{Lab: l, bin: bin, cluster: l.ClusterFile(), name: string(m[1]), password: pw, state: t.TempDir()}
}
