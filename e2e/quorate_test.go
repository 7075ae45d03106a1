package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

// The tools of the tests that drive the quorate binary: one build per test process, a run
// of quorate inside the controller, and what the hosts' own consoles say, read without any
// of quorate's parsers so that the cluster is confirmed independently of quorate's report.

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{built.dir, labBuilt.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// built is the quorate binary of this test process, in a directory the controller sees
// (the machine's /tmp is shared with it).
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

// quorateBinary builds quorate from this checkout once per test process.
func quorateBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "quorate-e2e-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "quorate")
		cmd := exec.Command("go", "build", "-o", built.path, "github.com/quorate/quorate")
		built.out, built.err = cmd.CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build quorate: %v\n%s", built.err, built.out)
	}
	return built.path
}

// quorateLab is a lab with the quorate binary, the lab's cluster file and a state directory
// (XDG_STATE_HOME) of its own, where the run logs and run directories go.
type quorateLab struct {
	*lab.Lab
	bin      string
	cluster  string // the lab's cluster.yaml
	name     string // cluster.name in it
	password string
	state    string
}

func newQuorateLab(t *testing.T, hosts int) *quorateLab {
	t.Helper()
	return newQuorateLabWith(t, lab.Options{Hosts: hosts})
}

// run is one quorate process and what it left.
type run struct {
	args           []string
	code           int
	stdout, stderr string
	took           time.Duration
}

// quorate runs the binary in the controller on the lab's cluster file, with the root
// password in the variable the file names and stdin not a terminal (empty).
func (q *quorateLab) quorate(t *testing.T, limit time.Duration, args ...string) run {
	t.Helper()
	return q.quorateWith(t, limit, q.cluster, args...)
}

func (q *quorateLab) quorateWith(t *testing.T, limit time.Duration, clusterFile string, args ...string) run {
	t.Helper()
	return q.quorateWatching(t, limit, clusterFile, nil, args...)
}

// quorateWatching is quorateWith calling onStderr with each line quorate writes to stderr,
// as it writes it: the test acts at a given moment of the run (a fault just before a join).
func (q *quorateLab) quorateWatching(t *testing.T, limit time.Duration, clusterFile string, onStderr func(line string), args ...string) run {
	t.Helper()
	return q.quorateHow(t, limit, how{clusterFile: clusterFile, onStderr: onStderr}, args...)
}

// how holds the less usual ways of running quorate, for quorateHow.
type how struct {
	clusterFile string            // default: the lab's
	onStderr    func(line string) // each line of stderr as quorate writes it
	// env replaces PVE_ROOT_PASSWORD=<the lab's password> in quorate's environment
	// (XDG_STATE_HOME stays); nil keeps it, an empty slice leaves no password at all.
	env []string
	// onStart, when set, gets quorate's PID in the controller before quorate runs, so that
	// the test can signal that process and no other (kill -s SIG PID on ctl's console).
	onStart func(pid int)
}

const pidLine = "quorate-e2e-pid "

// quorateHow is quorateWith run the way o says.
func (q *quorateLab) quorateHow(t *testing.T, limit time.Duration, o how, args ...string) run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	if o.clusterFile == "" {
		o.clusterFile = q.cluster
	}
	env := o.env
	if env == nil {
		env = []string{passwordEnv + "=" + q.password}
	}
	env = append(slices.Clip(env), "XDG_STATE_HOME="+q.state)
	argv := append([]string{q.bin, "-c", o.clusterFile}, args...)
	onLine := o.onStderr
	if o.onStart != nil {
		// sh says its PID, then becomes quorate with that PID.
		argv = append([]string{"sh", "-c", `echo "` + pidLine + `$$" >&2 && exec "$@"`, "sh"}, argv...)
		onLine = func(line string) {
			if pid, ok := strings.CutPrefix(line, pidLine); ok {
				if n, err := strconv.Atoi(pid); err == nil {
					o.onStart(n)
					return
				}
			}
			if o.onStderr != nil {
				o.onStderr(line)
			}
		}
	}
	var stdout bytes.Buffer
	stderr := &lineWatcher{onLine: onLine}
	r := run{args: args}
	start := time.Now()
	code, err := q.Run(ctx, "ctl", lab.Stdio{Stdout: &stdout, Stderr: stderr, Dir: q.state, Env: env}, argv...)
	r.code, r.stdout, r.stderr, r.took = code, stdout.String(), stderr.String(), time.Since(start)
	if o.onStart != nil {
		if first, rest, ok := strings.Cut(r.stderr, "\n"); ok && strings.HasPrefix(first, pidLine) {
			r.stderr = rest
		}
	}
	t.Logf("quorate %s: exit %d after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code,
		r.took.Round(time.Millisecond), indent(r.stdout), indent(r.stderr))
	if err != nil {
		t.Fatalf("running quorate %s in the controller: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("quorate %s still ran after %s", strings.Join(args, " "), limit)
	}
	if strings.Contains(r.stdout+r.stderr, q.password) {
		t.Errorf("quorate %s printed the root password", strings.Join(args, " "))
	}
	return r
}

// lineWatcher keeps what is written and hands each complete line to onLine.
type lineWatcher struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	partial string
	onLine  func(string)
}

func (w *lineWatcher) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if w.onLine == nil {
		return len(p), nil
	}
	w.partial += string(p)
	for {
		line, rest, ok := strings.Cut(w.partial, "\n")
		if !ok {
			break
		}
		w.partial = rest
		w.onLine(line)
	}
	return len(p), nil
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// wantCode fails the test unless the run ended with code.
func (r run) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("quorate %s: exit %d, want %d", strings.Join(r.args, " "), r.code, code)
	}
}

// wantOut checks that stream ("stdout" or "stderr") has every one of texts.
func (r run) wantOut(t *testing.T, stream string, texts ...string) {
	t.Helper()
	got := r.stdout
	if stream == "stderr" {
		got = r.stderr
	}
	for _, s := range texts {
		if !strings.Contains(got, s) {
			t.Errorf("quorate %s: %s lacks %q", strings.Join(r.args, " "), stream, s)
		}
	}
}

// console runs argv on a host's console.
func (q *quorateLab) console(t *testing.T, host string, argv ...string) lab.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := q.Exec(ctx, host, nil, argv...)
	if err != nil {
		t.Fatalf("%s: %s: %v", host, strings.Join(argv, " "), err)
	}
	return r
}

// view is a host's own view of its cluster: pvecm status for the name and the config
// version, corosync-quorumtool -s (corosync itself) for quorum, votes and membership.
type view struct {
	Name          string
	ConfigVersion int
	Quorate       bool
	Nodes         int
	Expected      int
	Total         int
	Members       []string // names, sorted
}

var field = regexp.MustCompile(`(?m)^([A-Za-z ]+):\s+(.*?)\s*$`)

func fields(text string) map[string]string {
	out := map[string]string{}
	for _, m := range field.FindAllStringSubmatch(text, -1) {
		out[m[1]] = m[2]
	}
	return out
}

// clusterView reads host's view; ok is false when the host is in no cluster (pvecm status
// fails), with why.
func (q *quorateLab) clusterView(t *testing.T, host string) (v view, ok bool, why string) {
	t.Helper()
	// Both exit 0 when quorate, 2 when not, 1 on an error (docs/pve.md §3.1).
	pvecm := q.console(t, host, "pvecm", "status")
	if pvecm.Code != 0 && pvecm.Code != 2 {
		return v, false, strings.TrimSpace(pvecm.Stdout + pvecm.Stderr)
	}
	qt := q.console(t, host, "corosync-quorumtool", "-s")
	if qt.Code != 0 && qt.Code != 2 {
		return v, false, strings.TrimSpace(qt.Stdout + qt.Stderr)
	}
	pf, cf := fields(pvecm.Stdout), fields(qt.Stdout)
	num := func(s string) int { n, _ := strconv.Atoi(s); return n }
	v = view{Name: pf["Name"], ConfigVersion: num(pf["Config Version"]), Quorate: cf["Quorate"] == "Yes",
		Nodes: num(cf["Nodes"]), Expected: num(cf["Expected votes"]), Total: num(cf["Total votes"])}
	_, members, _ := strings.Cut(qt.Stdout, "Membership information")
	for _, line := range strings.Split(members, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] != "Nodeid" {
			if _, err := strconv.Atoi(f[0]); err == nil {
				v.Members = append(v.Members, f[2])
			}
		}
	}
	slices.Sort(v.Members)
	return v, true, ""
}

// wantCluster checks that every one of hosts sees a quorate cluster q.name of exactly
// members, all voting, and that they agree on its config version, which it returns.
func (q *quorateLab) wantCluster(t *testing.T, hosts []string, members ...string) int {
	t.Helper()
	slices.Sort(members)
	versions := map[int][]string{}
	for _, h := range hosts {
		v, ok, why := q.clusterView(t, h)
		switch {
		case !ok:
			t.Errorf("%s: in no cluster: %s", h, why)
			continue
		case v.Name != q.name:
			t.Errorf("%s: cluster %q, want %q", h, v.Name, q.name)
		case !v.Quorate:
			t.Errorf("%s: not quorate: %+v", h, v)
		case v.Nodes != len(members) || !slices.Equal(v.Members, members):
			t.Errorf("%s: %d nodes %v, want %v", h, v.Nodes, v.Members, members)
		case v.Total != len(members):
			t.Errorf("%s: total votes %d, want %d", h, v.Total, len(members))
		}
		versions[v.ConfigVersion] = append(versions[v.ConfigVersion], h)
	}
	if len(versions) != 1 {
		t.Errorf("the hosts disagree on the config version: %v", versions)
	}
	for version := range versions {
		return version
	}
	return 0
}

// wantStandalone checks that host is untouched by any cluster: no cluster files, and
// pvecm status says it is part of none.
func (q *quorateLab) wantStandalone(t *testing.T, hosts ...string) {
	t.Helper()
	for _, h := range hosts {
		if _, ok, _ := q.clusterView(t, h); ok {
			t.Errorf("%s: is in a cluster, want it standalone", h)
		}
		for _, f := range []string{"/etc/pve/corosync.conf", "/etc/corosync/corosync.conf", "/etc/corosync/authkey"} {
			if r := q.console(t, h, "test", "-e", f); r.Code == 0 {
				t.Errorf("%s: %s exists, want a standalone host", h, f)
			}
		}
	}
}

// backups are the backups in every run directory (quorate-*.d) under the state directory,
// one directory per step of a run (backup/NODE/before-KIND-TIME), taken before the step's
// first change, holding the files it changes as they were.
func (q *quorateLab) backups(t *testing.T) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(q.state, "quorate", "*.d", "backup", "*", "before-*"))
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func (q *quorateLab) runLogs(t *testing.T) []string {
	t.Helper()
	logs, err := filepath.Glob(filepath.Join(q.state, "quorate", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	return logs
}

// hostNames are the lab's hosts, pve1 first.
func hostNames(n int) []string {
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, "pve"+strconv.Itoa(i))
	}
	return names
}
