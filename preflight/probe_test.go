package preflight

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readAgent is testdata/name without its "# source:" line.
func readAgent(t testing.TB, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	first, rest, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(first, "# source: ") {
		t.Fatalf("%s: first line must name its source", name)
	}
	return rest
}

func TestParseAgentGoldens(t *testing.T) {
	raw, err := parseAgent(readAgent(t, "agent-member-raw.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if b := raw.binds[0]; b.mode != "raw" || b.addr != "198.51.100.11" || b.port != 5405 {
		t.Errorf("bind %+v", b)
	}
	if tx := raw.tx[peerLink{1, 0}]; tx.sent != 23 || tx.echoed != 19 || len(tx.rtt) != 17 || tx.rtt[0] != 1921*time.Microsecond {
		t.Errorf("tx %+v", tx)
	}
	if rx := raw.rx[peerLink{2, 0}]; rx.got != 17 || rx.first != 6 || rx.last != 22 || !rx.fin {
		t.Errorf("rx %+v", rx)
	}
	if c := raw.tcp[tcpKey{1, 8006}]; c.state != "ok" || c.addr != "198.51.100.12" || c.took < 10*time.Millisecond {
		t.Errorf("tcp %+v", c)
	}
	if raw.took < 150*time.Millisecond {
		t.Errorf("took %s", raw.took)
	}

	drop, err := parseAgent(readAgent(t, "agent-udp-drop.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if rx := drop.rx[peerLink{0, 0}]; rx.got != 0 || rx.first != -1 || rx.fin {
		t.Errorf("rx %+v", rx)
	}
	if tx := drop.tx[peerLink{2, 0}]; tx.sent == 0 || tx.echoed != 0 || tx.rtt != nil {
		t.Errorf("tx %+v", tx)
	}
	if c := drop.tcp[tcpKey{0, 8006}]; c.state != "timeout" {
		t.Errorf("tcp %+v", c)
	}
	for _, name := range []string{"agent-fresh.txt", "agent-peer-faults.txt"} {
		if _, err := parseAgent(readAgent(t, name)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestParseAgentErrors(t *testing.T) {
	good := readAgent(t, "agent-fresh.txt")
	for _, tt := range []struct{ in, want string }{
		{"", "no \"quorate-probe v1\" line"},
		{"sh: 1: exec: perl: not found\n", "perl: not found"},
		{strings.Replace(good, "end 177.574\n", "", 1), "cut short"},
		{strings.Replace(good, "bind 0 udp", "bind 9 udp", 1), "not a number in 0..7"},
		{strings.Replace(good, "bind 0 udp", "bind 0 tcp", 1), "unknown mode"},
		{strings.Replace(good, "got=17", "got=x", 1), "got"},
		{strings.Replace(good, "got=17 first=0", "got=17 first=-1", 1), "no sequence range"},
		{strings.Replace(good, " ok 8.149", " maybe 8.149", 1), "unknown state"},
		{strings.Replace(good, "rtt=282,", "rtt=-282,", 1), "not a number"},
		{strings.Replace(good, "end 177.574", "end soon", 1), "bad duration"},
	} {
		_, err := parseAgent(tt.in)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
	// A noisy login before the header, and lines a later agent adds, are fine.
	if _, err := parseAgent("Welcome!\n" + strings.Replace(good, "end ", "new 1 2 3\nend ", 1)); err != nil {
		t.Error(err)
	}
}

func TestParseClock(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"1786452293.250000000\n", time.Unix(1786452293, 250000000), false},
		{"Welcome\n1786452293.5\n", time.Unix(1786452293, 500000000), false},
		{"1786452293.N\n", time.Time{}, true},
		{"1786452293\n", time.Time{}, true},
		{"", time.Time{}, true},
		{"-5.1\n", time.Time{}, true},
		{"1.0123456789\n", time.Time{}, true},
	} {
		got, err := parseClock(tt.in)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("parseClock(%q) = %v, %v", tt.in, got, err)
		}
	}
}

func TestSummarise(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var out []time.Duration
		for _, x := range v {
			out = append(out, time.Duration(x)*time.Microsecond)
		}
		return out
	}
	if summarise(nil) != nil {
		t.Error("summary of nothing")
	}
	// A busy CPU delays some probes: the median and the minimum stay the network's.
	r := summarise(ms(300, 280, 9000, 310, 290, 12000, 305, 300))
	if r.Samples != 8 || r.Min != 0.28 || r.Max != 12 || r.Median != 0.303 {
		t.Errorf("%+v", r)
	}
	if r := summarise(ms(1000, 3000, 1000, 3000)); r.Jitter != 2 {
		t.Errorf("jitter %+v", r)
	}
}

func FuzzParseAgent(f *testing.F) {
	for _, n := range []string{"agent-member-raw.txt", "agent-fresh.txt", "agent-udp-drop.txt", "agent-peer-faults.txt"} {
		f.Add(readAgent(f, n))
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := parseAgent(s)
		if err != nil {
			return
		}
		for _, x := range r.rx {
			if x.got > 0 && (x.first < 0 || x.last < x.first) {
				t.Errorf("rx %+v", x)
			}
		}
		for _, x := range r.tx {
			if x.sent < 0 || x.echoed < 0 {
				t.Errorf("tx %+v", x)
			}
			_ = summarise(x.rtt)
		}
		if r.took < 0 {
			t.Errorf("took %v", r.took)
		}
	})
}

func FuzzParseClock(f *testing.F) {
	f.Add("1786452293.250000000\n")
	f.Add("noise\n1.5")
	f.Fuzz(func(t *testing.T, s string) {
		if tm, err := parseClock(s); err == nil && tm.Before(time.Unix(0, 0)) {
			t.Errorf("time %v from %q", tm, s)
		}
	})
}
