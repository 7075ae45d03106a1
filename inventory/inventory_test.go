package inventory

import (
	"reflect"
	"strings"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

// The shape in the issue must decode to these values, with links defaulted and ssh values
// kept as written.
func TestIssueExampleDecodes(t *testing.T) {
	inv, err := Load("testdata/valid-issue.yaml", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if p := inv.Validate(); p != nil {
		t.Fatalf("unexpected problems:\n%v", p)
	}
	want := Cluster{Name: "homelab", Join: JoinAPI, PasswordEnv: "PVE_ROOT_PASSWORD"}
	if inv.Cluster != want {
		t.Errorf("cluster = %+v, want %+v", inv.Cluster, want)
	}
	wantSSH := SSH{User: "root", Port: 22, IdentityFile: "~/.ssh/id_ed25519", KnownHosts: "~/.ssh/known_hosts"}
	if inv.SSH != wantSSH {
		t.Errorf("ssh = %+v, want %+v", inv.SSH, wantSSH)
	}
	wantNodes := []Node{
		{Name: "pve1", Address: "198.51.100.11", Links: []string{"198.51.100.11"}},
		{Name: "pve2", Address: "198.51.100.12", Links: []string{"198.51.100.12"}},
	}
	if !reflect.DeepEqual(inv.Nodes, wantNodes) {
		t.Errorf("nodes = %+v, want %+v", inv.Nodes, wantNodes)
	}
	if inv.QDevice == nil || inv.QDevice.Address != "198.51.100.50" {
		t.Errorf("qdevice = %+v", inv.QDevice)
	}
	if got := inv.Where("nodes[1].address"); got != "testdata/valid-issue.yaml:16" {
		t.Errorf("Where(nodes[1].address) = %s", got)
	}
	// A defaulted link points at the address it came from.
	if got := inv.Line("nodes[1].links[0]"); got != 16 {
		t.Errorf("Line(nodes[1].links[0]) = %d, want 16", got)
	}
}

func TestDefaultsWhenLeftOut(t *testing.T) {
	inv := Parse("c.yaml", []byte("cluster: {name: c1}\nnodes: [{name: a, address: 10.0.0.1}]\n"), noEnv)
	if p := inv.Validate(); p != nil {
		t.Fatalf("unexpected problems:\n%v", p)
	}
	if inv.Cluster.Join != JoinAPI || inv.Cluster.PasswordEnv != DefaultPasswordEnv {
		t.Errorf("defaults not applied: %+v", inv.Cluster)
	}
	if inv.SSH.Port != 0 || inv.SSH.User != "" {
		t.Errorf("ssh must stay empty so ~/.ssh/config applies: %+v", inv.SSH)
	}
	if inv.QDevice != nil {
		t.Errorf("qdevice = %+v, want nil", inv.QDevice)
	}
}

func TestEnvironmentExpansion(t *testing.T) {
	env := map[string]string{"NET": "10.1.2", "EMPTY": "", "NAME": "lab"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	tests := []struct {
		in, want, problem string
	}{
		{"plain", "plain", ""},
		{"${NET}.5", "10.1.2.5", ""},
		{"${NAME}-${NAME}", "lab-lab", ""},
		{"${MISSING:-dflt}", "dflt", ""},
		{"${EMPTY:-dflt}", "dflt", ""},
		{"${EMPTY}", "", ""},
		{"cost $5 and $$6", "cost $5 and $6", ""},
		{"$${NET}", "${NET}", ""},
		{"${MISSING}", "", "MISSING is not set"},
		{"${NET", "${NET", "without its closing"},
		{"${9X}", "", "not a variable name"},
	}
	for _, tt := range tests {
		got, problems := expandVars(tt.in, lookup)
		if got != tt.want {
			t.Errorf("expandVars(%q) = %q, want %q", tt.in, got, tt.want)
		}
		joined := strings.Join(problems, "; ")
		if (tt.problem == "") != (joined == "") || !strings.Contains(joined, tt.problem) {
			t.Errorf("expandVars(%q) problems = %q, want one containing %q", tt.in, joined, tt.problem)
		}
	}
}

// The password a user mistakenly put into password_env must not be echoed back.
func TestPasswordEnvProblemDoesNotEchoValue(t *testing.T) {
	inv := Parse("c.yaml", []byte("cluster: {name: c1, password_env: 'S3cret!pw'}\nnodes: [{name: a, address: 10.0.0.1}]\n"), noEnv)
	problems := inv.Validate()
	if len(problems) != 1 {
		t.Fatalf("want one problem, got %v", problems)
	}
	if strings.Contains(problems.Error(), "S3cret") {
		t.Errorf("problem echoes the secret: %s", problems.Error())
	}
}

func TestDidYouMean(t *testing.T) {
	keys := []string{"name", "address", "links", "nodeid", "votes"}
	for in, want := range map[string]string{"adress": "address", "nmae": "name", "link": "links", "node_id": "nodeid", "zzz": "", "x": ""} {
		if got := DidYouMean(in, keys); got != want {
			t.Errorf("DidYouMean(%q) = %q, want %q", in, got, want)
		}
	}
}
