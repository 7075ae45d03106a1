package inventory

import (
	"strings"
	"testing"
)

// The cluster file reads hosts with the same grammar as init and the transport: an address
// that Dial would refuse is a problem here, and one Dial takes is not.
func TestHostGrammarAgreesWithTransport(t *testing.T) {
	tests := []struct {
		address, jump string
		want          string // "" when the file is valid
	}{
		{address: "2001:db8::11"},
		{address: "pve1.example.org"},
		{address: "198.51.100.11", jump: "root@[2001:db8::1]:2222"},
		{address: "198.51.100.11", jump: "admin@bastion,[2001:db8::2]"},
		{address: "fe80::1%eth0", want: "IPv6 zones"},
		{address: "198.51.100.11", jump: "fe80::1%eth0", want: "IPv6 zones"},
		{address: "[2001:db8::11]", want: "without brackets"},
		{address: "root@198.51.100.11", want: "holds a user"},
		{address: "198.51.100.11:22", want: "holds a port"},
	}
	for _, tt := range tests {
		file := "cluster:\n  name: homelab\n"
		if tt.jump != "" {
			file += "ssh:\n  jump: \"" + tt.jump + "\"\n"
		}
		file += "nodes:\n  - name: pve1\n    address: \"" + tt.address + "\"\n    links: [198.51.100.11]\n"
		problems := Parse("cluster.yaml", []byte(file), func(string) (string, bool) { return "", false }).Validate()
		var texts []string
		for _, p := range problems {
			texts = append(texts, p.String())
		}
		got := strings.Join(texts, "\n")
		switch {
		case tt.want == "" && got != "":
			t.Errorf("address %q jump %q: want no problem, got:\n%s", tt.address, tt.jump, got)
		case tt.want != "" && !strings.Contains(got, tt.want):
			t.Errorf("address %q jump %q: want a problem with %q, got:\n%s", tt.address, tt.jump, tt.want, got)
		}
	}
}
