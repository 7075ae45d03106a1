package pve

import (
	"strings"
	"testing"
)

// Every parser must survive any input: no panic, and an error rather than a wrong answer when
// the shape is unknown. Seeds are the golden files.

func seed(f *testing.F, patterns ...string) {
	for _, p := range patterns {
		for _, s := range allGoldens(f, p) {
			f.Add(s)
		}
	}
}

func FuzzParseQuorumStatus(f *testing.F) {
	seed(f, "pvecm-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseQuorumStatus(s)
		if err == nil && st.State != Quorate && st.State != NotQuorate {
			t.Errorf("parsed without a quorate verdict: %v", st.State)
		}
	})
}

func FuzzParsePvecmNodes(f *testing.F) {
	seed(f, "pvecm-nodes.txt", "pvecm-status-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParsePvecmNodes(s)
	})
}

func FuzzParsePveshClusterStatus(f *testing.F) {
	seed(f, "pvesh-*.json")
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParsePveshClusterStatus(s)
		if err == nil && st.State == StateUnknown {
			t.Error("parsed with an unknown state")
		}
	})
}

func FuzzParseJoinInfo(f *testing.F) {
	seed(f, "pvesh-*.json")
	f.Fuzz(func(t *testing.T, s string) {
		ji, err := ParseJoinInfo(s)
		if err == nil && len(ji.Nodes) == 0 {
			t.Error("join info without nodes accepted")
		}
	})
}

func FuzzParseNodelist(f *testing.F) {
	seed(f, "pvesh-*.json")
	f.Fuzz(func(t *testing.T, s string) {
		nodes, err := ParseNodelist(s)
		for _, n := range nodes {
			if err == nil && n.Name == "" {
				t.Error("node without a name accepted")
			}
		}
	})
}

func FuzzParseVersions(f *testing.F) {
	seed(f, "pveversion-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseManagerVersion(s)
		_, _ = ParsePackageVersions(s)
		if v, err := ParseVersion(s); err == nil && v.Compare(v) != 0 {
			t.Error("version not equal to itself")
		}
	})
}

func FuzzCorosyncConf(f *testing.F) {
	seed(f, "corosync-*.conf")
	f.Fuzz(func(t *testing.T, s string) {
		conf, err := ParseCorosyncConf([]byte(s))
		if err != nil {
			return
		}
		// Whatever we accept, we write in PVE's layout, and that layout reads back to itself.
		first := conf.Bytes()
		again, err := ParseCorosyncConf(first)
		if err != nil {
			t.Fatalf("our own output does not parse: %v\n%s", err, first)
		}
		if second := again.Bytes(); string(second) != string(first) {
			t.Fatalf("write is not stable:\n%s\n---\n%s", first, second)
		}
		_, _ = conf.Nodes()
		_, _ = conf.ConfigVersion()
		_ = conf.LinkNumbers()
	})
}

func FuzzParseFacts(f *testing.F) {
	seed(f, "facts-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		facts, err := ParseFacts(s)
		if err == nil {
			_ = facts.Addresses()
			_, _ = facts.PrimaryAddress()
			_ = facts.Time.Synchronized()
			_, _ = facts.ClusterConf()
			for _, r := range facts.Firewall.Rules {
				_ = r.String()
				if r.Policy && r.MatchesPort("udp", 5405) {
					t.Errorf("a policy matches a port: %+v", r)
				}
				for _, p := range r.Ports {
					if p.From > p.To || p.From < 0 || p.To > 65535 {
						t.Errorf("port range %+v", p)
					}
				}
			}
		}
	})
}

func FuzzParseCfgtool(f *testing.F) {
	seed(f, "cfgtool-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseCfgtoolStatus(s)
		_, _ = ParseCfgtoolNodes(s)
	})
}

func FuzzParseKnetStats(f *testing.F) {
	seed(f, "cmapctl-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseKnetStats(s)
	})
}

func FuzzParseCertInfo(f *testing.F) {
	seed(f, "pvenode-*.json", "openssl-*.txt")
	f.Fuzz(func(t *testing.T, s string) {
		if certs, err := ParseCertInfo(s); err == nil {
			if fp, err := ServedFingerprint(certs); err == nil && len(fp) != 95 {
				t.Errorf("fingerprint %q", fp)
			}
		}
		if fp, err := ParseOpenSSLFingerprint(s); err == nil && len(fp) != 95 {
			t.Errorf("fingerprint %q", fp)
		}
	})
}

func FuzzClassify(f *testing.F) {
	for _, p := range []string{"join-*.txt", "create-*.txt", "delnode-*.txt", "updatecerts-*.txt", "qdevice-*.txt"} {
		for _, s := range allGoldens(f, p) {
			f.Add(s, "")
			f.Add("", s)
		}
	}
	f.Fuzz(func(t *testing.T, stdout, stderr string) {
		jr, fail := ClassifyJoin(stdout, stderr)
		if (fail == nil) == (jr.Node == "") {
			t.Errorf("join: success %q and failure %v", jr.Node, fail)
		}
		if fail != nil {
			_ = fail.Error()
		}
		_, _ = ClassifyCreate(stdout, stderr)
		_, _ = ClassifyDelNode(stdout, stderr, 0)
		_ = ClassifyUpdateCerts(stdout, stderr, 0)
		_ = ClassifyQDevice("qdevice setup", stdout, stderr, 0)
	})
}

func FuzzJoinCommand(f *testing.F) {
	f.Add("198.51.100.11", "pw", testFP, "198.51.100.12")
	f.Add("pve1.lab.test", "p'w;$(x)", "", "fdd2::1")
	f.Fuzz(func(t *testing.T, target, password, fp, addr string) {
		cmd, err := JoinCommand(JoinOpts{Target: target, Password: password, Fingerprint: fp, Links: []Link{{Number: 0, Addr: addr}}})
		if err != nil {
			return
		}
		// Accepted values are plain words: nothing a shell would interpret.
		args, ok := strings.CutPrefix(cmd.Line, "cd / && pvecm add ")
		if !ok || strings.ContainsAny(args, "'\"$`;|&<>()\\\n\r\t*?[]{}~#") {
			t.Errorf("line needs quoting: %q", cmd.Line)
		}
		if string(cmd.Stdin) != password+"\n" && string(cmd.Stdin) != password+"\nyes\n" {
			t.Errorf("stdin %q", cmd.Stdin)
		}
	})
}
