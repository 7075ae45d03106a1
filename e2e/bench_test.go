package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quorate/quorate/lab"
)

// Benchmarks of the quorate binary in the lab, measured inside the controller as a user's
// shell would: `quorate preflight` beside the floor of plain OpenSSH (one command per host,
// all hosts at once) with the SSH connections and sessions per host from the run log; and
// `quorate up` on fresh hosts, split into the time inside pvecm create/add on the hosts, the
// verification after each step and quorate's own overhead. bench/run runs them (-benchtime=3x).
//

// BenchmarkPreflight: the whole preflight on 3, 7 and 15 hosts (15 with two links).
func BenchmarkPreflight(b *testing.B) {
	bin := benchBinary(b)
	for _, size := range []struct {
		name string
		o    lab.Options
	}{
		{"hosts=3", lab.Options{Hosts: 3}},
		{"hosts=7", lab.Options{Hosts: 7}},
		{"hosts=15,links=2", lab.Options{Hosts: 15, Links: 2}},
	} {
		b.Run(size.name, func(b *testing.B) {
			q := benchLab(b, bin, size.o)
			floorArgs := q.floorArgs(b)
			dir := b.TempDir()
			// One of each first: sshd's first fork and cold caches are not the figures.
			q.timedInCtl(b, nil, "", floorArgs...)
			q.benchPreflight(b, dir, 0)
			var wall, floor, inRun time.Duration
			var conns, sessions float64
			errs, i := 0, 0
			for b.Loop() {
				i++
				floor += q.timedInCtl(b, nil, "", floorArgs...)
				p := q.benchPreflight(b, dir, i)
				wall += p.wall
				inRun += p.report
				conns, sessions, errs = max(conns, p.conns), max(sessions, p.sessions), errs+p.errors
			}
			n := float64(i)
			b.ReportMetric(ms(wall)/n, "preflight-ms")
			b.ReportMetric(ms(floor)/n, "floor-ms")
			b.ReportMetric(float64(wall)/float64(floor), "x-floor")
			b.ReportMetric(ms(inRun)/n, "checks-ms") // the report's own duration: after the dials
			b.ReportMetric(conns, "conns/host")
			b.ReportMetric(sessions, "sessions/host")
			b.ReportMetric(float64(errs)/n, "errors") // 0 on a clean run
		})
	}
}

// BenchmarkUp: `quorate up --yes` on 3 and 5 fresh hosts, a new lab for every op.
func BenchmarkUp(b *testing.B) {
	bin := benchBinary(b)
	for _, hosts := range []int{3, 5} {
		b.Run(fmt.Sprintf("hosts=%d", hosts), func(b *testing.B) {
			var total, pvecm, verify, pre time.Duration
			i := 0
			for b.Loop() {
				b.StopTimer()
				q := benchLab(b, bin, lab.Options{Hosts: hosts})
				dir := b.TempDir()
				b.StartTimer()
				u := q.benchUp(b, dir, hosts)
				b.StopTimer()
				total, pvecm, verify, pre = total+u.wall, pvecm+u.pvecm, verify+u.verify, pre+u.preflight
				i++
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				err := q.Down(ctx)
				cancel()
				if err != nil {
					b.Fatalf("lab Down: %v", err)
				}
				b.StartTimer()
			}
			n := float64(i)
			b.ReportMetric(total.Seconds()/n, "total-s")
			b.ReportMetric(pvecm.Seconds()/n, "pvecm-s")
			b.ReportMetric(verify.Seconds()/n, "verify-s")
			b.ReportMetric((total-pvecm-verify).Seconds()/n, "overhead-s")
			b.ReportMetric(pre.Seconds()/n, "preflight-s") // part of the overhead
		})
	}
}

// preflightRun is one timed preflight.
type preflightRun struct {
	wall, report    time.Duration
	conns, sessions float64 // the most of any host
	errors          int     // error findings
}

func (q *quorateLab) benchPreflight(b *testing.B, dir string, i int) preflightRun {
	b.Helper()
	out, logFile := filepath.Join(dir, fmt.Sprintf("preflight-%d.json", i)), filepath.Join(dir, fmt.Sprintf("preflight-%d.log", i))
	wall := q.timedInCtl(b, nil, out, q.bin, "-c", q.cluster, "--log-file", logFile, "--output", "json", "preflight")
	var rep struct {
		OK         bool        `json:"ok"`
		DurationMS float64     `json:"duration_ms"`
		Findings   []pfFinding `json:"findings"`
	}
	readJSON(b, out, &rep)
	p := preflightRun{wall: wall, report: time.Duration(rep.DurationMS * float64(time.Millisecond))}
	// A clean lab has none; on a machine too busy for its lab (the hosts share its cores)
	// the probes can read as latency or loss. The figure is still preflight's time, but
	// the errors metric says it was not a clean run.
	for _, f := range rep.Findings {
		if f.Severity == "error" {
			if p.errors++; p.errors <= 3 {
				b.Logf("op %d: %s: %s", i, f.key(), clip(f.Message, 200))
			}
		}
	}
	perHost := countLog(b, logFile)
	hosts, _ := q.Hosts()
	for _, h := range hosts {
		c := perHost[h.Address()]
		p.conns, p.sessions = max(p.conns, float64(c.conns)), max(p.sessions, float64(c.sessions))
		if c.conns != 1 {
			b.Logf("%s: %d SSH connections in one preflight", h.Name, c.conns)
		}
	}
	return p
}

// upRun is one timed `quorate up`.
type upRun struct {
	wall, pvecm, verify, preflight time.Duration
}

func (q *quorateLab) benchUp(b *testing.B, dir string, hosts int) upRun {
	b.Helper()
	out, logFile := filepath.Join(dir, "up.json"), filepath.Join(dir, "up.log")
	wall := q.timedInCtl(b, []string{passwordEnv + "=" + q.password}, out,
		q.bin, "-c", q.cluster, "--log-file", logFile, "--output", "json", "--yes", "up")
	var rep struct {
		Steps []struct {
			Verified struct {
				Took time.Duration `json:"took"`
			} `json:"verified"`
		} `json:"steps"`
		Preflight struct {
			DurationMS float64 `json:"duration_ms"`
		} `json:"preflight"`
	}
	readJSON(b, out, &rep)
	if len(rep.Steps) != hosts {
		b.Fatalf("up made %d steps, want %d (a create and %d joins)", len(rep.Steps), hosts, hosts-1)
	}
	u := upRun{wall: wall, pvecm: countLog(b, logFile)["pvecm"].took,
		preflight: time.Duration(rep.Preflight.DurationMS * float64(time.Millisecond))}
	for _, s := range rep.Steps {
		u.verify += s.Verified.Took
	}
	return u
}

// logCount is what the run log says of one host: "ssh connected" records (connections) and
// "remote command" records (sessions, one per command). The key "pvecm" sums the durations
// of every pvecm create and pvecm add.
type logCount struct {
	conns, sessions int
	took            time.Duration
}

var pvecmChange = regexp.MustCompile(`\bpvecm (create|add) `)

func countLog(b *testing.B, path string) map[string]logCount {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]logCount{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Msg      string `json:"msg"`
			Host     string `json:"host"`
			Cmd      string `json:"cmd"`
			Duration string `json:"duration"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil {
			continue
		}
		c := out[rec.Host]
		switch rec.Msg {
		case "ssh connected":
			c.conns++
		case "remote command":
			c.sessions++
			if pvecmChange.MatchString(rec.Cmd) {
				d, err := time.ParseDuration(rec.Duration)
				if err != nil {
					b.Fatalf("%s: remote command duration %q: %v", path, rec.Duration, err)
				}
				p := out["pvecm"]
				p.took += d
				out["pvecm"] = p
			}
		}
		out[rec.Host] = c
	}
	return out
}

// floorArgs is the floor: plain OpenSSH from the controller to every host at once, one
// command each, with the lab's key and known_hosts and no ssh config.
func (q *quorateLab) floorArgs(b *testing.B) []string {
	b.Helper()
	hosts, err := q.Hosts()
	if err != nil {
		b.Fatal(err)
	}
	dir := q.Dir()
	script := `key=$1 known=$2; shift 2; pids=""
for a; do
	ssh -F none -i "$key" -o UserKnownHostsFile="$known" -o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10 "root@$a" true &
	pids="$pids $!"
done
rc=0; for p in $pids; do wait "$p" || rc=1; done; exit $rc`
	args := []string{"sh", "-c", script, "floor", filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")}
	for _, h := range hosts {
		args = append(args, h.Address())
	}
	return args
}

// timedInCtl runs argv in the controller, its stdout to the file out ("": discarded), and
// returns its wall time as the controller's clock measures it, around argv alone. It fails
// the benchmark unless argv exits 0 (or 3, errors found, for a preflight).
func (q *quorateLab) timedInCtl(b *testing.B, env []string, out string, argv ...string) time.Duration {
	b.Helper()
	if out == "" {
		out = "/dev/null"
	}
	script := `out=$1; shift; s=$(date +%s%N); "$@" >"$out"; rc=$?; e=$(date +%s%N); echo $(( (e - s) / 1000 )); exit $rc`
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code, err := q.Run(ctx, "ctl", lab.Stdio{Stdout: &stdout, Stderr: &stderr, Dir: q.state, Env: append(env, "XDG_STATE_HOME="+q.state)},
		append([]string{"sh", "-c", script, "timed", out}, argv...)...)
	if err != nil || (code != 0 && !(code == 3 && slices.Contains(argv, "preflight"))) {
		b.Fatalf("%s: exit %d, %v\n%s", strings.Join(argv, " "), code, err, stderr.String())
	}
	us, err := strconv.ParseInt(strings.TrimSpace(stdout.String()), 10, 64)
	if err != nil {
		b.Fatalf("%s: no time: %q", strings.Join(argv, " "), stdout.String())
	}
	return time.Duration(us) * time.Microsecond
}

func readJSON(b *testing.B, path string, v any) {
	b.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		b.Fatalf("%s: %v\n%s", path, err, data)
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// benchBinary builds quorate for a benchmark and its sub-benchmarks, in its own temporary
// directory (visible in the controller): quorateBinary takes a *testing.T.
func benchBinary(b *testing.B) string {
	b.Helper()
	needLab(b)
	bin := filepath.Join(b.TempDir(), "quorate")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/quorate/quorate").CombinedOutput(); err != nil {
		b.Fatalf("go build quorate: %v\n%s", err, out)
	}
	return bin
}

// benchLab is newQuorateLab for a benchmark: a lab shaped by o, downed when the benchmark
// ends (downing twice is harmless).
func benchLab(b *testing.B, bin string, o lab.Options) *quorateLab {
	b.Helper()
	return quorateLabOn(b, upLabWith(b, o), bin)
}
