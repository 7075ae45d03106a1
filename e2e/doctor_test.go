package e2e

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDoctorAndReport: one cluster built by quorate up, then doctor and report on it healthy,
// then one fault at a time (each undone before the next, the crash last): 20 % loss on pve3,
// pve3 given a newer corosync.conf by hand, pve3 crashed, then pve2 too.
func TestDoctorAndReport(t *testing.T) {
	needLab(t)
	t.Parallel()
	q := newQuorateLab(t, 3)
	hosts := hostNames(3)
	if !t.Run("up", func(t *testing.T) {
		q.quorate(t, 3*time.Minute, "up", "--yes").wantCode(t, 0)
		q.wantCluster(t, hosts, hosts...)
	}) {
		t.FailNow()
	}
	// The admin's own configuration: an NFS server on the corosync network (the controller),
	// the default local storages, and no migration network.
	q.consoleIn(t, "pve1", labStorageCfg, "sh", "-c", "cat > /etc/pve/storage.cfg")

	t.Run("healthy: no error", func(t *testing.T) {
		d := q.doctorJSON(t, 0)
		for _, f := range d.Findings {
			if f.Severity == "error" {
				t.Errorf("an error on a healthy cluster: %s %s: %s", f.Check, f.Node, f.Message)
			}
		}
		if !d.OK || len(d.Members) != 3 {
			t.Errorf("doctor JSON: ok %v, %d members", d.OK, len(d.Members))
		}
		for _, m := range d.Members {
			if m.State != "quorate" {
				t.Errorf("%s: %s", m.Node, m.State)
			}
		}
		// The NFS server shares link0's NIC: a warning that names both.
		d.want(t, "storage-network", "warning", "pve1", "NFS server 198.51.100.100 (storage nas-backup) is reached by vmbr0 (eno1), which carries corosync's link0")
		d.want(t, "link-redundancy", "warning", "", "one corosync link (link0)")
	})

	t.Run("report", func(t *testing.T) {
		dir := t.TempDir()
		r := q.quorate(t, time.Minute, "report", "--out", filepath.Join(dir, "lab.md"))
		r.wantCode(t, 0)
		r.wantOut(t, "stdout", "wrote "+filepath.Join(dir, "lab.md")+" and "+filepath.Join(dir, "lab.svg"))
		md, svg := readFile(t, filepath.Join(dir, "lab.md")), readFile(t, filepath.Join(dir, "lab.svg"))
		e2eGolden(t, "report-lab.md", q.mask(t, md))
		texts := svgText(t, svg)
		for _, h := range hosts {
			if !strings.Contains(texts, h) {
				t.Errorf("the diagram does not name %s", h)
			}
		}

		r = q.quorate(t, time.Minute, "report", "--redact", "--out", filepath.Join(dir, "public.md"))
		r.wantCode(t, 0)
		pub, pubSVG := readFile(t, filepath.Join(dir, "public.md")), readFile(t, filepath.Join(dir, "public.svg"))
		svgText(t, pubSVG)
		for _, v := range q.realValues(t) {
			re := regexp.MustCompile(`(^|[^A-Za-z0-9.])` + regexp.QuoteMeta(v) + `($|[^A-Za-z0-9])`)
			for name, text := range map[string]string{"public.md": pub, "public.svg": pubSVG} {
				if re.MatchString(text) {
					t.Errorf("%s contains the lab's %q", name, v)
				}
			}
		}
		if !strings.Contains(pub, "| node3 | 3 | 1 | voting member |") {
			t.Errorf("the redacted report has no node3 row:\n%s", pub)
		}
	})

	t.Run("20 % loss on pve3: doctor names pve3's links", func(t *testing.T) {
		q.fault(t, "pve3", "loss", "20")
		defer q.fault(t, "pve3", "clear")
		deadline := time.Now().Add(90 * time.Second)
		for {
			time.Sleep(5 * time.Second) // let knet count the loss
			d := q.doctorJSON(t, -1, "--watch", "4s")
			f := d.find("corosync-links", "pve3", "link0 of pve3")
			if f != nil && f.Severity != "pass" {
				if !strings.Contains(f.Message, "to pve1") || !strings.Contains(f.Message, "to pve2") {
					t.Errorf("the finding does not name both of pve3's links: %s", f.Message)
				}
				for _, g := range d.Findings {
					if g.Check == "corosync-links" && g.Severity != "pass" && g.Node != "pve3" {
						t.Errorf("a link problem blamed on %s: %s", g.Node, g.Message)
					}
				}
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("doctor did not name pve3's links within 90 s of 20 %% loss; corosync-links: %v", d.messages("corosync-links"))
			}
		}
	})
	q.waitLinksUp(t, hosts)

	t.Run("pve3 given a newer corosync.conf: a split-brain finding", func(t *testing.T) {
		edit := q.console(t, "pve3", "sh", "-c", "sed -i 's/config_version: 3/config_version: 4/' /etc/corosync/corosync.conf && corosync-cfgtool -R")
		if edit.Code != 0 {
			t.Logf("the edit on pve3: exit %d: %s%s", edit.Code, edit.Stdout, edit.Stderr)
		}
		defer q.console(t, "pve3", "sh", "-c", "sed -i 's/config_version: 4/config_version: 3/' /etc/corosync/corosync.conf && corosync-cfgtool -R")
		d := q.doctorJSON(t, 3)
		d.want(t, "membership", "error", "pve3", "config version 4", "/etc/pve/corosync.conf has 3", "split-brain sign")
	})

	t.Run("crashed nodes: the quorum arithmetic, no hang", func(t *testing.T) {
		q.fault(t, "pve3", "crash")
		start := time.Now()
		r := q.quorate(t, time.Minute, "doctor")
		r.wantCode(t, 3)
		if took := time.Since(start); took > 30*time.Second {
			t.Errorf("doctor took %s with a crashed node", took)
		}
		r.wantOut(t, "stdout", "pve3 is offline as pve1 sees it: the cluster is quorate, but no further node may fail",
			"3 nodes: 3 expected votes, quorum 2", "ERROR   pve3 ssh-access")

		q.fault(t, "pve2", "crash")
		time.Sleep(3 * time.Second) // corosync on pve1 notices within its token timeout
		d := q.doctorJSON(t, 3)
		d.want(t, "quorum", "error", "pve1", "pve1 is not quorate: it has 1 vote of 3 expected and needs 2", "cannot see pve2 and pve3", "/etc/pve is read-only on pve1")
		d.want(t, "pmxcfs-writable", "error", "pve1", "read-only")
	})
}

const labStorageCfg = `dir: local
	path /var/lib/vz
	content iso,vztmpl,backup

lvmthin: local-lvm
	thinpool data
	vgname pve
	content rootdir,images

nfs: nas-backup
	path /mnt/pve/nas-backup
	server 198.51.100.100
	export /srv/backup
	content backup,images
`

// doctorReport is the part of `quorate doctor --output json` the tests read.
type doctorReport struct {
	Schema  string `json:"schema"`
	OK      bool   `json:"ok"`
	Members []struct {
		Node  string `json:"node"`
		State string `json:"state"`
	} `json:"members"`
	Findings []doctorFinding `json:"findings"`
}

type doctorFinding struct {
	Check    string `json:"check"`
	Node     string `json:"node"`
	Severity string `json:"severity"`
	Message  string `json:"message"`
	Fix      string `json:"fix"`
}

// doctorJSON runs doctor with --output json; code -1 accepts 0 or 3.
func (q *quorateLab) doctorJSON(t *testing.T, code int, args ...string) doctorReport {
	t.Helper()
	r := q.quorate(t, 2*time.Minute, append([]string{"doctor", "--output", "json"}, args...)...)
	if code >= 0 {
		r.wantCode(t, code)
	} else if r.code != 0 && r.code != 3 {
		t.Fatalf("doctor: exit %d", r.code)
	}
	var d doctorReport
	if err := json.Unmarshal([]byte(r.stdout), &d); err != nil || d.Schema != "quorate-doctor/v1" {
		t.Fatalf("doctor JSON (%v): %s", err, r.stdout)
	}
	return d
}

func (d doctorReport) find(check, node string, texts ...string) *doctorFinding {
	for i, f := range d.Findings {
		if f.Check != check || f.Node != node {
			continue
		}
		ok := true
		for _, s := range texts {
			ok = ok && strings.Contains(f.Message, s)
		}
		if ok {
			return &d.Findings[i]
		}
	}
	return nil
}

func (d doctorReport) want(t *testing.T, check, severity, node string, texts ...string) {
	t.Helper()
	f := d.find(check, node, texts...)
	switch {
	case f == nil:
		t.Errorf("no %s finding on %q with %q; %s: %v", check, node, texts, check, d.messages(check))
	case f.Severity != severity:
		t.Errorf("%s on %q is a %s, want %s: %s", check, node, f.Severity, severity, f.Message)
	case severity != "pass" && f.Fix == "":
		t.Errorf("%s on %q has no fix", check, node)
	}
}

func (d doctorReport) messages(check string) []string {
	var out []string
	for _, f := range d.Findings {
		if f.Check == check {
			out = append(out, f.Severity+" "+f.Node+": "+f.Message)
		}
	}
	return out
}

func (q *quorateLab) fault(t *testing.T, host, kind string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := q.Fault(ctx, host, kind, args...); err != nil {
		t.Fatalf("fault %s %s: %v", host, kind, err)
	}
}

// consoleIn runs argv on a host's console with stdin.
func (q *quorateLab) consoleIn(t *testing.T, host, stdin string, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := q.Exec(ctx, host, strings.NewReader(stdin), argv...)
	if err != nil || r.Code != 0 {
		t.Fatalf("%s: %s: %v %d %s", host, strings.Join(argv, " "), err, r.Code, r.Stderr)
	}
}

// waitLinksUp waits until every host's corosync sees every peer connected again.
func (q *quorateLab) waitLinksUp(t *testing.T, hosts []string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		up := true
		for _, h := range hosts {
			r := q.console(t, h, "corosync-cfgtool", "-s")
			up = up && r.Code == 0 && strings.Count(r.Stdout, "connected") == len(hosts)-1 && !strings.Contains(r.Stdout, "disconnected")
		}
		if up {
			return
		}
		time.Sleep(time.Second)
	}
	t.Fatalf("corosync links still down a minute after the fault was cleared")
}

// mask replaces what differs from one lab to the next: the lab's cluster name, each host's
// addresses (and the controller's, the NFS server), the time of writing and knet's measured latencies.
func (q *quorateLab) mask(t *testing.T, s string) string {
	t.Helper()
	hosts, err := q.Hosts()
	if err != nil {
		t.Fatal(err)
	}
	if ctl, err := q.Controller(); err == nil {
		hosts = append(hosts, ctl)
	}
	for _, h := range hosts {
		for i, a := range h.Addrs {
			s = regexp.MustCompile(`\b`+regexp.QuoteMeta(a)+`\b`).ReplaceAllString(s, "{"+h.Name+"-link"+string(rune('0'+i))+"}")
		}
	}
	s = strings.ReplaceAll(s, q.name, "{cluster}")
	s = regexp.MustCompile(`on \d{4}-\d\d-\d\d \d\d:\d\d UTC`).ReplaceAllString(s, "on {date}")
	s = regexp.MustCompile(`\d+\.\d\d ms`).ReplaceAllString(s, "{ms}")
	return s
}

// realValues are the lab's addresses and host names: a redacted report has none of them.
func (q *quorateLab) realValues(t *testing.T) []string {
	t.Helper()
	hosts, err := q.Hosts()
	if err != nil {
		t.Fatal(err)
	}
	vals := []string{q.name, "198.51.100.100", "lab.test", "198.51.100.0/24"}
	for _, h := range hosts {
		vals = append(vals, h.Name)
		vals = append(vals, h.Addrs...)
	}
	return vals
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// svgText parses an SVG as XML and returns its text.
func svgText(t *testing.T, svg string) string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(svg))
	var b strings.Builder
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatalf("the SVG does not parse as XML: %v", err)
		}
		if cd, ok := tok.(xml.CharData); ok {
			b.Write(cd)
			b.WriteString("\n")
		}
	}
}

var updateGolden = flag.Bool("update", false, "rewrite e2e/testdata goldens")

// e2eGolden compares got with e2e/testdata/name; -update rewrites it.
func e2eGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -run %s -update writes it)", err, t.Name())
	}
	if string(want) != got {
		t.Errorf("%s differs (-update rewrites it):\n%s", name, got)
	}
}
